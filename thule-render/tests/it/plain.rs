//! Plain YAML: walk order, multi-document files, `List` flattening, notes for non-objects,
//! the YAML 1.1 dialect, and agreement with kustomize on the same files.

use anyhow::Result;
use serde_json::json;
use thule_render::Renderer;

use crate::support::{engine, fixture_repo, keys, project, rendered, run_tool, values};

#[test]
fn renders_the_tree_in_a_fixed_order_with_lists_flattened() -> Result<()> {
    let repo = fixture_repo();
    let engine = engine(&repo);
    let r = engine.render(&project(&repo, "plain")?);
    let out = rendered(&r)?;
    assert_eq!(
        keys(out),
        [
            "Namespace shop",
            "Deployment.apps shop/web",
            "Service shop/web",
            "ConfigMap shop/web-config",
            "ServiceAccount shop/web",
            "Role.rbac.authorization.k8s.io shop/web-reader",
            "ResourceQuota shop/shop-quota",
        ]
    );
    // Plain YAML starts no process.
    assert_eq!(engine.runner().count(), 0);
    assert_eq!(out.meta.tool.name, "yaml");
    assert_eq!(out.meta.command, None);
    assert!(!out.meta.cached);
    Ok(())
}

#[test]
fn every_object_carries_its_file_document_and_line() -> Result<()> {
    let repo = fixture_repo();
    let r = engine(&repo).render(&project(&repo, "plain")?);
    let out = rendered(&r)?;
    let origin = |i: usize| {
        let o = &out.objects[i].origin;
        (o.project.as_str(), o.source.as_str(), o.document, o.line)
    };
    assert_eq!(origin(0), ("plain", "plain/00-namespace.yaml", 0, 1));
    assert_eq!(origin(1), ("plain", "plain/app.yaml", 0, 2));
    assert_eq!(origin(2), ("plain", "plain/app.yaml", 1, 32));
    // List items point at the List document.
    assert_eq!(origin(3), ("plain", "plain/list.yaml", 0, 1));
    assert_eq!(origin(4), ("plain", "plain/list.yaml", 0, 1));
    assert_eq!(origin(5), ("plain", "plain/nested/deeper/role.yml", 0, 2));
    assert_eq!(origin(6), ("plain", "plain/nested/quota.json", 0, 1));
    Ok(())
}

#[test]
fn non_kubernetes_yaml_is_skipped_with_a_note_and_hidden_files_are_not_read() -> Result<()> {
    let repo = fixture_repo();
    let r = engine(&repo).render(&project(&repo, "plain")?);
    let out = rendered(&r)?;
    let notes: Vec<String> = out.notes.iter().map(ToString::to_string).collect();
    assert_eq!(
        notes,
        [
            "plain/nested/values.yaml:2: skipped: not a Kubernetes object (a YAML mapping without `apiVersion` and `kind`)"
        ]
    );
    assert!(
        !out.objects.iter().any(|m| m.key.name == "must-not-be-read"),
        "files under .hidden/ must not be read"
    );
    Ok(())
}

#[test]
fn scalars_follow_the_kubernetes_yaml_1_1_dialect() -> Result<()> {
    let repo = fixture_repo();
    let r = engine(&repo).render(&project(&repo, "plain")?);
    let out = rendered(&r)?;
    let deploy = &out.objects[1].object;
    assert_eq!(deploy.pointer("/spec/replicas"), Some(&json!(3)));
    assert_eq!(
        deploy.pointer("/spec/template/spec/volumes/0/configMap/defaultMode"),
        Some(&json!(420))
    );
    assert_eq!(
        deploy.pointer("/spec/template/spec/containers/0/ports/0/containerPort"),
        Some(&json!(8080))
    );
    assert_eq!(
        deploy.pointer("/spec/template/spec/enableServiceLinks"),
        Some(&json!(false))
    );
    // Quoted scalars stay strings.
    assert_eq!(
        deploy.pointer("/metadata/labels/canary"),
        Some(&json!("on"))
    );
    assert_eq!(
        out.objects[3].object.pointer("/data/enabled"),
        Some(&json!("yes"))
    );
    Ok(())
}

/// The same files listed as kustomize resources give the same objects (kustomize orders by
/// kind, so compare as sorted sets), with one known exception: kustomize's kyaml reads YAML
/// 1.2, so the unquoted `enableServiceLinks: off` comes out as the string "off", where kubectl
/// (YAML 1.1, spec/diff-semantics.md §3.1) and thule read `false`.
#[test]
fn agrees_with_kustomize_on_the_same_files() -> Result<()> {
    let repo = fixture_repo();
    let r = engine(&repo).render(&project(&repo, "plain")?);
    let mut ours = values(rendered(&r)?);

    let t = tempfile::tempdir()?;
    let files = [
        "00-namespace.yaml",
        "app.yaml",
        "list.yaml",
        "nested/deeper/role.yml",
        "nested/quota.json",
    ];
    for f in files {
        let to = t.path().join(f);
        std::fs::create_dir_all(to.parent().unwrap_or(t.path()))?;
        std::fs::copy(repo.join("plain").join(f), to)?;
    }
    let list: Vec<String> = files.iter().map(|f| format!("  - {f}\n")).collect();
    std::fs::write(
        t.path().join("kustomization.yaml"),
        format!("resources:\n{}", list.concat()),
    )?;
    let mut theirs = run_tool(t.path(), "kubectl", &["kustomize", "."])?;
    let by_key = |v: &serde_json::Value| {
        (
            v["kind"].as_str().unwrap_or("").to_owned(),
            v["metadata"]["name"].as_str().unwrap_or("").to_owned(),
        )
    };
    let deploy = ours
        .iter_mut()
        .find(|v| v["kind"] == "Deployment")
        .ok_or_else(|| anyhow::anyhow!("no Deployment"))?;
    assert_eq!(
        deploy["spec"]["template"]["spec"]["enableServiceLinks"],
        json!(false)
    );
    deploy["spec"]["template"]["spec"]["enableServiceLinks"] = json!("off");
    ours.sort_by_key(by_key);
    theirs.sort_by_key(by_key);
    assert_eq!(ours, theirs);
    Ok(())
}

#[cfg(unix)]
#[test]
fn a_link_out_of_the_repository_fails_instead_of_being_read() -> Result<()> {
    let outside = tempfile::tempdir()?;
    std::fs::write(
        outside.path().join("leak.yaml"),
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: leaked\n",
    )?;
    let repo = tempfile::tempdir()?;
    let app = repo.path().join("app");
    std::fs::create_dir(&app)?;
    std::fs::write(app.join("thule.yaml"), "version: v1\nproject: app\n")?;
    std::fs::write(
        app.join("ok.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ok\n",
    )?;
    std::os::unix::fs::symlink(outside.path().join("leak.yaml"), app.join("leak.yaml"))?;
    let r = engine(repo.path()).render(&project(repo.path(), "app")?);
    assert_eq!(
        crate::support::failure_reason(&r)?,
        "cannot read `app/leak.yaml`: it is a symbolic link that leaves the repository; thule \
         reads only files inside the repository, so replace the link with the file"
    );
    // A link that stays inside the repository is followed.
    std::fs::remove_file(app.join("leak.yaml"))?;
    std::os::unix::fs::symlink("ok.yaml", app.join("again.yaml"))?;
    let r = engine(repo.path()).render(&project(repo.path(), "app")?);
    let out = rendered(&r)?;
    assert_eq!(keys(out), ["ConfigMap ok", "ConfigMap ok"]);
    // The same object twice is kept, and noted.
    let notes: Vec<String> = out.notes.iter().map(ToString::to_string).collect();
    assert_eq!(
        notes,
        [
            "app/ok.yaml:1: duplicate object ConfigMap ok, first defined at app/again.yaml:1; \
          appliers reject the set or keep only the last one, so define it once"
        ]
    );
    Ok(())
}

//! Helm through `helm template`: a local chart with a vendored subchart, two values files in
//! order, `--set`, kube and API versions and CRDs, compared with what helm prints.

use anyhow::{Result, anyhow};
use serde_json::json;
use thule_render::Renderer;

use crate::support::{engine, fixture_repo, keys, project, rendered, run_tool, values};

fn object<'a>(out: &'a thule_render::RenderOutput, kind: &str) -> Result<&'a thule_core::Manifest> {
    out.objects
        .iter()
        .find(|m| m.key.kind == kind)
        .ok_or_else(|| anyhow!("no {kind} in {:?}", keys(out)))
}

#[test]
fn chart_equals_what_helm_template_prints() -> Result<()> {
    let repo = fixture_repo();
    let r = engine(&repo).render(&project(&repo, "web")?);
    let ours = values(rendered(&r)?);
    // What a user would type for the same project.
    let theirs = run_tool(
        &repo,
        "helm",
        &[
            "template",
            "web",
            "helm/web",
            "--namespace",
            "shop",
            "--values",
            "helm/values/base.yaml",
            "--values",
            "helm/values/prod.yaml",
            "--set",
            r"config.extra=a\,b",
            "--set",
            "image.tag=9.9.9",
            "--kube-version",
            "1.31.0",
            "--api-versions",
            "policy/v1/PodDisruptionBudget",
            "--include-crds",
        ],
    )?;
    assert_eq!(ours.len(), 6);
    assert_eq!(ours, theirs);
    Ok(())
}

#[test]
fn values_files_apply_in_order_and_set_wins() -> Result<()> {
    let repo = fixture_repo();
    let r = engine(&repo).render(&project(&repo, "web")?);
    let out = rendered(&r)?;
    let deploy = &object(out, "Deployment")?.object;
    assert_eq!(deploy.pointer("/spec/replicas"), Some(&json!(4))); // prod.yaml over base.yaml
    assert_eq!(
        deploy.pointer("/spec/template/spec/containers/0/image"),
        Some(&json!("registry.example.com/web:9.9.9")) // --set over base.yaml
    );
    let cm = &object(out, "ConfigMap")?.object;
    assert_eq!(cm.pointer("/data/greeting"), Some(&json!("hi"))); // base.yaml
    assert_eq!(cm.pointer("/data/mode"), Some(&json!("production"))); // prod.yaml
    assert_eq!(cm.pointer("/data/extra"), Some(&json!("a,b"))); // one --set value with a comma
    // The vendored subchart, enabled and configured by prod.yaml.
    let sts = &object(out, "StatefulSet")?.object;
    assert_eq!(
        sts.pointer("/spec/template/spec/containers/0/resources/limits/memory"),
        Some(&json!("256Mi"))
    );
    // --kube-version and --api-versions reach the templates.
    let svc = &object(out, "Service")?.object;
    assert_eq!(
        svc.pointer("/metadata/labels/kube-version"),
        Some(&json!("v1.31.0"))
    );
    object(out, "PodDisruptionBudget")?;
    object(out, "CustomResourceDefinition")?;
    Ok(())
}

#[test]
fn origins_name_the_template_in_the_repository() -> Result<()> {
    let repo = fixture_repo();
    let r = engine(&repo).render(&project(&repo, "web")?);
    let out = rendered(&r)?;
    let origin = |kind: &str| -> Result<(String, String, usize)> {
        let o = &object(out, kind)?.origin;
        Ok((o.project.clone(), o.source.clone(), o.document))
    };
    let o = |s: &str, d| ("web".to_owned(), s.to_owned(), d);
    assert_eq!(
        origin("CustomResourceDefinition")?,
        o("helm/web/crds/widgets.yaml", 0)
    );
    // deployment.yaml renders two documents; helm prints the PDB first.
    assert_eq!(
        origin("PodDisruptionBudget")?,
        o("helm/web/templates/deployment.yaml", 0)
    );
    assert_eq!(
        origin("Deployment")?,
        o("helm/web/templates/deployment.yaml", 1)
    );
    assert_eq!(
        origin("StatefulSet")?,
        o("helm/web/charts/cache/templates/statefulset.yaml", 0)
    );
    assert_eq!(out.meta.tool.to_string(), "helm v4.1.4");
    assert_eq!(
        out.meta.command.as_deref(),
        Some(
            r"helm template web ./helm/web --namespace shop -f helm/values/base.yaml -f helm/values/prod.yaml --set 'config.extra=a\,b' --set image.tag=9.9.9 --kube-version 1.31.0 --api-versions policy/v1/PodDisruptionBudget --include-crds"
        )
    );
    Ok(())
}

#[test]
fn crds_are_included_only_by_option() -> Result<()> {
    let repo = fixture_repo();
    let mut p = project(&repo, "web")?;
    p.render.helm.include_crds = false;
    let r = engine(&repo).render(&p);
    let out = rendered(&r)?;
    assert!(object(out, "CustomResourceDefinition").is_err());
    assert_eq!(out.objects.len(), 5);
    Ok(())
}

/// A chart file or kustomize input that is a symbolic link out of the repository fails the
/// render the way a plain manifest does: the tool would read a file the merge request does
/// not show, and the cache key could not follow its changes. (Configured paths, such as
/// values files, are already refused when the configuration loads.)
#[cfg(unix)]
#[test]
fn a_link_out_of_the_repository_fails_helm_and_kustomize_projects() -> Result<()> {
    let outside = tempfile::tempdir()?;
    let repo = crate::support::fixture_copy()?;
    let moved = |rel: &str| -> Result<()> {
        let inside = repo.path().join(rel);
        let out = outside.path().join(rel.replace('/', "_"));
        std::fs::rename(&inside, &out)?;
        std::os::unix::fs::symlink(&out, &inside)?;
        Ok(())
    };
    let reason = |rel: &str| {
        format!(
            "cannot read `{rel}`: it is a symbolic link that leaves the repository; thule reads \
             only files inside the repository, so replace the link with the file"
        )
    };
    moved("helm/web/templates/service.yaml")?;
    let r = engine(repo.path()).render(&project(repo.path(), "web")?);
    assert_eq!(
        crate::support::failure_reason(&r)?,
        reason("helm/web/templates/service.yaml")
    );
    moved("kustomize/base/deployment.yaml")?;
    let r = engine(repo.path()).render(&project(repo.path(), "api-prod")?);
    assert_eq!(
        crate::support::failure_reason(&r)?,
        reason("kustomize/base/deployment.yaml")
    );
    Ok(())
}

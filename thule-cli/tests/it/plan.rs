use std::collections::BTreeMap;

use serde_json::Value;

use crate::support::{EXAMPLE_PLAN, args_with, copy_tree, digest, git, root, stdout, thule};

/// The README's first command, exactly.
const QUICKSTART: &[&str] = &[
    "plan",
    "--repo",
    "examples/gitops",
    "--base-path",
    "examples/gitops-base",
    "--live",
    "examples/snapshots",
];
fn with_format<'a>(base: &[&'a str], format: &'a str) -> Vec<&'a str> {
    let mut v = base.to_vec();
    v.extend(["--format", format]);
    v
}

/// A copy of the example's head with one file replaced; returns the temporary directory
/// (keep it alive) and the copy's path.
fn example_head_with(file: &str, contents: &str) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let head = dir.path().join("head");
    copy_tree(&root().join("examples/gitops"), &head);
    std::fs::write(head.join(file), contents).unwrap();
    let arg = head.to_string_lossy().into_owned();
    (dir, arg)
}

fn json_of(out: &std::process::Output) -> Value {
    serde_json::from_str(&stdout(out)).expect("plan JSON")
}

#[test]
fn readme_quickstart_output() {
    let out = thule(QUICKSTART);
    assert_eq!(
        out.status.code(),
        Some(1),
        "changes → exit 1; stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    insta::assert_snapshot!("quickstart_markdown", stdout(&out));
}

#[test]
fn the_example_shows_what_the_readme_promises() {
    let plan = json_of(&thule(&with_format(QUICKSTART, "json")));
    let d = digest(&plan);
    let get = |project: &str, kind: &str, ns: &str, name: &str| {
        d.get(&(project.into(), kind.into(), ns.into(), name.into()))
            .unwrap_or_else(|| panic!("{project} {kind} {ns}/{name} missing from {d:#?}"))
    };
    // A create, a delete and a patch in the plain-YAML project.
    assert_eq!(
        get("payments", "ServiceAccount", "payments", "payments-api").0,
        "create"
    );
    assert_eq!(
        get("payments", "ConfigMap", "payments", "payments-legacy").0,
        "delete"
    );
    // Drift, labelled apart from the MR's changes.
    let api = get("payments", "Deployment", "payments", "payments-api");
    assert_eq!(api.0, "patch");
    assert_eq!(
        api.2,
        vec![(
            "spec.template.spec.containers[name=api].env[name=LOG_LEVEL].value".to_owned(),
            "replace".to_owned(),
            "drift".to_owned()
        )]
    );
    // The Secret change is reported by key only.
    let secret = get("payments", "Secret", "payments", "payments-db");
    assert_eq!(
        secret.2,
        vec![(
            "data.password".to_owned(),
            "replace".to_owned(),
            "mr".to_owned()
        )]
    );
    // The base image bump patches both overlays; nothing else in the Deployment changes.
    for (project, ns, name) in [
        ("shop-prod", "shop", "shop"),
        ("shop-staging", "shop-staging", "staging-shop"),
    ] {
        let dep = get(project, "Deployment", ns, name);
        let paths: Vec<&str> = dep.2.iter().map(|c| c.0.as_str()).collect();
        assert_eq!(
            paths,
            vec![
                "spec.template.spec.containers[name=shop].envFrom",
                "spec.template.spec.containers[name=shop].image"
            ],
            "{project}"
        );
    }
    // Risks: the pod template changes roll out; the Helm chart's new selector label makes an
    // immutable change the API server will reject.
    let risks = |project: &str, kind: &str, name: &str| -> Vec<String> {
        let p = plan["projects"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == project)
            .unwrap();
        let o = p["objects"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["kind"] == kind && o["name"] == name)
            .unwrap();
        o["risks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                format!(
                    "{}:{}",
                    r["id"].as_str().unwrap(),
                    r["severity"].as_str().unwrap()
                )
            })
            .collect()
    };
    assert!(
        risks("shop-prod", "Deployment", "shop").contains(&"RESTART_ROLLOUT:medium".to_owned())
    );
    assert_eq!(
        risks("web-prod", "Deployment", "web"),
        vec!["IMMUTABLE_FIELD:blocker".to_owned()]
    );
    let web = get("web-prod", "Deployment", "web", "web");
    assert_eq!(
        (web.0.as_str(), &web.1),
        ("patch", &serde_json::json!("rejected"))
    );
    // The second cluster is planned too.
    let monitoring = &plan["projects"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "monitoring")
        .unwrap();
    assert_eq!(monitoring["cluster"], "ops");
    assert_eq!(plan["summary"]["delete"], 3);
}

#[test]
fn the_json_plan_lists_unchanged_objects_as_noop_and_names_the_applier() {
    let plan = json_of(&thule(&with_format(QUICKSTART, "json")));
    let d = digest(&plan);
    // The example's three unchanged objects are listed, as no-ops without changes; the
    // markdown comment still leaves them out (the snapshot).
    for (project, kind, ns, name) in [
        ("monitoring", "Namespace", "", "monitoring"),
        ("shop-prod", "Service", "shop", "shop"),
        ("shop-staging", "Service", "shop-staging", "staging-shop"),
    ] {
        let o = d
            .get(&(project.into(), kind.into(), ns.into(), name.into()))
            .unwrap_or_else(|| panic!("{project} {kind} {ns}/{name} missing from {d:#?}"));
        assert_eq!((o.0.as_str(), &o.1, o.2.len()), ("noop", &Value::Null, 0));
    }
    // Every counted object is listed.
    for p in plan["projects"].as_array().unwrap() {
        let s = &p["summary"];
        let counted: u64 = ["create", "patch", "delete", "replace", "noop"]
            .iter()
            .map(|k| s[k].as_u64().unwrap())
            .sum();
        assert_eq!(
            p["objects"].as_array().unwrap().len() as u64,
            counted,
            "{}",
            p["name"]
        );
        // The example's config names its applier.
        assert_eq!(
            p["appliers"],
            serde_json::json!([{"applier": "flux", "source": "configured", "objects": counted}])
        );
        for o in p["objects"].as_array().unwrap() {
            assert_eq!(
                (&o["applier"], &o["applierInferred"]),
                (&Value::from("flux"), &Value::from(false))
            );
        }
    }
    let md = stdout(&thule(QUICKSTART));
    assert!(
        !md.contains("Namespace monitoring NOOP"),
        "plain no-ops stay out of markdown"
    );
    assert!(!stdout(&thule(&with_format(QUICKSTART, "text"))).contains("NOOP"));
}

#[test]
fn every_format_is_deterministic() {
    for format in ["markdown", "json", "text"] {
        let args = with_format(QUICKSTART, format);
        let a = thule(&args);
        let b = thule(&args);
        assert_eq!(a.status.code(), Some(1));
        assert!(!a.stdout.is_empty());
        assert_eq!(
            a.stdout, b.stdout,
            "{format} output differs between two runs"
        );
    }
}

#[test]
fn secret_values_never_appear_in_any_format() {
    let secrets = [
        "correct-horse-battery-staple",
        "Tr0ub4dor-and-3",
        "svc_pay_rw",
    ];
    let b64 = [
        "Y29ycmVjdC1ob3JzZS1iYXR0ZXJ5LXN0YXBsZQ",
        "VHIwdWI0ZG9yLWFuZC0z",
        "c3ZjX3BheV9ydw",
    ];
    for format in ["markdown", "json", "text"] {
        let text = stdout(&thule(&with_format(QUICKSTART, format)));
        for s in secrets.iter().chain(b64.iter()) {
            assert!(!text.contains(s), "{format} output leaks {s}");
        }
        for n in ["28 bytes", "15 bytes", "(28)", "(15)"] {
            assert!(!text.contains(n), "{format} output may leak a length: {n}");
        }
    }
}

#[test]
fn without_live_state_the_plan_is_intent_only_and_says_so() {
    let out = thule(EXAMPLE_PLAN);
    let text = stdout(&out);
    assert!(text.contains("**Intent-only**"), "{text}");
    assert!(text.contains("planned (intent-only)"));
    // Intent-only: no drift can be known.
    assert!(!text.contains("(drift)"));
    let plan = json_of(&thule(&args_with(EXAMPLE_PLAN, &["--format", "json"])));
    assert!(
        plan["projects"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["intentOnly"] == true)
    );
}

#[test]
fn base_and_head_revisions_come_from_git() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    copy_tree(&root().join("examples/gitops-base"), &repo);
    git(&repo, &["init", "-q", "-b", "main"]);
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-qm", "base"]);
    std::fs::remove_dir_all(repo.join("apps")).unwrap();
    std::fs::remove_dir_all(repo.join("platform")).unwrap();
    std::fs::remove_dir_all(repo.join("charts")).unwrap();
    copy_tree(&root().join("examples/gitops"), &repo);
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-qm", "head"]);
    let snapshots = root().join("examples/snapshots");
    let repo_arg = repo.to_string_lossy().into_owned();
    let live_arg = snapshots.to_string_lossy().into_owned();
    let out = thule(&[
        "plan", "--repo", &repo_arg, "--base", "HEAD~1", "--head", "HEAD", "--live", &live_arg,
        "--format", "json",
    ]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let from_git = json_of(&out);
    assert_eq!(from_git["head"].as_str().map(str::len), Some(40));
    assert_eq!(from_git["base"].as_str().map(str::len), Some(40));
    let from_dirs = json_of(&thule(&with_format(QUICKSTART, "json")));
    assert_eq!(
        digest(&from_git),
        digest(&from_dirs),
        "git revisions and checkouts plan the same"
    );
}

#[test]
fn a_project_that_fails_to_render_is_failed_in_every_format_while_others_are_planned() {
    let (_dir, head_arg) = example_head_with(
        "apps/shop/overlays/staging/kustomization.yaml",
        "resources:\n  - ../../base\n  - missing-file.yaml\n",
    );
    let base_arg = root()
        .join("examples/gitops-base")
        .to_string_lossy()
        .into_owned();
    let args = [
        "plan",
        "--repo",
        &head_arg,
        "--base-path",
        &base_arg,
        "--live",
        "examples/snapshots",
    ];

    let out = thule(&with_format(&args, "json"));
    assert_eq!(out.status.code(), Some(2), "a failed project is an error");
    let plan = json_of(&out);
    let projects = plan["projects"].as_array().unwrap();
    let staging = projects
        .iter()
        .find(|p| p["name"] == "shop-staging")
        .unwrap();
    assert_eq!(staging["status"], "failed");
    assert!(
        staging["error"]
            .as_str()
            .unwrap()
            .contains("missing-file.yaml"),
        "{}",
        staging["error"]
    );
    for p in projects.iter().filter(|p| p["name"] != "shop-staging") {
        assert_eq!(p["status"], "planned", "{}", p["name"]);
    }
    assert!(
        !projects.iter().find(|p| p["name"] == "shop-prod").unwrap()["objects"]
            .as_array()
            .unwrap()
            .is_empty()
    );

    let md = stdout(&thule(&with_format(&args, "markdown")));
    assert!(
        md.contains("| shop-staging | prod | 0 | 0 | 0 | 0 | 0 | - | **failed** |"),
        "{md}"
    );
    assert!(md.contains("#### Failed projects"));
    let text = stdout(&thule(&with_format(&args, "text")));
    assert!(text.contains("shop-staging → prod [FAILED]"), "{text}");

    let partial = thule(&[
        "plan",
        "--repo",
        &head_arg,
        "--base-path",
        &base_arg,
        "--live",
        "examples/snapshots",
        "--allow-partial",
    ]);
    assert_eq!(
        partial.status.code(),
        Some(1),
        "--allow-partial: changes exit 1"
    );
}

#[test]
fn markdown_of_3000_changed_objects_splits_into_valid_parts_without_loss() {
    let dir = tempfile::tempdir().unwrap();
    for (side, value) in [("base", "old"), ("head", "new")] {
        let p = dir.path().join(side).join("apps/many");
        std::fs::create_dir_all(&p).unwrap();
        std::fs::write(
            p.join("thule.yaml"),
            "version: v1\nproject: many\nnamespace: many\nrender:\n  mode: yaml\n",
        )
        .unwrap();
        let mut docs = String::new();
        for i in 0..3000 {
            docs.push_str(&format!(
                "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-{i:04}\ndata:\n  value: {value}-{i}\n"
            ));
        }
        std::fs::write(p.join("configmaps.yaml"), docs).unwrap();
    }
    let base = dir.path().join("base").to_string_lossy().into_owned();
    let head = dir.path().join("head").to_string_lossy().into_owned();
    let out = thule(&[
        "plan",
        "--repo",
        &head,
        "--base-path",
        &base,
        "--max-part-chars",
        "65536",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    let parts: Vec<&str> = text.split("\n<!-- thule: next part -->\n").collect();
    assert!(
        parts.len() > 3,
        "expected several parts, got {}",
        parts.len()
    );
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for (i, part) in parts.iter().enumerate() {
        assert!(
            part.chars().count() <= 65_536,
            "part {} has {} chars",
            i + 1,
            part.chars().count()
        );
        assert!(
            thule_vcs::is_balanced(part),
            "part {} is not balanced markdown",
            i + 1
        );
        assert!(part.starts_with(&format!(
            "**thule plan: part {} of {}**",
            i + 1,
            parts.len()
        )));
        for line in part.lines() {
            if let Some(rest) = line.strip_prefix("<details><summary><code>ConfigMap many/") {
                let name = rest.split(' ').next().unwrap().to_owned();
                *seen.entry(name).or_default() += 1;
            }
        }
    }
    assert_eq!(seen.len(), 3000, "every object appears");
    assert!(
        seen.values().all(|n| *n == 1),
        "every object appears exactly once"
    );
    assert!(
        parts[0].contains("| many | - | 0 | 3000 | 0 | 0 | 0 |"),
        "the summary is in the first part"
    );
}

#[test]
fn configuration_errors_are_errors_with_locations() {
    let (_dir, head_arg) = example_head_with(
        "apps/web/thule.yaml",
        "version: v1\nrender:\n  mode: helmm\n",
    );
    let out = thule(&[
        "plan",
        "--repo",
        &head_arg,
        "--changed",
        "apps/web/values-prod.yaml",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("apps/web/thule.yaml:3:9: `render.mode`: unknown variant `helmm`"),
        "{err}"
    );
    assert!(err.contains("did you mean `helm`?"), "{err}");
}

#[test]
fn render_notes_of_the_head_reach_the_plan() {
    // A plain project whose head defines one object twice: the render keeps it and notes it,
    // and the note must not stop at the renderer.
    let namespace =
        std::fs::read_to_string(root().join("examples/gitops/platform/monitoring/namespace.yaml"))
            .unwrap();
    let (_dir, head_arg) = example_head_with("platform/monitoring/again.yaml", &namespace);
    let base_arg = root()
        .join("examples/gitops-base")
        .to_string_lossy()
        .into_owned();
    let args = ["plan", "--repo", &head_arg, "--base-path", &base_arg];
    let plan = json_of(&thule(&with_format(&args, "json")));
    let monitoring = plan["projects"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "monitoring")
        .unwrap();
    let notes: Vec<&str> = monitoring["notes"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        notes
            .iter()
            .any(|n| n.starts_with("render: ") && n.contains("duplicate object")),
        "{notes:?}"
    );
    // The Markdown comment shows it too.
    let md = stdout(&thule(&with_format(&args, "markdown")));
    assert!(md.contains("duplicate object"), "{md}");
}

//! The smaller commands: render, validate, schema, and --help on every command.

use crate::support::{root, stdout, thule};

#[test]
fn render_prints_a_projects_objects_with_namespaces_resolved() {
    let out = thule(&[
        "render",
        "web-prod",
        "--repo",
        "examples/gitops",
        "--format",
        "json",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let objects: Vec<serde_json::Value> = serde_json::from_str(&stdout(&out)).unwrap();
    let kinds: Vec<&str> = objects
        .iter()
        .map(|o| o["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, vec!["Service", "Deployment"]);
    assert!(objects.iter().all(|o| o["metadata"]["namespace"] == "web"));
    assert_eq!(
        objects[1]["spec"]["replicas"], 4,
        "values-prod.yaml applied"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("rendered with helm v4.1.4"));

    let missing = thule(&["render", "nope", "--repo", "examples/gitops"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&missing.stderr)
            .contains("projects: monitoring, payments, shop-prod, shop-staging, web-prod")
    );
}

#[test]
fn validate_lists_projects_and_explains_discovery() {
    let out = thule(&["validate", "--repo", "examples/gitops"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(stdout(&out).starts_with("5 project(s), configuration valid:"));
    let out = thule(&[
        "validate",
        "--repo",
        "examples/gitops",
        "--changed",
        "apps/shop/base/deployment.yaml",
    ]);
    let text = stdout(&out);
    assert!(
        text.starts_with("2 project(s) to plan:\n  shop-prod\n"),
        "{text}"
    );
    assert!(text.contains("apps/shop/base/deployment.yaml: referenced by apps/shop/overlays/staging/kustomization.yaml"), "{text}");
}

#[test]
fn schema_prints_the_committed_schemas() {
    for (which, file) in [
        ("project", "thule.schema.json"),
        ("repo", "repo-config.schema.json"),
        ("serve", "serve.schema.json"),
    ] {
        let out = thule(&["schema", which]);
        assert_eq!(out.status.code(), Some(0));
        let committed = std::fs::read_to_string(root().join("docs/schema").join(file)).unwrap();
        assert_eq!(stdout(&out), committed, "{which}");
    }
}

#[test]
fn every_command_has_help_with_an_example() {
    for cmd in ["plan", "diff", "render", "validate", "schema"] {
        let out = thule(&[cmd, "--help"]);
        assert_eq!(out.status.code(), Some(0), "{cmd}");
        let text = stdout(&out);
        assert!(text.contains("Usage: thule"), "{cmd}: {text}");
        assert!(
            text.contains("Example"),
            "{cmd} --help has no example:\n{text}"
        );
    }
}

/// `thule diff --format json` lists every object: byte-identical documents, which are never
/// parsed, as no-ops with the source line a parse would give; text lists them only with --all.
#[test]
fn diff_json_lists_unchanged_objects_as_noop() {
    let dir = tempfile::tempdir().unwrap();
    let cm = |name: &str, v: &str| {
        format!(
            "---\n# a comment\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  labels:\n    name: label\n  name: {name}\n  namespace: shop\ndata:\n  k: {v}\n"
        )
    };
    let base = format!("{}{}", cm("same", "1"), cm("edited", "1"));
    let desired = format!("{}{}", cm("same", "1"), cm("edited", "2"));
    std::fs::write(dir.path().join("base.yaml"), base).unwrap();
    std::fs::write(dir.path().join("desired.yaml"), desired).unwrap();
    let args = |format: &'static str| {
        let d = dir.path().to_string_lossy().into_owned();
        vec![
            "diff".to_owned(),
            "--base".to_owned(),
            format!("{d}/base.yaml"),
            "--desired".to_owned(),
            format!("{d}/desired.yaml"),
            "--format".to_owned(),
            format.to_owned(),
        ]
    };
    let run = |a: Vec<String>| {
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        thule(&a)
    };
    let out = run(args("json"));
    assert_eq!(out.status.code(), Some(1));
    let plan: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let objects = plan["objects"].as_array().unwrap();
    let summary: Vec<(&str, &str)> = objects
        .iter()
        .map(|o| (o["name"].as_str().unwrap(), o["action"].as_str().unwrap()))
        .collect();
    assert_eq!(summary, [("edited", "patch"), ("same", "noop")]);
    let same = &objects[1];
    assert!(
        same["source"].as_str().unwrap().ends_with("desired.yaml:3"),
        "{same}"
    );
    assert_eq!(
        (&same["applier"], &same["applierInferred"]),
        (&"flux".into(), &false.into())
    );
    assert_eq!(plan["summary"]["noop"], 1);
    let text = stdout(&run(args("text")));
    assert!(!text.contains("NOOP"), "{text}");
    let mut all = args("text");
    all.push("--all".to_owned());
    assert!(stdout(&run(all)).contains("ConfigMap shop/same NOOP"));
}

/// Without --applier, `thule diff` reads each live object's applier: Argo CD's server-side
/// apply here (gitops-engine's "will remove entries in list"), which removes the port it
/// applied before. Naming another applier changes the verdict.
#[test]
fn diff_infers_the_applier_from_live_objects() {
    let case_file =
        root().join("../shared/peers/gitops-engine-diff/p02-smd-service-remove-port.yaml");
    let text = std::fs::read_to_string(&case_file).expect("the peers corpus beside the repository");
    let case = thule_core::yaml::parse_str(&text, "p02", &Default::default()).unwrap()[0]
        .value
        .clone();
    let dir = tempfile::tempdir().unwrap();
    for side in ["desired", "live"] {
        let docs: String = case[side]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| format!("---\n{}\n", serde_json::to_string(o).unwrap()))
            .collect();
        std::fs::write(dir.path().join(format!("{side}.yaml")), docs).unwrap();
    }
    let d = dir.path().to_string_lossy().into_owned();
    let (desired, live) = (format!("{d}/desired.yaml"), format!("{d}/live.yaml"));
    let base = [
        "diff",
        "--desired",
        &desired,
        "--live",
        &live,
        "--format",
        "json",
    ];
    let inferred: serde_json::Value = serde_json::from_str(&stdout(&thule(&base))).unwrap();
    let o = &inferred["objects"][0];
    assert_eq!(
        (&o["applier"], &o["applierInferred"]),
        (&"argocd-ssa".into(), &true.into())
    );
    assert_eq!(o["action"], "patch");
    assert!(
        o["changes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["path"] == "spec.ports[port=443,protocol=TCP]" && c["op"] == "remove"),
        "{o}"
    );
    let mut flux = base.to_vec();
    flux.extend(["--applier", "flux"]);
    let configured: serde_json::Value = serde_json::from_str(&stdout(&thule(&flux))).unwrap();
    let o = &configured["objects"][0];
    assert_eq!(
        (&o["applier"], &o["applierInferred"]),
        (&"flux".into(), &false.into())
    );
    assert_eq!(
        o["action"], "noop",
        "kustomize-controller never applied the port"
    );
}

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

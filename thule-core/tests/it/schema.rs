use std::path::PathBuf;

use thule_core::config::schema::{project_schema, repo_schema, serve_schema};

fn docs() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/schema")
}

/// The committed schemas under docs/schema are what the types generate. To refresh them after
/// changing the config types: `THULE_UPDATE_SCHEMA=1 cargo test -p thule-core --test it schema`.
#[test]
fn committed_schemas_are_current() {
    for (file, generated) in [
        ("thule.schema.json", project_schema()),
        ("repo-config.schema.json", repo_schema()),
        ("serve.schema.json", serve_schema()),
    ] {
        let path = docs().join(file);
        if std::env::var_os("THULE_UPDATE_SCHEMA").is_some() {
            std::fs::create_dir_all(docs()).unwrap();
            std::fs::write(&path, &generated).unwrap();
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == generated,
            "{} is stale; run THULE_UPDATE_SCHEMA=1 cargo test -p thule-core --test it schema",
            path.display()
        );
    }
}

#[test]
fn schema_knows_the_keys_users_write() {
    let s: serde_json::Value = serde_json::from_str(&project_schema()).unwrap();
    let text = s.to_string();
    for key in [
        "clusterRef",
        "whenModified",
        "valuesFiles",
        "maxResourceDetails",
        "kustomize",
    ] {
        assert!(text.contains(key), "{key} missing from the schema");
    }
    assert_eq!(s["additionalProperties"], serde_json::json!(false));
}

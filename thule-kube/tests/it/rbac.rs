//! The least-privilege RBAC manifests in `deploy/rbac/` grant reads only.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::Value;
use thule_core::object::flatten_lists;
use thule_core::yaml::{ParseOptions, parse_stream};

const READ_VERBS: [&str; 3] = ["get", "list", "watch"];

fn rbac_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/rbac")
}

fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            yaml_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            out.push(path);
        }
    }
}

/// (file, object) for every object under `deploy/rbac`.
fn manifests() -> Vec<(PathBuf, Value)> {
    let mut files = Vec::new();
    yaml_files(&rbac_dir(), &mut files);
    files.sort();
    let mut out = Vec::new();
    for f in files {
        let bytes = std::fs::read(&f).unwrap();
        let docs = parse_stream(&bytes, &f.display().to_string(), &ParseOptions::default())
            .unwrap_or_else(|e| panic!("{e}"));
        for doc in docs.into_iter().filter(|d| !d.value.is_null()) {
            for o in flatten_lists(doc.value) {
                out.push((f.clone(), o));
            }
        }
    }
    out
}

fn strings(v: &Value) -> Vec<&str> {
    v.as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

/// Every rule of every Role and ClusterRole grants only get/list/watch (no `*`), never on
/// all API groups, and Secrets only in the opt-in role, with `get` alone.
#[test]
fn rbac_manifests_grant_no_write_verbs() {
    let all = manifests();
    let roles: Vec<_> = all
        .iter()
        .filter(|(_, o)| matches!(o["kind"].as_str(), Some("ClusterRole" | "Role")))
        .collect();
    assert!(
        roles.len() >= 2,
        "expected the reader and the opt-in Secret role"
    );
    let mut rules_seen = 0;
    for (file, role) in &roles {
        let name = role["metadata"]["name"].as_str().unwrap();
        let optional = file.components().any(|c| c.as_os_str() == "optional");
        assert!(
            role.get("aggregationRule").is_none(),
            "{name}: aggregation can add verbs"
        );
        for rule in role["rules"].as_array().unwrap() {
            rules_seen += 1;
            let verbs = strings(&rule["verbs"]);
            assert!(!verbs.is_empty(), "{name}: rule without verbs");
            for verb in &verbs {
                assert!(
                    READ_VERBS.contains(verb),
                    "{name} in {}: write verb `{verb}`",
                    file.display()
                );
            }
            let groups = strings(&rule["apiGroups"]);
            assert!(!groups.contains(&"*"), "{name}: all API groups");
            let resources = strings(&rule["resources"]);
            let core = groups.contains(&"");
            let touches_secrets =
                core && (resources.contains(&"secrets") || resources.contains(&"*"));
            if touches_secrets {
                assert!(optional, "{name}: Secrets outside the opt-in role");
                assert_eq!(verbs, vec!["get"], "{name}: Secrets beyond get");
            }
            if rule.get("nonResourceURLs").is_some() {
                assert_eq!(verbs, vec!["get"], "{name}: non-resource URLs beyond get");
            }
        }
    }
    assert!(rules_seen >= 4);
}

/// Bindings bind only the roles defined here, to thule's service account.
#[test]
fn rbac_bindings_bind_only_thule_roles() {
    let all = manifests();
    let roles: BTreeSet<_> = all
        .iter()
        .filter(|(_, o)| matches!(o["kind"].as_str(), Some("ClusterRole" | "Role")))
        .map(|(_, o)| o["metadata"]["name"].as_str().unwrap().to_owned())
        .collect();
    let bindings: Vec<_> = all
        .iter()
        .filter(|(_, o)| {
            matches!(
                o["kind"].as_str(),
                Some("ClusterRoleBinding" | "RoleBinding")
            )
        })
        .collect();
    assert!(!bindings.is_empty());
    for (_, b) in bindings {
        let role = b["roleRef"]["name"].as_str().unwrap();
        assert!(roles.contains(role), "binding to foreign role {role}");
        for s in b["subjects"].as_array().unwrap() {
            assert_eq!(s["kind"], "ServiceAccount");
            assert_eq!(s["name"], "thule");
        }
    }
}

/// The kustomizations name existing files, and the default one leaves Secret access out.
#[test]
fn rbac_kustomizations_are_complete() {
    for dir in [rbac_dir(), rbac_dir().join("optional")] {
        let text = std::fs::read(dir.join("kustomization.yaml")).unwrap();
        let doc = &parse_stream(&text, "kustomization.yaml", &ParseOptions::default()).unwrap()[0];
        for r in strings(&doc.value["resources"]) {
            assert!(dir.join(r).is_file(), "{} lists missing {r}", dir.display());
        }
    }
    let text = std::fs::read_to_string(rbac_dir().join("kustomization.yaml")).unwrap();
    assert!(
        !text.contains("secrets"),
        "default kustomization includes Secret access"
    );
}

//! Integration tests of thule-kube: the kube-rs reader against a loopback Kubernetes API
//! server (`thule_kube::testing`), the causes its errors name (TLS failures, refused
//! connections, rejected credentials), the snapshot reader, deletion candidates, and the RBAC
//! manifests.

mod causes;
mod deletion;
mod live;
mod rbac;
mod snapshot;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;
use thule_core::cluster::{LiveOutcome, ObjectRef};
use thule_core::object::{Manifest, ObjectKey, Origin, flatten_lists};
use thule_core::yaml::{ParseOptions, parse_stream};
use thule_kube::testing::TestServer;
use thule_kube::{KubeClusterReader, ReaderOptions};

/// The snapshot fixture directory (realistic `kubectl get -o yaml` dumps).
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/snapshot")
}

/// Every object in the fixture dumps, as the API server would store them.
pub fn fixture_objects() -> Vec<Value> {
    let mut files: Vec<_> = std::fs::read_dir(fixtures())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let mut out = Vec::new();
    for f in files {
        let bytes = std::fs::read(&f).unwrap();
        for doc in parse_stream(&bytes, &f.display().to_string(), &ParseOptions::default()).unwrap()
        {
            if !doc.value.is_null() {
                out.extend(flatten_lists(doc.value));
            }
        }
    }
    out
}

/// A reference to an object.
pub fn oref(api_version: &str, kind: &str, namespace: &str, name: &str) -> ObjectRef {
    ObjectRef::new(
        api_version,
        ObjectKey::from_api_version(api_version, kind, namespace, name),
    )
}

/// A reference to a (fixture) object value.
pub fn oref_of(object: &Value) -> ObjectRef {
    let m = Manifest::from_value(object.clone(), Origin::default()).unwrap();
    ObjectRef::new(m.api_version, m.key)
}

/// Fast options for tests: short backoff, a generous deadline.
pub fn test_options() -> ReaderOptions {
    ReaderOptions::default()
        .with_deadline(Duration::from_secs(60))
        .with_retries(4, Duration::from_millis(10), Duration::from_millis(50))
}

/// A reader on the loopback server through the kubeconfig's `context`.
pub async fn reader(
    server: &TestServer,
    context: &str,
    options: ReaderOptions,
) -> KubeClusterReader {
    KubeClusterReader::from_kubeconfig("loopback", Some(&server.kubeconfig), Some(context), options)
        .await
        .expect("reader from kubeconfig")
}

/// Outcomes reduced to what a plan depends on: found values exactly, the other outcomes by
/// variant (their messages differ between backends by design).
pub fn plan_view(outcomes: &BTreeMap<ObjectKey, LiveOutcome>) -> BTreeMap<ObjectKey, Value> {
    outcomes
        .iter()
        .map(|(k, o)| {
            let v = match o {
                LiveOutcome::Found(v) => v.clone(),
                LiveOutcome::Absent => Value::String("absent".into()),
                LiveOutcome::Forbidden { .. } => Value::String("forbidden".into()),
                LiveOutcome::NotServed { .. } => Value::String("not served".into()),
                LiveOutcome::Error { .. } => Value::String("error".into()),
                _ => Value::String("other".into()),
            };
            (k.clone(), v)
        })
        .collect()
}

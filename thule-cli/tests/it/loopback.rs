//! The bundled example planned through a loopback HTTPS server speaking the Kubernetes API
//! (`thule_kube::testing`: no real API server can run in this environment) gives the same
//! plan as through the snapshots, and the plan only ever sends GET requests.

use serde_json::Value;
use thule_core::object::flatten_lists;
use thule_core::yaml::{ParseOptions, parse_stream};
use thule_kube::testing::{Auth, TOKEN, TestServer};

use crate::support::{EXAMPLE_PLAN, args_with, digest, root, stdout, thule};

fn snapshot_objects() -> Vec<Value> {
    let mut objects = Vec::new();
    for cluster in ["prod", "ops"] {
        let dir = root().join("examples/snapshots").join(cluster);
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        for f in files {
            let docs = parse_stream(
                &std::fs::read(&f).unwrap(),
                &f.display().to_string(),
                &ParseOptions::default(),
            )
            .unwrap();
            for d in docs {
                objects.extend(flatten_lists(d.value).into_iter().filter(Value::is_object));
            }
        }
    }
    objects
}

#[test]
fn the_example_plans_the_same_through_a_loopback_api_server_and_only_gets() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = runtime
        .block_on(TestServer::start(
            snapshot_objects(),
            Auth::Token(TOKEN.to_owned()),
        ))
        .unwrap();
    let kubeconfig = server.kubeconfig.to_string_lossy().into_owned();
    let base = args_with(EXAMPLE_PLAN, &["--format", "json"]);

    let live_args = args_with(
        &base,
        &[
            "--kubeconfig",
            &kubeconfig,
            "--context",
            "prod=loopback",
            "--context",
            "ops=loopback",
        ],
    );
    let through_server = thule(&live_args);
    assert_eq!(
        through_server.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&through_server.stderr)
    );

    let snapshot_args = args_with(&base, &["--live", "examples/snapshots"]);
    let through_snapshot = thule(&snapshot_args);

    let a: Value = serde_json::from_str(&stdout(&through_server)).unwrap();
    let b: Value = serde_json::from_str(&stdout(&through_snapshot)).unwrap();
    assert!(
        a["projects"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["intentOnly"] == false)
    );
    assert_eq!(digest(&a), digest(&b));
    assert_eq!(a["summary"], b["summary"]);

    let requests = server.requests();
    assert!(!requests.is_empty(), "the plan read the server");
    for r in &requests {
        assert_eq!(
            r.method, "GET",
            "a write request reached the cluster: {r:?}"
        );
    }
}

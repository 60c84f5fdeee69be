//! The kube-rs reader, driven through the real kube client and a kubeconfig file, against
//! the loopback HTTPS server of `thule_kube::testing` (no real API server can run in this
//! environment).

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use thule_core::cluster::{
    ClusterReader, KindScope, LiveOutcome, OwnedList, OwnedQuery, ReadError,
};
use thule_core::config::ClusterSettings;
use thule_core::object::ObjectKey;
use thule_kube::{
    KubeClusterReader, KubeError, Ownership, ReaderOptions, find_deletion_candidates,
    reader_for_cluster,
};

use crate::{fixture_objects, oref, oref_of, reader, test_options};
use thule_kube::testing::{Action, Auth, TOKEN, TestServer};

fn find<'a>(objects: &'a [Value], kind: &str, name: &str) -> &'a Value {
    objects
        .iter()
        .find(|o| o["kind"] == kind && o["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("fixture {kind} {name}"))
}

fn key(api_version: &str, kind: &str, ns: &str, name: &str) -> ObjectKey {
    ObjectKey::from_api_version(api_version, kind, ns, name)
}

fn with_namespace_object(mut objects: Vec<Value>) -> Vec<Value> {
    objects.push(json!({"apiVersion": "v1", "kind": "Namespace",
        "metadata": {"name": "shop", "uid": "ns-1", "labels": {"team": "shop"}},
        "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}}));
    objects
}

/// Runs against the loopback server (no real API server can run here): found, absent and
/// the three kinds of "not served" (unknown group, unserved version, unknown kind), with token
/// auth from the kubeconfig; found objects come back exactly as the server stored them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_found_absent_and_not_served() {
    let objects = with_namespace_object(fixture_objects());
    let server = TestServer::start(objects.clone(), Auth::Token(TOKEN.into()))
        .await
        .unwrap();
    let r = reader(&server, "loopback", test_options()).await;
    assert!(r.describe().contains("loopback"), "{}", r.describe());
    let wanted = vec![
        oref("apps/v1", "Deployment", "shop", "web"),
        oref("apps/v1", "Deployment", "shop", "gone"),
        oref("v1", "Namespace", "", "shop"),
        oref("cert-manager.io/v1", "Certificate", "shop", "tls"),
        oref(
            "monitoring.coreos.com/v1beta1",
            "ServiceMonitor",
            "shop",
            "web",
        ),
        oref("v1", "Frobnicator", "shop", "x"),
    ];
    let out = r.read(&wanted).await.unwrap();
    assert_eq!(out.len(), wanted.len());
    assert_eq!(
        out[&key("apps/v1", "Deployment", "shop", "web")],
        LiveOutcome::Found(find(&objects, "Deployment", "web").clone())
    );
    let LiveOutcome::Found(dep) = &out[&key("apps/v1", "Deployment", "shop", "web")] else {
        unreachable!()
    };
    assert_eq!(
        dep["metadata"]["managedFields"][0]["manager"],
        "kustomize-controller"
    );
    assert_eq!(dep["status"]["readyReplicas"], 2);
    assert_eq!(
        out[&key("apps/v1", "Deployment", "shop", "gone")],
        LiveOutcome::Absent
    );
    assert_eq!(
        out[&key("v1", "Namespace", "", "shop")],
        LiveOutcome::Found(find(&objects, "Namespace", "shop").clone())
    );
    let not_served = |k: ObjectKey| match &out[&k] {
        LiveOutcome::NotServed { message } => message.clone(),
        other => panic!("{k}: {other:?}"),
    };
    let m = not_served(key("cert-manager.io/v1", "Certificate", "shop", "tls"));
    assert!(m.contains("no API group `cert-manager.io`"), "{m}");
    let m = not_served(key(
        "monitoring.coreos.com/v1beta1",
        "ServiceMonitor",
        "shop",
        "web",
    ));
    assert!(m.contains("serves monitoring.coreos.com/v1"), "{m}");
    let m = not_served(key("v1", "Frobnicator", "shop", "x"));
    assert!(m.contains("kind Frobnicator is not served in v1"), "{m}");
}

/// Runs against the loopback server (no real API server can run here): kind scopes come from
/// discovery (custom kinds included); an unserved kind says so, and a group-version whose
/// discovery is forbidden is unknown rather than guessed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scopes_come_from_discovery() {
    let server = TestServer::start(Vec::new(), Auth::Token(TOKEN.into()))
        .await
        .unwrap();
    server.rule("/apis/apps/v1", true, Action::Forbid);
    let r = reader(&server, "loopback", test_options()).await;
    let kinds: Vec<(String, String)> = [
        ("v1", "ConfigMap"),
        ("v1", "Namespace"),
        ("rbac.authorization.k8s.io/v1", "ClusterRole"),
        ("monitoring.coreos.com/v1", "ServiceMonitor"),
        ("cert-manager.io/v1", "Certificate"),
        ("apps/v1", "Deployment"),
    ]
    .iter()
    .map(|(a, k)| ((*a).to_owned(), (*k).to_owned()))
    .collect();
    let scopes = r.scopes(&kinds).await.unwrap();
    let got: Vec<_> = kinds.iter().map(|k| scopes[k].clone()).collect();
    assert_eq!(got[0], KindScope::Namespaced);
    assert_eq!(got[1], KindScope::Cluster);
    assert_eq!(got[2], KindScope::Cluster);
    assert_eq!(got[3], KindScope::Namespaced);
    assert!(
        matches!(got[4], KindScope::NotServed { .. }),
        "{:?}",
        got[4]
    );
    assert_eq!(got[5], KindScope::Unknown);
}

/// Runs against the loopback server (no real API server can run here): a forbidden Secret
/// is a per-object outcome whose message names the object but holds none of its data, and
/// it does not disturb the other reads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forbidden_secret_is_an_outcome_without_its_value() {
    let server = TestServer::start(fixture_objects(), Auth::Token(TOKEN.into()))
        .await
        .unwrap();
    server.rule("/api/v1/namespaces/shop/secrets", false, Action::Forbid);
    let r = reader(&server, "loopback", test_options()).await;
    let out = r
        .read(&[
            oref("v1", "Secret", "shop", "db"),
            oref("v1", "ServiceAccount", "shop", "web"),
        ])
        .await
        .unwrap();
    match &out[&key("v1", "Secret", "shop", "db")] {
        LiveOutcome::Forbidden { message } => {
            assert!(message.contains("forbidden"), "{message}");
            assert!(!message.contains("aHVudGVyMi"), "{message}");
            assert!(!message.contains("hunter2"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        out[&key("v1", "ServiceAccount", "shop", "web")],
        LiveOutcome::Found(_)
    ));
}

/// Runs against the loopback server (no real API server can run here): bodies that are not
/// an API `Status` (a proxy error page, a truncated object) never reach an error message, so
/// Secret data in them cannot leak into the plan.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn error_messages_never_carry_response_bodies() {
    let server = TestServer::start(fixture_objects(), Auth::Token(TOKEN.into()))
        .await
        .unwrap();
    server.rule(
        "/api/v1/namespaces/shop/secrets/db",
        true,
        Action::Raw {
            status: 500,
            body: "upstream error while serving {\"data\":{\"password\":\"aHVudGVyMi1zdXBlci1zZWNyZXQ=\"}}",
        },
    );
    server.rule(
        "/api/v1/namespaces/shop/secrets/api-key",
        true,
        Action::Raw {
            status: 200,
            body: "{\"kind\":\"Secret\",\"data\":{\"token\":\"aHVudGVyMi1zdXBlci1zZWNyZXQ=\"",
        },
    );
    let r = reader(&server, "loopback", test_options()).await;
    let out = r
        .read(&[
            oref("v1", "Secret", "shop", "db"),
            oref("v1", "Secret", "shop", "api-key"),
        ])
        .await
        .unwrap();
    for name in ["db", "api-key"] {
        match &out[&key("v1", "Secret", "shop", name)] {
            LiveOutcome::Error { message } => {
                assert!(!message.contains("aHVudGVy"), "{name}: {message}");
                assert!(
                    !message.contains("password") && !message.contains("token"),
                    "{message}"
                );
            }
            other => panic!("{name}: {other:?}"),
        }
    }
    assert!(matches!(&out[&key("v1", "Secret", "shop", "db")],
        LiveOutcome::Error { message } if message.contains("HTTP 500")));
    assert!(matches!(&out[&key("v1", "Secret", "shop", "api-key")],
        LiveOutcome::Error { message } if message.contains("not JSON")));
}

/// Runs against the loopback server (no real API server can run here): Secrets are read one
/// GET at a time even when several are wanted, so the reader never lists (and never holds)
/// Secrets the plan did not ask for.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_are_never_listed() {
    let mut objects = fixture_objects();
    for name in ["a", "b", "c"] {
        objects.push(
            json!({"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
            "metadata": {"name": name, "namespace": "shop"}, "data": {"k": "dmFsdWU="}}),
        );
    }
    let server = TestServer::start(objects, Auth::Token(TOKEN.into()))
        .await
        .unwrap();
    let r = reader(&server, "loopback", test_options().with_list_threshold(2)).await;
    let wanted: Vec<_> = ["a", "b", "c", "db"]
        .iter()
        .map(|n| oref("v1", "Secret", "shop", n))
        .collect();
    let out = r.read(&wanted).await.unwrap();
    assert!(
        out.values().all(|o| matches!(o, LiveOutcome::Found(_))),
        "{out:?}"
    );
    let secret_requests: Vec<_> = server
        .requests()
        .into_iter()
        .filter(|q| q.path.contains("/secrets"))
        .collect();
    assert_eq!(secret_requests.len(), 4);
    assert!(
        secret_requests
            .iter()
            .all(|q| !q.path.ends_with("/secrets"))
    );
}

/// Runs against the loopback server (no real API server can run here): RBAC that allows get
/// but not list makes the batched list fall back to single GETs, each with its own outcome.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forbidden_list_falls_back_to_single_gets() {
    let server = TestServer::start(fixture_objects(), Auth::Token(TOKEN.into()))
        .await
        .unwrap();
    server.rule("/api/v1/namespaces/shop/configmaps", true, Action::Forbid);
    let r = reader(&server, "loopback", test_options()).await;
    let out = r
        .read(&[
            oref("v1", "ConfigMap", "shop", "web-config"),
            oref("v1", "ConfigMap", "shop", "unrelated"),
            oref("v1", "ConfigMap", "shop", "ghost"),
        ])
        .await
        .unwrap();
    assert!(matches!(
        out[&key("v1", "ConfigMap", "shop", "web-config")],
        LiveOutcome::Found(_)
    ));
    assert!(matches!(
        out[&key("v1", "ConfigMap", "shop", "unrelated")],
        LiveOutcome::Found(_)
    ));
    assert_eq!(
        out[&key("v1", "ConfigMap", "shop", "ghost")],
        LiveOutcome::Absent
    );
    let cm: Vec<_> = server
        .requests()
        .into_iter()
        .filter(|q| q.path.contains("/configmaps"))
        .map(|q| q.path)
        .collect();
    assert_eq!(cm.len(), 4, "{cm:?}");
    assert_eq!(cm[0], "/api/v1/namespaces/shop/configmaps");
}

/// Runs against the loopback server (no real API server can run here): 429 twice, then
/// success, is retried to a found object; a 503 that never stops yields an error outcome after
/// exactly `max_attempts` attempts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_429_then_succeeds_and_gives_up_on_persistent_503() {
    let server = TestServer::start(fixture_objects(), Auth::Token(TOKEN.into()))
        .await
        .unwrap();
    let web = "/apis/apps/v1/namespaces/shop/deployments/web";
    let sa = "/api/v1/namespaces/shop/serviceaccounts/web";
    server.rule(
        web,
        true,
        Action::Fail {
            status: 429,
            times: 2,
        },
    );
    server.rule(
        sa,
        true,
        Action::Fail {
            status: 503,
            times: 1000,
        },
    );
    let r = reader(&server, "loopback", test_options()).await;
    let out = r
        .read(&[
            oref("apps/v1", "Deployment", "shop", "web"),
            oref("v1", "ServiceAccount", "shop", "web"),
        ])
        .await
        .unwrap();
    assert!(matches!(
        out[&key("apps/v1", "Deployment", "shop", "web")],
        LiveOutcome::Found(_)
    ));
    match &out[&key("v1", "ServiceAccount", "shop", "web")] {
        LiveOutcome::Error { message } => assert!(message.contains("HTTP 503"), "{message}"),
        other => panic!("{other:?}"),
    }
    let count = |p: &str| server.requests().iter().filter(|q| q.path == p).count();
    assert_eq!(count(web), 3);
    assert_eq!(count(sa), 4);
}

/// Runs against the loopback server (no real API server can run here): a response slower
/// than the per-run deadline becomes an error outcome naming the deadline, while objects
/// answered in time keep their outcomes. The only timing check is a generous upper bound
/// showing the reader did not wait for the 60 s response.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_response_past_the_deadline_is_an_error_outcome() {
    let server = TestServer::start(fixture_objects(), Auth::Token(TOKEN.into()))
        .await
        .unwrap();
    server.rule(
        "/apis/apps/v1/namespaces/shop/deployments/web",
        true,
        Action::Slow {
            delay: Duration::from_secs(60),
            times: u32::MAX,
        },
    );
    let r = reader(
        &server,
        "loopback",
        test_options().with_deadline(Duration::from_secs(2)),
    )
    .await;
    let started = Instant::now();
    let out = r
        .read(&[
            oref("apps/v1", "Deployment", "shop", "web"),
            oref("v1", "ConfigMap", "shop", "web-config"),
        ])
        .await
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(30));
    match &out[&key("apps/v1", "Deployment", "shop", "web")] {
        LiveOutcome::Error { message } => assert!(message.contains("deadline of 2s"), "{message}"),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        out[&key("v1", "ConfigMap", "shop", "web-config")],
        LiveOutcome::Found(_)
    ));
    // After the deadline, listing fails as a whole.
    let e = r
        .list_owned(&OwnedQuery {
            api_version: "v1".into(),
            kind: "ConfigMap".into(),
            namespace: Some("shop".into()),
            labels: BTreeMap::new(),
        })
        .await;
    assert!(
        matches!(e, Err(ReadError::Deadline { seconds: 2, .. })),
        "{e:?}"
    );
}

/// Runs against the loopback server (no real API server can run here): an attempt that
/// gets no answer within the request timeout is retried, and the retry's answer counts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timed_out_attempt_is_retried() {
    let server = TestServer::start(fixture_objects(), Auth::Token(TOKEN.into()))
        .await
        .unwrap();
    let path = "/api/v1/namespaces/shop/services/web";
    server.rule(
        path,
        true,
        Action::Slow {
            delay: Duration::from_secs(60),
            times: 1,
        },
    );
    let r = reader(
        &server,
        "loopback",
        test_options().with_request_timeout(Duration::from_millis(500)),
    )
    .await;
    let out = r
        .read(&[oref("v1", "Service", "shop", "web")])
        .await
        .unwrap();
    assert!(matches!(
        out[&key("v1", "Service", "shop", "web")],
        LiveOutcome::Found(_)
    ));
    assert_eq!(
        server.requests().iter().filter(|q| q.path == path).count(),
        2
    );
}

/// Runs against the loopback server (no real API server can run here): however many
/// batches a read has, no more requests than `concurrency` are in flight at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrency_is_bounded() {
    let server = TestServer::start(fixture_objects(), Auth::Token(TOKEN.into()))
        .await
        .unwrap();
    server.rule(
        "/api/v1/namespaces/",
        false,
        Action::Slow {
            delay: Duration::from_millis(150),
            times: u32::MAX,
        },
    );
    let r = reader(&server, "loopback", test_options().with_concurrency(2)).await;
    let wanted: Vec<_> = (0..8)
        .map(|i| oref("v1", "ConfigMap", &format!("ns-{i}"), "x"))
        .collect();
    let out = r.read(&wanted).await.unwrap();
    assert!(out.values().all(|o| *o == LiveOutcome::Absent), "{out:?}");
    assert_eq!(server.requests().len(), 9);
    let most = server.max_in_flight();
    assert!(most <= 2, "{most} requests in flight");
}

/// Runs against the loopback server (no real API server can run here): label hints narrow
/// the batched list with a label selector, and objects the narrowed list misses are
/// confirmed with a GET (one without the labels is found, a missing one is absent).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn label_hints_narrow_the_list_and_misses_are_confirmed() {
    let server = TestServer::start(fixture_objects(), Auth::Token(TOKEN.into()))
        .await
        .unwrap();
    let r = reader(&server, "loopback", test_options()).await;
    let flux = Ownership::flux_kustomization("shop", "flux-system").labels;
    let wanted: Vec<_> = ["web-config", "migration-notes", "unrelated", "ghost"]
        .iter()
        .map(|n| oref("v1", "ConfigMap", "shop", n))
        .collect();
    let out = r.read_with_labels(&wanted, &flux).await.unwrap();
    // The same answers as without the hint.
    assert_eq!(out, r.read(&wanted).await.unwrap());
    server.clear_requests();
    let out = r.read_with_labels(&wanted, &flux).await.unwrap();
    for n in ["web-config", "migration-notes", "unrelated"] {
        assert!(
            matches!(
                out[&key("v1", "ConfigMap", "shop", n)],
                LiveOutcome::Found(_)
            ),
            "{n}"
        );
    }
    assert_eq!(
        out[&key("v1", "ConfigMap", "shop", "ghost")],
        LiveOutcome::Absent
    );
    let cm: Vec<_> = server
        .requests()
        .into_iter()
        .filter(|q| q.path.contains("/configmaps"))
        .collect();
    assert_eq!(cm.len(), 3, "{cm:?}");
    assert_eq!(cm[0].path, "/api/v1/namespaces/shop/configmaps");
    assert!(
        cm[0].query.contains(
            "labelSelector=kustomize.toolkit.fluxcd.io%2Fname%3Dshop%2Ckustomize.toolkit.fluxcd.io%2Fnamespace%3Dflux-system"
        ),
        "{}",
        cm[0].query
    );
    let singles: BTreeSet<_> = cm[1..].iter().map(|q| q.path.as_str()).collect();
    assert_eq!(
        singles,
        BTreeSet::from([
            "/api/v1/namespaces/shop/configmaps/ghost",
            "/api/v1/namespaces/shop/configmaps/unrelated"
        ])
    );
}

/// Runs against the loopback server (no real API server can run here): lists follow
/// `continue` tokens across pages.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_follow_continue_tokens() {
    let server = TestServer::start(fixture_objects(), Auth::Token(TOKEN.into()))
        .await
        .unwrap();
    let r = reader(&server, "loopback", test_options().with_page_size(2)).await;
    let out = r
        .read(&[
            oref("v1", "ConfigMap", "shop", "web-config"),
            oref("v1", "ConfigMap", "shop", "migration-notes"),
            oref("v1", "ConfigMap", "shop", "unrelated"),
        ])
        .await
        .unwrap();
    assert!(
        out.values().all(|o| matches!(o, LiveOutcome::Found(_))),
        "{out:?}"
    );
    let pages: Vec<_> = server
        .requests()
        .into_iter()
        .filter(|q| q.path == "/api/v1/namespaces/shop/configmaps")
        .map(|q| q.query)
        .collect();
    assert_eq!(
        pages,
        vec!["limit=2".to_owned(), "limit=2&continue=2".to_owned()]
    );
}

/// Runs against the loopback server (no real API server can run here) that demands a client
/// certificate signed by its CA: the kubeconfig's certificate user reads objects.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_certificate_auth() {
    let server = TestServer::start(fixture_objects(), Auth::ClientCert)
        .await
        .unwrap();
    let r = reader(&server, "loopback-cert", test_options()).await;
    let out = r
        .read(&[oref("v1", "Service", "shop", "web")])
        .await
        .unwrap();
    assert!(matches!(
        out[&key("v1", "Service", "shop", "web")],
        LiveOutcome::Found(_)
    ));
}

/// Runs against the loopback server (no real API server can run here): a token the server
/// rejects makes every object an error outcome naming the 401, not a found or absent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejected_token_is_an_error_outcome() {
    let server = TestServer::start(fixture_objects(), Auth::Token("another".into()))
        .await
        .unwrap();
    let r = reader(&server, "loopback", test_options()).await;
    let out = r
        .read(&[oref("v1", "Service", "shop", "web")])
        .await
        .unwrap();
    match &out[&key("v1", "Service", "shop", "web")] {
        LiveOutcome::Error { message } => assert!(message.contains("401"), "{message}"),
        other => panic!("{other:?}"),
    }
}

/// Runs against a loopback address where the test server was stopped (no real API server
/// can run here): an unreachable cluster fails the read as a whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_cluster_fails_the_whole_read() {
    let server = TestServer::start(Vec::new(), Auth::Token(TOKEN.into()))
        .await
        .unwrap();
    let kubeconfig_dir = tempfile::tempdir().unwrap();
    let kubeconfig = kubeconfig_dir.path().join("config");
    std::fs::copy(&server.kubeconfig, &kubeconfig).unwrap();
    // The CA file is referenced by path; keep a copy next to the kubeconfig.
    let text = std::fs::read_to_string(&kubeconfig).unwrap();
    let ca_src = server.kubeconfig.with_file_name("ca.pem");
    let ca_dst = kubeconfig_dir.path().join("ca.pem");
    std::fs::copy(&ca_src, &ca_dst).unwrap();
    std::fs::write(
        &kubeconfig,
        text.replace(&ca_src.display().to_string(), &ca_dst.display().to_string()),
    )
    .unwrap();
    drop(server);
    tokio::time::sleep(Duration::from_millis(50)).await;
    let r = KubeClusterReader::from_kubeconfig("gone", Some(&kubeconfig), None, test_options())
        .await
        .unwrap();
    let e = r
        .read(&[oref("v1", "Service", "shop", "web")])
        .await
        .unwrap_err();
    assert!(
        matches!(e, ReadError::Unreachable { ref cluster, .. } if cluster == "gone"),
        "{e:?}"
    );
}

/// A kubeconfig that does not exist or lacks the context is a construction error naming it.
#[tokio::test]
async fn bad_kubeconfig_is_a_construction_error() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.yaml");
    let e =
        KubeClusterReader::from_kubeconfig("prod", Some(&missing), None, ReaderOptions::default())
            .await
            .unwrap_err();
    assert!(matches!(e, KubeError::Kubeconfig { .. }), "{e:?}");
    assert!(e.to_string().contains("nope.yaml"), "{e}");
    let server = TestServer::start(Vec::new(), Auth::Token(TOKEN.into()))
        .await
        .unwrap();
    let e = KubeClusterReader::from_kubeconfig(
        "prod",
        Some(&server.kubeconfig),
        Some("no-such-context"),
        ReaderOptions::default(),
    )
    .await
    .unwrap_err();
    assert!(e.to_string().contains("cluster `prod`"), "{e}");
}

/// The message and its source chain as a chain printer (`thule_render::chain`, anyhow's
/// `{:#}`) prints them: every layer's display, joined by `: `.
fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut out = error.to_string();
    let mut next = error.source();
    while let Some(e) = next {
        out.push_str(": ");
        out.push_str(&e.to_string());
        next = e.source();
    }
    out
}

/// The errors a caller of `reader_for_cluster` prints, exactly: each names the cluster once,
/// at the start, and says each cause once, in its display and in its source chain alike. An
/// unknown context names the context and those the kubeconfig has; a missing kubeconfig is
/// the file and the OS error (not kube's message naming the file again). The unknown-context
/// case reads the loopback server's kubeconfig (no real API server can run here).
#[tokio::test]
async fn reader_errors_name_the_cluster_once_and_each_cause_once() {
    let server = TestServer::start(Vec::new(), Auth::Token(TOKEN.into()))
        .await
        .unwrap();
    let kubeconfig = server.kubeconfig.display().to_string();
    let settings = ClusterSettings {
        kubeconfig: Some(kubeconfig.clone()),
        context: Some("no-such-context".into()),
        snapshot: None,
    };
    let root = std::path::Path::new("/");
    let Err(e) = reader_for_cluster("prod", &settings, root, test_options()).await else {
        panic!("an unknown context must not build a reader")
    };
    let want = format!(
        "cluster `prod`: kubeconfig {kubeconfig}: no context `no-such-context` \
         (it has: loopback, loopback-cert, loopback-token-file, loopback-anonymous)"
    );
    assert!(matches!(e, KubeError::Kubeconfig { .. }), "{e:?}");
    assert_eq!(e.to_string(), want);
    assert_eq!(chain(&e), want);

    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.yaml");
    let settings = ClusterSettings {
        kubeconfig: Some(missing.display().to_string()),
        ..ClusterSettings::default()
    };
    let Err(e) = reader_for_cluster("prod", &settings, root, test_options()).await else {
        panic!("a missing kubeconfig must not build a reader")
    };
    let io = std::fs::read(&missing).unwrap_err();
    let want = format!("cluster `prod`: kubeconfig {}: {io}", missing.display());
    assert_eq!(e.to_string(), want);
    assert_eq!(chain(&e), want);

    std::fs::write(dir.path().join("broken.yaml"), "items: [\n").unwrap();
    let settings = ClusterSettings {
        snapshot: Some("broken.yaml".into()),
        ..ClusterSettings::default()
    };
    let Err(e) = reader_for_cluster("prod", &settings, dir.path(), test_options()).await else {
        panic!("a broken snapshot must not load")
    };
    let shown = e.to_string();
    assert_eq!(shown.matches("cluster `").count(), 1, "{shown}");
    assert!(
        shown.starts_with(&format!(
            "cluster `prod`: snapshot {}: ",
            dir.path().join("broken.yaml").display()
        )),
        "{shown}"
    );
    assert_eq!(chain(&e), shown);
}

/// A server nobody listens on (a loopback port bound, then closed: no real API server can
/// run here). Building the reader succeeds, since nothing is requested until the first read;
/// that read fails as a whole with a message naming the cluster once, the server, and that
/// the connection was refused at its address, once.
#[tokio::test]
async fn an_unreachable_server_is_named_with_the_connection_error() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = closed.local_addr().unwrap();
    drop(closed);
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("config");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    \
             server: https://{addr}\nusers:\n- name: u\n  user:\n    token: t\n\
             contexts:\n- name: x\n  context:\n    cluster: c\n    user: u\n\
             current-context: x\n"
        ),
    )
    .unwrap();
    let settings = ClusterSettings {
        kubeconfig: Some(kubeconfig.display().to_string()),
        ..ClusterSettings::default()
    };
    let options = test_options().with_retries(1, Duration::ZERO, Duration::ZERO);
    let r = reader_for_cluster("prod", &settings, dir.path(), options)
        .await
        .unwrap();
    let e = r
        .read(&[oref("v1", "Service", "shop", "web")])
        .await
        .unwrap_err();
    let refused = std::net::TcpStream::connect(addr).unwrap_err();
    assert_eq!(refused.kind(), std::io::ErrorKind::ConnectionRefused);
    let want =
        format!("cluster `prod` is unreachable: https://{addr}/: connection refused by {addr}");
    assert!(matches!(e, ReadError::Unreachable { .. }), "{e:?}");
    assert_eq!(e.to_string(), want);
    assert_eq!(chain(&e), want);
}

/// Outside a pod there is no service-account configuration.
#[tokio::test]
async fn in_cluster_outside_a_pod_is_a_construction_error() {
    if std::env::var_os("KUBERNETES_SERVICE_HOST").is_some() {
        return; // really inside a pod: nothing to check here
    }
    let e = KubeClusterReader::in_cluster("self", ReaderOptions::default()).unwrap_err();
    assert!(matches!(e, KubeError::InCluster { .. }), "{e:?}");
}

const KINDS: [(&str, &str, &str); 5] = [
    ("v1", "ConfigMap", "cm"),
    ("v1", "Service", "svc"),
    ("v1", "ServiceAccount", "sa"),
    ("apps/v1", "Deployment", "deploy"),
    ("monitoring.coreos.com/v1", "ServiceMonitor", "mon"),
];
const NAMESPACES: [&str; 3] = ["team-a", "team-b", "team-c"];

/// 200 objects over 5 kinds in 3 namespaces, plus 60 unrelated objects in the same
/// namespaces.
fn big_project() -> (Vec<Value>, Vec<thule_core::cluster::ObjectRef>) {
    let mut objects = Vec::new();
    let mut wanted = Vec::new();
    for i in 0..200 {
        let (api_version, kind, prefix) = KINDS[i % 5];
        let ns = NAMESPACES[(i / 5) % 3];
        let o = json!({"apiVersion": api_version, "kind": kind,
            "metadata": {"name": format!("{prefix}-{i}"), "namespace": ns, "uid": format!("u{i}")},
            "spec": {"n": i}});
        wanted.push(oref_of(&o));
        objects.push(o);
    }
    for i in 0..60 {
        let (api_version, kind, prefix) = KINDS[i % 5];
        objects.push(json!({"apiVersion": api_version, "kind": kind,
            "metadata": {"name": format!("other-{prefix}-{i}"), "namespace": NAMESPACES[i % 3]}}));
    }
    (objects, wanted)
}

/// Runs against the loopback server (no real API server can run here): reading a project
/// of 200 objects over 5 kinds in 3 namespaces costs one list per (resource, namespace) plus
/// one discovery request per group-version: 15 + 3 = 18 requests.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_objects_cost_one_list_per_resource_and_namespace() {
    let (objects, wanted) = big_project();
    let server = TestServer::start(objects.clone(), Auth::Token(TOKEN.into()))
        .await
        .unwrap();
    let r = reader(&server, "loopback", test_options()).await;
    let out = r.read(&wanted).await.unwrap();
    assert_eq!(out.len(), 200);
    for (o, w) in objects.iter().zip(&wanted) {
        assert_eq!(out[&w.key], LiveOutcome::Found(o.clone()), "{}", w.key);
    }
    let requests = server.requests();
    let discovery: Vec<_> = requests
        .iter()
        .filter(|q| q.path.split('/').filter(|s| !s.is_empty()).count() <= 3)
        .map(|q| q.path.clone())
        .collect();
    let lists: BTreeSet<_> = requests
        .iter()
        .filter(|q| q.path.contains("/namespaces/"))
        .map(|q| q.path.clone())
        .collect();
    let list_requests = requests
        .iter()
        .filter(|q| q.path.contains("/namespaces/"))
        .count();
    eprintln!(
        "200 objects / 5 kinds / 3 namespaces: {} requests ({} discovery, {} lists)",
        requests.len(),
        discovery.len(),
        list_requests
    );
    assert_eq!(
        discovery.iter().collect::<BTreeSet<_>>(),
        BTreeSet::from([
            &"/api/v1".to_owned(),
            &"/apis/apps/v1".to_owned(),
            &"/apis/monitoring.coreos.com/v1".to_owned()
        ])
    );
    assert_eq!(discovery.len(), 3);
    assert_eq!(
        lists.len(),
        15,
        "one list per (resource, namespace), e.g. {:?}",
        lists.iter().take(5).collect::<Vec<_>>()
    );
    assert_eq!(list_requests, 15, "no (resource, namespace) listed twice");
    assert_eq!(requests.len(), 18);
    assert!(requests.len() <= 15 + discovery.len());
    // A second read in the same run reuses discovery.
    server.clear_requests();
    r.read(&wanted[..3]).await.unwrap();
    assert!(
        server
            .requests()
            .iter()
            .all(|q| q.path.contains("/namespaces/"))
    );
}

/// Runs against the loopback server (no real API server can run here): list_owned lists by
/// ownership labels, returns typed objects, and reports unserved and forbidden kinds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_owned_by_labels() {
    let server = TestServer::start(fixture_objects(), Auth::Token(TOKEN.into()))
        .await
        .unwrap();
    server.rule(
        "/apis/apps/v1/namespaces/shop/statefulsets",
        false,
        Action::Forbid,
    );
    let r = reader(&server, "loopback", test_options()).await;
    let labels = Ownership::flux_kustomization("shop", "flux-system").labels;
    let q = |api_version: &str, kind: &str| OwnedQuery {
        api_version: api_version.into(),
        kind: kind.into(),
        namespace: Some("shop".into()),
        labels: labels.clone(),
    };
    let OwnedList::Listed(cms) = r.list_owned(&q("v1", "ConfigMap")).await.unwrap() else {
        panic!("listed")
    };
    let names: BTreeSet<_> = cms
        .iter()
        .map(|o| o["metadata"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, BTreeSet::from(["migration-notes", "web-config"]));
    assert!(
        cms.iter()
            .all(|o| o["apiVersion"] == "v1" && o["kind"] == "ConfigMap")
    );
    assert!(matches!(
        r.list_owned(&q("cert-manager.io/v1", "Certificate"))
            .await
            .unwrap(),
        OwnedList::NotServed { .. }
    ));
    assert!(matches!(
        r.list_owned(&q("apps/v1", "StatefulSet")).await.unwrap(),
        OwnedList::Forbidden { .. }
    ));
}

/// Runs against the loopback server (no real API server can run here): a whole plan's worth
/// of reading (discovery, gets, lists, label lists, deletion candidates, failures and
/// retries) sends nothing but GET requests.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_request_is_a_get() {
    let server = TestServer::start(fixture_objects(), Auth::Token(TOKEN.into()))
        .await
        .unwrap();
    server.rule("/api/v1/namespaces/shop/secrets", false, Action::Forbid);
    server.rule(
        "/apis/apps/v1/namespaces/shop/deployments/web",
        true,
        Action::Fail {
            status: 429,
            times: 1,
        },
    );
    let r = reader(&server, "loopback", test_options()).await;
    let objects = fixture_objects();
    let mut wanted: Vec<_> = objects.iter().map(oref_of).collect();
    wanted.push(oref("cert-manager.io/v1", "Certificate", "shop", "tls"));
    wanted.push(oref("v1", "ConfigMap", "shop", "ghost"));
    r.read(&wanted).await.unwrap();
    let base = vec![oref("v1", "Service", "shop", "legacy-api")];
    let desired: BTreeSet<_> = [key("apps/v1", "Deployment", "shop", "web")].into();
    find_deletion_candidates(
        &r,
        &base,
        &desired,
        &Ownership::flux_kustomization("shop", "flux-system"),
        &[
            ("v1".into(), "ConfigMap".into()),
            ("v1".into(), "Secret".into()),
        ],
        Some("shop"),
    )
    .await
    .unwrap();
    let requests = server.requests();
    assert!(requests.len() > 10, "{requests:?}");
    let methods: BTreeSet<_> = requests.iter().map(|q| q.method.as_str()).collect();
    assert_eq!(methods, BTreeSet::from(["GET"]));
}

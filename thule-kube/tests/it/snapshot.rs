//! The snapshot reader over realistic `kubectl get -o yaml` dumps (List wrappers,
//! `ConfigMapList`, multi-document streams, managedFields, status).

use std::collections::BTreeSet;
use std::path::Path;

use thule_core::cluster::{
    ClusterReader, KindScope, LiveOutcome, OwnedList, OwnedQuery, ReadError,
};
use thule_core::config::ClusterSettings;
use thule_core::object::ObjectKey;
use thule_kube::{Ownership, SnapshotReader, reader_for_cluster};

use crate::{fixture_objects, fixtures, oref, oref_of, plan_view, reader, test_options};
use thule_kube::testing::{Auth, TOKEN, TestServer};

fn key(api_version: &str, kind: &str, ns: &str, name: &str) -> ObjectKey {
    ObjectKey::from_api_version(api_version, kind, ns, name)
}

fn wanted() -> Vec<thule_core::cluster::ObjectRef> {
    let mut w: Vec<_> = fixture_objects().iter().map(oref_of).collect();
    w.push(oref("v1", "ConfigMap", "shop", "ghost"));
    w.push(oref("apps/v1", "Deployment", "shop", "gone"));
    w.push(oref(
        "monitoring.coreos.com/v1",
        "ServiceMonitor",
        "shop",
        "absent-monitor",
    ));
    w.push(oref("cert-manager.io/v1", "Certificate", "shop", "tls"));
    w
}

/// The same objects give the same plan inputs whether live comes from the snapshot or from
/// the kube-rs reader against the loopback API server (no real API server can run here, so
/// the live side is the loopback server loaded with the same dumps): found objects are equal
/// value for value (list items get their apiVersion/kind back), absent and not-served agree.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_and_live_server_give_the_same_read_results() {
    let snapshot = SnapshotReader::load(&fixtures()).unwrap();
    assert_eq!(snapshot.len(), fixture_objects().len());
    let server = TestServer::start(fixture_objects(), Auth::Token(TOKEN.into()))
        .await
        .unwrap();
    let live = reader(&server, "loopback", test_options().with_list_threshold(2)).await;
    let wanted = wanted();
    let from_snapshot = snapshot.read(&wanted).await.unwrap();
    let from_live = live.read(&wanted).await.unwrap();
    assert_eq!(plan_view(&from_snapshot), plan_view(&from_live));
    // And the comparison is not vacuous:
    let view = plan_view(&from_snapshot);
    let found = view.values().filter(|v| v.is_object()).count();
    assert_eq!(found, fixture_objects().len());
    assert_eq!(view[&key("v1", "ConfigMap", "shop", "ghost")], "absent");
    assert_eq!(
        view[&key("cert-manager.io/v1", "Certificate", "shop", "tls")],
        "not served"
    );
    assert_eq!(
        view[&key(
            "monitoring.coreos.com/v1",
            "ServiceMonitor",
            "shop",
            "absent-monitor"
        )],
        "absent"
    );
    let LiveOutcome::Found(dep) = &from_snapshot[&key("apps/v1", "Deployment", "shop", "web")]
    else {
        panic!("deployment")
    };
    assert_eq!(dep["metadata"]["managedFields"][1]["subresource"], "status");
    assert_eq!(dep["spec"]["strategy"]["rollingUpdate"]["maxSurge"], "25%");
    assert_eq!(
        dep["spec"]["template"]["metadata"]["creationTimestamp"],
        serde_json::Value::Null
    );
    assert_eq!(dep["metadata"]["generation"], 3);

    // Deletion candidates agree too.
    let base = vec![
        oref("v1", "Service", "shop", "legacy-api"),
        oref("v1", "ConfigMap", "shop", "web-config"),
        oref("v1", "ConfigMap", "shop", "already-deleted"),
    ];
    let desired: BTreeSet<_> = [
        key("apps/v1", "Deployment", "shop", "web"),
        key("v1", "Service", "shop", "web"),
        key("v1", "Secret", "shop", "db"),
        key("v1", "ServiceAccount", "shop", "web"),
        key("monitoring.coreos.com/v1", "ServiceMonitor", "shop", "web"),
    ]
    .into();
    let ownership = Ownership::flux_kustomization("shop", "flux-system");
    let kinds = [
        ("v1".to_owned(), "ConfigMap".to_owned()),
        ("v1".to_owned(), "Service".to_owned()),
        (
            "monitoring.coreos.com/v1".to_owned(),
            "ServiceMonitor".to_owned(),
        ),
    ];
    let a = thule_kube::find_deletion_candidates(
        &snapshot,
        &base,
        &desired,
        &ownership,
        &kinds,
        Some("shop"),
    )
    .await
    .unwrap();
    let b = thule_kube::find_deletion_candidates(
        &live,
        &base,
        &desired,
        &ownership,
        &kinds,
        Some("shop"),
    )
    .await
    .unwrap();
    assert_eq!(a, b);
    assert_eq!(a.candidates.len(), 4, "{a:?}");

    // Kind scopes agree for built-in, custom (CRD in the snapshot) and unserved kinds.
    let kinds: Vec<(String, String)> = [
        ("v1", "ConfigMap"),
        ("v1", "Namespace"),
        ("monitoring.coreos.com/v1", "ServiceMonitor"),
        ("cert-manager.io/v1", "Certificate"),
    ]
    .iter()
    .map(|(a, k)| ((*a).to_owned(), (*k).to_owned()))
    .collect();
    let variant = |s: &KindScope| match s {
        KindScope::NotServed { .. } => "not served".to_owned(),
        other => format!("{other:?}"),
    };
    let a = snapshot.scopes(&kinds).await.unwrap();
    let b = live.scopes(&kinds).await.unwrap();
    for k in &kinds {
        assert_eq!(variant(&a[k]), variant(&b[k]), "{k:?}");
    }
    assert_eq!(a[&kinds[2]], KindScope::Namespaced);
}

/// One file holding a `ConfigMapList` and further documents is read whole.
#[tokio::test]
async fn single_file_with_typed_list_and_documents() {
    let snapshot = SnapshotReader::load(&fixtures().join("config.yaml")).unwrap();
    assert_eq!(snapshot.len(), 5);
    assert!(
        snapshot.describe().ends_with("config.yaml"),
        "{}",
        snapshot.describe()
    );
    let out = snapshot
        .read(&[
            oref("v1", "ConfigMap", "shop", "web-config"),
            oref("v1", "Secret", "shop", "db"),
            oref("apps/v1", "Deployment", "shop", "web"),
        ])
        .await
        .unwrap();
    let LiveOutcome::Found(cm) = &out[&key("v1", "ConfigMap", "shop", "web-config")] else {
        panic!()
    };
    assert_eq!(
        cm["data"]["feature-flags.yaml"],
        "checkout: true\nrecommendations: false\n"
    );
    assert_eq!(cm["metadata"]["managedFields"][0]["operation"], "Apply");
    assert!(matches!(
        out[&key("v1", "Secret", "shop", "db")],
        LiveOutcome::Found(_)
    ));
    // Not in this file: absent (the snapshot is the whole cluster).
    assert_eq!(
        out[&key("apps/v1", "Deployment", "shop", "web")],
        LiveOutcome::Absent
    );
}

/// A custom kind is "not served" only when the snapshot holds CRDs and none serves it.
#[tokio::test]
async fn not_served_needs_crds_in_the_snapshot() {
    let no_crds = SnapshotReader::load(&fixtures().join("workloads.yaml")).unwrap();
    let cert = [oref("cert-manager.io/v1", "Certificate", "shop", "tls")];
    let k = key("cert-manager.io/v1", "Certificate", "shop", "tls");
    assert_eq!(no_crds.read(&cert).await.unwrap()[&k], LiveOutcome::Absent);
    let with_crds = SnapshotReader::load(&fixtures()).unwrap();
    assert!(matches!(
        with_crds.read(&cert).await.unwrap()[&k],
        LiveOutcome::NotServed { .. }
    ));
    let v1beta1 = [oref(
        "monitoring.coreos.com/v1beta1",
        "ServiceMonitor",
        "shop",
        "other",
    )];
    let k = key(
        "monitoring.coreos.com/v1beta1",
        "ServiceMonitor",
        "shop",
        "other",
    );
    // An object of the kind exists, so the kind is served (the version question is live-only).
    assert_eq!(
        with_crds.read(&v1beta1).await.unwrap()[&k],
        LiveOutcome::Absent
    );
    let crd_only = SnapshotReader::from_yaml(
        "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {name: certificates.cert-manager.io}\nspec:\n  group: cert-manager.io\n  names: {kind: Certificate, plural: certificates}\n  scope: Namespaced\n  versions:\n  - {name: v1, served: true, storage: true}\n  - {name: v1alpha2, served: false, storage: false}\n",
        "crd.yaml",
    )
    .unwrap();
    let k = key("cert-manager.io/v1", "Certificate", "shop", "tls");
    assert_eq!(crd_only.read(&cert).await.unwrap()[&k], LiveOutcome::Absent);
    let alpha = [oref(
        "cert-manager.io/v1alpha2",
        "Certificate",
        "shop",
        "tls",
    )];
    match &crd_only.read(&alpha).await.unwrap()[&k] {
        LiveOutcome::NotServed { message } => {
            assert!(message.contains("serves cert-manager.io/v1"), "{message}");
        }
        other => panic!("{other:?}"),
    }
}

/// Scopes from a snapshot: a cluster-scoped custom kind from its CRD, one without a CRD from
/// its objects, and unknown when nothing tells.
#[tokio::test]
async fn scopes_from_crds_and_objects() {
    let snapshot = SnapshotReader::from_yaml(
        "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {name: clusterissuers.cert-manager.io}\nspec:\n  group: cert-manager.io\n  names: {kind: ClusterIssuer, plural: clusterissuers}\n  scope: Cluster\n  versions: [{name: v1, served: true, storage: true}]\n---\napiVersion: example.io/v1\nkind: Widget\nmetadata: {name: w, namespace: shop}\n",
        "dump.yaml",
    )
    .unwrap();
    let kinds: Vec<(String, String)> = [
        ("cert-manager.io/v1", "ClusterIssuer"),
        ("example.io/v1", "Widget"),
        ("v1", "PersistentVolume"),
        ("other.io/v1", "Gadget"),
    ]
    .iter()
    .map(|(a, k)| ((*a).to_owned(), (*k).to_owned()))
    .collect();
    let s = snapshot.scopes(&kinds).await.unwrap();
    assert_eq!(s[&kinds[0]], KindScope::Cluster);
    assert_eq!(s[&kinds[1]], KindScope::Namespaced);
    assert_eq!(s[&kinds[2]], KindScope::Cluster);
    // The snapshot has CRDs and none serves other.io: not served.
    assert!(matches!(s[&kinds[3]], KindScope::NotServed { .. }));
    let no_crds =
        SnapshotReader::from_yaml("apiVersion: v1\nkind: List\nitems: []\n", "empty.yaml").unwrap();
    assert!(no_crds.is_empty());
    assert_eq!(
        no_crds.scopes(&kinds[3..]).await.unwrap()[&kinds[3]],
        KindScope::Unknown
    );
}

/// list_owned filters by kind, namespace and every label.
#[tokio::test]
async fn list_owned_filters_kind_namespace_and_labels() {
    let snapshot = SnapshotReader::load(&fixtures()).unwrap();
    let q = OwnedQuery {
        api_version: "v1".into(),
        kind: "ConfigMap".into(),
        namespace: Some("shop".into()),
        labels: Ownership::flux_kustomization("shop", "flux-system").labels,
    };
    let OwnedList::Listed(items) = snapshot.list_owned(&q).await.unwrap() else {
        panic!()
    };
    let names: BTreeSet<_> = items
        .iter()
        .map(|o| o["metadata"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, BTreeSet::from(["migration-notes", "web-config"]));
    let other_ns = OwnedQuery {
        namespace: Some("elsewhere".into()),
        ..q.clone()
    };
    assert_eq!(
        snapshot.list_owned(&other_ns).await.unwrap(),
        OwnedList::Listed(vec![])
    );
    let argo = OwnedQuery {
        labels: Ownership::argo_instance("shop").labels,
        ..q
    };
    assert_eq!(
        snapshot.list_owned(&argo).await.unwrap(),
        OwnedList::Listed(vec![])
    );
}

/// `reader_for_cluster` picks the snapshot when the clusterRef configures one (relative to
/// the repo root), and reports a broken snapshot with file, line and column.
#[tokio::test]
async fn reader_for_cluster_uses_the_configured_snapshot() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let settings = ClusterSettings {
        snapshot: Some("tests/fixtures/snapshot".into()),
        ..ClusterSettings::default()
    };
    let r = reader_for_cluster("example", &settings, root, test_options())
        .await
        .unwrap();
    assert!(r.describe().starts_with("snapshot "), "{}", r.describe());
    let out = r
        .read(&[oref("v1", "ServiceAccount", "shop", "web")])
        .await
        .unwrap();
    assert!(matches!(out.values().next(), Some(LiveOutcome::Found(_))));

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("broken.yaml"),
        "apiVersion: v1\nkind: List\nitems:\n- {a: [}\n",
    )
    .unwrap();
    let settings = ClusterSettings {
        snapshot: Some(".".into()),
        ..ClusterSettings::default()
    };
    let Err(e) = reader_for_cluster("example", &settings, dir.path(), test_options()).await else {
        panic!("a broken snapshot must not load")
    };
    let s = e.to_string();
    assert!(
        s.contains("cluster `example`") && s.contains("broken.yaml:4:"),
        "{s}"
    );
    let e = SnapshotReader::load(&dir.path().join("missing")).unwrap_err();
    assert!(matches!(e, ReadError::Snapshot { .. }), "{e:?}");
}

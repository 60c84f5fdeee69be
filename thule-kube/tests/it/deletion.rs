//! Deletion candidates from both sources (base render, ownership labels), confirmed by a
//! read, with prune protections reported as orphans.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};
use thule_core::cluster::{
    ClusterReader, LiveOutcome, ObjectRef, OwnedList, OwnedQuery, ReadError,
};
use thule_core::object::ObjectKey;
use thule_kube::deletion::{FLUX_PRUNE, FLUX_RECONCILE, protection};
use thule_kube::{
    CandidateSources, Ownership, SnapshotReader, Verdict, candidate_refs, deletion_candidates,
    find_deletion_candidates,
};

use crate::{fixtures, oref, reader, test_options};
use thule_kube::testing::{Action, Auth, TOKEN, TestServer};

fn key(api_version: &str, kind: &str, ns: &str, name: &str) -> ObjectKey {
    ObjectKey::from_api_version(api_version, kind, ns, name)
}

fn cm(name: &str, labels: Value, annotations: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": "shop", "labels": labels, "annotations": annotations}})
}

fn flux_labels() -> Value {
    json!({"kustomize.toolkit.fluxcd.io/name": "shop", "kustomize.toolkit.fluxcd.io/namespace": "flux-system"})
}

fn verdicts(cands: &[thule_kube::Candidate]) -> BTreeMap<String, (Verdict, CandidateSources)> {
    cands
        .iter()
        .map(|c| (c.key.name.clone(), (c.verdict.clone(), c.sources)))
        .collect()
}

const BASE: CandidateSources = CandidateSources {
    base_render: true,
    ownership_labels: false,
};
const LABELS: CandidateSources = CandidateSources {
    base_render: false,
    ownership_labels: true,
};
const BOTH: CandidateSources = CandidateSources {
    base_render: true,
    ownership_labels: true,
};

/// Pure: base-render candidates are `D0 − D1`; label candidates are owned objects not in
/// `D1`; a prune-disabled object is an orphan, a missing one already absent, one without the
/// project's labels not owned, and the rest deletes.
#[test]
fn both_sources_and_all_verdicts() {
    let ownership = Ownership::flux_kustomization("shop", "flux-system");
    let base = vec![
        oref("v1", "ConfigMap", "shop", "kept"),
        oref("v1", "ConfigMap", "shop", "removed"),
        oref("v1", "ConfigMap", "shop", "removed-and-gone"),
        oref("v1", "ConfigMap", "shop", "adopted-elsewhere"),
    ];
    let desired: BTreeSet<_> = [key("v1", "ConfigMap", "shop", "kept")].into();
    let listed = vec![
        cm("kept", flux_labels(), json!({})),
        cm("removed", flux_labels(), json!({})),
        cm("drifted", flux_labels(), json!({})),
        cm(
            "protected",
            flux_labels(),
            json!({"kustomize.toolkit.fluxcd.io/prune": "disabled"}),
        ),
        // Not ours: the listing was loose, the labels differ.
        cm(
            "other",
            json!({"kustomize.toolkit.fluxcd.io/name": "billing",
                            "kustomize.toolkit.fluxcd.io/namespace": "flux-system"}),
            json!({}),
        ),
    ];
    let refs = candidate_refs(&base, &desired, &listed, &ownership);
    let names: Vec<_> = refs.iter().map(|(r, _)| r.key.name.as_str()).collect();
    assert_eq!(
        names,
        vec![
            "adopted-elsewhere",
            "drifted",
            "protected",
            "removed",
            "removed-and-gone"
        ]
    );
    let mut confirmed: BTreeMap<ObjectKey, LiveOutcome> = BTreeMap::new();
    for o in &listed {
        let k = key(
            "v1",
            "ConfigMap",
            "shop",
            o["metadata"]["name"].as_str().unwrap(),
        );
        confirmed.insert(k, LiveOutcome::Found(o.clone()));
    }
    confirmed.insert(
        key("v1", "ConfigMap", "shop", "removed-and-gone"),
        LiveOutcome::Absent,
    );
    confirmed.insert(
        key("v1", "ConfigMap", "shop", "adopted-elsewhere"),
        LiveOutcome::Found(cm("adopted-elsewhere", json!({"app": "x"}), json!({}))),
    );
    let got = verdicts(&deletion_candidates(&refs, &confirmed, &ownership));
    assert_eq!(got["removed"], (Verdict::Delete, BOTH));
    assert_eq!(got["drifted"], (Verdict::Delete, LABELS));
    assert_eq!(
        got["protected"],
        (
            Verdict::Orphan {
                reason: "kustomize.toolkit.fluxcd.io/prune: disabled".into()
            },
            LABELS
        )
    );
    assert_eq!(got["removed-and-gone"], (Verdict::AlreadyAbsent, BASE));
    assert!(matches!(
        got["adopted-elsewhere"],
        (Verdict::NotOwned { .. }, BASE)
    ));
    assert_eq!(got.len(), 5);
}

/// Pure: controller-owned objects (which inherit labels from a template) are not candidates;
/// reads that cannot confirm give "unknown"; a terminating object is marked.
#[test]
fn controller_owned_unknown_and_terminating() {
    let ownership = Ownership::argo_instance("shop");
    let labels = json!({"app.kubernetes.io/instance": "shop"});
    let rs = json!({"apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": {"name": "web-7d9c", "namespace": "shop", "labels": labels,
                     "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "controller": true, "uid": "1"}]}});
    let job = json!({"apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": "migrate", "namespace": "shop", "labels": labels,
                     "deletionTimestamp": "2026-11-22T09:00:00Z"}});
    let secret = json!({"apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "db", "namespace": "shop", "labels": labels}});
    let refs = candidate_refs(
        &[],
        &BTreeSet::new(),
        &[rs, job.clone(), secret],
        &ownership,
    );
    assert_eq!(refs.len(), 2);
    let confirmed = BTreeMap::from([
        (
            key("batch/v1", "Job", "shop", "migrate"),
            LiveOutcome::Found(job),
        ),
        (
            key("v1", "Secret", "shop", "db"),
            LiveOutcome::Forbidden {
                message: "secrets \"db\" is forbidden".into(),
            },
        ),
    ]);
    let cands = deletion_candidates(&refs, &confirmed, &ownership);
    let job = cands.iter().find(|c| c.key.kind == "Job").unwrap();
    assert_eq!(job.verdict, Verdict::Delete);
    assert!(job.terminating);
    let secret = cands.iter().find(|c| c.key.kind == "Secret").unwrap();
    assert!(matches!(&secret.verdict, Verdict::Unknown { reason } if reason.contains("forbidden")));
    assert!(!secret.terminating);
}

/// Pure: the protections of §7.3 as the tools read them. Flux's switches protect as a label
/// or an annotation, in any case; Helm's `resource-policy: keep` and Argo CD's
/// `sync-options` protect only as annotations (a label of that name is ignored by Helm and
/// Argo CD, so the object is deleted). The orphan reason is the protection's display.
#[test]
fn protections() {
    let ownership = Ownership::flux_kustomization("shop", "flux-system");
    let with = |name: &str, place: &str, key: &str, value: &str| {
        let mut labels = flux_labels();
        let mut annotations = json!({});
        let target = if place == "labels" {
            &mut labels
        } else {
            &mut annotations
        };
        target[key] = Value::String(value.to_owned());
        cm(name, labels, annotations)
    };
    let cases = [
        (
            with("flux-label", "labels", FLUX_PRUNE, "disabled"),
            Some("kustomize.toolkit.fluxcd.io/prune: disabled"),
        ),
        (
            with(
                "flux-annotation-any-case",
                "annotations",
                FLUX_RECONCILE,
                "Disabled",
            ),
            Some("kustomize.toolkit.fluxcd.io/reconcile: disabled"),
        ),
        (
            with("flux-enabled", "annotations", FLUX_PRUNE, "enabled"),
            None,
        ),
        (
            with(
                "helm-annotation",
                "annotations",
                "helm.sh/resource-policy",
                "keep",
            ),
            Some("helm.sh/resource-policy: keep"),
        ),
        (
            with("helm-label", "labels", "helm.sh/resource-policy", "keep"),
            None,
        ),
        (
            with(
                "argo-annotation",
                "annotations",
                "argocd.argoproj.io/sync-options",
                "ServerSideApply=true, Prune=false",
            ),
            Some("argocd.argoproj.io/sync-options: Prune=false"),
        ),
        (
            with(
                "argo-delete-annotation",
                "annotations",
                "argocd.argoproj.io/sync-options",
                "Delete=false",
            ),
            Some("argocd.argoproj.io/sync-options: Delete=false"),
        ),
        (
            with(
                "argo-label",
                "labels",
                "argocd.argoproj.io/sync-options",
                "Prune=false",
            ),
            None,
        ),
    ];
    let listed: Vec<Value> = cases.iter().map(|(o, _)| o.clone()).collect();
    let refs = candidate_refs(&[], &BTreeSet::new(), &listed, &ownership);
    let confirmed: BTreeMap<ObjectKey, LiveOutcome> = listed
        .iter()
        .map(|o| {
            let name = o["metadata"]["name"].as_str().unwrap();
            (
                key("v1", "ConfigMap", "shop", name),
                LiveOutcome::Found(o.clone()),
            )
        })
        .collect();
    let got = verdicts(&deletion_candidates(&refs, &confirmed, &ownership));
    for (object, want) in &cases {
        let name = object["metadata"]["name"].as_str().unwrap();
        let want = match want {
            Some(reason) => Verdict::Orphan {
                reason: (*reason).to_owned(),
            },
            None => Verdict::Delete,
        };
        assert_eq!(got[name].0, want, "{name}");
        // The verdict and the shared vocabulary agree.
        assert_eq!(
            protection(object).map(|p| p.to_string()),
            match &got[name].0 {
                Verdict::Orphan { reason } => Some(reason.clone()),
                _ => None,
            },
            "{name}"
        );
    }
    assert_eq!(got.len(), cases.len());
}

/// Through the snapshot reader: the base render's removed Service and ConfigMap are deletes,
/// the prune-disabled ConfigMap found by the Flux labels is an orphan, not a delete, and the
/// unlabelled ConfigMap is never a candidate.
#[tokio::test]
async fn from_a_snapshot_with_prune_disabled_orphan() {
    let snapshot = SnapshotReader::load(&fixtures()).unwrap();
    let base = vec![
        oref("v1", "Service", "shop", "legacy-api"),
        oref("v1", "ConfigMap", "shop", "web-config"),
    ];
    let desired: BTreeSet<_> = [key("v1", "Service", "shop", "web")].into();
    let report = find_deletion_candidates(
        &snapshot,
        &base,
        &desired,
        &Ownership::flux_kustomization("shop", "flux-system"),
        &[
            ("v1".into(), "ConfigMap".into()),
            ("v1".into(), "Service".into()),
        ],
        Some("shop"),
    )
    .await
    .unwrap();
    let got = verdicts(&report.candidates);
    assert_eq!(got["legacy-api"], (Verdict::Delete, BOTH));
    assert_eq!(got["web-config"], (Verdict::Delete, BOTH));
    assert_eq!(
        got["migration-notes"].0,
        Verdict::Orphan {
            reason: "kustomize.toolkit.fluxcd.io/prune: disabled".into()
        }
    );
    assert!(!got.contains_key("unrelated"));
    assert!(!got.contains_key("web"));
    assert!(report.unchecked.is_empty());
}

/// Against the loopback server (no real API server can run here): candidates from the label
/// list are confirmed with a read before they are reported, and a kind whose list RBAC
/// forbids is reported as unchecked rather than silently clean.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_candidates_are_confirmed_and_forbidden_kinds_unchecked() {
    let server = TestServer::start(crate::fixture_objects(), Auth::Token(TOKEN.into()))
        .await
        .unwrap();
    server.rule(
        "/apis/apps/v1/namespaces/shop/statefulsets",
        false,
        Action::Forbid,
    );
    let r = reader(&server, "loopback", test_options()).await;
    let report = find_deletion_candidates(
        &r,
        &[],
        &BTreeSet::new(),
        &Ownership::flux_kustomization("shop", "flux-system"),
        &[
            ("v1".into(), "ConfigMap".into()),
            ("apps/v1".into(), "StatefulSet".into()),
        ],
        Some("shop"),
    )
    .await
    .unwrap();
    let got = verdicts(&report.candidates);
    assert_eq!(got["web-config"], (Verdict::Delete, LABELS));
    assert!(matches!(got["migration-notes"].0, Verdict::Orphan { .. }));
    assert_eq!(report.unchecked.len(), 1);
    assert_eq!(report.unchecked[0].0.kind, "StatefulSet");
    // The label list, then a confirming read of the two candidates (single GETs: below the
    // list threshold).
    let cm: Vec<_> = server
        .requests()
        .into_iter()
        .filter(|q| q.path.contains("/configmaps"))
        .map(|q| q.path)
        .collect();
    assert_eq!(cm.len(), 3, "{cm:?}");
    assert!(
        cm[1..]
            .iter()
            .all(|p| p.starts_with("/api/v1/namespaces/shop/configmaps/"))
    );
}

/// A reader that lists an object which is gone by the time it is confirmed.
struct Racy;

#[async_trait::async_trait]
impl ClusterReader for Racy {
    fn describe(&self) -> String {
        "racy".into()
    }
    async fn read(
        &self,
        objects: &[ObjectRef],
    ) -> Result<BTreeMap<ObjectKey, LiveOutcome>, ReadError> {
        Ok(objects
            .iter()
            .map(|o| (o.key.clone(), LiveOutcome::Absent))
            .collect())
    }
    async fn list_owned(&self, _query: &OwnedQuery) -> Result<OwnedList, ReadError> {
        Ok(OwnedList::Listed(vec![cm(
            "fleeting",
            flux_labels(),
            json!({}),
        )]))
    }
}

/// The confirming read wins over the list: an object deleted in between is already absent.
#[tokio::test]
async fn confirmation_overrides_the_listing() {
    let report = find_deletion_candidates(
        &Racy,
        &[],
        &BTreeSet::new(),
        &Ownership::flux_kustomization("shop", "flux-system"),
        &[("v1".into(), "ConfigMap".into())],
        None,
    )
    .await
    .unwrap();
    assert_eq!(report.candidates.len(), 1);
    assert_eq!(report.candidates[0].verdict, Verdict::AlreadyAbsent);
}

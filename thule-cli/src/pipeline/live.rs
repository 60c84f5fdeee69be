//! Live reads for a plan: each project's objects, the objects it owns by label that no render
//! has (deletion candidates beyond the base render), and the read-only facts the risk pass
//! uses. Everything here is get and list only.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;
use thule_core::cluster::{ClusterReader, LiveOutcome, ObjectRef, OwnedList, OwnedQuery};
use thule_core::config::ConfigLayers;
use thule_core::object::ObjectKey;
use thule_diff::LiveFacts;
use thule_kube::Ownership;

use super::{LiveState, Progress, ProjectInputs, ReaderFactory, Stage, rendered};

/// Read every project's live objects, one reader per clusterRef, opened on first use. A
/// cluster that cannot be opened fails its projects, with the factory's message.
pub(crate) async fn read_live(
    factory: &dyn ReaderFactory,
    progress: &dyn Progress,
    layers: &ConfigLayers,
    projects: &mut [ProjectInputs],
) {
    let clusters = layers.clusters();
    let mut readers: BTreeMap<String, Result<Box<dyn ClusterReader>, String>> = BTreeMap::new();
    let mut lists: BTreeMap<String, Lists> = BTreeMap::new();
    for p in projects.iter_mut() {
        let Some(cluster) = p.config.cluster_ref.clone() else {
            continue;
        };
        if !readers.contains_key(&cluster) {
            progress.stage(Stage::ReadingCluster { cluster: &cluster });
            let reader = factory.open(&cluster, clusters.get(&cluster)).await;
            readers.insert(cluster.clone(), reader);
        }
        let reader = match &readers[&cluster] {
            Ok(r) => r,
            Err(e) => {
                p.live = LiveState::Failed(e.clone());
                continue;
            }
        };
        let lists = lists.entry(cluster).or_default();
        p.live = read_project(reader.as_ref(), p, lists).await;
    }
}

async fn read_project(
    reader: &dyn ClusterReader,
    p: &ProjectInputs,
    lists: &mut Lists,
) -> LiveState {
    let mut refs: BTreeMap<ObjectKey, ObjectRef> = BTreeMap::new();
    for m in rendered(&p.base).iter().chain(rendered(&p.head)) {
        refs.insert(
            m.key.clone(),
            ObjectRef {
                api_version: m.api_version.clone(),
                key: m.key.clone(),
            },
        );
    }
    let refs: Vec<ObjectRef> = refs.into_values().collect();
    let mut outcomes = match reader.read(&refs).await {
        Ok(o) => o,
        Err(e) => return LiveState::Failed(e.to_string()),
    };
    // Objects the project owns by label that neither render has (§7.2: the applier's
    // record of what it applied, beyond the base render).
    let mut owned_extra = Vec::new();
    if p.config.diff.prune && !p.config.diff.owner_labels.is_empty() {
        let ownership = Ownership {
            labels: p.config.diff.owner_labels.clone(),
        };
        let kinds: BTreeSet<(String, String)> = rendered(&p.base)
            .iter()
            .chain(rendered(&p.head))
            .map(|m| (m.api_version.clone(), m.key.kind.clone()))
            .collect();
        let kinds: Vec<(String, String)> = kinds.into_iter().collect();
        let desired: BTreeSet<ObjectKey> =
            rendered(&p.head).iter().map(|m| m.key.clone()).collect();
        let base: Vec<ObjectRef> = rendered(&p.base)
            .iter()
            .map(|m| ObjectRef {
                api_version: m.api_version.clone(),
                key: m.key.clone(),
            })
            .collect();
        match thule_kube::find_deletion_candidates(
            reader, &base, &desired, &ownership, &kinds, None,
        )
        .await
        {
            Ok(report) => {
                owned_extra = report
                    .candidates
                    .into_iter()
                    .filter(|c| c.sources.ownership_labels && !c.sources.base_render)
                    .map(|c| ObjectRef {
                        api_version: c.api_version,
                        key: c.key,
                    })
                    .collect();
            }
            Err(e) => return LiveState::Failed(e.to_string()),
        }
        if !owned_extra.is_empty() {
            match reader.read(&owned_extra).await {
                Ok(extra) => outcomes.extend(extra),
                Err(e) => return LiveState::Failed(e.to_string()),
            }
        }
    }
    let facts = Box::new(live_facts(reader, p, &outcomes, &owned_extra, lists).await);
    LiveState::Read {
        source: reader.describe(),
        outcomes,
        owned_extra,
        facts,
    }
}

/// The lists already made on one cluster during this plan: projects that share a namespace
/// list its kinds once.
#[derive(Default)]
struct Lists(BTreeMap<OwnedQuery, Vec<Value>>);

impl Lists {
    /// All objects of a kind (in a namespace, or cluster-wide); empty when forbidden, not
    /// served or failing: facts are best-effort, and a missing fact only weakens a risk
    /// message.
    async fn all(
        &mut self,
        reader: &dyn ClusterReader,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
    ) -> &[Value] {
        let query = OwnedQuery {
            api_version: api_version.to_owned(),
            kind: kind.to_owned(),
            namespace: namespace.map(str::to_owned),
            labels: BTreeMap::new(),
        };
        if !self.0.contains_key(&query) {
            let objects = match reader.list_owned(&query).await {
                Ok(OwnedList::Listed(objects)) => objects,
                _ => Vec::new(),
            };
            self.0.insert(query.clone(), objects);
        }
        &self.0[&query]
    }
}

/// Kinds counted inside a Namespace that a plan deletes (Secrets are never listed).
const NAMESPACE_KINDS: &[(&str, &str)] = &[
    ("v1", "ConfigMap"),
    ("v1", "PersistentVolumeClaim"),
    ("v1", "Pod"),
    ("v1", "Service"),
    ("v1", "ServiceAccount"),
    ("apps/v1", "DaemonSet"),
    ("apps/v1", "Deployment"),
    ("apps/v1", "StatefulSet"),
    ("batch/v1", "CronJob"),
    ("batch/v1", "Job"),
];

/// Workload kinds other objects may refer to (consumers, selectors, autoscaler targets).
const RELATED_KINDS: &[(&str, &str)] = &[
    ("apps/v1", "Deployment"),
    ("apps/v1", "StatefulSet"),
    ("apps/v1", "DaemonSet"),
    ("autoscaling/v2", "HorizontalPodAutoscaler"),
];

/// Read-only facts the risk pass uses (spec §5.3): how many custom resources a deleted CRD
/// takes with it, what a deleted Namespace holds, the reclaim policy behind a claim, and the
/// live workloads of the affected namespaces that the renders do not contain.
async fn live_facts(
    reader: &dyn ClusterReader,
    p: &ProjectInputs,
    outcomes: &BTreeMap<ObjectKey, LiveOutcome>,
    owned_extra: &[ObjectRef],
    lists: &mut Lists,
) -> LiveFacts {
    let mut facts = LiveFacts::default();
    let head: BTreeSet<&ObjectKey> = rendered(&p.head).iter().map(|m| &m.key).collect();
    let base_keys: BTreeSet<&ObjectKey> = rendered(&p.base).iter().map(|m| &m.key).collect();
    let removed = base_keys
        .iter()
        .copied()
        .chain(owned_extra.iter().map(|r| &r.key))
        .filter(|k| !head.contains(k));
    for key in removed {
        let Some(LiveOutcome::Found(live)) = outcomes.get(key) else {
            continue;
        };
        if key.kind == "CustomResourceDefinition" {
            let group = live.pointer("/spec/group").and_then(Value::as_str);
            let kind = live.pointer("/spec/names/kind").and_then(Value::as_str);
            let version = live
                .pointer("/spec/versions")
                .and_then(Value::as_array)
                .and_then(|vs| {
                    vs.iter()
                        .find(|v| v["storage"] == true)
                        .and_then(|v| v["name"].as_str())
                });
            if let (Some(g), Some(k), Some(v)) = (group, kind, version) {
                let n = lists.all(reader, &format!("{g}/{v}"), k, None).await.len();
                facts.crd_instances.insert(key.clone(), n as u64);
            }
        } else if key.kind == "Namespace" && key.group.is_empty() {
            let mut counts = BTreeMap::new();
            for (api_version, kind) in NAMESPACE_KINDS {
                let n = lists
                    .all(reader, api_version, kind, Some(&key.name))
                    .await
                    .len();
                if n > 0 {
                    counts.insert((*kind).to_owned(), n as u64);
                }
            }
            facts.namespace_contents.insert(key.clone(), counts);
        }
    }
    // The volume behind every claim the plan touches, read in one request.
    let claims: Vec<(&ObjectKey, ObjectRef)> = outcomes
        .iter()
        .filter(|(key, _)| key.kind == "PersistentVolumeClaim" && key.group.is_empty())
        .filter_map(|(key, outcome)| match outcome {
            LiveOutcome::Found(claim) => claim
                .pointer("/spec/volumeName")
                .and_then(Value::as_str)
                .map(|volume| (key, volume)),
            _ => None,
        })
        .map(|(key, volume)| {
            let pv = ObjectRef {
                api_version: "v1".to_owned(),
                key: ObjectKey::from_api_version("v1", "PersistentVolume", "", volume),
            };
            (key, pv)
        })
        .collect();
    if !claims.is_empty() {
        let pvs: Vec<ObjectRef> = claims.iter().map(|(_, pv)| pv.clone()).collect();
        if let Ok(read) = reader.read(&pvs).await {
            for (key, pv) in &claims {
                if let Some(LiveOutcome::Found(v)) = read.get(&pv.key)
                    && let Some(policy) = v
                        .pointer("/spec/persistentVolumeReclaimPolicy")
                        .and_then(Value::as_str)
                {
                    facts
                        .pv_reclaim_policy
                        .insert((*key).clone(), policy.to_owned());
                }
            }
        }
    }
    // Live workloads of the affected namespaces that neither render has.
    let namespaces: BTreeSet<&str> = head
        .iter()
        .chain(base_keys.iter())
        .map(|k| k.namespace.as_str())
        .filter(|n| !n.is_empty())
        .collect();
    for ns in namespaces {
        for (api_version, kind) in RELATED_KINDS {
            for obj in lists.all(reader, api_version, kind, Some(ns)).await {
                let Some(name) = obj.pointer("/metadata/name").and_then(Value::as_str) else {
                    continue;
                };
                let key = ObjectKey::from_api_version(api_version, kind, ns, name);
                if !head.contains(&key) && !base_keys.contains(&key) {
                    facts.related.push(obj.clone());
                }
            }
        }
    }
    facts
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use thule_core::cluster::ReadError;

    use super::*;

    /// The example's snapshot reader, counting the lists it is asked for.
    struct Counting {
        inner: thule_kube::SnapshotReader,
        lists: AtomicUsize,
    }

    #[async_trait::async_trait]
    impl ClusterReader for Counting {
        fn describe(&self) -> String {
            self.inner.describe()
        }

        async fn read(
            &self,
            objects: &[ObjectRef],
        ) -> Result<BTreeMap<ObjectKey, LiveOutcome>, ReadError> {
            self.inner.read(objects).await
        }

        async fn list_owned(&self, query: &OwnedQuery) -> Result<OwnedList, ReadError> {
            self.lists.fetch_add(1, Ordering::SeqCst);
            self.inner.list_owned(query).await
        }
    }

    /// Projects of one cluster that share a namespace list its kinds once.
    #[test]
    fn a_namespace_kind_is_listed_once_per_cluster() {
        let snapshot = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../examples/snapshots/prod/shop.yaml");
        let reader = Counting {
            inner: thule_kube::SnapshotReader::load(&snapshot).expect("example snapshot"),
            lists: AtomicUsize::new(0),
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        runtime.block_on(async {
            let mut lists = Lists::default();
            let first = lists
                .all(&reader, "apps/v1", "Deployment", Some("shop"))
                .await
                .to_vec();
            assert!(!first.is_empty(), "the snapshot holds Deployments in shop");
            let again = lists
                .all(&reader, "apps/v1", "Deployment", Some("shop"))
                .await
                .to_vec();
            assert_eq!(first, again);
            assert_eq!(reader.lists.load(Ordering::SeqCst), 1);
            lists
                .all(&reader, "apps/v1", "Deployment", Some("other"))
                .await;
            assert_eq!(reader.lists.load(Ordering::SeqCst), 2);
        });
    }
}

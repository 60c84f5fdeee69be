//! Object keys: scope resolution (cluster-scoped or which namespace), grouping each render's
//! manifests by resolved key, and the canonical order of the keys (spec §8.1).

use std::collections::{BTreeSet, HashMap};

use thule_core::object::builtin_cluster_scoped;
use thule_core::{Manifest, ObjectKey};

use super::options::{DiffInput, DiffOptions};
use crate::path::Path;

/// A diff's inputs, indexed by resolved key.
pub(super) struct Indexed<'a> {
    pub(super) input: &'a DiffInput<'a>,
    pub(super) scopes: Scopes,
    /// `D0` by key.
    pub(super) base: Entries<'a>,
    /// `D1` by key.
    pub(super) desired: Entries<'a>,
    /// [`DiffOptions::ignore_paths`], parsed.
    pub(super) ignore_paths: Vec<Path>,
}

impl<'a> Indexed<'a> {
    /// Resolve and group both renders' keys.
    pub(super) fn new(input: &'a DiffInput<'a>, ignore_paths: Vec<Path>) -> Self {
        let opts = input.options;
        let base = input.base.unwrap_or(&[]);
        let scopes = Scopes::new(&[base, input.desired], opts);
        Self {
            base: scopes.group(base, opts),
            desired: scopes.group(input.desired, opts),
            input,
            scopes,
            ignore_paths,
        }
    }

    /// Every key of both renders and the inventory, once each, in canonical order (§8.1).
    pub(super) fn canonical_keys(&self) -> Vec<ObjectKey> {
        let mut keys: Vec<ObjectKey> = self
            .base
            .keys()
            .chain(self.desired.keys())
            .cloned()
            .collect();
        if let Some(inv) = self.input.inventory {
            keys.extend(inv.iter().cloned());
        }
        // The rank is computed once per key, not per comparison.
        keys.sort_by_cached_key(|k| {
            (
                k.kind_rank(),
                k.group.clone(),
                k.kind.clone(),
                k.namespace.clone(),
                k.name.clone(),
            )
        });
        keys.dedup();
        keys
    }
}

/// The manifests one render holds for one resolved key (more than one is a render error).
pub(super) struct Entry<'a> {
    pub(super) manifests: Vec<&'a Manifest>,
    pub(super) cluster_scoped: bool,
}

/// One render's manifests by resolved key.
type Entries<'a> = HashMap<ObjectKey, Entry<'a>>;

/// Resolve keys: scope from the built-in table, CRDs in the inputs and the options.
pub(super) struct Scopes {
    crd_cluster: BTreeSet<(String, String)>,
    crd_namespaced: BTreeSet<(String, String)>,
    extra: BTreeSet<(String, String)>,
}

impl Scopes {
    pub(super) fn new(inputs: &[&[Manifest]], opts: &DiffOptions) -> Self {
        let mut s = Scopes {
            crd_cluster: BTreeSet::new(),
            crd_namespaced: BTreeSet::new(),
            extra: opts.cluster_scoped.iter().cloned().collect(),
        };
        for ms in inputs {
            for m in *ms {
                if m.key.kind == "CustomResourceDefinition" && m.key.group == "apiextensions.k8s.io"
                {
                    let spec = &m.object["spec"];
                    if let (Some(g), Some(k)) =
                        (spec["group"].as_str(), spec["names"]["kind"].as_str())
                    {
                        let gk = (g.to_owned(), k.to_owned());
                        if spec["scope"].as_str() == Some("Cluster") {
                            s.crd_cluster.insert(gk);
                        } else {
                            s.crd_namespaced.insert(gk);
                        }
                    }
                }
            }
        }
        s
    }

    pub(super) fn cluster_scoped(&self, group: &str, kind: &str) -> bool {
        if let Some(b) = builtin_cluster_scoped(group, kind) {
            return b;
        }
        let gk = (group.to_owned(), kind.to_owned());
        if self.crd_cluster.contains(&gk) || self.extra.contains(&gk) {
            return true;
        }
        if self.crd_namespaced.contains(&gk) {
            return false;
        }
        // Unknown custom kinds: the `Cluster*` naming convention (ClusterIssuer, …).
        kind.starts_with("Cluster")
    }

    /// Whether the inputs hold a CustomResourceDefinition for the key's kind.
    pub(super) fn defined_by_inputs(&self, key: &ObjectKey) -> bool {
        let gk = (key.group.clone(), key.kind.clone());
        self.crd_cluster.contains(&gk) || self.crd_namespaced.contains(&gk)
    }

    fn resolve(&self, key: &ObjectKey, opts: &DiffOptions) -> (ObjectKey, bool) {
        let cluster = self.cluster_scoped(&key.group, &key.kind);
        let namespace = if cluster {
            String::new()
        } else if key.namespace.is_empty() {
            opts.default_namespace.clone().unwrap_or_default()
        } else {
            key.namespace.clone()
        };
        (
            ObjectKey {
                namespace,
                ..key.clone()
            },
            cluster,
        )
    }

    /// A render's manifests by resolved key.
    fn group<'a>(&self, manifests: &'a [Manifest], opts: &DiffOptions) -> Entries<'a> {
        let mut map: Entries<'a> = HashMap::new();
        for m in manifests {
            let (key, cluster_scoped) = self.resolve(&m.key, opts);
            map.entry(key)
                .or_insert_with(|| Entry {
                    manifests: Vec::new(),
                    cluster_scoped,
                })
                .manifests
                .push(m);
        }
        map
    }
}

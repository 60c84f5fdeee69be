//! Object keys: scope resolution (cluster-scoped or which namespace), grouping each render's
//! manifests by resolved key, and the canonical order of the keys (spec §8.1).

use std::collections::{BTreeSet, HashMap};

use thule_core::object::builtin_cluster_scoped;
use thule_core::{Manifest, ObjectKey};

use super::options::{DiffInput, DiffOptions};
use crate::input::Unchanged;
use crate::path::Path;

/// A diff's inputs, indexed by resolved key.
pub(super) struct Indexed<'a> {
    pub(super) input: &'a DiffInput<'a>,
    pub(super) scopes: Scopes,
    /// `D0` by key.
    pub(super) base: Entries<'a>,
    /// `D1` by key.
    pub(super) desired: Entries<'a>,
    /// Objects byte-identical in both renders, not parsed, by resolved key, in canonical
    /// order; keys a parsed render also holds are left to it.
    pub(super) unchanged: Vec<Quiet<'a>>,
    /// [`DiffOptions::ignore_paths`], parsed.
    pub(super) ignore_paths: Vec<Path>,
}

impl<'a> Indexed<'a> {
    /// Resolve and group both renders' keys.
    pub(super) fn new(input: &'a DiffInput<'a>, ignore_paths: Vec<Path>) -> Self {
        let opts = input.options;
        let base = input.base.unwrap_or(&[]);
        let scopes = Scopes::new(&[base, input.desired], opts);
        let base = scopes.group(base, opts);
        let desired = scopes.group(input.desired, opts);
        // Sorted in place with the rank computed once per key and the input position as
        // the last criterion (a duplicate keeps its first document, deterministically): a
        // render of many objects makes this a large list, copied as little as possible.
        let mut unchanged = Vec::with_capacity(input.identical.len());
        unchanged.extend(
            input
                .identical
                .iter()
                .enumerate()
                .map(|(index, u)| {
                    let key = scopes.resolve_owned(u.key(), opts);
                    Quiet {
                        rank: key.kind_rank(),
                        index,
                        key,
                        unchanged: u,
                    }
                })
                .filter(|q| !base.contains_key(&q.key) && !desired.contains_key(&q.key)),
        );
        unchanged.sort_unstable_by(|a, b| {
            (
                a.rank,
                &a.key.group,
                &a.key.kind,
                &a.key.namespace,
                &a.key.name,
                a.index,
            )
                .cmp(&(
                    b.rank,
                    &b.key.group,
                    &b.key.kind,
                    &b.key.namespace,
                    &b.key.name,
                    b.index,
                ))
        });
        unchanged.dedup_by(|a, b| a.key == b.key);
        Self {
            base,
            desired,
            unchanged,
            input,
            scopes,
            ignore_paths,
        }
    }

    /// Every key of both parsed renders and the inventory, once each, in canonical order
    /// (§8.1); the unparsed unchanged objects are apart ([`Indexed::unchanged`]).
    pub(super) fn canonical_keys(&self) -> Vec<ObjectKey> {
        let mut keys: Vec<ObjectKey> = self
            .base
            .keys()
            .chain(self.desired.keys())
            .cloned()
            .collect();
        if let Some(inv) = self.input.inventory {
            keys.extend(inv.iter().filter(|k| !self.is_unchanged(k)).cloned());
        }
        let mut keys = canonical_order(keys, |k| k);
        keys.dedup();
        keys
    }

    /// Whether the key is one of the unparsed unchanged objects.
    fn is_unchanged(&self, key: &ObjectKey) -> bool {
        self.unchanged.binary_search_by(|q| q.key.cmp(key)).is_ok()
    }
}

/// An unparsed byte-identical object: its resolved key, that key's kind rank and its
/// position in the caller's list.
pub(super) struct Quiet<'a> {
    rank: u8,
    index: usize,
    pub(super) key: ObjectKey,
    pub(super) unchanged: &'a Unchanged<'a>,
}

/// `items` sorted by their keys in canonical order (§8.1, [`ObjectKey`]'s `Ord`). Each
/// key's kind rank is computed once, not per comparison, and no string is copied.
fn canonical_order<T>(items: Vec<T>, key: impl Fn(&T) -> &ObjectKey) -> Vec<T> {
    let mut ranked: Vec<(u8, T)> = items
        .into_iter()
        .map(|t| (key(&t).kind_rank(), t))
        .collect();
    ranked.sort_by(|(ra, a), (rb, b)| {
        let (a, b) = (key(a), key(b));
        (ra, &a.group, &a.kind, &a.namespace, &a.name).cmp(&(
            rb,
            &b.group,
            &b.kind,
            &b.namespace,
            &b.name,
        ))
    });
    ranked.into_iter().map(|(_, t)| t).collect()
}

/// Merge two lists that are each in canonical key order (§8.1, [`ObjectKey`]'s `Ord`) into
/// one, making the items of the second only as they are placed (into one allocation).
pub(super) fn merge_canonical<T, U>(
    a: Vec<T>,
    b: Vec<U>,
    key_a: impl Fn(&T) -> &ObjectKey,
    key_b: impl Fn(&U) -> &ObjectKey,
    make: impl Fn(U) -> T,
) -> Vec<T> {
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut a, mut b) = (a.into_iter().peekable(), b.into_iter().peekable());
    loop {
        let take_a = match (a.peek(), b.peek()) {
            (Some(x), Some(y)) => key_a(x) <= key_b(y),
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => return out,
        };
        if take_a {
            out.extend(a.next());
        } else {
            out.extend(b.next().map(&make));
        }
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

    /// [`Scopes::resolve`] of a key the caller owns (no copy).
    fn resolve_owned(&self, mut key: ObjectKey, opts: &DiffOptions) -> ObjectKey {
        if self.cluster_scoped(&key.group, &key.kind) {
            key.namespace.clear();
        } else if key.namespace.is_empty() {
            key.namespace = opts.default_namespace.clone().unwrap_or_default();
        }
        key
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

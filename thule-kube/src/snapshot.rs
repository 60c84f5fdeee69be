//! [`SnapshotReader`]: the [`ClusterReader`] over `kubectl get -o yaml` output.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::Value;
use thule_core::cluster::{
    ClusterReader, KindScope, LiveOutcome, ObjectRef, OwnedList, OwnedQuery, ReadError,
};
use thule_core::object::{
    Manifest, ObjectKey, Origin, builtin_cluster_scoped, canonical_group, flatten_lists, group_of,
};
use thule_core::ownership::labels_match;
use thule_core::yaml::{ParseOptions, parse_stream};

/// A cluster as captured by `kubectl get … -o yaml` (or `-o json`): one file or a directory of
/// them, each a `List`, a `*List` or a multi-document stream.
///
/// The snapshot is taken to be the whole cluster: an object it does not hold is absent. A
/// custom kind is not served when the snapshot holds CustomResourceDefinitions but none
/// serving its group, kind and version, and no object of that kind (so a snapshot without any
/// CRD never reports a kind as not served). The same object twice (the same uid, e.g. dumped
/// through two API groups) is kept once; two different objects with one identity are an
/// error.
#[derive(Clone)]
pub struct SnapshotReader {
    source: String,
    objects: BTreeMap<ObjectKey, (Value, Origin)>,
    /// (group, kind) → served versions, from CRDs in the snapshot.
    crds: BTreeMap<(String, String), BTreeSet<String>>,
    /// (group, kind) → namespaced?, from CRDs in the snapshot.
    crd_scopes: BTreeMap<(String, String), bool>,
    has_crds: bool,
    /// (group, kind) of every object.
    kinds: BTreeSet<(String, String)>,
}

impl std::fmt::Debug for SnapshotReader {
    /// Source and size only: the objects may hold Secret data, which is never printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SnapshotReader")
            .field("source", &self.source)
            .field("objects", &self.objects.len())
            .finish_non_exhaustive()
    }
}

const EXTENSIONS: &[&str] = &["yaml", "yml", "json"];

fn snapshot_error(path: &str, message: impl Into<String>) -> ReadError {
    ReadError::Snapshot {
        path: path.to_owned(),
        message: message.into(),
    }
}

fn collect_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), ReadError> {
    let shown = dir.display().to_string();
    let entries = std::fs::read_dir(dir).map_err(|e| snapshot_error(&shown, e.to_string()))?;
    let mut paths = Vec::new();
    for entry in entries {
        paths.push(
            entry
                .map_err(|e| snapshot_error(&shown, e.to_string()))?
                .path(),
        );
    }
    paths.sort();
    for path in paths {
        let hidden = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with('.'));
        if hidden {
            continue;
        }
        if path.is_dir() {
            collect_files(&path, out)?;
        } else if path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| EXTENSIONS.contains(&e))
        {
            out.push(path);
        }
    }
    Ok(())
}

impl SnapshotReader {
    /// Load a snapshot file, or every `*.yaml`, `*.yml` and `*.json` file under a directory
    /// (recursively, in name order, skipping hidden entries).
    ///
    /// # Errors
    /// [`ReadError::Snapshot`] naming the file (and line and column) when a file cannot be
    /// read or parsed, a document is not a Kubernetes object, or two different objects share
    /// one identity.
    pub fn load(path: &Path) -> Result<Self, ReadError> {
        let shown = path.display().to_string();
        let mut files = Vec::new();
        if path.is_dir() {
            collect_files(path, &mut files)?;
        } else {
            files.push(path.to_path_buf());
        }
        let mut reader = Self::empty(&shown);
        for file in files {
            let name = file.display().to_string();
            let bytes = std::fs::read(&file).map_err(|e| snapshot_error(&name, e.to_string()))?;
            reader.add_stream(&bytes, &name)?;
        }
        Ok(reader)
    }

    /// A snapshot from YAML text; `label` names it in errors and in [`ClusterReader::describe`].
    ///
    /// # Errors
    /// As [`SnapshotReader::load`].
    pub fn from_yaml(text: &str, label: &str) -> Result<Self, ReadError> {
        let mut reader = Self::empty(label);
        reader.add_stream(text.as_bytes(), label)?;
        Ok(reader)
    }

    fn empty(source: &str) -> Self {
        Self {
            source: source.to_owned(),
            objects: BTreeMap::new(),
            crds: BTreeMap::new(),
            crd_scopes: BTreeMap::new(),
            has_crds: false,
            kinds: BTreeSet::new(),
        }
    }

    fn add_stream(&mut self, bytes: &[u8], file: &str) -> Result<(), ReadError> {
        let documents = parse_stream(bytes, file, &ParseOptions::default())
            .map_err(|e| snapshot_error(file, e.to_string()))?;
        for doc in documents {
            if doc.value.is_null() {
                continue;
            }
            for object in flatten_lists(doc.value) {
                let origin = Origin {
                    project: String::new(),
                    source: file.to_owned(),
                    document: doc.index,
                    line: doc.start.line,
                };
                let manifest = Manifest::from_value(object, origin)
                    .map_err(|e| snapshot_error(file, e.to_string()))?;
                self.add(manifest)?;
            }
        }
        Ok(())
    }

    fn add(&mut self, m: Manifest) -> Result<(), ReadError> {
        if m.key.group == "apiextensions.k8s.io" && m.key.kind == "CustomResourceDefinition" {
            self.has_crds = true;
            let spec = &m.object["spec"];
            if let (Some(group), Some(kind)) = (
                spec.get("group").and_then(Value::as_str),
                spec.pointer("/names/kind").and_then(Value::as_str),
            ) {
                let versions = spec
                    .get("versions")
                    .and_then(Value::as_array)
                    .map(|vs| {
                        vs.iter()
                            .filter(|v| v.get("served").and_then(Value::as_bool) != Some(false))
                            .filter_map(|v| v.get("name").and_then(Value::as_str))
                            .map(str::to_owned)
                            .collect::<BTreeSet<_>>()
                    })
                    .unwrap_or_default();
                self.crds
                    .entry((group.to_owned(), kind.to_owned()))
                    .or_default()
                    .extend(versions);
                if let Some(scope) = spec.get("scope").and_then(Value::as_str) {
                    self.crd_scopes
                        .insert((group.to_owned(), kind.to_owned()), scope != "Cluster");
                }
            }
        }
        self.kinds.insert((m.key.group.clone(), m.key.kind.clone()));
        let uid = |v: &Value| v.pointer("/metadata/uid").cloned();
        if let Some((existing, origin)) = self.objects.get(&m.key) {
            let same = match (uid(existing), uid(&m.object)) {
                (Some(a), Some(b)) => a == b,
                _ => *existing == m.object,
            };
            if same {
                return Ok(());
            }
            return Err(snapshot_error(
                &m.origin.to_string(),
                format!("{} is also at {origin}, with different content", m.key),
            ));
        }
        self.objects.insert(m.key, (m.object, m.origin));
        Ok(())
    }

    /// Number of objects in the snapshot.
    pub fn len(&self) -> usize {
        self.objects.len()
    }

    /// Whether the snapshot holds no object.
    pub fn is_empty(&self) -> bool {
        self.objects.is_empty()
    }

    /// `Some(message)` when this apiVersion/kind is not served by the snapshot's cluster.
    fn not_served(&self, api_version: &str, kind: &str) -> Option<String> {
        let group = canonical_group(group_of(api_version), kind);
        if builtin_cluster_scoped(group, kind).is_some() || !self.has_crds {
            return None;
        }
        let gk = (group.to_owned(), kind.to_owned());
        if self.kinds.contains(&gk) {
            return None;
        }
        let version = api_version.rsplit('/').next().unwrap_or(api_version);
        match self.crds.get(&gk) {
            Some(versions) if versions.contains(version) => None,
            Some(versions) => Some(format!(
                "apiVersion {api_version} is not served by the snapshot's cluster; its CRD \
                 serves {}",
                versions
                    .iter()
                    .map(|v| format!("{group}/{v}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
            None => Some(format!(
                "kind {kind} is not served in {api_version}: no CustomResourceDefinition for \
                 it in the snapshot (CRD not installed yet?)"
            )),
        }
    }
}

#[async_trait::async_trait]
impl ClusterReader for SnapshotReader {
    fn describe(&self) -> String {
        format!("snapshot {}", self.source)
    }

    async fn read(
        &self,
        objects: &[ObjectRef],
    ) -> Result<BTreeMap<ObjectKey, LiveOutcome>, ReadError> {
        Ok(objects
            .iter()
            .map(|o| {
                let outcome = if let Some(message) = self.not_served(&o.api_version, &o.key.kind) {
                    LiveOutcome::NotServed { message }
                } else {
                    match self.objects.get(&o.key) {
                        Some((object, _)) => LiveOutcome::Found(object.clone()),
                        None => LiveOutcome::Absent,
                    }
                };
                (o.key.clone(), outcome)
            })
            .collect())
    }

    /// Built-in kinds from thule-core's table, custom kinds from a CRD in the snapshot, else
    /// from the snapshot's objects of that kind (namespaced if any has a namespace); unknown
    /// when none of these tells.
    async fn scopes(
        &self,
        kinds: &[(String, String)],
    ) -> Result<BTreeMap<(String, String), KindScope>, ReadError> {
        Ok(kinds
            .iter()
            .map(|(api_version, kind)| {
                let group = canonical_group(group_of(api_version), kind);
                let gk = (group.to_owned(), kind.clone());
                let namespaced = builtin_cluster_scoped(group, kind)
                    .map(|cluster| !cluster)
                    .or_else(|| self.crd_scopes.get(&gk).copied())
                    .or_else(|| {
                        self.kinds.contains(&gk).then(|| {
                            self.objects.keys().any(|k| {
                                k.group == gk.0 && k.kind == gk.1 && !k.namespace.is_empty()
                            })
                        })
                    });
                let scope = match (self.not_served(api_version, kind), namespaced) {
                    (Some(message), _) => KindScope::NotServed { message },
                    (None, Some(true)) => KindScope::Namespaced,
                    (None, Some(false)) => KindScope::Cluster,
                    (None, None) => KindScope::Unknown,
                };
                ((api_version.clone(), kind.clone()), scope)
            })
            .collect())
    }

    async fn list_owned(&self, query: &OwnedQuery) -> Result<OwnedList, ReadError> {
        if let Some(message) = self.not_served(&query.api_version, &query.kind) {
            return Ok(OwnedList::NotServed { message });
        }
        let group = canonical_group(group_of(&query.api_version), &query.kind);
        Ok(OwnedList::Listed(
            self.objects
                .iter()
                .filter(|(k, _)| k.group == group && k.kind == query.kind)
                .filter(|(k, _)| {
                    query
                        .namespace
                        .as_ref()
                        .is_none_or(|ns| k.namespace == *ns || k.namespace.is_empty())
                })
                .filter(|(_, (v, _))| labels_match(v, &query.labels))
                .map(|(_, (v, _))| v.clone())
                .collect(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conflicting_duplicates_name_both_places() {
        let text = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: n, uid: '1'}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: n, uid: '2'}\n";
        let e = SnapshotReader::from_yaml(text, "dump.yaml").unwrap_err();
        let s = e.to_string();
        assert!(s.contains("dump.yaml:5"), "{s}");
        assert!(s.contains("dump.yaml:1"), "{s}");
        let same = "apiVersion: extensions/v1beta1\nkind: Ingress\nmetadata: {name: a, namespace: n, uid: '1'}\n---\napiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: a, namespace: n, uid: '1'}\n";
        assert_eq!(SnapshotReader::from_yaml(same, "x").unwrap().len(), 1);
    }

    #[test]
    fn syntax_errors_carry_line_and_column() {
        let e = SnapshotReader::from_yaml("items: [\n", "bad.yaml").unwrap_err();
        assert!(
            e.to_string().starts_with("snapshot bad.yaml: bad.yaml:"),
            "{e}"
        );
    }
}

//! The live side: the read-only [`ClusterReader`] seam.
//!
//! thule only ever reads clusters (get, list, watch and discovery). The trait therefore has no
//! method that could write, and implementations (`thule-kube`'s kube-rs reader, the snapshot
//! reader over `kubectl get -o yaml` files, test fakes) report per object what they saw,
//! including what they could not see: a forbidden read or a kind the server does not serve is
//! an outcome, not an error for the whole run.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::object::ObjectKey;

/// One object the plan wants to read.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ObjectRef {
    /// The `apiVersion` the desired object uses (reads go through this version).
    pub api_version: String,
    /// Identity; `namespace` is already resolved for namespaced kinds.
    pub key: ObjectKey,
}

impl ObjectRef {
    /// A reference to `key`, read through `api_version`.
    pub fn new(api_version: impl Into<String>, key: ObjectKey) -> Self {
        Self {
            api_version: api_version.into(),
            key,
        }
    }
}

/// What a read found for one object.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum LiveOutcome {
    /// The object exists; the value is as the API server returned it (with managedFields).
    Found(Value),
    /// The server answered 404: the object does not exist.
    Absent,
    /// RBAC forbids reading it (403). For Secrets this becomes `SECRET_UNREADABLE`.
    Forbidden {
        /// The server's message (already scrubbed of secret values by the caller's redactor).
        message: String,
    },
    /// The server does not serve this apiVersion/kind (CRD not installed yet, removed API).
    NotServed {
        /// What discovery said.
        message: String,
    },
    /// Any other failure for this object (timeout, 5xx after retries, decode error).
    Error {
        /// What went wrong.
        message: String,
    },
}

/// A label query for objects a project owns (deletion candidates, §7).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct OwnedQuery {
    /// `apiVersion` of the kind to list.
    pub api_version: String,
    /// Kind to list.
    pub kind: String,
    /// Namespace to list in; `None` lists all namespaces (or a cluster-scoped kind).
    pub namespace: Option<String>,
    /// Label selector as `key=value` pairs, all of which must match; empty selects every
    /// object of the kind (the plan lists related objects for risk facts this way).
    pub labels: BTreeMap<String, String>,
}

/// What listing one [`OwnedQuery`] found.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum OwnedList {
    /// The objects matching the query (possibly none).
    Listed(Vec<Value>),
    /// RBAC forbids listing this kind: deletions of it cannot be detected.
    Forbidden {
        /// The server's message.
        message: String,
    },
    /// The server does not serve this apiVersion/kind, so nothing of it can exist.
    NotServed {
        /// What discovery said.
        message: String,
    },
}

/// Whether a kind's objects live in namespaces, as the cluster serves it (§2.1: a key's
/// namespace is forced to `""` for cluster-scoped kinds, and discovery tells which).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum KindScope {
    /// Objects live in a namespace.
    Namespaced,
    /// Objects are cluster-scoped.
    Cluster,
    /// The cluster does not serve this apiVersion/kind (CRD not installed yet, removed API).
    NotServed {
        /// What discovery said.
        message: String,
    },
    /// The reader cannot tell (discovery failed or forbidden, or a backend without
    /// discovery); callers fall back to built-in tables and CRDs in the render.
    Unknown,
}

/// A failure of the reader as a whole (not of one object).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReadError {
    /// No cluster or snapshot is configured under this reference.
    #[error("cluster `{0}` is not configured")]
    UnknownCluster(String),
    /// The cluster could not be reached at all.
    #[error("cluster `{cluster}` is unreachable: {message}")]
    Unreachable {
        /// Cluster reference.
        cluster: String,
        /// What the transport said.
        message: String,
    },
    /// The per-run deadline passed.
    #[error("reading cluster `{cluster}` exceeded the deadline of {seconds}s")]
    Deadline {
        /// Cluster reference.
        cluster: String,
        /// The deadline.
        seconds: u64,
    },
    /// A snapshot file could not be read or parsed.
    #[error("snapshot {path}: {message}")]
    Snapshot {
        /// The file.
        path: String,
        /// What is wrong, with line and column where known.
        message: String,
    },
    /// Anything else from a backend.
    #[error("{0}")]
    Backend(String),
}

/// Read-only access to one cluster's live objects.
///
/// Implementations must only issue get/list/watch and discovery requests.
#[async_trait::async_trait]
pub trait ClusterReader: Send + Sync {
    /// A short name for the plan (kube context or snapshot path).
    fn describe(&self) -> String;

    /// Read these objects. Every requested key gets an outcome in the result.
    ///
    /// # Errors
    /// Only for failures of the whole read (unreachable cluster, deadline); per-object
    /// failures are [`LiveOutcome`]s.
    async fn read(
        &self,
        objects: &[ObjectRef],
    ) -> Result<BTreeMap<ObjectKey, LiveOutcome>, ReadError>;

    /// [`ClusterReader::read`], with a hint: the live objects are expected to carry all of
    /// `labels` (typically the project's ownership labels). A reader may narrow a batched
    /// list with them as a label selector; it must then confirm every object the narrowed
    /// list did not return with a single read, so the hint never turns a live object into
    /// [`LiveOutcome::Absent`]. The results are the same as [`ClusterReader::read`]'s; only
    /// the cost differs (less data when namespaces hold many objects of other owners, one
    /// extra request per object not yet applied). The default ignores the hint.
    ///
    /// # Errors
    /// As [`ClusterReader::read`].
    async fn read_with_labels(
        &self,
        objects: &[ObjectRef],
        labels: &BTreeMap<String, String>,
    ) -> Result<BTreeMap<ObjectKey, LiveOutcome>, ReadError> {
        let _ = labels;
        self.read(objects).await
    }

    /// The scope of each `(apiVersion, kind)`, from discovery (cached for the run). Every
    /// requested pair gets an answer. The default answers [`KindScope::Unknown`].
    ///
    /// # Errors
    /// As [`ClusterReader::read`].
    async fn scopes(
        &self,
        kinds: &[(String, String)],
    ) -> Result<BTreeMap<(String, String), KindScope>, ReadError> {
        Ok(kinds
            .iter()
            .map(|k| (k.clone(), KindScope::Unknown))
            .collect())
    }

    /// List objects matching an ownership label query, for deletion candidates (or, with no
    /// labels, every object of the kind).
    ///
    /// Every returned object carries `apiVersion` and `kind` and matches all labels of the
    /// query. Callers confirm candidates with [`ClusterReader::read`] before reporting them.
    ///
    /// # Errors
    /// As [`ClusterReader::read`]; a forbidden or unserved kind is an [`OwnedList`] outcome,
    /// so a plan can say which kinds it could not check for deletions.
    async fn list_owned(&self, query: &OwnedQuery) -> Result<OwnedList, ReadError>;
}

//! # thule-kube
//!
//! The live side of a thule plan: read-only implementations of
//! [`thule_core::cluster::ClusterReader`], and deletion-candidate detection on top of it.
//!
//! - [`KubeClusterReader`] reads a real cluster through kube-rs: a kubeconfig file and context
//!   per `clusterRef` (or in-cluster service-account config), token or client-certificate
//!   authentication, TLS with the configured CA (and, as kubectl, a self-signed server
//!   certificate that is itself a certificate of the kubeconfig's CA bundle). Its errors name
//!   their cause: which TLS failure (unknown issuer, name mismatch, expired, a CA certificate
//!   presented as the server's), a refused connection and its address, and which credentials
//!   a 401 or 403 answered (never their values). It only ever sends `GET` requests (discovery,
//!   get, list): the trait it implements has no write method, and the request helper it uses
//!   builds nothing but `GET`s. Discovery is per group-version and cached for the run; reads are
//!   batched into one list per (resource, namespace) where that is cheaper than single GETs;
//!   requests run with bounded concurrency, retry with backoff on 429/5xx/timeouts, and stop at
//!   a per-run deadline. See [`ReaderOptions`]. Besides `read`, it answers
//!   `read_with_labels` (the project's ownership labels narrow each list; misses are confirmed
//!   by GET), `scopes` (namespaced or cluster-scoped, from discovery, for namespace
//!   resolution of custom kinds) and `list_owned` (label-selected lists for deletions).
//! - [`SnapshotReader`] answers the same trait from `kubectl get -o yaml` output (a `List` or
//!   a multi-document stream, one file or a directory), so plans run with no cluster at all.
//! - [`deletion`] finds objects a project owns in the cluster but no longer renders (from the
//!   base render and from per-project ownership labels), confirms them with a read, and decides
//!   delete / orphan (prune protections) / already absent.
//! - [`reader_for_cluster`] is the one entry point the CLI needs: it builds the right reader
//!   for a `clusterRef`'s [`thule_core::config::ClusterSettings`].
//! - `testing` (feature `testing`, off by default) holds the loopback Kubernetes API server
//!   the live tests of this crate and of thule-cli run the real kube client against.
//!
//! Seams: everything public speaks `thule-core` types (`ObjectRef`, `LiveOutcome`,
//! `serde_json::Value`); kube-rs and k8s-openapi types stay inside this crate's private modules.
//! Secrets are only ever read one GET at a time, never listed, so Secrets the plan does not
//! name (Helm release storage, tokens) are never fetched. Nothing here logs, and no error
//! message carries a response body: only the API server's
//! `Status.message`, which names objects but never holds their data, so Secret values read from
//! the cluster never leave the returned [`thule_core::cluster::LiveOutcome::Found`] values.
//!
//! The least-privilege RBAC for an in-cluster service account lives in `deploy/rbac/` at the
//! repository root (get/list/watch only; no Secrets unless opted in).

mod certinfo;
mod convert;
pub mod deletion;
mod error;
mod live;
mod snapshot;
#[cfg(feature = "testing")]
pub mod testing;
mod tls;

use std::path::{Path, PathBuf};

use thule_core::cluster::ClusterReader;
use thule_core::config::ClusterSettings;

pub use deletion::{
    Candidate, CandidateSources, DeletionReport, Ownership, Verdict, candidate_refs,
    deletion_candidates, find_deletion_candidates,
};
pub use error::KubeError;
pub use live::{KubeClusterReader, ReaderOptions};
pub use snapshot::SnapshotReader;

/// Build the reader for one `clusterRef`.
///
/// With `settings.snapshot` set, a [`SnapshotReader`] over that file or directory (a relative
/// path is resolved against `repo_root`); otherwise a [`KubeClusterReader`] from
/// `settings.kubeconfig` (used as given, with a leading `~/` expanded to `$HOME`) and
/// `settings.context`; with neither, `$KUBECONFIG` / `~/.kube/config` and then the in-cluster
/// service account (see [`KubeClusterReader::from_kubeconfig`]). Must run inside a Tokio
/// runtime. Nothing is requested from the cluster until the first read.
///
/// # Errors
/// When the snapshot cannot be loaded or the kubeconfig cannot be read or used. The error's
/// display names the cluster once and carries the cause (see [`KubeError`]); print it without
/// a `cluster` prefix of your own. Whether the server can be reached is only known at the first
/// read, whose [`thule_core::cluster::ReadError::Unreachable`] also names the cluster.
pub async fn reader_for_cluster(
    cluster_ref: &str,
    settings: &ClusterSettings,
    repo_root: &Path,
    options: ReaderOptions,
) -> Result<Box<dyn ClusterReader>, KubeError> {
    if let Some(snapshot) = &settings.snapshot {
        let path = repo_root.join(snapshot);
        let reader = SnapshotReader::load(&path).map_err(|error| KubeError::Snapshot {
            cluster: cluster_ref.to_owned(),
            error,
        })?;
        return Ok(Box::new(reader));
    }
    let kubeconfig = settings.kubeconfig.as_deref().map(expand_home);
    let reader = KubeClusterReader::from_kubeconfig(
        cluster_ref,
        kubeconfig.as_deref(),
        settings.context.as_deref(),
        options,
    )
    .await?;
    Ok(Box::new(reader))
}

/// `~/x` → `$HOME/x`; other paths unchanged.
fn expand_home(path: &str) -> PathBuf {
    match (path.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => PathBuf::from(home).join(rest),
        _ => PathBuf::from(path),
    }
}

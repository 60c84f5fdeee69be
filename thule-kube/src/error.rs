//! Errors of building a reader (reading itself reports `thule_core::cluster::ReadError`).

use thule_core::cluster::ReadError;

/// Why a reader for a `clusterRef` could not be built.
///
/// The display is the whole message, ``cluster `<clusterRef>`: <what failed>: <cause>``:
/// it names the cluster once, at the start, so a caller prints it as it is, without a prefix
/// of its own. No variant has a [`std::error::Error::source`] (kube's errors repeat their causes
/// in their own messages, so their text is flattened into the message with each cause said
/// once), so printing the source chain gives the same line as the display.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KubeError {
    /// The kubeconfig file could not be read, or has no usable context, cluster or user.
    #[error("cluster `{cluster}`: kubeconfig {path}: {message}")]
    Kubeconfig {
        /// The `clusterRef`.
        cluster: String,
        /// The kubeconfig file (or `$KUBECONFIG / ~/.kube/config` when none was configured).
        path: String,
        /// What is wrong.
        message: String,
    },
    /// In-cluster configuration (service-account token, CA, `KUBERNETES_SERVICE_*`) is missing.
    #[error("cluster `{cluster}`: in-cluster configuration: {message}")]
    InCluster {
        /// The `clusterRef`.
        cluster: String,
        /// What is missing.
        message: String,
    },
    /// The HTTP client could not be built (TLS setup, bad CA or client certificate).
    #[error("cluster `{cluster}`: cannot build the client: {message}")]
    Client {
        /// The `clusterRef`.
        cluster: String,
        /// What failed.
        message: String,
    },
    /// The configured snapshot could not be loaded.
    #[error("cluster `{cluster}`: {error}")]
    Snapshot {
        /// The `clusterRef`.
        cluster: String,
        /// The snapshot error (file, line and column where known), already in the display
        /// (so not a `source()` as well).
        error: ReadError,
    },
}

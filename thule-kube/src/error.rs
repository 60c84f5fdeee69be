//! Errors of building a reader (reading itself reports `thule_core::cluster::ReadError`).

use thule_core::cluster::ReadError;

/// Why a reader for a `clusterRef` could not be built.
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
    #[error("cluster `{cluster}`: {source}")]
    Snapshot {
        /// The `clusterRef`.
        cluster: String,
        /// The snapshot error (file, line and column where known).
        #[source]
        source: ReadError,
    },
}

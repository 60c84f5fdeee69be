//! The [`ReaderFactory`] implementations thule ships: snapshots (`kubectl get -o yaml`
//! output on disk) and live clusters through kube-rs. Both are read-only.

use std::collections::BTreeMap;
use std::path::PathBuf;

use thule_core::ClusterReader;
use thule_core::config::ClusterSettings;
use thule_kube::{ReaderOptions, SnapshotReader, reader_for_cluster};

use super::ReaderFactory;

/// Snapshots per clusterRef: an explicit file or directory, else `<root>/<clusterRef>/`.
#[derive(Clone, Debug, Default)]
pub struct SnapshotReaders {
    /// Explicit `CLUSTER=PATH` snapshots.
    pub by_cluster: BTreeMap<String, PathBuf>,
    /// A directory with one `<clusterRef>/` subdirectory per cluster.
    pub root: Option<PathBuf>,
}

#[async_trait::async_trait]
impl ReaderFactory for SnapshotReaders {
    async fn open(
        &self,
        cluster: &str,
        _settings: Option<&ClusterSettings>,
    ) -> Result<Box<dyn ClusterReader>, String> {
        let path = self.by_cluster.get(cluster).cloned().or_else(|| {
            self.root
                .as_ref()
                .map(|r| r.join(cluster))
                .filter(|p| p.exists())
        });
        let Some(path) = path else {
            return Err(format!(
                "no snapshot for cluster `{cluster}`: pass --live {cluster}=PATH or a --live directory with a `{cluster}/` subdirectory"
            ));
        };
        // Loaded here rather than through the cluster settings, so the plan names the path as
        // the user gave it (deterministic across machines).
        SnapshotReader::load(&path)
            .map(|r| Box::new(r) as Box<dyn ClusterReader>)
            .map_err(|e| format!("cluster `{cluster}`: {e}"))
    }
}

/// The clusters of the repository configuration, read with kube-rs (get and list only), with
/// the kubeconfig and contexts optionally overridden.
#[derive(Clone, Debug, Default)]
pub struct KubeReaders {
    /// The repository root (relative kubeconfig and snapshot paths of the configuration
    /// resolve against it).
    pub repo: PathBuf,
    /// A kubeconfig file overriding the configuration's.
    pub kubeconfig: Option<PathBuf>,
    /// Contexts per clusterRef overriding the configuration's.
    pub contexts: BTreeMap<String, String>,
    /// Reader options (timeouts, batching).
    pub options: ReaderOptions,
}

#[async_trait::async_trait]
impl ReaderFactory for KubeReaders {
    async fn open(
        &self,
        cluster: &str,
        settings: Option<&ClusterSettings>,
    ) -> Result<Box<dyn ClusterReader>, String> {
        let mut settings = settings.cloned().unwrap_or_default();
        settings.snapshot = None;
        if let Some(k) = &self.kubeconfig {
            settings.kubeconfig = Some(k.to_string_lossy().into_owned());
        }
        if let Some(c) = self.contexts.get(cluster) {
            settings.context = Some(c.clone());
        }
        reader_for_cluster(cluster, &settings, &self.repo, self.options.clone())
            .await
            // The error names the cluster itself, once.
            .map_err(|e| thule_render::chain(&e))
    }
}

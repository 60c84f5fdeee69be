//! The render cache seam, [`RenderCache`], an in-memory implementation for a long-running
//! server, and a directory-backed one for a CLI that plans the same checkout repeatedly.
//!
//! Entries are keyed by [`CacheKey`], a content hash of every input of a render (files read,
//! options, values, tool versions), so an entry can never be stale: any change to an input is
//! a different key. Failures are never cached, so fixing the environment (installing a tool)
//! takes effect at once.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use thule_core::{Manifest, Origin};

use crate::fingerprint::CacheKey;
use crate::model::{Note, RenderMeta, RenderOutput, ToolInfo};

/// Stores successful renders by content hash. Must be usable from several threads at once.
pub trait RenderCache: Send + Sync {
    /// The stored render for `key`, if any.
    fn get(&self, key: &CacheKey) -> Option<RenderOutput>;
    /// Store a render.
    fn put(&self, key: CacheKey, output: RenderOutput);
}

/// An unbounded in-memory [`RenderCache`], for one process (a server keeps it across plans).
#[derive(Debug, Default)]
pub struct MemoryCache {
    entries: Mutex<HashMap<CacheKey, RenderOutput>>,
}

impl MemoryCache {
    /// How many renders are stored.
    pub fn len(&self) -> usize {
        self.entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Whether nothing is stored.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl RenderCache for MemoryCache {
    fn get(&self, key: &CacheKey) -> Option<RenderOutput> {
        self.entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(key)
            .cloned()
    }

    fn put(&self, key: CacheKey, output: RenderOutput) {
        self.entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key, output);
    }
}

/// A [`RenderCache`] kept on disk, one JSON file per key (`<key>.json`) in a directory, so a
/// CLI run re-plans an unchanged project without running its tool.
///
/// Best effort by design: an unreadable or corrupt entry is a miss, and a failed write is
/// ignored (the render itself already succeeded). Writes go to a temporary file that is then
/// renamed, so concurrent writers and readers never see half an entry. Nothing is ever
/// evicted; delete the directory to reclaim space.
#[derive(Clone, Debug)]
pub struct DirCache {
    dir: PathBuf,
}

/// The on-disk entry format.
#[derive(Serialize, Deserialize)]
struct Stored {
    format: u32,
    tool: String,
    version: String,
    command: Option<String>,
    objects: Vec<StoredObject>,
    notes: Vec<(String, String)>,
}

#[derive(Serialize, Deserialize)]
struct StoredObject {
    object: Value,
    origin: Origin,
}

const FORMAT: u32 = 1;

impl DirCache {
    /// A cache in `dir` (created on first write).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path(&self, key: &CacheKey) -> PathBuf {
        self.dir.join(format!("{key}.json"))
    }
}

impl RenderCache for DirCache {
    fn get(&self, key: &CacheKey) -> Option<RenderOutput> {
        let bytes = std::fs::read(self.path(key)).ok()?;
        let stored: Stored = serde_json::from_slice(&bytes).ok()?;
        if stored.format != FORMAT {
            return None;
        }
        let objects = stored
            .objects
            .into_iter()
            .map(|o| Manifest::from_value(o.object, o.origin).ok())
            .collect::<Option<Vec<_>>>()?;
        Some(RenderOutput {
            objects,
            notes: stored
                .notes
                .into_iter()
                .map(|(source, message)| Note { source, message })
                .collect(),
            meta: RenderMeta {
                tool: ToolInfo {
                    name: stored.tool,
                    version: stored.version,
                },
                command: stored.command,
                duration: Duration::ZERO,
                cached: true,
                key: *key,
            },
        })
    }

    fn put(&self, key: CacheKey, output: RenderOutput) {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let stored = Stored {
            format: FORMAT,
            tool: output.meta.tool.name,
            version: output.meta.tool.version,
            command: output.meta.command,
            objects: output
                .objects
                .into_iter()
                .map(|m| StoredObject {
                    object: m.object,
                    origin: m.origin,
                })
                .collect(),
            notes: output
                .notes
                .into_iter()
                .map(|n| (n.source, n.message))
                .collect(),
        };
        let Ok(bytes) = serde_json::to_vec(&stored) else {
            return;
        };
        let tmp = self.dir.join(format!(
            "{key}.{}.{}.tmp",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let written = std::fs::create_dir_all(&self.dir)
            .and_then(|()| std::fs::write(&tmp, bytes))
            .and_then(|()| std::fs::rename(&tmp, self.path(&key)));
        if written.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn output() -> RenderOutput {
        let origin = Origin {
            project: "p".into(),
            source: "a.yaml".into(),
            document: 1,
            line: 4,
        };
        RenderOutput {
            objects: vec![
                Manifest::from_value(
                    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}),
                    origin,
                )
                .unwrap(),
            ],
            notes: vec![Note {
                source: "b.yaml:1".into(),
                message: "skipped".into(),
            }],
            meta: RenderMeta {
                tool: ToolInfo {
                    name: "yaml".into(),
                    version: "1".into(),
                },
                command: None,
                duration: Duration::from_millis(5),
                cached: false,
                key: CacheKey([7; 32]),
            },
        }
    }

    #[test]
    fn dir_cache_round_trips_and_treats_corrupt_entries_as_misses() {
        let t = tempfile::tempdir().unwrap();
        let cache = DirCache::new(t.path().join("cache"));
        let key = CacheKey([7; 32]);
        assert!(cache.get(&key).is_none());
        cache.put(key, output());
        let got = cache.get(&key).unwrap();
        let want = output();
        assert_eq!(got.objects, want.objects);
        assert_eq!(got.notes, want.notes);
        assert_eq!(got.meta.tool, want.meta.tool);
        assert!(got.meta.cached);
        assert!(cache.get(&CacheKey([8; 32])).is_none());
        std::fs::write(cache.path(&key), b"{not json").unwrap();
        assert!(cache.get(&key).is_none());
    }

    #[test]
    fn memory_cache_stores_by_key() {
        let cache = MemoryCache::default();
        assert!(cache.is_empty());
        cache.put(CacheKey([1; 32]), output());
        assert_eq!(cache.len(), 1);
        assert_eq!(cache.get(&CacheKey([1; 32])), Some(output()));
        assert_eq!(cache.get(&CacheKey([2; 32])), None);
    }
}

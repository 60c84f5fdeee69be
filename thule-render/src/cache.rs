//! The render cache seam, [`RenderCache`], and an in-memory implementation.
//!
//! Entries are keyed by [`CacheKey`], a content hash of every input of a render (files read,
//! options, values, tool versions), so an entry can never be stale: any change to an input is
//! a different key. Failures are never cached, so fixing the environment (installing a tool)
//! takes effect at once.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use crate::fingerprint::CacheKey;
use crate::model::RenderOutput;

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

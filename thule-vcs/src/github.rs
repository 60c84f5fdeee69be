//! The GitHub adapter (feature `github`).

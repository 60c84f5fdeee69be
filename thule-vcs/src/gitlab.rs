//! The GitLab adapter (feature `gitlab`).

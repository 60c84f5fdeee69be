//! The Gitea and Forgejo adapter (feature `gitea`).

//! The Bitbucket Cloud and Data Center adapter (feature `bitbucket`).

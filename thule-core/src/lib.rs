//! # thule-core
//!
//! The shared vocabulary of thule, the read-only plan bot for Kubernetes GitOps merge requests.
//! Every other thule crate depends on this one and on nothing else of thule's.
//!
//! What lives here:
//! - [`yaml`]: the Kubernetes YAML dialect (YAML 1.1 scalars as kubectl reads them), decoded to
//!   JSON values with file:line:column errors. No YAML crate type appears in its API.
//! - [`object`]: object identity ([`ObjectKey`], version-free and canonically ordered) and
//!   [`Manifest`], a decoded object with its origin.
//! - [`config`]: the typed configuration model (`thule.yaml`, `.thule/config.yaml`, org
//!   defaults), layering and MR overrides.
//! - [`ownership`]: which applier owns an object, what it stamps, what protects an object
//!   from pruning, and the one label matcher.
//! - [`discovery`]: the pure function from "these paths changed" to "these projects must be
//!   planned, and why".
//! - [`cancel`]: a cancellation token for synchronous and async code alike.
//!
//! The seams (traits the I/O crates implement):
//! - [`cluster::ClusterReader`]: read-only access to live objects (`thule-kube` implements it
//!   over kube-rs and over `kubectl get -o yaml` snapshots).
//!
//! Everything in this crate is synchronous and pure except the async seam trait, which only
//! declares I/O; nothing here starts a process, opens a socket or reads the clock.

pub mod cancel;
pub mod cluster;
pub mod config;
pub mod discovery;
pub mod object;
pub mod ownership;
pub mod repo;
pub mod yaml;

pub use cancel::CancelToken;
pub use cluster::{
    ClusterReader, KindScope, LiveOutcome, ObjectRef, OwnedList, OwnedQuery, ReadError,
};
pub use object::{Manifest, ManifestError, ObjectKey, Origin};
pub use yaml::{Document, ParseOptions, Position, YamlError};

//! Configuration: the project file `thule.yaml`, the repo file `.thule/config.yaml`, the org
//! defaults file, their layering and MR overrides; and the webhook service's file
//! ([`serve::ServeFile`]).
//!
//! Layering, lowest first: org defaults < repo config `defaults` < project file < MR overrides
//! (allow-listed in the repo config; anything else is refused with the reason). Every error
//! names the file, line and column, and suggests the nearest valid key where there is one.

mod load;
pub mod model;
pub mod resolved;
pub mod schema;
pub mod serve;

pub use load::*;
pub use model::*;
pub use resolved::*;

//! Configuration: the project file `thule.yaml`, the repo file `.thule/config.yaml`, the org
//! defaults file, their layering and MR overrides.

pub mod model;
pub mod resolved;

pub use model::*;
pub use resolved::*;

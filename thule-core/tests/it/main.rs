//! Integration tests of thule-core: configuration files, layering, overrides, malformed
//! input, JSON Schemas and project discovery.

mod config;
mod discovery;
mod schema;

//! JSON Schemas of the configuration files, generated from the types.

use super::model::{ProjectFile, RepoFile};
use super::serve::ServeFile;

/// The JSON Schema of `thule.yaml`, pretty-printed with a final newline.
pub fn project_schema() -> String {
    pretty(&schemars::schema_for!(ProjectFile))
}

/// The JSON Schema of `.thule/config.yaml` (and of the org defaults file), pretty-printed with
/// a final newline.
pub fn repo_schema() -> String {
    pretty(&schemars::schema_for!(RepoFile))
}

/// The JSON Schema of the webhook service's file (`thule serve --config`), pretty-printed with
/// a final newline.
pub fn serve_schema() -> String {
    pretty(&schemars::schema_for!(ServeFile))
}

fn pretty(schema: &schemars::Schema) -> String {
    let mut s = serde_json::to_string_pretty(schema).unwrap_or_default();
    s.push('\n');
    s
}

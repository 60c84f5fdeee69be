//! JSON Schemas of the configuration files, generated from the types.

use super::model::{ProjectFile, RepoFile};

/// The JSON Schema of `thule.yaml`, pretty-printed with a final newline.
pub fn project_schema() -> String {
    pretty(&schemars::schema_for!(ProjectFile))
}

/// The JSON Schema of `.thule/config.yaml` (and of the org defaults file), pretty-printed with
/// a final newline.
pub fn repo_schema() -> String {
    pretty(&schemars::schema_for!(RepoFile))
}

fn pretty(schema: &schemars::Schema) -> String {
    let mut s = serde_json::to_string_pretty(schema).unwrap_or_default();
    s.push('\n');
    s
}

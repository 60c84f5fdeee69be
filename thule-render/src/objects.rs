//! From parsed YAML documents to [`Manifest`]s: empty documents are ignored, `List` kinds are
//! flattened, documents that are not Kubernetes objects become notes, and objects without an
//! identity are errors.

use serde_json::Value;
use thule_core::object::{flatten_lists, looks_like_object};
use thule_core::{Document, Manifest, Origin};

use crate::error::RenderError;
use crate::model::Note;

/// Where the documents came from, for origins and notes.
pub(crate) struct Source<'a> {
    pub project: &'a str,
    pub label: String,
}

/// Add the objects of `docs` to `objects`, and a note for every document that is not one.
pub(crate) fn collect(
    docs: Vec<Document>,
    source: &Source<'_>,
    objects: &mut Vec<Manifest>,
    notes: &mut Vec<Note>,
) -> Result<(), RenderError> {
    for doc in docs {
        let origin = Origin {
            project: source.project.to_owned(),
            source: source.label.clone(),
            document: doc.index,
            line: doc.start.line,
        };
        collect_value(doc.value, origin, objects, notes)?;
    }
    Ok(())
}

/// Add one document's value (see [`collect`]).
pub(crate) fn collect_value(
    value: Value,
    origin: Origin,
    objects: &mut Vec<Manifest>,
    notes: &mut Vec<Note>,
) -> Result<(), RenderError> {
    if value.is_null() {
        return Ok(());
    }
    for item in flatten_lists(value) {
        if let Some(why) = not_an_object(&item) {
            notes.push(Note {
                source: origin.to_string(),
                message: format!("skipped: {why}"),
            });
            continue;
        }
        let manifest = Manifest::from_value(item, origin.clone())
            .map_err(|source| RenderError::Manifest { source })?;
        objects.push(manifest);
    }
    Ok(())
}

/// Why a value is not a Kubernetes object, or `None` when it is (or claims to be) one.
fn not_an_object(v: &Value) -> Option<String> {
    if !looks_like_object(v) {
        let what = match v {
            Value::Object(_) => "a YAML mapping without `apiVersion` and `kind`",
            Value::Array(_) => "a YAML list",
            _ => "a scalar",
        };
        return Some(format!("not a Kubernetes object ({what})"));
    }
    let api = v.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    if api.starts_with("kustomize.config.k8s.io/") {
        return Some("a kustomize configuration file, not a Kubernetes object".to_owned());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lists_flatten_and_non_objects_become_notes() {
        let docs = thule_core::yaml::parse_str(
            "a: 1\n---\n---\napiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: ConfigMap, metadata: {name: x}}\n- {apiVersion: v1, kind: Secret, metadata: {name: yv}}\n---\napiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n",
            "f.yaml",
            &thule_core::ParseOptions::default(),
        )
        .unwrap();
        let (mut objects, mut notes) = (Vec::new(), Vec::new());
        let source = Source {
            project: "p",
            label: "f.yaml".into(),
        };
        collect(docs, &source, &mut objects, &mut notes).unwrap();
        let names: Vec<_> = objects.iter().map(|m| m.key.to_string()).collect();
        assert_eq!(names, ["ConfigMap x", "Secret yv"]);
        assert_eq!(objects[1].origin.line, 4);
        assert_eq!(notes.len(), 2);
        assert_eq!(
            notes[0].to_string(),
            "f.yaml:1: skipped: not a Kubernetes object (a YAML mapping without `apiVersion` and `kind`)"
        );
        assert!(notes[1].message.contains("kustomize configuration"));
    }

    #[test]
    fn an_object_without_a_name_is_an_error() {
        let err = collect_value(
            json!({"apiVersion": "v1", "kind": "ConfigMap"}),
            Origin {
                source: "x.yaml".into(),
                line: 7,
                ..Origin::default()
            },
            &mut Vec::new(),
            &mut Vec::new(),
        )
        .unwrap_err();
        assert!(crate::error::chain(&err).contains("x.yaml:7: `metadata.name` is missing"));
    }
}

//! Every object can be listed, unchanged ones as no-ops: also those whose documents were
//! byte-identical in both renders and never parsed ([`identify_unchanged`]), in canonical
//! order among the parsed ones, once each.

use thule_core::ObjectKey;
use thule_diff::input::{
    identify_unchanged, parse_documents, parse_stream, skip_identical, split_documents,
};
use thule_diff::{Action, DiffInput, DiffOptions, Plan, diff, render};

const BASE: &str = "---
apiVersion: v1
kind: ConfigMap
metadata:
  name: zeta
  namespace: shop
data: {k: '1'}
---
apiVersion: v1
kind: Namespace
metadata:
  name: shop
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
spec:
  replicas: 1
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: alpha
  namespace: shop
data: {k: '1'}
";

fn plans(include_noop: bool, inventory: Option<&[ObjectKey]>) -> (Plan, Plan) {
    let desired_text = BASE.replace("replicas: 1", "replicas: 2");
    let opts = DiffOptions {
        include_noop,
        ..DiffOptions::default()
    };
    // Everything parsed.
    let base = parse_stream(BASE, "base.yaml").unwrap();
    let desired = parse_stream(&desired_text, "desired.yaml").unwrap();
    let full = diff(&DiffInput {
        base: Some(&base),
        desired: &desired,
        live: None,
        inventory,
        identical_skipped: 0,
        identical: &[],
        options: &opts,
    })
    .unwrap();
    // Identical documents skipped and identified from their lines.
    let (b, d, same) = skip_identical(
        split_documents(BASE, "base.yaml"),
        split_documents(&desired_text, "desired.yaml"),
    );
    assert_eq!(same.len(), 3);
    let (b, d) = (parse_documents(&b).unwrap(), parse_documents(&d).unwrap());
    let unchanged = identify_unchanged(&same);
    let fast = diff(&DiffInput {
        base: Some(&b),
        desired: &d,
        live: None,
        inventory,
        identical_skipped: 0,
        identical: &unchanged,
        options: &opts,
    })
    .unwrap();
    (full, fast)
}

fn names(plan: &Plan) -> Vec<(String, &'static str)> {
    plan.objects
        .iter()
        .map(|o| (format!("{}", o.key), o.action.as_str()))
        .collect()
}

#[test]
fn unparsed_identical_objects_are_listed_like_parsed_ones() {
    let (full, fast) = plans(true, None);
    assert_eq!(render::to_json(&fast), render::to_json(&full));
    assert_eq!(
        names(&fast),
        [
            ("Namespace shop".to_owned(), "noop"),
            ("ConfigMap shop/alpha".to_owned(), "noop"),
            ("ConfigMap shop/zeta".to_owned(), "noop"),
            ("Deployment.apps shop/web".to_owned(), "patch"),
        ]
    );
    assert_eq!(fast.summary.noop, 3);
    // Without listing, the same counts and only the change.
    let (full, fast) = plans(false, None);
    assert_eq!(render::to_json(&fast), render::to_json(&full));
    assert_eq!(
        names(&fast),
        [("Deployment.apps shop/web".to_owned(), "patch")]
    );
    assert_eq!(fast.summary.noop, 3);
}

#[test]
fn an_unchanged_object_in_the_inventory_is_listed_once() {
    let inventory = [ObjectKey::from_api_version(
        "v1",
        "ConfigMap",
        "shop",
        "alpha",
    )];
    let (full, fast) = plans(true, Some(&inventory));
    assert_eq!(render::to_json(&fast), render::to_json(&full));
    let alpha: Vec<_> = fast.objects.iter().filter(|o| o.name == "alpha").collect();
    assert_eq!(alpha.len(), 1);
    assert_eq!(alpha[0].action, Action::Noop);
}

//! Normalize + diff over arbitrary base / desired / live streams: never panics, renders every
//! format, and a render diffed against itself changes nothing.
#![no_main]

use std::collections::BTreeMap;

use libfuzzer_sys::fuzz_target;
use thule_core::LiveOutcome;
use thule_diff::input::parse_stream;
use thule_diff::{DiffInput, DiffOptions, diff, render};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // Three streams separated by a line `%%%`: base, desired, live.
    let mut parts = text.splitn(3, "\n%%%\n");
    let base = parts.next().and_then(|t| parse_stream(t, "base.yaml").ok());
    let Some(desired) = parts
        .next()
        .and_then(|t| parse_stream(t, "desired.yaml").ok())
    else {
        return;
    };
    let live: Option<BTreeMap<_, _>> = parts
        .next()
        .and_then(|t| parse_stream(t, "live.yaml").ok())
        .map(|ms| {
            ms.into_iter()
                .map(|m| (m.key, LiveOutcome::Found(m.object)))
                .collect()
        });
    for applier in ["flux", "argocd"] {
        let options = DiffOptions {
            applier: serde_json::from_value(serde_json::Value::String(applier.into()))
                .unwrap_or_default(),
            default_namespace: Some("default".into()),
            ..DiffOptions::default()
        };
        let plan = diff(&DiffInput {
            base: base.as_deref(),
            desired: &desired,
            live: live.as_ref(),
            inventory: None,
            identical_skipped: 0,
            options: &options,
        })
        .expect("default options are valid");
        let _ = render::to_json(&plan);
        let _ = render::to_markdown(&plan);
        let _ = render::to_text(&plan);
        let same = diff(&DiffInput {
            base: Some(&desired),
            desired: &desired,
            live: None,
            inventory: None,
            identical_skipped: 0,
            options: &options,
        })
        .expect("default options are valid");
        assert!(
            !same.has_changes(),
            "self-diff changed:\n{}",
            render::to_text(&same)
        );
    }
});

//! `docs/risk-rules.md` is generated from the rule table. To refresh it after changing
//! `thule-diff/src/risk/rules.rs`: `THULE_UPDATE_DOCS=1 cargo test -p thule-diff --test risk docs`.

use std::path::PathBuf;

use thule_diff::risk::{RULES, rules_markdown};

fn doc() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/risk-rules.md")
}

#[test]
fn committed_rule_docs_are_current() {
    let generated = rules_markdown();
    if std::env::var_os("THULE_UPDATE_DOCS").is_some() {
        std::fs::write(doc(), &generated).expect("write docs/risk-rules.md");
    }
    let committed = std::fs::read_to_string(doc()).unwrap_or_default();
    assert!(
        committed == generated,
        "docs/risk-rules.md is stale; run THULE_UPDATE_DOCS=1 cargo test -p thule-diff --test risk docs"
    );
}

#[test]
fn the_rule_table_is_well_formed() {
    let mut ids: Vec<&str> = RULES.iter().map(|r| r.id).collect();
    let n = ids.len();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), n, "duplicate rule ids");
    for r in RULES {
        assert!(
            r.id.bytes().all(|b| b.is_ascii_uppercase() || b == b'_'),
            "{}",
            r.id
        );
        assert!(
            !r.description.is_empty() && !r.description.contains('\n'),
            "{}",
            r.id
        );
        assert!(rules_markdown().contains(&format!("| `{}` |", r.id)));
    }
}

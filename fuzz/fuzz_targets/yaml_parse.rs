//! YAML splitting and parsing: never panics; the fast reader for rendered YAML answers
//! exactly as the general parser (value or error); whatever parses prints canonically and
//! reads back to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use thule_core::yaml::{ParseOptions, parse_str};
use thule_diff::input::{parse_documents, split_documents};
use thule_diff::yamlout::to_yaml;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let docs = split_documents(text, "fuzz.yaml");
    assert_eq!(docs.iter().map(|d| d.text).collect::<String>(), text);
    let _ = parse_documents(&docs);
    let parsed = parse_str(text, "fuzz.yaml", &ParseOptions::default());
    let general = parse_str(
        text,
        "fuzz.yaml",
        &ParseOptions::default().general_parser_only(),
    );
    assert_eq!(parsed, general, "fast reader and general parser differ");
    let Ok(parsed) = parsed else {
        return;
    };
    for doc in parsed {
        let printed = to_yaml(&doc.value);
        let back = parse_str(&printed, "printed.yaml", &ParseOptions::default())
            .unwrap_or_else(|e| panic!("canonical YAML does not parse: {e}\n{printed}"));
        assert_eq!(back.len(), 1, "{printed}");
        assert_eq!(back[0].value, doc.value, "{printed}");
    }
});

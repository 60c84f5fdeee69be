//! The Kubernetes YAML dialect: YAML 1.1 scalars, decoded to JSON values.
//!
//! Every Kubernetes tool decodes manifests through `sigs.k8s.io/yaml`, which converts YAML to
//! JSON with go-yaml v2, a YAML 1.1 implementation (spec/diff-semantics.md §3.1). A YAML 1.2
//! reader disagrees with kubectl on plain scalars such as `on`, `yes`, `0644` and `1_000`, so
//! this module resolves plain scalars itself, from go-yaml v2's table:
//!
//! | plain scalar | value |
//! |---|---|
//! | `y Y yes Yes YES on On ON true True TRUE` | `true` |
//! | `n N no No NO off Off OFF false False FALSE` | `false` |
//! | `~ null Null NULL` and empty | `null` |
//! | `0644`, `0x1F`, `0o17`, `0b101`, `1_000`, `+5` | integers (Go `ParseInt(s, 0, 64)` after removing `_`) |
//! | `1.5`, `1e3`, `08` | numbers; integral values become integers, as JSON re-encoding does |
//!
//! Quoted and block scalars are always strings. Mapping keys are resolved the same way and then
//! stringified (`yes:` becomes the key `"true"`), as `sigs.k8s.io/yaml` does.
//!
//! The parser is strict where silent acceptance would lose data: duplicate keys, tabs used as
//! indentation, non-UTF-8 input, complex keys, infinite numbers and alias expansion beyond a
//! budget (the "billion laughs" bomb) are all errors that name the file, line and column.
//!
//! The low-level YAML tokenizer is `saphyr-parser`; none of its types appear in this API.
//! Rendered manifests first go through a fast reader for the block-style subset that `helm`,
//! `kustomize` and `kubectl` print (about 3x faster); it declines anything else, which the
//! general parser then reads, so both always give the same answer
//! ([`ParseOptions::fast_path`]).

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap};

use saphyr_parser::{Event, Parser, ScalarStyle, ScanError, Span};
use serde_json::{Map, Number, Value};

mod fast;

/// A position in a source file, 1-based line and column (columns count characters).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Position {
    /// Line, starting at 1.
    pub line: usize,
    /// Column, starting at 1, in characters.
    pub column: usize,
}

impl std::fmt::Display for Position {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// A YAML syntax or dialect error, located in its source file.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}:{column}: {message}")]
pub struct YamlError {
    /// The file (or other source label) being parsed.
    pub file: String,
    /// Line, starting at 1.
    pub line: usize,
    /// Column, starting at 1.
    pub column: usize,
    /// What is wrong, in one line.
    pub message: String,
}

/// Options for [`parse_stream`].
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ParseOptions {
    /// Record the position of every node, so callers can point at a field
    /// ([`Document::position`]). Off by default: rendered manifests do not need it.
    pub record_positions: bool,
    /// The most nodes that alias expansion may add to one stream before parsing fails.
    pub max_alias_nodes: usize,
    /// Try the fast reader for the block-style subset that renderers print first (on by
    /// default; it answers exactly as the general parser or hands the text over to it).
    /// Off forces the general parser, for differential tests.
    pub fast_path: bool,
}

impl Default for ParseOptions {
    fn default() -> Self {
        Self {
            record_positions: false,
            max_alias_nodes: 100_000,
            fast_path: true,
        }
    }
}

impl ParseOptions {
    /// Record positions of every node (for configuration files and error messages).
    #[must_use]
    pub fn with_positions(mut self) -> Self {
        self.record_positions = true;
        self
    }

    /// Always use the general parser (see [`ParseOptions::fast_path`]).
    #[must_use]
    pub fn general_parser_only(mut self) -> Self {
        self.fast_path = false;
        self
    }
}

/// One document of a YAML stream, decoded to a JSON value.
#[derive(Clone, Debug, PartialEq)]
pub struct Document {
    /// The decoded value. An empty document is `Value::Null`.
    pub value: Value,
    /// Index of the document in the stream, starting at 0.
    pub index: usize,
    /// Where the document's content starts.
    pub start: Position,
    positions: Option<BTreeMap<String, NodePositions>>,
}

#[derive(Clone, Copy, Debug, PartialEq)]
struct NodePositions {
    key: Option<Position>,
    value: Position,
}

impl Document {
    /// Position of the value at a JSON pointer (`/spec/replicas`), if positions were recorded.
    pub fn position(&self, pointer: &str) -> Option<Position> {
        self.positions.as_ref()?.get(pointer).map(|p| p.value)
    }

    /// Position of the mapping key that holds the value at a JSON pointer, or of the value
    /// itself when it is not a mapping entry.
    pub fn key_position(&self, pointer: &str) -> Option<Position> {
        self.positions
            .as_ref()?
            .get(pointer)
            .map(|p| p.key.unwrap_or(p.value))
    }

    /// The nearest recorded position for a pointer: the pointer itself, or its closest ancestor.
    pub fn nearest_position(&self, pointer: &str) -> Option<Position> {
        let mut p = pointer;
        loop {
            if let Some(pos) = self.key_position(p) {
                return Some(pos);
            }
            match p.rfind('/') {
                Some(i) => p = &p[..i],
                None => return self.position(""),
            }
        }
    }
}

/// Escape one JSON pointer reference token (RFC 6901).
pub fn escape_pointer_token(token: &str) -> Cow<'_, str> {
    if token.contains(['~', '/']) {
        Cow::Owned(token.replace('~', "~0").replace('/', "~1"))
    } else {
        Cow::Borrowed(token)
    }
}

/// Parse a whole YAML stream (all documents) from bytes.
///
/// `file` labels errors. Empty documents are returned as `Value::Null`; callers decide whether
/// to skip them.
///
/// # Errors
/// Returns a [`YamlError`] naming `file`, line and column for invalid UTF-8, YAML syntax errors,
/// duplicate keys, complex keys, non-finite numbers and alias bombs.
pub fn parse_stream(
    bytes: &[u8],
    file: &str,
    options: &ParseOptions,
) -> Result<Vec<Document>, YamlError> {
    let text = decode_utf8(bytes, file)?;
    parse_str(text, file, options)
}

/// Parse a whole YAML stream from a string. See [`parse_stream`].
///
/// # Errors
/// As [`parse_stream`].
pub fn parse_str(
    text: &str,
    file: &str,
    options: &ParseOptions,
) -> Result<Vec<Document>, YamlError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if options.fast_path
        && !options.record_positions
        && let Some(docs) = fast::parse(text)
    {
        return Ok(docs);
    }
    let mut builder = Builder::new(file, options);
    let mut parser = Parser::new_from_str(text);
    while let Some(next) = parser.next_event() {
        let (event, span) = next.map_err(|e| {
            let mut err = scan_error(&e, file);
            // Point at the tab itself, not at the character after it.
            if err.message.contains("tab")
                && let Some(col) = text
                    .lines()
                    .nth(err.line.saturating_sub(1))
                    .and_then(|l| l.chars().position(|c| c == '\t'))
            {
                err.column = col + 1;
            }
            err
        })?;
        builder.on_event(event, span)?;
    }
    Ok(builder.documents)
}

fn decode_utf8<'a>(bytes: &'a [u8], file: &str) -> Result<&'a str, YamlError> {
    std::str::from_utf8(bytes).map_err(|e| {
        let valid = &bytes[..e.valid_up_to()];
        // The prefix is valid UTF-8 by construction.
        let prefix = std::str::from_utf8(valid).unwrap_or_default();
        let line = prefix.matches('\n').count() + 1;
        let column = prefix.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        YamlError {
            file: file.to_owned(),
            line,
            column,
            message: format!(
                "invalid UTF-8 (byte 0x{:02x}); save the file as UTF-8",
                bytes[e.valid_up_to()]
            ),
        }
    })
}

fn scan_error(e: &ScanError, file: &str) -> YamlError {
    let m = e.marker();
    let mut message = e.info().to_owned();
    if message.contains("tab") {
        message.push_str(" (YAML indentation must use spaces, not tabs)");
    }
    YamlError {
        file: file.to_owned(),
        line: m.line(),
        column: m.col() + 1,
        message,
    }
}

fn pos(span: &Span) -> Position {
    Position {
        line: span.start.line(),
        column: span.start.col() + 1,
    }
}

enum Frame {
    Map {
        map: Map<String, Value>,
        pending_key: Option<(String, Position)>,
        explicit: BTreeSet<String>,
        merges: Vec<(Value, Position)>,
        anchor: usize,
        pointer: String,
        at: Position,
    },
    Seq {
        items: Vec<Value>,
        anchor: usize,
        pointer: String,
    },
}

struct Builder<'o> {
    file: &'o str,
    options: &'o ParseOptions,
    documents: Vec<Document>,
    stack: Vec<Frame>,
    anchors: HashMap<usize, (Value, usize)>,
    alias_nodes: usize,
    current: Option<Value>,
    doc_start: Position,
    positions: Option<BTreeMap<String, NodePositions>>,
}

const MERGE_KEY: &str = "<<";

impl<'o> Builder<'o> {
    fn new(file: &'o str, options: &'o ParseOptions) -> Self {
        Self {
            file,
            options,
            documents: Vec::new(),
            stack: Vec::new(),
            anchors: HashMap::new(),
            alias_nodes: 0,
            current: None,
            doc_start: Position { line: 1, column: 1 },
            positions: None,
        }
    }

    fn err(&self, at: Position, message: impl Into<String>) -> YamlError {
        YamlError {
            file: self.file.to_owned(),
            line: at.line,
            column: at.column,
            message: message.into(),
        }
    }

    fn on_event(&mut self, event: Event<'_>, span: Span) -> Result<(), YamlError> {
        let at = pos(&span);
        let starts_node = matches!(
            event,
            Event::Scalar(..)
                | Event::SequenceStart(..)
                | Event::MappingStart(..)
                | Event::Alias(_)
        );
        if starts_node && self.stack.is_empty() && self.current.is_none() {
            self.doc_start = at;
        }
        match event {
            Event::DocumentStart(_) => {
                self.anchors.clear();
                self.current = None;
                self.doc_start = at;
                self.positions = self.options.record_positions.then(BTreeMap::new);
            }
            Event::DocumentEnd => {
                let value = self.current.take().unwrap_or(Value::Null);
                self.documents.push(Document {
                    value,
                    index: self.documents.len(),
                    start: self.doc_start,
                    positions: self.positions.take(),
                });
            }
            Event::Scalar(text, style, anchor, tag) => {
                let tag = tag.map(|t| t.suffix.clone());
                let value = if self.expecting_key() {
                    self.push_key(&text, style, tag.as_deref(), at)?;
                    return Ok(());
                } else {
                    resolve_scalar(&text, style, tag.as_deref()).map_err(|m| self.err(at, m))?
                };
                if anchor > 0 {
                    self.anchors.insert(anchor, (value.clone(), 1));
                }
                self.push_value(value, at, 1)?;
            }
            Event::SequenceStart(anchor, _) => {
                if self.expecting_key() {
                    return Err(self.err(at, "complex mapping keys (sequences) are not supported"));
                }
                let pointer = self.child_pointer();
                self.record(at);
                self.stack.push(Frame::Seq {
                    items: Vec::new(),
                    anchor,
                    pointer,
                });
            }
            Event::MappingStart(anchor, _) => {
                if self.expecting_key() {
                    return Err(self.err(at, "complex mapping keys (mappings) are not supported"));
                }
                let pointer = self.child_pointer();
                self.record(at);
                self.stack.push(Frame::Map {
                    map: Map::new(),
                    pending_key: None,
                    explicit: BTreeSet::new(),
                    merges: Vec::new(),
                    anchor,
                    pointer,
                    at,
                });
            }
            Event::SequenceEnd => {
                let Some(Frame::Seq { items, anchor, .. }) = self.stack.pop() else {
                    return Err(self.err(at, "unbalanced sequence end"));
                };
                let value = Value::Array(items);
                self.finish_collection(value, anchor, at)?;
            }
            Event::MappingEnd => {
                let Some(Frame::Map {
                    mut map,
                    merges,
                    explicit,
                    anchor,
                    at: map_at,
                    ..
                }) = self.stack.pop()
                else {
                    return Err(self.err(at, "unbalanced mapping end"));
                };
                for (merge, merge_at) in merges {
                    let sources = match merge {
                        Value::Object(m) => vec![m],
                        Value::Array(items) => {
                            let mut out = Vec::new();
                            for item in items {
                                match item {
                                    Value::Object(m) => out.push(m),
                                    _ => {
                                        return Err(self.err(
                                            merge_at,
                                            "merge key `<<` takes a mapping or a list of mappings",
                                        ));
                                    }
                                }
                            }
                            out
                        }
                        _ => {
                            return Err(self.err(
                                merge_at,
                                "merge key `<<` takes a mapping or a list of mappings",
                            ));
                        }
                    };
                    for source in sources {
                        for (k, v) in source {
                            if !explicit.contains(&k) && !map.contains_key(&k) {
                                map.insert(k, v);
                            }
                        }
                    }
                }
                let _ = map_at;
                self.finish_collection(Value::Object(map), anchor, at)?;
            }
            Event::Alias(id) => {
                let Some((value, size)) = self.anchors.get(&id).cloned() else {
                    return Err(self.err(at, "alias refers to an unknown anchor"));
                };
                self.alias_nodes = self.alias_nodes.saturating_add(size);
                if self.alias_nodes > self.options.max_alias_nodes {
                    return Err(self.err(
                        at,
                        format!(
                            "alias expansion exceeds {} nodes (a YAML alias bomb?); remove the aliases",
                            self.options.max_alias_nodes
                        ),
                    ));
                }
                if self.expecting_key() {
                    let key = match &value {
                        Value::String(s) => s.clone(),
                        Value::Object(_) | Value::Array(_) => {
                            return Err(self.err(at, "complex mapping keys are not supported"));
                        }
                        other => other.to_string(),
                    };
                    self.set_key(key, at)?;
                } else {
                    self.record(at);
                    self.push_value(value, at, size)?;
                }
            }
            Event::StreamStart | Event::StreamEnd | Event::Nothing => {}
        }
        Ok(())
    }

    fn expecting_key(&self) -> bool {
        matches!(
            self.stack.last(),
            Some(Frame::Map {
                pending_key: None,
                ..
            })
        )
    }

    fn child_pointer(&self) -> String {
        if !self.options.record_positions {
            return String::new();
        }
        match self.stack.last() {
            None => String::new(),
            Some(Frame::Seq { items, pointer, .. }) => format!("{pointer}/{}", items.len()),
            Some(Frame::Map {
                pending_key: Some((k, _)),
                pointer,
                ..
            }) => format!("{pointer}/{}", escape_pointer_token(k)),
            Some(Frame::Map { pointer, .. }) => pointer.clone(),
        }
    }

    fn record(&mut self, at: Position) {
        if self.positions.is_none() {
            return;
        }
        let pointer = self.child_pointer();
        let key = match self.stack.last() {
            Some(Frame::Map {
                pending_key: Some((_, key_at)),
                ..
            }) => Some(*key_at),
            _ => None,
        };
        if let Some(p) = self.positions.as_mut() {
            p.entry(pointer).or_insert(NodePositions { key, value: at });
        }
    }

    fn push_key(
        &mut self,
        text: &str,
        style: ScalarStyle,
        tag: Option<&str>,
        at: Position,
    ) -> Result<(), YamlError> {
        if style == ScalarStyle::Plain && text == MERGE_KEY && tag.is_none() {
            return self.set_key(MERGE_KEY.to_owned(), at);
        }
        let value = resolve_scalar(text, style, tag).map_err(|m| self.err(at, m))?;
        self.set_key(key_string(value), at)
    }

    fn set_key(&mut self, key: String, at: Position) -> Result<(), YamlError> {
        let duplicate = match self.stack.last() {
            Some(Frame::Map { explicit, .. }) => key != MERGE_KEY && explicit.contains(&key),
            _ => false,
        };
        if duplicate {
            return Err(self.err(
                at,
                format!("duplicate key `{key}` in the same mapping; keep only one"),
            ));
        }
        if let Some(Frame::Map {
            pending_key,
            explicit,
            ..
        }) = self.stack.last_mut()
        {
            if key != MERGE_KEY {
                explicit.insert(key.clone());
            }
            *pending_key = Some((key, at));
        }
        Ok(())
    }

    fn finish_collection(
        &mut self,
        value: Value,
        anchor: usize,
        at: Position,
    ) -> Result<(), YamlError> {
        if anchor > 0 {
            let size = count_nodes(&value);
            self.anchors.insert(anchor, (value.clone(), size));
        }
        self.push_value(value, at, 0)
    }

    /// Attach a finished value to its parent (or make it the document root).
    fn push_value(&mut self, value: Value, at: Position, _size: usize) -> Result<(), YamlError> {
        if matches!(
            value,
            Value::String(_) | Value::Number(_) | Value::Bool(_) | Value::Null
        ) {
            self.record(at);
        }
        match self.stack.last_mut() {
            None => {
                self.current = Some(value);
            }
            Some(Frame::Seq { items, .. }) => items.push(value),
            Some(Frame::Map {
                map,
                pending_key,
                merges,
                ..
            }) => {
                let (key, key_at) = pending_key
                    .take()
                    .expect("a value in a mapping always follows its key");
                if key == MERGE_KEY {
                    merges.push((value, key_at));
                } else {
                    map.insert(key, value);
                }
            }
        }
        Ok(())
    }
}

fn count_nodes(value: &Value) -> usize {
    match value {
        Value::Array(items) => 1 + items.iter().map(count_nodes).sum::<usize>(),
        Value::Object(map) => 1 + map.values().map(count_nodes).sum::<usize>(),
        _ => 1,
    }
}

/// Resolve one scalar the way go-yaml v2 / `sigs.k8s.io/yaml` does.
///
/// # Errors
/// Returns a message for numbers JSON cannot hold (`.inf`, `.nan`) and for values that a
/// core-schema tag (`!!int`, `!!bool`, …) says must be of a type they are not.
pub fn resolve_scalar(text: &str, style: ScalarStyle, tag: Option<&str>) -> Result<Value, String> {
    if style != ScalarStyle::Plain {
        return Ok(match tag {
            Some("int" | "float" | "bool" | "null") => resolve_plain(text)?,
            _ => Value::String(text.to_owned()),
        });
    }
    match tag {
        Some("str" | "binary") => Ok(Value::String(text.to_owned())),
        Some(t @ ("int" | "float" | "bool" | "null")) => {
            let v = resolve_plain(text)?;
            let ok = match t {
                "int" => v.is_i64() || v.is_u64(),
                "float" => v.is_number(),
                "bool" => v.is_boolean(),
                _ => v.is_null(),
            };
            if ok {
                Ok(v)
            } else {
                Err(format!("value `{text}` is not a valid !!{t}"))
            }
        }
        _ => resolve_plain(text),
    }
}

/// Whether `c` is a YAML indicator character, which cannot start a plain scalar (with
/// exceptions the readers and printers here do not rely on: `-x`, `?x`, `:x`).
pub fn is_indicator(c: u8) -> bool {
    matches!(
        c,
        b'-' | b'?'
            | b':'
            | b','
            | b'['
            | b']'
            | b'{'
            | b'}'
            | b'#'
            | b'&'
            | b'*'
            | b'!'
            | b'|'
            | b'>'
            | b'\''
            | b'"'
            | b'%'
            | b'@'
            | b'`'
    )
}

/// A mapping key as a JSON object key: strings as they are, other scalars printed
/// (`null`, `true`, `1`).
pub(crate) fn key_string(v: Value) -> String {
    match v {
        Value::String(s) => s,
        Value::Null => "null".to_owned(),
        other => other.to_string(),
    }
}

/// Resolve a plain scalar from the YAML 1.1 table of go-yaml v2.
///
/// # Errors
/// Returns a message for non-finite numbers, which JSON cannot represent.
pub fn resolve_plain(text: &str) -> Result<Value, String> {
    // Only plain scalars starting with a digit, sign, dot, `~` or the first letter of a
    // YAML 1.1 boolean/null word can resolve to anything but themselves.
    if let Some(&first) = text.as_bytes().first()
        && first.is_ascii_alphabetic()
        && !b"yYnNoOtTfF".contains(&first)
    {
        return Ok(Value::String(text.to_owned()));
    }
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Ok(Value::Null),
        "y" | "Y" | "yes" | "Yes" | "YES" | "on" | "On" | "ON" | "true" | "True" | "TRUE" => {
            return Ok(Value::Bool(true));
        }
        "n" | "N" | "no" | "No" | "NO" | "off" | "Off" | "OFF" | "false" | "False" | "FALSE" => {
            return Ok(Value::Bool(false));
        }
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" | "-.inf" | "-.Inf" | "-.INF"
        | ".nan" | ".NaN" | ".NAN" => {
            return Err(format!(
                "`{text}` is not a finite number and cannot be represented in JSON; quote it if it is a string"
            ));
        }
        _ => {}
    }
    let first = text.as_bytes()[0];
    if !(first.is_ascii_digit() || matches!(first, b'+' | b'-' | b'.')) {
        return Ok(Value::String(text.to_owned()));
    }
    let plain: Cow<'_, str> = if text.contains('_') {
        Cow::Owned(text.replace('_', ""))
    } else {
        Cow::Borrowed(text)
    };
    if let Some(v) = parse_go_int(&plain) {
        return Ok(v);
    }
    if is_yaml_float(&plain)
        && let Ok(f) = plain.parse::<f64>()
        && f.is_finite()
    {
        return Ok(float_value(f));
    }
    Ok(Value::String(text.to_owned()))
}

/// A float as JSON re-encoding leaves it: integral values within `i64` become integers.
fn float_value(f: f64) -> Value {
    // Go's encoding/json writes integral float64 values below 1e21 without a fraction, and the
    // decoder then reads them back as integers.
    #[allow(clippy::cast_possible_truncation, clippy::cast_precision_loss)]
    if f.fract() == 0.0 && f.abs() < 9.0e15 {
        return Value::Number(Number::from(f as i64));
    }
    Number::from_f64(f).map_or(Value::Null, Value::Number)
}

/// `strconv.ParseInt(s, 0, 64)` then `ParseUint`: sign, then `0x`, `0o`, `0b` or a leading
/// `0` for octal.
fn parse_go_int(s: &str) -> Option<Value> {
    let (neg, body) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    if body.is_empty() {
        return None;
    }
    let (radix, digits) = if let Some(r) = body.strip_prefix("0x").or(body.strip_prefix("0X")) {
        (16, r)
    } else if let Some(r) = body.strip_prefix("0o").or(body.strip_prefix("0O")) {
        (8, r)
    } else if let Some(r) = body.strip_prefix("0b").or(body.strip_prefix("0B")) {
        (2, r)
    } else if body.len() > 1 && body.starts_with('0') {
        (8, &body[1..])
    } else {
        (10, body)
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let magnitude = u128::from_str_radix(digits, radix).ok()?;
    if neg {
        let v = i128::try_from(magnitude).ok()?.checked_neg()?;
        i64::try_from(v).ok().map(|v| Value::Number(v.into()))
    } else if let Ok(v) = i64::try_from(magnitude) {
        Some(Value::Number(v.into()))
    } else {
        u64::try_from(magnitude)
            .ok()
            .map(|v| Value::Number(v.into()))
    }
}

/// go-yaml v2's `yamlStyleFloat`: `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`.
fn is_yaml_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    if i < b.len() && (b[i] == b'-' || b[i] == b'+') {
        i += 1;
    }
    let int_start = i;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    let int_digits = i - int_start;
    if int_digits == 0 {
        // `.5` form
        if i >= b.len() || b[i] != b'.' {
            return false;
        }
        i += 1;
        let frac_start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == frac_start {
            return false;
        }
    } else if i < b.len() && b[i] == b'.' {
        i += 1;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'-' || b[i] == b'+') {
            i += 1;
        }
        let exp_start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == exp_start {
            return false;
        }
    }
    i == b.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn one(src: &str) -> Value {
        let docs = parse_str(src, "t.yaml", &ParseOptions::default()).unwrap();
        assert_eq!(docs.len(), 1, "{docs:?}");
        docs.into_iter().next().unwrap().value
    }

    #[test]
    fn yaml11_scalars_resolve_like_kubectl() {
        let v = one(
            "a: on\nb: yes\nc: 'on'\nd: 0644\ne: 0x1F\nf: 1_000\ng: ~\nh: 1.5\ni: 3.0\nj: n\nk: \"0644\"\nl: 08\nm: 0b101\nnn: -12\no: 1e3\np: .5\nq: 12Gi\nr: 1.2.3\n",
        );
        assert_eq!(
            v,
            json!({"a": true, "b": true, "c": "on", "d": 420, "e": 31, "f": 1000, "g": null,
                   "h": 1.5, "i": 3, "j": false, "k": "0644", "l": 8, "m": 5, "nn": -12,
                   "o": 1000, "p": 0.5, "q": "12Gi", "r": "1.2.3"})
        );
    }

    #[test]
    fn keys_are_resolved_then_stringified() {
        assert_eq!(one("yes: 1\n2: b\n"), json!({"true": 1, "2": "b"}));
    }

    #[test]
    fn block_scalars_are_strings() {
        assert_eq!(
            one("a: |\n  on\nb: >-\n  1\n"),
            json!({"a": "on\n", "b": "1"})
        );
    }

    #[test]
    fn multi_document_streams_keep_empty_documents() {
        let docs = parse_str("a: 1\n---\n---\nb: 2\n", "t.yaml", &ParseOptions::default()).unwrap();
        let values: Vec<_> = docs.iter().map(|d| d.value.clone()).collect();
        assert_eq!(values, vec![json!({"a": 1}), Value::Null, json!({"b": 2})]);
        assert_eq!(docs[2].start.line, 4);
    }

    #[test]
    fn duplicate_keys_fail_with_position() {
        let e = parse_str(
            "a: 1\nb:\n  c: 1\n  c: 2\n",
            "dup.yaml",
            &ParseOptions::default(),
        )
        .unwrap_err();
        assert_eq!((e.line, e.column), (4, 3), "{e}");
        assert!(e.message.contains("duplicate key `c`"), "{e}");
        assert_eq!(e.file, "dup.yaml");
    }

    #[test]
    fn tabs_fail_with_position() {
        let e = parse_str("a:\n\tb: 1\n", "tab.yaml", &ParseOptions::default()).unwrap_err();
        assert_eq!(e.line, 2, "{e}");
        assert!(e.to_string().starts_with("tab.yaml:2:"), "{e}");
    }

    #[test]
    fn invalid_utf8_is_located() {
        let e =
            parse_stream(b"a: 1\nb: \xff\xfe\n", "bin.yaml", &ParseOptions::default()).unwrap_err();
        assert_eq!((e.line, e.column), (2, 4), "{e}");
        assert!(e.message.contains("UTF-8"));
    }

    #[test]
    fn alias_bomb_is_refused() {
        let mut src = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        let mut prev = 'a';
        for name in ['b', 'c', 'd', 'e', 'f', 'g', 'h', 'i'] {
            src.push_str(&format!(
                "{name}: &{name} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"
            ));
            prev = name;
        }
        let e = parse_str(&src, "bomb.yaml", &ParseOptions::default()).unwrap_err();
        assert!(e.message.contains("alias"), "{e}");
    }

    #[test]
    fn aliases_and_merge_keys_expand() {
        let v = one("base: &b {x: 1, z: 2}\nuse:\n  <<: *b\n  z: 3\nlist: [*b]\n");
        assert_eq!(
            v,
            json!({"base": {"x": 1, "z": 2}, "use": {"x": 1, "z": 3}, "list": [{"x": 1, "z": 2}]})
        );
    }

    #[test]
    fn infinite_numbers_are_errors() {
        let e = parse_str("a: .inf\n", "inf.yaml", &ParseOptions::default()).unwrap_err();
        assert_eq!((e.line, e.column), (1, 4));
    }

    #[test]
    fn positions_point_at_keys_and_values() {
        let docs = parse_str(
            "kind: A\nspec:\n  items:\n  - name: x\n    port: 80\n",
            "p.yaml",
            &ParseOptions::default().with_positions(),
        )
        .unwrap();
        let d = &docs[0];
        assert_eq!(
            d.key_position("/spec/items/0/port"),
            Some(Position { line: 5, column: 5 })
        );
        assert_eq!(
            d.position("/spec/items/0/port"),
            Some(Position {
                line: 5,
                column: 11
            })
        );
        assert_eq!(
            d.key_position("/spec"),
            Some(Position { line: 2, column: 1 })
        );
        assert_eq!(
            d.nearest_position("/spec/items/0/missing"),
            Some(Position { line: 4, column: 5 })
        );
    }
}

//! A fast reader for the block-style YAML that renderers print.
//!
//! `helm template`, `kustomize build` and `kubectl get -o yaml` all print the same narrow
//! subset of YAML: block mappings and sequences, plain and quoted scalars (folded over lines),
//! literal block scalars and small flow collections on one line. This module reads exactly
//! that subset, line by line, straight into JSON values, several times faster than the
//! general event parser. On anything else (anchors, tags, folded `>` scalars, escaped line
//! breaks, tabs, unusual indentation, duplicate keys, any error) it gives up and returns
//! `None`, and the caller parses the text with the general parser, which also produces the
//! located error messages. The fast reader therefore never decides what a document means on
//! its own where the general parser might disagree: differential tests and the `yaml_parse`
//! fuzz target check that whenever it answers, both answers are identical.

use serde_json::{Map, Value};

use super::{Document, Position, is_indicator, key_string, resolve_plain};

/// Why the fast reader stopped: the text is outside its subset (not necessarily invalid).
struct Bail;

type R<T> = Result<T, Bail>;

#[derive(Clone, Copy)]
struct Line<'a> {
    /// Leading spaces.
    indent: usize,
    /// The line after its indentation, without the line break and trailing spaces.
    text: &'a str,
    /// The whole line, without the line break.
    raw: &'a str,
    /// 1-based line number.
    number: usize,
    /// Whether the line ends with a line break (only the last line of a text may not).
    broken: bool,
}

impl Line<'_> {
    /// Only spaces.
    fn is_blank(&self) -> bool {
        self.text.is_empty()
    }

    /// Blank or a comment.
    fn is_skippable(&self) -> bool {
        self.text.is_empty() || self.text.starts_with('#')
    }

    /// A block sequence entry: `-` followed by a space or the end of the line.
    fn is_entry(&self) -> bool {
        self.text.starts_with('-') && !dash_scalar(self.text.as_bytes())
    }

    /// A document marker (`---` or `...` at column 0, followed by a blank or the end).
    fn marker(&self) -> Option<&str> {
        if self.indent != 0 {
            return None;
        }
        let t = self.text;
        let m = t.get(..3)?;
        if (m == "---" || m == "...") && matches!(t.as_bytes().get(3), None | Some(b' ')) {
            Some(m)
        } else {
            None
        }
    }
}

/// Characters the fast reader refuses anywhere: controls other than the line feed (tabs and
/// carriage returns included), DEL, C1 controls, the YAML 1.1 line breaks NEL/LS/PS, a BOM
/// inside the text, and the non-characters U+FFFE/U+FFFF.
fn has_refused_chars(text: &str) -> bool {
    let b = text.as_bytes();
    if b.iter().any(|&c| (c < 0x20 && c != b'\n') || c == 0x7f) {
        return true;
    }
    if b.is_ascii() {
        return false;
    }
    text.chars().any(|c| {
        matches!(
            c,
            '\u{80}'..='\u{9f}' | '\u{2028}' | '\u{2029}' | '\u{feff}' | '\u{fffe}' | '\u{ffff}'
        )
    })
}

/// Read `text` (a whole stream, BOM already removed) if it is inside the subset.
pub(super) fn parse(text: &str) -> Option<Vec<Document>> {
    if has_refused_chars(text) {
        return None;
    }
    let lines: Vec<Line<'_>> = split_lines(text);
    let mut reader = Reader { lines, at: 0 };
    reader.stream().ok()
}

fn split_lines(text: &str) -> Vec<Line<'_>> {
    let mut out = Vec::with_capacity(text.len() / 24 + 1);
    let mut rest = text;
    let mut number = 1;
    while !rest.is_empty() {
        let (line, broken, next) = match memchr::memchr(b'\n', rest.as_bytes()) {
            Some(i) => (&rest[..i], true, &rest[i + 1..]),
            None => (rest, false, ""),
        };
        let body = line.trim_start_matches(' ');
        out.push(Line {
            indent: line.len() - body.len(),
            text: body.trim_end_matches(' '),
            raw: line,
            number,
            broken,
        });
        number += 1;
        rest = next;
    }
    out
}

struct Reader<'a> {
    lines: Vec<Line<'a>>,
    at: usize,
}

impl<'a> Reader<'a> {
    fn peek(&self) -> Option<Line<'a>> {
        self.lines.get(self.at).copied()
    }

    /// Skip blank and comment lines; the next line that is neither, if any, inside the
    /// current document.
    fn next_content(&mut self) -> Option<Line<'a>> {
        while let Some(l) = self.peek() {
            if l.marker().is_some() {
                return None;
            }
            if !l.is_skippable() {
                return Some(l);
            }
            self.at += 1;
        }
        None
    }

    fn stream(&mut self) -> R<Vec<Document>> {
        let mut docs = Vec::new();
        // Comments and blank lines before the first document belong to no document.
        let mut explicit = false;
        loop {
            let Some(first) = self.next_content() else {
                match self.peek() {
                    None => break,
                    Some(l) if l.marker() == Some("---") => {
                        // `--- # comment` is fine; `--- value` is not in the subset.
                        let after = l.text[3..].trim_start_matches(' ');
                        if !(after.is_empty() || after.starts_with('#')) {
                            return Err(Bail);
                        }
                        if explicit {
                            // The previous `---` opened a document with no content.
                            return Err(Bail);
                        }
                        explicit = true;
                        self.at += 1;
                        continue;
                    }
                    Some(_) => return Err(Bail),
                }
            };
            let start = Position {
                line: first.number,
                column: first.indent + 1,
            };
            let value = self.node(first, None)?;
            if self.next_content().is_some() {
                // Content left over at a smaller indentation than the root.
                return Err(Bail);
            }
            docs.push(Document {
                value,
                index: docs.len(),
                start,
                positions: None,
            });
            explicit = false;
        }
        if explicit || docs.is_empty() {
            return Err(Bail);
        }
        Ok(docs)
    }

    /// A block node whose first line is `first` (the current line), inside a collection at
    /// indentation `parent` (`None` for a document's root).
    fn node(&mut self, first: Line<'a>, parent: Option<usize>) -> R<Value> {
        if first.is_entry() {
            self.sequence(first.indent)
        } else if let Some((key, rest)) = split_key(first.text)? {
            self.at += 1;
            self.mapping(first.indent, (key, rest, first.broken))
        } else if let Some(parent) = parent {
            // A scalar or flow collection on a line of its own (`key:\n  {}`).
            self.at += 1;
            self.value_after(first.text, parent, first.broken)
        } else {
            // A scalar document: not in the subset.
            Err(Bail)
        }
    }

    /// A block mapping at `indent` whose first entry (key, text after `:`, whether its line
    /// ends with a break) the caller has already read, from its own line or from the line of
    /// a sequence entry (`- name: web`).
    fn mapping(&mut self, indent: usize, first: (String, &'a str, bool)) -> R<Value> {
        let mut map = Map::new();
        let mut pending = Some(first);
        loop {
            let (key, rest, broken) = match pending.take() {
                Some(entry) => entry,
                None => match self.next_content() {
                    Some(l) if l.indent == indent && !l.is_entry() => {
                        self.at += 1;
                        let (key, rest) = split_key(l.text)?.ok_or(Bail)?;
                        (key, rest, l.broken)
                    }
                    Some(l) if l.indent > indent => return Err(Bail),
                    _ => break,
                },
            };
            if key == "<<" {
                return Err(Bail);
            }
            let value = self.value_after(rest, indent, broken)?;
            match map.entry(key) {
                serde_json::map::Entry::Vacant(e) => {
                    e.insert(value);
                }
                // Duplicate keys are errors the general parser reports.
                serde_json::map::Entry::Occupied(_) => return Err(Bail),
            }
        }
        Ok(Value::Object(map))
    }

    /// A block sequence at `indent`; the current line is its first entry.
    fn sequence(&mut self, indent: usize) -> R<Value> {
        let mut items = Vec::new();
        loop {
            let line = match self.next_content() {
                Some(l) if l.indent == indent && l.is_entry() => l,
                Some(l) if l.indent > indent => return Err(Bail),
                _ => break,
            };
            self.at += 1;
            let after = &line.text[1..];
            let body = after.trim_start_matches(' ');
            let column = indent + 1 + (after.len() - body.len());
            if body.is_empty() || body.starts_with('#') {
                items.push(self.nested(indent, false)?);
            } else if body.starts_with("- ") || body == "-" {
                return Err(Bail);
            } else if let Some((key, rest)) = split_key(body)? {
                items.push(self.mapping(column, (key, rest, line.broken))?);
            } else {
                items.push(self.value_after(body, indent, line.broken)?);
            }
        }
        Ok(Value::Array(items))
    }

    /// The value of a mapping entry or sequence entry, given the text after `key:` or `- `
    /// (`rest`) and the indentation of the collection that holds it.
    fn value_after(&mut self, rest: &'a str, indent: usize, broken: bool) -> R<Value> {
        let rest = rest.trim_start_matches(' ');
        if rest.is_empty() || rest.starts_with('#') {
            return self.nested(indent, true);
        }
        let value = match rest.as_bytes()[0] {
            b'|' => return self.literal(rest, indent, broken),
            q @ (b'"' | b'\'') => Value::String(self.quoted(rest, indent, q == b'"')?),
            b'[' | b'{' => {
                let mut flow = Flow { s: rest, at: 0 };
                let v = flow.node()?;
                end_of_line(&rest[flow.at..])?;
                v
            }
            _ => {
                let (first, commented) = plain_text(rest, false)?;
                let text = self.plain_continuation(first, commented, indent)?;
                return resolve_plain(&text).map_err(|_| Bail);
            }
        };
        // A more indented line after a one-line scalar would continue it (a multi-line
        // scalar) or be an error: either way, not in the subset.
        if let Some(next) = self.peek()
            && next.marker().is_none()
            && !next.is_blank()
            && next.indent > indent
        {
            return Err(Bail);
        }
        Ok(value)
    }

    /// A quoted scalar starting at `rest`, possibly over several lines (folded as YAML
    /// does: a line break is a space, `n + 1` breaks are `n` newlines, the blanks around a
    /// break are dropped). Continuation lines must be more indented than `indent`.
    fn quoted(&mut self, rest: &'a str, indent: usize, double: bool) -> R<String> {
        let mut out = String::new();
        let mut seg = &rest[1..];
        loop {
            let closed = if double {
                dq_segment(seg, &mut out)?
            } else {
                sq_segment(seg, &mut out)?
            };
            if let Some(end) = closed {
                end_of_line(&seg[end..])?;
                return Ok(out);
            }
            // The line ended inside the scalar (`seg` had its trailing blanks removed; an
            // escaped line break, a final lone backslash, was refused by `dq_segment`).
            let mut breaks = 0usize;
            let next = loop {
                let l = *self.lines.get(self.at).ok_or(Bail)?;
                if l.marker().is_some() {
                    return Err(Bail);
                }
                if l.is_blank() {
                    breaks += 1;
                    self.at += 1;
                    continue;
                }
                if l.indent <= indent {
                    return Err(Bail);
                }
                break l;
            };
            if breaks == 0 {
                out.push(' ');
            } else {
                out.extend(std::iter::repeat_n('\n', breaks));
            }
            self.at += 1;
            seg = next.text;
        }
    }

    /// A plain scalar's continuation lines (more indented than its collection at `indent`),
    /// folded: one line break becomes a space, `n + 1` breaks become `n` newlines.
    fn plain_continuation(
        &mut self,
        first: &'a str,
        commented: bool,
        indent: usize,
    ) -> R<std::borrow::Cow<'a, str>> {
        let mut out: Option<String> = None;
        let mut breaks = 0usize;
        let mut at = self.at;
        while let Some(l) = self.lines.get(at) {
            if l.marker().is_some() {
                break;
            }
            if l.is_blank() {
                breaks += 1;
                at += 1;
                continue;
            }
            if l.indent <= indent {
                break;
            }
            // A comment ends the scalar; more indented lines after it, or after a
            // commented first line, are not in the subset.
            if commented || l.text.starts_with('#') || !l.broken {
                return Err(Bail);
            }
            let (text, has_comment) = plain_text(l.text, true)?;
            if has_comment {
                return Err(Bail);
            }
            let s = out.get_or_insert_with(|| first.to_owned());
            if breaks == 0 {
                s.push(' ');
            } else {
                s.extend(std::iter::repeat_n('\n', breaks));
            }
            s.push_str(text);
            breaks = 0;
            at += 1;
            self.at = at;
        }
        Ok(out.map_or(std::borrow::Cow::Borrowed(first), std::borrow::Cow::Owned))
    }

    /// The value of `key:` or `-` with nothing after it on the line: a more indented block
    /// node, a same-indented sequence (for mapping entries: `key:\n- a`), or null.
    fn nested(&mut self, indent: usize, in_mapping: bool) -> R<Value> {
        match self.next_content() {
            Some(l) if l.indent > indent => self.node(l, Some(indent)),
            Some(l) if in_mapping && l.indent == indent && l.is_entry() => self.sequence(indent),
            _ => Ok(Value::Null),
        }
    }

    /// A literal block scalar (`|`, `|-`, `|+`); `header` is the text from `|` on.
    fn literal(&mut self, header: &str, parent: usize, broken: bool) -> R<Value> {
        let h = header.as_bytes();
        let mut i = 1;
        let mut chomp = b' ';
        let mut explicit = None;
        // Chomping and indentation indicators, in either order (`|-`, `|2-`, `|-2`).
        for _ in 0..2 {
            match h.get(i) {
                Some(c @ (b'-' | b'+')) if chomp == b' ' => chomp = *c,
                Some(c @ b'1'..=b'9') if explicit.is_none() => {
                    explicit = Some(parent + usize::from(c - b'0'));
                }
                _ => break,
            }
            i += 1;
        }
        end_of_line(&header[i..])?;
        if !broken {
            return Err(Bail);
        }
        // The content lines: blank lines, and lines indented more than the parent.
        let mut block_indent = explicit;
        let mut leading_blank_max = 0;
        let mut content: Vec<&'a str> = Vec::new();
        let mut trailing_breaks = 0usize;
        while let Some(l) = self.peek() {
            if l.marker().is_some() {
                break;
            }
            if l.is_blank() {
                match block_indent {
                    None => leading_blank_max = leading_blank_max.max(l.indent),
                    // Spaces beyond the block's indentation are content.
                    Some(bi) if l.indent > bi => {
                        if !l.broken {
                            return Err(Bail);
                        }
                        content.push(&l.raw[bi..]);
                        trailing_breaks = 0;
                        self.at += 1;
                        continue;
                    }
                    Some(_) => {}
                }
                if !l.broken {
                    return Err(Bail);
                }
                content.push("");
                trailing_breaks += 1;
                self.at += 1;
                continue;
            }
            let bi = match block_indent {
                Some(bi) => bi,
                None => {
                    if l.indent <= parent || leading_blank_max > l.indent {
                        return Err(Bail);
                    }
                    block_indent = Some(l.indent);
                    l.indent
                }
            };
            if l.indent < bi {
                break;
            }
            if !l.broken {
                return Err(Bail);
            }
            // The line as written, from the block's indentation on. `Line` trimmed trailing
            // spaces, which are content here: take the raw line instead.
            content.push(&l.raw[bi..]);
            trailing_breaks = 0;
            self.at += 1;
        }
        let body_lines = content.len() - trailing_breaks;
        // A block with no content line (only blank lines) is left to the general parser.
        if block_indent.is_none() || body_lines == 0 {
            return Err(Bail);
        }
        let mut s = String::new();
        for (n, line) in content[..body_lines].iter().enumerate() {
            if n > 0 {
                s.push('\n');
            }
            s.push_str(line);
        }
        match chomp {
            b'-' => {}
            b'+' => {
                s.push('\n');
                for _ in 0..trailing_breaks {
                    s.push('\n');
                }
            }
            _ => s.push('\n'),
        }
        Ok(Value::String(s))
    }
}

/// The key of a block mapping entry and the text after its `:`, or `None` when the line is
/// not a mapping entry. Keys are plain or quoted scalars on one line.
fn split_key(text: &str) -> R<Option<(String, &str)>> {
    let b = text.as_bytes();
    match b.first() {
        None => return Ok(None),
        Some(b'"' | b'\'') => {
            // A quoted scalar that does not close on this line is not a key (it may be a
            // multi-line value).
            let Ok((key, after)) = closed_quoted(text, b[0] == b'"') else {
                return Ok(None);
            };
            let after_blank = after.trim_start_matches(' ');
            return match after_blank.strip_prefix(':') {
                Some(rest) if rest.is_empty() || rest.starts_with(' ') => Ok(Some((key, rest))),
                _ => Ok(None),
            };
        }
        // `-x` starts a plain scalar; `?x`, `:x` and the other indicators are left to the
        // general parser.
        Some(b'-') if dash_scalar(b) => {}
        Some(c) if is_indicator(*c) => return Ok(None),
        Some(_) => {}
    }
    let mut i = 0;
    while let Some(off) = memchr::memchr2(b':', b'#', &b[i..]) {
        let at = i + off;
        if b[at] == b'#' {
            if b[at - 1] == b' ' {
                // A comment before any `: `: a plain scalar line, not an entry.
                return Ok(None);
            }
        } else if matches!(b.get(at + 1), None | Some(b' ')) {
            let key = text[..at].trim_end_matches(' ');
            let key = key_string(resolve_plain(key).map_err(|_| Bail)?);
            return Ok(Some((key, &text[at + 1..])));
        }
        i = at + 1;
    }
    Ok(None)
}

/// The first line of a plain scalar in block context, up to a comment, and whether a
/// comment ended it.
fn plain_text(text: &str, continuation: bool) -> R<(&str, bool)> {
    let b = text.as_bytes();
    if !continuation && is_indicator(b[0]) && !dash_scalar(b) {
        return Err(Bail);
    }
    let mut end = b.len();
    let mut i = 0;
    while let Some(off) = memchr::memchr2(b':', b'#', &b[i..]) {
        let at = i + off;
        if b[at] == b'#' {
            if b[at - 1] == b' ' {
                end = at;
                break;
            }
        } else if matches!(b.get(at + 1), None | Some(b' ')) {
            // `a: b: c` or a trailing `:`: a nested mapping where none may start.
            return Err(Bail);
        }
        i = at + 1;
    }
    Ok((text[..end].trim_end_matches(' '), end < b.len()))
}

/// Nothing but blanks, or blanks then a comment, until the end of the line.
fn end_of_line(rest: &str) -> R<()> {
    let t = rest.trim_start_matches(' ');
    if t.is_empty() || (t.starts_with('#') && t.len() < rest.len()) {
        Ok(())
    } else {
        Err(Bail)
    }
}

/// `-x`: a dash that starts a plain scalar (a dash followed by a blank or nothing is a
/// sequence entry instead).
fn dash_scalar(b: &[u8]) -> bool {
    b.first() == Some(&b'-') && !matches!(b.get(1), None | Some(b' '))
}

/// A double- or single-quoted scalar that closes on the same line: its value and the text
/// after it.
fn closed_quoted(text: &str, double: bool) -> R<(String, &str)> {
    let mut out = String::new();
    let end = if double {
        dq_segment(&text[1..], &mut out)?
    } else {
        sq_segment(&text[1..], &mut out)?
    }
    .ok_or(Bail)?;
    Ok((out, &text[1 + end..]))
}

/// One line's part of a double-quoted scalar, escapes decoded into `out`: the index just
/// after the closing quote, or `None` when the line ends first. An escaped line break (a
/// final backslash) is left to the general parser.
fn dq_segment(text: &str, out: &mut String) -> R<Option<usize>> {
    let b = text.as_bytes();
    let mut i = 0;
    loop {
        let Some(off) = memchr::memchr2(b'"', b'\\', &b[i..]) else {
            out.push_str(&text[i..]);
            return Ok(None);
        };
        let at = i + off;
        out.push_str(&text[i..at]);
        if b[at] == b'"' {
            return Ok(Some(at + 1));
        }
        let esc = *b.get(at + 1).ok_or(Bail)?;
        let mut next = at + 2;
        match esc {
            b'\\' => out.push('\\'),
            b'"' => out.push('"'),
            b'/' => out.push('/'),
            b'n' => out.push('\n'),
            b't' => out.push('\t'),
            b'r' => out.push('\r'),
            b'0' => out.push('\0'),
            b' ' => out.push(' '),
            b'a' => out.push('\u{7}'),
            b'b' => out.push('\u{8}'),
            b'e' => out.push('\u{1b}'),
            b'f' => out.push('\u{c}'),
            b'v' => out.push('\u{b}'),
            b'N' => out.push('\u{85}'),
            b'_' => out.push('\u{a0}'),
            b'L' => out.push('\u{2028}'),
            b'P' => out.push('\u{2029}'),
            b'x' | b'u' | b'U' => {
                let n = match esc {
                    b'x' => 2,
                    b'u' => 4,
                    _ => 8,
                };
                let hex = text.get(next..next + n).ok_or(Bail)?;
                if !hex.bytes().all(|c| c.is_ascii_hexdigit()) {
                    return Err(Bail);
                }
                let code = u32::from_str_radix(hex, 16).map_err(|_| Bail)?;
                out.push(char::from_u32(code).ok_or(Bail)?);
                next += n;
            }
            _ => return Err(Bail),
        }
        i = next;
    }
}

/// One line's part of a single-quoted scalar (`''` is a quote): the index just after the
/// closing quote, or `None` when the line ends first.
fn sq_segment(text: &str, out: &mut String) -> R<Option<usize>> {
    let b = text.as_bytes();
    let mut i = 0;
    loop {
        let Some(off) = memchr::memchr(b'\'', &b[i..]) else {
            out.push_str(&text[i..]);
            return Ok(None);
        };
        let at = i + off;
        out.push_str(&text[i..at]);
        if b.get(at + 1) == Some(&b'\'') {
            out.push('\'');
            i = at + 2;
        } else {
            return Ok(Some(at + 1));
        }
    }
}

/// A flow collection that closes on the same line.
struct Flow<'a> {
    s: &'a str,
    at: usize,
}

impl Flow<'_> {
    fn skip_blanks(&mut self) {
        while self.s.as_bytes().get(self.at) == Some(&b' ') {
            self.at += 1;
        }
    }

    fn node(&mut self) -> R<Value> {
        self.skip_blanks();
        match self.s.as_bytes().get(self.at) {
            Some(b'[') => self.seq(),
            Some(b'{') => self.map(),
            _ => self.scalar(),
        }
    }

    /// A scalar inside a flow collection: quoted, or plain without flow indicators.
    fn scalar(&mut self) -> R<Value> {
        let rest = &self.s[self.at..];
        match rest.as_bytes().first() {
            Some(b'"') => {
                let (v, after) = closed_quoted(rest, true)?;
                self.at = self.s.len() - after.len();
                Ok(Value::String(v))
            }
            Some(b'\'') => {
                let (v, after) = closed_quoted(rest, false)?;
                self.at = self.s.len() - after.len();
                Ok(Value::String(v))
            }
            _ => {
                let len = rest
                    .bytes()
                    .position(|c| matches!(c, b',' | b'[' | b']' | b'{' | b'}' | b':' | b'#'))
                    .unwrap_or(rest.len());
                let text = rest[..len].trim_end_matches(' ');
                if text.is_empty() || is_indicator(text.as_bytes()[0]) {
                    return Err(Bail);
                }
                self.at += len;
                resolve_plain(text).map_err(|_| Bail)
            }
        }
    }

    fn expect(&mut self, c: u8) -> R<()> {
        self.skip_blanks();
        if self.s.as_bytes().get(self.at) == Some(&c) {
            self.at += 1;
            Ok(())
        } else {
            Err(Bail)
        }
    }

    /// After an item: `,` then another item, or the closing bracket. Returns whether the
    /// collection closed.
    fn separator(&mut self, close: u8) -> R<bool> {
        self.skip_blanks();
        match self.s.as_bytes().get(self.at) {
            Some(&c) if c == close => {
                self.at += 1;
                Ok(true)
            }
            Some(b',') => {
                self.at += 1;
                self.skip_blanks();
                // No trailing comma before the close: keep the subset simple.
                if self.s.as_bytes().get(self.at) == Some(&close) {
                    return Err(Bail);
                }
                Ok(false)
            }
            _ => Err(Bail),
        }
    }

    fn seq(&mut self) -> R<Value> {
        self.at += 1;
        let mut items = Vec::new();
        self.skip_blanks();
        if self.s.as_bytes().get(self.at) == Some(&b']') {
            self.at += 1;
            return Ok(Value::Array(items));
        }
        loop {
            items.push(self.node()?);
            if self.separator(b']')? {
                return Ok(Value::Array(items));
            }
        }
    }

    fn map(&mut self) -> R<Value> {
        self.at += 1;
        let mut map = Map::new();
        self.skip_blanks();
        if self.s.as_bytes().get(self.at) == Some(&b'}') {
            self.at += 1;
            return Ok(Value::Object(map));
        }
        loop {
            let key = key_string(self.scalar()?);
            self.expect(b':')?;
            // `{a:b}` reads differently in YAML versions: require the blank.
            if self.s.as_bytes().get(self.at) != Some(&b' ') {
                return Err(Bail);
            }
            if key == "<<" {
                return Err(Bail);
            }
            let serde_json::map::Entry::Vacant(slot) = map.entry(key) else {
                return Err(Bail);
            };
            slot.insert(self.node()?);
            if self.separator(b'}')? {
                return Ok(Value::Object(map));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use proptest::prelude::*;

    use super::super::{ParseOptions, parse_str};
    use super::*;

    fn general(text: &str) -> Result<Vec<Document>, super::super::YamlError> {
        parse_str(
            text,
            "t.yaml",
            &ParseOptions::default().general_parser_only(),
        )
    }

    /// The fast reader either declines or answers exactly as the general parser.
    fn check(text: &str) -> bool {
        match parse(text) {
            None => false,
            Some(fast) => {
                match general(text) {
                    Ok(slow) => assert_eq!(fast, slow, "fast and general differ on:\n{text}"),
                    Err(e) => panic!(
                        "fast reader accepted what the general parser refuses ({e}):\n{text}"
                    ),
                }
                true
            }
        }
    }

    #[test]
    fn reads_the_rendered_subset_like_the_general_parser() {
        let accepted = [
            "a: 1\nb: yes\nc: ~\nd: 0644\ne: 1_000\nf: 1.5e3\ng: '08'\nh: \"x\\ty\\u00e9\"\n",
            "---\n# Source: chart/x.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a # trailing\ndata:\n  k: v#not-a-comment\n",
            "spec:\n  containers:\n  - name: web\n    args: [\"--a=1\", '--b', c d]\n    env:\n    - name: X\n      value: \"1\"\n    ports: []\n  selector: {}\n",
            "spec:\n  containers:\n    - name: web\n      image: x:1\n    -\n      name: two\n",
            "data:\n  script: |\n    #!/bin/sh\n    echo hi  \n\n      indented\n  after: 1\n",
            "a: |-\n  x\n\n\nb: |+\n  y\n\n\nc: |\n  z\n",
            "a:\n- 1\n- -2\n- -x\n- {k: v, n: [1, 2]}\nb: x\n",
            "'quoted key': 1\n\"d\\\"q\": 2\nyes: 3\n1: 4\n~: 5\nhttp://x: 6\n",
            "a: 1\n---\nb: 2\n--- # c\nc: 3\n",
            "- a\n- b: 1\n  c: 2\n",
            "a: b\n  c\n\n   d\ne: 'multi\n  line''s\n\n  end'\nf: \"x\n  \\u00e9  \"\n",
            "a:\n  {}\nb:\n  - 1\n",
            "a: |2\n   x\n\n    \nb:\n  c: |2-\n\n\n      y\n  d: |+2\n    z\n\n",
            "a: \"one\n  \\ two\\ \\_\"\nb: x\n  \"y\" `z` 'w' }} -d\n",
            "a: \"ends in a backslash \\\\\n  next\"\n",
        ];
        for text in accepted {
            assert!(check(text), "the fast reader should take:\n{text}");
        }
    }

    #[test]
    fn leaves_everything_else_to_the_general_parser() {
        let declined = [
            "a: &x 1\nb: *x\n",
            "a: !!str 1\n",
            "a: >\n  folded\n",
            "a:\n\tb: 1\n",
            "a: 1\r\nb: 2\r\n",
            "a: 1\na: 2\n",
            "<<: {a: 1}\n",
            "? a\n: b\n",
            "%YAML 1.1\n---\na: 1\n",
            "--- a\n",
            "a: 1\n...\n",
            "---\n---\na: 1\n",
            "just a scalar\n",
            "",
            "# only a comment\n",
            "a: [1,\n  2]\n",
            "a: {b:c}\n",
            "a: [a, ]\n",
            "- - a\n",
            "a: @x\n",
            "a:\n  - 1\n - 2\n",
            "a: b # c\n    d: 1\n",
            "a: x: \n",
            "a: \"escaped \\\n  line break\"\n",
        ];
        for text in declined {
            assert!(!check(text), "the fast reader should decline:\n{text}");
            // Whatever the general parser says stands, error or value.
            assert_eq!(
                parse_str(text, "t.yaml", &ParseOptions::default()),
                general(text)
            );
        }
    }

    fn corpus_files() -> Vec<PathBuf> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let mut files = Vec::new();
        let mut stack = vec![
            root.join("examples"),
            root.join("thule-core/tests/fixtures"),
        ];
        while let Some(dir) = stack.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for e in entries.flatten() {
                let p = e.path();
                if p.is_dir() {
                    stack.push(p);
                } else if p.extension().is_some_and(|x| x == "yaml" || x == "yml") {
                    files.push(p);
                }
            }
        }
        files.sort();
        files
    }

    fn gunzip(path: &Path) -> Option<String> {
        // Test data preparation; thule-core sits below thule-render's runner.
        #[allow(clippy::disallowed_methods)]
        let out = std::process::Command::new("gzip")
            .arg("-dc")
            .arg(path)
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8(out.stdout).ok())?
    }

    fn documents(text: &str) -> Vec<String> {
        let mut docs = vec![String::new()];
        for line in text.split_inclusive('\n') {
            if line.starts_with("---") && !docs.last().is_some_and(String::is_empty) {
                docs.push(String::new());
            }
            docs.last_mut().expect("one").push_str(line);
        }
        docs
    }

    /// Every document of the bundled example, the test fixtures and the shared benchmark
    /// renders (real helm/kustomize output): the fast reader agrees with the general parser
    /// wherever it answers, and it answers for nearly all rendered documents.
    #[test]
    fn agrees_on_every_rendered_document_and_takes_nearly_all() {
        let bench = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/bench");
        let mut rendered = (0, 0);
        for name in [
            "fleet-base",
            "fleet-modified",
            "argocd-ha-base",
            "argocd-ha-modified",
        ] {
            let path = bench.join(format!("{name}.yaml.gz"));
            let text = gunzip(&path).unwrap_or_else(|| {
                panic!(
                    "{} is needed (the shared benchmark renders beside the repository)",
                    path.display()
                )
            });
            for doc in documents(&text) {
                rendered.1 += 1;
                if check(&doc) {
                    rendered.0 += 1;
                }
            }
        }
        for file in corpus_files() {
            let text = std::fs::read_to_string(&file).expect("readable");
            check(&text);
            for doc in documents(&text) {
                check(&doc);
            }
        }
        assert!(
            rendered.0 * 100 >= rendered.1 * 95,
            "the fast reader took only {} of {} rendered documents",
            rendered.0,
            rendered.1
        );
    }

    fn line() -> impl Strategy<Value = String> {
        let keys = prop::sample::select(vec![
            "a", "b", "name", "yes", "1", "~", "<<", "-x", "k y", "a:b", "a#b", "'q'", "\"d\"",
            "?x", "[k]", "a ", "é",
        ]);
        let values = prop::sample::select(vec![
            "",
            "1",
            "-1",
            "0x1F",
            "yes",
            "~",
            "a b",
            "http://x:80",
            "-",
            "- a",
            "&a x",
            "*a",
            "!t x",
            "'s'",
            "'it''s'",
            "\"d\\n\"",
            "\"u\\u00e9\"",
            "\"\\q\"",
            "[]",
            "{}",
            "[a, 'b']",
            "{a: b, c: [1]}",
            "|",
            "|-",
            "|+",
            "|2",
            "> x",
            "@x",
            "%x",
            "a # c",
            "a#c",
            "[a,]",
            "{a:b}",
            "1.5e3",
            ".inf",
            "08",
            "é",
            "a: b",
            "x:",
            "\"a\" b",
            "[a",
            "\"a",
            "b\"",
            "'a",
            "b'",
            "\\ x\"",
            "\"\\ y",
            "x\\",
            "|2-",
            "|-1",
            "|+3",
            "}} x",
            "`x`",
            "- b",
            "#c",
            "a  # c",
            "\"\\_\\L\\e\"",
            "''",
            "'''a'''",
        ]);
        let indent = 0usize..7;
        (indent, 0u8..9, keys, values).prop_map(|(n, shape, k, v)| {
            let pad = " ".repeat(n);
            match shape {
                0 => format!("{pad}{k}: {v}"),
                1 => format!("{pad}- {v}"),
                2 => format!("{pad}- {k}: {v}"),
                3 => format!("{pad}{k}:"),
                4 => format!("{pad}# {v}"),
                5 => format!("{pad}{v}"),
                6 => "---".to_owned(),
                7 => pad,
                _ => String::new(),
            }
        })
    }

    /// A random tree, printed as YAML with random but mostly valid style choices: nested
    /// mappings, compact and indented sequences, plain, quoted and literal scalars, some
    /// folded over several lines.
    #[derive(Clone, Debug)]
    enum Tree {
        Scalar(u8, Vec<&'static str>),
        Map(Vec<(&'static str, Tree)>),
        Seq(bool, Vec<Tree>),
    }

    fn tree() -> impl Strategy<Value = Tree> {
        let words = prop::sample::select(vec![
            "a",
            "web",
            "1",
            "-2",
            "0o17",
            "yes",
            "~",
            "x:y",
            "a#b",
            "#c",
            "\"q\"",
            "'s'",
            "é",
            "{{ x }}",
            "[a]",
            "- b",
            "\\",
            "\\n",
            "a:",
            "http://h:80/p",
            " ",
            "`t`",
            "}}",
        ]);
        let leaf =
            (0u8..8, prop::collection::vec(words, 1..5)).prop_map(|(s, w)| Tree::Scalar(s, w));
        leaf.prop_recursive(4, 40, 5, |inner| {
            let keys = prop::sample::select(vec![
                "name", "image", "a b", "yes", "1", "x:y", "'q'", "k-1", "é", "u.v/w",
            ]);
            prop_oneof![
                prop::collection::vec((keys, inner.clone()), 1..5).prop_map(Tree::Map),
                (any::<bool>(), prop::collection::vec(inner, 1..4))
                    .prop_map(|(c, v)| Tree::Seq(c, v)),
            ]
        })
    }

    fn scalar_text(style: u8, words: &[&str], indent: usize) -> String {
        let pad = " ".repeat(indent + 2);
        match style {
            0 => words.join(" "),
            1 => format!("'{}'", words.join(" ").replace('\'', "''")),
            2 => format!(
                "\"{}\"",
                words.join(" ").replace('\\', "\\\\").replace('"', "\\\"")
            ),
            3 => words.join(&format!("\n{pad}")),
            4 => format!("'{}'", words.join(&format!("\n{pad}")).replace('\'', "''")),
            5 => format!(
                "\"{}\"",
                words
                    .join(&format!("\n\n{pad}"))
                    .replace('\\', "\\\\")
                    .replace('"', "\\\"")
            ),
            6 => format!("|\n{pad}{}", words.join(&format!("\n{pad}  "))),
            _ => format!("|-\n{pad}{}\n", words.join(&format!("\n\n{pad}"))),
        }
    }

    fn emit(t: &Tree, indent: usize, out: &mut String) {
        let pad = " ".repeat(indent);
        match t {
            Tree::Scalar(..) => unreachable!("scalars are emitted by their parent"),
            Tree::Map(entries) => {
                for (k, v) in entries {
                    match v {
                        Tree::Scalar(style, words) => {
                            out.push_str(&format!(
                                "{pad}{k}: {}\n",
                                scalar_text(*style, words, indent)
                            ));
                        }
                        Tree::Seq(compact, _) => {
                            out.push_str(&format!("{pad}{k}:\n"));
                            emit(v, if *compact { indent } else { indent + 2 }, out);
                        }
                        Tree::Map(_) => {
                            out.push_str(&format!("{pad}{k}:\n"));
                            emit(v, indent + 2, out);
                        }
                    }
                }
            }
            Tree::Seq(_, items) => {
                for item in items {
                    match item {
                        Tree::Scalar(style, words) => {
                            out.push_str(&format!(
                                "{pad}- {}\n",
                                scalar_text(*style, words, indent)
                            ));
                        }
                        Tree::Map(_) => {
                            let mut inner = String::new();
                            emit(item, indent + 2, &mut inner);
                            out.push_str(&format!("{pad}- {}", &inner[indent + 2..]));
                        }
                        Tree::Seq(..) => {
                            out.push_str(&format!("{pad}-\n"));
                            emit(item, indent + 2, out);
                        }
                    }
                }
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(50000))]
        /// Random block-ish YAML: the default parse (fast reader first) always equals the
        /// general parser's answer, value or error.
        #[test]
        fn random_yaml_reads_the_same_either_way(lines in prop::collection::vec(line(), 1..12)) {
            let text = lines.join("\n") + "\n";
            check(&text);
            prop_assert_eq!(
                parse_str(&text, "t.yaml", &ParseOptions::default()),
                general(&text)
            );
        }
    }
    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]
        /// Random manifests-like trees in rendered style: the fast reader agrees with the
        /// general parser on every one it takes (how many real renders it takes is asserted
        /// by `agrees_on_every_rendered_document_and_takes_nearly_all`).
        #[test]
        fn random_trees_read_the_same_either_way(t in tree(), root_seq in any::<bool>()) {
            let root = match t {
                Tree::Scalar(..) => Tree::Map(vec![("k", t)]),
                other if root_seq => Tree::Seq(false, vec![other]),
                other => other,
            };
            let mut text = String::from("---\n");
            emit(&root, 0, &mut text);
            check(&text);
            prop_assert_eq!(
                parse_str(&text, "t.yaml", &ParseOptions::default()),
                general(&text)
            );
        }
    }
}

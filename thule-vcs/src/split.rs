//! Splitting a long markdown comment into ordered parts under a size limit.
//!
//! Providers cap comment size (GitHub 65,536 characters, GitLab 1,000,000). thule never
//! truncates a plan: [`split_markdown`] packs whole blocks (a summary, a project section, one
//! resource) into parts in order, and only when one block alone is larger than a part does it
//! cut inside the block, at a line boundary, closing any open code fence and `<details>` at the
//! end of the part and reopening them at the start of the next. Every part is valid markdown
//! on its own: fences and `<details>` are balanced.

/// Room kept in each part for the part header.
const HEADER_RESERVE: usize = 160;

/// Pack `blocks` (each a balanced markdown fragment, in order) into parts of at most `limit`
/// characters, each starting with a header naming its position (`part 2 of 3`) when there is
/// more than one part. `title` names the comment in headers.
///
/// Nothing is dropped: concatenating the parts' bodies gives back every block's lines.
///
/// # Panics
/// Never for `limit >= 1024`; smaller limits are raised to 1024 (a header and one line of
/// text must fit).
pub fn split_markdown(blocks: &[String], limit: usize, title: &str) -> Vec<String> {
    let limit = limit.max(1024);
    let budget = limit - HEADER_RESERVE;
    let mut bodies: Vec<String> = Vec::new();
    let mut current = String::new();
    // Characters in `current`, kept as blocks are added (counting the whole part again for
    // every block made splitting quadratic in the part size).
    let mut current_len = 0;
    for block in blocks {
        let block_len = chars(block) + usize::from(!block.ends_with('\n'));
        if current_len + block_len <= budget {
            push_block(&mut current, block);
            current_len += block_len;
            continue;
        }
        if !current.is_empty() {
            bodies.push(std::mem::take(&mut current));
        }
        if block_len <= budget {
            push_block(&mut current, block);
            current_len = block_len;
            continue;
        }
        // One block larger than a part: cut it at line boundaries.
        let mut pieces = cut_block(block, budget);
        let last = pieces.pop().unwrap_or_default();
        bodies.extend(pieces);
        current_len = chars(&last);
        current = last;
    }
    if !current.is_empty() || bodies.is_empty() {
        bodies.push(current);
    }
    let total = bodies.len();
    if total == 1 {
        return bodies;
    }
    bodies
        .into_iter()
        .enumerate()
        .map(|(i, body)| {
            let n = i + 1;
            let mut head = format!("**{title}: part {n} of {total}**");
            if n > 1 {
                head.push_str(&format!(" (continued from part {})", n - 1));
            }
            if n < total {
                head.push_str(&format!("; continues in part {}", n + 1));
            }
            format!("{head}\n\n{body}")
        })
        .collect()
}

fn chars(s: &str) -> usize {
    s.chars().count()
}

fn push_block(out: &mut String, block: &str) {
    out.push_str(block);
    if !block.ends_with('\n') {
        out.push('\n');
    }
}

/// Markdown state at a line: the open fence (its opening line) and open `<details>` tags.
#[derive(Clone, Debug, Default)]
struct OpenState {
    fence: Option<String>,
    details: Vec<String>,
}

impl OpenState {
    fn update(&mut self, line: &str) {
        let t = line.trim_start();
        if let Some(open) = &self.fence {
            let marker: String = open
                .trim_start()
                .chars()
                .take_while(|c| *c == '`' || *c == '~')
                .collect();
            if t.starts_with(&marker) && t.trim_end().chars().all(|c| c == '`' || c == '~') {
                self.fence = None;
            }
            return;
        }
        if t.starts_with("```") || t.starts_with("~~~") {
            self.fence = Some(line.to_owned());
            return;
        }
        // `<details>` open/close tags may share a line with `<summary>`.
        let opens = t.matches("<details").count();
        let closes = t.matches("</details>").count();
        for _ in 0..opens {
            // Reopen with the same summary line where there is one.
            self.details.push(line.to_owned());
        }
        for _ in 0..closes {
            self.details.pop();
        }
    }

    /// Lines that close everything open (innermost first).
    fn closing(&self) -> String {
        let mut s = String::new();
        if let Some(open) = &self.fence {
            let marker: String = open
                .trim_start()
                .chars()
                .take_while(|c| *c == '`' || *c == '~')
                .collect();
            s.push_str(&marker);
            s.push('\n');
        }
        for _ in &self.details {
            s.push_str("</details>\n");
        }
        s
    }

    /// Lines that reopen everything (outermost first), marked as continued.
    fn reopening(&self) -> String {
        let mut s = String::new();
        for d in &self.details {
            s.push_str(&d.replace("</summary>", " (continued)</summary>"));
            s.push('\n');
        }
        if let Some(open) = &self.fence {
            s.push_str(open);
            s.push('\n');
        }
        s
    }
}

/// Cut one oversized block into balanced pieces of at most `budget` characters.
fn cut_block(block: &str, budget: usize) -> Vec<String> {
    let mut pieces = Vec::new();
    let mut state = OpenState::default();
    let mut piece = String::new();
    let mut piece_len = 0usize;
    for line in block.lines() {
        // A single line longer than the budget is cut at character boundaries (inside a code
        // fence this is still valid markdown).
        let parts: Vec<String> = if chars(line) + 1 > budget / 2 {
            line.chars()
                .collect::<Vec<_>>()
                .chunks(budget / 2)
                .map(|c| c.iter().collect())
                .collect()
        } else {
            vec![line.to_owned()]
        };
        for part in parts {
            let mut next_state = state.clone();
            next_state.update(&part);
            let need = chars(&part) + 1 + chars(&next_state.closing());
            if piece_len + need > budget && piece_len > 0 {
                piece.push_str(&state.closing());
                pieces.push(std::mem::take(&mut piece));
                piece.push_str(&state.reopening());
                piece_len = chars(&piece);
            }
            piece.push_str(&part);
            piece.push('\n');
            piece_len += chars(&part) + 1;
            state = next_state;
        }
    }
    piece.push_str(&state.closing());
    pieces.push(piece);
    pieces
}

/// Whether a markdown text has balanced code fences and `<details>` tags (used by tests and
/// by callers that assemble parts themselves).
pub fn is_balanced(markdown: &str) -> bool {
    let mut state = OpenState::default();
    let mut depth: i64 = 0;
    for line in markdown.lines() {
        let in_fence = state.fence.is_some();
        state.update(line);
        if !in_fence && state.fence.is_none() {
            let t = line.trim_start();
            if !(t.starts_with("```") || t.starts_with("~~~")) {
                depth += i64::try_from(t.matches("<details").count()).unwrap_or(0);
                depth -= i64::try_from(t.matches("</details>").count()).unwrap_or(0);
                if depth < 0 {
                    return false;
                }
            }
        }
    }
    state.fence.is_none() && depth == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object_block(i: usize) -> String {
        format!(
            "<details><summary>Deployment shop/web-{i}: PATCH</summary>\n\n```diff\n- image: web:{i}\n+ image: web:{}\n```\n\n</details>\n",
            i + 1
        )
    }

    #[test]
    fn small_input_is_one_part_without_header() {
        let parts = split_markdown(
            &["# plan\n".to_owned(), object_block(1)],
            65_536,
            "thule plan",
        );
        assert_eq!(parts.len(), 1);
        assert!(parts[0].starts_with("# plan\n"));
    }

    #[test]
    fn blocks_are_packed_in_order_and_never_cut_when_they_fit() {
        let blocks: Vec<String> = (0..3000).map(object_block).collect();
        let parts = split_markdown(&blocks, 65_536, "thule plan");
        assert!(parts.len() > 1);
        let mut seen = Vec::new();
        for (n, p) in parts.iter().enumerate() {
            assert!(
                p.chars().count() <= 65_536,
                "part {n} is {} chars",
                p.chars().count()
            );
            assert!(is_balanced(p), "part {n} unbalanced");
            assert!(p.starts_with(&format!(
                "**thule plan: part {} of {}**",
                n + 1,
                parts.len()
            )));
            for line in p.lines() {
                if let Some(rest) = line.strip_prefix("<details><summary>Deployment shop/web-") {
                    seen.push(rest.split(':').next().unwrap().parse::<usize>().unwrap());
                }
            }
        }
        assert_eq!(
            seen,
            (0..3000).collect::<Vec<_>>(),
            "every object exactly once, in order"
        );
    }

    #[test]
    fn an_oversized_block_is_cut_with_fences_and_details_reopened() {
        let mut big = String::from("<details><summary>ConfigMap big: PATCH</summary>\n\n```diff\n");
        for i in 0..5000 {
            big.push_str(&format!("+ line {i} of a very large configuration value\n"));
        }
        big.push_str("```\n\n</details>\n");
        let parts = split_markdown(&["# plan\n".to_owned(), big.clone()], 20_000, "plan");
        assert!(parts.len() > 5);
        let mut lines = Vec::new();
        for p in &parts {
            assert!(p.chars().count() <= 20_000);
            assert!(is_balanced(p), "unbalanced part:\n{p}");
            lines.extend(
                p.lines()
                    .filter(|l| l.starts_with("+ line "))
                    .map(str::to_owned),
            );
        }
        let expected: Vec<String> = (0..5000)
            .map(|i| format!("+ line {i} of a very large configuration value"))
            .collect();
        assert_eq!(lines, expected, "no line lost or repeated");
        assert!(!parts[1].contains("(continued)</summary>"));
        assert!(parts[2].contains("ConfigMap big: PATCH (continued)</summary>"));
    }

    #[test]
    fn balance_checker_catches_unbalanced_text() {
        assert!(is_balanced("a\n```\ncode <details>\n```\n"));
        assert!(!is_balanced("```\nopen\n"));
        assert!(!is_balanced("<details>\n"));
        assert!(!is_balanced("</details>\n<details>\n"));
    }
}

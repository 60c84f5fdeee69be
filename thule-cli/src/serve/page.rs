//! The read-only status page and the run JSON of `/api/runs`.
//!
//! Both show what the run history holds (repository, merge request, head, trigger, actor,
//! result, timing, comment link): no setting, token or secret is ever passed here.

use std::fmt::Write as _;

use serde_json::{Value, json};

use crate::serve::store::{QueueStats, RunRecord, short};

/// RFC 3339 of Unix milliseconds (UTC).
pub fn rfc3339(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms).map_or_else(|_| ms.to_string(), |t| t.to_string())
}

/// One run as `/api/runs` lists it.
pub fn run_json(r: &RunRecord) -> Value {
    json!({
        "id": r.id,
        "job": r.job_id,
        "provider": r.provider,
        "repo": r.repo,
        "mr": r.mr,
        "headSha": r.head_sha,
        "trigger": r.trigger,
        "actor": r.actor,
        "projects": r.projects,
        "result": r.result.as_str(),
        "message": r.message,
        "attempt": r.attempt,
        "startedAt": rfc3339(r.started_at),
        "finishedAt": rfc3339(r.finished_at),
        "durationMs": r.duration_ms,
        "commentUrl": r.comment_url,
        "commentIds": r.comment_ids,
    })
}

/// `text` escaped for HTML text and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn duration(ms: i64) -> String {
    if ms < 1000 {
        format!("{ms} ms")
    } else if ms < 120_000 {
        format!("{:.1} s", ms as f64 / 1000.0)
    } else {
        format!("{} min {} s", ms / 60_000, (ms % 60_000) / 1000)
    }
}

/// The status page: the queue and the most recent runs.
pub fn status(runs: &[RunRecord], queue: Option<QueueStats>, workers: usize, now: i64) -> String {
    let mut out = String::from(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>thule</title>\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <style>body{font-family:system-ui,sans-serif;margin:2rem;color:#222}\
         table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.3rem .6rem;border-bottom:1px solid #ddd;font-size:.9rem}\
         th{background:#f4f4f4}code{font-size:.85rem}.failed{color:#b00}.changes{color:#a60}.no-changes,.done{color:#070}\
         </style></head><body>\n<h1>thule</h1>\n",
    );
    match queue {
        Some(q) => {
            let age = q
                .oldest_queued_at
                .map_or_else(|| "-".to_owned(), |t| duration((now - t).max(0)));
            let _ = writeln!(
                out,
                "<p>Queue: {} waiting (oldest {age}), {} running; {workers} worker(s).</p>",
                q.queued, q.running
            );
        }
        None => out.push_str("<p>Queue: the database did not answer.</p>\n"),
    }
    out.push_str("<h2>Recent runs</h2>\n");
    if runs.is_empty() {
        out.push_str("<p>No runs yet.</p>\n");
    } else {
        out.push_str(
            "<table><thead><tr><th>Finished</th><th>Repository</th><th>MR</th><th>SHA</th>\
             <th>Trigger</th><th>Actor</th><th>Result</th><th>Duration</th><th>Comment</th>\
             <th>Message</th></tr></thead><tbody>\n",
        );
        for r in runs {
            let comment = match r.comment_url.as_deref() {
                Some(u) if u.starts_with("https://") || u.starts_with("http://") => {
                    format!("<a href=\"{}\">comment</a>", escape(u))
                }
                _ => "-".to_owned(),
            };
            let _ = writeln!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td>\
                 <td class=\"{}\">{}</td><td>{}</td><td>{comment}</td><td>{}</td></tr>",
                escape(&rfc3339(r.finished_at)),
                escape(&r.repo),
                r.mr,
                escape(r.head_sha.as_deref().map_or("-", short)),
                escape(&r.trigger),
                escape(r.actor.as_deref().unwrap_or("-")),
                r.result.as_str(),
                r.result.as_str(),
                duration(r.duration_ms),
                escape(r.message.as_deref().unwrap_or("")),
            );
        }
        out.push_str("</tbody></table>\n");
    }
    out.push_str(
        "<p><a href=\"/api/runs\">/api/runs</a> · <a href=\"/metrics\">/metrics</a> · \
         <a href=\"/readyz\">/readyz</a></p>\n</body></html>\n",
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::serve::job::RunResult;

    #[test]
    fn the_page_escapes_what_it_shows() {
        let run = RunRecord {
            id: 1,
            job_id: 1,
            provider: "github".into(),
            repo: "acme/<script>".into(),
            mr: 7,
            head_sha: Some("0123456789abcdef".into()),
            trigger: "pushed".into(),
            actor: Some("a\"b".into()),
            projects: vec![],
            result: RunResult::Changes,
            message: Some("<b>x</b>".into()),
            attempt: 1,
            started_at: 0,
            finished_at: 1_500,
            duration_ms: 1_500,
            comment_url: Some("javascript:alert(1)".into()),
            comment_ids: vec![],
        };
        let html = status(&[run], None, 2, 2_000);
        assert!(html.contains("acme/&lt;script&gt;"), "{html}");
        assert!(html.contains("a&quot;b"));
        assert!(html.contains("&lt;b&gt;x&lt;/b&gt;"));
        assert!(!html.contains("javascript:"), "only http(s) links");
        assert!(html.contains("<code>0123456789ab</code>"));
        assert!(html.contains("1970-01-01T00:00:01.5Z"), "{html}");
    }
}

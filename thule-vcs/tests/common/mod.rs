//! Helpers shared by the forge adapter tests: SHAs, a realistic long plan, fast retries, and
//! the pieces of a fake forge every test file needs. Each fake forge lives in its own test
//! file.

#![allow(dead_code)]

use std::time::Duration;

use thule_vcs::http::RetryPolicy;
use thule_vcs::testing::Recorded;

/// A 40-hex SHA made of one repeated hex digit.
pub fn sha(digit: char) -> String {
    assert!(digit.is_ascii_hexdigit());
    digit.to_string().repeat(40)
}

/// Retries that do not slow the tests down (same count as the default: 4 tries).
pub fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        attempts: 4,
        base_delay: Duration::from_millis(2),
        budget: Duration::from_secs(2),
    }
}

/// The name of changed object `i` in [`plan_blocks`].
pub fn object_name(i: usize) -> String {
    format!("web-{i:04}")
}

/// A realistic thule plan of `objects` changed objects, as the blocks `split_markdown`
/// packs: a summary, then one collapsed `<details>` section with a diff per object.
pub fn plan_blocks(objects: usize) -> Vec<String> {
    let mut blocks = vec![format!(
        "### thule plan: `apps/team-a` (production)\n\n**{objects} objects change** ({objects} modified) — no blockers.\n"
    )];
    for i in 0..objects {
        let name = object_name(i);
        blocks.push(format!(
            "<details><summary><code>~ apps/v1/Deployment team-a/{name}</code> (2 fields)</summary>\n\n\
```diff\n\
@@ spec.replicas @@\n\
-  replicas: 2\n\
+  replicas: 3\n\
@@ spec.template.spec.containers[name=web].image @@\n\
-  image: registry.example.com/team-a/web:1.4.{old}\n\
+  image: registry.example.com/team-a/web:1.4.{new}\n\
```\n\n\
</details>\n",
            old = i % 10,
            new = i % 10 + 1,
        ));
    }
    blocks
}

/// `http://host:port` of the server, from the request's `Host` header (for the absolute URLs
/// forges put in links).
pub fn origin(req: &Recorded) -> String {
    format!("http://{}", req.header("host").unwrap_or("127.0.0.1"))
}

/// How many requests have this method and a path ending with `suffix`.
pub fn count(requests: &[Recorded], method: &str, suffix: &str) -> usize {
    requests
        .iter()
        .filter(|r| r.method == method && r.path.ends_with(suffix))
        .count()
}

/// The marker part (`2/17`) of a body's first line, if it is a thule marker.
pub fn part_of(body: &str) -> Option<String> {
    let line = body.lines().next()?;
    let rest = line.split(" part=").nth(1)?;
    Some(rest.trim_end_matches(" -->").to_owned())
}

//! A fake GitLab (features `testing` and `gitlab`): a stateful loopback server that speaks
//! GitLab's REST API v4 with its real payload shapes (field names as in GitLab's docs:
//! `doc/api/notes.md`, `merge_requests.md`, `commits.md`, `users.md`), because no real GitLab
//! can run in tests.
//!
//! It knows users by their `PRIVATE-TOKEN` ([`THULE_TOKEN`] is thule's project bot,
//! [`ALICE_TOKEN`] a reviewer), one project ([`PROJECT_ID`], path [`PROJECT_PATH`], addressed
//! by either), one merge request ([`IID`], at [`WEB_URL`]) with the head and base commits the
//! test gives, its notes (ids, authors, system notes, GitLab's default order newest first and
//! 20 per page, `sort`/`order_by`/`per_page` (at most 100)/`page`, the `x-next-page` family
//! of headers), the 1,000,000 character note limit, edits by the author only, commit
//! statuses with GitLab's transition refusals, and the merge request's changed files
//! (`/diffs`, paginated the same way).
//!
//! ```no_run
//! # async fn demo() {
//! use thule_vcs::testing::gitlab::{FakeGitLab, THULE_ID};
//! let fake = FakeGitLab::start(&"1".repeat(40), &"0".repeat(40)).await;
//! let api = fake.api_url(); // `http://127.0.0.1:PORT/api/v4`
//! // ... publish through the GitLab adapter or the thule binary ...
//! let forge = fake.forge();
//! assert!(forge.thule_notes().iter().all(|n| n.author == THULE_ID));
//! # }
//! ```

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use serde_json::{Value, json};

use super::{LoopbackServer, Recorded, Reply};
use crate::GITLAB_NOTE_LIMIT;

/// thule's token: the project access token of the bot user [`THULE_ID`].
pub const THULE_TOKEN: &str = "glpat-thule-very-secret-0001";
/// A reviewer's token (user [`ALICE_ID`], `alice`).
pub const ALICE_TOKEN: &str = "glpat-alice-0002";
/// thule's user id (`project_42_bot_thule`).
pub const THULE_ID: u64 = 501;
/// `alice`'s user id (the merge request's author).
pub const ALICE_ID: u64 = 17;
/// `bob`'s user id (no token: his notes are added with [`Forge::add_note`]).
pub const BOB_ID: u64 = 18;
/// The project's numeric id.
pub const PROJECT_ID: u64 = 42;
/// The project's path.
pub const PROJECT_PATH: &str = "group/sub/app";
/// The project's path as it appears in API paths.
pub const ENCODED_PATH: &str = "group%2Fsub%2Fapp";
/// The merge request's iid.
pub const IID: u64 = 7;
/// The merge request's web URL.
pub const WEB_URL: &str = "https://gitlab.example.com/group/sub/app/-/merge_requests/7";

/// A note on the merge request.
#[derive(Clone, Debug)]
pub struct Note {
    /// Its id.
    pub id: u64,
    /// Its body.
    pub body: String,
    /// Its author's user id.
    pub author: u64,
    /// A system note (`added 1 commit`).
    pub system: bool,
    /// When it was created (the fake's clock, one tick per write).
    pub created: u64,
    /// When it was last edited.
    pub updated: u64,
}

/// A commit status as the fake holds it.
#[derive(Clone, Debug)]
pub struct Status {
    /// Its id.
    pub id: u64,
    /// The commit.
    pub sha: String,
    /// Its name (thule's context).
    pub name: String,
    /// `pending`, `running`, `success`, `failed`, `canceled`, `skipped`.
    pub state: String,
    /// Its description.
    pub description: Option<String>,
    /// Its link.
    pub target_url: Option<String>,
}

/// One status POST as the fake answered it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatusPost {
    /// The commit it was posted on.
    pub sha: String,
    /// The state asked for.
    pub state: String,
    /// The name asked for.
    pub name: String,
    /// The link asked for.
    pub target_url: Option<String>,
    /// The HTTP status the fake answered.
    pub answered: u16,
}

/// The fake's state. Tests read it and change it (a new head, foreign notes, injected
/// failures) through [`FakeGitLab::forge`].
pub struct Forge {
    /// token → (user id, username)
    pub users: BTreeMap<String, (u64, String)>,
    /// user id → username
    pub names: BTreeMap<u64, String>,
    /// Every note, in creation order.
    pub notes: Vec<Note>,
    /// The clock notes are stamped with.
    pub clock: u64,
    /// The last id given to a note or status.
    pub next_id: u64,
    /// The merge request, as `GET /merge_requests/:iid` answers it.
    pub mr: Value,
    /// The commits statuses may be set on.
    pub commits: BTreeSet<String>,
    /// The commit statuses.
    pub statuses: Vec<Status>,
    /// Every status POST, in order.
    pub status_log: Vec<StatusPost>,
    /// The merge request's `/diffs` items (see [`diff`]).
    pub diffs: Vec<Value>,
    /// Answers given to the next requests before any routing (429s, 5xx).
    pub inject: VecDeque<Reply>,
    /// (path, page) of every list page served.
    pub pages: Vec<(String, u64)>,
}

fn timestamp(t: u64) -> String {
    format!(
        "2024-06-01T{:02}:{:02}:{:02}.000Z",
        (t / 3600) % 24,
        (t / 60) % 60,
        t % 60
    )
}

/// GitLab's error shape: `{"message": ...}` with `status`.
pub fn message(status: u16, message: &str) -> Reply {
    Reply::json(status, &json!({ "message": message }))
}

impl Forge {
    /// A fresh GitLab: the users, the project, and the merge request at `head` over `base`
    /// (no notes, no statuses, one changed file).
    pub fn new(head: &str, base: &str) -> Self {
        let users: BTreeMap<String, (u64, String)> = [
            (THULE_TOKEN, THULE_ID, "project_42_bot_thule"),
            (ALICE_TOKEN, ALICE_ID, "alice"),
        ]
        .into_iter()
        .map(|(t, id, name)| (t.to_owned(), (id, name.to_owned())))
        .collect();
        let names = [
            (THULE_ID, "project_42_bot_thule"),
            (ALICE_ID, "alice"),
            (BOB_ID, "bob"),
        ]
        .into_iter()
        .map(|(id, n)| (id, n.to_owned()))
        .collect();
        let mr = json!({
            "id": 90_007,
            "iid": IID,
            "project_id": PROJECT_ID,
            "title": "Scale web to 3 replicas",
            "description": "",
            "state": "opened",
            "created_at": "2024-06-01T09:00:00.000Z",
            "updated_at": "2024-06-01T09:00:00.000Z",
            "target_branch": "main",
            "source_branch": "scale-web",
            "author": {
                "id": ALICE_ID,
                "username": "alice",
                "name": "Alice",
                "state": "active",
                "avatar_url": null,
                "web_url": "https://gitlab.example.com/alice"
            },
            "source_project_id": PROJECT_ID,
            "target_project_id": PROJECT_ID,
            "labels": ["env::prod", "team/web"],
            "draft": false,
            "work_in_progress": false,
            "merge_status": "can_be_merged",
            "detailed_merge_status": "mergeable",
            "sha": head,
            "merge_commit_sha": null,
            "diff_refs": { "base_sha": base, "head_sha": head, "start_sha": base },
            "references": { "short": "!7", "relative": "!7", "full": "group/sub/app!7" },
            "web_url": WEB_URL,
            "changes_count": "1"
        });
        Self {
            users,
            names,
            notes: Vec::new(),
            clock: 0,
            next_id: 3000,
            mr,
            commits: [head.to_owned()].into(),
            statuses: Vec::new(),
            status_log: Vec::new(),
            diffs: vec![diff("apps/web/deployment.yaml", "apps/web/deployment.yaml")],
            inject: VecDeque::new(),
            pages: Vec::new(),
        }
    }

    /// A new head commit (a push to the source branch): the merge request's `sha` and
    /// `diff_refs.head_sha`, and a commit statuses may be set on.
    pub fn set_head(&mut self, sha: &str) {
        self.mr["sha"] = json!(sha);
        self.mr["diff_refs"]["head_sha"] = json!(sha);
        self.commits.insert(sha.to_owned());
    }

    /// Add a note by `author` as if posted through the API; returns its id.
    pub fn add_note(&mut self, author: u64, body: &str, system: bool) -> u64 {
        self.clock += 1;
        self.next_id += 1;
        self.notes.push(Note {
            id: self.next_id,
            body: body.to_owned(),
            author,
            system,
            created: self.clock,
            updated: self.clock,
        });
        self.next_id
    }

    /// The note `id`.
    ///
    /// # Panics
    /// When there is none.
    pub fn note(&self, id: u64) -> &Note {
        self.notes.iter().find(|n| n.id == id).expect("a note")
    }

    /// thule's notes (by [`THULE_ID`]), oldest first.
    pub fn thule_notes(&self) -> Vec<Note> {
        self.notes
            .iter()
            .filter(|n| n.author == THULE_ID)
            .cloned()
            .collect()
    }

    /// A note as GitLab's API answers it.
    pub fn note_json(&self, n: &Note) -> Value {
        json!({
            "id": n.id,
            "type": null,
            "body": n.body,
            "attachment": null,
            "author": {
                "id": n.author,
                "username": self.names[&n.author],
                "name": self.names[&n.author],
                "state": "active",
                "avatar_url": null,
                "web_url": format!("https://gitlab.example.com/{}", self.names[&n.author])
            },
            "created_at": timestamp(n.created),
            "updated_at": timestamp(n.updated),
            "system": n.system,
            "noteable_id": 90_007,
            "noteable_type": "MergeRequest",
            "noteable_iid": IID,
            "resolvable": false,
            "confidential": false,
            "internal": false
        })
    }

    /// Answer one request as GitLab would.
    pub fn handle(&mut self, req: &Recorded) -> Reply {
        if let Some(reply) = self.inject.pop_front() {
            return reply;
        }
        let Some(me) = req
            .header("private-token")
            .and_then(|t| self.users.get(t))
            .map(|(id, _)| *id)
        else {
            return message(401, "401 Unauthorized");
        };
        let Some(path) = req.path.strip_prefix("/api/v4/") else {
            return Reply::json(404, &json!({"error": "404 Not Found"}));
        };
        let segs: Vec<&str> = path.split('/').collect();
        let method = req.method.as_str();
        if segs == ["user"] && method == "GET" {
            let name = &self.names[&me];
            return Reply::json(
                200,
                &json!({"id": me, "username": name, "name": name, "state": "active", "bot": me == THULE_ID}),
            );
        }
        let ["projects", project, rest @ ..] = segs.as_slice() else {
            return Reply::json(404, &json!({"error": "404 Not Found"}));
        };
        if *project != ENCODED_PATH && *project != PROJECT_ID.to_string() {
            return message(404, "404 Project Not Found");
        }
        match (method, rest) {
            ("POST", ["statuses", sha]) => self.post_status(sha, &req.json()),
            (_, ["merge_requests", iid, rest @ ..]) => {
                if *iid != IID.to_string() {
                    return message(404, "404 Not found");
                }
                match (method, rest) {
                    ("GET", []) => Reply::json(200, &self.mr),
                    ("GET", ["diffs"]) => {
                        let diffs = self.diffs.clone();
                        self.page("diffs", diffs, &req.query)
                    }
                    ("GET", ["notes"]) => self.list_notes(&req.query),
                    ("POST", ["notes"]) => {
                        let body = req.json();
                        let Some(text) = body["body"].as_str() else {
                            return Reply::json(400, &json!({"error": "body is missing"}));
                        };
                        if let Some(r) = too_long(text) {
                            return r;
                        }
                        let id = self.add_note(me, text, false);
                        let json = self.note_json(self.note(id));
                        Reply::json(201, &json)
                    }
                    (_, ["notes", id]) => {
                        let Some(i) = self.notes.iter().position(|n| n.id.to_string() == *id)
                        else {
                            return message(404, "404 Note Not Found");
                        };
                        match method {
                            "GET" => Reply::json(200, &self.note_json(&self.notes[i])),
                            "PUT" | "DELETE" if self.notes[i].author != me => {
                                message(403, "403 Forbidden")
                            }
                            "PUT" => {
                                let body = req.json();
                                let Some(text) = body["body"].as_str() else {
                                    return Reply::json(400, &json!({"error": "body is missing"}));
                                };
                                if let Some(r) = too_long(text) {
                                    return r;
                                }
                                self.clock += 1;
                                self.notes[i].body = text.to_owned();
                                self.notes[i].updated = self.clock;
                                Reply::json(200, &self.note_json(&self.notes[i]))
                            }
                            "DELETE" => {
                                self.notes.remove(i);
                                Reply::empty(204)
                            }
                            _ => Reply::json(405, &json!({"error": "405 Method Not Allowed"})),
                        }
                    }
                    _ => Reply::json(404, &json!({"error": "404 Not Found"})),
                }
            }
            _ => Reply::json(404, &json!({"error": "404 Not Found"})),
        }
    }

    fn list_notes(&mut self, query: &BTreeMap<String, String>) -> Reply {
        let mut notes = self.notes.clone();
        let by_updated = query.get("order_by").map(String::as_str) == Some("updated_at");
        notes.sort_by_key(|n| (if by_updated { n.updated } else { n.created }, n.id));
        // GitLab's default is newest first.
        if query.get("sort").map(String::as_str) != Some("asc") {
            notes.reverse();
        }
        let items = notes.iter().map(|n| self.note_json(n)).collect();
        self.page("notes", items, query)
    }

    /// One page of `items`, as GitLab's offset pagination serves it.
    fn page(&mut self, what: &str, items: Vec<Value>, query: &BTreeMap<String, String>) -> Reply {
        let per_page = query
            .get("per_page")
            .and_then(|p| p.parse::<usize>().ok())
            .unwrap_or(20)
            .clamp(1, 100);
        let page = query
            .get("page")
            .and_then(|p| p.parse::<usize>().ok())
            .unwrap_or(1)
            .max(1);
        self.pages.push((what.to_owned(), page as u64));
        let total = items.len();
        let total_pages = total.div_ceil(per_page).max(1);
        let slice: Vec<Value> = items
            .into_iter()
            .skip((page - 1) * per_page)
            .take(per_page)
            .collect();
        let next = if page < total_pages {
            (page + 1).to_string()
        } else {
            String::new()
        };
        let prev = if page > 1 {
            (page - 1).to_string()
        } else {
            String::new()
        };
        Reply::json(200, &Value::Array(slice))
            .with_header("x-page", &page.to_string())
            .with_header("x-per-page", &per_page.to_string())
            .with_header("x-next-page", &next)
            .with_header("x-prev-page", &prev)
            .with_header("x-total", &total.to_string())
            .with_header("x-total-pages", &total_pages.to_string())
    }

    /// `POST /projects/:id/statuses/:sha`, with GitLab's state machine: a status that is
    /// still pending or running is moved to the new state when the transition exists, and
    /// refused with 400 when it does not; a finished one is replaced by a new status.
    fn post_status(&mut self, sha: &str, body: &Value) -> Reply {
        let reply = self.status_reply(sha, body);
        self.status_log.push(StatusPost {
            sha: sha.to_owned(),
            state: body["state"].as_str().unwrap_or_default().to_owned(),
            name: body["name"].as_str().unwrap_or_default().to_owned(),
            target_url: body["target_url"].as_str().map(str::to_owned),
            answered: reply.status,
        });
        reply
    }

    fn status_reply(&mut self, sha: &str, body: &Value) -> Reply {
        if !self.commits.contains(sha) {
            return message(404, "404 Commit Not Found");
        }
        let Some(state) = body["state"].as_str() else {
            return Reply::json(400, &json!({"error": "state is missing"}));
        };
        let event = match state {
            "pending" => "enqueue",
            "running" => "run",
            "success" => "succeed",
            "failed" => "drop",
            "canceled" => "cancel",
            "skipped" => "skip",
            _ => {
                return Reply::json(400, &json!({"error": "state does not have a valid value"}));
            }
        };
        let name = body["name"]
            .as_str()
            .or_else(|| body["context"].as_str())
            .unwrap_or("default")
            .to_owned();
        let description = body["description"].as_str().map(str::to_owned);
        let target_url = body["target_url"].as_str().map(str::to_owned);
        for (field, value) in [("description", &description), ("target_url", &target_url)] {
            if value.as_ref().is_some_and(|v| v.chars().count() > 255) {
                return message(
                    400,
                    &format!("{{:{field}=>[\"is too long (maximum is 255 characters)\"]}}"),
                );
            }
        }
        let live = self.statuses.iter_mut().rev().find(|s| {
            s.sha == sha && s.name == name && matches!(s.state.as_str(), "pending" | "running")
        });
        let status = match live {
            Some(s) => {
                let allowed = match s.state.as_str() {
                    "pending" => event != "enqueue",
                    _ => !matches!(event, "enqueue" | "run"),
                };
                if !allowed {
                    return message(
                        400,
                        &format!("Cannot transition status via :{event} from :{}", s.state),
                    );
                }
                s.state = state.to_owned();
                s.description = description;
                s.target_url = target_url;
                s.clone()
            }
            None => {
                self.next_id += 1;
                self.statuses.push(Status {
                    id: self.next_id,
                    sha: sha.to_owned(),
                    name,
                    state: state.to_owned(),
                    description,
                    target_url,
                });
                self.statuses.last().cloned().expect("just pushed")
            }
        };
        Reply::json(
            201,
            &json!({
                "id": status.id,
                "sha": status.sha,
                "ref": "scale-web",
                "status": status.state,
                "name": status.name,
                "target_url": status.target_url,
                "description": status.description,
                "created_at": "2024-06-01T12:00:00.000Z",
                "started_at": null,
                "finished_at": null,
                "allow_failure": false,
                "coverage": null,
                "author": {"id": THULE_ID, "username": "project_42_bot_thule"}
            }),
        )
    }
}

fn too_long(text: &str) -> Option<Reply> {
    (text.chars().count() > GITLAB_NOTE_LIMIT).then(|| {
        Reply::json(
            400,
            &json!({"message": {"note": ["is too long (maximum is 1000000 characters)"]}}),
        )
    })
}

/// A `/diffs` item for a file at `old_path` before and `new_path` after.
pub fn diff(old_path: &str, new_path: &str) -> Value {
    json!({
        "old_path": old_path,
        "new_path": new_path,
        "a_mode": "100644",
        "b_mode": "100644",
        "diff": "@@ -1 +1 @@\n-replicas: 2\n+replicas: 3\n",
        "new_file": false,
        "renamed_file": old_path != new_path,
        "deleted_file": false,
        "generated_file": false
    })
}

/// A running fake GitLab: its state and the loopback server answering from it. It stops when
/// dropped.
pub struct FakeGitLab {
    forge: Arc<Mutex<Forge>>,
    /// The server (its request log, [`LoopbackServer::clear`]).
    pub server: LoopbackServer,
}

impl FakeGitLab {
    /// Start a fake GitLab whose merge request is at `head` over `base`. Must be called inside
    /// a tokio runtime.
    ///
    /// # Panics
    /// When no loopback port can be bound.
    pub async fn start(head: &str, base: &str) -> Self {
        let forge = Arc::new(Mutex::new(Forge::new(head, base)));
        let server = {
            let forge = Arc::clone(&forge);
            LoopbackServer::start(move |req| {
                forge
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .handle(req)
            })
            .await
        };
        Self { forge, server }
    }

    /// The state, locked (release it before the next request is answered).
    pub fn forge(&self) -> MutexGuard<'_, Forge> {
        self.forge.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The API base URL, as GitLab CI's `CI_API_V4_URL`: `http://127.0.0.1:PORT/api/v4`.
    pub fn api_url(&self) -> String {
        format!("{}/api/v4", self.server.url())
    }

    /// Every request so far, in arrival order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.server.requests()
    }
}

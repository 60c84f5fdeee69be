//! The GitLab adapter (feature `gitlab`): merge-request notes, commit statuses, merge requests
//! and their changed files over the REST API v4 (`https://host/api/v4`).
//!
//! - Authentication: `PRIVATE-TOKEN: <token>` (a personal, project or group access token), or
//!   any other [`Auth`] with [`GitLab::with_auth`] (`Authorization: Bearer` for OAuth tokens).
//! - Projects are named by their numeric id or their path, URL-encoded (`group%2Fsub%2Fproj`).
//! - Lists are read page by page, 100 per page, following `x-next-page` until it is empty;
//!   notes are asked oldest first (`sort=asc&order_by=created_at`, GitLab's default is newest
//!   first) and system notes ("added 1 commit") are skipped.
//! - Notes cannot be hidden: older plans are edited into a collapsed "superseded" note
//!   ([`SupersedeStyle::EditCollapsed`]). A note's link is the merge request's `web_url`
//!   (read once per merge request) with `#note_<id>`.
//! - Commit statuses: thule's states map to `pending`, `success` and `failed`; re-posting the
//!   state a status already has (GitLab answers 400 "Cannot transition status via :run from
//!   :running") counts as done.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use serde_json::{Value, json};

use crate::error::{ErrorKind, Result, VcsError};
use crate::http::{Auth, Http, Method, Response, RetryPolicy, Secret};
use crate::model::{
    Actor, ChangedPath, Comment, CommentHandle, CommitStatus, MergeRequest, MrRef, MrState,
    Permission, ProviderKind, RepoRef, StatusState,
};
use crate::provider::{Capabilities, Provider, SupersedeStyle};

/// GitLab's limit on a commit status's `description` (and `target_url`), in characters.
pub const GITLAB_STATUS_DESCRIPTION_LIMIT: usize = 255;

/// The page size thule asks for (GitLab's maximum; its default is 20).
const PER_PAGE: u32 = 100;

/// The most pages one list is read over (100,000 items), against a server that never ends.
const MAX_PAGES: u64 = 1_000;

/// A GitLab project's merge requests, notes and commit statuses.
///
/// Every call addresses the project named by the [`MrRef`] or [`RepoRef`] it is given;
/// [`GitLab::repo`] and [`GitLab::mr`] build those for the project the adapter was made for.
/// Its `Debug` output never shows the token.
#[derive(Debug)]
pub struct GitLab {
    http: Http,
    repo: RepoRef,
    /// `web_url` of the merge requests read so far, by (project, iid).
    web_urls: Mutex<HashMap<(String, u64), String>>,
}

impl GitLab {
    /// An adapter for the project `project` (its path `group/sub/proj` or its numeric id) on
    /// the API at `api_base` (`https://gitlab.example.com/api/v4`), authenticating with
    /// `PRIVATE-TOKEN: <token>`.
    ///
    /// # Errors
    /// When the HTTP client cannot be built.
    pub fn new(api_base: &str, project: &str, token: Secret) -> Result<Self> {
        Self::with_auth(api_base, project, Auth::Header("PRIVATE-TOKEN", token))
    }

    /// [`GitLab::new`] with another way to authenticate (`Auth::Bearer` for an OAuth token).
    ///
    /// # Errors
    /// When the HTTP client cannot be built.
    pub fn with_auth(api_base: &str, project: &str, auth: Auth) -> Result<Self> {
        Ok(Self {
            http: Http::new(ProviderKind::GitLab, api_base, auth)?,
            repo: RepoRef {
                provider: ProviderKind::GitLab,
                path: project.to_owned(),
            },
            web_urls: Mutex::default(),
        })
    }

    /// Use these retry limits (the default: 4 tries, 500 ms doubling, 60 s in all).
    #[must_use]
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.http = self.http.with_retry(retry);
        self
    }

    /// The project this adapter was made for.
    pub fn repo(&self) -> &RepoRef {
        &self.repo
    }

    /// Merge request `iid` of this adapter's project.
    pub fn mr(&self, iid: u64) -> MrRef {
        MrRef {
            repo: self.repo.clone(),
            number: iid,
        }
    }

    /// `/projects/<encoded id or path>`.
    fn project_path(repo: &RepoRef) -> String {
        format!("/projects/{}", encode(&repo.path))
    }

    /// `/projects/:id/merge_requests/:iid`.
    fn mr_path(mr: &MrRef) -> String {
        format!(
            "{}/merge_requests/{}",
            Self::project_path(&mr.repo),
            mr.number
        )
    }

    /// Every item of a paginated list at `path` (which has no `page` yet), following
    /// `x-next-page` until it is empty (or, when GitLab sends no such header, the page of a
    /// `Link: rel="next"`).
    async fn get_all(&self, path: &str, action: &str) -> Result<Vec<Value>> {
        let sep = if path.contains('?') { '&' } else { '?' };
        let page_url = |n: u64| format!("{path}{sep}per_page={PER_PAGE}&page={n}");
        let mut url = page_url(1);
        let mut page: u64 = 1;
        let mut items = Vec::new();
        loop {
            let response = self.http.send(Method::Get, &url, None, action).await?;
            let next = match response.header("x-next-page").map(str::trim) {
                Some("") => None,
                Some(n) => match n.parse::<u64>() {
                    Ok(n) if n > page => {
                        page = n;
                        Some(page_url(n))
                    }
                    _ => {
                        return Err(self
                            .malformed(action, &format!("`x-next-page: {n}` after page {page}")));
                    }
                },
                // No `x-next-page`: the `page` of a `Link: rel="next"`. Only the page number
                // is taken, so the token never goes to a host the link names.
                None => match response.next_link().as_deref().map(link_page) {
                    None => None,
                    Some(Some(n)) if n > page => {
                        page = n;
                        Some(page_url(n))
                    }
                    Some(_) => {
                        return Err(self.malformed(
                            action,
                            &format!("a `Link: rel=\"next\"` without a page after {page}"),
                        ));
                    }
                },
            };
            match response.body {
                Value::Array(list) => items.extend(list),
                _ => return Err(self.malformed(action, "a page that is not a JSON list")),
            }
            match next {
                None => return Ok(items),
                Some(_) if page > MAX_PAGES => {
                    return Err(self.malformed(action, &format!("more than {MAX_PAGES} pages")));
                }
                Some(next) => url = next,
            }
        }
    }

    /// An error for an answer thule cannot read: "GitLab answered `what`".
    fn malformed(&self, action: &str, what: &str) -> VcsError {
        VcsError::new(
            ProviderKind::GitLab,
            action,
            ErrorKind::Transport,
            format!("GitLab answered {what}"),
        )
    }

    /// The merge request's `web_url`, read once and cached.
    async fn web_url(&self, mr: &MrRef) -> Result<String> {
        let key = (mr.repo.path.clone(), mr.number);
        if let Some(url) = self.cache().get(&key) {
            return Ok(url.clone());
        }
        Ok(self.merge_request(mr).await?.web_url.unwrap_or_default())
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, HashMap<(String, u64), String>> {
        self.web_urls.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A note's handle, linked under the merge request's `web_url` when it is known.
    fn note_handle(&self, note: &Value, web_url: &str, action: &str) -> Result<CommentHandle> {
        let id = Field::new(note, "a note", action).u64("id")?;
        Ok(CommentHandle {
            url: (!web_url.is_empty()).then(|| format!("{web_url}#note_{id}")),
            ..CommentHandle::id(id)
        })
    }
}

/// The `page` query parameter of a URL.
fn link_page(url: &str) -> Option<u64> {
    let (_, query) = url.split_once('?')?;
    query
        .split(['&', '#'])
        .find_map(|kv| kv.strip_prefix("page="))
        .and_then(|n| n.parse().ok())
}

/// Percent-encode `s` for one URL path segment (`group/sub/proj` → `group%2Fsub%2Fproj`).
/// GitLab access levels: 10 guest, 20 reporter, 30 developer, 40 maintainer, 50 owner.
fn gitlab_permission(level: u64) -> Permission {
    match level {
        50.. => Permission::Admin,
        30.. => Permission::Write,
        10.. => Permission::Read,
        _ => Permission::None,
    }
}

fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Reading fields of one JSON object, with errors naming the missing field.
struct Field<'a> {
    value: &'a Value,
    what: &'a str,
    action: &'a str,
}

impl<'a> Field<'a> {
    fn new(value: &'a Value, what: &'a str, action: &'a str) -> Self {
        Self {
            value,
            what,
            action,
        }
    }

    /// The value at the dotted `path` (`author.username`), if present and not null.
    fn get(&self, path: &str) -> Option<&'a Value> {
        let v = path.split('.').try_fold(self.value, |v, key| v.get(key))?;
        (!v.is_null()).then_some(v)
    }

    fn missing(&self, path: &str) -> VcsError {
        VcsError::new(
            ProviderKind::GitLab,
            self.action,
            ErrorKind::Transport,
            format!("GitLab answered {} without `{path}`", self.what),
        )
    }

    fn str(&self, path: &str) -> Result<&'a str> {
        self.get(path)
            .and_then(Value::as_str)
            .ok_or_else(|| self.missing(path))
    }

    fn opt_str(&self, path: &str) -> Option<&'a str> {
        self.get(path).and_then(Value::as_str)
    }

    fn u64(&self, path: &str) -> Result<u64> {
        self.get(path)
            .and_then(Value::as_u64)
            .ok_or_else(|| self.missing(path))
    }

    fn bool(&self, path: &str) -> Option<bool> {
        self.get(path).and_then(Value::as_bool)
    }

    /// An account: `<prefix>username` and `<prefix>id` (`prefix` is `""` or `author.`).
    fn actor(&self, prefix: &str) -> Result<Actor> {
        Ok(Actor {
            login: self.str(&format!("{prefix}username"))?.to_owned(),
            id: self
                .get(&format!("{prefix}id"))
                .and_then(Value::as_u64)
                .map(|id| id.to_string()),
        })
    }
}

/// GitLab's word for a thule status state.
fn status_word(state: StatusState) -> &'static str {
    match state {
        StatusState::Pending => "pending",
        StatusState::Success => "success",
        StatusState::Failure | StatusState::Error => "failed",
    }
}

/// Whether a refusal of a status post only says the status already has `word` (GitLab
/// answers 400 "Cannot transition status via :run from :running" to a repeated `running`).
fn already_in_state(err: &VcsError, word: &str) -> bool {
    if err.kind != (ErrorKind::Rejected { status: 400 }) {
        return false;
    }
    let Some((_, rest)) = err.message.split_once("Cannot transition status via :") else {
        return false;
    };
    let Some((_, from)) = rest.split_once(" from :") else {
        return false;
    };
    let from: String = from
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    from == word
}

#[async_trait::async_trait]
impl Provider for GitLab {
    fn kind(&self) -> ProviderKind {
        ProviderKind::GitLab
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            max_comment_chars: crate::GITLAB_NOTE_LIMIT,
            supersede: SupersedeStyle::EditCollapsed,
            max_status_description: GITLAB_STATUS_DESCRIPTION_LIMIT,
        }
    }

    async fn whoami(&self) -> Result<Actor> {
        let action = "reading the token's user";
        let response = self.http.send(Method::Get, "/user", None, action).await?;
        Field::new(&response.body, "the user", action).actor("")
    }

    async fn merge_request(&self, mr: &MrRef) -> Result<MergeRequest> {
        let action = format!("reading merge request {mr}");
        let response = self
            .http
            .send(Method::Get, &Self::mr_path(mr), None, &action)
            .await?;
        let f = Field::new(&response.body, "a merge request", &action);
        let state = match f.str("state")? {
            "opened" | "locked" => MrState::Open,
            "closed" => MrState::Closed,
            "merged" => MrState::Merged,
            other => {
                return Err(self.malformed(
                    &action,
                    &format!("a merge request in the unknown state `{other}`"),
                ));
            }
        };
        let labels = match f.get("labels") {
            None => Vec::new(),
            Some(Value::Array(labels)) => labels
                .iter()
                .map(|l| {
                    // Plain names, or objects with `with_labels_details=true`.
                    l.as_str()
                        .or_else(|| l.get("name").and_then(Value::as_str))
                        .map(str::to_owned)
                        .ok_or_else(|| f.missing("labels[].name"))
                })
                .collect::<Result<_>>()?,
            Some(_) => return Err(f.missing("labels")),
        };
        let source = f.u64("source_project_id")?;
        let target = f.u64("target_project_id")?;
        let web_url = f.opt_str("web_url").map(str::to_owned);
        if let Some(url) = &web_url {
            self.cache()
                .insert((mr.repo.path.clone(), mr.number), url.clone());
        }
        Ok(MergeRequest {
            mr: mr.clone(),
            head_sha: f.str("sha")?.to_owned(),
            base_sha: f.opt_str("diff_refs.base_sha").map(str::to_owned),
            head_branch: f.str("source_branch")?.to_owned(),
            base_branch: f.str("target_branch")?.to_owned(),
            author: f.actor("author.")?,
            labels,
            // `work_in_progress` is the older name, deprecated since GitLab 14.
            draft: f
                .bool("draft")
                .or_else(|| f.bool("work_in_progress"))
                .unwrap_or(false),
            from_fork: source != target,
            state,
            web_url,
        })
    }

    async fn changed_paths(&self, mr: &MrRef) -> Result<Vec<ChangedPath>> {
        let action = format!("listing the changed files of {mr}");
        let diffs = self
            .get_all(&format!("{}/diffs", Self::mr_path(mr)), &action)
            .await?;
        diffs
            .iter()
            .map(|d| {
                let f = Field::new(d, "a diff", &action);
                let new_path = f.str("new_path")?;
                let old_path = f.str("old_path")?;
                let renamed = f.bool("renamed_file").unwrap_or(false);
                let deleted = f.bool("deleted_file").unwrap_or(false);
                Ok(ChangedPath {
                    path: if deleted { old_path } else { new_path }.to_owned(),
                    previous: (renamed && old_path != new_path).then(|| old_path.to_owned()),
                })
            })
            .collect()
    }

    async fn list_comments(&self, mr: &MrRef) -> Result<Vec<Comment>> {
        let action = format!("listing notes of {mr}");
        let web_url = self.web_url(mr).await?;
        let notes = self
            .get_all(
                &format!("{}/notes?sort=asc&order_by=created_at", Self::mr_path(mr)),
                &action,
            )
            .await?;
        let mut comments = Vec::with_capacity(notes.len());
        for note in &notes {
            let f = Field::new(note, "a note", &action);
            if f.bool("system").unwrap_or(false) {
                continue;
            }
            comments.push(Comment {
                handle: self.note_handle(note, &web_url, &action)?,
                author: f.actor("author.")?,
                body: f.str("body")?.to_owned(),
                minimized: false,
            });
        }
        Ok(comments)
    }

    async fn create_comment(&self, mr: &MrRef, body: &str) -> Result<CommentHandle> {
        let action = format!("posting a note on {mr}");
        let web_url = self.web_url(mr).await?;
        let response = self
            .http
            .send(
                Method::Post,
                &format!("{}/notes", Self::mr_path(mr)),
                Some(&json!({ "body": body })),
                &action,
            )
            .await?;
        self.note_handle(&response.body, &web_url, &action)
    }

    async fn update_comment(
        &self,
        mr: &MrRef,
        comment: &CommentHandle,
        body: &str,
    ) -> Result<CommentHandle> {
        let action = format!("editing note {} of {mr}", comment.id);
        let response = self
            .http
            .send(
                Method::Put,
                &format!("{}/notes/{}", Self::mr_path(mr), comment.id),
                Some(&json!({ "body": body })),
                &action,
            )
            .await?;
        let web_url = match &comment.url {
            Some(_) => String::new(),
            None => self.web_url(mr).await?,
        };
        let mut handle = self.note_handle(&response.body, &web_url, &action)?;
        if handle.url.is_none() {
            handle.url.clone_from(&comment.url);
        }
        Ok(handle)
    }

    async fn delete_comment(&self, mr: &MrRef, comment: &CommentHandle) -> Result<()> {
        let action = format!("deleting note {} of {mr}", comment.id);
        self.http
            .send(
                Method::Delete,
                &format!("{}/notes/{}", Self::mr_path(mr), comment.id),
                None,
                &action,
            )
            .await
            .map(|_: Response| ())
    }

    async fn permission(&self, repo: &RepoRef, user: &Actor) -> Result<Permission> {
        let action = format!("reading the access of {} to {}", user.login, repo.path);
        let Some(id) = &user.id else {
            return Err(self.malformed(&action, "a user without a numeric id"));
        };
        // Members of the project, inherited ones included (groups, shared groups).
        let path = format!("{}/members/all/{}", Self::project_path(repo), encode(id));
        let response = match self.http.send(Method::Get, &path, None, &action).await {
            Ok(r) => r,
            Err(e) if e.kind == ErrorKind::NotFound => return Ok(Permission::None),
            Err(e) => return Err(e),
        };
        let level = response.body["access_level"].as_u64().unwrap_or(0);
        Ok(gitlab_permission(level))
    }

    async fn set_status(&self, repo: &RepoRef, sha: &str, status: &CommitStatus) -> Result<()> {
        let action = format!(
            "setting status `{}` on {sha} of {}",
            status.context, repo.path
        );
        let word = status_word(status.state);
        let description: String = status
            .description
            .chars()
            .take(GITLAB_STATUS_DESCRIPTION_LIMIT)
            .collect();
        let mut body = json!({
            "state": word,
            "name": status.context,
            "description": description,
        });
        // GitLab refuses a `target_url` over 255 characters; a status without a link beats
        // no status.
        if let Some(url) = &status.target_url
            && url.chars().count() <= GITLAB_STATUS_DESCRIPTION_LIMIT
        {
            body["target_url"] = json!(url);
        }
        let path = format!("{}/statuses/{}", Self::project_path(repo), encode(sha));
        match self
            .http
            .send_idempotent(Method::Post, &path, Some(&body), &action)
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if already_in_state(&e, word) => Ok(()),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_pages_are_read_from_the_query() {
        assert_eq!(
            link_page(
                "https://gitlab.example.com/api/v4/projects/1/merge_requests/2/notes?id=1&page=3&per_page=100"
            ),
            Some(3)
        );
        assert_eq!(link_page("https://x/notes?per_page=100"), None);
        assert_eq!(link_page("https://x/notes"), None);
    }

    #[test]
    fn project_paths_are_url_encoded() {
        assert_eq!(encode("group/sub/proj"), "group%2Fsub%2Fproj");
        assert_eq!(encode("42"), "42");
        assert_eq!(encode("a b.c_d-e~"), "a%20b.c_d-e~");
    }

    #[test]
    fn a_repeated_state_is_recognised_in_the_refusal() {
        let refusal = |status, message: &str| {
            VcsError::new(
                ProviderKind::GitLab,
                "setting a status",
                ErrorKind::Rejected { status },
                message,
            )
        };
        let same = refusal(
            400,
            "HTTP 400: Cannot transition status via :run from :running",
        );
        assert!(already_in_state(&same, "running"));
        assert!(!already_in_state(&same, "pending"));
        let pending = refusal(
            400,
            "HTTP 400: Cannot transition status via :enqueue from :pending (Reason(s): x)",
        );
        assert!(already_in_state(&pending, "pending"));
        assert!(!already_in_state(
            &refusal(400, "HTTP 400: name is missing"),
            "pending"
        ));
        assert!(!already_in_state(
            &refusal(
                409,
                "HTTP 409: Cannot transition status via :run from :running"
            ),
            "running"
        ));
    }

    #[test]
    fn thule_states_map_to_gitlab_words() {
        assert_eq!(status_word(StatusState::Pending), "pending");
        assert_eq!(status_word(StatusState::Success), "success");
        assert_eq!(status_word(StatusState::Failure), "failed");
        assert_eq!(status_word(StatusState::Error), "failed");
    }
}

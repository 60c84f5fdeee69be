//! [`KubeClusterReader`]: the read-only cluster reader over kube-rs.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use serde_json::Value;
use thule_core::cluster::{
    ClusterReader, KindScope, LiveOutcome, ObjectRef, OwnedList, OwnedQuery, ReadError,
};
use thule_core::object::{ObjectKey, group_of};
use thule_core::ownership::labels_match;
use tokio::sync::{OnceCell, Semaphore};
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::convert::{self, BuildError, Built, Target};
use crate::error::KubeError;

/// Tuning of a [`KubeClusterReader`]. The defaults suit a CI job planning a few projects.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReaderOptions {
    /// At most this many requests in flight at once (default 8).
    pub concurrency: usize,
    /// Per-run deadline, counted from the reader's first request (default 120 s). Objects
    /// not read by then get [`LiveOutcome::Error`] naming the deadline.
    pub deadline: Duration,
    /// Timeout of one request attempt (default 30 s); a timed-out attempt is retried.
    pub request_timeout: Duration,
    /// Attempts per request, the first included, on 429, 500/502/503/504, timeouts and
    /// connection failures (default 4).
    pub max_attempts: u32,
    /// First backoff between attempts, doubled each time (default 250 ms). A `Retry-After`
    /// header from the server replaces it for that wait.
    pub initial_backoff: Duration,
    /// Upper bound of the doubled backoff (default 4 s).
    pub max_backoff: Duration,
    /// Page size of list requests (`limit`, default 500).
    pub page_size: u32,
    /// With at least this many wanted objects of one resource in one namespace, one list
    /// replaces the single GETs (default 3). Secrets are never listed.
    pub list_threshold: usize,
}

impl Default for ReaderOptions {
    fn default() -> Self {
        Self {
            concurrency: 8,
            deadline: Duration::from_secs(120),
            request_timeout: Duration::from_secs(30),
            max_attempts: 4,
            initial_backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(4),
            page_size: 500,
            list_threshold: 3,
        }
    }
}

impl ReaderOptions {
    /// The same options with another per-run deadline.
    #[must_use]
    pub fn with_deadline(mut self, deadline: Duration) -> Self {
        self.deadline = deadline;
        self
    }

    /// The same options with another bound on requests in flight (at least 1).
    #[must_use]
    pub fn with_concurrency(mut self, concurrency: usize) -> Self {
        self.concurrency = concurrency.max(1);
        self
    }

    /// The same options with another retry policy: `max_attempts` attempts per request
    /// (at least 1), the first wait `initial_backoff`, doubled up to `max_backoff`.
    #[must_use]
    pub fn with_retries(
        mut self,
        max_attempts: u32,
        initial_backoff: Duration,
        max_backoff: Duration,
    ) -> Self {
        self.max_attempts = max_attempts.max(1);
        self.initial_backoff = initial_backoff;
        self.max_backoff = max_backoff;
        self
    }

    /// The same options with another timeout per request attempt.
    #[must_use]
    pub fn with_request_timeout(mut self, request_timeout: Duration) -> Self {
        self.request_timeout = request_timeout;
        self
    }

    /// The same options with another list threshold (see [`ReaderOptions::list_threshold`]).
    #[must_use]
    pub fn with_list_threshold(mut self, list_threshold: usize) -> Self {
        self.list_threshold = list_threshold.max(1);
        self
    }

    /// The same options with another list page size (at least 1).
    #[must_use]
    pub fn with_page_size(mut self, page_size: u32) -> Self {
        self.page_size = page_size.max(1);
        self
    }
}

/// A read-only [`ClusterReader`] over the Kubernetes API, through kube-rs.
///
/// It sends only `GET` requests: discovery (`/api`, `/apis`, `/api/v1`, `/apis/<g>/<v>`),
/// object gets and paginated lists. Discovery is cached for the reader's lifetime (one run).
/// Reading, per (resource, namespace): with [`ReaderOptions::list_threshold`] or more wanted
/// objects one paginated list (narrowed by a label selector when the caller passes a label
/// hint to [`ClusterReader::read_with_labels`]; objects the narrowed list misses are then
/// confirmed with a GET), otherwise one GET per object. Secrets are always read one by one, so Secrets
/// the plan does not need (Helm release storage, tokens) are never fetched.
///
/// Per object: 200 → found, 404 → absent, 403 → forbidden (a Secret then becomes
/// `SECRET_UNREADABLE` in the diff), an unserved apiVersion/kind → not served, anything else
/// (5xx after retries, the deadline) → error. The message of a 401 or 403 ends with
/// `; credentials sent: …`, naming the credentials but never showing them: ``bearer token
/// (kubeconfig user `ci`)``, `bearer token from token file <path> (…)`, ``credentials from
/// exec plugin `<command>` (…)``, ``client certificate `CN=…` (…)``, or `none (…)`. A cluster
/// that cannot be reached at all fails the read with
/// [`ReadError::Unreachable`](thule_core::cluster::ReadError::Unreachable), saying why:
/// `connection refused by <host:port>`, or `TLS: <which failure>: <details>` (unknown issuer,
/// name mismatch, expired certificate, a CA certificate presented as the server's
/// certificate, the server's alert).
///
/// TLS: with a CA in the kubeconfig, the server's certificate must chain to it, as usual; a
/// server certificate that is byte-for-byte a certificate of that CA bundle is accepted as
/// it is (kubectl does the same; some single-node and appliance clusters serve their CA
/// certificate), though still only for its own names and within its validity period. Build it with
/// [`KubeClusterReader::from_kubeconfig`] or [`KubeClusterReader::in_cluster`] inside a Tokio
/// runtime.
#[derive(Clone)]
pub struct KubeClusterReader {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for KubeClusterReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubeClusterReader")
            .field("cluster", &self.inner.cluster)
            .field("describe", &self.inner.describe)
            .field("options", &self.inner.options)
            .finish_non_exhaustive()
    }
}

struct Inner {
    cluster: String,
    describe: String,
    /// The API server's URL.
    server: String,
    client: kube::Client,
    /// The server's address and the credentials sent, for messages.
    target: Target,
    options: ReaderOptions,
    started: OnceLock<Instant>,
    permits: Semaphore,
    discovery: Mutex<HashMap<String, Arc<OnceCell<Discovered>>>>,
    group_lists: Mutex<HashMap<&'static str, Arc<OnceCell<Option<Value>>>>>,
}

/// What discovery said about one group-version.
#[derive(Clone, Debug)]
enum Discovered {
    Served(Arc<Vec<Resource>>),
    NotServed(String),
    Failed(Failure),
}

/// One resource of a group-version.
#[derive(Clone, Debug)]
struct Resource {
    plural: String,
    kind: String,
    namespaced: bool,
    verbs: Vec<String>,
}

impl Resource {
    fn can(&self, verb: &str) -> bool {
        self.verbs.is_empty() || self.verbs.iter().any(|v| v == verb)
    }
}

/// Why one request failed (after retries).
#[derive(Clone, Debug)]
enum Failure {
    Status { code: u16, message: String },
    Transport(String),
    Timeout,
    Deadline,
    Decode(String),
}

impl KubeClusterReader {
    /// A reader for `cluster_ref` from a kubeconfig file and context.
    ///
    /// `path` `None` reads `$KUBECONFIG` or `~/.kube/config`; `context` `None` uses the
    /// file's current context. With neither, kube's inference applies: the default
    /// kubeconfig if there is one, else the in-cluster service account. Token,
    /// client-certificate and exec/auth-provider users and the cluster's CA all come from the
    /// kubeconfig.
    ///
    /// # Errors
    /// [`KubeError::Kubeconfig`] when the file cannot be read or lacks the context, cluster
    /// or user; [`KubeError::Client`] when TLS cannot be set up (bad CA or key). Nothing is
    /// requested yet: TLS failures and refused connections surface at the first read.
    pub async fn from_kubeconfig(
        cluster_ref: &str,
        path: Option<&Path>,
        context: Option<&str>,
        options: ReaderOptions,
    ) -> Result<Self, KubeError> {
        let built = convert::from_kubeconfig(path, context)
            .await
            .map_err(|e| build_error(cluster_ref, e))?;
        Ok(Self::new(cluster_ref, built, options))
    }

    /// A reader for `cluster_ref` from the pod's service account (for thule running inside
    /// the cluster with the RBAC of `deploy/rbac/`).
    ///
    /// # Errors
    /// [`KubeError::InCluster`] outside a pod (no `KUBERNETES_SERVICE_HOST`, token or CA).
    pub fn in_cluster(cluster_ref: &str, options: ReaderOptions) -> Result<Self, KubeError> {
        let built = convert::in_cluster().map_err(|e| build_error(cluster_ref, e))?;
        Ok(Self::new(cluster_ref, built, options))
    }

    fn new(cluster_ref: &str, built: Built, options: ReaderOptions) -> Self {
        let permits = Semaphore::new(options.concurrency.max(1));
        Self {
            inner: Arc::new(Inner {
                cluster: cluster_ref.to_owned(),
                describe: built.describe,
                server: built.server,
                client: built.client,
                target: built.target,
                options,
                started: OnceLock::new(),
                permits,
                discovery: Mutex::new(HashMap::new()),
                group_lists: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// The options this reader runs with.
    pub fn options(&self) -> &ReaderOptions {
        &self.inner.options
    }
}

fn build_error(cluster: &str, e: BuildError) -> KubeError {
    let cluster = cluster.to_owned();
    match e {
        BuildError::Kubeconfig { path, message } => KubeError::Kubeconfig {
            cluster,
            path,
            message,
        },
        BuildError::InCluster(message) => KubeError::InCluster { cluster, message },
        BuildError::Client(message) => KubeError::Client { cluster, message },
    }
}

/// Percent-encode everything but RFC 3986 unreserved characters.
fn enc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// `/api/v1` or `/apis/<group>/<version>`.
fn gv_path(api_version: &str) -> String {
    if api_version.contains('/') {
        format!("/apis/{api_version}")
    } else {
        format!("/api/{api_version}")
    }
}

fn collection_path(api_version: &str, resource: &Resource, namespace: &str) -> String {
    let base = gv_path(api_version);
    if resource.namespaced && !namespace.is_empty() {
        format!("{base}/namespaces/{}/{}", enc(namespace), resource.plural)
    } else {
        format!("{base}/{}", resource.plural)
    }
}

fn selector(labels: &BTreeMap<String, String>) -> String {
    labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// List items from the API omit `apiVersion` and `kind` for built-in types; put them back so
/// a listed object looks exactly like a fetched one.
fn complete_item(mut item: Value, api_version: &str, kind: &str) -> Value {
    if let Value::Object(map) = &mut item {
        map.entry("apiVersion")
            .or_insert_with(|| Value::String(api_version.to_owned()));
        map.entry("kind")
            .or_insert_with(|| Value::String(kind.to_owned()));
    }
    item
}

fn name_of(item: &Value) -> Option<&str> {
    item.pointer("/metadata/name").and_then(Value::as_str)
}

impl Inner {
    fn deadline(&self) -> Instant {
        *self.started.get_or_init(Instant::now) + self.options.deadline
    }

    fn deadline_secs(&self) -> u64 {
        self.options.deadline.as_secs()
    }

    /// One `GET` with retries, backoff, the per-request timeout and the run deadline.
    async fn get(&self, path: &str) -> Result<Value, Failure> {
        let deadline = self.deadline();
        let opts = &self.options;
        let mut backoff = opts.initial_backoff;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let Ok(permit) = tokio::time::timeout_at(deadline, self.permits.acquire()).await else {
                return Err(Failure::Deadline);
            };
            let Ok(permit) = permit else {
                return Err(Failure::Transport("the reader was shut down".into()));
            };
            let attempt_end = (Instant::now() + opts.request_timeout).min(deadline);
            let result = tokio::time::timeout_at(
                attempt_end,
                convert::get(&self.client, &self.target, path),
            )
            .await;
            drop(permit);
            let (failure, retry_after) = match result {
                Err(_) if attempt_end >= deadline => return Err(Failure::Deadline),
                Err(_) => (Failure::Timeout, None),
                Ok(Err(transport)) => (Failure::Transport(transport), None),
                Ok(Ok(response)) if (200..300).contains(&response.status) => {
                    return serde_json::from_slice(&response.body).map_err(|e| {
                        Failure::Decode(format!(
                            "the response is not JSON (line {}, column {})",
                            e.line(),
                            e.column()
                        ))
                    });
                }
                Ok(Ok(response)) => {
                    let code = response.status;
                    let mut message = convert::status_message(&response.body)
                        .unwrap_or_else(|| format!("HTTP {code}"));
                    if matches!(code, 401 | 403) {
                        // Which credentials the server refused (401) or did not authorize
                        // (403): named, never shown.
                        let _ = write!(message, "; credentials sent: {}", self.target.credentials);
                    }
                    if !matches!(code, 429 | 500 | 502 | 503 | 504) {
                        return Err(Failure::Status { code, message });
                    }
                    (Failure::Status { code, message }, response.retry_after)
                }
            };
            if attempt >= opts.max_attempts {
                return Err(failure);
            }
            let wait = retry_after.unwrap_or(backoff);
            if Instant::now() + wait >= deadline {
                return Err(Failure::Deadline);
            }
            tokio::time::sleep(wait).await;
            backoff = (backoff * 2).min(opts.max_backoff);
        }
    }

    /// All pages of a list.
    async fn list(
        &self,
        collection: &str,
        labels: &BTreeMap<String, String>,
    ) -> Result<Vec<Value>, Failure> {
        let mut items = Vec::new();
        let mut next: Option<String> = None;
        loop {
            let mut path = format!("{collection}?limit={}", self.options.page_size);
            if !labels.is_empty() {
                let _ = write!(path, "&labelSelector={}", enc(&selector(labels)));
            }
            if let Some(token) = &next {
                let _ = write!(path, "&continue={}", enc(token));
            }
            let page = self.get(&path).await?;
            if let Some(Value::Array(page_items)) = page.get("items") {
                items.extend(page_items.iter().cloned());
            }
            next = page
                .pointer("/metadata/continue")
                .and_then(Value::as_str)
                .filter(|t| !t.is_empty())
                .map(str::to_owned);
            if next.is_none() {
                return Ok(items);
            }
        }
    }

    /// Discovery of one group-version, once per run.
    async fn discover(&self, api_version: &str) -> Discovered {
        let cell = {
            let mut map = self
                .discovery
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            map.entry(api_version.to_owned()).or_default().clone()
        };
        cell.get_or_init(|| self.fetch_discovery(api_version))
            .await
            .clone()
    }

    async fn fetch_discovery(&self, api_version: &str) -> Discovered {
        match self.get(&gv_path(api_version)).await {
            Ok(list) => {
                let resources = list
                    .get("resources")
                    .and_then(Value::as_array)
                    .map(|rs| {
                        rs.iter()
                            .filter_map(|r| {
                                let plural = r.get("name")?.as_str()?;
                                if plural.contains('/') {
                                    return None; // subresource
                                }
                                Some(Resource {
                                    plural: plural.to_owned(),
                                    kind: r.get("kind")?.as_str()?.to_owned(),
                                    namespaced: r
                                        .get("namespaced")
                                        .and_then(Value::as_bool)
                                        .unwrap_or(true),
                                    verbs: r
                                        .get("verbs")
                                        .and_then(Value::as_array)
                                        .map(|vs| {
                                            vs.iter()
                                                .filter_map(Value::as_str)
                                                .map(str::to_owned)
                                                .collect()
                                        })
                                        .unwrap_or_default(),
                                })
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                Discovered::Served(Arc::new(resources))
            }
            Err(Failure::Status { code: 404, .. }) => {
                Discovered::NotServed(self.not_served_message(api_version).await)
            }
            Err(f) => Discovered::Failed(f),
        }
    }

    /// Explain an unserved group-version using `/api` or `/apis` (fetched once per run, and
    /// only when something is not served).
    async fn not_served_message(&self, api_version: &str) -> String {
        let group = group_of(api_version);
        let path: &'static str = if group.is_empty() { "/api" } else { "/apis" };
        let cell = {
            let mut map = self
                .group_lists
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            map.entry(path).or_default().clone()
        };
        let listing = cell
            .get_or_init(|| async { self.get(path).await.ok() })
            .await;
        let served: Option<Vec<String>> = listing.as_ref().map(|l| {
            if group.is_empty() {
                l.get("versions")
                    .and_then(Value::as_array)
                    .map(|vs| {
                        vs.iter()
                            .filter_map(Value::as_str)
                            .map(str::to_owned)
                            .collect()
                    })
                    .unwrap_or_default()
            } else {
                l.get("groups")
                    .and_then(Value::as_array)
                    .and_then(|gs| {
                        gs.iter()
                            .find(|g| g.get("name").and_then(Value::as_str) == Some(group))
                    })
                    .and_then(|g| g.get("versions").and_then(Value::as_array))
                    .map(|vs| {
                        vs.iter()
                            .filter_map(|v| v.get("groupVersion").and_then(Value::as_str))
                            .map(str::to_owned)
                            .collect()
                    })
                    .unwrap_or_default()
            }
        });
        match served {
            Some(versions) if !versions.is_empty() => format!(
                "apiVersion {api_version} is not served by the cluster; it serves {}",
                versions.join(", ")
            ),
            Some(_) if !group.is_empty() => format!(
                "apiVersion {api_version} is not served: the cluster has no API group `{group}` \
                 (CRD not installed yet?)"
            ),
            _ => format!("apiVersion {api_version} is not served by the cluster"),
        }
    }

    fn failure_outcome(&self, failure: &Failure, get: bool) -> LiveOutcome {
        match failure {
            Failure::Status { code: 404, .. } if get => LiveOutcome::Absent,
            // A collection that 404s is a resource the server stopped serving.
            Failure::Status { code: 404, message } => LiveOutcome::NotServed {
                message: message.clone(),
            },
            Failure::Status { code: 403, message } => LiveOutcome::Forbidden {
                message: message.clone(),
            },
            Failure::Status { code, message } => LiveOutcome::Error {
                message: format!("HTTP {code}: {message}"),
            },
            Failure::Transport(m) => LiveOutcome::Error {
                message: format!("request failed: {m}"),
            },
            Failure::Timeout => LiveOutcome::Error {
                message: format!(
                    "no answer within {}s after {} attempts",
                    self.options.request_timeout.as_secs(),
                    self.options.max_attempts
                ),
            },
            Failure::Deadline => LiveOutcome::Error {
                message: format!(
                    "the per-run deadline of {}s passed before this object was read",
                    self.deadline_secs()
                ),
            },
            Failure::Decode(m) => LiveOutcome::Error { message: m.clone() },
        }
    }

    async fn get_one(
        &self,
        api_version: &str,
        resource: &Resource,
        key: &ObjectKey,
    ) -> LiveOutcome {
        let path = format!(
            "{}/{}",
            collection_path(api_version, resource, &key.namespace),
            enc(&key.name)
        );
        match self.get(&path).await {
            Ok(object) => LiveOutcome::Found(complete_item(object, api_version, &resource.kind)),
            Err(f) => self.failure_outcome(&f, true),
        }
    }

    /// Single GETs of `keys`, concurrently (the semaphore still bounds requests in flight).
    async fn get_many(
        self: &Arc<Self>,
        api_version: &str,
        resource: &Resource,
        keys: Vec<ObjectKey>,
    ) -> Vec<(ObjectKey, LiveOutcome)> {
        let mut tasks = JoinSet::new();
        for key in keys {
            let inner = self.clone();
            let api_version = api_version.to_owned();
            let resource = resource.clone();
            tasks.spawn(async move {
                let outcome = inner.get_one(&api_version, &resource, &key).await;
                (key, outcome)
            });
        }
        let mut out = Vec::new();
        while let Some(joined) = tasks.join_next().await {
            // A panicking task is a bug; its object gets no outcome here, and `read` reports
            // it as an error.
            if let Ok(result) = joined {
                out.push(result);
            }
        }
        out
    }

    async fn read_batch(self: Arc<Self>, batch: Batch) -> Vec<(ObjectKey, LiveOutcome)> {
        let Batch {
            api_version,
            resource,
            namespace,
            refs,
            labels: common,
        } = batch;
        let keys = || refs.iter().map(|r| r.key.clone()).collect::<Vec<_>>();
        let use_list = refs.len() >= self.options.list_threshold
            && resource.can("list")
            && !(resource.kind == "Secret" && group_of(&api_version).is_empty());
        if !use_list {
            return self.get_many(&api_version, &resource, keys()).await;
        }
        let collection = collection_path(&api_version, &resource, &namespace);
        match self.list(&collection, &common).await {
            Ok(items) => {
                let by_name: HashMap<&str, &Value> = items
                    .iter()
                    .filter_map(|i| Some((name_of(i)?, i)))
                    .collect();
                let mut out = Vec::with_capacity(refs.len());
                let mut confirm = Vec::new();
                for r in &refs {
                    match by_name.get(r.key.name.as_str()) {
                        Some(item) => out.push((
                            r.key.clone(),
                            LiveOutcome::Found(complete_item(
                                (*item).clone(),
                                &api_version,
                                &resource.kind,
                            )),
                        )),
                        // The narrowed list may miss an object without the labels: confirm.
                        None if !common.is_empty() => confirm.push(r.key.clone()),
                        None => out.push((r.key.clone(), LiveOutcome::Absent)),
                    }
                }
                out.extend(self.get_many(&api_version, &resource, confirm).await);
                out
            }
            // RBAC may allow get but not list: fall back to single reads.
            Err(Failure::Status { code: 403, .. }) => {
                self.get_many(&api_version, &resource, keys()).await
            }
            Err(f) => {
                let outcome = self.failure_outcome(&f, false);
                refs.iter()
                    .map(|r| (r.key.clone(), outcome.clone()))
                    .collect()
            }
        }
    }
}

/// Wanted objects of one resource in one namespace.
struct Batch {
    api_version: String,
    resource: Resource,
    namespace: String,
    refs: Vec<ObjectRef>,
    /// Labels the wanted objects are expected to carry (a list-narrowing hint).
    labels: BTreeMap<String, String>,
}

impl KubeClusterReader {
    async fn discover_all<'a>(
        &self,
        api_versions: impl IntoIterator<Item = &'a str>,
    ) -> Result<HashMap<String, Discovered>, ReadError> {
        let mut tasks = JoinSet::new();
        for gv in api_versions.into_iter().collect::<BTreeSet<_>>() {
            let inner = self.inner.clone();
            let gv = gv.to_owned();
            tasks.spawn(async move {
                let d = inner.discover(&gv).await;
                (gv, d)
            });
        }
        let mut discovered = HashMap::new();
        while let Some(joined) = tasks.join_next().await {
            let (gv, d) = joined.map_err(|e| ReadError::Backend(format!("discovery task: {e}")))?;
            discovered.insert(gv, d);
        }
        let transport: Vec<&String> = discovered
            .values()
            .filter_map(|d| match d {
                Discovered::Failed(Failure::Transport(m)) => Some(m),
                _ => None,
            })
            .collect();
        if !discovered.is_empty() && transport.len() == discovered.len() {
            return Err(ReadError::Unreachable {
                cluster: self.inner.cluster.clone(),
                message: format!("{}: {}", self.inner.server, transport[0]),
            });
        }
        Ok(discovered)
    }
}

fn kind_not_served(api_version: &str, kind: &str) -> String {
    format!("kind {kind} is not served in {api_version} (CRD not installed yet?)")
}

#[async_trait::async_trait]
impl ClusterReader for KubeClusterReader {
    fn describe(&self) -> String {
        self.inner.describe.clone()
    }

    async fn read(
        &self,
        objects: &[ObjectRef],
    ) -> Result<BTreeMap<ObjectKey, LiveOutcome>, ReadError> {
        self.read_with_labels(objects, &BTreeMap::new()).await
    }

    async fn read_with_labels(
        &self,
        objects: &[ObjectRef],
        labels: &BTreeMap<String, String>,
    ) -> Result<BTreeMap<ObjectKey, LiveOutcome>, ReadError> {
        let discovered = self
            .discover_all(objects.iter().map(|o| o.api_version.as_str()))
            .await?;
        let mut out = BTreeMap::new();
        let mut batches: BTreeMap<(String, String, String), Batch> = BTreeMap::new();
        for o in objects {
            let outcome = match &discovered[&o.api_version] {
                Discovered::NotServed(message) => LiveOutcome::NotServed {
                    message: message.clone(),
                },
                Discovered::Failed(f) => self.inner.failure_outcome(f, false),
                Discovered::Served(resources) => {
                    match resources.iter().find(|r| r.kind == o.key.kind) {
                        None => LiveOutcome::NotServed {
                            message: kind_not_served(&o.api_version, &o.key.kind),
                        },
                        Some(r) if r.namespaced && o.key.namespace.is_empty() => {
                            LiveOutcome::Error {
                                message: format!(
                                    "{} is namespaced but no namespace was resolved for {}",
                                    o.key.kind, o.key.name
                                ),
                            }
                        }
                        Some(r) => {
                            let namespace = if r.namespaced {
                                o.key.namespace.clone()
                            } else {
                                String::new()
                            };
                            batches
                                .entry((o.api_version.clone(), r.plural.clone(), namespace.clone()))
                                .or_insert_with(|| Batch {
                                    api_version: o.api_version.clone(),
                                    resource: r.clone(),
                                    namespace,
                                    refs: Vec::new(),
                                    labels: labels.clone(),
                                })
                                .refs
                                .push(o.clone());
                            continue;
                        }
                    }
                }
            };
            out.insert(o.key.clone(), outcome);
        }
        let mut tasks = JoinSet::new();
        for batch in batches.into_values() {
            tasks.spawn(self.inner.clone().read_batch(batch));
        }
        while let Some(joined) = tasks.join_next().await {
            let results = joined.map_err(|e| ReadError::Backend(format!("read task: {e}")))?;
            out.extend(results);
        }
        for o in objects {
            out.entry(o.key.clone())
                .or_insert_with(|| LiveOutcome::Error {
                    message: "the read of this object failed unexpectedly".to_owned(),
                });
        }
        Ok(out)
    }

    async fn scopes(
        &self,
        kinds: &[(String, String)],
    ) -> Result<BTreeMap<(String, String), KindScope>, ReadError> {
        let discovered = self
            .discover_all(kinds.iter().map(|(api_version, _)| api_version.as_str()))
            .await?;
        Ok(kinds
            .iter()
            .map(|(api_version, kind)| {
                let scope = match &discovered[api_version] {
                    Discovered::NotServed(message) => KindScope::NotServed {
                        message: message.clone(),
                    },
                    Discovered::Failed(_) => KindScope::Unknown,
                    Discovered::Served(resources) => {
                        match resources.iter().find(|r| r.kind == *kind) {
                            Some(r) if r.namespaced => KindScope::Namespaced,
                            Some(_) => KindScope::Cluster,
                            None => KindScope::NotServed {
                                message: kind_not_served(api_version, kind),
                            },
                        }
                    }
                };
                ((api_version.clone(), kind.clone()), scope)
            })
            .collect())
    }

    async fn list_owned(&self, query: &OwnedQuery) -> Result<OwnedList, ReadError> {
        let discovered = self.discover_all([query.api_version.as_str()]).await?;
        let inner = &self.inner;
        let whole = |f: Failure| -> Result<OwnedList, ReadError> {
            match f {
                Failure::Status { code: 403, message } => Ok(OwnedList::Forbidden { message }),
                Failure::Status { code: 404, message } => Ok(OwnedList::NotServed { message }),
                Failure::Deadline => Err(ReadError::Deadline {
                    cluster: inner.cluster.clone(),
                    seconds: inner.deadline_secs(),
                }),
                Failure::Transport(message) => Err(ReadError::Unreachable {
                    cluster: inner.cluster.clone(),
                    message: format!("{}: {message}", inner.server),
                }),
                other => {
                    let LiveOutcome::Error { message } = inner.failure_outcome(&other, false)
                    else {
                        unreachable!("failure_outcome maps non-403/404 failures to Error")
                    };
                    Err(ReadError::Backend(format!(
                        "listing {} {}: {message}",
                        query.api_version, query.kind
                    )))
                }
            }
        };
        let resource = match &discovered[&query.api_version] {
            Discovered::NotServed(message) => {
                return Ok(OwnedList::NotServed {
                    message: message.clone(),
                });
            }
            Discovered::Failed(f) => return whole(f.clone()),
            Discovered::Served(resources) => {
                match resources.iter().find(|r| r.kind == query.kind) {
                    Some(r) => r.clone(),
                    None => {
                        return Ok(OwnedList::NotServed {
                            message: kind_not_served(&query.api_version, &query.kind),
                        });
                    }
                }
            }
        };
        let namespace = query.namespace.as_deref().unwrap_or("");
        let collection = collection_path(&query.api_version, &resource, namespace);
        match inner.list(&collection, &query.labels).await {
            Ok(items) => Ok(OwnedList::Listed(
                items
                    .into_iter()
                    .map(|i| complete_item(i, &query.api_version, &resource.kind))
                    .filter(|i| labels_match(i, &query.labels))
                    .collect(),
            )),
            Err(f) => whole(f),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_selectors_are_encoded() {
        assert_eq!(enc("a.b-c_d~e"), "a.b-c_d~e");
        assert_eq!(
            enc("app.kubernetes.io/instance=web,x=y"),
            "app.kubernetes.io%2Finstance%3Dweb%2Cx%3Dy"
        );
        assert_eq!(enc("system:controller"), "system%3Acontroller");
        let r = Resource {
            plural: "deployments".into(),
            kind: "Deployment".into(),
            namespaced: true,
            verbs: vec![],
        };
        assert_eq!(
            collection_path("apps/v1", &r, "shop"),
            "/apis/apps/v1/namespaces/shop/deployments"
        );
        let c = Resource {
            namespaced: false,
            plural: "namespaces".into(),
            kind: "Namespace".into(),
            verbs: vec!["get".into()],
        };
        assert_eq!(collection_path("v1", &c, "ignored"), "/api/v1/namespaces");
        assert!(!c.can("list"));
        assert!(r.can("list"));
    }

    #[test]
    fn list_items_get_their_type_back_without_overwriting() {
        let item = serde_json::json!({"metadata": {"name": "a"}});
        let done = complete_item(item, "apps/v1", "Deployment");
        assert_eq!(done["apiVersion"], "apps/v1");
        assert_eq!(done["kind"], "Deployment");
        let cr = serde_json::json!({"apiVersion": "x.io/v1", "kind": "Thing"});
        assert_eq!(
            complete_item(cr, "x.io/v2", "Other")["apiVersion"],
            "x.io/v1"
        );
    }
}

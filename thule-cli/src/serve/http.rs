//! The HTTP endpoints (axum).
//!
//! - `POST /events`: a webhook delivery. The forge is told from the headers; the body is read
//!   up to the limit (413 beyond) and authenticated over its raw bytes before anything parses
//!   it (401, nothing stored); then normalized (400 when unreadable), checked against the
//!   repository allow-list (403) and stored in one transaction. Only then is it answered:
//!   202 for a queued job, 200 for a duplicate or an ignored event (GitLab disables hooks
//!   that get errors). While shutting down: 503 with `Retry-After`.
//! - `GET /healthz`: the process answers. `GET /readyz`: the database answers and every
//!   worker runs (503 otherwise, and while shutting down).
//! - `GET /metrics`: Prometheus text. `GET /api/runs`: run history as JSON (filters `repo`,
//!   `mr`, `result`, `limit`; newest first). `GET /`: a read-only status page.
//!
//! Responses and logs carry the forge, delivery id, repository, merge request and head;
//! never a header value, a token or a secret.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use axum::Router;
use axum::body::{Body, HttpBody};
use axum::extract::{Query, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::json;
use thule_vcs::inbound::{AuthConfig, Headers, authenticate, detect, normalize};

use crate::serve::intake::{Decision, decide};
use crate::serve::job::RunResult;
use crate::serve::metrics::{DeliveryResult, Metrics};
use crate::serve::page;
use crate::serve::settings::Settings;
use crate::serve::store::{Accepted, RunFilter, Store, now_ms, short};
use crate::serve::worker::WorkerHandle;

/// How long a client may take to send a delivery's body.
const BODY_TIMEOUT: Duration = Duration::from_secs(30);

/// What the handlers share.
#[derive(Clone, Debug)]
pub struct AppState {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    settings: Settings,
    store: Store,
    metrics: Arc<Metrics>,
    workers: WorkerHandle,
    draining: AtomicBool,
}

impl AppState {
    /// The state of a service.
    pub fn new(
        settings: Settings,
        store: Store,
        metrics: Arc<Metrics>,
        workers: WorkerHandle,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                settings,
                store,
                metrics,
                workers,
                draining: AtomicBool::new(false),
            }),
        }
    }

    /// Start answering 503 to deliveries and readiness checks (shutdown began).
    pub fn drain(&self) {
        self.inner.draining.store(true, Ordering::SeqCst);
    }

    fn draining(&self) -> bool {
        self.inner.draining.load(Ordering::SeqCst)
    }
}

/// The service's routes.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/events", post(events))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/api/runs", get(api_runs))
        .route("/", get(status_page))
        .with_state(state)
}

fn answer(status: StatusCode, body: serde_json::Value) -> Response {
    (status, axum::Json(body)).into_response()
}

fn error(status: StatusCode, message: impl std::fmt::Display) -> Response {
    answer(status, json!({ "error": message.to_string() }))
}

fn unavailable(message: &str) -> Response {
    let mut r = error(StatusCode::SERVICE_UNAVAILABLE, message);
    r.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("30"));
    r
}

enum BodyError {
    TooLarge,
    Read,
    Timeout,
}

/// The body, at most `limit` bytes.
async fn read_limited(mut body: Body, limit: usize) -> Result<Vec<u8>, BodyError> {
    let read = async {
        let mut out = Vec::new();
        while let Some(frame) = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await
        {
            let frame = frame.map_err(|_| BodyError::Read)?;
            if let Ok(data) = frame.into_data() {
                if out.len() + data.len() > limit {
                    return Err(BodyError::TooLarge);
                }
                out.extend_from_slice(&data);
            }
        }
        Ok(out)
    };
    tokio::time::timeout(BODY_TIMEOUT, read)
        .await
        .unwrap_or(Err(BodyError::Timeout))
}

async fn events(State(state): State<AppState>, request: Request) -> Response {
    let s = &state.inner;
    if state.draining() {
        s.metrics.delivery("unknown", DeliveryResult::Unavailable);
        return unavailable("shutting down: deliver again later");
    }
    let (parts, body) = request.into_parts();
    let headers: Headers = parts
        .headers
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_owned(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            )
        })
        .collect();
    let delivery = match detect(&headers) {
        Ok(d) => d,
        Err(e) => {
            s.metrics.delivery("unknown", DeliveryResult::Unauthorized);
            tracing::warn!(reason = %e, "delivery refused (401)");
            return error(StatusCode::UNAUTHORIZED, e);
        }
    };
    let provider = delivery.provider.name();
    let id = delivery.id.as_deref().unwrap_or("-");
    let limit = s.settings.max_body_bytes;
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let too_large = || {
        s.metrics.delivery(provider, DeliveryResult::TooLarge);
        tracing::warn!(
            provider,
            delivery = id,
            limit,
            "delivery refused: body too large (413)"
        );
        error(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the body is larger than {limit} bytes"),
        )
    };
    if declared.is_some_and(|n| n > limit as u64) {
        return too_large();
    }
    let body = match read_limited(body, limit).await {
        Ok(b) => b,
        Err(BodyError::TooLarge) => return too_large(),
        Err(BodyError::Read) => {
            s.metrics.delivery(provider, DeliveryResult::Malformed);
            return error(StatusCode::BAD_REQUEST, "the body could not be read");
        }
        Err(BodyError::Timeout) => {
            s.metrics.delivery(provider, DeliveryResult::Malformed);
            return error(
                StatusCode::REQUEST_TIMEOUT,
                "the body took too long to arrive",
            );
        }
    };
    let empty = AuthConfig::default();
    let auth = s
        .settings
        .provider(delivery.provider)
        .map_or(&empty, |p| &p.webhook);
    if let Err(e) = authenticate(&delivery, &headers, &body, auth, SystemTime::now()) {
        s.metrics.delivery(provider, DeliveryResult::Unauthorized);
        tracing::warn!(provider, delivery = id, event = %delivery.event, reason = %e, "delivery refused (401)");
        return error(StatusCode::UNAUTHORIZED, e);
    }
    let inbound = match normalize(&delivery, &body) {
        Ok(i) => i,
        Err(e) => {
            s.metrics.delivery(provider, DeliveryResult::Malformed);
            tracing::warn!(provider, delivery = id, event = %delivery.event, reason = %e, "delivery refused (400)");
            return error(StatusCode::BAD_REQUEST, e);
        }
    };
    let intake = match decide(&inbound, &s.settings) {
        Decision::Forbidden { repo } => {
            s.metrics.delivery(provider, DeliveryResult::Forbidden);
            tracing::warn!(provider, delivery = id, repo = %repo, "delivery refused: repository not on the allow-list (403)");
            return error(
                StatusCode::FORBIDDEN,
                format!("repository {repo} is not on this service's allow-list"),
            );
        }
        Decision::Record(intake) => intake,
    };
    let d = &intake.delivery;
    let (repo, mr, head) = (
        d.repo.as_deref().unwrap_or("-"),
        d.mr.unwrap_or(0),
        d.head_sha.as_deref().map_or("-", short),
    );
    let accepted = match s.store.accept(&intake).await {
        Ok(a) => a,
        Err(e) => {
            s.metrics.delivery(provider, DeliveryResult::Error);
            tracing::error!(provider, delivery = id, "storing the delivery failed: {e}");
            return unavailable("the delivery could not be stored: deliver again later");
        }
    };
    match accepted {
        Accepted::Queued {
            job,
            superseded_queued,
            superseded_running,
        } => {
            s.metrics.delivery(provider, DeliveryResult::Queued);
            s.metrics
                .superseded(superseded_queued.len() + superseded_running.len());
            s.workers.cancel(&superseded_running);
            s.workers.wake();
            let superseded: Vec<i64> = superseded_queued
                .iter()
                .chain(&superseded_running)
                .copied()
                .collect();
            tracing::info!(provider, delivery = id, event = %d.event, repo, mr, head, job, superseded = ?superseded, "delivery queued (202)");
            answer(
                StatusCode::ACCEPTED,
                json!({ "result": "queued", "job": job, "superseded": superseded }),
            )
        }
        Accepted::DuplicateDelivery => {
            s.metrics
                .delivery(provider, DeliveryResult::DuplicateDelivery);
            tracing::info!(
                provider,
                delivery = id,
                "delivery already received: dropped (200)"
            );
            answer(
                StatusCode::OK,
                json!({ "result": "duplicate", "reason": "this delivery id was already received" }),
            )
        }
        Accepted::DuplicateJob { job } => {
            s.metrics.delivery(provider, DeliveryResult::DuplicateJob);
            tracing::info!(
                provider,
                delivery = id,
                repo,
                mr,
                head,
                job,
                "delivery duplicates a queued job (200)"
            );
            answer(
                StatusCode::OK,
                json!({ "result": "duplicate", "job": job, "reason": "the same merge request, head and trigger were already queued" }),
            )
        }
        Accepted::Ignored { reason } => {
            s.metrics.delivery(provider, DeliveryResult::Ignored);
            tracing::info!(provider, delivery = id, event = %d.event, repo, mr, reason = %reason, "delivery ignored (200)");
            answer(
                StatusCode::OK,
                json!({ "result": "ignored", "reason": reason }),
            )
        }
    }
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn readyz(State(state): State<AppState>) -> Response {
    let s = &state.inner;
    let database = s.store.ping().await.is_ok();
    let alive = s.workers.alive();
    let configured = s.workers.configured();
    let ready = database && alive == configured && !state.draining();
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    answer(
        status,
        json!({
            "ready": ready,
            "database": if database { "ok" } else { "unreachable" },
            "workers": alive,
            "workersConfigured": configured,
            "draining": state.draining(),
        }),
    )
}

async fn metrics(State(state): State<AppState>) -> Response {
    let s = &state.inner;
    let queue = s.store.stats().await.ok().map(|q| (q, now_ms()));
    let text = s.metrics.render(queue, s.workers.alive());
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

/// `GET /api/runs` query parameters.
#[derive(Debug, Default, Deserialize)]
struct RunsQuery {
    repo: Option<String>,
    mr: Option<String>,
    result: Option<String>,
    limit: Option<String>,
}

fn run_filter(q: &RunsQuery) -> Result<RunFilter, String> {
    let non_empty = |v: &Option<String>| {
        v.as_deref()
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    };
    let mr = non_empty(&q.mr)
        .map(|m| {
            m.parse::<u64>()
                .map_err(|_| format!("mr={m} is not a number"))
        })
        .transpose()?;
    let limit = non_empty(&q.limit)
        .map(|l| {
            l.parse::<u32>()
                .map_err(|_| format!("limit={l} is not a number"))
        })
        .transpose()?;
    let result = non_empty(&q.result)
        .map(|r| {
            RunResult::parse(&r).ok_or_else(|| {
                format!(
                    "result={r}: expected one of {}",
                    RunResult::ALL.map(RunResult::as_str).join(", ")
                )
            })
        })
        .transpose()?;
    Ok(RunFilter {
        repo: non_empty(&q.repo),
        mr,
        result,
        limit,
    })
}

async fn api_runs(State(state): State<AppState>, Query(q): Query<RunsQuery>) -> Response {
    let filter = match run_filter(&q) {
        Ok(f) => f,
        Err(e) => return error(StatusCode::BAD_REQUEST, e),
    };
    match state.inner.store.runs(&filter).await {
        Ok(runs) => {
            let runs: Vec<serde_json::Value> = runs.iter().map(page::run_json).collect();
            answer(StatusCode::OK, serde_json::Value::Array(runs))
        }
        Err(e) => {
            tracing::error!("listing runs failed: {e}");
            unavailable("the run history could not be read")
        }
    }
}

async fn status_page(State(state): State<AppState>) -> Response {
    let s = &state.inner;
    let runs = s.store.runs(&RunFilter::default()).await;
    let stats = s.store.stats().await.ok();
    match runs {
        Ok(runs) => Html(page::status(&runs, stats, s.workers.alive(), now_ms())).into_response(),
        Err(e) => {
            tracing::error!("listing runs failed: {e}");
            unavailable("the run history could not be read")
        }
    }
}

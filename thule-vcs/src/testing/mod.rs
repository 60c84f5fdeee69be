//! A loopback HTTP server for tests (feature `testing`): it answers every request with a
//! handler the test gives, and logs every request it received. Forge adapters are tested
//! against handlers that speak the forge's real REST (and GraphQL) API with the real payload
//! shapes; nothing leaves 127.0.0.1, and the server stops when dropped.
//!
//! Two such handlers are here for other crates' tests too (the CLI's end-to-end tests run the
//! `thule` binary against them): [`gitlab::FakeGitLab`] (with the `gitlab` feature) and
//! [`github::FakeGitHub`] (with the `github` feature), stateful fakes of one project or
//! repository with one merge request whose notes, comments and commit statuses a test
//! inspects.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::Value;

#[cfg(feature = "github")]
pub mod github;
#[cfg(feature = "gitlab")]
pub mod gitlab;

/// A request as the server received it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recorded {
    /// `GET`, `POST`, ...
    pub method: String,
    /// The path, without the query.
    pub path: String,
    /// The query parameters (last value wins).
    pub query: BTreeMap<String, String>,
    /// The headers, names in lowercase.
    pub headers: BTreeMap<String, String>,
    /// The body.
    pub body: Vec<u8>,
}

impl Recorded {
    /// The body as JSON (`null` when it is not JSON).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    /// A header.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }

    /// `METHOD /path` (with the query when there is one), for logs and assertions.
    pub fn line(&self) -> String {
        if self.query.is_empty() {
            format!("{} {}", self.method, self.path)
        } else {
            let q: Vec<String> = self.query.iter().map(|(k, v)| format!("{k}={v}")).collect();
            format!("{} {}?{}", self.method, self.path, q.join("&"))
        }
    }
}

/// An answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    /// The status.
    pub status: u16,
    /// Extra headers.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Reply {
    /// A JSON answer.
    pub fn json(status: u16, body: &Value) -> Self {
        Self {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: serde_json::to_vec(body).unwrap_or_default(),
        }
    }

    /// An empty answer.
    pub fn empty(status: u16) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// The same answer with one more header.
    #[must_use]
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }
}

type Handler = dyn Fn(&Recorded) -> Reply + Send + Sync;

/// A running loopback server.
pub struct LoopbackServer {
    addr: SocketAddr,
    log: Arc<Mutex<Vec<Recorded>>>,
    task: tokio::task::JoinHandle<()>,
}

impl LoopbackServer {
    /// Start a server on 127.0.0.1 (a free port) answering with `handler`. Must be called
    /// inside a tokio runtime.
    ///
    /// # Panics
    /// When no loopback port can be bound.
    pub async fn start(handler: impl Fn(&Recorded) -> Reply + Send + Sync + 'static) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binding a loopback port");
        let addr = listener.local_addr().expect("a local address");
        let log: Arc<Mutex<Vec<Recorded>>> = Arc::default();
        let handler: Arc<Handler> = Arc::new(handler);
        let task = {
            let log = Arc::clone(&log);
            tokio::spawn(async move {
                while let Ok((stream, _)) = listener.accept().await {
                    let log = Arc::clone(&log);
                    let handler = Arc::clone(&handler);
                    tokio::spawn(async move {
                        let service =
                            service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                                let log = Arc::clone(&log);
                                let handler = Arc::clone(&handler);
                                async move {
                                    let (parts, body) = req.into_parts();
                                    let body = body
                                        .collect()
                                        .await
                                        .map(|b| b.to_bytes().to_vec())
                                        .unwrap_or_default();
                                    let recorded = Recorded {
                                        method: parts.method.to_string(),
                                        path: parts.uri.path().to_owned(),
                                        query: parts
                                            .uri
                                            .query()
                                            .map(parse_query)
                                            .unwrap_or_default(),
                                        headers: parts
                                            .headers
                                            .iter()
                                            .map(|(k, v)| {
                                                (
                                                    k.as_str().to_ascii_lowercase(),
                                                    v.to_str().unwrap_or_default().to_owned(),
                                                )
                                            })
                                            .collect(),
                                        body,
                                    };
                                    let reply = handler(&recorded);
                                    log.lock()
                                        .unwrap_or_else(PoisonError::into_inner)
                                        .push(recorded);
                                    let mut response =
                                        hyper::Response::builder().status(reply.status);
                                    for (k, v) in &reply.headers {
                                        response = response.header(k, v);
                                    }
                                    Ok::<_, Infallible>(
                                        response
                                            .body(Full::new(Bytes::from(reply.body)))
                                            .unwrap_or_default(),
                                    )
                                }
                            });
                        let _ = http1::Builder::new()
                            .serve_connection(TokioIo::new(stream), service)
                            .await;
                    });
                }
            })
        };
        Self { addr, log, task }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every request so far, in arrival order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.log
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Forget the requests so far.
    pub fn clear(&self) {
        self.log
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }
}

impl Drop for LoopbackServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// `a=1&b=x%2Fy` → `{a: 1, b: x/y}`.
pub fn parse_query(query: &str) -> BTreeMap<String, String> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 3;
                    }
                    None => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_decode() {
        let q = parse_query("page=2&id=group%2Fapp&x=a+b&bad=%zz");
        assert_eq!(q["page"], "2");
        assert_eq!(q["id"], "group/app");
        assert_eq!(q["x"], "a b");
        assert_eq!(q["bad"], "%zz");
    }
}

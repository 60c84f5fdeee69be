//! Test support (feature `testing`, off by default): a loopback Kubernetes API server.
//!
//! No real API server can run in thule's test environments, so the live tests run the real
//! kube client against [`TestServer`]: an HTTPS server on 127.0.0.1 with an ephemeral port,
//! speaking enough of the Kubernetes API for [`crate::KubeClusterReader`]: discovery (`/api`,
//! `/apis`, `/api/v1`, `/apis/<g>/<v>`), get, paginated list with label and field selectors
//! and `continue` tokens, and `metav1.Status` errors. It serves a fixed set of built-in and
//! custom resources (ConfigMap, Secret, Service, ServiceAccount, Namespace, Deployment,
//! StatefulSet, NetworkPolicy, ClusterRole, CustomResourceDefinition,
//! `monitoring.coreos.com/v1` ServiceMonitor), answers anything but `GET` with 405, and
//! records every request so a test can assert that only `GET`s were sent.
//!
//! TLS uses a fresh self-signed CA made with rcgen; the kubeconfig written next to it (in a
//! temporary directory living as long as the server) has four contexts: `loopback` (a
//! bearer-token user presenting [`TOKEN`]), `loopback-cert` (a client-certificate user,
//! subject `CN=thule-reader`), `loopback-token-file` (a user whose token, [`TOKEN`] again, is
//! in a token file) and `loopback-anonymous` (a user with no credentials).
//! [`TestServer::start_with_cert`] makes the server present a faulty certificate instead of
//! its good one ([`ServerCert`]: unknown issuer, wrong name, expired, a CA certificate), or a
//! self-signed CA certificate that the kubeconfig's `certificate-authority-data` holds.
//! [`Action`]s script misbehaviour per path: 403, a status a number of times, a raw non-JSON
//! body, slow answers.
//!
//! ```no_run
//! # async fn demo() -> Result<(), thule_kube::testing::TestServerError> {
//! use thule_kube::testing::{Auth, TOKEN, TestServer};
//!
//! let server = TestServer::start(Vec::new(), Auth::Token(TOKEN.to_owned())).await?;
//! let reader = thule_kube::KubeClusterReader::from_kubeconfig(
//!     "loopback",
//!     Some(&server.kubeconfig),
//!     Some("loopback"),
//!     thule_kube::ReaderOptions::default(),
//! )
//! .await
//! .expect("reader");
//! # drop(reader);
//! assert!(server.requests().iter().all(|r| r.method == "GET"));
//! # Ok(())
//! # }
//! ```
//!
//! Must run inside a Tokio runtime (the server is a spawned task, stopped when the
//! [`TestServer`] is dropped).

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

/// One resource the server serves.
#[derive(Clone, Debug)]
struct ApiRes {
    group: &'static str,
    version: &'static str,
    kind: &'static str,
    plural: &'static str,
    namespaced: bool,
}

impl ApiRes {
    fn group_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_owned()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }
}

/// The built-in and custom resources the tests use.
fn standard_resources() -> Vec<ApiRes> {
    let r = |group, version, kind, plural, namespaced| ApiRes {
        group,
        version,
        kind,
        plural,
        namespaced,
    };
    vec![
        r("", "v1", "ConfigMap", "configmaps", true),
        r("", "v1", "Secret", "secrets", true),
        r("", "v1", "Service", "services", true),
        r("", "v1", "ServiceAccount", "serviceaccounts", true),
        r("", "v1", "Namespace", "namespaces", false),
        r("apps", "v1", "Deployment", "deployments", true),
        r("apps", "v1", "StatefulSet", "statefulsets", true),
        r(
            "networking.k8s.io",
            "v1",
            "NetworkPolicy",
            "networkpolicies",
            true,
        ),
        r(
            "rbac.authorization.k8s.io",
            "v1",
            "ClusterRole",
            "clusterroles",
            false,
        ),
        r(
            "apiextensions.k8s.io",
            "v1",
            "CustomResourceDefinition",
            "customresourcedefinitions",
            false,
        ),
        r(
            "monitoring.coreos.com",
            "v1",
            "ServiceMonitor",
            "servicemonitors",
            true,
        ),
    ]
}

/// A request as the server saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recorded {
    /// The HTTP method (`GET`, or whatever a misbehaving client sent).
    pub method: String,
    /// The path, percent-encoded as sent (`/api/v1/namespaces/shop/configmaps`).
    pub path: String,
    /// The raw query string, empty when there was none (`limit=500&labelSelector=...`).
    pub query: String,
}

/// Scripted misbehaviour for requests whose path starts with (or equals) `path`.
#[derive(Clone, Debug)]
struct Rule {
    path: String,
    exact: bool,
    action: Action,
}

/// Scripted misbehaviour, installed with [`TestServer::rule`] for the requests on one path
/// (or under one path prefix). Rules apply in the order they were added; the first one that
/// answers wins.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Action {
    /// Answer 403 Forbidden with a `Status` naming the service account, always.
    Forbid,
    /// Answer this status (429, 503, …) with a `Status` body and `Retry-After: 0` the next
    /// `times` times; then the request is served normally.
    Fail {
        /// The HTTP status.
        status: u16,
        /// How many requests get it.
        times: u32,
    },
    /// Answer this status with a raw `text/plain` body (not a `Status`), always: a proxy's
    /// error page, or anything a reader must not copy into its messages.
    Raw {
        /// The HTTP status.
        status: u16,
        /// The body.
        body: &'static str,
    },
    /// Wait `delay` before answering the next `times` requests.
    Slow {
        /// How long.
        delay: Duration,
        /// How many requests wait.
        times: u32,
    },
}

/// How clients must authenticate.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Auth {
    /// `Authorization: Bearer <token>`; anything else gets 401.
    Token(String),
    /// A client certificate signed by the test CA, checked during the TLS handshake.
    ClientCert,
    /// Every request gets 401 Unauthorized, whatever credentials it carries: a token the
    /// server does not know, or a client certificate it does not map to a user. The
    /// handshake accepts a client certificate signed by the test CA but requires none, as a
    /// real API server's does.
    Reject,
}

/// The certificate the server presents in the TLS handshake. All but [`ServerCert::Trusted`]
/// and [`ServerCert::KubeconfigCa`] must fail verification against the kubeconfig.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum ServerCert {
    /// `CN=thule loopback server` for 127.0.0.1 and localhost, signed by the kubeconfig's
    /// CA (`CN=thule loopback CA`).
    #[default]
    Trusted,
    /// The same names, signed by `CN=thule stranger CA`, which the kubeconfig does not have.
    UnknownIssuer,
    /// Signed by the kubeconfig's CA, but valid for `elsewhere.invalid` only.
    WrongName,
    /// Signed by the kubeconfig's CA, but valid only from 2020-01-01 to 2021-01-01.
    Expired,
    /// A self-signed CA certificate, `CN=thule stray CA`, for 127.0.0.1 and localhost,
    /// which the kubeconfig does not have.
    UnknownCa,
    /// A self-signed CA certificate, `CN=thule appliance CA`, for 127.0.0.1 and localhost,
    /// that is also in the kubeconfig: its `certificate-authority-data` holds the test CA and
    /// this very certificate (as single-node and appliance clusters have it).
    KubeconfigCa,
}

/// The server's mutable state.
#[derive(Default)]
struct State {
    objects: Vec<Value>,
    resources: Vec<ApiRes>,
    requests: Vec<Recorded>,
    rules: Vec<Rule>,
    token: Option<String>,
    /// Answer every request 401 ([`Auth::Reject`]).
    reject_all: bool,
    /// Requests being answered right now, and the most ever at once.
    in_flight: usize,
    max_in_flight: usize,
}

/// The state, also after a panic elsewhere while it was held (the recorded requests are
/// still worth reporting).
fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Counts a request as in flight until dropped (also when the client gives up on it).
struct InFlight(Arc<Mutex<State>>);

impl InFlight {
    fn enter(state: &Arc<Mutex<State>>) -> Self {
        let mut s = lock(state);
        s.in_flight += 1;
        s.max_in_flight = s.max_in_flight.max(s.in_flight);
        Self(state.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        lock(&self.0).in_flight -= 1;
    }
}

/// A running loopback API server with its kubeconfig; stopped when dropped.
pub struct TestServer {
    /// Where it listens (127.0.0.1 and an ephemeral port).
    pub addr: SocketAddr,
    /// A kubeconfig for it, with the contexts `loopback` (token), `loopback-cert` (client
    /// certificate), `loopback-token-file` (token file) and `loopback-anonymous` (no
    /// credentials); `loopback` is the current context. The CA, client key and token files
    /// it names sit next to it.
    pub kubeconfig: PathBuf,
    state: Arc<Mutex<State>>,
    _dir: tempfile::TempDir,
    task: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for TestServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestServer")
            .field("addr", &self.addr)
            .field("kubeconfig", &self.kubeconfig)
            .finish_non_exhaustive()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The bearer token of the kubeconfig's `loopback` context; start the server with
/// `Auth::Token(TOKEN.to_owned())` to accept it.
pub const TOKEN: &str = "loopback-test-token";

struct Pki {
    ca_pem: String,
    /// Certificates the kubeconfig's `certificate-authority-data` holds besides the CA.
    extra_ca_pem: Option<String>,
    server_chain: Vec<CertificateDer<'static>>,
    server_key: PrivateKeyDer<'static>,
    client_pem: String,
    client_key_pem: String,
    ca_der: CertificateDer<'static>,
}

/// Parameters of a CA certificate named `cn`, for `names` (none for a CA that only signs).
fn ca_params(cn: &str, names: &[&str]) -> Result<CertificateParams, rcgen::Error> {
    let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
    let mut params = CertificateParams::new(names)?;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, cn);
    Ok(params)
}

/// Parameters of the server's certificate `CN=thule loopback server` for `names`.
fn server_params(names: &[&str]) -> Result<CertificateParams, rcgen::Error> {
    let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
    let mut params = CertificateParams::new(names)?;
    params
        .distinguished_name
        .push(DnType::CommonName, "thule loopback server");
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    Ok(params)
}

const LOOPBACK: &[&str] = &["127.0.0.1", "localhost"];

fn pki(presented: ServerCert) -> Result<Pki, TestServerError> {
    let ca_key = KeyPair::generate()?;
    let loopback_ca = ca_params("thule loopback CA", &[])?;
    let ca_cert = loopback_ca.self_signed(&ca_key)?;
    let issuer = Issuer::new(loopback_ca, ca_key);

    let server_key = KeyPair::generate()?;
    let mut extra_ca_pem = None;
    let server_cert = match presented {
        ServerCert::Trusted => server_params(LOOPBACK)?.signed_by(&server_key, &issuer)?,
        ServerCert::UnknownIssuer => {
            let stranger_key = KeyPair::generate()?;
            let stranger = Issuer::new(ca_params("thule stranger CA", &[])?, stranger_key);
            server_params(LOOPBACK)?.signed_by(&server_key, &stranger)?
        }
        ServerCert::WrongName => {
            server_params(&["elsewhere.invalid"])?.signed_by(&server_key, &issuer)?
        }
        ServerCert::Expired => {
            let mut params = server_params(LOOPBACK)?;
            params.not_before = rcgen::date_time_ymd(2020, 1, 1);
            params.not_after = rcgen::date_time_ymd(2021, 1, 1);
            params.signed_by(&server_key, &issuer)?
        }
        ServerCert::UnknownCa => ca_params("thule stray CA", LOOPBACK)?.self_signed(&server_key)?,
        ServerCert::KubeconfigCa => {
            let cert = ca_params("thule appliance CA", LOOPBACK)?.self_signed(&server_key)?;
            extra_ca_pem = Some(cert.pem());
            cert
        }
    };

    let client_key = KeyPair::generate()?;
    let mut client_params = CertificateParams::new(Vec::<String>::new())?;
    client_params
        .distinguished_name
        .push(DnType::CommonName, "thule-reader");
    client_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let client_cert = client_params.signed_by(&client_key, &issuer)?;

    Ok(Pki {
        ca_pem: ca_cert.pem(),
        extra_ca_pem,
        ca_der: ca_cert.der().clone(),
        server_chain: vec![server_cert.der().clone()],
        server_key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server_key.serialize_der())),
        client_pem: client_cert.pem(),
        client_key_pem: client_key.serialize_pem(),
    })
}

impl TestServer {
    /// Start a server serving `objects` (full objects with `apiVersion` and `kind`, as the
    /// API server stores them), requiring `auth`.
    ///
    /// # Errors
    /// When the certificates, the TLS configuration, the listening socket or the kubeconfig
    /// cannot be made.
    pub async fn start(objects: Vec<Value>, auth: Auth) -> Result<Self, TestServerError> {
        Self::start_with_cert(objects, auth, ServerCert::Trusted).await
    }

    /// [`TestServer::start`], presenting `cert` in the TLS handshake.
    ///
    /// # Errors
    /// As [`TestServer::start`].
    pub async fn start_with_cert(
        objects: Vec<Value>,
        auth: Auth,
        cert: ServerCert,
    ) -> Result<Self, TestServerError> {
        let pki = pki(cert)?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()?;
        let client_roots = || -> Result<Arc<rustls::RootCertStore>, rustls::Error> {
            let mut roots = rustls::RootCertStore::empty();
            roots.add(pki.ca_der.clone())?;
            Ok(Arc::new(roots))
        };
        let config = match &auth {
            Auth::Token(_) => builder
                .with_no_client_auth()
                .with_single_cert(pki.server_chain.clone(), pki.server_key.clone_key())?,
            Auth::ClientCert | Auth::Reject => {
                let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                    client_roots()?,
                    provider,
                );
                let verifier = if auth == Auth::Reject {
                    verifier.allow_unauthenticated().build()?
                } else {
                    verifier.build()?
                };
                builder
                    .with_client_cert_verifier(verifier)
                    .with_single_cert(pki.server_chain.clone(), pki.server_key.clone_key())?
            }
        };
        let acceptor = TlsAcceptor::from(Arc::new(config));
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(Mutex::new(State {
            objects,
            resources: standard_resources(),
            token: match &auth {
                Auth::Token(t) => Some(t.clone()),
                Auth::ClientCert | Auth::Reject => None,
            },
            reject_all: auth == Auth::Reject,
            ..State::default()
        }));
        let task = {
            let state = state.clone();
            tokio::spawn(async move {
                loop {
                    let Ok((tcp, _)) = listener.accept().await else {
                        return;
                    };
                    let acceptor = acceptor.clone();
                    let state = state.clone();
                    tokio::spawn(async move {
                        let Ok(tls) = acceptor.accept(tcp).await else {
                            return;
                        };
                        let service = service_fn(move |req| handle(state.clone(), req));
                        let _ = hyper::server::conn::http1::Builder::new()
                            .serve_connection(TokioIo::new(tls), service)
                            .await;
                    });
                }
            })
        };
        let dir = tempfile::tempdir()?;
        let kubeconfig = write_kubeconfig(dir.path(), &format!("https://{addr}"), &pki)?;
        Ok(Self {
            addr,
            state,
            kubeconfig,
            _dir: dir,
            task,
        })
    }

    /// Script `action` for requests on `path` (`exact`) or under it (a prefix otherwise).
    pub fn rule(&self, path: &str, exact: bool, action: Action) {
        lock(&self.state).rules.push(Rule {
            path: path.to_owned(),
            exact,
            action,
        });
    }

    /// Every request so far, in arrival order.
    pub fn requests(&self) -> Vec<Recorded> {
        lock(&self.state).requests.clone()
    }

    /// Forget the recorded requests.
    pub fn clear_requests(&self) {
        lock(&self.state).requests.clear();
    }

    /// The most requests the server was answering at one time so far.
    pub fn max_in_flight(&self) -> usize {
        lock(&self.state).max_in_flight
    }
}

/// Write the CA, client certificate, token file and a kubeconfig with four contexts:
/// `loopback` (token user), `loopback-cert` (client-certificate user), `loopback-token-file`
/// (token-file user) and `loopback-anonymous` (a user without credentials). The CA is a file
/// (`certificate-authority`), or inline data (`certificate-authority-data`) when the bundle
/// also holds the server's own certificate.
fn write_kubeconfig(dir: &Path, server: &str, pki: &Pki) -> Result<PathBuf, TestServerError> {
    let ca = dir.join("ca.pem");
    let cert = dir.join("client.pem");
    let key = dir.join("client-key.pem");
    let token = dir.join("token");
    std::fs::write(&ca, &pki.ca_pem)?;
    std::fs::write(&cert, &pki.client_pem)?;
    std::fs::write(&key, &pki.client_key_pem)?;
    std::fs::write(&token, TOKEN)?;
    let authority = match &pki.extra_ca_pem {
        None => format!("certificate-authority: {}", ca.display()),
        Some(extra) => format!(
            "certificate-authority-data: {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{}{extra}", pki.ca_pem))
        ),
    };
    let text = format!(
        r#"apiVersion: v1
kind: Config
clusters:
- name: loopback
  cluster:
    server: {server}
    {authority}
users:
- name: token-user
  user:
    token: {TOKEN}
- name: cert-user
  user:
    client-certificate: {cert}
    client-key: {key}
- name: token-file-user
  user:
    tokenFile: {token}
- name: anonymous
  user: {{}}
contexts:
- name: loopback
  context:
    cluster: loopback
    user: token-user
    namespace: default
- name: loopback-cert
  context:
    cluster: loopback
    user: cert-user
- name: loopback-token-file
  context:
    cluster: loopback
    user: token-file-user
- name: loopback-anonymous
  context:
    cluster: loopback
    user: anonymous
current-context: loopback
"#,
        cert = cert.display(),
        key = key.display(),
        token = token.display(),
    );
    let path = dir.join("kubeconfig.yaml");
    std::fs::write(&path, text)?;
    Ok(path)
}

/// Why a [`TestServer`] could not start. The cause is the [`std::error::Error::source`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TestServerError {
    /// The CA, server or client certificate could not be made.
    #[error("cannot make the test certificates")]
    Certificates(#[from] rcgen::Error),
    /// The TLS configuration was refused.
    #[error("cannot configure TLS")]
    Tls(#[from] rustls::Error),
    /// The client-certificate verifier could not be built.
    #[error("cannot configure client-certificate verification")]
    ClientVerifier(#[from] rustls::server::VerifierBuilderError),
    /// The socket could not be bound, or the kubeconfig, CA or key files written.
    #[error("cannot bind the loopback socket or write the kubeconfig")]
    Io(#[from] std::io::Error),
}

fn respond(status: u16, body: &Value) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_string())))
        .expect("valid response")
}

fn status(code: u16, reason: &str, message: &str) -> Response<Full<Bytes>> {
    respond(
        code,
        &json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": message, "reason": reason, "code": code}),
    )
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Ok(hex) = std::str::from_utf8(&bytes[i + 1..i + 3])
            && let Ok(b) = u8::from_str_radix(hex, 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(if bytes[i] == b'+' { b' ' } else { bytes[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn query_params(query: &str) -> BTreeMap<String, String> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn label(object: &Value, key: &str) -> Option<String> {
    object
        .pointer("/metadata/labels")
        .and_then(|l| l.get(key))
        .and_then(Value::as_str)
        .map(str::to_owned)
}

/// Equality-based and existence label selectors: `k=v`, `k==v`, `k!=v`, `k`, `!k`.
fn label_selector_matches(selector: &str, object: &Value) -> bool {
    selector.split(',').filter(|t| !t.is_empty()).all(|term| {
        if let Some((k, v)) = term.split_once("!=") {
            label(object, k).as_deref() != Some(v)
        } else if let Some((k, v)) = term.split_once("==").or_else(|| term.split_once('=')) {
            label(object, k).as_deref() == Some(v)
        } else if let Some(k) = term.strip_prefix('!') {
            label(object, k).is_none()
        } else {
            label(object, term).is_some()
        }
    })
}

fn field_selector_matches(selector: &str, object: &Value) -> bool {
    selector.split(',').filter(|t| !t.is_empty()).all(|term| {
        let (k, v, neg) = match term.split_once("!=") {
            Some((k, v)) => (k, v, true),
            None => {
                let (k, v) = term
                    .split_once("==")
                    .or_else(|| term.split_once('='))
                    .unwrap_or((term, ""));
                (k, v, false)
            }
        };
        let have = match k {
            "metadata.name" => object.pointer("/metadata/name"),
            "metadata.namespace" => object.pointer("/metadata/namespace"),
            _ => None,
        }
        .and_then(Value::as_str)
        .unwrap_or("");
        (have == v) != neg
    })
}

fn group_of(api_version: &str) -> &str {
    api_version.rsplit_once('/').map_or("", |(g, _)| g)
}

async fn handle(
    state: Arc<Mutex<State>>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let method = req.method().as_str().to_owned();
    let path = req.uri().path().to_owned();
    let query = req.uri().query().unwrap_or("").to_owned();
    let auth = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let _in_flight = InFlight::enter(&state);
    // Record, apply the rules, and decide under the lock; sleep outside it.
    let (delay, early) = {
        let mut s = lock(&state);
        s.requests.push(Recorded {
            method: method.clone(),
            path: path.clone(),
            query: query.clone(),
        });
        let mut delay = None;
        let mut early = None;
        if method != "GET" {
            early = Some(status(
                405,
                "MethodNotAllowed",
                "the loopback server is read-only",
            ));
        } else if s.reject_all
            || s.token
                .as_ref()
                .is_some_and(|token| auth.as_deref() != Some(&format!("Bearer {token}")))
        {
            early = Some(status(401, "Unauthorized", "Unauthorized"));
        }
        if early.is_none() {
            for rule in &mut s.rules {
                let hit = if rule.exact {
                    path == rule.path
                } else {
                    path.starts_with(&rule.path)
                };
                if !hit {
                    continue;
                }
                match &mut rule.action {
                    Action::Forbid => {
                        let what = path.rsplit('/').next().unwrap_or("");
                        early = Some(status(
                            403,
                            "Forbidden",
                            &format!(
                                "{what} is forbidden: User \"system:serviceaccount:thule:thule\" \
                                 cannot get resource at {path}"
                            ),
                        ));
                    }
                    Action::Fail {
                        status: code,
                        times,
                    } if *times > 0 => {
                        *times -= 1;
                        let mut r = status(*code, "TooManyRequests", "please retry");
                        r.headers_mut()
                            .insert("retry-after", "0".parse().expect("header"));
                        early = Some(r);
                    }
                    Action::Fail { .. } => {}
                    Action::Raw { status: code, body } => {
                        early = Some(
                            Response::builder()
                                .status(*code)
                                .header("content-type", "text/plain")
                                .body(Full::new(Bytes::from_static(body.as_bytes())))
                                .expect("valid response"),
                        );
                    }
                    Action::Slow { delay: d, times } if *times > 0 => {
                        *times -= 1;
                        delay = Some(*d);
                    }
                    Action::Slow { .. } => {}
                }
                if early.is_some() {
                    break;
                }
            }
        }
        (delay, early)
    };
    if let Some(response) = early {
        return Ok(response);
    }
    if let Some(d) = delay {
        tokio::time::sleep(d).await;
    }
    let s = lock(&state);
    Ok(route(&s, &path, &query))
}

fn route(s: &State, path: &str, query: &str) -> Response<Full<Bytes>> {
    let segments: Vec<String> = path
        .trim_start_matches('/')
        .split('/')
        .filter(|p| !p.is_empty())
        .map(decode)
        .collect();
    let segs: Vec<&str> = segments.iter().map(String::as_str).collect();
    let (group, version, rest): (&str, &str, &[&str]) = match segs.as_slice() {
        ["api"] => return respond(200, &json!({"kind": "APIVersions", "versions": ["v1"]})),
        ["apis"] => {
            let mut groups: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
            for r in s.resources.iter().filter(|r| !r.group.is_empty()) {
                let v = groups.entry(r.group).or_default();
                if !v.contains(&r.version) {
                    v.push(r.version);
                }
            }
            let groups: Vec<Value> = groups
                .iter()
                .map(|(g, vs)| {
                    let versions: Vec<Value> = vs
                        .iter()
                        .map(|v| json!({"groupVersion": format!("{g}/{v}"), "version": v}))
                        .collect();
                    json!({"name": g, "versions": versions, "preferredVersion": versions[0]})
                })
                .collect();
            return respond(
                200,
                &json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}),
            );
        }
        ["api", v, rest @ ..] => ("", *v, rest),
        ["apis", g, v, rest @ ..] => (*g, *v, rest),
        _ => {
            return status(
                404,
                "NotFound",
                "the server could not find the requested resource",
            );
        }
    };
    let served: Vec<&ApiRes> = s
        .resources
        .iter()
        .filter(|r| r.group == group && r.version == version)
        .collect();
    if served.is_empty() {
        return status(
            404,
            "NotFound",
            "the server could not find the requested resource",
        );
    }
    let gv = served[0].group_version();
    let find = |plural: &str| served.iter().find(|r| r.plural == plural).copied();
    let (res, namespace, name) = match rest {
        [] => {
            let resources: Vec<Value> = served
                .iter()
                .map(|r| {
                    json!({"name": r.plural, "singularName": r.kind.to_lowercase(),
                           "namespaced": r.namespaced, "kind": r.kind,
                           "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"]})
                })
                .collect();
            return respond(
                200,
                &json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv,
                        "resources": resources}),
            );
        }
        ["namespaces", ns, plural] => (find(plural), Some(*ns), None),
        ["namespaces", ns, plural, name] => (find(plural), Some(*ns), Some(*name)),
        [plural] => (find(plural), None, None),
        [plural, name] => (find(plural), None, Some(*name)),
        _ => (None, None, None),
    };
    let Some(res) = res else {
        return status(
            404,
            "NotFound",
            "the server could not find the requested resource",
        );
    };
    let matches = |o: &&Value| {
        group_of(o["apiVersion"].as_str().unwrap_or("")) == res.group
            && o["kind"] == res.kind
            && (!res.namespaced
                || namespace.is_none()
                || o.pointer("/metadata/namespace").and_then(Value::as_str) == namespace)
    };
    if let Some(name) = name {
        return match s
            .objects
            .iter()
            .filter(matches)
            .find(|o| o.pointer("/metadata/name").and_then(Value::as_str) == Some(name))
        {
            Some(o) => {
                let mut o = o.clone();
                o["apiVersion"] = Value::String(gv.clone());
                respond(200, &o)
            }
            None => status(
                404,
                "NotFound",
                &format!("{}.{} \"{name}\" not found", res.plural, res.group),
            ),
        };
    }
    let params = query_params(query);
    let mut items: Vec<Value> = s
        .objects
        .iter()
        .filter(matches)
        .filter(|o| {
            params
                .get("labelSelector")
                .is_none_or(|sel| label_selector_matches(sel, o))
        })
        .filter(|o| {
            params
                .get("fieldSelector")
                .is_none_or(|sel| field_selector_matches(sel, o))
        })
        .cloned()
        .collect();
    // Like the real API server, list items of built-in types carry no apiVersion/kind.
    let builtin = matches!(res.group, "" | "apps" | "rbac.authorization.k8s.io");
    for item in &mut items {
        if let Value::Object(map) = item {
            if builtin {
                map.remove("apiVersion");
                map.remove("kind");
            } else {
                map.insert("apiVersion".into(), Value::String(gv.clone()));
            }
        }
    }
    let offset: usize = params
        .get("continue")
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let limit: usize = params
        .get("limit")
        .and_then(|l| l.parse().ok())
        .filter(|l| *l > 0)
        .unwrap_or(usize::MAX);
    let total = items.len();
    let page: Vec<Value> = items.into_iter().skip(offset).take(limit).collect();
    let mut metadata = json!({"resourceVersion": "4242"});
    if offset.saturating_add(limit) < total {
        metadata["continue"] = Value::String((offset + limit).to_string());
    }
    respond(
        200,
        &json!({"kind": format!("{}List", res.kind), "apiVersion": gv, "metadata": metadata,
                "items": page}),
    )
}

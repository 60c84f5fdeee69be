//! A loopback HTTPS server speaking enough of the Kubernetes API for the reader: discovery
//! (`/api`, `/apis`, `/api/v1`, `/apis/<g>/<v>`), get, paginated list with label and field
//! selectors, `Status` errors, and scripted misbehaviour (403, 429 or 503 a number of times,
//! slow answers). No real API server can run in this environment, so every live test runs the
//! real kube client against this server on 127.0.0.1 with an ephemeral port, a self-signed CA
//! made with rcgen, and a kubeconfig written to a temp dir. The server records every request.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result};
use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use rcgen::{BasicConstraints, CertificateParams, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

/// One resource the server serves.
#[derive(Clone, Debug)]
pub struct ApiRes {
    pub group: &'static str,
    pub version: &'static str,
    pub kind: &'static str,
    pub plural: &'static str,
    pub namespaced: bool,
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
pub fn standard_resources() -> Vec<ApiRes> {
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
#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub query: String,
}

/// Scripted misbehaviour for requests whose path starts with (or equals) `path`.
#[derive(Clone, Debug)]
pub struct Rule {
    pub path: String,
    pub exact: bool,
    pub action: Action,
}

/// What a [`Rule`] does.
#[derive(Clone, Debug)]
pub enum Action {
    /// Answer 403 Forbidden, always.
    Forbid,
    /// Answer this status (429, 503, …) the next `times` times, with `Retry-After: 0`.
    Fail { status: u16, times: u32 },
    /// Answer with this status and raw body, always.
    Raw { status: u16, body: &'static str },
    /// Wait `delay` before answering, the next `times` times.
    Slow { delay: Duration, times: u32 },
}

/// How clients authenticate.
#[derive(Clone, Debug)]
pub enum Auth {
    /// `Authorization: Bearer <token>`; anything else gets 401.
    Token(String),
    /// A client certificate signed by the test CA, checked during the TLS handshake.
    ClientCert,
}

/// The server's mutable state.
#[derive(Default)]
pub struct State {
    pub objects: Vec<Value>,
    pub resources: Vec<ApiRes>,
    pub requests: Vec<Recorded>,
    pub rules: Vec<Rule>,
    pub token: Option<String>,
    /// Requests being answered right now, and the most ever at once.
    pub in_flight: usize,
    pub max_in_flight: usize,
}

/// Counts a request as in flight until dropped (also when the client gives up on it).
struct InFlight(Arc<Mutex<State>>);

impl InFlight {
    fn enter(state: &Arc<Mutex<State>>) -> Self {
        let mut s = state.lock().unwrap();
        s.in_flight += 1;
        s.max_in_flight = s.max_in_flight.max(s.in_flight);
        Self(state.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.lock().unwrap().in_flight -= 1;
    }
}

/// A running loopback API server with its kubeconfig.
pub struct TestServer {
    pub addr: SocketAddr,
    pub state: Arc<Mutex<State>>,
    pub kubeconfig: PathBuf,
    _dir: tempfile::TempDir,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The token the default kubeconfig user presents.
pub const TOKEN: &str = "loopback-test-token";

struct Pki {
    ca_pem: String,
    server_chain: Vec<CertificateDer<'static>>,
    server_key: PrivateKeyDer<'static>,
    client_pem: String,
    client_key_pem: String,
    ca_der: CertificateDer<'static>,
}

fn pki() -> Result<Pki> {
    let ca_key = KeyPair::generate()?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "thule loopback CA");
    let ca_cert = ca_params.self_signed(&ca_key)?;
    let issuer = Issuer::new(ca_params, ca_key);

    let server_key = KeyPair::generate()?;
    let mut server_params =
        CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])?;
    server_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let server_cert = server_params.signed_by(&server_key, &issuer)?;

    let client_key = KeyPair::generate()?;
    let mut client_params = CertificateParams::new(Vec::<String>::new())?;
    client_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "thule-reader");
    client_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let client_cert = client_params.signed_by(&client_key, &issuer)?;

    Ok(Pki {
        ca_pem: ca_cert.pem(),
        ca_der: ca_cert.der().clone(),
        server_chain: vec![server_cert.der().clone()],
        server_key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server_key.serialize_der())),
        client_pem: client_cert.pem(),
        client_key_pem: client_key.serialize_pem(),
    })
}

impl TestServer {
    /// Start a server serving `objects` (full objects with `apiVersion` and `kind`) and the
    /// standard resources, authenticating by `auth`.
    pub async fn start(objects: Vec<Value>, auth: Auth) -> Result<Self> {
        let pki = pki()?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()?;
        let config = match &auth {
            Auth::Token(_) => builder
                .with_no_client_auth()
                .with_single_cert(pki.server_chain.clone(), pki.server_key.clone_key())?,
            Auth::ClientCert => {
                let mut roots = rustls::RootCertStore::empty();
                roots.add(pki.ca_der.clone())?;
                let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                    Arc::new(roots),
                    provider,
                )
                .build()?;
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
                Auth::ClientCert => None,
            },
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

    /// Add a misbehaviour rule.
    pub fn rule(&self, path: &str, exact: bool, action: Action) {
        self.state.lock().unwrap().rules.push(Rule {
            path: path.to_owned(),
            exact,
            action,
        });
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.state.lock().unwrap().requests.clone()
    }

    /// Forget the recorded requests.
    pub fn clear_requests(&self) {
        self.state.lock().unwrap().requests.clear();
    }
}

/// Write the CA, client certificate and a kubeconfig with two contexts: `loopback` (token
/// user) and `loopback-cert` (client-certificate user).
fn write_kubeconfig(dir: &Path, server: &str, pki: &Pki) -> Result<PathBuf> {
    let ca = dir.join("ca.pem");
    let cert = dir.join("client.pem");
    let key = dir.join("client-key.pem");
    std::fs::write(&ca, &pki.ca_pem)?;
    std::fs::write(&cert, &pki.client_pem)?;
    std::fs::write(&key, &pki.client_key_pem)?;
    let text = format!(
        r#"apiVersion: v1
kind: Config
clusters:
- name: loopback
  cluster:
    server: {server}
    certificate-authority: {ca}
users:
- name: token-user
  user:
    token: {TOKEN}
- name: cert-user
  user:
    client-certificate: {cert}
    client-key: {key}
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
current-context: loopback
"#,
        ca = ca.display(),
        cert = cert.display(),
        key = key.display(),
    );
    let path = dir.join("kubeconfig.yaml");
    std::fs::write(&path, text).context("writing kubeconfig")?;
    Ok(path)
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
        let mut s = state.lock().unwrap();
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
        } else if let Some(token) = &s.token
            && auth.as_deref() != Some(&format!("Bearer {token}"))
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
    let s = state.lock().unwrap();
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

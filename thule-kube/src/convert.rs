//! The only place that touches kube-rs and k8s-openapi types: building a client from a
//! kubeconfig or in-cluster config, sending one `GET`, and decoding API `Status` bodies.
//! Everything leaving this module is plain data (strings, bytes, status codes).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Status;
use kube::client::ConfigExt as _;
use kube::config::{AuthInfo, KubeConfigOptions, Kubeconfig, KubeconfigError};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName};

use crate::certinfo::CertSummary;
use crate::tls::{self, KubeconfigCaVerifier};

/// A built client and a human name for it (context and server).
pub(crate) struct Built {
    pub client: kube::Client,
    pub describe: String,
    /// The API server's URL, for messages about reaching it.
    pub server: String,
    /// How the client connects and authenticates, for its error messages.
    pub target: Target,
}

/// What the messages of failed requests say about the connection: the server's address and
/// which credentials the client sends (never their values).
#[derive(Clone, Debug)]
pub(crate) struct Target {
    /// `host:port` of the API server, as the kubeconfig names it.
    pub authority: String,
    /// The credentials sent, e.g. ``bearer token (kubeconfig user `ci`)`` or
    /// ``client certificate `CN=thule` (kubeconfig user `admin`)``, or `none (…)`.
    pub credentials: String,
}

/// Whose credentials the client sends, for messages.
enum Owner {
    /// A kubeconfig user, by name.
    User(String),
    /// The pod's service account.
    InCluster,
    /// Not known (kube inferred the configuration).
    Unknown,
}

/// Why a client could not be built; the caller adds the `clusterRef`. Messages are whole
/// lines from [`flatten`].
pub(crate) enum BuildError {
    Kubeconfig { path: String, message: String },
    InCluster(String),
    Client(String),
}

fn options(context: Option<&str>) -> KubeConfigOptions {
    KubeConfigOptions {
        context: context.map(str::to_owned),
        cluster: None,
        user: None,
    }
}

fn finish(
    mut config: kube::Config,
    context: Option<String>,
    owner: &Owner,
) -> Result<Built, BuildError> {
    // The reader retries itself (bounded attempts, honouring its run deadline); kube's own
    // retry layer would retry 429/503/504 up to 15 times with waits of up to 1000 s.
    config.default_retry = false;
    let server = config.cluster_url.to_string();
    let describe = match context {
        Some(c) => format!("kube context {c} ({server})"),
        None => format!("kube {server}"),
    };
    let target = Target {
        authority: authority(&config.cluster_url),
        credentials: credentials(&config.auth_info, owner),
    };
    let client = client(&config).map_err(BuildError::Client)?;
    Ok(Built {
        client,
        describe,
        server,
        target,
    })
}

/// The client: kube's own stack (base URI, authentication, extra and impersonation headers,
/// HTTP/1 over rustls with the kubeconfig's TLS settings), with [`KubeconfigCaVerifier`] as
/// the server-certificate verifier when the kubeconfig names a certificate authority. Without
/// one (system trust), with `insecure-skip-tls-verify`, in-cluster (kube re-reads the
/// rotating CA file) and through a proxy, kube's client is used as it is.
fn client(config: &kube::Config) -> Result<kube::Client, String> {
    let bundle = match &config.root_cert {
        Some(bundle)
            if config.proxy_url.is_none()
                && config.root_cert_file.is_none()
                && !config.accept_invalid_certs =>
        {
            bundle
        }
        _ => return kube::Client::try_from(config.clone()).map_err(|e| flatten(&e)),
    };
    let mut tls_config = config.rustls_client_config().map_err(|e| flatten(&e))?;
    let verifier = KubeconfigCaVerifier::new(bundle, tls_config.crypto_provider().clone())?;
    tls_config
        .dangerous()
        .set_certificate_verifier(Arc::new(verifier));
    let mut http = hyper_util::client::legacy::connect::HttpConnector::new();
    http.enforce_http(false);
    http.set_connect_timeout(config.connect_timeout);
    let mut https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls_config)
        .https_or_http();
    if let Some(name) = &config.tls_server_name {
        let name = ServerName::try_from(name.clone())
            .map_err(|e| format!("invalid tls-server-name `{name}`: {e}"))?;
        https = https.with_server_name_resolver(hyper_rustls::FixedServerNameResolver::new(name));
    }
    let https = https.enable_http1().wrap_connector(http);
    let http_client =
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .build::<_, kube::client::Body>(https);
    let service = tower::ServiceBuilder::new()
        .layer(config.base_uri_layer())
        .option_layer(config.auth_layer().map_err(|e| flatten(&e))?)
        .layer(config.extra_headers_layer().map_err(|e| flatten(&e))?)
        .map_err(tower::BoxError::from)
        .service(http_client);
    Ok(kube::Client::new(service, config.default_namespace.clone()))
}

/// `host:port` of a cluster URL (the scheme's port when it names none).
fn authority(url: &http::Uri) -> String {
    let host = url.host().unwrap_or("");
    let port = url.port_u16().unwrap_or(match url.scheme_str() {
        Some("http") => 80,
        _ => 443,
    });
    format!("{host}:{port}")
}

/// Which credentials `auth` makes the client send, named but never shown: a client
/// certificate by its subject, a token by where it comes from (inline in the kubeconfig, a
/// token file, an exec plugin, an auth provider), in kube's order of precedence.
fn credentials(auth: &AuthInfo, owner: &Owner) -> String {
    let certificate =
        client_certificate_subject(auth).map(|subject| format!("client certificate {subject}"));
    let header = if let Some(provider) = &auth.auth_provider {
        Some(format!(
            "bearer token from auth-provider `{}`",
            provider.name
        ))
    } else if auth.username.is_some() && auth.password.is_some() {
        Some("basic-auth password".to_owned())
    } else if auth.token.is_some() {
        Some("bearer token".to_owned())
    } else if let Some(file) = &auth.token_file {
        Some(format!("bearer token from token file {file}"))
    } else {
        auth.exec.as_ref().map(|exec| {
            format!(
                "credentials from exec plugin `{}`",
                exec.command.as_deref().unwrap_or("")
            )
        })
    };
    let sent: Vec<String> = certificate.into_iter().chain(header).collect();
    match (sent.is_empty(), owner) {
        (true, Owner::User(user)) => format!("none (kubeconfig user `{user}` has none)"),
        (true, _) => "none".to_owned(),
        (false, Owner::User(user)) => format!("{} (kubeconfig user `{user}`)", sent.join(" and ")),
        (false, Owner::InCluster) => format!("{} (in-cluster service account)", sent.join(" and ")),
        (false, Owner::Unknown) => sent.join(" and "),
    }
}

/// `` `CN=…` `` of the client certificate `auth` names (inline data first, as kube reads
/// it), `(unreadable)` when it cannot be read, `None` without one.
fn client_certificate_subject(auth: &AuthInfo) -> Option<String> {
    let pem = match (&auth.client_certificate_data, &auth.client_certificate) {
        (Some(data), _) => base64::engine::general_purpose::STANDARD
            .decode(data.trim())
            .ok(),
        (None, Some(path)) => std::fs::read(path).ok(),
        (None, None) => return None,
    };
    let subject = pem.as_deref().and_then(|pem| {
        let der = CertificateDer::pem_slice_iter(pem).next()?.ok()?;
        CertSummary::parse(&der).map(|c| c.subject)
    });
    Some(subject.map_or_else(|| "(unreadable)".to_owned(), |s| format!("`{s}`")))
}

/// Client from a kubeconfig file (or `$KUBECONFIG` / `~/.kube/config` when `path` is `None`),
/// using `context` or the file's current context. With neither a path nor a context, kube's
/// inference applies: the default kubeconfig, else in-cluster configuration.
pub(crate) async fn from_kubeconfig(
    path: Option<&Path>,
    context: Option<&str>,
) -> Result<Built, BuildError> {
    let shown = path.map_or_else(
        || "$KUBECONFIG or ~/.kube/config".to_owned(),
        |p| p.display().to_string(),
    );
    let kubeconfig_error = |message: String| BuildError::Kubeconfig {
        path: shown.clone(),
        message,
    };
    let kubeconfig = match path {
        Some(p) => Kubeconfig::read_from(p).map_err(|e| kubeconfig_error(read_message(&e)))?,
        None if context.is_none() => {
            let config = kube::Config::infer()
                .await
                .map_err(|e| kubeconfig_error(flatten(&e)))?;
            // kube read the default kubeconfig if there is one, else the service account.
            let owner = match Kubeconfig::read() {
                Ok(k) => k
                    .current_context
                    .as_deref()
                    .and_then(|c| user_of(&k, c))
                    .map_or(Owner::Unknown, Owner::User),
                Err(_) if std::env::var_os("KUBERNETES_SERVICE_HOST").is_some() => Owner::InCluster,
                Err(_) => Owner::Unknown,
            };
            return finish(config, None, &owner);
        }
        None => Kubeconfig::read().map_err(|e| kubeconfig_error(read_message(&e)))?,
    };
    let context_name = context
        .map(str::to_owned)
        .or_else(|| kubeconfig.current_context.clone());
    if let Some(name) = &context_name
        && !kubeconfig.contexts.iter().any(|c| c.name == *name)
    {
        // kube would say "failed to load current context: <name>", also for a context that
        // was asked for rather than current; name it and list what there is.
        let known: Vec<&str> = kubeconfig
            .contexts
            .iter()
            .map(|c| c.name.as_str())
            .collect();
        let message = if known.is_empty() {
            format!("no context `{name}` (it has no contexts)")
        } else {
            format!("no context `{name}` (it has: {})", known.join(", "))
        };
        return Err(kubeconfig_error(message));
    }
    let owner = context_name
        .as_deref()
        .and_then(|c| user_of(&kubeconfig, c))
        .map_or(Owner::Unknown, Owner::User);
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &options(context))
        .await
        .map_err(|e| kubeconfig_error(flatten(&e)))?;
    finish(config, context_name, &owner)
}

/// The user name of `context` in `kubeconfig`.
fn user_of(kubeconfig: &Kubeconfig, context: &str) -> Option<String> {
    kubeconfig
        .contexts
        .iter()
        .find(|c| c.name == context)?
        .context
        .as_ref()?
        .user
        .clone()
}

/// Why a kubeconfig file could not be read. The caller already names the file, and kube's
/// message for an unreadable file names it again (`failed to read kubeconfig from '…': …`):
/// keep only the I/O error then.
fn read_message(e: &KubeconfigError) -> String {
    match e {
        KubeconfigError::ReadConfig(io, _) => io.to_string(),
        other => flatten(other),
    }
}

/// An error and its causes as one line, `outer: cause: root cause`, each said once. kube's
/// errors (and hyper's) often print their cause in their own message as well as returning it
/// as the source; a cause whose text the line already holds is skipped. What leaves this
/// module is this line, never the error: callers print no source chain of kube's.
pub(crate) fn flatten(error: &(dyn std::error::Error + 'static)) -> String {
    let mut out = error.to_string();
    let mut next = error.source();
    while let Some(cause) = next {
        let text = cause.to_string();
        if !text.is_empty() && !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        next = cause.source();
    }
    out
}

/// Why a request could not be sent or answered. A failed TLS handshake says which failure
/// (see [`tls::describe`]) and a refused connection says so with the server's `authority`;
/// anything else is the tower service error or the hyper error and their causes, without
/// kube's wrapper names (`client error (Connect): dns error: …`).
fn transport_message(e: &kube::Error, authority: &str) -> String {
    let top: &(dyn std::error::Error + 'static) = match e {
        kube::Error::Service(inner) => inner.as_ref(),
        kube::Error::HyperError(inner) => inner,
        other => other,
    };
    for cause in causes(top) {
        if let Some(tls) = cause.downcast_ref::<rustls::Error>() {
            return tls::describe(tls);
        }
        if let Some(io) = cause.downcast_ref::<std::io::Error>()
            && io.kind() == std::io::ErrorKind::ConnectionRefused
        {
            return format!("connection refused by {authority}");
        }
    }
    flatten(top)
}

/// An error and its causes, outermost first. An `io::Error` wrapping another error (as
/// tokio-rustls wraps rustls's) is followed into the error it wraps: its `source()` would
/// skip that error and go on to the wrapped error's own cause.
fn causes<'a>(
    error: &'a (dyn std::error::Error + 'static),
) -> Vec<&'a (dyn std::error::Error + 'static)> {
    let mut out = Vec::new();
    let mut next = Some(error);
    while let Some(cause) = next {
        out.push(cause);
        next = match cause
            .downcast_ref::<std::io::Error>()
            .and_then(std::io::Error::get_ref)
        {
            Some(wrapped) => Some(wrapped as &(dyn std::error::Error + 'static)),
            None => cause.source(),
        };
    }
    out
}

/// Client from the pod's service account (`KUBERNETES_SERVICE_HOST`, token and CA files).
pub(crate) fn in_cluster() -> Result<Built, BuildError> {
    let config = kube::Config::incluster().map_err(|e| BuildError::InCluster(flatten(&e)))?;
    let mut built = finish(config, None, &Owner::InCluster)?;
    built.describe = format!("in-cluster {}", built.describe.trim_start_matches("kube "));
    Ok(built)
}

/// The answer to one `GET`.
pub(crate) struct Response {
    pub status: u16,
    /// `Retry-After` in whole seconds, when the server sent one.
    pub retry_after: Option<Duration>,
    pub body: Vec<u8>,
}

/// Send one `GET` for `path_and_query` (already percent-encoded) and collect the body.
/// This is the reader's only way to talk to the API server, and it cannot send anything but
/// `GET`. It uses `Client::send`, not `Client::request`: the latter logs the whole response
/// text through `tracing` when it fails to decode, which could print Secret data.
pub(crate) async fn get(
    client: &kube::Client,
    target: &Target,
    path_and_query: &str,
) -> Result<Response, String> {
    let request = http::Request::get(path_and_query)
        .header(http::header::ACCEPT, "application/json")
        .body(kube::client::Body::empty())
        .map_err(|e| format!("cannot build request: {e}"))?;
    let response = client
        .send(request)
        .await
        .map_err(|e| transport_message(&e, &target.authority))?;
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get(http::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    let body = response
        .into_body()
        .collect_bytes()
        .await
        .map_err(|e| {
            format!(
                "reading the response: {}",
                transport_message(&e, &target.authority)
            )
        })?
        .to_vec();
    Ok(Response {
        status,
        retry_after,
        body,
    })
}

/// The `message` of a `metav1.Status` error body, if the body is one. The API server's
/// messages name objects and users, never object data. Non-`Status` bodies yield `None`, so a
/// proxy's error page (or anything else) never reaches an error message.
pub(crate) fn status_message(body: &[u8]) -> Option<String> {
    let status: Status = serde_json::from_slice(body).ok()?;
    let message = status.message.filter(|m| !m.is_empty())?;
    Some(truncate(&message, 400))
}

/// Cut a message to at most `max` characters.
pub(crate) fn truncate(message: &str, max: usize) -> String {
    if message.chars().count() <= max {
        message.to_owned()
    } else {
        let mut s: String = message.chars().take(max).collect();
        s.push('…');
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An error that prints its cause and also returns it, as kube's do.
    #[derive(Debug, thiserror::Error)]
    #[error("failed to read kubeconfig from 'x': {0}")]
    struct Repeats(#[source] std::io::Error);

    #[derive(Debug, thiserror::Error)]
    #[error("ServiceError: client error (Connect)")]
    struct Wrapper(#[source] Repeats);

    #[test]
    fn flatten_says_each_cause_once() {
        let e = Wrapper(Repeats(std::io::Error::other("gone")));
        assert_eq!(
            flatten(&e),
            "ServiceError: client error (Connect): failed to read kubeconfig from 'x': gone"
        );
        assert_eq!(flatten(&std::io::Error::other("alone")), "alone");
    }

    fn auth(json: serde_json::Value) -> AuthInfo {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn credentials_are_named_by_kind_and_source_never_shown() {
        let user = Owner::User("ci".into());
        let cases = [
            (
                serde_json::json!({"token": "s3cr3t"}),
                "bearer token (kubeconfig user `ci`)",
            ),
            (
                serde_json::json!({"tokenFile": "/run/token"}),
                "bearer token from token file /run/token (kubeconfig user `ci`)",
            ),
            (
                serde_json::json!({"exec": {"command": "aws-iam-authenticator",
                    "apiVersion": "client.authentication.k8s.io/v1beta1",
                    "args": ["token", "--secret", "s3cr3t"]}}),
                "credentials from exec plugin `aws-iam-authenticator` (kubeconfig user `ci`)",
            ),
            (
                serde_json::json!({"auth-provider": {"name": "oidc",
                    "config": {"id-token": "s3cr3t"}}}),
                "bearer token from auth-provider `oidc` (kubeconfig user `ci`)",
            ),
            (
                serde_json::json!({"username": "admin", "password": "s3cr3t"}),
                "basic-auth password (kubeconfig user `ci`)",
            ),
            (
                serde_json::json!({"client-certificate-data": "bm90IGEgY2VydA==",
                    "client-key-data": "czNjcjN0", "token": "s3cr3t"}),
                "client certificate (unreadable) and bearer token (kubeconfig user `ci`)",
            ),
            (
                serde_json::json!({}),
                "none (kubeconfig user `ci` has none)",
            ),
        ];
        for (json, want) in cases {
            let shown = credentials(&auth(json), &user);
            assert_eq!(shown, want);
            assert!(!shown.contains("s3cr3t"), "{shown}");
        }
        let file = auth(serde_json::json!({
            "tokenFile": "/var/run/secrets/kubernetes.io/serviceaccount/token"
        }));
        assert_eq!(
            credentials(&file, &Owner::InCluster),
            "bearer token from token file /var/run/secrets/kubernetes.io/serviceaccount/token \
             (in-cluster service account)"
        );
        assert_eq!(
            credentials(
                &auth(serde_json::json!({"token": "s3cr3t"})),
                &Owner::Unknown
            ),
            "bearer token"
        );
        assert_eq!(credentials(&AuthInfo::default(), &Owner::Unknown), "none");
    }

    #[test]
    fn transport_errors_are_found_under_io_errors_and_wrappers() {
        let tls = std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            rustls::Error::from(rustls::CertificateError::UnknownIssuer),
        );
        let e = kube::Error::Service(Box::new(Wrapper(Repeats(tls))));
        assert_eq!(
            transport_message(&e, "k8s.local:6443"),
            "TLS: unknown issuer: the server's certificate is not signed by a trusted \
             certificate authority"
        );
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        let e = kube::Error::Service(Box::new(Wrapper(Repeats(refused))));
        assert_eq!(
            transport_message(&e, "k8s.local:6443"),
            "connection refused by k8s.local:6443"
        );
        let other = std::io::Error::other("no route");
        let e = kube::Error::Service(Box::new(Wrapper(Repeats(other))));
        assert_eq!(
            transport_message(&e, "k8s.local:6443"),
            "ServiceError: client error (Connect): failed to read kubeconfig from 'x': no route"
        );
    }

    #[test]
    fn authority_has_a_port() {
        let url = |s: &str| s.parse::<http::Uri>().unwrap();
        assert_eq!(authority(&url("https://k8s.local:6443")), "k8s.local:6443");
        assert_eq!(authority(&url("https://k8s.local")), "k8s.local:443");
        assert_eq!(authority(&url("http://127.0.0.1/")), "127.0.0.1:80");
    }

    #[test]
    fn an_unreadable_kubeconfig_is_its_io_error() {
        let e = Kubeconfig::read_from("/nonexistent/thule/kubeconfig").unwrap_err();
        let io = std::fs::read("/nonexistent/thule/kubeconfig").unwrap_err();
        assert_eq!(read_message(&e), io.to_string());
    }
}

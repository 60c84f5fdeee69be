//! The only place that touches kube-rs and k8s-openapi types: building a client from a
//! kubeconfig or in-cluster config, sending one `GET`, and decoding API `Status` bodies.
//! Everything leaving this module is plain data (strings, bytes, status codes).

use std::path::Path;
use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Status;
use kube::config::{KubeConfigOptions, Kubeconfig, KubeconfigError};

/// A built client and a human name for it (context and server).
pub(crate) struct Built {
    pub client: kube::Client,
    pub describe: String,
    /// The API server's URL, for messages about reaching it.
    pub server: String,
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

fn finish(mut config: kube::Config, context: Option<String>) -> Result<Built, BuildError> {
    // The reader retries itself (bounded attempts, honouring its run deadline); kube's own
    // retry layer would retry 429/503/504 up to 15 times with waits of up to 1000 s.
    config.default_retry = false;
    let server = config.cluster_url.to_string();
    let describe = match context {
        Some(c) => format!("kube context {c} ({server})"),
        None => format!("kube {server}"),
    };
    let client = kube::Client::try_from(config).map_err(|e| BuildError::Client(flatten(&e)))?;
    Ok(Built {
        client,
        describe,
        server,
    })
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
            return finish(config, None);
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
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &options(context))
        .await
        .map_err(|e| kubeconfig_error(flatten(&e)))?;
    finish(config, context_name)
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

/// Why a request could not be sent or answered, without kube's wrapper names: the tower
/// service error or the hyper error, and their causes (`client error (Connect): tcp connect
/// error: Connection refused (os error 111)`).
fn transport_message(e: &kube::Error) -> String {
    match e {
        kube::Error::Service(inner) => flatten(inner.as_ref()),
        kube::Error::HyperError(inner) => flatten(inner),
        other => flatten(other),
    }
}

/// Client from the pod's service account (`KUBERNETES_SERVICE_HOST`, token and CA files).
pub(crate) fn in_cluster() -> Result<Built, BuildError> {
    let config = kube::Config::incluster().map_err(|e| BuildError::InCluster(flatten(&e)))?;
    let mut built = finish(config, None)?;
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
pub(crate) async fn get(client: &kube::Client, path_and_query: &str) -> Result<Response, String> {
    let request = http::Request::get(path_and_query)
        .header(http::header::ACCEPT, "application/json")
        .body(kube::client::Body::empty())
        .map_err(|e| format!("cannot build request: {e}"))?;
    let response = client
        .send(request)
        .await
        .map_err(|e| transport_message(&e))?;
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
        .map_err(|e| format!("reading the response: {}", transport_message(&e)))?
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

    #[test]
    fn an_unreadable_kubeconfig_is_its_io_error() {
        let e = Kubeconfig::read_from("/nonexistent/thule/kubeconfig").unwrap_err();
        let io = std::fs::read("/nonexistent/thule/kubeconfig").unwrap_err();
        assert_eq!(read_message(&e), io.to_string());
    }
}

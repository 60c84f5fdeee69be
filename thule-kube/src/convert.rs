//! The only place that touches kube-rs and k8s-openapi types: building a client from a
//! kubeconfig or in-cluster config, sending one `GET`, and decoding API `Status` bodies.
//! Everything leaving this module is plain data (strings, bytes, status codes).

use std::path::Path;
use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Status;
use kube::config::{KubeConfigOptions, Kubeconfig};

/// A built client and a human name for it (context and server).
pub(crate) struct Built {
    pub client: kube::Client,
    pub describe: String,
}

/// Why a client could not be built; the caller adds the `clusterRef`.
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
    let client = kube::Client::try_from(config).map_err(|e| BuildError::Client(e.to_string()))?;
    Ok(Built { client, describe })
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
        Some(p) => Kubeconfig::read_from(p).map_err(|e| kubeconfig_error(e.to_string()))?,
        None if context.is_none() => {
            let config = kube::Config::infer()
                .await
                .map_err(|e| kubeconfig_error(e.to_string()))?;
            return finish(config, None);
        }
        None => Kubeconfig::read().map_err(|e| kubeconfig_error(e.to_string()))?,
    };
    let context_name = context
        .map(str::to_owned)
        .or_else(|| kubeconfig.current_context.clone());
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &options(context))
        .await
        .map_err(|e| kubeconfig_error(e.to_string()))?;
    finish(config, context_name)
}

/// Client from the pod's service account (`KUBERNETES_SERVICE_HOST`, token and CA files).
pub(crate) fn in_cluster() -> Result<Built, BuildError> {
    let config = kube::Config::incluster().map_err(|e| BuildError::InCluster(e.to_string()))?;
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
    let response = client.send(request).await.map_err(|e| e.to_string())?;
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
        .map_err(|e| format!("reading the response: {e}"))?
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

//! Errors name their cause: which TLS failure, a refused connection, and which credentials
//! a 401 or 403 answered. No real API server can run here: every test runs the real kube
//! client against the loopback server of `thule_kube::testing`, which speaks the Kubernetes
//! API over real TLS (rustls, with rcgen certificates) and presents the certificate each test
//! asks for. Messages are asserted whole, and never carry a token or a key.

use std::time::Duration;

use thule_core::cluster::{ClusterReader, LiveOutcome, ReadError};
use thule_kube::KubeClusterReader;
use thule_kube::testing::{Action, Auth, ServerCert, TOKEN, TestServer};

use crate::{fixture_objects, oref, test_options};

/// One attempt per request: a failed handshake is not retried into the test's time.
fn once() -> thule_kube::ReaderOptions {
    test_options().with_retries(1, Duration::ZERO, Duration::ZERO)
}

/// The client key the kubeconfig's `loopback-cert` user holds, to show it never leaks.
fn client_key(server: &TestServer) -> String {
    std::fs::read_to_string(server.kubeconfig.with_file_name("client-key.pem")).unwrap()
}

/// Neither the token nor the client key (nor any part of a PEM block) is in `text`.
fn assert_no_secret(server: &TestServer, text: &str) {
    assert!(!text.contains(TOKEN), "the token leaked: {text}");
    let key = client_key(server);
    let body = key.lines().nth(1).unwrap();
    assert!(!text.contains(body), "the client key leaked: {text}");
    assert!(!text.contains("PRIVATE KEY"), "{text}");
}

/// A server presenting `cert`, and the whole-read failure of reading through `context`.
async fn handshake_failure(cert: ServerCert, context: &str) -> (TestServer, String) {
    let server = TestServer::start_with_cert(fixture_objects(), Auth::Token(TOKEN.into()), cert)
        .await
        .unwrap();
    let reader = KubeClusterReader::from_kubeconfig(
        "loopback",
        Some(&server.kubeconfig),
        Some(context),
        once(),
    )
    .await
    .expect("building the reader requests nothing");
    let e = reader
        .read(&[oref("v1", "Service", "shop", "web")])
        .await
        .expect_err("the handshake must fail");
    assert!(matches!(e, ReadError::Unreachable { .. }), "{e:?}");
    let shown = e.to_string();
    assert_no_secret(&server, &shown);
    assert_no_secret(&server, &format!("{e:?}"));
    (server, shown)
}

fn prefix(server: &TestServer) -> String {
    format!(
        "cluster `loopback` is unreachable: https://{}/: ",
        server.addr
    )
}

/// Against the loopback server over real TLS (no real API server can run here): a server
/// certificate signed by a CA the kubeconfig does not have is an unknown issuer, naming the
/// certificate and its issuer, with the token user and the client-certificate user alike.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_issuer_names_the_certificate_and_its_issuer() {
    for context in ["loopback", "loopback-cert"] {
        let (server, shown) = handshake_failure(ServerCert::UnknownIssuer, context).await;
        assert_eq!(
            shown,
            format!(
                "{}TLS: unknown issuer: the server's certificate `CN=thule loopback server` is \
                 issued by `CN=thule stranger CA`, which is not the kubeconfig's certificate \
                 authority (certificate-authority or certificate-authority-data)",
                prefix(&server)
            )
        );
    }
}

/// Against the loopback server over real TLS: a certificate for another host is a name
/// mismatch, naming the address asked for and the names the certificate is valid for.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_for_another_name_is_a_name_mismatch() {
    let (server, shown) = handshake_failure(ServerCert::WrongName, "loopback").await;
    assert_eq!(
        shown,
        format!(
            "{}TLS: name mismatch: the server's certificate `CN=thule loopback server` is not \
             valid for 127.0.0.1 (it is valid for elsewhere.invalid)",
            prefix(&server)
        )
    );
}

/// Against the loopback server over real TLS: an expired certificate says so, when it
/// expired, and the time of the check.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_certificate_says_when_it_expired() {
    let (server, shown) = handshake_failure(ServerCert::Expired, "loopback").await;
    let want = format!(
        "{}TLS: expired certificate: the server's certificate `CN=thule loopback server` \
         expired at 2021-01-01T00:00:00Z (it is now 20",
        prefix(&server)
    );
    assert!(shown.starts_with(&want), "{shown}");
    let now = &shown[want.len() - 2..];
    assert_eq!(now.len(), "2026-01-01T00:00:00Z)".len(), "{shown}");
    assert!(now.ends_with("Z)"), "{shown}");
}

/// Against the loopback server over real TLS: a self-signed CA certificate as the server's
/// certificate, when the kubeconfig does not hold that certificate, is refused, and said to be
/// a CA certificate presented as the server's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ca_certificate_not_in_the_kubeconfig_is_refused_as_the_servers() {
    let (server, shown) = handshake_failure(ServerCert::UnknownCa, "loopback").await;
    assert_eq!(
        shown,
        format!(
            "{}TLS: a CA certificate presented as the server's certificate: the server's \
             certificate `CN=thule stray CA` is a CA certificate and is not itself a \
             certificate of the kubeconfig's certificate-authority (a CA certificate is \
             accepted as the server's only when it is)",
            prefix(&server)
        )
    );
}

/// Against the loopback server over real TLS: a self-signed CA certificate as the server's
/// certificate that is itself in the kubeconfig's `certificate-authority-data` (single-node
/// and appliance clusters) is accepted as kubectl accepts it, and reads work (found and
/// absent), with the token and with a client certificate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_self_signed_server_certificate_that_is_the_kubeconfig_ca_is_accepted() {
    for (auth, context) in [
        (Auth::Token(TOKEN.into()), "loopback"),
        (Auth::ClientCert, "loopback-cert"),
    ] {
        let server = TestServer::start_with_cert(fixture_objects(), auth, ServerCert::KubeconfigCa)
            .await
            .unwrap();
        let kubeconfig = std::fs::read_to_string(&server.kubeconfig).unwrap();
        assert!(
            kubeconfig.contains("certificate-authority-data: "),
            "{kubeconfig}"
        );
        let reader = KubeClusterReader::from_kubeconfig(
            "loopback",
            Some(&server.kubeconfig),
            Some(context),
            once(),
        )
        .await
        .unwrap();
        let out = reader
            .read(&[
                oref("v1", "Service", "shop", "web"),
                oref("v1", "ConfigMap", "shop", "no-such-config"),
            ])
            .await
            .unwrap();
        let web = out.values().find(|o| matches!(o, LiveOutcome::Found(_)));
        assert!(web.is_some(), "{out:?}");
        assert!(
            out.values().any(|o| matches!(o, LiveOutcome::Absent)),
            "{out:?}"
        );
        assert!(server.requests().iter().all(|r| r.method == "GET"));
    }
}

/// The first object's outcome message of a read through `context` (an error or forbidden
/// outcome), checked to carry no secret.
async fn outcome_message(server: &TestServer, context: &str) -> String {
    let reader = KubeClusterReader::from_kubeconfig(
        "loopback",
        Some(&server.kubeconfig),
        Some(context),
        once(),
    )
    .await
    .unwrap();
    let out = reader
        .read(&[oref("v1", "Service", "shop", "web")])
        .await
        .unwrap();
    let outcome = out.into_values().next().unwrap();
    assert_no_secret(server, &format!("{outcome:?}"));
    match outcome {
        LiveOutcome::Error { message } | LiveOutcome::Forbidden { message } => message,
        other => panic!("expected an error or forbidden outcome, got {other:?}"),
    }
}

/// Against the loopback server over real TLS, answering every request 401: the message names
/// the credentials that were sent, never their value: the kubeconfig user's token, a token
/// file, a client certificate by its subject, or none.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unauthorized_names_the_credentials_sent() {
    let server = TestServer::start(fixture_objects(), Auth::Reject)
        .await
        .unwrap();
    let token_file = server.kubeconfig.with_file_name("token");
    let cases = [
        (
            "loopback",
            "bearer token (kubeconfig user `token-user`)".to_owned(),
        ),
        (
            "loopback-token-file",
            format!(
                "bearer token from token file {} (kubeconfig user `token-file-user`)",
                token_file.display()
            ),
        ),
        (
            "loopback-cert",
            "client certificate `CN=thule-reader` (kubeconfig user `cert-user`)".to_owned(),
        ),
        (
            "loopback-anonymous",
            "none (kubeconfig user `anonymous` has none)".to_owned(),
        ),
    ];
    for (context, credentials) in cases {
        assert_eq!(
            outcome_message(&server, context).await,
            format!("HTTP 401: Unauthorized; credentials sent: {credentials}"),
            "context {context}"
        );
    }
}

/// Against the loopback server over real TLS, forbidding one path: a 403 keeps the API
/// server's message and names the credentials the request was authenticated with (token,
/// client certificate).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forbidden_names_the_credentials_sent() {
    let server = TestServer::start(fixture_objects(), Auth::Token(TOKEN.into()))
        .await
        .unwrap();
    server.rule("/api/v1/namespaces/shop/services", false, Action::Forbid);
    assert_eq!(
        outcome_message(&server, "loopback").await,
        "web is forbidden: User \"system:serviceaccount:thule:thule\" cannot get resource at \
         /api/v1/namespaces/shop/services/web; credentials sent: bearer token (kubeconfig \
         user `token-user`)"
    );
    let server = TestServer::start(fixture_objects(), Auth::ClientCert)
        .await
        .unwrap();
    server.rule("/api/v1/namespaces/shop/services", false, Action::Forbid);
    assert_eq!(
        outcome_message(&server, "loopback-cert").await,
        "web is forbidden: User \"system:serviceaccount:thule:thule\" cannot get resource at \
         /api/v1/namespaces/shop/services/web; credentials sent: client certificate \
         `CN=thule-reader` (kubeconfig user `cert-user`)"
    );
}

/// Against the loopback server over real TLS, demanding a client certificate, asked by a
/// user that has none: the handshake fails with the server's alert, said as such.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_required_client_certificate_that_is_missing_is_named() {
    let server = TestServer::start(fixture_objects(), Auth::ClientCert)
        .await
        .unwrap();
    let reader =
        KubeClusterReader::from_kubeconfig("loopback", Some(&server.kubeconfig), None, once())
            .await
            .unwrap();
    let e = reader
        .read(&[oref("v1", "Service", "shop", "web")])
        .await
        .unwrap_err();
    let shown = e.to_string();
    assert_no_secret(&server, &shown);
    assert_eq!(
        shown,
        format!(
            "{}TLS: the server ended the handshake with alert CertificateRequired (it did not \
             accept the client certificate, or requires one)",
            prefix(&server)
        )
    );
}

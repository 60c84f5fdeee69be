//! TLS for kubeconfig clusters: the server-certificate verifier installed when the kubeconfig
//! names a certificate authority, and the words for every way the handshake can fail.
//!
//! [`KubeconfigCaVerifier`] verifies like rustls's WebPKI verifier over the kubeconfig's CA
//! bundle, with one addition kubectl (Go's crypto/tls) has: a server whose certificate is
//! byte-for-byte a certificate of that bundle is accepted, even when it is a CA certificate
//! (single-node and appliance clusters serve a self-signed certificate that is also their
//! CA; WebPKI refuses a CA certificate as an end-entity certificate). Such a certificate is
//! still checked for the server's name or address, its validity period and, when it has an
//! extended key usage, serverAuth; the handshake signature still proves the server holds its
//! key. Any other certificate is verified normally.
//!
//! Every rejection leaves the verifier as a [`Rejected`] (wrapped in
//! [`rustls::CertificateError::Other`]) carrying what the certificate says, so the message
//! can name the certificate, its issuer, its names and its dates; [`describe`] turns it (or a
//! plain rustls error, from kube's own verifiers) into one line.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{WebPkiServerVerifier, verify_server_name};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::ParsedCertificate;
use rustls::{CertificateError, DigitallySignedStruct, OtherError, SignatureScheme};

use crate::certinfo::{CertSummary, format_time};

/// The server-certificate verifier for a kubeconfig with a CA bundle (see the module docs).
#[derive(Debug)]
pub(crate) struct KubeconfigCaVerifier {
    webpki: Arc<WebPkiServerVerifier>,
    bundle: Vec<CertificateDer<'static>>,
}

impl KubeconfigCaVerifier {
    /// A verifier trusting the DER certificates of `bundle`, with `provider`'s algorithms.
    ///
    /// # Errors
    /// A certificate of the bundle is not one (as kube's own root store would refuse it), or
    /// the bundle is empty.
    pub(crate) fn new(bundle: &[Vec<u8>], provider: Arc<CryptoProvider>) -> Result<Self, String> {
        let bundle: Vec<CertificateDer<'static>> = bundle
            .iter()
            .map(|der| CertificateDer::from(der.clone()))
            .collect();
        let mut roots = rustls::RootCertStore::empty();
        for der in &bundle {
            roots
                .add(der.clone())
                .map_err(|e| format!("the certificate authority is not usable: {e}"))?;
        }
        let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
            .build()
            .map_err(|e| format!("the certificate authority is not usable: {e}"))?;
        Ok(Self { webpki, bundle })
    }

    /// The server presented a certificate of the bundle itself: it is trusted as it is, so
    /// only its name, dates and purpose remain to check.
    fn verify_pinned(
        end_entity: &CertificateDer<'_>,
        server_name: &ServerName<'_>,
        now: UnixTime,
    ) -> Result<(), rustls::Error> {
        let summary = CertSummary::parse(end_entity)
            .ok_or(rustls::Error::from(CertificateError::BadEncoding))?;
        let now_secs = i64::try_from(now.as_secs()).unwrap_or(i64::MAX);
        let at = |secs: i64| {
            UnixTime::since_unix_epoch(std::time::Duration::from_secs(
                u64::try_from(secs).unwrap_or(0),
            ))
        };
        if summary.not_before > summary.not_after {
            return Err(CertificateError::Expired.into());
        }
        if now_secs < summary.not_before {
            return Err(CertificateError::NotValidYetContext {
                time: now,
                not_before: at(summary.not_before),
            }
            .into());
        }
        if now_secs > summary.not_after {
            return Err(CertificateError::ExpiredContext {
                time: now,
                not_after: at(summary.not_after),
            }
            .into());
        }
        if !summary.allows_server_auth() {
            return Err(CertificateError::InvalidPurpose.into());
        }
        let parsed = ParsedCertificate::try_from(end_entity)?;
        verify_server_name(&parsed, server_name)
    }
}

impl ServerCertVerifier for KubeconfigCaVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let pinned = self
            .bundle
            .iter()
            .any(|c| c.as_ref() == end_entity.as_ref());
        let result = if pinned {
            Self::verify_pinned(end_entity, server_name, now)
                .map(|()| ServerCertVerified::assertion())
        } else {
            self.webpki.verify_server_cert(
                end_entity,
                intermediates,
                server_name,
                ocsp_response,
                now,
            )
        };
        result.map_err(|reason| {
            let rejected = Rejected {
                reason,
                certificate: CertSummary::parse(end_entity),
            };
            CertificateError::Other(OtherError(Arc::new(rejected))).into()
        })
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.webpki.supported_verify_schemes()
    }
}

/// Why [`KubeconfigCaVerifier`] refused the server's certificate, with what the certificate
/// says. Its display is the whole explanation (see [`describe`]).
#[derive(Debug)]
pub(crate) struct Rejected {
    reason: rustls::Error,
    certificate: Option<CertSummary>,
}

impl std::fmt::Display for Rejected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&explain(&self.reason, self.certificate.as_ref(), true))
    }
}

impl std::error::Error for Rejected {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.reason)
    }
}

/// One line for a failed TLS handshake, `TLS: <which failure>: <details>`. A rejection by
/// [`KubeconfigCaVerifier`] names the certificate; a plain rustls error (kube's verifiers for
/// in-cluster and system trust) says what rustls knows.
pub(crate) fn describe(error: &rustls::Error) -> String {
    if let rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(inner))) = error
        && let Some(rejected) = inner.downcast_ref::<Rejected>()
    {
        return rejected.to_string();
    }
    explain(error, None, false)
}

/// The explanation of `error` for a server certificate `cert` (when it could be read);
/// `kubeconfig`: the verifier trusted the kubeconfig's certificate authority.
fn explain(error: &rustls::Error, cert: Option<&CertSummary>, kubeconfig: bool) -> String {
    let it = cert.map_or_else(
        || "the server's certificate".to_owned(),
        |c| format!("the server's certificate `{}`", c.subject),
    );
    let trusted = if kubeconfig {
        "the kubeconfig's certificate authority (certificate-authority or \
         certificate-authority-data)"
    } else {
        "a trusted certificate authority"
    };
    let rustls::Error::InvalidCertificate(reason) = error else {
        return match error {
            rustls::Error::AlertReceived(alert) => format!(
                "TLS: the server ended the handshake with alert {alert:?} (it did not accept \
                 the client certificate, or requires one)"
            ),
            other => format!("TLS: {other}"),
        };
    };
    match reason {
        CertificateError::UnknownIssuer => match cert {
            Some(c) => format!(
                "TLS: unknown issuer: {it} is issued by `{}`, which is not {trusted}",
                c.issuer
            ),
            None => format!("TLS: unknown issuer: {it} is not signed by {trusted}"),
        },
        CertificateError::NotValidForNameContext {
            expected,
            presented,
        } => {
            let names: Vec<String> = match cert {
                Some(c) => c.names.clone(),
                None => presented.iter().map(|n| presented_name(n)).collect(),
            };
            let valid_for = if names.is_empty() {
                "it names no host or address".to_owned()
            } else {
                format!("it is valid for {}", names.join(", "))
            };
            format!(
                "TLS: name mismatch: {it} is not valid for {} ({valid_for})",
                expected.to_str()
            )
        }
        CertificateError::NotValidForName => {
            format!("TLS: name mismatch: {it} is not valid for the server's name or address")
        }
        CertificateError::ExpiredContext { time, not_after } => format!(
            "TLS: expired certificate: {it} expired at {} (it is now {})",
            format_time(secs(*not_after)),
            format_time(secs(*time))
        ),
        CertificateError::Expired => match cert {
            Some(c) => format!(
                "TLS: expired certificate: {it} is valid from {} to {}",
                format_time(c.not_before),
                format_time(c.not_after)
            ),
            None => format!("TLS: expired certificate: {it} is expired or not yet valid"),
        },
        CertificateError::NotValidYetContext { time, not_before } => format!(
            "TLS: certificate not yet valid: {it} is valid from {} (it is now {})",
            format_time(secs(*not_before)),
            format_time(secs(*time))
        ),
        CertificateError::Other(OtherError(inner))
            if matches!(
                inner.downcast_ref::<webpki::Error>(),
                Some(webpki::Error::CaUsedAsEndEntity)
            ) =>
        {
            let not_it = if kubeconfig {
                " and is not itself a certificate of the kubeconfig's certificate-authority \
                 (a CA certificate is accepted as the server's only when it is)"
            } else {
                ""
            };
            format!(
                "TLS: a CA certificate presented as the server's certificate: {it} is a CA \
                 certificate{not_it}"
            )
        }
        CertificateError::InvalidPurpose | CertificateError::InvalidPurposeContext { .. } => {
            format!("TLS: {it} is not for server authentication (extended key usage)")
        }
        other => format!("TLS: {it} was refused: {other}"),
    }
}

/// A name as webpki presents it (`DnsName("a.example")`, `IpAddress(10.0.0.1)`), as text.
fn presented_name(name: &str) -> String {
    let bare = name
        .strip_prefix("DnsName(\"")
        .and_then(|n| n.strip_suffix("\")"))
        .or_else(|| {
            name.strip_prefix("IpAddress(")
                .and_then(|n| n.strip_suffix(')'))
        })
        .unwrap_or(name);
    crate::certinfo::printable(bare)
}

fn secs(time: UnixTime) -> i64 {
    i64::try_from(time.as_secs()).unwrap_or(i64::MAX)
}

#[cfg(all(test, feature = "testing"))]
mod tests {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    };

    use super::*;

    /// A self-signed certificate `CN=<cn>` for `names`, a CA when `ca`.
    fn self_signed(cn: &str, names: &[&str], ca: bool) -> (CertificateParams, Vec<u8>) {
        let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let mut params = CertificateParams::new(names).unwrap();
        params.distinguished_name.push(DnType::CommonName, cn);
        if ca {
            params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        }
        let der = params
            .self_signed(&KeyPair::generate().unwrap())
            .unwrap()
            .der()
            .to_vec();
        (params, der)
    }

    fn sign(params: &CertificateParams) -> Vec<u8> {
        params
            .self_signed(&KeyPair::generate().unwrap())
            .unwrap()
            .der()
            .to_vec()
    }

    fn verifier(bundle: &[Vec<u8>]) -> KubeconfigCaVerifier {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        KubeconfigCaVerifier::new(bundle, provider).unwrap()
    }

    /// Verify `cert` for `name` now; the failure as its message.
    fn check(v: &KubeconfigCaVerifier, cert: &[u8], name: &str) -> Result<(), String> {
        let name = ServerName::try_from(name.to_owned()).unwrap();
        v.verify_server_cert(
            &CertificateDer::from(cert.to_vec()),
            &[],
            &name,
            &[],
            UnixTime::now(),
        )
        .map(|_| ())
        .map_err(|e| describe(&e))
    }

    /// Verify `cert` for `name` with a bundle of `cert` alone.
    fn pinned(cert: &[u8], name: &str) -> Result<(), String> {
        check(&verifier(&[cert.to_vec()]), cert, name)
    }

    #[test]
    fn a_ca_certificate_of_the_bundle_is_accepted_as_the_server_certificate() {
        let (_, other) = self_signed("other CA", &[], true);
        let (_, appliance) = self_signed("appliance", &["10.0.0.1", "k8s.local"], true);
        let v = verifier(&[other, appliance.clone()]);
        assert_eq!(check(&v, &appliance, "10.0.0.1"), Ok(()));
        assert_eq!(check(&v, &appliance, "k8s.local"), Ok(()));
        // Still only for its own names.
        assert_eq!(
            check(&v, &appliance, "10.0.0.2"),
            Err(
                "TLS: name mismatch: the server's certificate `CN=appliance` is not valid for \
                 10.0.0.2 (it is valid for 10.0.0.1, k8s.local)"
                    .to_owned()
            )
        );
    }

    #[test]
    fn a_ca_certificate_of_the_bundle_is_still_checked_for_dates_and_purpose() {
        let (mut params, _) = self_signed("appliance", &["k8s.local"], true);
        params.not_before = rcgen::date_time_ymd(2019, 1, 1);
        params.not_after = rcgen::date_time_ymd(2020, 6, 30);
        let expired = sign(&params);
        let message = pinned(&expired, "k8s.local").unwrap_err();
        assert!(
            message.starts_with(
                "TLS: expired certificate: the server's certificate `CN=appliance` expired at \
                 2020-06-30T00:00:00Z (it is now "
            ),
            "{message}"
        );

        params.not_before = rcgen::date_time_ymd(2999, 1, 1);
        params.not_after = rcgen::date_time_ymd(3000, 1, 1);
        let future = sign(&params);
        let message = pinned(&future, "k8s.local").unwrap_err();
        assert!(
            message.starts_with(
                "TLS: certificate not yet valid: the server's certificate `CN=appliance` is \
                 valid from 2999-01-01T00:00:00Z (it is now "
            ),
            "{message}"
        );

        params.not_before = rcgen::date_time_ymd(2020, 1, 1);
        params.not_after = rcgen::date_time_ymd(4000, 1, 1);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let client_only = sign(&params);
        assert_eq!(
            pinned(&client_only, "k8s.local"),
            Err(
                "TLS: the server's certificate `CN=appliance` is not for server \
                 authentication (extended key usage)"
                    .to_owned()
            )
        );
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let server = sign(&params);
        assert_eq!(pinned(&server, "k8s.local"), Ok(()));
    }

    #[test]
    fn only_a_byte_identical_certificate_is_accepted_as_it_is() {
        // The same name and key usage, but another certificate (another key): refused.
        let (_, trusted) = self_signed("appliance", &["k8s.local"], true);
        let (_, impostor) = self_signed("appliance", &["k8s.local"], true);
        assert_eq!(
            check(&verifier(&[trusted]), &impostor, "k8s.local"),
            Err(
                "TLS: a CA certificate presented as the server's certificate: the server's \
                 certificate `CN=appliance` is a CA certificate and is not itself a \
                 certificate of the kubeconfig's certificate-authority (a CA certificate is \
                 accepted as the server's only when it is)"
                    .to_owned()
            )
        );
        // A self-signed non-CA certificate that is not in the bundle: unknown issuer.
        let (_, ca) = self_signed("cluster CA", &[], true);
        let (_, leaf) = self_signed("lonely", &["k8s.local"], false);
        assert_eq!(
            check(&verifier(&[ca]), &leaf, "k8s.local"),
            Err(
                "TLS: unknown issuer: the server's certificate `CN=lonely` is issued by \
                 `CN=lonely`, which is not the kubeconfig's certificate authority \
                 (certificate-authority or certificate-authority-data)"
                    .to_owned()
            )
        );
    }

    #[test]
    fn plain_rustls_errors_are_described_without_a_certificate() {
        let cases = [
            (
                rustls::Error::from(CertificateError::UnknownIssuer),
                "TLS: unknown issuer: the server's certificate is not signed by a trusted \
                 certificate authority",
            ),
            (
                CertificateError::Other(OtherError(Arc::new(webpki::Error::CaUsedAsEndEntity)))
                    .into(),
                "TLS: a CA certificate presented as the server's certificate: the server's \
                 certificate is a CA certificate",
            ),
            (
                CertificateError::NotValidForNameContext {
                    expected: ServerName::try_from("api.example").unwrap(),
                    presented: vec![
                        "DnsName(\"other.example\")".into(),
                        "IpAddress(10.0.0.1)".into(),
                    ],
                }
                .into(),
                "TLS: name mismatch: the server's certificate is not valid for api.example \
                 (it is valid for other.example, 10.0.0.1)",
            ),
            (
                CertificateError::ExpiredContext {
                    time: UnixTime::since_unix_epoch(std::time::Duration::from_secs(1_700_000_000)),
                    not_after: UnixTime::since_unix_epoch(std::time::Duration::from_secs(
                        1_600_000_000,
                    )),
                }
                .into(),
                "TLS: expired certificate: the server's certificate expired at \
                 2020-09-13T12:26:40Z (it is now 2023-11-14T22:13:20Z)",
            ),
            (
                rustls::Error::AlertReceived(rustls::AlertDescription::BadCertificate),
                "TLS: the server ended the handshake with alert BadCertificate (it did not \
                 accept the client certificate, or requires one)",
            ),
        ];
        for (error, want) in cases {
            assert_eq!(describe(&error), want);
        }
    }
}

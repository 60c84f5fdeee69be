//! A small read-only DER reader for the few X.509 fields this crate's messages and its
//! CA-as-server-certificate check need: subject and issuer names, the validity period,
//! whether the certificate is a CA, its subjectAltName host names and addresses, and its
//! extended key usages. It never verifies anything (rustls and webpki do that); it only
//! reads. Text taken from a certificate is made printable before it reaches a message, since
//! a server chooses what its certificate says.

use std::net::IpAddr;

/// What a certificate says about itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct CertSummary {
    /// `CN=…, O=…, OU=…` (those attributes only, in certificate order), or `(no name)`.
    pub subject: String,
    /// The issuer's name, as `subject`.
    pub issuer: String,
    /// Start of the validity period, in seconds since the Unix epoch.
    pub not_before: i64,
    /// End of the validity period, in seconds since the Unix epoch.
    pub not_after: i64,
    /// The basicConstraints extension says `cA: true`.
    pub is_ca: bool,
    /// subjectAltName DNS names and IP addresses, as text.
    pub names: Vec<String>,
    /// The extendedKeyUsage purposes (OID contents), when the extension is present.
    pub extended_key_usage: Option<Vec<Vec<u8>>>,
}

/// id-kp-serverAuth, 1.3.6.1.5.5.7.3.1.
const SERVER_AUTH: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x01];
/// anyExtendedKeyUsage, 2.5.29.37.0.
const ANY_EKU: &[u8] = &[0x55, 0x1d, 0x25, 0x00];

impl CertSummary {
    /// Read a DER certificate; `None` when it is not one (or not one this reader follows).
    pub(crate) fn parse(der: &[u8]) -> Option<Self> {
        let mut outer = Der(der);
        let mut cert = Der(outer.expect(SEQUENCE)?);
        let mut tbs = Der(cert.expect(SEQUENCE)?);
        if tbs.peek() == Some(0xa0) {
            tbs.read()?; // version
        }
        tbs.expect(0x02)?; // serialNumber
        tbs.expect(SEQUENCE)?; // signature algorithm
        let issuer = name(tbs.expect(SEQUENCE)?);
        let mut validity = Der(tbs.expect(SEQUENCE)?);
        let not_before = time(validity.read()?)?;
        let not_after = time(validity.read()?)?;
        let subject = name(tbs.expect(SEQUENCE)?);
        tbs.expect(SEQUENCE)?; // subjectPublicKeyInfo
        let mut summary = Self {
            subject,
            issuer,
            not_before,
            not_after,
            is_ca: false,
            names: Vec::new(),
            extended_key_usage: None,
        };
        while let Some((tag, value)) = tbs.read() {
            if tag == 0xa3 {
                summary.extensions(value)?;
            }
        }
        Some(summary)
    }

    fn extensions(&mut self, explicit: &[u8]) -> Option<()> {
        let mut list = Der(Der(explicit).expect(SEQUENCE)?);
        while let Some((tag, extension)) = list.read() {
            if tag != SEQUENCE {
                return None;
            }
            let mut extension = Der(extension);
            let oid = extension.expect(OID)?;
            if extension.peek() == Some(BOOLEAN) {
                extension.read()?; // critical
            }
            let value = extension.expect(OCTET_STRING)?;
            match oid {
                // basicConstraints
                [0x55, 0x1d, 0x13] => {
                    let mut fields = Der(Der(value).expect(SEQUENCE)?);
                    if let Some((BOOLEAN, flag)) = fields.read() {
                        self.is_ca = flag.first().is_some_and(|b| *b != 0);
                    }
                }
                // subjectAltName
                [0x55, 0x1d, 0x11] => {
                    let mut names = Der(Der(value).expect(SEQUENCE)?);
                    while let Some((tag, name)) = names.read() {
                        match tag {
                            // dNSName
                            0x82 => self.names.push(printable(&String::from_utf8_lossy(name))),
                            // iPAddress
                            0x87 => {
                                if let Ok(v4) = <[u8; 4]>::try_from(name) {
                                    self.names.push(IpAddr::from(v4).to_string());
                                } else if let Ok(v6) = <[u8; 16]>::try_from(name) {
                                    self.names.push(IpAddr::from(v6).to_string());
                                }
                            }
                            _ => {}
                        }
                    }
                }
                // extendedKeyUsage
                [0x55, 0x1d, 0x25] => {
                    let mut purposes = Der(Der(value).expect(SEQUENCE)?);
                    let mut all = Vec::new();
                    while let Some((tag, purpose)) = purposes.read() {
                        if tag == OID {
                            all.push(purpose.to_vec());
                        }
                    }
                    self.extended_key_usage = Some(all);
                }
                _ => {}
            }
        }
        Some(())
    }

    /// The certificate may authenticate a TLS server: no extendedKeyUsage extension, or one
    /// naming serverAuth or anyExtendedKeyUsage.
    pub(crate) fn allows_server_auth(&self) -> bool {
        self.extended_key_usage.as_ref().is_none_or(|purposes| {
            purposes
                .iter()
                .any(|p| p.as_slice() == SERVER_AUTH || p.as_slice() == ANY_EKU)
        })
    }
}

const BOOLEAN: u8 = 0x01;
const OCTET_STRING: u8 = 0x04;
const OID: u8 = 0x06;
const SEQUENCE: u8 = 0x30;
const SET: u8 = 0x31;

/// A DER reader over the remaining bytes of one constructed value.
struct Der<'a>(&'a [u8]);

impl<'a> Der<'a> {
    fn peek(&self) -> Option<u8> {
        self.0.first().copied()
    }

    /// The next tag and contents (definite lengths of up to four bytes only, as DER has).
    fn read(&mut self) -> Option<(u8, &'a [u8])> {
        let (&tag, rest) = self.0.split_first()?;
        let (&first, mut rest) = rest.split_first()?;
        let len = if first < 0x80 {
            usize::from(first)
        } else {
            let n = usize::from(first & 0x7f);
            if n == 0 || n > 4 || rest.len() < n {
                return None;
            }
            let (bytes, after) = rest.split_at(n);
            rest = after;
            bytes
                .iter()
                .fold(0usize, |len, b| (len << 8) | usize::from(*b))
        };
        if rest.len() < len {
            return None;
        }
        let (value, after) = rest.split_at(len);
        self.0 = after;
        Some((tag, value))
    }

    fn expect(&mut self, tag: u8) -> Option<&'a [u8]> {
        match self.read()? {
            (t, value) if t == tag => Some(value),
            _ => None,
        }
    }
}

/// `CN=…, O=…, OU=…` from a Name (a SEQUENCE of SETs of type-and-value SEQUENCEs).
fn name(rdns: &[u8]) -> String {
    let mut parts = Vec::new();
    let mut rdns = Der(rdns);
    while let Some((tag, set)) = rdns.read() {
        if tag != SET {
            continue;
        }
        let mut attributes = Der(set);
        while let Some((tag, attribute)) = attributes.read() {
            if tag != SEQUENCE {
                continue;
            }
            let mut attribute = Der(attribute);
            let (Some(oid), Some((kind, value))) = (attribute.expect(OID), attribute.read()) else {
                continue;
            };
            let label = match oid {
                [0x55, 0x04, 0x03] => "CN",
                [0x55, 0x04, 0x0a] => "O",
                [0x55, 0x04, 0x0b] => "OU",
                _ => continue,
            };
            parts.push(format!("{label}={}", printable(&string(kind, value))));
        }
    }
    if parts.is_empty() {
        "(no name)".to_owned()
    } else {
        parts.join(", ")
    }
}

/// A directory string's text: BMPString as UTF-16, everything else as (lossy) UTF-8.
fn string(kind: u8, value: &[u8]) -> String {
    if kind == 0x1e {
        let units: Vec<u16> = value
            .chunks_exact(2)
            .map(|c| u16::from_be_bytes([c[0], c[1]]))
            .collect();
        String::from_utf16_lossy(&units)
    } else {
        String::from_utf8_lossy(value).into_owned()
    }
}

/// Text from a certificate, safe to print: control characters become `?`, and at most 120
/// characters are kept.
pub(crate) fn printable(text: &str) -> String {
    let mut out: String = text
        .chars()
        .take(120)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    if text.chars().count() > 120 {
        out.push('…');
    }
    out
}

/// A UTCTime (`YYMMDDHHMMSSZ`) or GeneralizedTime (`YYYYMMDDHHMMSSZ`), in seconds since the
/// Unix epoch.
fn time((tag, value): (u8, &[u8])) -> Option<i64> {
    let text = std::str::from_utf8(value).ok()?;
    let digits = text.strip_suffix('Z')?;
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (year, rest) = match (tag, digits.len()) {
        (0x17, 12) => {
            let yy: i64 = digits[..2].parse().ok()?;
            (if yy >= 50 { 1900 + yy } else { 2000 + yy }, &digits[2..])
        }
        (0x18, 14) => (digits[..4].parse().ok()?, &digits[4..]),
        _ => return None,
    };
    let field = |i: usize| -> Option<i64> { rest.get(i..i + 2)?.parse().ok() };
    let (month, day) = (field(0)?, field(2)?);
    let (hour, minute, second) = (field(4)?, field(6)?, field(8)?);
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    Some(days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Seconds since the Unix epoch as `YYYY-MM-DDTHH:MM:SSZ`.
pub(crate) fn format_time(seconds: i64) -> String {
    let days = seconds.div_euclid(86_400);
    let secs = seconds.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_round_trip_through_the_calendar() {
        assert_eq!(format_time(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_time(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(format_time(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(format_time(-86_400), "1969-12-31T00:00:00Z");
        assert_eq!(time((0x17, b"231114221320Z")), Some(1_700_000_000));
        assert_eq!(time((0x18, b"20231114221320Z")), Some(1_700_000_000));
        assert_eq!(time((0x17, b"500101000000Z")), Some(-631_152_000));
        assert_eq!(time((0x18, b"99991231235959Z")), Some(253_402_300_799));
        assert_eq!(time((0x17, b"231114221320")), None, "no Z");
        assert_eq!(time((0x17, b"231314221320Z")), None, "month 13");
        assert_eq!(time((0x18, b"231114221320Z")), None, "UTCTime length");
    }

    #[test]
    fn malformed_input_is_none_not_a_panic() {
        assert_eq!(CertSummary::parse(&[]), None);
        assert_eq!(
            CertSummary::parse(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]),
            None
        );
        assert_eq!(CertSummary::parse(&[0x30, 0x80, 0x00, 0x00]), None);
        assert_eq!(CertSummary::parse(&[0x30, 0x03, 0x30, 0x01]), None);
        assert_eq!(CertSummary::parse(b"-----BEGIN CERTIFICATE-----"), None);
    }

    #[test]
    fn names_are_printable_and_bounded() {
        assert_eq!(printable("a\nb\u{1b}[31m"), "a?b?[31m");
        let long = "x".repeat(200);
        assert_eq!(printable(&long).chars().count(), 121);
        assert_eq!(string(0x1e, &[0x00, 0x41, 0x00, 0x42]), "AB");
    }
}

#[cfg(all(test, feature = "testing"))]
mod rcgen_tests {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    };

    use super::*;

    #[test]
    fn reads_what_rcgen_wrote() {
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        ca.distinguished_name.push(DnType::CommonName, "the CA");
        ca.distinguished_name
            .push(DnType::OrganizationName, "system:masters");
        let ca_key = KeyPair::generate().unwrap();
        let ca_der = ca.self_signed(&ca_key).unwrap().der().to_vec();
        let issuer = Issuer::new(ca, ca_key);

        let mut leaf =
            CertificateParams::new(vec!["api.example".to_owned(), "10.1.2.3".to_owned()]).unwrap();
        leaf.distinguished_name
            .push(DnType::CommonName, "api\nserver");
        leaf.not_before = rcgen::date_time_ymd(2024, 2, 29);
        leaf.not_after = rcgen::date_time_ymd(2051, 1, 1);
        leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let leaf_der = leaf
            .signed_by(&KeyPair::generate().unwrap(), &issuer)
            .unwrap()
            .der()
            .to_vec();

        let ca = CertSummary::parse(&ca_der).unwrap();
        assert_eq!(ca.subject, "CN=the CA, O=system:masters");
        assert_eq!(ca.issuer, ca.subject);
        assert!(ca.is_ca);
        assert!(ca.names.is_empty());
        assert!(ca.allows_server_auth(), "no extendedKeyUsage");

        let leaf = CertSummary::parse(&leaf_der).unwrap();
        assert_eq!(leaf.subject, "CN=api?server");
        assert_eq!(leaf.issuer, "CN=the CA, O=system:masters");
        assert!(!leaf.is_ca);
        assert_eq!(leaf.names, ["api.example", "10.1.2.3"]);
        assert_eq!(format_time(leaf.not_before), "2024-02-29T00:00:00Z");
        // After 2049, GeneralizedTime.
        assert_eq!(format_time(leaf.not_after), "2051-01-01T00:00:00Z");
        assert!(!leaf.allows_server_auth(), "clientAuth only");
        // Cut anywhere, it is no certificate.
        for end in [1, 10, leaf_der.len() / 2, leaf_der.len() - 1] {
            assert_eq!(CertSummary::parse(&leaf_der[..end]), None, "cut at {end}");
        }
    }
}

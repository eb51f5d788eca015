//! TLS handshake failures in words: which server, which trusted file, and
//! what to do, instead of rustls' enums (`invalid peer certificate:
//! Other(OtherError(CaUsedAsEndEntity))`). The library's own form goes to the
//! debug log only.

use std::io;
use std::path::Path;
use std::time::{Duration, UNIX_EPOCH};

use rustls::pki_types::UnixTime;
use rustls::{CertificateError, Error};

/// How to trust the server's own certificate, whatever it is.
const PIN: &str = "give --source-ssl-ca the server's own certificate file, the one its \
                   --ssl-public-key names (ssl.crt by default)";

/// The server being talked to and what it is trusted by.
pub struct Peer<'a> {
    /// `host:port` as given on the command line.
    pub address: String,
    /// `--source-ssl-ca`; `None` for the system's CA bundle.
    pub ca: Option<&'a Path>,
}

impl Peer<'_> {
    /// Where trust comes from, for messages.
    fn trusted(&self) -> String {
        match self.ca {
            Some(path) => path.display().to_string(),
            None => "the system's CA bundle".into(),
        }
    }
}

/// Why the handshake with `peer` failed, from the I/O error it ended with.
pub fn handshake_failure(e: &io::Error, peer: &Peer) -> String {
    dbdump_shared::debug!("TLS handshake with {}: {e:?}", peer.address);
    if let Some(tls) = e.get_ref().and_then(|i| i.downcast_ref::<Error>()) {
        return describe(tls, peer);
    }
    let address = &peer.address;
    match e.kind() {
        io::ErrorKind::UnexpectedEof | io::ErrorKind::ConnectionReset => format!(
            "{address} closed the connection during the TLS handshake: is it a dbd_server \
             with --listen-ssl? Without it, drop --source-ssl and --source-ssl-ca"
        ),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => format!(
            "{address} did not answer the TLS handshake within --source-timeout: is it a \
             dbd_server with --listen-ssl? Without it, drop --source-ssl and --source-ssl-ca"
        ),
        _ => format!("TLS handshake with {address} failed: {e}"),
    }
}

/// A rustls error in words.
pub fn describe(e: &Error, peer: &Peer) -> String {
    let address = &peer.address;
    let trusted = peer.trusted();
    match e {
        Error::InvalidCertificate(cert) => certificate(cert, peer),
        Error::InvalidMessage(_) => format!(
            "{address} does not answer in TLS (it may speak plain HTTP): if that dbd_server runs \
             without --listen-ssl, drop --source-ssl and --source-ssl-ca"
        ),
        Error::PeerIncompatible(_) => format!(
            "{address} offers no TLS version, cipher suite or key type in common with dbd_puller \
             (TLS 1.2 or 1.3 with modern ciphers): is it an up-to-date dbd_server?"
        ),
        Error::AlertReceived(alert) => format!(
            "{address} ended the TLS handshake ({}): is it a dbd_server with --listen-ssl?",
            words_of(&format!("{alert:?}"))
        ),
        Error::NoCertificatesPresented => {
            format!("{address} presented no certificate, so it cannot be trusted")
        }
        Error::DecryptError | Error::PeerMisbehaved(_) | Error::InappropriateMessage { .. } => {
            format!(
                "{address} broke the TLS protocol during the handshake: is it a dbd_server, \
                 and is nothing in between rewriting the connection?"
            )
        }
        Error::InappropriateHandshakeMessage { .. } => format!(
            "{address} sent an unexpected TLS handshake message: is it a dbd_server with \
             --listen-ssl?"
        ),
        _ => format!("TLS with {address} failed (trusting {trusted}): {e}"),
    }
}

/// Why the server's certificate was refused.
fn certificate(e: &CertificateError, peer: &Peer) -> String {
    let address = &peer.address;
    let trusted = peer.trusted();
    let host = address
        .rsplit_once(':')
        .map_or(address.as_str(), |(h, _)| h);
    match e {
        CertificateError::UnknownIssuer => match peer.ca {
            Some(_) => format!(
                "the certificate of {address} is neither the one in {trusted} nor signed by a \
                 CA in it: {PIN}, or the CA certificate that signed it"
            ),
            None => format!(
                "the certificate of {address} is not signed by a CA in {trusted} (is it \
                 self-signed?): {PIN}"
            ),
        },
        CertificateError::NotValidForNameContext { presented, .. } => {
            wrong_name(address, host, &presented_names(presented))
        }
        CertificateError::NotValidForName => wrong_name(address, host, &[]),
        CertificateError::ExpiredContext { not_after, .. } => {
            expired(address, &format!(" on {}", date(not_after)))
        }
        CertificateError::Expired => expired(address, ""),
        CertificateError::NotValidYetContext { not_before, .. } => {
            not_yet_valid(address, &format!(" until {}", date(not_before)))
        }
        CertificateError::NotValidYet => not_yet_valid(address, ""),
        CertificateError::InvalidPurpose | CertificateError::InvalidPurposeContext { .. } => {
            format!(
                "the certificate of {address} is not made for TLS servers (its extended key \
                 usage lacks serverAuth): give the server one that is, or pin it: {PIN}"
            )
        }
        CertificateError::BadSignature => format!(
            "the certificate of {address} does not carry a valid signature of a CA in \
             {trusted}: {PIN}"
        ),
        CertificateError::BadEncoding => {
            format!("the certificate of {address} is malformed: give the server a new one")
        }
        CertificateError::Revoked => format!("the certificate of {address} has been revoked"),
        CertificateError::Other(other) => webpki_refusal(&other.to_string(), address, peer),
        _ => format!(
            "the certificate of {address} was refused ({}); trusting {trusted}: {PIN}",
            words_of(&format!("{e:?}"))
        ),
    }
}

fn wrong_name(address: &str, host: &str, names: &[String]) -> String {
    let valid_for = if names.is_empty() {
        "names no host (only a subject CN, which TLS no longer uses)".to_string()
    } else {
        format!("is for {}", names.join(", "))
    };
    format!(
        "the certificate of {address} {valid_for}, not {host}: connect with --source-host set \
         to a name it is for, or give the server a certificate for {host} \
         (scripts/generate-ssl-cert DIR {host}), or pin the server's own certificate: {PIN}"
    )
}

/// `when` is empty or says when, e.g. ` on <date>`.
fn expired(address: &str, when: &str) -> String {
    format!(
        "the certificate of {address} expired{when}: give the server a new one, or pin this \
         one: {PIN}; check the clocks too"
    )
}

/// `when` is empty or says when, e.g. ` until <date>`.
fn not_yet_valid(address: &str, when: &str) -> String {
    format!(
        "the certificate of {address} is not valid{when}: check the clocks of this machine \
         and the server's"
    )
}

/// WebPKI's refusals that rustls passes on as an opaque error, whose text is
/// the variant's name.
fn webpki_refusal(name: &str, address: &str, peer: &Peer) -> String {
    let trusted = peer.trusted();
    match name {
        "CaUsedAsEndEntity" => match peer.ca {
            Some(_) => format!(
                "{address} presents a CA certificate (CA:TRUE, as `openssl req -x509` makes) \
                 that is not the one in {trusted}: {PIN}; a certificate in that file is trusted \
                 as it is"
            ),
            None => format!(
                "{address} presents a CA certificate (CA:TRUE, as `openssl req -x509` makes), \
                 which no CA in {trusted} vouches for: {PIN}, to trust it as it is"
            ),
        },
        "UnsupportedCertVersion" => format!(
            "{address} presents an old X.509 version 1 certificate, which only pinning can \
             trust: {PIN}"
        ),
        "EndEntityUsedAsCa" | "PathLenConstraintViolated" | "NameConstraintViolation" => format!(
            "the certificate chain of {address} breaks its CA's constraints ({}): give the \
             server a certificate from a proper CA, or pin it: {PIN}",
            words_of(name)
        ),
        _ => format!(
            "the certificate of {address} was refused ({}); trusting {trusted}: {PIN}",
            words_of(name)
        ),
    }
}

/// `CaUsedAsEndEntity` → `ca used as end entity`: an enum name made readable
/// for the rare cases without a sentence of their own.
fn words_of(name: &str) -> String {
    let name = name.split(['(', ' ', '{']).next().unwrap_or(name);
    let mut out = String::new();
    for c in name.chars() {
        if c.is_uppercase() && !out.is_empty() {
            out.push(' ');
        }
        out.extend(c.to_lowercase());
    }
    out
}

/// WebPKI lists a certificate's names as `DnsName("a.example")` and
/// `IpAddress(127.0.0.1)`; the names alone read better.
fn presented_names(presented: &[String]) -> Vec<String> {
    presented
        .iter()
        .filter_map(|p| {
            let inner = p.split_once('(')?.1.strip_suffix(')')?;
            Some(inner.trim_matches('"').to_string())
        })
        .collect()
}

fn date(t: &UnixTime) -> String {
    httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(t.as_secs()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::pki_types::ServerName;

    fn peer(ca: Option<&Path>) -> Peer<'_> {
        Peer {
            address: "db.example:8888".into(),
            ca,
        }
    }

    #[test]
    fn certificate_refusals_say_what_to_do() {
        let file = Path::new("/etc/dbdump/ssl.crt");
        let wrong_name = Error::InvalidCertificate(CertificateError::NotValidForNameContext {
            expected: ServerName::try_from("db.example").unwrap(),
            presented: vec![
                "DnsName(\"other.example\")".into(),
                "IpAddress(10.0.0.1)".into(),
            ],
        });
        let text = describe(&wrong_name, &peer(Some(file)));
        assert!(
            text.contains("is for other.example, 10.0.0.1, not db.example"),
            "{text}"
        );
        let expired = Error::InvalidCertificate(CertificateError::ExpiredContext {
            time: UnixTime::since_unix_epoch(Duration::from_secs(1_700_000_000)),
            not_after: UnixTime::since_unix_epoch(Duration::from_secs(1_580_515_200)),
        });
        let text = describe(&expired, &peer(Some(file)));
        assert!(
            text.contains("expired on Sat, 01 Feb 2020 00:00:00 GMT"),
            "{text}"
        );
        let unknown = Error::InvalidCertificate(CertificateError::UnknownIssuer);
        assert!(describe(&unknown, &peer(Some(file))).contains("/etc/dbdump/ssl.crt"));
        assert!(describe(&unknown, &peer(None)).contains("system's CA bundle"));
        let garbage = Error::InvalidMessage(rustls::InvalidMessage::InvalidContentType);
        assert!(describe(&garbage, &peer(None)).contains("does not answer in TLS"));
        let alert = Error::AlertReceived(rustls::AlertDescription::HandshakeFailure);
        assert!(describe(&alert, &peer(None)).contains("(handshake failure)"));
        for e in [wrong_name, expired, unknown, garbage, alert] {
            let text = describe(&e, &peer(Some(file)));
            for debug in ["{", "Other(", "Context", "DnsName", "InvalidCertificate"] {
                assert!(!text.contains(debug), "{debug:?} in {text:?}");
            }
        }
    }

    #[test]
    fn handshake_io_failures() {
        let eof = io::Error::from(io::ErrorKind::UnexpectedEof);
        let text = handshake_failure(&eof, &peer(None));
        assert!(
            text.contains("closed the connection during the TLS handshake"),
            "{text}"
        );
        let wrapped = io::Error::new(
            io::ErrorKind::InvalidData,
            Error::InvalidCertificate(CertificateError::UnknownIssuer),
        );
        assert!(handshake_failure(&wrapped, &peer(None)).contains("not signed by a CA"));
        assert_eq!(words_of("CaUsedAsEndEntity"), "ca used as end entity");
    }
}

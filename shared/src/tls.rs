//! rustls configuration from PEM files, with ring as the crypto provider (no
//! C toolchain beyond a plain cc is needed, also for ARM).

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ClientConfig, RootCertStore, ServerConfig};

use crate::pin::PinningVerifier;

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn read_certs(path: &Path, what: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let bytes =
        std::fs::read(path).map_err(|e| format!("cannot read {what} {}: {e}", path.display()))?;
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{what} {} is not valid PEM: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!(
            "{what} {} holds no PEM certificate",
            path.display()
        ));
    }
    Ok(certs)
}

/// Server side: certificate chain and private key (PKCS#8, PKCS#1 or SEC1).
pub fn server_config(cert: &Path, key: &Path) -> Result<Arc<ServerConfig>, String> {
    let chain = read_certs(cert, "certificate (--ssl-public-key)")?;
    let key_bytes = std::fs::read(key).map_err(|e| {
        format!(
            "cannot read private key (--ssl-private-key) {}: {e}",
            key.display()
        )
    })?;
    let key = PrivateKeyDer::from_pem_slice(&key_bytes).map_err(|e| {
        format!(
            "private key (--ssl-private-key) {} is not a PEM private key: {e}",
            key.display()
        )
    })?;
    let config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| format!("certificate and private key do not form a usable pair: {e}"))?;
    Ok(Arc::new(config))
}

/// System CA bundles of the common distributions, tried in order when no CA
/// file is given (and `SSL_CERT_FILE` is unset).
const SYSTEM_BUNDLES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/ssl/cert.pem",
];

/// Client side: with `ca`, trust only the certificates in that file, each
/// both pinned (see [`crate::pin`]) and as a root; else the system's CA
/// bundle, with full verification.
pub fn client_config(ca: Option<&Path>) -> Result<Arc<ClientConfig>, String> {
    let builder = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?;
    if let Some(path) = ca {
        let certs = read_certs(path, "CA certificate (--source-ssl-ca)")?;
        let verifier = PinningVerifier::new(certs, provider());
        let config = builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_no_client_auth();
        return Ok(Arc::new(config));
    }
    let env = std::env::var("SSL_CERT_FILE").ok();
    let path = env
        .as_deref()
        .into_iter()
        .chain(SYSTEM_BUNDLES.iter().copied())
        .map(Path::new)
        .find(|p| p.exists())
        .ok_or("no system CA bundle found; pass --source-ssl-ca FILE")?;
    let mut roots = RootCertStore::empty();
    for cert in read_certs(path, "system CA bundle")? {
        // A bundle may hold certificates rustls cannot use; skip those.
        let _ = roots.add(cert);
    }
    if roots.is_empty() {
        return Err(format!(
            "no usable CA certificate in the system CA bundle {}",
            path.display()
        ));
    }
    let config = builder.with_root_certificates(roots).with_no_client_auth();
    Ok(Arc::new(config))
}

/// Why a TLS client refused this server's certificate, when `e` (a read of
/// the request) is the alert it sent to say so.
pub fn refused_certificate(e: &std::io::Error) -> Option<&'static str> {
    use rustls::AlertDescription::*;
    let inner = e.get_ref()?.downcast_ref::<rustls::Error>()?;
    let rustls::Error::AlertReceived(alert) = inner else {
        return None;
    };
    Some(match alert {
        UnknownCA => "it trusts neither this certificate nor its issuer",
        CertificateExpired => "it finds the certificate expired or not yet valid",
        BadCertificate | UnsupportedCertificate | CertificateUnknown | CertificateRevoked => {
            "it does not accept the certificate, e.g. for a CA certificate or another host name"
        }
        _ => return None,
    })
}

/// A TCP stream, with or without TLS, used by both sides (`C` is rustls'
/// `ServerConnection` or `ClientConnection`).
pub enum MaybeTls<C> {
    Plain(std::net::TcpStream),
    Tls(Box<rustls::StreamOwned<C, std::net::TcpStream>>),
}

impl<C, S> MaybeTls<C>
where
    C: std::ops::DerefMut + std::ops::Deref<Target = rustls::ConnectionCommon<S>>,
    S: rustls::SideData,
{
    pub fn tcp(&self) -> &std::net::TcpStream {
        match self {
            MaybeTls::Plain(s) => s,
            MaybeTls::Tls(s) => s.get_ref(),
        }
    }
}

impl<C, S> std::io::Read for MaybeTls<C>
where
    C: std::ops::DerefMut + std::ops::Deref<Target = rustls::ConnectionCommon<S>>,
    S: rustls::SideData,
{
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            MaybeTls::Plain(s) => s.read(buf),
            MaybeTls::Tls(s) => s.read(buf),
        }
    }
}

impl<C, S> std::io::Write for MaybeTls<C>
where
    C: std::ops::DerefMut + std::ops::Deref<Target = rustls::ConnectionCommon<S>>,
    S: rustls::SideData,
{
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            MaybeTls::Plain(s) => s.write(buf),
            MaybeTls::Tls(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            MaybeTls::Plain(s) => s.flush(),
            MaybeTls::Tls(s) => s.flush(),
        }
    }
}

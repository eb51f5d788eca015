//! Certificates for the TLS tests, made with `openssl` the ways users make
//! them: exactly as the original dbdump's `genkey` did (self-signed, the
//! OpenSSL defaults: `CA:TRUE`, a CN and no subjectAltName), and server
//! certificates signed by such a certificate acting as a small private CA,
//! with chosen names and dates. Each set lives in its own temporary
//! directory, removed when dropped.

use std::path::PathBuf;
use std::process::{Command, Stdio};

use crate::unique_name;

pub struct CertDir(PathBuf);

impl CertDir {
    pub fn new(prefix: &str) -> CertDir {
        let dir = std::env::temp_dir().join(unique_name(prefix));
        std::fs::create_dir_all(&dir).expect("cannot create a certificate directory");
        CertDir(dir)
    }

    /// The path of `file` in this directory, as a string for command lines.
    pub fn path(&self, file: &str) -> String {
        let path = self.0.join(file);
        path.to_str().expect("UTF-8 temp path").to_string()
    }

    /// Runs `openssl args` in this directory; panics with its stderr.
    pub fn openssl(&self, args: &[&str]) -> String {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(&self.0)
            .stdin(Stdio::null())
            .output()
            .expect("cannot run openssl");
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            text(&out.stderr)
        );
        text(&out.stdout)
    }

    /// `<name>.key` and `<name>.crt` made by the original's `genkey` command
    /// line, answering its questions with `-subj /CN=<cn>`.
    pub fn genkey(&self, name: &str, cn: &str) {
        let (key, crt, subject) = (
            format!("{name}.key"),
            format!("{name}.crt"),
            format!("/CN={cn}"),
        );
        self.openssl(&[
            "req", "-nodes", "-new", "-x509", "-keyout", &key, "-out", &crt, "-subj", &subject,
            "-days", "365",
        ]);
    }

    /// `<name>.key` and `<name>.crt`: a server certificate (`CA:FALSE`)
    /// for the names in `san` (`IP:127.0.0.1,DNS:x`), signed by the
    /// certificate `<ca>.crt` and its key, valid between `dates` (OpenSSL's
    /// `YYYYMMDDHHMMSSZ`) or for 30 days from now.
    pub fn sign(&self, ca: &str, name: &str, san: &str, dates: Option<(&str, &str)>) {
        let (key, csr, crt) = (
            format!("{name}.key"),
            format!("{name}.csr"),
            format!("{name}.crt"),
        );
        let subject = format!("/CN={name}");
        self.openssl(&[
            "req", "-nodes", "-new", "-keyout", &key, "-out", &csr, "-subj", &subject,
        ]);
        // `openssl ca` (unlike `x509 -req`) can set both dates.
        let config = format!(
            "[ca]\ndefault_ca = d\n[d]\ndatabase = {ca}.index\nnew_certs_dir = .\n\
             serial = {ca}.serial\ndefault_md = sha256\npolicy = p\nunique_subject = no\n\
             [p]\ncommonName = supplied\n[leaf]\nsubjectAltName = {san}\n\
             basicConstraints = CA:FALSE\nextendedKeyUsage = serverAuth\n"
        );
        let write = |file: &str, text: &str| {
            std::fs::write(self.0.join(file), text).expect("cannot write a CA file")
        };
        write(&format!("{name}.cnf"), &config);
        if !self.0.join(format!("{ca}.serial")).exists() {
            write(&format!("{ca}.index"), "");
            write(&format!("{ca}.serial"), "01\n");
        }
        let (ca_crt, ca_key, cnf) = (
            format!("{ca}.crt"),
            format!("{ca}.key"),
            format!("{name}.cnf"),
        );
        let mut args = vec![
            "ca",
            "-batch",
            "-notext",
            "-config",
            &cnf,
            "-extensions",
            "leaf",
            "-cert",
            &ca_crt,
            "-keyfile",
            &ca_key,
            "-in",
            &csr,
            "-out",
            &crt,
        ];
        match dates {
            Some((start, end)) => args.extend(["-startdate", start, "-enddate", end]),
            None => args.extend(["-days", "30"]),
        }
        self.openssl(&args);
    }

    /// `openssl x509 -text` of `<name>.crt`.
    pub fn text(&self, name: &str) -> String {
        self.openssl(&["x509", "-noout", "-text", "-in", &format!("{name}.crt")])
    }

    /// dbd_server's flags to serve HTTPS with `<name>.crt` and `<name>.key`.
    pub fn server_args(&self, name: &str) -> Vec<String> {
        vec![
            "--listen-ssl".into(),
            "--ssl-public-key".into(),
            self.path(&format!("{name}.crt")),
            "--ssl-private-key".into(),
            self.path(&format!("{name}.key")),
        ]
    }
}

impl Drop for CertDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A rustls client session for 127.0.0.1 that trusts only the PEM
/// certificates in `ca`: a plain TLS client, for talking to dbd_server by
/// hand.
pub fn tls_client(ca: &str) -> rustls::ClientConnection {
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls::pki_types::CertificateDer::pem_file_iter(ca).expect("read PEM") {
        roots
            .add(cert.expect("PEM certificate"))
            .expect("usable certificate");
    }
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").expect("server name");
    rustls::ClientConnection::new(std::sync::Arc::new(config), name).expect("TLS session")
}

//! HTTPS between the real binaries with the certificates users have:
//! the original dbdump's `genkey` certificate (self-signed, `CA:TRUE`, no
//! subjectAltName) pinned with `--source-ssl-ca`, CA-signed certificates
//! that still get full verification (host name, dates, issuer), and every
//! TLS failure told in words that say what to do.

use std::net::TcpListener;

use dbdump_tests::certs::CertDir;
use dbdump_tests::messages::{assert_fails_in_words, assert_in_words};
use dbdump_tests::*;

/// A source database with table `t` (two old rows) and the same, empty,
/// table on the destination; returns its name.
fn synced_db(prefix: &str) -> String {
    let (src, dst) = pair();
    let db = unique_name(prefix);
    src.exec(&format!(
        "CREATE DATABASE {0}; USE {0};
         CREATE TABLE t (id INT PRIMARY KEY, a VARCHAR(20),
           ts TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP);
         INSERT INTO t VALUES (1, 'one', '2020-01-01 00:00:00'), (2, 'two', '2020-01-02 00:00:00');",
        ident(&db)
    ));
    copy_schema(src, &db, dst, &db);
    db
}

/// dbd_server for `db` over HTTPS with `<name>.crt`/`<name>.key` of `certs`.
fn https_server(certs: &CertDir, name: &str, db: &str) -> Server {
    let mut args = certs.server_args(name);
    args.extend(["--source-databases".into(), db.into()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    Server::start(&pair().0, &args)
}

/// One puller pass of `db` from the server on `port`, with `extra` flags.
fn pull(port: u16, db: &str, extra: &[&str]) -> PullerRun {
    puller(port, &pair().1, db, db, extra)
}

#[test]
fn a_certificate_made_by_the_original_genkey_is_pinned_and_syncs() {
    let certs = CertDir::new("genkey");
    certs.genkey("ssl", "somehost");
    let text = certs.text("ssl");
    assert!(
        text.contains("CA:TRUE"),
        "genkey makes a CA certificate:\n{text}"
    );
    assert!(
        !text.contains("Subject Alternative Name"),
        "genkey names no host:\n{text}"
    );
    let db = synced_db("tls_genkey");
    let server = https_server(&certs, "ssl", &db);
    let run = pull(
        server.port,
        &db,
        &["--source-ssl-ca", &certs.path("ssl.crt")],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_same(&pair().0, &db, &pair().1, &db, &["t"]);

    // OpenSSL 1.x, current when the original was, wrote the key as PKCS#1
    // ("BEGIN RSA PRIVATE KEY"): such a key is served as it is too.
    let pkcs1 = certs.openssl(&["rsa", "-in", "ssl.key", "-traditional"]);
    assert!(pkcs1.contains("BEGIN RSA PRIVATE KEY"), "{pkcs1}");
    std::fs::write(certs.path("old.key"), pkcs1).expect("write old.key");
    std::fs::copy(certs.path("ssl.crt"), certs.path("old.crt")).expect("copy ssl.crt");
    let old = https_server(&certs, "old", &db);
    let run = pull(old.port, &db, &["--source-ssl-ca", &certs.path("ssl.crt")]);
    assert_eq!(run.code, 0, "{}", run.stderr);
}

#[test]
fn a_wrong_pinned_certificate_is_refused_in_words() {
    let certs = CertDir::new("wrongpin");
    certs.genkey("ssl", "somehost");
    certs.genkey("other", "somehost");
    let db = synced_db("tls_wrongpin");
    let server = https_server(&certs, "ssl", &db);
    let address = format!("127.0.0.1:{}", server.port);
    let other = certs.path("other.crt");
    let run = pull(server.port, &db, &["--source-ssl-ca", &other]);
    let needles = [address.as_str(), "CA certificate", "not the one in", &other];
    assert_fails_in_words(&run, &needles);
    assert_eq!(count(&pair().1, &db, "t"), 0, "nothing may arrive");
    let log = server.log_text();
    assert!(log.contains("refused this server's certificate"), "{log}");
    assert_in_words(&log);

    // Trusting the system's CA bundle (here: the other certificate), the
    // server's own is no better.
    let out = puller_command(server.port, &pair().1, &db, &db, &["--source-ssl"])
        .env("SSL_CERT_FILE", &other)
        .output()
        .expect("run dbd_puller");
    let run = PullerRun {
        code: out.status.code().unwrap_or(-1),
        stdout: String::new(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    assert_fails_in_words(&run, &["system's CA bundle", "--source-ssl-ca"]);
}

#[test]
fn a_ca_signed_certificate_still_gets_host_name_verification() {
    let certs = CertDir::new("casigned");
    certs.genkey("ca", "Test CA");
    certs.sign("ca", "leaf", "IP:127.0.0.1", None);
    let db = synced_db("tls_casigned");
    let server = https_server(&certs, "leaf", &db);
    let ca = certs.path("ca.crt");
    let run = pull(server.port, &db, &["--source-ssl-ca", &ca]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_same(&pair().0, &db, &pair().1, &db, &["t"]);

    // The same server under a name its certificate does not carry.
    let wrong_host = ["--source-ssl-ca", &ca, "--source-host", "localhost"];
    let run = pull(server.port, &db, &wrong_host);
    assert_fails_in_words(&run, &["is for 127.0.0.1, not localhost", "--source-host"]);

    // Pinning the server's own certificate trusts it under any name.
    let leaf = certs.path("leaf.crt");
    let run = pull(
        server.port,
        &db,
        &["--source-ssl-ca", &leaf, "--source-host", "localhost"],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
}

#[test]
fn expired_and_unknown_issuer_certificates_are_refused_in_words() {
    let certs = CertDir::new("badcerts");
    certs.genkey("ca", "Test CA");
    certs.genkey("rogue", "Rogue CA");
    certs.sign(
        "ca",
        "old",
        "IP:127.0.0.1",
        Some(("20200101000000Z", "20200201000000Z")),
    );
    certs.sign("rogue", "stranger", "IP:127.0.0.1", None);
    let db = synced_db("tls_badcerts");
    let ca = certs.path("ca.crt");

    let expired = https_server(&certs, "old", &db);
    let run = pull(expired.port, &db, &["--source-ssl-ca", &ca]);
    assert_fails_in_words(
        &run,
        &["expired on Sat, 01 Feb 2020 00:00:00 GMT", "new one"],
    );

    let stranger = https_server(&certs, "stranger", &db);
    let run = pull(stranger.port, &db, &["--source-ssl-ca", &ca]);
    assert_fails_in_words(
        &run,
        &["neither the one in", "nor signed by a CA in it", &ca],
    );
    assert_eq!(count(&pair().1, &db, "t"), 0, "nothing may arrive");
}

#[test]
fn tls_and_plain_http_mismatches_are_explained() {
    let certs = CertDir::new("mismatch");
    certs.genkey("ssl", "somehost");
    let crt = certs.path("ssl.crt");
    let db = synced_db("tls_mismatch");

    // TLS to a plain dbd_server: it answers in plain HTTP at once.
    let plain = Server::start(&pair().0, &["--source-databases", &db]);
    let run = pull(plain.port, &db, &["--source-ssl-ca", &crt]);
    assert_fails_in_words(&run, &["does not answer in TLS", "drop --source-ssl"]);
    assert!(
        plain.log_text().lines().all(|l| !l.contains(" ERROR ")),
        "{}",
        plain.log_text()
    );

    // Plain HTTP to an HTTPS dbd_server.
    let https = https_server(&certs, "ssl", &db);
    let run = pull(https.port, &db, &[]);
    assert_fails_in_words(&run, &["HTTPS only", "--source-ssl"]);

    // TLS to something that is no web server at all: the source MariaDB.
    let run = pull(pair().0.port, &db, &["--source-ssl-ca", &crt]);
    assert_fails_in_words(&run, &["does not answer in TLS"]);

    // A server that hangs up in the middle of the handshake.
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("address").port();
    let hang_up = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().expect("accept");
        let mut hello = [0u8; 512];
        let _ = std::io::Read::read(&mut conn, &mut hello);
    });
    let run = pull(port, &db, &["--source-ssl-ca", &crt]);
    hang_up.join().expect("listener thread");
    assert_fails_in_words(&run, &["closed the connection during the TLS handshake"]);
    assert_in_words(&https.log_text());
}

//! dbd_puller through a real HTTP proxy (tinyproxy): absolute-form requests
//! for plain HTTP, a CONNECT tunnel for HTTPS with the certificate checked
//! end to end, Basic credentials from the proxy URL and never in a log,
//! curl's environment variables and no_proxy rules, `--source-proxy`
//! winning over them, and refusals (407, 403, 502, nobody listening) told
//! in one line that names the proxy.

use dbdump_tests::edge::tinyproxy::Tinyproxy;
use dbdump_tests::edge::{sakila_pair, Certificate, SAKILA_TABLES};
use dbdump_tests::*;

const USER: &str = "sync-proxy";
const PASSWORD: &str = "pr0xy-S3cret";

/// How a one-shot puller ended: exit code and stderr.
fn pull(port: u16, db: &str, copy: &str, args: &[&str], env: &[(&str, &str)]) -> (i32, String) {
    let out = puller_command(port, &pair().1, db, copy, args)
        .envs(env.iter().copied())
        .output()
        .expect("run dbd_puller");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    (out.status.code().unwrap_or(-1), stderr)
}

/// A proxy URL nobody listens on.
fn dead_proxy() -> String {
    format!("http://127.0.0.1:{}", free_port())
}

#[test]
fn plain_http_goes_through_the_proxy_in_absolute_form() {
    let (src, dst) = pair();
    let (db, copy) = sakila_pair("proxy_plain");
    let proxy = Tinyproxy::start(&format!("BasicAuth {USER} {PASSWORD}"));
    let server = Server::start(src, &["--source-databases", &db]);
    let url = proxy.url_with(USER, PASSWORD);
    let (code, stderr) = pull(server.port, &db, &copy, &["-d"], &[("http_proxy", &url)]);
    assert_eq!(code, 0, "{stderr}\nproxy log:\n{}", proxy.log_text());
    assert_same(src, &db, dst, &copy, SAKILA_TABLES);
    let prefix = format!("GET http://127.0.0.1:{}/{db}/", server.port);
    let through: Vec<String> = proxy
        .requests()
        .into_iter()
        .filter(|r| r.starts_with(&prefix))
        .collect();
    assert_eq!(
        through.len(),
        2 + SAKILA_TABLES.len(),
        "the listing, the changes question and every table: {through:#?}"
    );
    assert!(
        stderr.contains(&format!("through proxy {} (from http_proxy)", proxy.url())),
        "{stderr}"
    );
    assert!(!stderr.contains(PASSWORD), "{stderr}");
}

#[test]
fn https_goes_through_a_connect_tunnel_and_checks_the_certificate_end_to_end() {
    let (src, dst) = pair();
    let (db, copy) = sakila_pair("proxy_tls");
    let proxy = Tinyproxy::start(&format!("BasicAuth {USER} {PASSWORD}"));
    let cert = Certificate::new();
    let server = cert.server(src, &["--source-databases", &db]);
    let url = proxy.url_with(USER, PASSWORD);
    let (ca, other) = (cert.crt(), Certificate::new());
    let other_ca = other.crt();
    let run = |ca: &str, env: &[(&str, &str)]| {
        pull(server.port, &db, &copy, &["--source-ssl-ca", ca], env)
    };
    let (code, stderr) = run(&ca, &[("https_proxy", &url)]);
    assert_eq!(code, 0, "{stderr}\nproxy log:\n{}", proxy.log_text());
    assert_same(src, &db, dst, &copy, SAKILA_TABLES);
    let tunnel = format!("CONNECT 127.0.0.1:{} HTTP/1.1", server.port);
    let tunnels = || proxy.requests().iter().filter(|r| **r == tunnel).count();
    assert_eq!(
        tunnels(),
        2 + SAKILA_TABLES.len(),
        "the listing, the changes question and every table: {:#?}",
        proxy.requests()
    );
    assert!(
        proxy.requests().iter().all(|r| r.starts_with("CONNECT ")),
        "nothing in the clear: {:#?}",
        proxy.requests()
    );

    // The proxy only carries bytes: a puller that trusts another
    // certificate refuses the server's, through the same tunnel.
    let (code, stderr) = run(&other_ca, &[("HTTPS_PROXY", &url)]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.to_lowercase().contains("certificate"), "{stderr}");
    assert_eq!(tunnels(), 3 + SAKILA_TABLES.len());

    // http_proxy is for plain HTTP only, as in curl.
    let dead = dead_proxy();
    let (code, stderr) = run(&ca, &[("http_proxy", &dead)]);
    assert_eq!(code, 0, "{stderr}");
}

#[test]
fn no_proxy_bypasses_it_and_source_proxy_wins_over_the_environment() {
    let (src, _) = pair();
    let (db, copy) = sakila_pair("proxy_rules");
    let proxy = Tinyproxy::start("");
    let server = Server::start(src, &["--source-databases", &db]);
    let dead = dead_proxy();
    let run = |args: &[&str], env: &[(&str, &str)]| pull(server.port, &db, &copy, args, env);

    let (code, stderr) = run(&[], &[("http_proxy", &dead)]);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains(&format!("cannot connect to proxy {dead}")),
        "{stderr}"
    );
    for no_proxy in [
        ("no_proxy", "localhost,127.0.0.1"),
        ("NO_PROXY", ".example, 127.0.0.0/8"),
    ] {
        let (code, stderr) = run(&[], &[("http_proxy", &dead), no_proxy]);
        assert_eq!(code, 0, "{no_proxy:?}: {stderr}");
    }
    let (code, stderr) = run(&[], &[("HTTP_PROXY", &dead)]);
    assert_eq!(code, 0, "HTTP_PROXY is ignored, as curl does: {stderr}");
    assert!(proxy.requests().is_empty(), "{:#?}", proxy.requests());

    // The flag (or its variable) wins over every proxy variable, no_proxy
    // included; `direct` means no proxy at all.
    let env = [("http_proxy", dead.as_str()), ("no_proxy", "*")];
    let (code, stderr) = run(&["--source-proxy", &proxy.url()], &env);
    assert_eq!(code, 0, "{stderr}");
    let used = proxy.requests().len();
    assert!(used > 0, "{}", proxy.log_text());
    let env = [
        ("http_proxy", dead.as_str()),
        ("DBD_SOURCE_PROXY", &proxy.url()),
    ];
    let (code, stderr) = run(&[], &env);
    assert_eq!(code, 0, "{stderr}");
    assert!(proxy.requests().len() > used);
    let (code, stderr) = run(&["--source-proxy", "direct"], &[("http_proxy", &dead)]);
    assert_eq!(code, 0, "{stderr}");
}

#[test]
fn a_proxy_that_refuses_is_named_in_one_line() {
    let (src, _) = pair();
    let (db, copy) = sakila_pair("proxy_refusals");
    let plain = Server::start(src, &["--source-databases", &db]);
    let cert = Certificate::new();
    let tls = cert.server(src, &["--source-databases", &db]);
    let ca = cert.crt();
    let upstream_gone = format!(
        "Upstream http {}",
        dead_proxy().trim_start_matches("http://")
    );
    let auth = format!("BasicAuth {USER} {PASSWORD}");
    let wrong = "not-the-password";
    // (tinyproxy configuration, HTTPS?, password in the URL, what the line says)
    #[rustfmt::skip]
    let cases: &[(&str, bool, Option<&str>, &str)] = &[
        (&auth, false, None, "requires credentials (407 Proxy Authentication Required)"),
        (&auth, true, None, "requires credentials (407 Proxy Authentication Required)"),
        // tinyproxy answers wrong credentials with 401.
        (&auth, false, Some(wrong), "rejected the credentials in its URL (401 Unauthorized)"),
        (&auth, true, Some(wrong), "rejected the credentials in its URL (401 Unauthorized)"),
        ("Allow 127.0.0.2", false, None, "does not allow connections to 127.0.0.1:PORT (403 Access denied)"),
        ("ConnectPort 443", true, None, "does not allow connections to 127.0.0.1:PORT (403 Access violation)"),
        (&upstream_gone, false, None, "could not reach 127.0.0.1:PORT (502 Unable to connect to upstream proxy)"),
        (&upstream_gone, true, None, "could not reach 127.0.0.1:PORT (502 Unable to connect to upstream proxy)"),
    ];
    for &(config, https, password, says) in cases {
        let proxy = Tinyproxy::start(config);
        let url = password.map_or_else(|| proxy.url(), |p| proxy.url_with(USER, p));
        let (port, variable) = if https {
            (tls.port, "https_proxy")
        } else {
            (plain.port, "http_proxy")
        };
        let mut args = vec!["-d"];
        if https {
            args.extend(["--source-ssl-ca", &ca]);
        }
        let (code, stderr) = pull(port, &db, &copy, &args, &[(variable, &url)]);
        let case = format!("{config} / https {https} / password {password:?}");
        assert_eq!(code, 1, "{case}: {stderr}");
        let errors: Vec<&str> = stderr.lines().filter(|l| l.contains(" ERROR ")).collect();
        assert_eq!(errors.len(), 1, "{case}: {stderr}");
        let expected = format!(
            "proxy {} {}",
            proxy.url(),
            says.replace("PORT", &port.to_string())
        );
        assert!(
            errors[0].contains(&expected),
            "{case}: wanted {expected:?} in\n{stderr}"
        );
        assert!(!errors[0].contains("dbd_server"), "{case}: {stderr}");
        assert!(
            !stderr.contains(wrong) && !stderr.contains(PASSWORD),
            "{case}: {stderr}"
        );
    }
}

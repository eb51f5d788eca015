//! Exit codes outside usage errors: 1 when the source database, the port
//! or the server is unavailable (with one ERROR line naming it), 0 on
//! SIGTERM and after a one-shot sync.

use std::net::TcpListener;
use std::time::Duration;

use dbdump_tests::*;

use crate::common::*;

#[test]
fn server_exits_1_when_the_source_database_is_unreachable() {
    let dead = free_port();
    let args = format!(
        "-a 127.0.0.1 -P {} --source-host 127.0.0.1 --source-port {dead} --source-username root",
        free_port()
    );
    let r = run("dbd_server", &args.split(' ').collect::<Vec<_>>(), &[]);
    assert_eq!(r.code, Some(1), "{r:?}");
    assert!(r.elapsed < Duration::from_secs(15), "took {:?}", r.elapsed);
    let errors: Vec<&str> = r.stderr.lines().filter(|l| l.contains(" ERROR ")).collect();
    assert_eq!(errors.len(), 1, "{}", r.stderr);
    assert!(
        errors[0].contains("cannot connect to the source database")
            && errors[0].contains(&format!("127.0.0.1:{dead}")),
        "{}",
        errors[0]
    );
}

#[test]
fn server_exits_1_when_its_port_is_taken() {
    let taken = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").port();
    let args = format!(
        "-a 127.0.0.1 -P {port} --source-host 127.0.0.1 --source-port {} --source-username root",
        pair().0.port
    );
    let r = run("dbd_server", &args.split(' ').collect::<Vec<_>>(), &[]);
    assert_eq!(r.code, Some(1), "{r:?}");
    assert!(
        r.stderr
            .contains(&format!("cannot listen on 127.0.0.1:{port}")),
        "{}",
        r.stderr
    );
}

#[test]
fn server_exits_0_on_sigterm() {
    let mut server = Server::start(&pair().0, &[]);
    assert_eq!(http_get(server.port, "/", &[]).0, 200);
    let status = server.stop();
    assert_eq!(status.code(), Some(0), "{}", server.log_text());
    assert!(
        server.log_text().contains(" INFO stopped"),
        "{}",
        server.log_text()
    );
}

#[test]
fn puller_exits_1_when_the_server_is_unreachable() {
    let p = puller_base();
    let port = &p[p.iter().position(|a| a == "--source-port").expect("port") + 1];
    let r = run("dbd_puller", &with(&p, &[]), &[]);
    assert_eq!(r.code, Some(1), "{r:?}");
    assert!(r.elapsed < Duration::from_secs(10), "took {:?}", r.elapsed);
    let errors: Vec<&str> = r.stderr.lines().filter(|l| l.contains(" ERROR ")).collect();
    assert_eq!(errors.len(), 1, "{}", r.stderr);
    assert!(
        errors[0].contains("unreachable") && errors[0].contains(&format!("127.0.0.1:{port}")),
        "{}",
        errors[0]
    );
}

#[test]
fn puller_one_shot_exits_0_after_syncing() {
    let (src, dst) = pair();
    let db = source_db("cli_oneshot");
    copy_schema(src, &db, dst, &db);
    let server = Server::start(src, &[]);
    let first = puller(server.port, dst, &db, &db, &[]);
    assert_eq!(first.code, 0, "{}", first.stderr);
    assert!(
        first.stderr.contains("table `t`: 2 rows applied"),
        "{}",
        first.stderr
    );
    assert!(
        first.stderr.contains("table `u`: 2 rows applied"),
        "{}",
        first.stderr
    );
    assert_same(src, &db, dst, &db, &["t", "u"]);
    // Nothing new: still success, nothing applied.
    let again = puller(server.port, dst, &db, &db, &[]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert!(
        again.stderr.contains("table `t`: 0 rows applied"),
        "{}",
        again.stderr
    );
}

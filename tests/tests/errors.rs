//! Database errors as users meet them, in words and never as the driver's
//! Debug form: a source or destination that is down or refuses the account,
//! a source that goes away under a running server (its log and HTTP error
//! body), a row the destination refuses; and
//! `--ignore-database-errors`, which skips only a table the destination
//! refuses.

use std::process::{Command, Stdio};
use std::time::Duration;

use dbdump_tests::messages::{assert_fails_in_words, assert_in_words, run_to_end};
use dbdump_tests::*;

/// A source database with tables `good` and `bad` (two rows each, names
/// up to 20 characters), and the destination copy in which `bad.name` holds
/// only 2 characters: its rows are refused (strict mode: data too long).
fn one_bad_table(prefix: &str) -> (String, Server) {
    let (src, dst) = pair();
    let db = unique_name(prefix);
    let table = |name: &str, width: u32| {
        format!(
            "CREATE TABLE {name} (id INT PRIMARY KEY, name VARCHAR({width}),
               ts TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP);"
        )
    };
    let rows = "VALUES (1, 'one', '2020-01-01 00:00:00'), (2, 'three', '2020-01-02 00:00:00')";
    src.exec(&format!(
        "CREATE DATABASE {0}; USE {0}; {1} {2}
         INSERT INTO good {rows}; INSERT INTO bad {rows};",
        ident(&db),
        table("good", 20),
        table("bad", 20)
    ));
    dst.exec(&format!(
        "CREATE DATABASE {0}; USE {0}; {1} {2}",
        ident(&db),
        table("good", 20),
        table("bad", 2)
    ));
    let server = Server::start(src, &["--source-databases", &db]);
    (db, server)
}

/// `dbd_server` for the shared source with `extra` flags, which must fail
/// to start.
fn server_that_fails(extra: &[&str]) -> PullerRun {
    let port = free_port().to_string();
    let mut cmd = clean_command(bin("dbd_server"));
    cmd.args(["-a", "127.0.0.1", "-P", &port, "--source-host", "127.0.0.1"])
        .args(extra);
    run_to_end(&mut cmd, Duration::from_secs(30))
}

#[test]
fn a_source_that_is_down_or_refuses_the_account_stops_the_server_in_words() {
    let down = free_port().to_string();
    let run = server_that_fails(&["--source-port", &down, "--source-username", "root"]);
    let refused = format!("connection refused by 127.0.0.1:{down}");
    assert_fails_in_words(&run, &["cannot connect to the source database", &refused]);

    let src = pair().0.port.to_string();
    let nobody = unique_name("nobody");
    let args = [
        "--source-port",
        &src,
        "--source-username",
        &nobody,
        "--source-password",
        "x",
    ];
    let run = server_that_fails(&args);
    let needles = [
        "ERROR 1045 (28000): Access denied",
        "check the user name and password",
    ];
    assert_fails_in_words(&run, &needles);
}

#[test]
fn a_destination_that_is_down_or_refuses_the_account_fails_the_puller_in_words() {
    let (db, server) = one_bad_table("err_dest");
    let down = free_port().to_string();
    let run = puller(server.port, &pair().1, &db, &db, &["--dest-port", &down]);
    let refused = format!("connection refused by 127.0.0.1:{down}");
    assert_fails_in_words(
        &run,
        &["cannot connect to the destination database", &refused],
    );

    let nobody = unique_name("nobody");
    let run = puller(
        server.port,
        &pair().1,
        &db,
        &db,
        &["--dest-username", &nobody],
    );
    assert_fails_in_words(&run, &["ERROR 1045 (28000): Access denied", &nobody]);

    // Ignoring database errors does not hide an unreachable destination.
    let args = ["--dest-port", &down, "--ignore-database-errors"];
    let run = puller(server.port, &pair().1, &db, &db, &args);
    assert_fails_in_words(&run, &["connection refused"]);
}

#[test]
fn a_row_the_destination_refuses_names_the_table_and_the_server_error() {
    let (db, server) = one_bad_table("err_write");
    let run = puller(server.port, &pair().1, &db, &db, &[]);
    let needles = [
        "writing 2 rows to destination table `bad`",
        "ERROR 1406 (22001): Data too long for column 'name' at row",
        "1 of 2 tables failed",
    ];
    assert_fails_in_words(&run, &needles);
    assert_same(&pair().0, &db, &pair().1, &db, &["good"]);
    assert_in_words(&server.log_text());
}

#[test]
fn ignore_database_errors_skips_the_refused_table_and_exits_0() {
    let (db, server) = one_bad_table("err_ignore");
    let flag = ["--ignore-database-errors"];
    let run = puller(server.port, &pair().1, &db, &db, &flag);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("WARN table `bad` skipped (--ignore-database-errors): writing 2 rows"),
        "{}",
        run.stderr
    );
    assert_in_words(&run.stderr);
    assert_same(&pair().0, &db, &pair().1, &db, &["good"]);
    assert_eq!(count(&pair().1, &db, "bad"), 0);

    // Polling: the refused table is tried every pass, without backing off.
    let mut child = spawn(
        puller_command(server.port, &pair().1, &db, &db, &flag)
            .args(["--poll-interval", "0.1"])
            .stderr(Stdio::piped()),
    );
    std::thread::sleep(Duration::from_millis(1500));
    let pid = child.id().to_string();
    Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .expect("kill");
    let mut status = None;
    wait_until(
        "SIGINT did not stop polling",
        Duration::from_secs(10),
        || {
            status = child.try_wait().expect("wait");
            status.is_some()
        },
    );
    let mut stderr = String::new();
    let pipe = child.stderr.take().expect("stderr");
    std::io::Read::read_to_string(&mut { pipe }, &mut stderr).expect("read stderr");
    assert_eq!(status.and_then(|s| s.code()), Some(0), "{stderr}");
    let skips = stderr.matches("table `bad` skipped").count();
    assert!(skips >= 5, "tried every 0.1 s, not backing off:\n{stderr}");
    assert!(!stderr.contains("next attempt in"), "{stderr}");
}

#[test]
fn a_source_that_goes_away_is_said_in_words_in_the_answer_and_the_log() {
    let src = Sandbox::start("gone-src", None);
    let db = unique_name("err_gone");
    src.exec(&format!(
        "CREATE DATABASE {0}; USE {0}; CREATE TABLE t (id INT PRIMARY KEY,
           ts TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP)",
        ident(&db)
    ));
    let server = Server::start(&src, &["--source-databases", &db]);
    src.stop();
    let (status, _, body) = http_get(server.port, &format!("/{db}/"), &[]);
    assert_eq!(status, 503, "{body}");
    let error: serde_json::Value = serde_json::from_str(&body).expect("JSON error body");
    let message = error["error"].as_str().expect("error message");
    assert!(
        message.starts_with("source database unavailable"),
        "{message}"
    );
    assert_in_words(message);
    // (A puller relays that message, after retrying the 503 for a minute.)
    assert_in_words(&server.log_text());
}

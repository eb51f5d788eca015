//! For people and monitors: progress lines for a long table sync and none
//! for a short one; `--status-file` always whole JSON, even after a SIGKILL
//! at a random moment, telling a failing table; `--metrics-file` in valid
//! Prometheus text (a strict parser here, and `promtool check metrics`
//! where Debian's prometheus package can provide it).

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use dbdump_tests::*;

const TABLE: &str = "(id INT PRIMARY KEY, v VARCHAR(40) NOT NULL,
    ts TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3), KEY (ts))";

/// A source database with tables `big` (`big_rows` rows) and `small`, both
/// with past timestamps, their copies, and a server.
fn setup(prefix: &str, big_rows: u32, extra_ddl: &str) -> (String, String, Server) {
    setup_pair(
        prefix,
        &format!(
            "CREATE TABLE big {TABLE}; CREATE TABLE small {TABLE};
             INSERT INTO big SELECT seq, MD5(seq), '2020-01-01' + INTERVAL seq SECOND FROM seq_1_to_{big_rows};
             INSERT INTO small SELECT seq, 'x', '2020-01-01' FROM seq_1_to_5; {extra_ddl}"
        ),
    )
}

fn scratch(name: &str) -> PathBuf {
    let dir = workspace_root()
        .join("target/test-sandboxes")
        .join(unique_name(name));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

#[test]
fn progress_lines_for_a_long_table_and_not_for_a_short_one() {
    let (src, dst) = pair();
    let (db, copy, server) = setup("progress", 200_000, "");
    let run = puller(
        server.port,
        dst,
        &db,
        &copy,
        &["--progress-interval", "0.2"],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let lines: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.contains("progress `"))
        .collect();
    assert!(
        lines.iter().any(|l| l.contains("progress `big`: ")),
        "{}",
        run.stderr
    );
    assert!(
        !lines.iter().any(|l| l.contains("`small`")),
        "{}",
        run.stderr
    );
    let line = lines[0];
    assert!(
        line.contains(" of about ") && line.contains(" %) in ") && line.contains(" rows/s, about "),
        "rows, estimated total, percent, rate, time left: {line}"
    );
    let summary = run
        .stderr
        .lines()
        .find(|l| l.contains("table `big`: "))
        .expect("summary");
    assert!(
        summary.contains("200000 rows applied in ")
            && summary.contains(" bytes read; complete to ")
            && summary.contains(" UTC, lag "),
        "{summary}"
    );
    assert_same(src, &db, dst, &copy, &["big", "small"]);

    // On a terminal (`script` gives it one): one line redrawn in place,
    // cleared before the summary.
    let tty_copy = format!("{copy}_tty");
    copy_schema(src, &db, dst, &tty_copy);
    let command = puller_command(
        server.port,
        dst,
        &db,
        &tty_copy,
        &["--progress-interval", "0.2"],
    );
    let line: Vec<String> = std::iter::once(command.get_program())
        .chain(command.get_args())
        .map(|a| format!("'{}'", a.to_string_lossy()))
        .collect();
    let out = Command::new("script")
        .args(["-qefc", &line.join(" "), "/dev/null"])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .stdin(Stdio::null())
        .output()
        .expect("script runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("\rprogress `big`: "), "{text}");
    assert!(text.contains("\r\x1b[K"), "the line is cleared: {text}");
    assert!(
        !text.contains("INFO progress"),
        "not logged on a terminal: {text}"
    );
    assert_same(src, &db, dst, &tty_copy, &["big", "small"]);
}

fn status_of(path: &Path) -> Option<serde_json::Value> {
    let text = std::fs::read_to_string(path).ok()?;
    Some(
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("half a status file ({e}):\n{text}")),
    )
}

/// A few hundred milliseconds, differently each time.
fn random_wait() -> Duration {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    Duration::from_millis(150 + u64::from(nanos % 600))
}

#[test]
fn the_status_file_stays_whole_through_sigkills_and_tells_a_failing_table() {
    let dst = &pair().1;
    let (db, copy, server) = setup("status", 20_000, &format!("CREATE TABLE broken {TABLE}"));
    dst.exec(&format!("DROP TABLE {}", qualified(&copy, "broken")));
    let dir = scratch("status");
    let (status, metrics) = (dir.join("status.json"), dir.join("dbdump.prom"));
    let args = [
        "--poll-interval",
        "0.05",
        "--status-file",
        status.to_str().expect("path"),
        "--metrics-file",
        metrics.to_str().expect("path"),
    ];
    for _ in 0..6 {
        let mut child =
            spawn(puller_command(server.port, dst, &db, &copy, &args).stderr(Stdio::null()));
        std::thread::sleep(random_wait());
        let _ = child.0.kill();
        let _ = child.0.wait();
        status_of(&status).expect("the status file exists");
        check_metrics(&std::fs::read_to_string(&metrics).expect("metrics file"));
    }
    // Long enough for a few passes.
    let mut child =
        spawn(puller_command(server.port, dst, &db, &copy, &args).stderr(Stdio::null()));
    wait_until("a few passes", Duration::from_secs(30), || {
        status_of(&status).is_some_and(|s| s["previous_pass"]["number"].as_u64() >= Some(2))
    });
    let _ = child.0.kill();
    let _ = child.0.wait();

    let s = status_of(&status).expect("status");
    let broken = &s["tables"]["broken"];
    assert_eq!(broken["state"], "failed", "{s:#}");
    assert!(broken["consecutive_failures"].as_u64() >= Some(2), "{s:#}");
    assert!(
        broken["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("does not exist")),
        "{s:#}"
    );
    assert!(broken["horizon_unix"].is_null(), "{s:#}");
    for table in ["big", "small"] {
        let t = &s["tables"][table];
        assert_eq!(t["state"], "ok", "{s:#}");
        assert_eq!(t["consecutive_failures"], 0, "{s:#}");
        assert!(t["horizon_unix"].as_f64().is_some(), "{s:#}");
        assert!(
            t["lag_seconds"]
                .as_f64()
                .is_some_and(|l| (0.0..60.0).contains(&l)),
            "{s:#}"
        );
        assert!(t["last_success"]["unix"].as_f64().is_some(), "{s:#}");
    }
    assert_eq!(s["tables"]["big"]["rows_last_pass"], 0, "{s:#}");
    let previous = &s["previous_pass"];
    assert_eq!(previous["outcome"], "failed", "{s:#}");
    assert_eq!(
        (previous["tables"].as_u64(), previous["failed"].as_u64()),
        (Some(3), Some(1))
    );
    assert!(previous["ended"]["unix"].as_f64() >= previous["started"]["unix"].as_f64());
    assert_eq!(count(dst, &copy, "big"), 20_000);

    // The README's shell check, "which tables are more than $max seconds
    // behind" (a table never synced counts from the puller's start).
    let behind = |max: &str| {
        let out = Command::new("jq")
            .args(["-r", "--argjson", "max", max, README_JQ])
            .arg(&status)
            .output()
            .expect("jq runs");
        assert!(out.status.success(), "{out:?}");
        String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    assert_eq!(behind("300"), Vec::<String>::new());
    assert_eq!(behind("-1"), ["big", "broken", "small"]);

    let text = std::fs::read_to_string(&metrics).expect("metrics");
    check_metrics(&text);
    assert!(text.contains(&format!(
        "dbdump_table_consecutive_failures{{database=\"{copy}\",table=\"broken\"}} "
    )));
    assert!(text.contains(&format!(
        "dbdump_table_rows_applied_total{{database=\"{copy}\",table=\"big\"}} "
    )));
    promtool_check(&metrics);
}

/// The jq filter of the README's "alert when any table is more than 5
/// minutes behind" (with `--argjson max 300`).
const README_JQ: &str = ".puller.started.unix as $start | .tables | to_entries[] \
    | select(now - (.value.horizon_unix // $start) > $max) | .key";

/// Checks Prometheus text exposition format strictly: every sample's family
/// declared by one HELP and one TYPE line before it, families contiguous,
/// names and labels well formed, label values escaped, values numbers,
/// counters ending in `_total`, no series twice.
fn check_metrics(text: &str) {
    let name_ok = |n: &str| {
        !n.is_empty()
            && n.chars().enumerate().all(|(i, c)| {
                c.is_ascii_alphabetic() || c == '_' || c == ':' || (i > 0 && c.is_ascii_digit())
            })
    };
    let mut kinds: HashMap<String, String> = HashMap::new();
    let mut helps = BTreeSet::new();
    let mut finished = BTreeSet::new();
    let mut current = String::new();
    let mut series = BTreeSet::new();
    assert!(text.ends_with('\n'), "ends with a newline");
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# ") {
            let mut parts = rest.splitn(3, ' ');
            let (word, name, tail) = (parts.next(), parts.next().unwrap_or(""), parts.next());
            assert!(name_ok(name), "bad metric name: {line}");
            if name != current {
                assert!(!finished.contains(name), "family {name} is split: {line}");
                if !current.is_empty() {
                    finished.insert(current.clone());
                }
                current = name.to_string();
            }
            match word {
                Some("HELP") => assert!(helps.insert(name.to_string()) && tail.is_some(), "{line}"),
                Some("TYPE") => {
                    let kind = tail.unwrap_or("");
                    assert!(["counter", "gauge"].contains(&kind), "{line}");
                    assert_eq!(kind == "counter", name.ends_with("_total"), "{line}");
                    assert!(
                        kinds.insert(name.to_string(), kind.into()).is_none(),
                        "{line}"
                    );
                }
                _ => panic!("unexpected comment: {line}"),
            }
            continue;
        }
        let (name, rest) = line.split_once('{').expect("samples carry labels");
        assert_eq!(name, current, "a sample outside its family: {line}");
        assert!(
            kinds.contains_key(name) && helps.contains(name),
            "undeclared: {line}"
        );
        let (labels, value) = rest.rsplit_once("} ").expect("labels then value");
        let mut chars = labels.chars().peekable();
        let mut names = BTreeSet::new();
        while chars.peek().is_some() {
            let label: String = chars.by_ref().take_while(|c| *c != '=').collect();
            assert!(
                name_ok(&label) && !label.contains(':'),
                "bad label name: {line}"
            );
            assert!(names.insert(label), "label twice: {line}");
            assert_eq!(chars.next(), Some('"'), "{line}");
            loop {
                match chars.next().expect("a closed label value") {
                    '\\' => assert!(matches!(chars.next(), Some('\\' | '"' | 'n')), "{line}"),
                    '"' => break,
                    '\n' => panic!("raw newline: {line}"),
                    _ => {}
                }
            }
            if chars.peek() == Some(&',') {
                chars.next();
            }
        }
        let v: f64 = value
            .parse()
            .unwrap_or_else(|_| panic!("not a number: {line}"));
        assert!(v.is_finite(), "{line}");
        assert!(
            series.insert(format!("{name}{{{labels}}}")),
            "series twice: {line}"
        );
    }
    assert!(!series.is_empty(), "no samples:\n{text}");
}

/// `promtool check metrics` on `file`, when promtool is there or Debian's
/// prometheus package can be unpacked (not installed: no service, no
/// dependencies) into target/tools; otherwise the strict parser stands.
fn promtool_check(file: &Path) {
    let Some(promtool) = promtool() else {
        eprintln!("promtool not available; checked with the strict parser only");
        return;
    };
    let out = Command::new(&promtool)
        .args(["check", "metrics"])
        .stdin(std::fs::File::open(file).expect("metrics file"))
        .output()
        .expect("promtool runs");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "promtool check metrics:\n{said}");
    assert!(said.trim().is_empty(), "promtool has remarks:\n{said}");
}

fn promtool() -> Option<PathBuf> {
    let on_path = Command::new("sh")
        .args(["-c", "command -v promtool"])
        .output()
        .ok()?;
    if on_path.status.success() {
        return Some(PathBuf::from(
            String::from_utf8_lossy(&on_path.stdout).trim(),
        ));
    }
    let tools = workspace_root().join("target/tools/prometheus");
    let unpacked = tools.join("usr/bin/promtool");
    if unpacked.exists() {
        return Some(unpacked);
    }
    std::fs::create_dir_all(&tools).ok()?;
    let script = "apt-get download prometheus >/dev/null 2>&1 || \
        { [ \"$(id -u)\" = 0 ] && apt-get update -qq >/dev/null 2>&1 && apt-get download prometheus >/dev/null 2>&1; } && \
        dpkg-deb -x prometheus_*.deb . && rm -f prometheus_*.deb";
    let ok = Command::new("sh")
        .args(["-c", script])
        .current_dir(&tools)
        .stdin(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    (ok && unpacked.exists()).then_some(unpacked)
}

//! The throwaway MariaDB servers of `scripts/mariadb-sandbox`: a
//! [`Sandbox`] to start, stop, kill and query, the shared source and
//! destination [`pair`], and their cleanup (a watchdog per sandbox, a sweep
//! of what dead test processes left behind).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use crate::{cell, literal, lossy, next_id, run_sql, scratch_dir, workspace_root, Rows};

fn script() -> PathBuf {
    workspace_root().join("scripts/mariadb-sandbox")
}

/// Runs the sandbox script; returns its stdout, panics with its stderr.
fn run_script(args: &[&str]) -> String {
    let out = Command::new(script())
        .args(args)
        .stdin(Stdio::null())
        .output();
    let out = out.expect("cannot run scripts/mariadb-sandbox");
    let err = lossy(&out.stderr);
    assert!(
        out.status.success(),
        "mariadb-sandbox {args:?}: {}\n{err}",
        out.status
    );
    lossy(&out.stdout)
}

/// A private MariaDB server; destroyed (data and all) when dropped.
pub struct Sandbox {
    pub dir: PathBuf,
    pub port: u16,
}

impl Sandbox {
    /// Starts a fresh server, optionally in system time zone `tz` (e.g.
    /// `America/New_York`), which then sticks across restarts.
    pub fn start(name: &str, tz: Option<&str>) -> Sandbox {
        let dir = scratch_dir().join(format!("{name}-{}", next_id()));
        // Watched from before the start, so that a half-started server goes too.
        spawn_watchdog(&dir);
        let mut args = vec!["start", dir.to_str().expect("sandbox path is UTF-8")];
        args.extend(tz.iter().flat_map(|z| ["--tz", z]));
        let out = run_script(&args);
        let port = out
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("sandbox gave no port: {out:?}"));
        Sandbox { dir, port }
    }

    fn run(&self, action: &str) -> String {
        run_script(&[action, self.dir.to_str().expect("sandbox path is UTF-8")])
    }

    /// Starts the server again after `stop`/`kill`: same data, port and zone.
    pub fn restart(&self) {
        let port = self.run("start");
        assert_eq!(
            port.trim(),
            self.port.to_string(),
            "sandbox restarted on another port"
        );
    }

    /// Clean shutdown; the data stays.
    pub fn stop(&self) {
        self.run("stop");
    }

    /// SIGKILL, like a crash or a power cut.
    pub fn kill(&self) {
        self.run("kill");
    }

    /// A new root connection over TCP, in a UTC session so that TIMESTAMP
    /// values read the same whatever the server's zone.
    pub fn conn(&self) -> mysql::Conn {
        let opts = mysql::OptsBuilder::new()
            .ip_or_hostname(Some("127.0.0.1"))
            .tcp_port(self.port)
            .user(Some("root"))
            .prefer_socket(false)
            .init(vec!["SET time_zone='+00:00'"]);
        mysql::Conn::new(opts).unwrap_or_else(|e| panic!("connecting to port {}: {e}", self.port))
    }

    /// Runs one or more `;`-separated statements. Each call is a new
    /// session, so session variables do not leak from one call to the next.
    pub fn exec(&self, sql: &str) {
        self.query_strings(sql);
    }

    /// Runs one or more statements like [`Sandbox::exec`] and returns the
    /// rows of the first result set with columns (so `SET ...; SELECT ...`
    /// works), every value in its text form or NULL.
    pub fn query_strings(&self, sql: &str) -> Rows {
        run_sql(&mut self.conn(), sql)
            .unwrap_or_else(|e| panic!("SQL failed on port {}: {e}\n{sql}", self.port))
    }

    /// First column of the first row; `None` for NULL and for no row.
    pub fn scalar(&self, sql: &str) -> Option<String> {
        cell(self.query_strings(sql), 0)
    }

    /// Rows the storage engines read: MySQL's `Innodb_rows_read`, or
    /// MariaDB's `Rows_read` where (10.6+) the InnoDB counter is gone.
    pub fn rows_read(&self) -> u64 {
        let innodb = self
            .scalar("SHOW GLOBAL STATUS LIKE 'Innodb_rows_read'")
            .is_some();
        self.status(if innodb {
            "Innodb_rows_read"
        } else {
            "Rows_read"
        })
    }

    /// A numeric `SHOW GLOBAL STATUS` counter, e.g. `Com_select`.
    pub fn status(&self, name: &str) -> u64 {
        let sql = format!("SHOW GLOBAL STATUS LIKE {}", literal(name));
        let value = cell(self.query_strings(&sql), 1);
        value
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no numeric status {name}"))
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        // Drop may run while unwinding, where a panic aborts: only warn.
        if !destroy(&self.dir) {
            eprintln!("warning: cannot destroy sandbox {}", self.dir.display());
        }
    }
}

/// Stops the server in `dir` (if running) and deletes `dir`.
fn destroy(dir: &Path) -> bool {
    let out = Command::new(script()).arg("destroy").arg(dir).output();
    out.is_ok_and(|o| o.status.success())
}

/// Destroys `dir` once this process has exited, however it exits. Ignores
/// SIGINT/SIGHUP so that Ctrl-C on `cargo test` still cleans up, and holds
/// no output pipe open (which would keep e.g. `cargo test | tee` waiting).
fn spawn_watchdog(dir: &Path) {
    const LOOP: &str = r#"trap "" INT HUP; while kill -0 "$1" 2>/dev/null; do sleep 1; done
        exec "$2" destroy "$3""#;
    let spawned = Command::new("sh")
        .args(["-c", LOOP, "sh", &std::process::id().to_string()])
        .arg(script())
        .arg(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    // It outlives this process, so it is never waited for; init reaps it.
    if let Err(e) = spawned {
        eprintln!("warning: no cleanup watchdog for {}: {e}", dir.display());
    }
}

/// Destroys sandboxes and removes logs of test processes that are gone
/// (names end in `-<pid>-<n>`, logs in `.log`).
fn sweep_stale() {
    let Ok(entries) = std::fs::read_dir(scratch_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let stem = name.strip_suffix(".log").unwrap_or(&name);
        let pid = stem.rsplit('-').nth(1).and_then(|p| p.parse::<u32>().ok());
        if pid.is_none_or(|pid| Path::new(&format!("/proc/{pid}")).exists()) {
            continue;
        }
        match entry.path() {
            dir if dir.is_dir() => drop(destroy(&dir)),
            file => drop(std::fs::remove_file(file)),
        }
    }
}

/// The (source, destination) servers shared by the tests of one binary;
/// tests keep out of each other's way with [`unique_name`](crate::unique_name) databases.
pub fn pair() -> &'static (Sandbox, Sandbox) {
    static PAIR: OnceLock<(Sandbox, Sandbox)> = OnceLock::new();
    PAIR.get_or_init(|| {
        sweep_stale();
        // Started side by side: each takes a second or so.
        std::thread::scope(|s| {
            let src = s.spawn(|| Sandbox::start("source", None));
            let dst = Sandbox::start("dest", None);
            (src.join().expect("source sandbox did not start"), dst)
        })
    })
}

//! Harness for the end-to-end tests in `tests/tests/*.rs`: real throwaway
//! MariaDB servers (`scripts/mariadb-sandbox`), the real `dbd_server` and
//! `dbd_puller` binaries. Re-exported here from files by role: `sql` (names,
//! quoting, rows as text), `compare` (comparing databases) and `http` (poking
//! at HTTP). The rest is still below. Used by their paths
//! (`dbdump_tests::edge::Certificate`): `certs`, `edge`, `fixtures` and
//! `messages`.
//!
//! Helpers panic with a message instead of returning errors: a failing
//! helper means a failing test, and the message is the diagnosis.
//!
//! Sandboxes and server logs live in `target/test-sandboxes/*-<pid>-<n>`.
//! The shared [`pair`] sits in a static, which Rust never drops, and std has
//! no exit hook (nor is libc a dependency); so every sandbox gets a watchdog
//! shell that destroys it once the test process is gone, and [`pair`] also
//! sweeps away leftovers of dead processes (e.g. after a SIGKILL of all).

use std::io::Read;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub mod certs;
mod compare;
pub mod edge;
pub mod fixtures;
mod http;
pub mod messages;
mod sql;

pub use compare::*;
pub use http::*;
pub use sql::*;

/// A child process killed when this goes out of scope, so that a failing
/// test does not leave a polling puller or a server behind.
pub struct Reaped(pub Child);

impl std::ops::Deref for Reaped {
    type Target = Child;
    fn deref(&self) -> &Child {
        &self.0
    }
}

impl std::ops::DerefMut for Reaped {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.0
    }
}

impl Reaped {
    /// SIGTERM, as a service manager stops a polling puller, then waits:
    /// its exit code (`None` when a signal ended it).
    pub fn terminate(&mut self) -> Option<i32> {
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        self.0.wait().expect("cannot wait for child process").code()
    }
}

impl Drop for Reaped {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// Polls `done` every 50 ms until it holds; panics with `what` after
/// `limit`. For waiting on a process, a server or rows to arrive.
pub fn wait_until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < deadline, "{what} (waited {limit:?})");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Spawns `cmd`, to be killed if the test ends first.
pub fn spawn(cmd: &mut Command) -> Reaped {
    Reaped(
        cmd.spawn()
            .unwrap_or_else(|e| panic!("cannot spawn {cmd:?}: {e}")),
    )
}

/// `<pid>-<n>`: distinct names within and across test processes.
fn next_id() -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{}-{n}", std::process::id())
}

pub(crate) fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The workspace root (the parent of this crate).
pub fn workspace_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest
        .parent()
        .expect("tests crate has a parent")
        .to_path_buf()
}

/// Where sandboxes and server logs go; created on demand.
fn scratch_dir() -> PathBuf {
    let dir = workspace_root().join("target/test-sandboxes");
    std::fs::create_dir_all(&dir).expect("cannot create target/test-sandboxes");
    dir
}

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
/// tests keep out of each other's way with [`unique_name`] databases.
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

/// A dbdump binary: `$DBDUMP_BIN_DIR/<name>` if set (e.g. release builds),
/// else `target/debug/<name>`, built once per process: `cargo test` does not
/// build other packages' binaries, so they could be stale or missing.
pub fn bin(name: &str) -> PathBuf {
    if let Some(dir) = std::env::var_os("DBDUMP_BIN_DIR") {
        return PathBuf::from(dir).join(name);
    }
    static BUILT: OnceLock<Result<(), String>> = OnceLock::new();
    let built = BUILT.get_or_init(|| {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut build = Command::new(cargo);
        // Without the variables cargo set for this test binary: ring's build
        // script watches CARGO_MANIFEST_DIR, and a changed value would
        // rebuild it (and rustls) here and again in the next plain build.
        for (key, _) in std::env::vars_os() {
            let k = key.to_string_lossy();
            let per_package = [
                "CARGO_PKG_",
                "CARGO_BIN_",
                "CARGO_CRATE_",
                "CARGO_MANIFEST_",
            ]
            .iter()
            .any(|p| k.starts_with(p));
            if per_package
                || k == "CARGO_PRIMARY_PACKAGE"
                || k == "CARGO_TARGET_TMPDIR"
                || k == "OUT_DIR"
            {
                build.env_remove(&key);
            }
        }
        let out = build
            .args("build -q --bins -p dbd_server -p dbd_puller".split(' '))
            .current_dir(workspace_root())
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("cannot run cargo: {e}"))?;
        out.status
            .success()
            .then_some(())
            .ok_or_else(|| lossy(&out.stderr))
    });
    if let Err(e) = built {
        panic!("building dbd_server and dbd_puller failed:\n{e}");
    }
    workspace_root().join("target/debug").join(name)
}

/// A port nothing listens on right now (another process may take it later).
pub fn free_port() -> u16 {
    let addr = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr());
    addr.expect("cannot bind 127.0.0.1:0").port()
}

/// A command without the caller's `DBD_*` variables: every flag has one,
/// and a developer's own settings must not change what a test runs. Nor
/// proxy variables, which the puller honours: tests that want a proxy set
/// them.
pub fn clean_command(program: PathBuf) -> Command {
    let mut cmd = Command::new(program);
    for (key, _) in std::env::vars_os().filter(|(k, _)| k.to_string_lossy().starts_with("DBD_")) {
        cmd.env_remove(key);
    }
    for key in edge::tinyproxy::PROXY_VARIABLES {
        cmd.env_remove(key);
    }
    cmd.stdin(Stdio::null());
    cmd
}

/// Waits up to `limit` for `child` to exit.
fn wait_for(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().expect("cannot wait for child process") {
            return Some(status);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A running `dbd_server`; stopped with SIGTERM when dropped.
pub struct Server {
    pub port: u16,
    pub child: Child,
    pub log: PathBuf,
}

impl Server {
    /// Starts `dbd_server` for `source` on a free port, with extra `args`.
    pub fn start(source: &Sandbox, args: &[&str]) -> Server {
        Server::start_with_env(source, args, &[])
    }

    /// As [`Server::start`], with environment variables (e.g. `DBD_*` flags).
    /// Returns once the port accepts connections.
    pub fn start_with_env(source: &Sandbox, args: &[&str], envs: &[(&str, &str)]) -> Server {
        Server::start_on(free_port(), source, args, envs)
    }

    /// As [`Server::start_with_env`], on a given port (e.g. to restart a
    /// server where its clients expect it).
    pub fn start_on(port: u16, source: &Sandbox, args: &[&str], envs: &[(&str, &str)]) -> Server {
        let log = scratch_dir().join(format!("server-{}.log", next_id()));
        let file = std::fs::File::create(&log).expect("cannot create server log");
        let fixed = format!(
            "-a 127.0.0.1 -P {port} --source-host 127.0.0.1 --source-port {} \
             --source-username root",
            source.port
        );
        let child = clean_command(bin("dbd_server"))
            .args(fixed.split(' '))
            .args(args)
            .envs(envs.iter().copied())
            .stdout(file.try_clone().expect("cannot share server log"))
            .stderr(file)
            .spawn()
            .expect("cannot spawn dbd_server");
        let mut server = Server { port, child, log };
        let (addr, deadline) = (SocketAddr::from(([127, 0, 0, 1], port)), Instant::now());
        while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            if let Some(status) = wait_for(&mut server.child, Duration::from_millis(50)) {
                panic!(
                    "dbd_server exited ({status}) before listening:\n{}",
                    server.log_text()
                );
            }
            if deadline.elapsed() > Duration::from_secs(15) {
                panic!(
                    "dbd_server not listening after 15 s:\n{}",
                    server.log_text()
                );
            }
        }
        server
    }

    /// Everything the server wrote to stdout and stderr so far.
    pub fn log_text(&self) -> String {
        lossy(&std::fs::read(&self.log).unwrap_or_default())
    }

    /// `http://127.0.0.1:<port><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// SIGTERM, then SIGKILL if it has not exited within 10 s. Returns how it
    /// exited (after a SIGKILL: no code). Safe to call again.
    pub fn stop(&mut self) -> ExitStatus {
        if let Some(status) = wait_for(&mut self.child, Duration::ZERO) {
            return status;
        }
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        wait_for(&mut self.child, Duration::from_secs(10)).unwrap_or_else(|| {
            let _ = self.child.kill();
            self.child.wait().expect("cannot wait for dbd_server")
        })
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// How a one-shot `dbd_puller` run ended. Codes: 0 all tables synced, 1 some
/// table failed, 2 bad command line, 3 interrupted; -1 killed by a signal.
#[derive(Debug)]
pub struct PullerRun {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// The number before `what` in `table`'s summary line of a puller run,
/// e.g. `rows applied`, `rows deleted`, `rows repaired`.
#[track_caller]
pub fn figure(run: &PullerRun, table: &str, what: &str) -> u64 {
    let marker = format!("table `{table}`: ");
    let line = run
        .stderr
        .lines()
        .find(|l| l.contains(&marker))
        .unwrap_or_else(|| panic!("no summary for {table} in:\n{}", run.stderr));
    let before = line
        .split_once(&format!(" {what}"))
        .unwrap_or_else(|| panic!("no {what:?} in: {line}"))
        .0;
    before
        .rsplit([' ', ':'])
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no number before {what:?} in: {line}"))
}

/// The `dbd_puller` command that [`puller`] runs, for tests that spawn,
/// signal or kill it themselves.
pub fn puller_command(
    port: u16,
    dst: &Sandbox,
    src_db: &str,
    dst_db: &str,
    extra: &[&str],
) -> Command {
    let fixed = format!(
        "--source-host 127.0.0.1 --source-port {port} --dest-host 127.0.0.1 --dest-port {} \
         --dest-username root",
        dst.port
    );
    let mut cmd = clean_command(bin("dbd_puller"));
    cmd.args(fixed.split(' '))
        .args(["--source-database", src_db, "--dest-database", dst_db])
        .args(extra);
    cmd
}

/// Runs `dbd_puller` against the server on `port` to completion; killed, and
/// the test failed, after 120 s.
pub fn puller(port: u16, dst: &Sandbox, src_db: &str, dst_db: &str, extra: &[&str]) -> PullerRun {
    let mut child = puller_command(port, dst, src_db, dst_db, extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cannot spawn dbd_puller");
    // Both pipes are drained on threads so a chatty puller never blocks.
    fn drain(pipe: Option<impl Read + Send + 'static>) -> std::thread::JoinHandle<String> {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            pipe.map(|mut p| p.read_to_end(&mut bytes));
            lossy(&bytes)
        })
    }
    let (out, err) = (drain(child.stdout.take()), drain(child.stderr.take()));
    let Some(status) = wait_for(&mut child, Duration::from_secs(120)) else {
        let _ = child.kill();
        let _ = child.wait();
        let stderr = err.join().unwrap_or_default();
        panic!("dbd_puller still running after 120 s; killed. stderr:\n{stderr}");
    };
    PullerRun {
        code: status.code().unwrap_or(-1),
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
    }
}

/// A fresh source database made from `ddl`, the same tables in a fresh
/// destination database (`<db>_copy`), and a server exposing only it with
/// `server_args`: (database, copy, server).
pub fn database_pair(
    src: &Sandbox,
    dst: &Sandbox,
    prefix: &str,
    ddl: &str,
    server_args: &[&str],
) -> (String, String, Server) {
    let db = unique_name(prefix);
    let copy = format!("{db}_copy");
    src.exec(&format!("CREATE DATABASE {0}; USE {0}; {ddl}", ident(&db)));
    copy_schema(src, &db, dst, &copy);
    let mut args = vec!["--source-databases", db.as_str()];
    args.extend_from_slice(server_args);
    let server = Server::start(src, &args);
    (db, copy, server)
}

/// [`database_pair`] on the shared [`pair`], the server with no settle
/// margin (tests wait out the timestamps' precision instead).
pub fn setup_pair(prefix: &str, ddl: &str) -> (String, String, Server) {
    let (src, dst) = pair();
    database_pair(src, dst, prefix, ddl, &["--settle", "0"])
}

/// Runs `dbd_puller` from `server` into the shared [`pair`]'s destination
/// and asserts that it succeeded.
pub fn pull_ok(server: &Server, db: &str, copy: &str, extra: &[&str]) -> PullerRun {
    let run = puller(server.port, &pair().1, db, copy, extra);
    assert_eq!(run.code, 0, "puller failed:\n{}", run.stderr);
    run
}

/// The rows applied to `table`, from a puller's summary line
/// (`table `t`: N rows applied in …`).
pub fn rows_applied(run: &PullerRun, table: &str) -> u64 {
    let marker = format!("table `{table}`: ");
    run.stderr
        .lines()
        .find_map(|l| l.split_once(&marker).map(|(_, rest)| rest))
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no summary for {table} in:\n{}", run.stderr))
}

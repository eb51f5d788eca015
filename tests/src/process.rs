//! Child processes: the dbdump binaries (built once, or taken from
//! `$DBDUMP_BIN_DIR`), commands without the caller's `DBD_*` and proxy
//! variables, children killed when dropped ([`Reaped`]), waiting with a time
//! limit, and a free port.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::{edge, lossy, workspace_root};

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
        plain_cargo_env(&mut build);
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

/// Takes the variables cargo set for this test binary out of `cmd`'s
/// environment, so that a cargo build it runs (itself or through a script
/// such as `scripts/build-static`) is the same build as a plain one: ring's
/// build script watches CARGO_MANIFEST_DIR, and a changed value would
/// rebuild it (and rustls, and the binaries) here and again in the next
/// plain build.
pub fn plain_cargo_env(cmd: &mut Command) -> &mut Command {
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
            cmd.env_remove(&key);
        }
    }
    cmd
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
pub(crate) fn wait_for(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
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

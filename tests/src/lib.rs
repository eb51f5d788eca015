//! Harness for the end-to-end tests in `tests/tests/*.rs`: real throwaway
//! MariaDB servers (`scripts/mariadb-sandbox`), the real `dbd_server` and
//! `dbd_puller` binaries. Re-exported here from files by role: `sandbox` (the
//! MariaDB servers and the shared [`pair`]), `sql` (names, quoting, rows as
//! text), `process` (child processes, finding the binaries), `server` (a
//! running dbd_server), `puller` (running dbd_puller, reading its summary),
//! `compare` (comparing databases) and `http` (poking at HTTP). What they all
//! use stays here: distinct ids, the workspace root and the scratch
//! directory. Used by their paths (`dbdump_tests::edge::Certificate`):
//! `certs`, `cutter` (a relay that cuts an answer short), `edge`, `fixtures`
//! and `messages`.
//!
//! Helpers panic with a message instead of returning errors: a failing
//! helper means a failing test, and the message is the diagnosis.
//!
//! Sandboxes and server logs live in `target/test-sandboxes/*-<pid>-<n>`.
//! The shared [`pair`] sits in a static, which Rust never drops, and std has
//! no exit hook (nor is libc a dependency); so every sandbox gets a watchdog
//! shell that destroys it once the test process is gone, and [`pair`] also
//! sweeps away leftovers of dead processes (e.g. after a SIGKILL of all).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

pub mod certs;
mod compare;
pub mod cutter;
pub mod edge;
pub mod fixtures;
mod http;
pub mod messages;
mod process;
mod puller;
mod sandbox;
mod server;
mod sql;

pub use compare::*;
pub use http::*;
pub use process::*;
pub use puller::*;
pub use sandbox::*;
pub use server::*;
pub use sql::*;

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

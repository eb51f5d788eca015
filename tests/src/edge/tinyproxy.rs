//! A real HTTP proxy for the tests: Debian's `tinyproxy` (CONNECT tunnels,
//! absolute-form requests, Basic credentials, access rules), on a free
//! loopback port with its own configuration and log. Installed with
//! apt-get when missing and running as root, as `scripts/mariadb-sandbox`
//! does for MariaDB.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use crate::{free_port, scratch_dir, spawn, unique_name, wait_until, Reaped};

/// Every variable curl (and so dbd_puller) reads a proxy setting from.
pub const PROXY_VARIABLES: &[&str] = &[
    "http_proxy",
    "HTTP_PROXY",
    "https_proxy",
    "HTTPS_PROXY",
    "no_proxy",
    "NO_PROXY",
    "all_proxy",
    "ALL_PROXY",
];

fn find() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/bin", "/usr/sbin"].map(PathBuf::from))
        .map(|dir| dir.join("tinyproxy"))
        .find(|p| p.is_file())
}

fn run_quietly(cmd: &mut Command) -> Result<(), String> {
    let out = cmd
        .env("DEBIAN_FRONTEND", "noninteractive")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {cmd:?}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!("{cmd:?}: {}", String::from_utf8_lossy(&out.stderr)))
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0")
}

/// The tinyproxy binary, installed first if need be (once per process).
pub fn binary() -> PathBuf {
    static FOUND: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let found = FOUND.get_or_init(|| {
        if let Some(path) = find() {
            return Ok(path);
        }
        if !is_root() || !Path::new("/usr/bin/apt-get").exists() {
            return Err(
                "tinyproxy not found; install it (Debian/Ubuntu: sudo apt-get install tinyproxy)"
                    .into(),
            );
        }
        eprintln!("tests: tinyproxy is missing; installing it with apt-get");
        // Waits for another apt run (a sandbox installing MariaDB, say).
        let lock = ["-o", "DPkg::Lock::Timeout=300"];
        run_quietly(Command::new("apt-get").args(lock).args(["update", "-qq"]))?;
        run_quietly(Command::new("apt-get").args(lock).args([
            "install",
            "-y",
            "-qq",
            "tinyproxy",
        ]))?;
        find().ok_or_else(|| "apt-get installed tinyproxy, but it is not on the PATH".into())
    });
    found.clone().unwrap_or_else(|e| panic!("{e}"))
}

/// A running tinyproxy; stopped (and its files removed) when dropped.
pub struct Tinyproxy {
    pub port: u16,
    dir: PathBuf,
    child: Reaped,
}

impl Tinyproxy {
    /// Starts tinyproxy with `extra` configuration lines (e.g. `BasicAuth
    /// user password`, `ConnectPort 443`, `Upstream http host:port`).
    pub fn start(extra: &str) -> Tinyproxy {
        let binary = binary();
        let port = free_port();
        let dir = scratch_dir().join(unique_name("tinyproxy"));
        std::fs::create_dir_all(&dir).expect("cannot create the tinyproxy directory");
        let conf = dir.join("tinyproxy.conf");
        let config = format!(
            "Port {port}\nListen 127.0.0.1\nTimeout 30\nMaxClients 50\nLogLevel Connect\n\
             PidFile \"{}\"\n{extra}\n",
            dir.join("tinyproxy.pid").display()
        );
        std::fs::write(&conf, config).expect("cannot write tinyproxy.conf");
        let log = std::fs::File::create(dir.join("tinyproxy.log")).expect("cannot create the log");
        // -d: in the foreground, as this process's child, logging to stdout.
        let child = spawn(
            Command::new(binary)
                .arg("-d")
                .arg("-c")
                .arg(&conf)
                .stdin(Stdio::null())
                .stdout(log.try_clone().expect("cannot share the log"))
                .stderr(log),
        );
        let mut proxy = Tinyproxy { port, dir, child };
        wait_until(
            "tinyproxy did not start listening",
            Duration::from_secs(10),
            || {
                if let Ok(Some(status)) = proxy.child.try_wait() {
                    panic!("tinyproxy exited ({status}):\n{}", proxy.log_text());
                }
                TcpStream::connect(("127.0.0.1", port)).is_ok()
            },
        );
        proxy
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The URL with Basic credentials in it.
    pub fn url_with(&self, user: &str, password: &str) -> String {
        format!("http://{user}:{password}@127.0.0.1:{}", self.port)
    }

    pub fn log_text(&self) -> String {
        String::from_utf8_lossy(&std::fs::read(self.dir.join("tinyproxy.log")).unwrap_or_default())
            .into_owned()
    }

    /// The request lines the proxy received, e.g. `CONNECT 127.0.0.1:8888
    /// HTTP/1.1` or `GET http://127.0.0.1:8888/db/ HTTP/1.1`.
    pub fn requests(&self) -> Vec<String> {
        self.log_text()
            .lines()
            .filter_map(|l| {
                l.split_once("Request (file descriptor ")?
                    .1
                    .split_once("): ")
            })
            .map(|(_, request)| request.to_string())
            .collect()
    }
}

impl Drop for Tinyproxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

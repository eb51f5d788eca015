//! A running `dbd_server` ([`Server`]: started on a free port and waited
//! for until it listens, its log, stopped with SIGTERM), and fresh source
//! and destination databases with a server exposing them
//! ([`database_pair`], [`setup_pair`]).

use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus};
use std::time::{Duration, Instant};

use crate::{
    bin, clean_command, copy_schema, free_port, ident, lossy, next_id, pair, scratch_dir,
    unique_name, wait_for, Sandbox,
};

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
        Server::launch(port, source.port, args, envs)
    }

    /// As [`Server::start`], reaching the source database at `source_port`
    /// (a relay in front of it, say) rather than at its own port.
    pub fn start_reaching(source_port: u16, args: &[&str]) -> Server {
        Server::launch(free_port(), source_port, args, &[])
    }

    /// As [`Server::start`], running another build of `dbd_server`
    /// (`binary`), such as the static release one.
    pub fn start_binary(binary: &Path, source: &Sandbox, args: &[&str]) -> Server {
        Server::launch_binary(binary, free_port(), source.port, args, &[])
    }

    fn launch(port: u16, source_port: u16, args: &[&str], envs: &[(&str, &str)]) -> Server {
        Server::launch_binary(&bin("dbd_server"), port, source_port, args, envs)
    }

    fn launch_binary(
        binary: &Path,
        port: u16,
        source_port: u16,
        args: &[&str],
        envs: &[(&str, &str)],
    ) -> Server {
        let log = scratch_dir().join(format!("server-{}.log", next_id()));
        let file = std::fs::File::create(&log).expect("cannot create server log");
        let fixed = format!(
            "-a 127.0.0.1 -P {port} --source-host 127.0.0.1 --source-port {} \
             --source-username root",
            source_port
        );
        let child = clean_command(binary.to_path_buf())
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

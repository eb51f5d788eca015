//! A TCP relay between two of the processes (dbd_server and its source
//! database, or the puller and dbd_server) that a test can tell to stop
//! forwarding after a number of bytes on a connection (a stalled network),
//! and to cut every connection it relays at once.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A running relay; its threads end with the test process (or when their
/// connections close).
pub struct Relay {
    pub port: u16,
    /// Bytes of a connection's answer forwarded before it stalls.
    pub stall_after: Arc<AtomicU64>,
    open: Arc<Mutex<Vec<TcpStream>>>,
}

impl Relay {
    pub fn start(target: u16) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let stall_after = Arc::new(AtomicU64::new(u64::MAX));
        let open = Arc::new(Mutex::new(Vec::new()));
        let (limit, sockets) = (stall_after.clone(), open.clone());
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let Ok(server) = TcpStream::connect(("127.0.0.1", target)) else {
                    continue;
                };
                let mut held = sockets.lock().expect("relay sockets");
                held.push(client.try_clone().expect("clone"));
                held.push(server.try_clone().expect("clone"));
                drop(held);
                let (mut c2, mut s2) = (
                    client.try_clone().expect("clone"),
                    server.try_clone().expect("clone"),
                );
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut c2, &mut s2);
                });
                let limit = limit.clone();
                let (mut from, mut to) = (server, client);
                std::thread::spawn(move || {
                    let (mut buf, mut sent) = ([0u8; 16384], 0u64);
                    while let Ok(n) = from.read(&mut buf) {
                        if n == 0 {
                            break;
                        }
                        if sent + n as u64 > limit.load(Ordering::SeqCst) {
                            // Stall: keep both sockets open, forward nothing more.
                            std::thread::sleep(Duration::from_secs(3600));
                        }
                        if to.write_all(&buf[..n]).is_err() {
                            break;
                        }
                        sent += n as u64;
                    }
                });
            }
        });
        Relay {
            port,
            stall_after,
            open,
        }
    }

    /// Ends every connection relayed so far, on both sides, at once: what
    /// is not forwarded yet is lost, as when a process dies.
    pub fn cut(&self) {
        for socket in self.open.lock().expect("relay sockets").drain(..) {
            let _ = socket.shutdown(Shutdown::Both);
        }
    }
}

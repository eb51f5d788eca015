//! The one place where `dbd_server` and `dbd_puller` agree: the NDJSON wire
//! protocol (header, row and trailer lines, value encoding, `since` parsing,
//! error bodies), the HTTP/1.1 framing both speak, and the flag/env/log
//! plumbing both binaries use. Nothing here talks to a database or a socket.
//!
//! The format itself is documented for people in `shared/PROTOCOL.md`.

pub mod adaptive_gzip;
pub mod allocator;
pub mod base64;
pub mod changes;
pub mod cli;
pub mod cursor;
pub mod dberror;
pub mod digest;
pub mod gzip;
pub mod http;
pub mod logging;
pub mod pin;
pub mod ranges;
pub mod schema;
pub mod signals;
pub mod since;
pub mod sql;
pub mod tls;
pub mod value;
pub mod wire;

/// The version both binaries print for `--version`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

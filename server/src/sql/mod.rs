//! Every SQL text dbd_server sends, built in one place (one file per
//! capability: `inspect`, `horizon`, `streams`, `ranges`). Identifiers reaching the
//! builders were found in `information_schema` first and are quoted here;
//! values are always `?` placeholders.

/// Session set-up of every source connection: UTC so that TIMESTAMP values
/// are unambiguous whatever the hosts' zones; UTF-8 for all text; reads only.
pub const SESSION_INIT: &[&str] = &[
    "SET NAMES utf8mb4",
    "SET time_zone = '+00:00'",
    "SET SESSION TRANSACTION READ ONLY",
];

mod horizon;
mod inspect;
mod ranges;
mod streams;

pub use horizon::*;
pub use inspect::*;
pub use ranges::*;
pub use streams::*;

/// Ends another session of ours (its id comes from the driver, not a request).
pub fn kill_connection(connection_id: u32) -> String {
    format!("KILL CONNECTION {connection_id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kill_takes_a_number_only() {
        assert_eq!(kill_connection(42), "KILL CONNECTION 42");
    }
}

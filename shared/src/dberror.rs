//! Database errors in words. The driver's own text for a `mysql::Error` is a
//! Debug-like `DriverError { … }` or `CodecError { IO error: … }`; every
//! database error that reaches a log line, an HTTP error body or stderr, on
//! either side, goes through [`describe`] instead, which says what failed and
//! what to do about it.

use std::io;

use mysql::{DriverError, Error, MySqlError};

/// One sentence (no trailing period) for `e`: the server's own
/// `ERROR 1062 (23000): …` text for errors it returned, plain words for
/// connection failures, each with what to do where there is something to do.
pub fn describe(e: &Error) -> String {
    match e {
        Error::MySqlError(m) => server_error(m),
        Error::IoError(io) => connection_broke(io),
        Error::CodecError(codec) => {
            // The codec wraps the socket's error; its own text adds nothing.
            let source = std::error::Error::source(codec);
            match source.and_then(|s| s.downcast_ref::<io::Error>()) {
                Some(io) => connection_broke(io),
                None if codec.to_string().contains("max_allowed_packet") => {
                    "a packet is larger than the database server's max_allowed_packet; raise it on \
                     the server"
                        .into()
                }
                None => format!("the database connection got out of step ({codec}); it is reopened on the next attempt"),
            }
        }
        Error::DriverError(d) => driver_error(d),
        Error::UrlError(_) => "the database connection settings are not valid".into(),
        Error::FromValueError(_) | Error::FromRowError(_) => {
            "the database returned a value of an unexpected type".into()
        }
    }
}

/// Whether `e` is an error the server returned for a statement (it refused
/// it), as opposed to a connection that failed or broke.
pub fn is_refusal(e: &Error) -> bool {
    matches!(e, Error::MySqlError(_))
}

fn server_error(m: &MySqlError) -> String {
    let text = format!("ERROR {} ({}): {}", m.code, m.state, m.message.trim_end());
    match server_hint(m.code) {
        Some(hint) => format!("{text}; {hint}"),
        None => text,
    }
}

/// What to do about the server errors a user can act on.
fn server_hint(code: u16) -> Option<&'static str> {
    Some(match code {
        // ER_ACCESS_DENIED_ERROR
        1045 => "check the user name and password, and that the account may log in from this host",
        // ER_DBACCESS_DENIED_ERROR, ER_TABLEACCESS_DENIED_ERROR,
        // ER_COLUMNACCESS_DENIED_ERROR, ER_SPECIFIC_ACCESS_DENIED_ERROR
        1044 | 1142 | 1143 | 1227 => {
            "grant the account the privilege it lacks (the README lists what each side needs)"
        }
        // ER_BAD_DB_ERROR
        1049 => "create the database or correct its name",
        // ER_HOST_NOT_PRIVILEGED
        1130 => "allow the account to connect from this host (CREATE USER 'name'@'host')",
        // ER_HOST_IS_BLOCKED
        1129 => "run FLUSH HOSTS (or mariadb-admin flush-hosts) on the database server",
        // ER_CON_COUNT_ERROR, ER_TOO_MANY_USER_CONNECTIONS
        1040 | 1203 => "the server's connection limit is reached; retry later or raise it",
        // ER_SERVER_SHUTDOWN, ER_QUERY_INTERRUPTED, ER_CONNECTION_KILLED
        1053 | 1317 | 1927 => {
            "the database server is shutting down or ended this session; retry once it is back"
        }
        // ER_LOCK_WAIT_TIMEOUT, ER_LOCK_DEADLOCK
        1205 | 1213 => "another transaction holds the same rows; retry",
        // ER_NET_PACKET_TOO_LARGE
        1153 => "raise max_allowed_packet on the database server",
        _ => return None,
    })
}

fn driver_error(d: &DriverError) -> String {
    match d {
        DriverError::CouldNotConnect(Some((addr, desc, kind))) => match kind {
            io::ErrorKind::ConnectionRefused => format!(
                "connection refused by {addr}: no database server listens there; check the host \
                 and port, and that the server is running"
            ),
            _ => format!("cannot connect to {addr}: {desc}; check the host name and port"),
        },
        DriverError::CouldNotConnect(None) => "no database host or port is set".into(),
        DriverError::ConnectTimeout => {
            "the database server did not answer the connection in time; \
             check the host, the port and any firewall in between"
                .into()
        }
        DriverError::Timeout => "no database connection became free in time; retry shortly".into(),
        // The rest are protocol faults with a readable text of their own.
        other => format!("database driver error: {other}"),
    }
}

fn connection_broke(e: &io::Error) -> String {
    use io::ErrorKind::*;
    match e.kind() {
        TimedOut | WouldBlock => "the database server stopped answering (timed out); it may be \
             overloaded, or the network between is down"
            .into(),
        // The driver's word for a connection closed in the middle of a packet.
        _ if e.to_string().contains("bytes remaining on stream") => {
            "lost the connection to the database server in the middle of a reply: it restarted \
             or stopped, ended this session, or the network broke; retry once it is back"
                .into()
        }
        UnexpectedEof | BrokenPipe | ConnectionReset | ConnectionAborted => format!(
            "lost the connection to the database server ({e}): it restarted or stopped, ended \
             this session, or the network broke; retry once it is back"
        ),
        _ => format!("the connection to the database server failed: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// No Debug form of the driver's types (`DriverError { … }`) may reach a user.
    fn assert_words(text: &str) {
        for debug in ["{", "Error {", "Error(", "Codec"] {
            assert!(!text.contains(debug), "{debug:?} in {text:?}");
        }
    }

    fn server(code: u16, state: &str, message: &str) -> Error {
        Error::MySqlError(MySqlError {
            code,
            state: state.into(),
            message: message.into(),
        })
    }

    #[test]
    fn server_errors_keep_their_text_and_get_a_hint() {
        let dup = describe(&server(1062, "23000", "Duplicate entry '1' for key 'u'"));
        assert_eq!(dup, "ERROR 1062 (23000): Duplicate entry '1' for key 'u'");
        let denied = describe(&server(1045, "28000", "Access denied for user 'x'@'h'"));
        assert!(
            denied.starts_with("ERROR 1045 (28000): Access denied"),
            "{denied}"
        );
        assert!(
            denied.contains("check the user name and password"),
            "{denied}"
        );
        assert!(describe(&server(1049, "42000", "Unknown database 'd'"))
            .contains("create the database"));
        assert!(is_refusal(&server(1406, "22001", "Data too long")));
        assert!(!is_refusal(&Error::server_disconnected()));
    }

    #[test]
    fn connection_failures_in_words() {
        let refused = Error::DriverError(DriverError::CouldNotConnect(Some((
            "127.0.0.1:1".into(),
            "Connection refused (os error 111)".into(),
            io::ErrorKind::ConnectionRefused,
        ))));
        let text = describe(&refused);
        assert!(
            text.starts_with("connection refused by 127.0.0.1:1"),
            "{text}"
        );
        let cases = [
            refused,
            Error::DriverError(DriverError::ConnectTimeout),
            Error::DriverError(DriverError::Timeout),
            Error::DriverError(DriverError::PacketOutOfSync),
            Error::server_disconnected(),
            Error::IoError(io::Error::new(
                io::ErrorKind::WouldBlock,
                "Resource temporarily unavailable",
            )),
            Error::IoError(io::Error::other("strange")),
            Error::CodecError(io::Error::new(io::ErrorKind::UnexpectedEof, "eof").into()),
            Error::FromValueError(mysql::Value::NULL),
        ];
        for e in &cases {
            let text = describe(e);
            assert_words(&text);
            assert!(!text.is_empty());
        }
        assert!(describe(&Error::server_disconnected()).starts_with("lost the connection"));
        let cut = Error::CodecError(io::Error::other("bytes remaining on stream").into());
        assert!(describe(&cut).contains("in the middle of a reply"));
        assert!(describe(&cases[5]).contains("stopped answering"));
    }
}

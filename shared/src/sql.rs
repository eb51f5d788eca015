//! SQL helpers both sides need: quoting identifiers, and reading result rows
//! without the driver's panicking conversions. Identifiers are quoted only
//! after they were found in `information_schema`; values never go through
//! here, they are bound as statement parameters.

use std::time::Duration;

use mysql::prelude::FromValue;
use mysql::{OptsBuilder, Row};

/// Where and how to reach a MySQL/MariaDB server: both sides connect the
/// same way, over TCP to exactly the host given (even "localhost"), with
/// their own session set-up statements.
pub struct Endpoint<'a> {
    pub host: &'a str,
    pub port: u16,
    pub user: &'a str,
    pub password: Option<&'a str>,
    pub init: &'a [&'a str],
    /// Longest wait for a reply (a stalled server is an error, not a hang).
    pub io_timeout: Duration,
}

impl Endpoint<'_> {
    pub fn opts(&self) -> OptsBuilder {
        OptsBuilder::new()
            .ip_or_hostname(Some(self.host.to_string()))
            .tcp_port(self.port)
            .user(Some(self.user.to_string()))
            .pass(self.password.map(str::to_string))
            .prefer_socket(false)
            .tcp_connect_timeout(Some(Duration::from_secs(15)))
            .read_timeout(Some(self.io_timeout))
            .write_timeout(Some(self.io_timeout))
            .init(self.init.to_vec())
    }

    /// `user@host:port`, for messages.
    pub fn label(&self) -> String {
        format!("{}@{}:{}", self.user, self.host, self.port)
    }
}

/// Takes column `i` of `row` as `T`, with an error (never a panic) when the
/// value is missing or of another type.
pub fn take<T: FromValue>(row: &mut Row, i: usize) -> Result<T, String> {
    match row.take_opt::<T, usize>(i) {
        Some(Ok(v)) => Ok(v),
        // The driver's text would show the value's Debug form.
        Some(Err(e)) => Err(format!(
            "unexpected value {} in result column {i}",
            e.0.as_sql(true)
        )),
        None => Err(format!("result has no column {i}")),
    }
}

/// Quotes an identifier with backticks, doubling any backtick inside it.
pub fn quote_ident(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 2);
    out.push('`');
    for c in name.chars() {
        if c == '`' {
            out.push('`');
        }
        out.push(c);
    }
    out.push('`');
    out
}

/// `db`.`table`
pub fn quote_table(db: &str, table: &str) -> String {
    format!("{}.{}", quote_ident(db), quote_ident(table))
}

/// Comma-separated quoted identifiers.
pub fn quote_list<S: AsRef<str>>(names: &[S]) -> String {
    names
        .iter()
        .map(|n| quote_ident(n.as_ref()))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_and_doubles_backticks() {
        assert_eq!(quote_ident("plain"), "`plain`");
        assert_eq!(quote_ident("a`b"), "`a``b`");
        assert_eq!(quote_ident("`"), "````");
        assert_eq!(
            quote_ident("x` ; DROP TABLE y; --"),
            "`x`` ; DROP TABLE y; --`"
        );
        assert_eq!(quote_table("d b", "t/1"), "`d b`.`t/1`");
        assert_eq!(quote_list(&["a", "b`"]), "`a`, `b```");
    }
}

//! Every way a request can fail, and the one place that maps each to an HTTP
//! status. Messages go to the client as `{"error": ..., "status": ...}`; they
//! never contain credentials.

use std::fmt;
use std::time::Duration;

use dbdump_shared::dberror::describe;

#[derive(Debug)]
pub enum ApiError {
    /// 400: bad `since`, unknown column, nothing left to select, …
    BadRequest(String),
    /// 401: missing or wrong Basic credentials.
    Unauthorized,
    /// 404: unknown or unexposed database/table, or a table that cannot be synced.
    NotFound(String),
    /// 405: anything but GET.
    MethodNotAllowed(String),
    /// 408: the request head did not arrive within `--listen-head-timeout`
    /// (or stalled for `--listen-timeout`).
    HeadTimeout(Duration),
    /// 414 / 431 / 400: a request head over the limits or malformed.
    UriTooLong,
    HeadersTooLarge,
    /// 503: every source connection is busy; try again shortly.
    Busy,
    /// 503: this client address already holds its share of connections.
    OverShare(usize),
    /// 503: every request thread is taken.
    TooManyClients,
    /// 503: the source database cannot be reached right now.
    SourceUnavailable(String),
    /// 500: a fault on our side or the database's; logged.
    Internal(String),
}

impl ApiError {
    pub fn status(&self) -> u16 {
        match self {
            ApiError::BadRequest(_) => 400,
            ApiError::Unauthorized => 401,
            ApiError::NotFound(_) => 404,
            ApiError::MethodNotAllowed(_) => 405,
            ApiError::HeadTimeout(_) => 408,
            ApiError::UriTooLong => 414,
            ApiError::HeadersTooLarge => 431,
            ApiError::Busy
            | ApiError::OverShare(_)
            | ApiError::TooManyClients
            | ApiError::SourceUnavailable(_) => 503,
            ApiError::Internal(_) => 500,
        }
    }

    /// Extra response headers this error calls for.
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        match self {
            ApiError::Unauthorized => vec![(
                "WWW-Authenticate",
                "Basic realm=\"dbdump\", charset=\"UTF-8\"".into(),
            )],
            ApiError::MethodNotAllowed(_) => vec![("Allow", "GET".into())],
            ApiError::Busy
            | ApiError::OverShare(_)
            | ApiError::TooManyClients
            | ApiError::SourceUnavailable(_) => vec![("Retry-After", "1".into())],
            _ => Vec::new(),
        }
    }

    /// Whether this is a fault worth an ERROR log line (client mistakes are not).
    pub fn is_fault(&self) -> bool {
        self.status() >= 500
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ApiError::BadRequest(m) | ApiError::NotFound(m) | ApiError::Internal(m) => {
                f.write_str(m)
            }
            ApiError::Unauthorized => f.write_str("authentication required"),
            ApiError::MethodNotAllowed(m) => write!(f, "method {m} not allowed; only GET is"),
            ApiError::HeadTimeout(limit) => write!(
                f,
                "request head not received within {} s; send the whole request at once",
                limit.as_secs_f64()
            ),
            ApiError::UriTooLong => f.write_str("request line too long"),
            ApiError::HeadersTooLarge => f.write_str("request headers too large"),
            ApiError::Busy => {
                f.write_str("all source database connections are busy; retry shortly")
            }
            ApiError::OverShare(share) => write!(
                f,
                "too many connections from your address at once ({share} at most); retry shortly"
            ),
            ApiError::TooManyClients => f.write_str("too many clients; retry shortly"),
            ApiError::SourceUnavailable(m) => write!(f, "source database unavailable: {m}"),
        }
    }
}

impl From<mysql::Error> for ApiError {
    fn from(e: mysql::Error) -> Self {
        match &e {
            mysql::Error::DriverError(mysql::DriverError::Timeout) => ApiError::Busy,
            mysql::Error::IoError(_)
            | mysql::Error::CodecError(_)
            | mysql::Error::DriverError(_) => ApiError::SourceUnavailable(describe(&e)),
            mysql::Error::MySqlError(m) if is_connectivity_code(m.code) => {
                ApiError::SourceUnavailable(describe(&e))
            }
            _ => ApiError::Internal(format!("source database error: {}", describe(&e))),
        }
    }
}

/// Server errors meaning "the database is going away / not ready", which a
/// client should retry rather than report as a fault.
fn is_connectivity_code(code: u16) -> bool {
    // ER_SERVER_SHUTDOWN, ER_QUERY_INTERRUPTED, ER_CON_COUNT_ERROR, ER_TOO_MANY_USER_CONNECTIONS
    matches!(code, 1053 | 1317 | 1040 | 1203)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_and_headers() {
        assert_eq!(ApiError::BadRequest("x".into()).status(), 400);
        assert_eq!(ApiError::Unauthorized.status(), 401);
        assert!(ApiError::Unauthorized.headers()[0].1.starts_with("Basic"));
        assert_eq!(ApiError::NotFound("x".into()).status(), 404);
        assert_eq!(
            ApiError::MethodNotAllowed("POST".into()).headers()[0],
            ("Allow", "GET".to_string())
        );
        assert_eq!(ApiError::Busy.status(), 503);
        assert_eq!(ApiError::Busy.headers()[0].0, "Retry-After");
        assert_eq!(ApiError::HeadTimeout(Duration::from_secs(10)).status(), 408);
        assert!(ApiError::HeadTimeout(Duration::from_secs(10))
            .to_string()
            .contains("within 10 s"));
        assert_eq!(ApiError::OverShare(4).status(), 503);
        assert_eq!(ApiError::OverShare(4).headers()[0].0, "Retry-After");
        assert_eq!(ApiError::TooManyClients.headers()[0].0, "Retry-After");
        assert!(ApiError::Internal("x".into()).is_fault());
        assert!(!ApiError::NotFound("x".into()).is_fault());
        let e: ApiError = mysql::Error::DriverError(mysql::DriverError::Timeout).into();
        assert_eq!(e.status(), 503);
    }
}

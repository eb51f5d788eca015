//! Retrying what dbd_server answers with 503 (every source connection busy,
//! too many clients, or the source database down for a moment, as during a
//! restart): wait as the answer asks, for up to about a minute, then fail.
//!
//! A source that stays down would otherwise cost that minute once per
//! request: a first copy of 20 tables, two ranges at a time, would wait ten
//! minutes before it ended. So once one request has retried its whole
//! minute, the requests after it fail at their first 503, until one gets an
//! answer again (a loop's next pass, after the source came back).

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use dbdump_shared::{debug, signals, warn};

use crate::source::client::ClientError;

/// How often a 503 is retried before the request fails.
const RETRIES: u32 = 60;
/// A 503 retried this often is worth telling: not a moment's busy pool.
const TELL_AFTER: u32 = 5;
/// The longest wait between two tries, whatever `Retry-After` asks.
const LONGEST_WAIT: Duration = Duration::from_secs(30);

/// Set when a request retried a 503 [`RETRIES`] times; cleared by any other
/// answer of the server.
static GAVE_UP: AtomicBool = AtomicBool::new(false);

/// Calls `f` again while dbd_server answers 503, waiting as it asks.
pub fn with_busy_retry<T>(f: impl FnMut() -> Result<T, ClientError>) -> Result<T, ClientError> {
    retry(f, &GAVE_UP)
}

fn retry<T>(
    mut f: impl FnMut() -> Result<T, ClientError>,
    gave_up: &AtomicBool,
) -> Result<T, ClientError> {
    let mut tries = 0;
    loop {
        let answer = f();
        let (retry_after, message) = match &answer {
            Err(ClientError::Status {
                status: 503,
                retry_after,
                message,
            }) => (retry_after, message),
            // A network error says nothing of the source; anything else
            // the server answers says it is back.
            Err(ClientError::Network(_) | ClientError::Tls(_) | ClientError::Proxy(_)) => {
                return answer
            }
            _ => {
                gave_up.store(false, Ordering::Relaxed);
                return answer;
            }
        };
        if gave_up.load(Ordering::Relaxed) || signals::stop_requested() {
            return answer;
        }
        if tries == RETRIES {
            gave_up.store(true, Ordering::Relaxed);
            return answer;
        }
        tries += 1;
        let wait = retry_after
            .unwrap_or(Duration::from_secs(1))
            .min(LONGEST_WAIT);
        if tries == TELL_AFTER {
            warn!(
                "dbd_server answered 503 {tries} times in a row ({message}); retrying, \
                 {} more tries before this request fails",
                RETRIES - tries
            );
        } else {
            debug!("dbd_server answered 503 ({message}); retrying in {wait:?}");
        }
        signals::sleep(wait);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn busy<T>() -> Result<T, ClientError> {
        Err(ClientError::Status {
            status: 503,
            message: "source database unavailable: refused".into(),
            retry_after: Some(Duration::ZERO),
        })
    }

    #[test]
    fn a_503_is_retried_until_an_answer_comes() {
        let gave_up = AtomicBool::new(false);
        let mut calls = 0;
        let got = retry(
            || {
                calls += 1;
                if calls < 10 {
                    busy()
                } else {
                    Ok(calls)
                }
            },
            &gave_up,
        );
        assert_eq!(got.unwrap(), 10);
    }

    #[test]
    fn after_one_request_gave_up_the_next_fails_at_its_first_503_until_an_answer() {
        let gave_up = AtomicBool::new(false);
        let mut calls = 0;
        assert!(retry(
            || -> Result<(), _> {
                calls += 1;
                busy()
            },
            &gave_up
        )
        .is_err());
        assert_eq!(calls, RETRIES + 1);
        calls = 0;
        assert!(retry(
            || -> Result<(), _> {
                calls += 1;
                busy()
            },
            &gave_up
        )
        .is_err());
        assert_eq!(calls, 1, "a source known to be down costs no second minute");
        // Other errors and answers are not retried, and an answer resets.
        assert!(retry(|| Ok(()), &gave_up).is_ok());
        calls = 0;
        let got = retry(
            || {
                calls += 1;
                if calls < 3 {
                    busy()
                } else {
                    Ok(())
                }
            },
            &gave_up,
        );
        assert!(got.is_ok());
        assert_eq!(calls, 3);
    }

    #[test]
    fn other_errors_are_not_retried() {
        let gave_up = AtomicBool::new(false);
        let mut calls = 0;
        let got: Result<(), _> = retry(
            || {
                calls += 1;
                Err(ClientError::Status {
                    status: 500,
                    message: "fault".into(),
                    retry_after: None,
                })
            },
            &gave_up,
        );
        assert!(got.is_err());
        assert_eq!(calls, 1);
    }
}

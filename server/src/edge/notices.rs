//! Warnings about clients that were refused or cut off, at most one line per
//! client a minute (and one a minute for "all threads busy"): an attacker
//! must neither flood the log nor hide among thousands of lines. Each line
//! counts the events since the client's previous line.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use dbdump_shared::warn;

use crate::edge::admission::Client;

/// How often one client (or the server-wide "busy") may have a line.
const QUIET: Duration = Duration::from_secs(60);
/// Clients remembered at once; past that, the rest share one line.
const MAX_TRACKED: usize = 1024;

#[derive(Clone, Copy)]
pub enum Event {
    /// Refused: the address already held its share of connections.
    OverShare,
    /// Closed: no complete request head within the deadline.
    HeadTimeout,
    /// The client hung up in the middle of its request head.
    Abandoned,
    /// Refused: every request thread was taken.
    Full,
}

#[derive(Default)]
struct Tally {
    last_line: Option<Instant>,
    over_share: u64,
    head_timeout: u64,
    abandoned: u64,
    full: u64,
}

impl Tally {
    fn count(&mut self, event: Event) {
        match event {
            Event::OverShare => self.over_share += 1,
            Event::HeadTimeout => self.head_timeout += 1,
            Event::Abandoned => self.abandoned += 1,
            Event::Full => self.full += 1,
        }
    }

    /// The line to log now, if this tally's minute is over.
    fn due(&mut self, now: Instant, limits: &Limits, who: &str) -> Option<String> {
        if self
            .last_line
            .is_some_and(|t| now.duration_since(t) < QUIET)
        {
            return None;
        }
        let mut parts = Vec::new();
        if self.over_share > 0 {
            parts.push(format!(
                "{} connection(s) refused: more than {} at once from one address (--listen-max-per-client)",
                self.over_share, limits.per_client
            ));
        }
        if self.head_timeout > 0 {
            parts.push(format!(
                "{} connection(s) closed: no complete request head within {} s (--listen-head-timeout)",
                self.head_timeout,
                limits.head_timeout.as_secs_f64()
            ));
        }
        if self.abandoned > 0 {
            parts.push(format!(
                "{} connection(s) closed by the client in the middle of its request head",
                self.abandoned
            ));
        }
        if self.full > 0 {
            parts.push(format!(
                "{} connection(s) refused: all {} request threads busy",
                self.full, limits.total
            ));
        }
        *self = Tally {
            last_line: Some(now),
            ..Tally::default()
        };
        Some(format!(
            "{who}: {}; at most one such line a minute",
            parts.join("; ")
        ))
    }
}

/// The limits the lines quote.
pub struct Limits {
    pub per_client: usize,
    pub total: usize,
    pub head_timeout: Duration,
}

#[derive(Default)]
struct Tallies {
    by_client: HashMap<Client, Tally>,
    /// Clients beyond [`MAX_TRACKED`].
    others: Tally,
    /// "All threads busy", whoever happened to connect.
    server: Tally,
}

pub struct Notices {
    limits: Limits,
    tallies: Mutex<Tallies>,
}

impl Notices {
    pub fn new(limits: Limits) -> Notices {
        Notices {
            limits,
            tallies: Mutex::new(Tallies::default()),
        }
    }

    /// Counts `event` for `client`; logs a line when its minute is over.
    pub fn note(&self, client: Client, event: Event) {
        if let Some(line) = self.count(client, event, Instant::now()) {
            warn!("{line}");
        }
    }

    fn count(&self, client: Client, event: Event, now: Instant) -> Option<String> {
        let mut tallies = self.tallies.lock().unwrap_or_else(|e| e.into_inner());
        let tallies = &mut *tallies;
        if let Event::Full = event {
            tallies.server.count(event);
            return tallies.server.due(now, &self.limits, "server busy");
        }
        if !tallies.by_client.contains_key(&client) && tallies.by_client.len() >= MAX_TRACKED {
            // Forget clients whose minute is over: their next event logs at
            // once anyway, so only uncounted events are lost.
            tallies
                .by_client
                .retain(|_, t| t.last_line.is_some_and(|l| now.duration_since(l) < QUIET));
        }
        let (tally, who) =
            if tallies.by_client.len() < MAX_TRACKED || tallies.by_client.contains_key(&client) {
                (
                    tallies.by_client.entry(client).or_default(),
                    format!("client {client}"),
                )
            } else {
                (&mut tallies.others, "other clients".to_string())
            };
        tally.count(event);
        tally.due(now, &self.limits, &who)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn notices() -> Notices {
        Notices::new(Limits {
            per_client: 4,
            total: 32,
            head_timeout: Duration::from_secs(10),
        })
    }

    fn client(i: u32) -> Client {
        Client::of(std::net::Ipv4Addr::from(0x0a00_0000 + i).into())
    }

    #[test]
    fn one_line_per_client_a_minute_counting_what_it_stands_for() {
        let n = notices();
        let t0 = Instant::now();
        let first = n.count(client(1), Event::HeadTimeout, t0).unwrap();
        assert!(
            first.starts_with("client 10.0.0.1: 1 connection(s) closed"),
            "{first}"
        );
        assert!(
            first.contains("within 10 s (--listen-head-timeout)"),
            "{first}"
        );
        for i in 0..500 {
            let at = t0 + Duration::from_millis(i * 100);
            assert!(n.count(client(1), Event::OverShare, at).is_none());
        }
        // Another client has its own minute.
        assert!(n.count(client(2), Event::OverShare, t0).is_some());
        let next = n
            .count(client(1), Event::HeadTimeout, t0 + Duration::from_secs(61))
            .unwrap();
        assert!(
            next.contains("500 connection(s) refused: more than 4"),
            "{next}"
        );
        assert!(next.contains("1 connection(s) closed"), "{next}");
    }

    #[test]
    fn thread_exhaustion_is_one_server_wide_line() {
        let n = notices();
        let t0 = Instant::now();
        let line = n.count(client(1), Event::Full, t0).unwrap();
        assert!(
            line.starts_with("server busy: 1 connection(s) refused: all 32"),
            "{line}"
        );
        assert!(n.count(client(2), Event::Full, t0).is_none());
    }

    #[test]
    fn memory_is_bounded_whatever_the_number_of_clients() {
        let n = notices();
        let t0 = Instant::now();
        let lines = (0..5000)
            .filter_map(|i| n.count(client(i), Event::OverShare, t0))
            .collect::<Vec<_>>();
        assert_eq!(n.tallies.lock().unwrap().by_client.len(), MAX_TRACKED);
        assert_eq!(lines.len(), MAX_TRACKED + 1, "the rest share one line");
        assert!(lines.last().unwrap().starts_with("other clients: "));
        // A minute later the old ones make room again.
        let later = t0 + Duration::from_secs(61);
        assert!(n.count(client(9999), Event::OverShare, later).is_some());
        assert_eq!(n.tallies.lock().unwrap().by_client.len(), 1);
    }
}

//! Who may have a request thread: at most `total` connections at once, and
//! at most `per_client` of them from one client address, so that one
//! address (a slowloris, a slow reader, a runaway script) holds its own
//! share of threads and source connections and never the others'.
//!
//! A client is an IPv4 address, or the /64 prefix of an IPv6 address (one
//! host usually owns a whole /64 and could pick a new address per
//! connection). Counting happens on the accept thread, before a byte of the
//! request is read: credentials cannot be checked yet, so they buy no extra
//! share.

use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::{Arc, Mutex, MutexGuard};

/// The unit a share is counted in: see the module documentation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Client(IpAddr);

impl Client {
    pub fn of(ip: IpAddr) -> Client {
        match ip {
            IpAddr::V4(v4) => Client(IpAddr::V4(v4)),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => Client(IpAddr::V4(v4)),
                None => {
                    let s = v6.segments();
                    Client(IpAddr::V6(Ipv6Addr::new(
                        s[0], s[1], s[2], s[3], 0, 0, 0, 0,
                    )))
                }
            },
        }
    }
}

impl fmt::Display for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            IpAddr::V4(v4) => write!(f, "{v4}"),
            IpAddr::V6(v6) => write!(f, "{v6}/64"),
        }
    }
}

/// Why a connection got no thread.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Its address already holds `per_client` connections.
    OverShare,
    /// All `total` threads are taken.
    Full,
}

#[derive(Default)]
struct Counts {
    total: usize,
    /// Only addresses with open connections: at most `total` entries.
    by_client: HashMap<Client, usize>,
}

pub struct Admission {
    pub per_client: usize,
    pub total: usize,
    counts: Mutex<Counts>,
}

/// One admitted connection; gives its place back when dropped.
pub struct Ticket {
    admission: Arc<Admission>,
    client: Client,
}

impl Admission {
    pub fn new(total: usize, per_client: usize) -> Arc<Admission> {
        Arc::new(Admission {
            per_client,
            total,
            counts: Mutex::new(Counts::default()),
        })
    }

    fn counts(&self) -> MutexGuard<'_, Counts> {
        // The counts stay consistent even if a holder panicked: every
        // change is a single increment or decrement.
        self.counts.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A place for one more connection from `client`, if it has one.
    pub fn admit(self: &Arc<Self>, client: Client) -> Result<Ticket, Refusal> {
        let mut counts = self.counts();
        let held = counts.by_client.get(&client).copied().unwrap_or(0);
        if held >= self.per_client {
            return Err(Refusal::OverShare);
        }
        if counts.total >= self.total {
            return Err(Refusal::Full);
        }
        counts.total += 1;
        *counts.by_client.entry(client).or_insert(0) += 1;
        Ok(Ticket {
            admission: self.clone(),
            client,
        })
    }

    /// Connections open right now.
    pub fn open(&self) -> usize {
        self.counts().total
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let mut counts = self.admission.counts();
        counts.total -= 1;
        if let Some(n) = counts.by_client.get_mut(&self.client) {
            *n -= 1;
            if *n == 0 {
                counts.by_client.remove(&self.client);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(s: &str) -> Client {
        Client::of(s.parse().unwrap())
    }

    #[test]
    fn ipv6_counts_by_64_prefix_and_mapped_ipv4_as_ipv4() {
        assert_eq!(client("2001:db8:1:2::5"), client("2001:db8:1:2:ffff::9"));
        assert_ne!(client("2001:db8:1:2::5"), client("2001:db8:1:3::5"));
        assert_eq!(client("::ffff:10.1.2.3"), client("10.1.2.3"));
        assert_ne!(client("10.1.2.3"), client("10.1.2.4"));
        assert_eq!(client("2001:db8:1:2::5").to_string(), "2001:db8:1:2::/64");
        assert_eq!(client("10.1.2.3").to_string(), "10.1.2.3");
    }

    #[test]
    fn a_client_holds_its_share_and_the_rest_stays_for_others() {
        let admission = Admission::new(5, 2);
        let (a, b) = (client("127.0.0.2"), client("127.0.0.3"));
        let a1 = admission.admit(a).unwrap();
        let _a2 = admission.admit(a).unwrap();
        assert_eq!(admission.admit(a).err(), Some(Refusal::OverShare));
        let others: Vec<_> = (0..3)
            .map(|_| admission.admit(Client::of([10, 0, 0, 1].into())))
            .collect();
        assert!(others[0].is_ok() && others[1].is_ok());
        assert_eq!(others[2].as_ref().err(), Some(&Refusal::OverShare));
        let _b1 = admission.admit(b).unwrap();
        assert_eq!(admission.open(), 5);
        assert_eq!(admission.admit(b).err(), Some(Refusal::Full));
        drop(a1);
        assert_eq!(admission.open(), 4);
        assert!(
            admission.admit(a).is_ok(),
            "a dropped ticket gives its place back"
        );
    }

    #[test]
    fn addresses_without_connections_are_forgotten() {
        let admission = Admission::new(64, 4);
        for i in 0..50u8 {
            drop(admission.admit(Client::of([10, 0, 0, i].into())).unwrap());
        }
        assert_eq!(admission.open(), 0);
        assert!(admission.counts().by_client.is_empty());
    }
}

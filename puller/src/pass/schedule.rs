//! Which tables get a convergence pass, and when. A one-shot run compares
//! every table after its pass. A polling run compares one table per poll,
//! right after that table's incremental pass, so that a comparison never
//! holds up the other tables' polls by more than one table's comparison:
//! `--force-resync` and every `--resync-interval` polls queue a `--verify`
//! of every table, worked off first; otherwise `--verify`/`--deletes` take
//! the tables in turn.
//!
//! Tables synced by digests (or whole) are compared whenever they are due:
//! always in a one-shot run; in a polling run when the source may have
//! changed them since their last equal comparison (the changes question
//! tells, by that comparison's horizon, which is kept here) and
//! `--digest-interval` has passed since that comparison began (by default
//! ten times as long as it took, so that hashing a big table costs at most
//! a tenth of the time), or when a resync is queued for them.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use crate::config::Config;
use crate::converge::Mode;

/// The last comparison of a table synced by digests or whole.
struct Compared {
    /// Its horizon (UTC text), if it came out equal: nothing before it is
    /// missing from the copy.
    horizon: Option<String>,
    began: Instant,
    took: Duration,
}

pub struct Schedule {
    polls: u64,
    /// Round-robin position for `--deletes`/`--verify` while polling.
    turn: usize,
    /// Tables owed a `--verify` (resync), oldest first.
    queued: VecDeque<String>,
    /// Tables synced by digests or whole: their last comparison.
    compared: HashMap<String, Compared>,
}

/// What one pass converges.
#[derive(Debug, PartialEq, Eq)]
pub enum Plan {
    Nothing,
    Every(Mode),
    One(String, Mode),
}

impl Plan {
    pub fn mode_for(&self, table: &str) -> Option<Mode> {
        match self {
            Plan::Nothing => None,
            Plan::Every(mode) => Some(*mode),
            Plan::One(t, mode) => (t == table).then_some(*mode),
        }
    }
}

impl Schedule {
    pub fn new() -> Schedule {
        Schedule {
            polls: 0,
            turn: 0,
            queued: VecDeque::new(),
            compared: HashMap::new(),
        }
    }

    /// The horizon of `table`'s last equal comparison, for the changes
    /// question (none: compare it).
    pub fn compared_horizon(&self, table: &str) -> Option<&str> {
        self.compared.get(table)?.horizon.as_deref()
    }

    /// Whether `table`, synced by digests or whole, is compared in this
    /// pass: `changed` is what the changes question said (`None`: not
    /// asked), `plan` this pass's plan (a queued resync compares it).
    pub fn digest_due(
        &self,
        cfg: &Config,
        plan: &Plan,
        table: &str,
        changed: Option<bool>,
    ) -> bool {
        if cfg.poll_interval.is_none() || plan.mode_for(table).is_some() {
            return true;
        }
        let Some(last) = self.compared.get(table) else {
            return true;
        };
        if changed == Some(false) && last.horizon.is_some() {
            return false;
        }
        let interval = cfg.digest_interval.unwrap_or(last.took * 10);
        last.began.elapsed() >= interval
    }

    /// `table` was compared, beginning at `began`; `horizon` is that of
    /// the comparison if the copy came out equal (`None`: it failed, and
    /// is compared again when due).
    pub fn digest_done(&mut self, table: &str, began: Instant, horizon: Option<String>) {
        let took = began.elapsed();
        self.compared.insert(
            table.to_string(),
            Compared {
                horizon,
                began,
                took,
            },
        );
    }

    /// The plan of the next pass over `tables`.
    pub fn next(&mut self, cfg: &Config, tables: &[String]) -> Plan {
        self.polls += 1;
        let asked = if cfg.verify || cfg.force_resync {
            Some(Mode::Verify)
        } else if cfg.deletes {
            Some(Mode::Deletes)
        } else {
            None
        };
        if cfg.poll_interval.is_none() {
            return asked.map_or(Plan::Nothing, Plan::Every);
        }
        let resync = (self.polls == 1 && cfg.force_resync)
            || cfg
                .resync_interval
                .is_some_and(|n| self.polls.is_multiple_of(n));
        if resync {
            for t in tables {
                if !self.queued.contains(t) {
                    self.queued.push_back(t.clone());
                }
            }
        }
        self.queued.retain(|t| tables.contains(t));
        if let Some(t) = self.queued.pop_front() {
            return Plan::One(t, Mode::Verify);
        }
        let mode = if cfg.verify {
            Mode::Verify
        } else if cfg.deletes {
            Mode::Deletes
        } else {
            return Plan::Nothing;
        };
        if tables.is_empty() {
            return Plan::Nothing;
        }
        let t = tables[self.turn % tables.len()].clone();
        self.turn += 1;
        Plan::One(t, mode)
    }

    /// A planned table could not be compared (its incremental pass
    /// failed): a queued resync of it goes back in the queue, behind the
    /// others, so that one broken table cannot hold up the rest.
    pub fn missed(&mut self, plan: &Plan, cfg: &Config) {
        if let Plan::One(t, Mode::Verify) = plan {
            let from_queue = !cfg.verify;
            if from_queue && !self.queued.contains(t) {
                self.queued.push_back(t.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(args: &[&str]) -> Config {
        crate::config::for_tests(args)
    }

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn one_shot_runs_compare_every_table() {
        let tables = names(&["a", "b"]);
        let mut s = Schedule::new();
        assert_eq!(s.next(&config(&[]), &tables), Plan::Nothing);
        assert_eq!(
            s.next(&config(&["--deletes"]), &tables),
            Plan::Every(Mode::Deletes)
        );
        assert_eq!(
            s.next(&config(&["-f", "--deletes"]), &tables),
            Plan::Every(Mode::Verify)
        );
        assert_eq!(
            s.next(&config(&["--verify"]), &tables).mode_for("b"),
            Some(Mode::Verify)
        );
    }

    #[test]
    fn polling_compares_one_table_a_poll_in_turn() {
        let cfg = config(&["--poll-interval", "1", "--deletes"]);
        let tables = names(&["a", "b", "c"]);
        let mut s = Schedule::new();
        let order: Vec<Plan> = (0..4).map(|_| s.next(&cfg, &tables)).collect();
        assert_eq!(
            order,
            [
                Plan::One("a".into(), Mode::Deletes),
                Plan::One("b".into(), Mode::Deletes),
                Plan::One("c".into(), Mode::Deletes),
                Plan::One("a".into(), Mode::Deletes),
            ]
        );
        assert_eq!(order[0].mode_for("b"), None);
    }

    #[test]
    fn digest_tables_are_compared_when_they_may_have_changed_and_are_due() {
        let once = config(&[]);
        let s = Schedule::new();
        assert!(
            s.digest_due(&once, &Plan::Nothing, "t", Some(false)),
            "one-shot: always"
        );
        let cfg = config(&["--poll-interval", "1", "--digest-interval", "3600"]);
        let mut s = Schedule::new();
        assert!(
            s.digest_due(&cfg, &Plan::Nothing, "t", None),
            "never compared"
        );
        s.digest_done(
            "t",
            Instant::now(),
            Some("2026-12-03 01:00:00.000000".into()),
        );
        assert_eq!(s.compared_horizon("t"), Some("2026-12-03 01:00:00.000000"));
        assert!(
            !s.digest_due(&cfg, &Plan::Nothing, "t", Some(false)),
            "unchanged"
        );
        assert!(
            !s.digest_due(&cfg, &Plan::Nothing, "t", Some(true)),
            "changed, but not due yet"
        );
        let resync = Plan::One("t".into(), Mode::Verify);
        assert!(
            s.digest_due(&cfg, &resync, "t", Some(false)),
            "a resync compares it"
        );
        let cfg = config(&["--poll-interval", "1", "--digest-interval", "0"]);
        assert!(s.digest_due(&cfg, &Plan::Nothing, "t", Some(true)));
        s.digest_done("t", Instant::now(), None);
        assert_eq!(
            s.compared_horizon("t"),
            None,
            "a failed comparison is not trusted"
        );
        assert!(s.digest_due(&cfg, &Plan::Nothing, "t", Some(false)));
        // By default: ten times as long as the last comparison took.
        let cfg = config(&["--poll-interval", "1"]);
        let took_5s = |ago: u64| Compared {
            horizon: Some("h".into()),
            began: Instant::now() - Duration::from_secs(ago),
            took: Duration::from_secs(5),
        };
        s.compared.insert("u".into(), took_5s(40));
        assert!(!s.digest_due(&cfg, &Plan::Nothing, "u", Some(true)));
        s.compared.insert("u".into(), took_5s(60));
        assert!(s.digest_due(&cfg, &Plan::Nothing, "u", Some(true)));
    }

    #[test]
    fn resyncs_queue_every_table_and_go_first() {
        let cfg = config(&[
            "--poll-interval",
            "1",
            "-f",
            "--resync-interval",
            "4",
            "--deletes",
        ]);
        let tables = names(&["a", "b"]);
        let mut s = Schedule::new();
        let plans: Vec<Plan> = (0..6).map(|_| s.next(&cfg, &tables)).collect();
        let verify = |t: &str| Plan::One(t.into(), Mode::Verify);
        let deletes = |t: &str| Plan::One(t.into(), Mode::Deletes);
        assert_eq!(
            plans,
            [
                verify("a"),
                verify("b"),
                deletes("a"),
                verify("a"),
                verify("b"),
                deletes("b")
            ]
        );
        // Without -f nothing is queued before the interval.
        let cfg = config(&["--poll-interval", "1", "--resync-interval", "2"]);
        let mut s = Schedule::new();
        assert_eq!(s.next(&cfg, &tables), Plan::Nothing);
        let second = s.next(&cfg, &tables);
        assert_eq!(second, verify("a"));
        s.missed(&second, &cfg);
        assert_eq!(s.next(&cfg, &tables), verify("b"));
        assert_eq!(
            s.next(&cfg, &tables),
            verify("a"),
            "a failed pass is owed its comparison, after the others"
        );
    }
}

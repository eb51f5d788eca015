//! Which tables get a convergence pass, and when. A one-shot run compares
//! every table after its pass. A polling run compares one table per poll,
//! right after that table's incremental pass, so that a comparison never
//! holds up the other tables' polls by more than one table's comparison:
//! `--force-resync` and every `--resync-interval` polls queue a `--verify`
//! of every table, worked off first; otherwise `--verify`/`--deletes` take
//! the tables in turn.

use std::collections::VecDeque;

use crate::config::Config;
use crate::converge::Mode;

pub struct Schedule {
    polls: u64,
    /// Round-robin position for `--deletes`/`--verify` while polling.
    turn: usize,
    /// Tables owed a `--verify` (resync), oldest first.
    queued: VecDeque<String>,
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
        }
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

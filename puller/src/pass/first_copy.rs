//! First copies, at the start of a pass and before the tables' own syncs:
//! every table read by a cursor or synced by digests whose destination
//! table is empty (or whose comment marks a first copy in progress) is
//! copied in key order, split into key ranges that `--copy-streams` workers
//! copy at once, the ranges of all such tables in one queue: `2 ×
//! --copy-streams` ranges among the tables whose copies start, each table
//! its share by the source's estimate of its rows, at least one. One horizon
//! (the ranges answer's) holds for every range of a table: rows changed
//! during the copy carry a later timestamp and come with the incremental
//! pass that follows, wherever they are. The table's comment carries the
//! mark (horizon, boundaries, its own comment) while the copy runs, so a
//! killed puller resumes each range after its greatest key instead of
//! starting over; the mark comes off when every range is done. Its
//! secondary (non-unique) indexes are dropped for the copy and built when
//! every range is done, in the statement that takes the mark off: one sort
//! instead of a million inserts at random places. A table
//! that cannot be marked (no ALTER privilege, a comment of its own too
//! long) or an older server gets its first copy the old way, one stream.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use dbdump_shared::ranges::KeyRanges;
use dbdump_shared::{debug, info, signals};

use crate::apply::copy::{self, lock, Feed, Target};
use crate::apply::destination::Destination;
use crate::apply::failure::TableError;
use crate::apply::marker::{self, Mark};
use crate::config::tables::Named;
use crate::config::Config;
use crate::pass::changes::Survey;
use crate::pass::tables::{ByCursor, How, Planned};
use crate::schema;
use crate::source::client::Client;
use crate::source::requests::{range_path, ranges_path};
use crate::source::retry::with_busy_retry;

/// Tables the source estimates smaller get their first copy in one stream.
const SMALL_TABLE_ROWS: u64 = 5_000;

/// What a table's first copy did.
#[derive(Debug, Clone)]
pub struct Copied {
    pub rows: u64,
    pub ranges: usize,
    /// It went on with a copy a killed puller left.
    pub resumed: bool,
    /// From its first range's start to its end (the tables' copies
    /// overlap).
    pub elapsed: Duration,
    /// Bytes read from the server for it: the copies' bytes shared out by
    /// rows (the ranges of all tables stream at once).
    pub bytes: u64,
    /// The horizon the copy was read under (UTC for a table without a
    /// cursor: what a table synced by digests is now complete up to).
    pub horizon: String,
}

/// The first copies of a pass, by table.
pub type FirstCopies = HashMap<String, Result<Copied, TableError>>;

/// One table being copied, before its ranges run.
struct Prepared {
    name: String,
    mark: Mark,
    ranges: usize,
    resumed: bool,
}

/// The cursor and key of a table a first copy can take, and whether its
/// ranges are read below the copy's horizon (a table read by a cursor).
fn copyable(p: &Planned) -> Option<(Option<&Named>, &[String], bool)> {
    match &p.how {
        How::Cursor(ByCursor {
            info: Some(info),
            named,
        }) => Some((named.as_ref(), &info.key, true)),
        How::Digest { key } => Some((None, key, false)),
        _ => None,
    }
}

/// Runs the first copies the tables of this pass need.
pub fn run(
    cfg: &Config,
    client: &Client,
    dest: &mut Destination,
    tables: &[Planned],
    survey: &Survey,
) -> FirstCopies {
    let started = Instant::now();
    let mut copies = FirstCopies::new();
    // Unknown (the query failed): every table's own comment is read.
    let marked = marker::marked_tables(dest).map_err(|e| debug!("{e}")).ok();
    // First which tables need a copy (and which resume one), then their
    // ranges: how many each is split into depends on all of them.
    let mut found = Vec::new();
    for p in tables {
        let Some((cursor, key, below)) = copyable(p) else {
            continue;
        };
        let may_be_marked = marked
            .as_ref()
            .is_none_or(|m| m.contains(&p.name.to_lowercase()));
        if !may_be_marked
            && (survey.unchanged(&p.name).is_some()
                || survey
                    .estimate(&p.name)
                    .is_some_and(|n| n < SMALL_TABLE_ROWS))
        {
            // Nothing new, or small: no query for it (an idle pass over
            // many tables stays as cheap as it was).
            continue;
        }
        match examine(cfg, client, dest, p, cursor, survey) {
            Ok(Some(f)) => found.push((p, cursor, key, below, f)),
            Ok(None) => {}
            // Told again, in its place, by the table's own sync.
            Err(e) => debug!("no first copy of `{}` by key: {e}", p.name),
        }
    }
    if found.is_empty() {
        return copies;
    }
    let fresh_rows: u64 = found
        .iter()
        .filter(|(.., f)| matches!(f, Found::Fresh(_)))
        .filter_map(|(p, ..)| survey.estimate(&p.name))
        .sum();
    let targets: Vec<Target> = found
        .iter()
        .map(|(p, ..)| Target {
            name: p.name.clone(),
        })
        .collect();
    // Filled by the feed, table by table, while the first ones are copied.
    let prepared: Mutex<Vec<Option<Prepared>>> = Mutex::new(found.iter().map(|_| None).collect());
    let read_before = client.bytes_read();
    // Done: the indexes and the table's own comment go back, as soon as
    // its last range is in (the other tables' ranges go on meanwhile).
    let took: Mutex<Vec<Option<Duration>>> = Mutex::new(vec![None; found.len()]);
    let finish = |dest: &mut Destination, target: usize, began: Instant| {
        let (name, mark) = match &lock(&prepared)[target] {
            Some(table) => (table.name.clone(), table.mark.clone()),
            None => return Err("a first copy finished before it began".into()),
        };
        if !mark.deferred.is_empty() {
            info!(
                "first copy of `{name}`: building the {} secondary index(es) left for its end",
                mark.deferred.len()
            );
        }
        marker::finish(dest, &name, &mark)?;
        lock(&took)[target] = Some(began.elapsed());
        Ok(())
    };
    // The ranges of the fresh copies, asked for before any is copied: the
    // server answers them while it streams nothing (a ranges request next
    // to two streams took its peak RSS from 13 to 17 MB on 20 tables).
    let ranges: Vec<Option<KeyRanges>> = found
        .iter()
        .map(|(p, cursor, .., f)| match f {
            Found::Marked(_) => None,
            Found::Fresh(_) => {
                let count = range_count(survey.estimate(&p.name), fresh_rows, cfg.copy_streams);
                ask_ranges(cfg, client, &p.name, *cursor, count)
            }
        })
        .collect();
    // Each table's mark set (and its indexes dropped) on this thread's
    // connection, handed to the workers one table at a time: the first
    // table is copied while the others are still being prepared.
    let feed = |feed: &Feed<'_, '_>| {
        let tables = found.into_iter().zip(ranges).enumerate();
        for (target, ((p, cursor, key, below, f), ranges)) in tables {
            if signals::stop_requested() {
                break;
            }
            match start(cfg, dest, p, cursor, key, below, f, ranges) {
                Ok(Some((mark, resumed, estimate, paths))) => {
                    lock(&prepared)[target] = Some(Prepared {
                        name: p.name.clone(),
                        ranges: mark.boundaries.len() + 1,
                        mark,
                        resumed,
                    });
                    feed.add(target, paths, estimate);
                }
                Ok(None) => {}
                Err(e) => debug!("no first copy of `{}` by key: {e}", p.name),
            }
        }
    };
    let results = copy::run(cfg, client, &targets, cfg.copy_streams, &finish, feed);
    let read = client.bytes_read() - read_before;
    let prepared = prepared.into_inner().unwrap_or_else(|p| p.into_inner());
    let all_rows: u64 = prepared
        .iter()
        .zip(&results)
        .filter(|(table, _)| table.is_some())
        .filter_map(|(_, r)| r.as_ref().ok())
        .sum();
    let took = took.into_inner().unwrap_or_else(|p| p.into_inner());
    for ((table, rows), took) in prepared.into_iter().zip(results).zip(took) {
        // A table the feed did not start gets its first copy by its sync.
        let Some(table) = table else {
            continue;
        };
        let done = rows.map(|rows| Copied {
            rows,
            bytes: (read as u128 * u128::from(rows) / u128::from(all_rows.max(1))) as u64,
            ranges: table.ranges,
            resumed: table.resumed,
            elapsed: took.unwrap_or_else(|| started.elapsed()),
            horizon: table.mark.horizon.clone(),
        });
        copies.insert(table.name, done);
    }
    copies
}

/// What the destination says of a table a first copy may be for.
enum Found {
    /// A copy a killed puller left: always resumed (its newest row says
    /// nothing of the ranges not copied yet).
    Marked(Mark),
    /// Empty, and the source has rows for it: a copy starts, the table's
    /// own comment to be kept in the mark.
    Fresh(String),
}

/// Whether `p` needs a first copy by key; `None` when it needs none (it
/// holds rows and no mark, the changes question found the source has
/// nothing for it either, or the source estimates it small).
fn examine(
    cfg: &Config,
    client: &Client,
    dest: &mut Destination,
    p: &Planned,
    cursor: Option<&Named>,
    survey: &Survey,
) -> Result<Option<Found>, TableError> {
    let table = p.name.as_str();
    if cfg.create_tables {
        schema::create_if_missing(cfg, client, dest, table, cursor)?;
    }
    dest.columns(table)?;
    let comment = marker::comment(dest, table)?;
    Ok(match Mark::parse(&comment) {
        Some(mark) => Some(Found::Marked(mark)),
        None if survey.unchanged(table).is_some() || !dest.is_empty(table)? => None,
        // Small by the changes question's estimate: not even the ranges
        // request (a first pass over many small tables stays as it was).
        None if survey.estimate(table).is_some_and(|n| n < SMALL_TABLE_ROWS) => None,
        None => Some(Found::Fresh(comment)),
    })
}

/// How many ranges to ask for a table the source estimates at `rows`,
/// when the tables whose copies start now hold `total`: the workers get
/// `2 × streams` ranges among them all, a table its share and at least
/// one. Two sessions inserting into one table contend for its pages, and
/// every range costs a request and a statement: 20 tables of 50,000 rows
/// took 3.4 to 3.6 s in one range each, 3.8 s in four.
fn range_count(rows: Option<u64>, total: u64, streams: usize) -> usize {
    let most = streams.max(1) * 2;
    match rows {
        Some(n) if total > 0 => {
            // Rounded: the estimates are the optimizer's, not counts.
            let share =
                (u128::from(n) * most as u128 * 2 + u128::from(total)) / (u128::from(total) * 2);
            (share.min(most as u128) as usize).max(1)
        }
        _ => most,
    }
}

/// The key ranges of a fresh copy of `table`, `count` or fewer; `None`
/// when it gets no first copy by key after all (small or empty by the
/// ranges answer, or an older server).
fn ask_ranges(
    cfg: &Config,
    client: &Client,
    table: &str,
    cursor: Option<&Named>,
    count: usize,
) -> Option<KeyRanges> {
    let path = ranges_path(cfg, table, cursor, count);
    let ranges: KeyRanges = match with_busy_retry(|| client.get_json(&path)) {
        Ok(r) => r,
        Err(e) => {
            debug!("no ranges for `{table}` ({e}): its first copy is one stream");
            return None;
        }
    };
    if ranges.estimated_rows.is_some_and(|n| n < SMALL_TABLE_ROWS) {
        // A stream in timestamp order costs less than ranges and
        // the ALTER TABLEs that mark them; a wrong estimate only
        // makes the copy slower.
        debug!("`{table}` is small: its first copy is one stream");
        return None;
    }
    if ranges.empty {
        // Nothing to copy: the table's own sync reads from nothing.
        debug!("`{table}` is empty on the source too: no first copy");
        return None;
    }
    Some(ranges)
}

/// Starts the first copy of `table` in `ranges`: the ranges' mark on the
/// table (its own `comment` kept in it) and the source's estimate of its
/// rows; `None` when it gets none by key after all (a table that cannot
/// be marked).
fn begin(
    dest: &mut Destination,
    table: &str,
    comment: String,
    ranges: KeyRanges,
) -> Result<Option<(Mark, Option<u64>)>, TableError> {
    let deferred = marker::deferrable(dest, table).unwrap_or_else(|e| {
        debug!("`{table}` keeps its indexes during its first copy: {e}");
        Vec::new()
    });
    let mark = Mark {
        horizon: ranges.horizon,
        boundaries: ranges.boundaries,
        comment,
        deferred,
    };
    let Some((mark, text)) = mark.fit() else {
        info!("table `{table}`: its comment leaves no room to mark a first copy in; it is copied in one stream");
        return Ok(None);
    };
    if let Err(e) = marker::set_checked(dest, table, &text, &mark.comment) {
        info!(
            "table `{table}`: its first copy goes in one stream, not by key ranges: cannot \
             mark it in the table's comment ({e})"
        );
        return Ok(None);
    }
    if !mark.deferred.is_empty() {
        // Kept, the indexes only make the copy slower; the mark
        // names them either way, and the end adds those missing.
        if let Err(e) = marker::drop_deferred(dest, table, &mark) {
            info!("table `{table}`: its first copy keeps its secondary indexes ({e})");
        }
    }
    Ok(Some((mark, ranges.estimated_rows)))
}

/// A copy's mark, whether it resumes one, the source's estimate of its
/// rows (a fresh copy's) and its ranges' paths; `None` when it gets no
/// first copy by key after all (a fresh one without `ranges`).
#[allow(clippy::type_complexity, clippy::too_many_arguments)]
fn start(
    cfg: &Config,
    dest: &mut Destination,
    p: &Planned,
    cursor: Option<&Named>,
    key: &[String],
    below: bool,
    found: Found,
    ranges: Option<KeyRanges>,
) -> Result<Option<(Mark, bool, Option<u64>, Vec<String>)>, TableError> {
    let (mark, resumed, estimate) = match (found, ranges) {
        (Found::Marked(mark), _) => (mark, true, None),
        (Found::Fresh(_), None) => return Ok(None),
        (Found::Fresh(comment), Some(ranges)) => match begin(dest, &p.name, comment, ranges)? {
            Some((mark, estimate)) => (mark, false, estimate),
            None => return Ok(None),
        },
    };
    let paths = range_paths(cfg, dest, &p.name, cursor, key, below, &mark, resumed)?;
    Ok(Some((mark, resumed, estimate, paths)))
}

/// The paths of `table`'s ranges, each below the copy's horizon (`below`)
/// and, `resumed`, after the greatest key the destination holds in it.
#[allow(clippy::too_many_arguments)]
fn range_paths(
    cfg: &Config,
    dest: &mut Destination,
    table: &str,
    cursor: Option<&Named>,
    key: &[String],
    below: bool,
    mark: &Mark,
    resumed: bool,
) -> Result<Vec<String>, TableError> {
    let columns = if resumed {
        marker::key_columns(dest, table, key)?
    } else {
        Vec::new()
    };
    let b = &mark.boundaries;
    let mut paths = Vec::with_capacity(b.len() + 1);
    for i in 0..=b.len() {
        let mut after = (i > 0).then(|| b[i - 1].get().to_string());
        let until = b.get(i).map(|u| u.get());
        if resumed {
            let lower = (i > 0).then(|| b[i - 1].as_ref());
            if let Some(at) =
                marker::greatest_key_in(dest, table, &columns, lower, b.get(i).map(|u| u.as_ref()))?
            {
                after = Some(at);
            }
        }
        let before = below.then_some(mark.horizon.as_str());
        paths.push(range_path(
            cfg,
            table,
            cursor,
            after.as_deref(),
            until,
            before,
        ));
    }
    if resumed {
        let ranges = match b.len() + 1 {
            1 => "1 range, after the rows it holds".to_string(),
            n => format!("{n} ranges, each after the rows it holds"),
        };
        info!(
            "table `{table}`: resuming its first copy in {ranges} (an earlier copy was interrupted)"
        );
    }
    Ok(paths)
}

#[cfg(test)]
mod tests {
    use super::range_count;

    #[test]
    fn one_table_gets_every_range_and_many_tables_their_share() {
        assert_eq!(range_count(Some(1_000_000), 1_000_000, 2), 4);
        assert_eq!(range_count(Some(50_000), 1_000_000, 2), 1);
        assert_eq!(range_count(Some(30_000), 46_000, 2), 3);
        assert_eq!(range_count(Some(8_000), 46_000, 2), 1);
        assert_eq!(range_count(Some(600_000), 1_000_000, 4), 5);
        assert_eq!(range_count(Some(8_000), 31_000, 2), 1);
        assert_eq!(range_count(Some(15_000), 31_000, 2), 2);
    }

    #[test]
    fn without_an_estimate_a_table_gets_every_range() {
        assert_eq!(range_count(None, 1_000_000, 2), 4);
        assert_eq!(range_count(Some(10_000), 0, 3), 6);
        assert_eq!(range_count(Some(u64::MAX), 1, 32), 64);
        assert_eq!(range_count(Some(0), 100, 0), 1);
    }
}

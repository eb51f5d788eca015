//! First copies, several key ranges at once: a few workers, each with its
//! own destination connection, take ranges from one queue (of every table
//! being copied) and stream each into its table in key order. A feeder
//! thread fills the queue table by table (its mark set, its indexes
//! dropped) while the workers already copy the first ones, and this thread
//! tells each table's progress. A range is one stream, batch by batch, so
//! an interrupted one leaves a prefix of itself; a table whose range fails
//! has its other ranges left for the next run. The worker that copies a
//! table's last range also finishes the table (`Finish`), so the indexes
//! of one table are built while the others are still copied.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use dbdump_shared::signals;

use crate::apply::destination::Destination;
use crate::apply::failure::TableError;
use crate::apply::transfer::{self, Report};
use crate::config::Config;
use crate::observe::progress::Progress;
use crate::source::client::Client;

/// How often each table's progress is looked at.
const PROGRESS_EVERY: Duration = Duration::from_millis(200);

/// One range to copy: which table (an index into the targets) and the
/// stream's path.
pub struct Job {
    pub target: usize,
    pub path: String,
}

/// A table that may be copied: it is once the feed gives it ranges.
pub struct Target {
    pub name: String,
}

/// Per target, the rows copied, or why its copy failed.
pub type Results = Vec<Result<u64, TableError>>;

/// What is done to a target, on the connection of the worker that copied
/// its last range, once every one of its ranges is copied; told when its
/// first range began.
pub type Finish<'a> =
    &'a (dyn Fn(&mut Destination, usize, Instant) -> Result<(), TableError> + Sync);

#[derive(Default)]
struct Queue {
    jobs: VecDeque<Job>,
    /// No more ranges will come: a worker that finds none left ends.
    closed: bool,
}

struct Shared<'a> {
    queue: Mutex<Queue>,
    /// Signalled when ranges are added or the queue is closed.
    more: Condvar,
    rows: Vec<AtomicU64>,
    /// Ranges of each target not copied yet.
    left: Vec<AtomicUsize>,
    /// Workers copying a range of each target now.
    busy: Vec<AtomicUsize>,
    /// When a worker took each target's first range.
    began: Mutex<Vec<Option<Instant>>>,
    /// The targets given ranges, with the source's estimate of their rows
    /// (for progress), in the order they were given them.
    fed: Mutex<Vec<(usize, Option<u64>)>>,
    errors: Mutex<Vec<Option<TableError>>>,
    /// Set when a table failed: its remaining ranges are skipped.
    failed: Vec<AtomicBool>,
    targets: &'a [Target],
}

/// A lock that a panicked holder did not spoil: what it guards stays usable.
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Shared<'_> {
    /// The next range to copy, waiting for the feed while it is open: of a
    /// table no other worker is copying, if the queue has one (two sessions
    /// inserting into one table contend for its index pages: 20 tables
    /// copied a table at a time took about 5 % longer), else the first
    /// once the feed has ended (until then, the next table it adds may be
    /// one nobody copies).
    fn next(&self) -> Option<Job> {
        let mut queue = lock(&self.queue);
        loop {
            queue
                .jobs
                .retain(|job| !self.failed[job.target].load(Ordering::Relaxed));
            let idle = |job: &Job| self.busy[job.target].load(Ordering::Relaxed) == 0;
            let at = match queue.jobs.iter().position(idle) {
                Some(at) => Some(at),
                None if queue.closed => (!queue.jobs.is_empty()).then_some(0),
                None => None,
            };
            if let Some(job) = at.and_then(|at| queue.jobs.remove(at)) {
                self.busy[job.target].fetch_add(1, Ordering::Relaxed);
                lock(&self.began)[job.target].get_or_insert_with(Instant::now);
                return Some(job);
            }
            if queue.closed {
                return None;
            }
            queue = self.more.wait(queue).unwrap_or_else(|p| p.into_inner());
        }
    }

    /// The worker is done with `job`'s table, for now.
    fn release(&self, job: &Job) {
        self.busy[job.target].fetch_sub(1, Ordering::Relaxed);
    }

    fn fail(&self, target: usize, e: TableError) {
        self.failed[target].store(true, Ordering::Relaxed);
        let mut errors = lock(&self.errors);
        if errors[target].is_none() {
            errors[target] = Some(e);
        }
    }

    fn close(&self) {
        lock(&self.queue).closed = true;
        self.more.notify_all();
    }
}

/// Hands the workers the ranges of one target after another.
pub struct Feed<'s, 'a> {
    shared: &'s Shared<'a>,
}

impl Feed<'_, '_> {
    /// Queues every range of `target` (whose rows the source estimates at
    /// `estimate`) at once, so that none is finished before all are known.
    pub fn add(&self, target: usize, paths: Vec<String>, estimate: Option<u64>) {
        let mut queue = lock(&self.shared.queue);
        self.shared.left[target].fetch_add(paths.len(), Ordering::AcqRel);
        queue
            .jobs
            .extend(paths.into_iter().map(|path| Job { target, path }));
        lock(&self.shared.fed).push((target, estimate));
        drop(queue);
        self.shared.more.notify_all();
    }
}

/// Closes the queue when the feed ends, however it ends: the workers
/// waiting for ranges must not wait forever.
struct CloseOnDrop<'s, 'a>(&'s Shared<'a>);

impl Drop for CloseOnDrop<'_, '_> {
    fn drop(&mut self) {
        self.0.close();
    }
}

/// Copies the ranges `feed` gives (on its own thread, while they are
/// copied) with up to `streams` workers, and `finish`es each target whose
/// ranges are all copied; returns each target's rows (0 for a target the
/// feed gave none).
pub fn run(
    cfg: &Config,
    client: &Client,
    targets: &[Target],
    streams: usize,
    finish: Finish<'_>,
    feed: impl FnOnce(&Feed<'_, '_>) + Send,
) -> Results {
    let each = |n: usize| -> Vec<AtomicUsize> { (0..n).map(|_| AtomicUsize::new(0)).collect() };
    let shared = Shared {
        queue: Mutex::new(Queue::default()),
        more: Condvar::new(),
        rows: targets.iter().map(|_| AtomicU64::new(0)).collect(),
        left: each(targets.len()),
        busy: each(targets.len()),
        began: Mutex::new(vec![None; targets.len()]),
        fed: Mutex::new(Vec::new()),
        errors: Mutex::new(targets.iter().map(|_| None).collect()),
        failed: targets.iter().map(|_| AtomicBool::new(false)).collect(),
        targets,
    };
    let workers = streams.max(1);
    let (ended, done) = mpsc::channel::<()>();
    std::thread::scope(|s| {
        for _ in 0..workers {
            let ended = ended.clone();
            let shared = &shared;
            s.spawn(move || {
                work(cfg, client, shared, finish);
                let _ = ended.send(());
            });
        }
        let shared_ref = &shared;
        s.spawn(move || {
            let _close = CloseOnDrop(shared_ref);
            feed(&Feed { shared: shared_ref });
        });
        // Progress per table from the rows the workers count, each from
        // when the feed gave it ranges; woken as soon as the last worker
        // ends rather than at the next look.
        let mut progress: Vec<(usize, Progress<'_>)> = Vec::new();
        let mut finished = 0;
        while finished < workers {
            match done.recv_timeout(PROGRESS_EVERY) {
                Ok(()) => finished += 1,
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
            for &(i, estimate) in lock(&shared.fed).iter().skip(progress.len()) {
                progress.push((i, Progress::start(&targets[i].name, estimate)));
            }
            for (i, p) in progress.iter_mut() {
                p.update(shared.rows[*i].load(Ordering::Relaxed));
            }
        }
    });
    let errors = shared
        .errors
        .into_inner()
        .unwrap_or_else(|p| p.into_inner());
    errors
        .into_iter()
        .zip(shared.rows.iter().zip(&shared.left))
        .map(|(e, (rows, left))| match e {
            Some(e) => Err(e),
            // Every worker ended early (none could connect, say).
            None if left.load(Ordering::Acquire) > 0 => {
                Err("some of its key ranges were not copied; the next run resumes them".into())
            }
            None => Ok(rows.load(Ordering::Relaxed)),
        })
        .collect()
}

/// One worker: ranges from the queue until it is empty (or a stop is
/// asked), each into its table on this worker's own connection.
fn work(cfg: &Config, client: &Client, shared: &Shared<'_>, finish: Finish<'_>) {
    let mut dest = match Destination::connect(cfg) {
        Ok(d) => d,
        Err(e) => {
            // Without a connection this worker takes no range; the first
            // one it would have taken fails, saying why.
            if let Some(job) = shared.next() {
                shared.fail(job.target, e.into());
                shared.release(&job);
            }
            return;
        }
    };
    while let Some(job) = shared.next() {
        if signals::stop_requested() {
            shared.fail(job.target, "interrupted".into());
            shared.release(&job);
            continue;
        }
        let table = &shared.targets[job.target].name;
        let counter = &shared.rows[job.target];
        let applied = transfer::apply_stream(
            client,
            &mut dest,
            table,
            &job.path,
            &mut |_, _| Ok(()),
            Report::Into(counter),
        );
        if let Err(e) = applied {
            shared.fail(job.target, e);
            shared.release(&job);
            continue;
        }
        // Only copied ranges count down: a table with a failed range is
        // never finished, and its mark stays for the next run.
        let last = shared.left[job.target].fetch_sub(1, Ordering::AcqRel) == 1;
        if last && !shared.failed[job.target].load(Ordering::Relaxed) {
            let began = lock(&shared.began)[job.target];
            if let Err(e) = finish(&mut dest, job.target, began.unwrap_or_else(Instant::now)) {
                shared.fail(job.target, e);
            }
        }
        shared.release(&job);
    }
}

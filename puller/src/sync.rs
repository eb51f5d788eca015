//! One pass over the tables: for each, resume from the destination's newest
//! (timestamp, key), stream what changed from dbd_server and apply it.
//! A table fails alone, with a one-line reason; the others go on.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use dbdump_shared::http::percent_encode;
use dbdump_shared::wire::{TableInfo, TableList};
use dbdump_shared::{debug, error, info, signals, warn};

use crate::apply::{Batch, Destination, Resume};
use crate::client::{Client, ClientError};
use crate::config::Config;
use crate::failure::TableError;
use crate::stream::{self, End, Failure};

/// What one table's sync did.
#[derive(Debug)]
pub struct Synced {
    pub rows: u64,
    pub elapsed: Duration,
}

/// The outcome of a pass: per table, rows applied or why it failed.
pub struct PassReport {
    pub tables: Vec<(String, Result<Synced, String>)>,
    /// A failure before any table could start (server or destination down).
    pub fatal: Option<String>,
}

impl PassReport {
    pub fn ok(&self) -> bool {
        self.fatal.is_none() && self.tables.iter().all(|(_, r)| r.is_ok())
    }
}

/// How often a 503 (server busy) is retried before the table fails.
const BUSY_RETRIES: u32 = 60;

pub fn pass(cfg: &Config, client: &Client) -> PassReport {
    let mut report = PassReport {
        tables: Vec::new(),
        fatal: None,
    };
    let listing_path = format!("/{}/", percent_encode(&cfg.source_database));
    let listing: TableList = match with_busy_retry(|| client.get_json(&listing_path)) {
        Ok(l) => l,
        Err(e) => {
            report.fatal = Some(format!(
                "cannot list tables of `{}` at {}: {e}",
                cfg.source_database,
                client.base()
            ));
            return report;
        }
    };
    let tables: Vec<(String, Option<TableInfo>)> = match &cfg.tables {
        None => listing
            .tables
            .into_iter()
            .map(|t| (t.table.clone(), Some(t)))
            .collect(),
        Some(names) => names
            .iter()
            .map(|n| {
                (
                    n.clone(),
                    listing.tables.iter().find(|t| &t.table == n).cloned(),
                )
            })
            .collect(),
    };
    let mut dest = match Destination::connect(cfg) {
        Ok(d) => d,
        Err(e) => {
            report.fatal = Some(e);
            return report;
        }
    };
    for (name, info) in tables {
        if signals::stop_requested() {
            break;
        }
        let result = sync_table(cfg, client, &mut dest, &name, info.as_ref());
        match &result {
            // The table stays where its last good batch left it and is tried
            // again next pass; the other tables, and the exit code, go on.
            Err(e) if e.refused_by_destination && cfg.ignore_database_errors => {
                warn!("table `{name}` skipped (--ignore-database-errors): {e}");
                continue;
            }
            Ok(s) => {
                let secs = s.elapsed.as_secs_f64();
                let rate = if secs > 0.0 {
                    s.rows as f64 / secs
                } else {
                    0.0
                };
                info!(
                    "table `{name}`: {} rows applied in {secs:.2} s ({rate:.0} rows/s)",
                    s.rows
                );
            }
            Err(e) => error!("table `{name}` failed: {e}"),
        }
        report.tables.push((name, result.map_err(String::from)));
    }
    report
}

/// Retries `f` while the server answers 503, waiting as it asks.
fn with_busy_retry<T>(mut f: impl FnMut() -> Result<T, ClientError>) -> Result<T, ClientError> {
    let mut tries = 0;
    loop {
        match f() {
            Err(ClientError::Status {
                status: 503,
                retry_after,
                message,
            }) if tries < BUSY_RETRIES && !signals::stop_requested() => {
                tries += 1;
                let wait = retry_after
                    .unwrap_or(Duration::from_secs(1))
                    .min(Duration::from_secs(30));
                debug!("server busy ({message}); retrying in {wait:?}");
                signals::sleep(wait);
            }
            other => return other,
        }
    }
}

fn stream_path(cfg: &Config, table: &str, resume: Option<&Resume>) -> String {
    let mut params = Vec::new();
    if let Some(r) = resume {
        params.push(format!("since={}", percent_encode(&r.since.to_string())));
        params.push(format!("after_key={}", percent_encode(&r.after_key)));
    }
    let excluded = cfg.excluded(table);
    if !excluded.is_empty() {
        params.push(format!(
            "exclude_columns={}",
            percent_encode(&excluded.join(","))
        ));
    }
    let mut path = format!(
        "/{}/{}/",
        percent_encode(&cfg.source_database),
        percent_encode(table)
    );
    if !params.is_empty() {
        path.push('?');
        path.push_str(&params.join("&"));
    }
    path
}

fn sync_table(
    cfg: &Config,
    client: &Client,
    dest: &mut Destination,
    table: &str,
    info: Option<&TableInfo>,
) -> Result<Synced, TableError> {
    let started = Instant::now();
    // Without the server's description (a -t table it does not list) there
    // is no resume point: ask for everything and let the server explain.
    let resume = match info {
        Some(i) => {
            dest.columns(table)?;
            dest.resume_point(table, &i.timestamp_column, &i.key)?
        }
        None => None,
    };
    let path = stream_path(cfg, table, resume.as_ref());
    debug!("GET {path}");
    let mut body = with_busy_retry(|| client.get(&path)).map_err(|e| e.to_string())?;
    let header = stream::read_header(&mut body)?;
    let mut writer = dest.writer(&header, table)?;
    let limits = writer.limits();

    // Two threads: this one writes to the destination while the reader
    // decodes the next batch. Two batches in flight at most: memory stays flat.
    let (tx, rx) = mpsc::sync_channel::<Batch>(2);
    let (read, written) = std::thread::scope(|s| {
        let reader = s.spawn(|| stream::read_rows(&mut body, &header.columns, limits, tx));
        let mut written = Ok(());
        for batch in rx {
            if let Err(e) = writer.write(batch) {
                written = Err(e);
                break; // drops the receiver: the reader stops at its next send
            }
        }
        let read = reader.join().unwrap_or_else(|_| {
            Err(Failure {
                reason: "the stream reader panicked".into(),
                received: 0,
                discarded: 0,
            })
        });
        (read, written)
    });
    written?;
    match read {
        Ok(End::Complete) => Ok(Synced {
            rows: writer.applied(),
            elapsed: started.elapsed(),
        }),
        Ok(End::Interrupted) => {
            warn!(
                "stopped `{table}` on request after {} rows",
                writer.applied()
            );
            Err("interrupted".into())
        }
        Err(f) => Err(format!(
            "{} after {} rows ({} applied, {} discarded)",
            f.reason,
            f.received,
            writer.applied(),
            f.discarded
        )
        .into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dbdump_shared::since::UtcTime;

    fn config(args: &[&str]) -> Config {
        let mut all = vec![
            "--source-host",
            "h",
            "--source-database",
            "my db",
            "--dest-host",
            "d",
            "--dest-username",
            "u",
            "--dest-database",
            "x",
        ];
        all.extend_from_slice(args);
        let values = match dbdump_shared::cli::parse(
            &crate::config::SPEC,
            all.iter().map(Into::into).collect(),
            &|_| None,
        ) {
            Ok(dbdump_shared::cli::Parsed::Run(v)) => v,
            _ => panic!("bad test args"),
        };
        Config::from_values(&values).unwrap()
    }

    #[test]
    fn stream_paths_encode_names_and_parameters() {
        let cfg = config(&["-x", "t/1.secret,other.c"]);
        let resume = Resume {
            since: UtcTime::parse("2020-01-02 03:04:05.5").unwrap(),
            after_key: "[1,\"a b\"]".into(),
        };
        assert_eq!(
            stream_path(&cfg, "t/1", Some(&resume)),
            "/my%20db/t%2F1/?since=2020-01-02%2003%3A04%3A05.500000&after_key=%5B1%2C%22a%20b%22%5D&exclude_columns=secret"
        );
        assert_eq!(stream_path(&cfg, "plain", None), "/my%20db/plain/");
    }
}

//! What the user asked for: the flags (`flags`: one table; `tables`: the
//! entries of `-t`) and the typed configuration built from them. Everything
//! else in the puller may read it; it reads nothing of theirs.

use std::path::PathBuf;
use std::time::Duration;

use dbdump_shared::cli::{self, CliError, Values};

pub mod flags;
pub mod tables;

pub use flags::SPEC;
use tables::Choice;

#[derive(Clone)]
pub struct Config {
    pub source_host: String,
    pub source_port: u16,
    pub source_credentials: Option<(String, String)>,
    pub source_database: String,
    pub source_timeout: Duration,
    pub source_tls: bool,
    pub source_ca: Option<PathBuf>,
    /// `--source-proxy` as given (it may hold credentials: never log it).
    pub source_proxy: Option<String>,
    /// Ask for gzip-compressed answers.
    pub source_compress: bool,
    pub dest_host: String,
    pub dest_port: u16,
    pub dest_username: String,
    pub dest_password: Option<String>,
    pub dest_database: String,
    /// `-t`: the tables and their cursors (`None`: what the server lists).
    pub tables: Option<Vec<Choice>>,
    /// `--app-time-zone`: how named DATETIME cursors read.
    pub app_time_zone: String,
    /// (table, column) pairs never transferred.
    pub exclude: Vec<(String, String)>,
    pub poll_interval: Option<Duration>,
    pub deletes: bool,
    pub verify: bool,
    pub force_resync: bool,
    pub resync_interval: Option<u64>,
    /// Most destination rows a pass may delete, as a fraction of the table.
    pub max_delete_share: f64,
    pub force_deletes: bool,
    /// `--digest-interval`: least time between two comparisons of a changed
    /// table synced by digests or whole (`None`: ten times the last one).
    pub digest_interval: Option<Duration>,
    /// `--max-whole-rows`: largest keyless table copied whole.
    pub max_whole_rows: u64,
    /// `--copy-streams`: key ranges a first copy streams at once.
    pub copy_streams: usize,
    /// Create missing tables and columns from the source's definitions.
    pub create_tables: bool,
    /// Skip a table the destination refuses (see the flag's help).
    pub ignore_database_errors: bool,
    /// How often a long table sync logs its progress.
    pub progress_interval: Duration,
    pub status_file: Option<PathBuf>,
    pub metrics_file: Option<PathBuf>,
    /// `--dry-run`: one pass that changes nothing, told in this form.
    pub dry_run: Option<DryRun>,
    /// `--dry-run-examples`: example keys per table and kind of change.
    pub dry_run_examples: usize,
    pub debug: bool,
}

/// How `--dry-run` tells what it found, on stdout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DryRun {
    /// Lines for people (`--dry-run`).
    Text,
    /// One JSON document (`--dry-run=json`).
    Json,
}

/// `--dry-run`'s value: `text` (what the flag alone means) or `json`; from
/// the environment also a switch's yes or no.
fn dry_run(v: &Values) -> Result<Option<DryRun>, CliError> {
    let Some(value) = v.get("--dry-run") else {
        return Ok(None);
    };
    match value.trim().to_ascii_lowercase().as_str() {
        "text" | "1" | "true" | "yes" | "on" => Ok(Some(DryRun::Text)),
        "json" => Ok(Some(DryRun::Json)),
        "" | "0" | "false" | "no" | "off" => Ok(None),
        _ => Err(CliError(format!(
            "{} must be text or json (--dry-run alone is text), not {value:?}",
            v.source("--dry-run")
        ))),
    }
}

impl std::fmt::Debug for Config {
    // Hand-written so that passwords can never reach a log line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field(
                "source",
                &format_args!(
                    "{}:{}/{}",
                    self.source_host, self.source_port, self.source_database
                ),
            )
            .field(
                "source_user",
                &self.source_credentials.as_ref().map(|(u, _)| u),
            )
            .field("source_tls", &self.source_tls)
            .field("source_proxy", &self.source_proxy.is_some())
            .field(
                "dest",
                &format_args!(
                    "{}@{}:{}/{}",
                    self.dest_username, self.dest_host, self.dest_port, self.dest_database
                ),
            )
            .field("tables", &self.tables)
            .field("app_time_zone", &self.app_time_zone)
            .field("exclude", &self.exclude)
            .field("poll_interval", &self.poll_interval)
            .field("deletes", &self.deletes)
            .field("verify", &self.verify)
            .field("force_resync", &self.force_resync)
            .field("resync_interval", &self.resync_interval)
            .field("max_delete_share", &self.max_delete_share)
            .field("force_deletes", &self.force_deletes)
            .field("digest_interval", &self.digest_interval)
            .field("max_whole_rows", &self.max_whole_rows)
            .field("copy_streams", &self.copy_streams)
            .field("create_tables", &self.create_tables)
            .field("ignore_database_errors", &self.ignore_database_errors)
            .field("source_compress", &self.source_compress)
            .field("progress_interval", &self.progress_interval)
            .field("status_file", &self.status_file)
            .field("metrics_file", &self.metrics_file)
            .field("dry_run", &self.dry_run)
            .field("dry_run_examples", &self.dry_run_examples)
            .finish()
    }
}

fn list(v: &str) -> Vec<String> {
    v.split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

impl Config {
    pub fn from_values(v: &Values) -> Result<Config, CliError> {
        let user = v.get("--source-username").map(str::to_string);
        let password = v.secret("--source-password", "--source-password-file")?;
        let source_credentials = match (user, password) {
            (Some(u), p) => Some((u, p.unwrap_or_default())),
            (None, None) => None,
            (None, Some(_)) => {
                return Err(CliError("--source-password needs --source-username".into()))
            }
        };
        let exclude = v
            .get("--exclude-columns")
            .map(list)
            .unwrap_or_default()
            .into_iter()
            .map(|item| match item.split_once('.') {
                Some((t, c)) if !t.is_empty() && !c.is_empty() => {
                    Ok((t.to_string(), c.to_string()))
                }
                _ => Err(CliError(format!(
                    "--exclude-columns entry {item:?} is not table.column"
                ))),
            })
            .collect::<Result<Vec<_>, _>>()?;
        let tables = v.get("--tables").map(tables::parse).transpose()?;
        let app_time_zone = tables::check_zone(v.get("--app-time-zone").unwrap_or("UTC"))?;
        let source_ca = v.get("--source-ssl-ca").map(PathBuf::from);
        let poll_interval = v.seconds("--poll-interval", 0.01, 86_400.0)?;
        let resync_interval: Option<u64> =
            v.parsed("--resync-interval", "a number of polls from 1 up")?;
        if resync_interval == Some(0) {
            return Err(CliError("--resync-interval must be at least 1 poll".into()));
        }
        if resync_interval.is_some() && poll_interval.is_none() {
            return Err(CliError(
                "--resync-interval counts polls: it needs --poll-interval (for one pass, use --force-resync)"
                    .into(),
            ));
        }
        let digest_interval = v.seconds("--digest-interval", 0.0, 86_400.0 * 7.0)?;
        if digest_interval.is_some() && poll_interval.is_none() {
            return Err(CliError(
                "--digest-interval spaces the comparisons of a polling run: it needs --poll-interval \
                 (a one-shot run compares every table)"
                    .into(),
            ));
        }
        let max_whole_rows: u64 = v
            .parsed("--max-whole-rows", "a number of rows")?
            .unwrap_or(1_000_000);
        let copy_streams: usize = v
            .parsed("--copy-streams", "a number of streams from 1 to 32")?
            .unwrap_or(2);
        if !(1..=32).contains(&copy_streams) {
            return Err(CliError("--copy-streams must be from 1 to 32".into()));
        }
        let percent: f64 = v
            .parsed("--max-delete-percent", "a percentage from 0 to 100")?
            .unwrap_or(50.0);
        if !(0.0..=100.0).contains(&percent) {
            return Err(CliError(
                "--max-delete-percent must be from 0 to 100".into(),
            ));
        }
        let dry_run = dry_run(v)?;
        if dry_run.is_some() && poll_interval.is_some() {
            return Err(CliError(format!(
                "--dry-run makes one pass and changes nothing, so it does not poll: drop {} \
                 (a dry run is a one-shot run; run it again to look again)",
                v.source("--poll-interval")
            )));
        }
        if dry_run.is_none() && v.given("--dry-run-examples") {
            return Err(CliError(format!(
                "{} tells how many example keys a dry run shows: it needs --dry-run",
                v.source("--dry-run-examples")
            )));
        }
        let dry_run_examples: usize = v
            .parsed("--dry-run-examples", "a number of keys from 0 to 1000")?
            .unwrap_or(5);
        if dry_run_examples > 1000 {
            return Err(CliError("--dry-run-examples must be from 0 to 1000".into()));
        }
        Ok(Config {
            source_host: v.get("--source-host").unwrap_or_default().to_string(),
            source_port: v.parsed("--source-port", "a port number")?.unwrap_or(8888),
            source_credentials,
            source_database: v.get("--source-database").unwrap_or_default().to_string(),
            source_timeout: v
                .seconds("--source-timeout", 0.1, 86_400.0)?
                .unwrap_or(Duration::from_secs(15)),
            source_tls: v.switch("--source-ssl") || source_ca.is_some(),
            source_ca,
            source_proxy: v.get("--source-proxy").map(str::to_string),
            source_compress: v.boolean("--source-compress")?.unwrap_or_else(|| {
                v.get("--source-proxy").is_some()
                    || !is_loopback(v.get("--source-host").unwrap_or_default())
            }),
            dest_host: v.get("--dest-host").unwrap_or_default().to_string(),
            dest_port: v.parsed("--dest-port", "a port number")?.unwrap_or(3306),
            dest_username: v.get("--dest-username").unwrap_or_default().to_string(),
            dest_password: v.secret("--dest-password", "--dest-password-file")?,
            dest_database: v.get("--dest-database").unwrap_or_default().to_string(),
            tables,
            app_time_zone,
            exclude,
            poll_interval,
            create_tables: v.switch("--create-tables"),
            ignore_database_errors: v.switch("--ignore-database-errors"),
            deletes: v.switch("--deletes"),
            verify: v.switch("--verify"),
            force_resync: v.switch("--force-resync"),
            resync_interval,
            max_delete_share: percent / 100.0,
            force_deletes: v.switch("--force-deletes"),
            digest_interval,
            max_whole_rows,
            copy_streams,
            progress_interval: v
                .seconds("--progress-interval", 0.1, 86_400.0)?
                .unwrap_or(Duration::from_secs(10)),
            status_file: v.get("--status-file").map(PathBuf::from),
            metrics_file: v.get("--metrics-file").map(PathBuf::from),
            dry_run,
            dry_run_examples,
            debug: v.switch("--debug"),
        })
    }

    /// The configuration from the command line and environment (or exit).
    pub fn from_env() -> Config {
        cli::from_env(&SPEC, Config::from_values)
    }

    /// Columns of `table` never to transfer.
    pub fn excluded(&self, table: &str) -> Vec<&str> {
        self.exclude
            .iter()
            .filter(|(t, _)| t == table)
            .map(|(_, c)| c.as_str())
            .collect()
    }
}

/// A configuration from `args` on top of the required flags, for unit tests.
#[cfg(test)]
pub fn for_tests(args: &[&str]) -> Config {
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
    match cli::parse(&SPEC, all.iter().map(Into::into).collect(), &|_| None) {
        Ok(cli::Parsed::Run(v)) => Config::from_values(&v).expect("valid test flags"),
        _ => panic!("bad test args {args:?}"),
    }
}

/// Whether `host` names this machine (`localhost`, 127.0.0.0/8, `::1`):
/// a stream from there crosses no link, so gzip would only spend the CPU
/// both databases share. Names are not resolved.
fn is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    #[test]
    fn loopback_hosts() {
        for host in [
            "localhost",
            "LOCALHOST",
            "127.0.0.1",
            "127.1.2.3",
            "::1",
            "[::1]",
        ] {
            assert!(super::is_loopback(host), "{host}");
        }
        for host in ["db1", "10.0.0.1", "::2", "localhost.example.org", ""] {
            assert!(!super::is_loopback(host), "{host}");
        }
    }
}

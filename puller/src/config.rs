//! dbd_puller's flags, in one table (names, short forms and defaults are the
//! original tool's), and the typed configuration built from them.

use std::path::PathBuf;
use std::time::Duration;

use dbdump_shared::cli::{self, flag, required, CliError, Flag, Group, Spec, Values};

const GENERAL: usize = 0;
const SOURCE: usize = 1;
const DEST: usize = 2;
const SYNC: usize = 3;

static GROUPS: &[Group] = &[
    Group {
        title: "optional arguments",
        about: "",
    },
    Group {
        title: "Source",
        about: "Source dbd_server (that changes are read from)",
    },
    Group {
        title: "Destination",
        about: "Destination MySQL database server (that changes get written to)",
    },
    Group {
        title: "Sync",
        about: "Synchronization options",
    },
];

static FLAGS: &[Flag] = &[
    required(flag("--source-host", None, Some("HOST_OR_IP"), None, SOURCE, "dbdump web server")),
    flag("--source-port", None, Some("PORT"), Some("8888"), SOURCE, "dbdump web server port"),
    flag("--source-username", None, Some("USERNAME"), None, SOURCE, "dbdump username"),
    flag("--source-password", None, Some("PASSWORD"), None, SOURCE, "dbdump password"),
    flag("--source-password-file", None, Some("FILE"), None, SOURCE, "Read the dbdump password from the first line of FILE"),
    required(flag("--source-database", None, Some("DATABASE"), None, SOURCE, "Source database name")),
    flag("--source-timeout", None, Some("SECONDS"), Some("15"), SOURCE, "Seconds to wait before timing out a connection attempt, or a stalled response"),
    flag("--source-ssl", None, None, None, SOURCE, "Talk HTTPS to the dbd_server"),
    flag("--source-ssl-ca", None, Some("FILE"), None, SOURCE, "PEM certificate(s) to trust for HTTPS, e.g. a self-signed server's own (default: the system's CA bundle); implies --source-ssl"),
    flag("--source-proxy", None, Some("URL"), None, SOURCE, "HTTP proxy to reach the dbd_server through, http://[USER:PASSWORD@]HOST:PORT, or 'direct' for none (default: https_proxy / http_proxy unless no_proxy names the server, as curl reads them)"),
    required(flag("--dest-host", None, Some("HOST_OR_IP"), None, DEST, "Database server host")),
    flag("--dest-port", None, Some("PORT"), Some("3306"), DEST, "Database server port"),
    required(flag("--dest-username", None, Some("USERNAME"), None, DEST, "Database user")),
    flag("--dest-password", None, Some("PASSWORD"), None, DEST, "Database password"),
    flag("--dest-password-file", None, Some("FILE"), None, DEST, "Read the database password from the first line of FILE"),
    required(flag("--dest-database", None, Some("DATABASE"), None, DEST, "Destination database name")),
    flag("--tables", Some("-t"), Some("table1,tableN,..."), None, SYNC, "Ordered list of tables to sync (default: all tables that dbd_server supports, parents before children)"),
    flag("--exclude-columns", Some("-x"), Some("table1.column1,tableN.columnN,..."), None, SYNC, "Columns to exclude from synchronization (table and column split at the first dot)"),
    flag("--poll-interval", None, Some("seconds"), None, SYNC, "Polling interval between pull requests (if unspecified, polling will be disabled)"),
    flag("--debug", Some("-d"), None, None, GENERAL, "Enable debug mode"),
];

pub static SPEC: Spec = Spec {
    name: "dbd_puller",
    about: "Pulls changes from a dbd_server",
    groups: GROUPS,
    flags: FLAGS,
    epilog: "Every flag can also be set with the environment variable shown; a flag on the\n\
             command line wins. Exit codes: 0 every table synced (or polling stopped by\n\
             SIGTERM/SIGINT), 1 some table failed (one line each on stderr), 2 bad command\n\
             line, 3 interrupted by SIGTERM/SIGINT before a one-shot pass finished (the\n\
             destination is consistent; run again to complete).",
};

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
    pub dest_host: String,
    pub dest_port: u16,
    pub dest_username: String,
    pub dest_password: Option<String>,
    pub dest_database: String,
    pub tables: Option<Vec<String>>,
    /// (table, column) pairs never transferred.
    pub exclude: Vec<(String, String)>,
    pub poll_interval: Option<Duration>,
    pub debug: bool,
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
            .field("exclude", &self.exclude)
            .field("poll_interval", &self.poll_interval)
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
        let tables = v.get("--tables").map(list);
        if tables.as_ref().is_some_and(Vec::is_empty) {
            return Err(CliError("--tables names no table".into()));
        }
        let source_ca = v.get("--source-ssl-ca").map(PathBuf::from);
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
            dest_host: v.get("--dest-host").unwrap_or_default().to_string(),
            dest_port: v.parsed("--dest-port", "a port number")?.unwrap_or(3306),
            dest_username: v.get("--dest-username").unwrap_or_default().to_string(),
            dest_password: v.secret("--dest-password", "--dest-password-file")?,
            dest_database: v.get("--dest-database").unwrap_or_default().to_string(),
            tables,
            exclude,
            poll_interval: v.seconds("--poll-interval", 0.01, 86_400.0)?,
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

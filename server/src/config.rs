//! dbd_server's flags, in one table (names, short forms and defaults are the
//! original tool's), and the typed configuration built from them.

use std::path::PathBuf;
use std::time::Duration;

use dbdump_shared::cli::{self, alias, flag, required, CliError, Flag, Group, Spec, Values};

const GENERAL: usize = 0;
const WEB: usize = 1;
const SOURCE: usize = 2;

static GROUPS: &[Group] = &[
    Group {
        title: "optional arguments",
        about: "",
    },
    Group {
        title: "Web Server",
        about: "HTTP server that listens for dbd_puller clients.",
    },
    Group {
        title: "Source Database",
        about: "MySQL database server where changes are being monitored. All qualified \
                tables must have an auto-updating TIMESTAMP column.",
    },
];

static FLAGS: &[Flag] = &[
    flag("--listen-address", Some("-a"), Some("IP"), Some("0.0.0.0"), WEB, "Listener interface address"),
    flag("--listen-port", Some("-P"), Some("PORT"), Some("8888"), WEB, "Listener port"),
    flag("--listen-username", Some("-u"), Some("USERNAME"), None, WEB, "Username required for connecting HTTP clients"),
    flag("--listen-password", Some("-p"), Some("PASSWORD"), None, WEB, "Password required for connecting HTTP clients"),
    flag("--listen-password-file", None, Some("FILE"), None, WEB, "Read the HTTP password from the first line of FILE"),
    flag("--listen-ssl", Some("-s"), None, None, WEB, "Require SSL encryption (HTTPS, TLS 1.2+)"),
    flag("--ssl-private-key", None, Some("FILE_PATH"), Some("ssl.key"), WEB, "Private key file in OpenSSL (PEM) format"),
    flag("--ssl-public-key", None, Some("FILE_PATH"), Some("ssl.crt"), WEB, "Public key (certificate chain) file in OpenSSL (PEM) format"),
    flag("--listen-timeout", None, Some("SECONDS"), Some("60"), WEB, "Drop a client that stalls this long while sending its request or reading the response"),
    flag("--listen-head-timeout", None, Some("SECONDS"), Some("10"), WEB, "Close a connection whose whole request head (TLS handshake included) has not arrived this long after connecting (408)"),
    flag("--listen-max-per-client", None, Some("N"), None, WEB, "Most connections at once from one client address (an IPv6 /64 counts as one); more get 503 at once (default: half the source connections, at least 2)"),
    required(flag("--source-host", None, Some("HOST_OR_IP"), None, SOURCE, "Database server host")),
    flag("--source-port", None, Some("PORT"), Some("3306"), SOURCE, "Database server port"),
    required(flag("--source-username", None, Some("USERNAME"), None, SOURCE, "Database username")),
    flag("--source-password", None, Some("PASSWORD"), None, SOURCE, "Database password"),
    flag("--source-password-file", None, Some("FILE"), None, SOURCE, "Read the database password from the first line of FILE"),
    alias(flag("--source-databases", None, Some("database1,databaseN,..."), None, SOURCE, "Databases to expose (default: all databases except mysql, information_schema, performance_schema and sys)"), "--source-database"),
    flag("--source-max-connections", None, Some("N"), Some("8"), SOURCE, "Most database connections used at once; further requests wait briefly, then get 503"),
    flag("--settle", None, Some("SECONDS"), Some("1"), SOURCE, "Only send rows whose timestamp is at least this much older than the source's clock (and older than its oldest open transaction)"),
    flag("--debug", Some("-d"), None, None, GENERAL, "Enable debug mode (more detailed logging)"),
];

pub static SPEC: Spec = Spec {
    name: "dbd_server",
    about: "Web server that sends changed database records to clients. Client can request\n\
            all changed records that occurred since a specific date and time.",
    groups: GROUPS,
    flags: FLAGS,
    epilog: "Every flag can also be set with the environment variable shown; a flag on the\n\
             command line wins. Exit codes: 0 stopped by SIGTERM/SIGINT, 1 could not start\n\
             (database unreachable, port taken, bad certificate), 2 bad command line.",
};

/// Everything dbd_server runs with.
#[derive(Clone)]
pub struct Config {
    pub listen_address: String,
    pub listen_port: u16,
    /// HTTP Basic credentials clients must send, if any.
    pub credentials: Option<(String, String)>,
    pub tls: Option<(PathBuf, PathBuf)>,
    pub client_timeout: Duration,
    pub head_timeout: Duration,
    pub per_client: usize,
    pub source_host: String,
    pub source_port: u16,
    pub source_username: String,
    pub source_password: Option<String>,
    /// Exposed databases; `None` means all but the system schemas.
    pub databases: Option<Vec<String>>,
    pub max_connections: usize,
    pub settle: Duration,
    pub debug: bool,
}

impl std::fmt::Debug for Config {
    // Hand-written so that passwords can never reach a log line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field(
                "listen",
                &format_args!("{}:{}", self.listen_address, self.listen_port),
            )
            .field("auth", &self.credentials.as_ref().map(|(u, _)| u))
            .field("tls", &self.tls)
            .field("client_timeout", &self.client_timeout)
            .field("head_timeout", &self.head_timeout)
            .field("per_client", &self.per_client)
            .field(
                "source",
                &format_args!(
                    "{}@{}:{}",
                    self.source_username, self.source_host, self.source_port
                ),
            )
            .field("databases", &self.databases)
            .field("max_connections", &self.max_connections)
            .field("settle", &self.settle)
            .finish()
    }
}

impl Config {
    pub fn from_values(v: &Values) -> Result<Config, CliError> {
        let user = v.get("--listen-username").map(str::to_string);
        let password = v.secret("--listen-password", "--listen-password-file")?;
        let credentials = match (user, password) {
            (Some(u), Some(p)) => Some((u, p)),
            (None, None) => None,
            (Some(_), None) => {
                return Err(CliError(
                    "--listen-username needs --listen-password (or its file)".into(),
                ))
            }
            (None, Some(_)) => {
                return Err(CliError("--listen-password needs --listen-username".into()))
            }
        };
        let tls = v.switch("--listen-ssl").then(|| {
            (
                PathBuf::from(v.get("--ssl-public-key").unwrap_or("ssl.crt")),
                PathBuf::from(v.get("--ssl-private-key").unwrap_or("ssl.key")),
            )
        });
        let databases = v.get("--source-databases").map(|list| {
            list.split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
        });
        if databases.as_ref().is_some_and(Vec::is_empty) {
            return Err(CliError("--source-databases names no database".into()));
        }
        let max_connections: usize = v
            .parsed("--source-max-connections", "a number from 1 to 1000")?
            .unwrap_or(8);
        if !(1..=1000).contains(&max_connections) {
            return Err(CliError(
                "--source-max-connections must be from 1 to 1000".into(),
            ));
        }
        let client_timeout = v
            .seconds("--listen-timeout", 0.1, 86_400.0)?
            .unwrap_or(Duration::from_secs(60));
        let head_timeout = v
            .seconds("--listen-head-timeout", 0.1, 3600.0)?
            .unwrap_or(Duration::from_secs(10));
        // Half the source connections: one address (a slow reader, say)
        // must never be able to hold all of them.
        let per_client: usize = v
            .parsed("--listen-max-per-client", "a number from 1 to 100000")?
            .unwrap_or((max_connections / 2).max(2));
        if !(1..=100_000).contains(&per_client) {
            return Err(CliError(
                "--listen-max-per-client must be from 1 to 100000".into(),
            ));
        }
        Ok(Config {
            listen_address: v.get("--listen-address").unwrap_or("0.0.0.0").to_string(),
            listen_port: v.parsed("--listen-port", "a port number")?.unwrap_or(8888),
            credentials,
            tls,
            client_timeout,
            head_timeout,
            per_client,
            source_host: v.get("--source-host").unwrap_or_default().to_string(),
            source_port: v.parsed("--source-port", "a port number")?.unwrap_or(3306),
            source_username: v.get("--source-username").unwrap_or_default().to_string(),
            source_password: v.secret("--source-password", "--source-password-file")?,
            databases,
            max_connections,
            settle: v
                .seconds("--settle", 0.0, 3600.0)?
                .unwrap_or(Duration::from_secs(1)),
            debug: v.switch("--debug"),
        })
    }

    /// The configuration from the command line and environment (or exit).
    pub fn from_env() -> Config {
        cli::from_env(&SPEC, Config::from_values)
    }
}

//! dbd_server: serves the rows of MySQL/MariaDB tables that changed since a
//! point in time, as NDJSON over HTTP(S), for dbd_puller (or curl) to apply
//! elsewhere. See `--help` and the README.

mod api;
mod config;
mod edge;
mod error;
mod horizon;
mod inspect;
mod source;
mod sql;
mod streams;

use std::net::{TcpListener, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use mysql::prelude::Queryable;
use mysql::{Pool, PoolConstraints, PoolOpts};

use dbdump_shared::dberror::describe;
use dbdump_shared::sql::Endpoint;
use dbdump_shared::{error, info, logging, signals, warn};

use config::Config;

fn fail(message: String) -> ! {
    error!("{message}");
    std::process::exit(1)
}

fn source(c: &Config) -> Endpoint<'_> {
    Endpoint {
        host: &c.source_host,
        port: c.source_port,
        user: &c.source_username,
        password: c.source_password.as_deref(),
        init: sql::SESSION_INIT,
        io_timeout: Duration::from_secs(300),
    }
}

fn source_pool(c: &Config) -> Result<Pool, mysql::Error> {
    let constraints = PoolConstraints::new(1, c.max_connections).unwrap_or_default();
    // Session settings are made once per connection and never reset.
    let pool = PoolOpts::default()
        .with_constraints(constraints)
        .with_reset_connection(false);
    Pool::new(source(c).opts().pool_opts(pool))
}

fn main() {
    dbdump_shared::allocator::tune();
    signals::install();
    let config = Config::from_env();
    logging::set_debug(config.debug);
    dbdump_shared::debug!("configuration: {config:?}");

    let tls = config.tls.as_ref().map(|(cert, key)| {
        dbdump_shared::tls::server_config(cert, key)
            .unwrap_or_else(|e| fail(format!("cannot enable SSL: {e}")))
    });

    let cancel_opts = mysql::Opts::from(source(&config).opts());
    let source = source(&config).label();
    let unreachable = |e: mysql::Error| -> ! {
        fail(format!(
            "cannot connect to the source database {source}: {}",
            describe(&e)
        ))
    };
    let pool = source_pool(&config).unwrap_or_else(|e| unreachable(e));
    let (horizon, mariadb) = match pool.get_conn() {
        Ok(mut conn) => {
            let mariadb = conn
                .query_first::<i64, _>(sql::IS_MARIADB)
                .unwrap_or_else(|e| unreachable(e))
                == Some(1);
            (horizon::Keeper::new(&mut conn, config.settle), mariadb)
        }
        Err(e) => unreachable(e),
    };
    if horizon.visibility() == horizon::Visibility::SettleOnly {
        warn!(
            "the source account cannot read information_schema.INNODB_TRX (needs the PROCESS privilege): \
             the horizon uses the --settle margin alone ({}s), so a transaction that commits more than that \
             after writing a row can be missed",
            config.settle.as_secs_f64()
        );
    } else if !horizon.verified() {
        warn!(
            "the source does not list this session's read-only transaction in information_schema.INNODB_TRX \
             (or another session reads that table more often than every 0.1 s): until it does, readings of it \
             cannot be proved fresh, so a transaction opened while something else polls INNODB_TRX that fast \
             can be missed"
        );
    }

    let addr = format!("{}:{}", config.listen_address, config.listen_port);
    let listener =
        TcpListener::bind(&addr).unwrap_or_else(|e| fail(format!("cannot listen on {addr}: {e}")));
    let local = listener
        .local_addr()
        .unwrap_or_else(|e| fail(format!("cannot listen on {addr}: {e}")));
    info!(
        "dbd_server {} listening on {}://{local}, source {source}, exposing {}{}",
        dbdump_shared::VERSION,
        if tls.is_some() { "https" } else { "http" },
        config
            .databases
            .as_ref()
            .map(|d| d.join(","))
            .unwrap_or_else(|| "all databases but the system schemas".into()),
        if config.credentials.is_some() {
            ", Basic auth required"
        } else {
            ""
        }
    );

    let options = edge::http::ServerOptions {
        tls,
        max_clients: (config.max_connections * 4).max(32),
        per_client: config.per_client,
        client_timeout: config.client_timeout,
        head_timeout: config.head_timeout,
    };
    let source = source::Source {
        pool,
        cancel_opts,
        horizon,
        connection_wait: Duration::from_secs(5),
        settle: config.settle,
        databases: config.databases.clone(),
        mariadb,
    };
    let api = Arc::new(api::Api { source, config });
    let server = std::thread::spawn(move || {
        edge::http::serve(listener, options, api, Duration::from_secs(10))
    });

    while !signals::stop_requested() && !server.is_finished() {
        std::thread::sleep(Duration::from_millis(100));
    }
    info!("stopping: no new connections; ending open streams");
    // Wake the blocking accept() so the server loop sees the stop.
    let wake = if local.ip().is_unspecified() {
        format!("127.0.0.1:{}", local.port())
    } else {
        local.to_string()
    };
    if let Some(a) = wake.to_socket_addrs().ok().and_then(|mut a| a.next()) {
        let _ = TcpStream::connect_timeout(&a, Duration::from_secs(1));
    }
    let _ = server.join();
    info!("stopped");
}

//! The source database as requests use it: the connection pool (a request
//! waits a little for a free connection, then gets a 503), the horizon
//! keeper, ending the session of a stream whose client left, and telling
//! which session holds a horizon back. Shared by every endpoint.

use std::time::Duration;

use mysql::prelude::Queryable;
use mysql::{Pool, PooledConn};

use dbdump_shared::dberror::describe;
use dbdump_shared::{info, warn};

use crate::error::ApiError;
use crate::horizon;
use crate::sql;

pub struct Source {
    pub pool: Pool,
    /// For the separate connection that cancels a stream whose client left.
    pub cancel_opts: mysql::Opts,
    /// Computes the horizons of all requests (one per server).
    pub horizon: horizon::Keeper,
    /// How long a request waits for a free source connection before 503.
    pub connection_wait: Duration,
    /// `--settle`: a holder is told about once it holds longer than this.
    pub settle: Duration,
    /// `--source-databases`, if given: the only databases exposed.
    pub databases: Option<Vec<String>>,
    /// The source is MariaDB (whose InnoDB keeps `UPDATE_TIME` as the
    /// changes question needs it; MySQL caches it).
    pub mariadb: bool,
}

impl Source {
    pub fn conn(&self) -> Result<PooledConn, ApiError> {
        Ok(self.pool.try_get_conn(self.connection_wait)?)
    }

    /// Ends the session of a stream whose client went away, from a separate
    /// connection (a full pool must not stop it): otherwise the driver would
    /// read the rest of the result set, maybe millions of rows, before the
    /// connection could be used again. The pool replaces the dead session.
    pub fn cancel(&self, connection_id: u32) {
        let killed = mysql::Conn::new(self.cancel_opts.clone())
            .and_then(|mut c| c.query_drop(sql::kill_connection(connection_id)));
        if let Err(e) = killed {
            warn!(
                "could not cancel the source query of a stream whose client left: {}",
                describe(&e)
            );
        }
    }

    /// Says which session holds the horizon of a request for `what` back,
    /// when it does for longer than the settle margin and a second, so that
    /// a DBA can find it in `SHOW PROCESSLIST`.
    pub fn tell_holder(&self, what: &str, hz: &horizon::Horizon) {
        if let Some(holder) = &hz.held_by {
            if holder.age > self.settle + Duration::from_secs(1) {
                info!(
                    "horizon for {what} held back {:.1}s by an open {} (thread {}: {}): rows newer than {} wait",
                    holder.age.as_secs_f64(),
                    holder.what,
                    holder.thread_id,
                    holder.who,
                    hz.at.format(0)
                );
            }
        }
    }

    /// Whether `information_schema.TABLES.UPDATE_TIME` can tell that a table
    /// has not changed since a horizon: on MariaDB, with the horizon seeing
    /// open transactions (see `streams::changes`).
    pub fn update_times_tell(&self) -> bool {
        self.mariadb && self.horizon.visibility() != horizon::Visibility::SettleOnly
    }

    pub fn allowed(&self) -> Option<&[String]> {
        self.databases.as_deref()
    }
}

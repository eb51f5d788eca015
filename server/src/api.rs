//! Routing and authentication: `GET /`, `GET /<db>/` (and its changes
//! question, `?resume=`), `GET /<db>/<table>/`, `GET /<db>/<table>/digest`,
//! `GET /<db>/<table>/ranges` and `GET /<db>/<table>/schema`.
//! Path segments are percent-decoded one by one, so names holding `/`, `?`
//! or `%` work when the client encodes them.

use dbdump_shared::wire::DatabaseList;
use dbdump_shared::{error, http as h};

use crate::config::Config;
use crate::edge::http::{Handler, Outcome, Request, Response};
use crate::error::ApiError;
use crate::horizon::wallclock;
use crate::inspect;
use crate::inspect::cursor::{self, Named};
use crate::source::Source;
use crate::streams::changes;
use crate::streams::digest;
use crate::streams::params::{self, Params};
use crate::streams::ranges;
use crate::streams::stream;

pub struct Api {
    pub source: Source,
    pub config: Config,
}

impl Handler for Api {
    fn handle(&self, req: &Request, resp: &mut Response<'_>) -> Outcome {
        // Credentials first: nothing, not even which methods exist, is
        // told to a client that has not authenticated.
        let result = self
            .authorize(req)
            .and_then(|_| match req.method.as_str() {
                "GET" => Ok(()),
                other => Err(ApiError::MethodNotAllowed(other.to_string())),
            })
            .and_then(|_| self.route(req, resp));
        match result {
            Ok(outcome) => outcome,
            Err(e) => {
                if e.is_fault() && !matches!(e, ApiError::Busy) {
                    error!("{} {}: {e}", req.method, req.path);
                }
                if !resp.is_started() {
                    resp.error(&e);
                }
                Outcome::default()
            }
        }
    }
}

/// Splits `/a/b/` into decoded segments; `//` and bad escapes are errors.
pub fn segments(path: &str) -> Result<Vec<String>, ApiError> {
    if path.contains("//") {
        return Err(ApiError::NotFound(format!("no such path {path:?}")));
    }
    let trimmed = path.strip_prefix('/').unwrap_or(path);
    let trimmed = trimmed.strip_suffix('/').unwrap_or(trimmed);
    if trimmed.is_empty() {
        return Ok(Vec::new());
    }
    trimmed
        .split('/')
        .map(|seg| {
            if seg.is_empty() {
                return Err(ApiError::NotFound(format!("no such path {path:?}")));
            }
            let name = h::percent_decode_str(seg, false).map_err(ApiError::BadRequest)?;
            if name.is_empty() || name.len() > 256 || name.contains('\0') {
                return Err(ApiError::NotFound(format!("no such name {name:?}")));
            }
            Ok(name)
        })
        .collect()
}

impl Api {
    fn authorize(&self, req: &Request) -> Result<(), ApiError> {
        let Some((user, password)) = &self.config.credentials else {
            return Ok(());
        };
        let given = req
            .head
            .header("authorization")
            .and_then(h::parse_basic_auth);
        match given {
            // Both compared in full, whatever the first comparison says.
            Some((u, p)) => {
                let user_ok = h::constant_time_eq(&u, user.as_bytes());
                let pass_ok = h::constant_time_eq(&p, password.as_bytes());
                if user_ok & pass_ok {
                    Ok(())
                } else {
                    Err(ApiError::Unauthorized)
                }
            }
            None => Err(ApiError::Unauthorized),
        }
    }

    fn route(&self, req: &Request, resp: &mut Response<'_>) -> Result<Outcome, ApiError> {
        let segs = segments(&req.path)?;
        if let [db] = segs.as_slice() {
            if changes::asked(&req.query) {
                return changes::answer(&self.source, db, &req.query, resp);
            }
        }
        if segs.len() < 2 && !req.query.is_empty() {
            return Err(ApiError::BadRequest(
                "this endpoint takes no query parameters".into(),
            ));
        }
        match segs.as_slice() {
            [] => {
                let databases =
                    inspect::databases(&mut self.source.conn()?, self.source.allowed())?;
                resp.json(200, &DatabaseList { databases }, &[]);
                Ok(Outcome::default())
            }
            [db] => {
                let mut conn = self.source.conn()?;
                inspect::require_database(&mut conn, db, self.source.allowed())?;
                let body = inspect::listing::listing(&mut conn, db)?;
                let count = body.every_table.len() as u64;
                resp.json(200, &body, &[]);
                Ok(Outcome { rows: Some(count) })
            }
            [db, table] => {
                let mut conn = self.source.conn()?;
                inspect::require_database(&mut conn, db, self.source.allowed())?;
                // A missing table is a 404 whatever the parameters say.
                let found = inspect::table(&mut conn, db, table)?;
                let params = Params::parse(&req.query)?;
                let named =
                    Named::from_params(params.cursor.as_deref(), params.cursor_unit.as_deref())?;
                let meta = cursor::syncable(&mut conn, db, found, named)?;
                // Reject bad column lists and bounds before touching anything else.
                params::select_columns(&meta, &params)?;
                params.rows(&meta)?;
                let hz = self.source.horizon.current(&mut conn)?;
                self.source.tell_holder(&format!("`{db}`.`{table}`"), &hz);
                let at = wallclock::cursor_horizon(
                    &mut conn,
                    &meta,
                    params.cursor_zone.as_deref(),
                    hz.at,
                )?;
                let id = conn.connection_id();
                let cancel = || self.source.cancel(id);
                let instant = (at != hz.at).then_some(hz.at);
                let rows = stream::run(&mut conn, db, &meta, &params, at, instant, resp, &cancel)?;
                Ok(Outcome { rows: Some(rows) })
            }
            [db, table, verb] if verb == "schema" => {
                let mut conn = self.source.conn()?;
                inspect::require_database(&mut conn, db, self.source.allowed())?;
                let found = inspect::table(&mut conn, db, table)?;
                let (column, unit) = inspect::schema::cursor_params(&req.query)?;
                let named = Named::from_params(column.as_deref(), unit.as_deref())?;
                cursor::syncable(&mut conn, db, found, named)?;
                let definition = crate::inspect::schema::definition(&mut conn, db, table)?;
                resp.json(200, &definition, &[]);
                Ok(Outcome::default())
            }
            [db, table, verb] if verb == "ranges" => {
                let mut conn = self.source.conn()?;
                inspect::require_database(&mut conn, db, self.source.allowed())?;
                let found = inspect::table(&mut conn, db, table)?;
                let p = ranges::Params::parse(&req.query)?;
                let named = Named::from_params(p.cursor.as_deref(), p.cursor_unit.as_deref())?;
                let meta = cursor::syncable(&mut conn, db, found, named)?;
                let hz = self.source.horizon.current(&mut conn)?;
                self.source
                    .tell_holder(&format!("`{db}`.`{table}` (ranges)"), &hz);
                let zone = p.cursor_zone.as_deref().filter(|_| p.cursor.is_some());
                let at = wallclock::cursor_horizon(&mut conn, &meta, zone, hz.at)?;
                let instant = (at != hz.at).then_some(hz.at);
                let body = ranges::answer(&mut conn, db, &meta, p.count, at, instant)?;
                let count = body.boundaries.len() as u64 + 1;
                resp.json(200, &body, &[]);
                Ok(Outcome { rows: Some(count) })
            }
            [db, table, verb] if verb == "digest" => {
                let mut conn = self.source.conn()?;
                inspect::require_database(&mut conn, db, self.source.allowed())?;
                let found = inspect::table(&mut conn, db, table)?;
                let params = digest::Params::parse(&req.query)?;
                let named = Named::from_params(
                    params.columns.cursor.as_deref(),
                    params.columns.cursor_unit.as_deref(),
                )?;
                let meta = cursor::syncable(&mut conn, db, found, named)?;
                digest::validate(&meta, &params)?;
                let hz = self.source.horizon.current(&mut conn)?;
                let id = conn.connection_id();
                let cancel = || self.source.cancel(id);
                let chunks = digest::run(&mut conn, db, &meta, &params, hz.at, resp, &cancel)?;
                Ok(Outcome { rows: Some(chunks) })
            }
            _ => Err(ApiError::NotFound(format!("no such path {:?}", req.path))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_segments() {
        assert!(segments("/").unwrap().is_empty());
        assert_eq!(segments("/db/").unwrap(), ["db"]);
        assert_eq!(segments("/db").unwrap(), ["db"]);
        assert_eq!(segments("/d%20b/t%2Fx/").unwrap(), ["d b", "t/x"]);
        assert_eq!(segments("/db//").unwrap_err().status(), 404);
        assert_eq!(segments("//").unwrap_err().status(), 404);
        assert_eq!(segments("/%zz/").unwrap_err().status(), 400);
        assert_eq!(segments("/%00/").unwrap_err().status(), 404);
        assert_eq!(segments("/a+b/").unwrap(), ["a+b"]);
    }
}

//! Helpers shared by the http_api tests: the shared source server and
//! databases with rows on it, requests and their answers (error bodies,
//! JSON, change streams with their framing checked), Basic credentials and
//! the server's error log.

use dbdump_tests::*;
use serde_json::{json, Value};

/// The shared source database server.
pub fn src() -> &'static Sandbox {
    &pair().0
}

/// An auto-updating TIMESTAMP column named `ts`, second precision.
pub const TS: &str = "ts TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP";
/// The same with microseconds.
pub const TS6: &str =
    "ts TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6)";

/// Creates a fresh database on the source and returns its name.
pub fn new_db(prefix: &str) -> String {
    let db = unique_name(prefix);
    src().exec(&format!("CREATE DATABASE {}", ident(&db)));
    db
}

/// Runs `statements` inside `db` (a new UTC session, see `Sandbox::exec`).
pub fn sql(db: &str, statements: &str) {
    src().exec(&format!("USE {}; {statements}", ident(db)));
}

/// A database with table `t (id, a, b, ts)` holding rows `(id, ts)`, with
/// `a` = "a<id>" and `b` = id * 10. Timestamps are explicit and in the past,
/// so that the horizon (now minus `--settle`) never holds a row back.
pub fn db_with_rows(prefix: &str, rows: &[(i64, &str)]) -> String {
    let db = new_db(prefix);
    sql(
        &db,
        &format!("CREATE TABLE t (id INT PRIMARY KEY, a VARCHAR(20), b INT, {TS6})"),
    );
    for (id, ts) in rows {
        sql(
            &db,
            &format!(
                "INSERT INTO t (id, a, b, ts) VALUES ({id}, 'a{id}', {}, {})",
                id * 10,
                literal(ts)
            ),
        );
    }
    db
}

/// First value of a response header (case-insensitive name).
pub fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().skip(1).find_map(|line| {
        let (k, v) = line.split_once(':')?;
        k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

pub fn get(server: &Server, path: &str) -> (u16, String, String) {
    http_get(server.port, path, &[])
}

/// Asserts an error answer: `status`, a JSON body `{"error": .., "status":
/// status}` whose message contains `needle` (case-insensitive). Returns the
/// message.
#[track_caller]
pub fn assert_error(resp: &(u16, String, String), status: u16, needle: &str) -> String {
    let (code, head, body) = resp;
    assert_eq!(*code, status, "wrong status:\n{head}\n\n{body}");
    assert_eq!(
        header(head, "content-type"),
        Some("application/json"),
        "{head}"
    );
    let v: Value =
        serde_json::from_str(body).unwrap_or_else(|e| panic!("error body not JSON ({e}): {body}"));
    assert_eq!(v["status"], json!(status), "{body}");
    let message = v["error"]
        .as_str()
        .unwrap_or_else(|| panic!("no error message: {body}"));
    assert!(
        message.to_lowercase().contains(&needle.to_lowercase()),
        "error message {message:?} should mention {needle:?}"
    );
    assert_eq!(
        v.as_object().map(|o| o.len()),
        Some(2),
        "only error and status: {body}"
    );
    message.to_string()
}

/// Parses a 200 JSON answer.
#[track_caller]
pub fn json_ok(resp: (u16, String, String)) -> Value {
    let (code, head, body) = resp;
    assert_eq!(code, 200, "{head}\n\n{body}");
    assert_eq!(
        header(&head, "content-type"),
        Some("application/json"),
        "{head}"
    );
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}

/// `GET /`'s database names.
#[track_caller]
pub fn databases(server: &Server) -> Vec<String> {
    let v = json_ok(get(server, "/"));
    serde_json::from_value(v["databases"].clone()).expect("databases is a list of names")
}

/// `GET /<db>/`'s table names, in the server's order.
#[track_caller]
pub fn table_names(server: &Server, db: &str) -> Vec<String> {
    let v = json_ok(get(server, &format!("/{db}/")));
    assert_eq!(v["database"], json!(db));
    let tables = v["tables"].as_array().expect("tables is a list");
    tables
        .iter()
        .map(|t| t["table"].as_str().expect("table name").to_string())
        .collect()
}

/// A complete change stream: header, rows, trailer.
pub struct Stream {
    pub header: Value,
    pub rows: Vec<Value>,
    pub trailer: Value,
}

impl Stream {
    /// The first column of every row (the `id` key in these tests).
    pub fn ids(&self) -> Vec<i64> {
        let id = |r: &Value| r[0].as_i64().unwrap_or_else(|| panic!("no id: {r}"));
        self.rows.iter().map(id).collect()
    }

    pub fn column_names(&self) -> Vec<&str> {
        let columns = self.header["columns"].as_array().expect("columns");
        columns
            .iter()
            .map(|c| c["name"].as_str().expect("column name"))
            .collect()
    }
}

/// GETs a stream and checks its framing: NDJSON, header first, one array per
/// row, trailer last with the row count.
#[track_caller]
pub fn stream(server: &Server, path: &str) -> Stream {
    let (code, head, body) = get(server, path);
    assert_eq!(code, 200, "GET {path}:\n{head}\n\n{body}");
    assert_eq!(
        header(&head, "content-type"),
        Some("application/x-ndjson"),
        "{head}"
    );
    assert!(
        body.ends_with('\n'),
        "every line ends with a newline: {body:?}"
    );
    let mut lines = ndjson_lines(&body);
    assert!(lines.len() >= 2, "header and trailer at least: {body}");
    let trailer = lines.pop().expect("a last line")["trailer"].clone();
    let header = lines.remove(0)["header"].clone();
    assert!(header.is_object(), "header first: {body}");
    assert!(trailer.is_object(), "trailer last (else cut off): {body}");
    assert!(
        lines.iter().all(Value::is_array),
        "one JSON array per row: {body}"
    );
    assert_eq!(trailer["rows"], json!(lines.len()), "trailer counts rows");
    Stream {
        header,
        rows: lines,
        trailer,
    }
}

/// The ids a stream of `db`.`t` with `query` returns.
#[track_caller]
pub fn ids(server: &Server, db: &str, query: &str) -> Vec<i64> {
    stream(server, &format!("/{db}/t/?{query}")).ids()
}

/// Lines the server logged at ERROR level.
pub fn error_lines(server: &Server) -> Vec<String> {
    let log = server.log_text();
    let lines = log.lines().filter(|l| l.contains(" ERROR "));
    lines.map(str::to_string).collect()
}

#[track_caller]
pub fn assert_still_serving(server: &Server) {
    assert_eq!(
        get(server, "/").0,
        200,
        "server stopped serving:\n{}",
        server.log_text()
    );
}

/// `Authorization` value for Basic credentials.
pub fn basic(user: &str, password: &str) -> String {
    dbdump_shared::http::basic_auth(user, password)
}

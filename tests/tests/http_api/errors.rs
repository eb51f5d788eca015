//! Refused requests and their JSON error bodies: bad stream and listing
//! parameters (400), unknown and unsyncable tables (404), methods other than
//! GET (405, with `Allow`).

use dbdump_tests::*;

use crate::common::*;

#[test]
fn bad_column_lists_are_400_naming_the_problem() {
    let db = db_with_rows("api_badcols", &[(1, "2020-01-01 00:00:00")]);
    let server = Server::start(src(), &[]);
    let t = |q: &str| get(&server, &format!("/{db}/t/?{q}"));
    assert_error(&t("include_columns=a,nope"), 400, "`nope`");
    assert_error(&t("exclude_columns=zilch"), 400, "`zilch`");
    assert_error(&t("exclude_columns=ts"), 400, "`ts` cannot be excluded");
    assert_error(&t("exclude_columns=a,id"), 400, "`id` cannot be excluded");
    assert_error(
        &t("include_columns=a&exclude_columns=a"),
        400,
        "nothing left",
    );
    assert_error(&t("include_columns="), 400, "nothing left");
    // Column names are exact: `A` is not `a`.
    assert_error(&t("include_columns=A"), 400, "`A`");
}

#[test]
fn bad_query_parameters_are_400_naming_the_problem() {
    let db = db_with_rows("api_badq", &[(1, "2020-01-01 00:00:00")]);
    let server = Server::start(src(), &[]);
    let t = |q: &str| get(&server, &format!("/{db}/t/?{q}"));
    assert_error(
        &t("sinse=2020-01-01"),
        400,
        "unknown query parameter \"sinse\"",
    );
    assert_error(&t("since=2020-01-01&limit=5"), 400, "\"limit\"");
    assert_error(&t("since=yesterday"), 400, "since");
    assert_error(&t("since=2020-13-01"), 400, "since");
    assert_error(&t("since=2020-02-30"), 400, "since");
    assert_error(&t("since=2020-01-01+25:00:00"), 400, "since");
    assert_error(&t("since=2020-01-01+00:00:00.1234567"), 400, "since");
    assert_error(&t("since="), 400, "since");
    assert_error(&t("since=2020-01-01&since=2020-01-02"), 400, "twice");
    assert_error(&t("after_key=[1]"), 400, "after_key needs since");
    let since = "since=2020-01-01";
    assert_error(&t(&format!("{since}&after_key=%5B")), 400, "after_key");
    assert_error(&t(&format!("{since}&after_key=1")), 400, "after_key");
    assert_error(
        &t(&format!("{since}&after_key=[1,2]")),
        400,
        "expected 1 key values",
    );
    assert_error(&t(&format!("{since}&after_key=[null]")), 400, "null");
    assert_error(&t(&format!("{since}&after_key=[true]")), 400, "after_key");
    assert_error(&t("since=%zz"), 400, "escape");
}

/// PROTOCOL.md: `after_key` holds the key "in the stream's value encoding",
/// and a bad `after_key` is a 400. A string for an INT key is not that
/// encoding; today it is bound as text and MySQL casts it (`"x"` -> 0,
/// `"5abc"` -> 5), so a typo silently moves the resume point.
#[test]
fn after_key_of_the_wrong_type_is_400() {
    let db = db_with_rows("api_badkey", &[(1, "2020-01-01 00:00:00")]);
    let server = Server::start(src(), &[]);
    let keys = ["%5B%22x%22%5D", "%5B%225abc%22%5D", "%5B%221%22%5D"];
    // Also what an injection attempt looks like: bound safely, but not a key.
    let injection = "%5B%221%27%20OR%201%3D1%22%5D";
    for key in keys.into_iter().chain([injection]) {
        let path = format!("/{db}/t/?since=2020-01-01&after_key={key}");
        assert_error(&get(&server, &path), 400, "after_key");
    }
}

#[test]
fn unknown_tables_are_404_the_others_stream_by_key_or_whole() {
    let db = new_db("api_404");
    sql(
        &db,
        &format!(
            "CREATE TABLE ok (id INT PRIMARY KEY, {TS});
             CREATE TABLE no_ts (id INT PRIMARY KEY, ts TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP);
             CREATE TABLE no_key (id INT, {TS});
             CREATE VIEW v AS SELECT * FROM ok;"
        ),
    );
    let server = Server::start(src(), &[]);
    assert_eq!(stream(&server, &format!("/{db}/ok/")).rows.len(), 0);
    assert_error(
        &get(&server, "/no_such_db_x/"),
        404,
        "database `no_such_db_x` not found",
    );
    assert_error(&get(&server, "/no_such_db_x/ok/"), 404, "not found");
    assert_error(
        &get(&server, &format!("/{db}/nope/")),
        404,
        "`nope` not found",
    );
    // A table without an auto-updating column streams by its key, one
    // without a key whole.
    assert_eq!(stream(&server, &format!("/{db}/no_ts/")).rows.len(), 0);
    assert_eq!(stream(&server, &format!("/{db}/no_key/")).rows.len(), 0);
    assert_error(
        &get(&server, &format!("/{db}/no_ts/?since=2020-01-01")),
        400,
        "auto-updating TIMESTAMP",
    );
    assert_error(
        &get(&server, &format!("/{db}/no_key/?since=2020-01-01")),
        400,
        "no key",
    );
    assert_error(&get(&server, &format!("/{db}/v/")), 404, "not found");
    // Names are exact: the table is `ok`, not `OK`.
    assert_error(&get(&server, &format!("/{db}/OK/")), 404, "not found");
    assert_error(
        &get(&server, &format!("/{db}/ok/extra/")),
        404,
        "no such path",
    );
    // Parameters are checked against the table only once it exists.
    assert_error(
        &get(&server, &format!("/{db}/nope/?include_columns=x")),
        404,
        "not found",
    );
}

#[test]
fn methods_other_than_get_are_405_with_allow() {
    let db = db_with_rows("api_405", &[]);
    let server = Server::start(src(), &[]);
    for method in ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"] {
        for path in ["/".to_string(), format!("/{db}/t/")] {
            let req = format!(
                "{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello"
            );
            let resp = http_raw(server.port, req.as_bytes());
            assert_error(&resp, 405, method);
            assert_eq!(header(&resp.1, "allow"), Some("GET"), "{}", resp.1);
        }
    }
    // HEAD: same status and Allow (its body: see the test below).
    let resp = http_raw(server.port, b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(resp.0, 405, "{}", resp.1);
    assert_eq!(header(&resp.1, "allow"), Some("GET"), "{}", resp.1);
    assert_still_serving(&server);
}

/// RFC 9110 9.3.2: a response to HEAD carries no content (a client reading
/// it may take the body for the next response). Today the 405 JSON body
/// follows the head. Harmless while every connection closes after one
/// response, but wrong.
#[test]
fn head_gets_405_without_a_body() {
    let server = Server::start(src(), &[]);
    let (code, head, body) = http_raw(server.port, b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(code, 405, "{head}");
    assert_eq!(body, "", "no content after a HEAD response's head");
}

#[test]
fn empty_segments_and_listing_parameters_are_refused() {
    let server = Server::start(src(), &[]);
    assert_error(&get(&server, "//"), 404, "no such path");
    assert_error(&get(&server, "/?bogus=1"), 400, "no query parameters");
    let db = db_with_rows("listparams", &[(1, "2020-01-01 00:00:00")]);
    assert_error(
        &get(&server, &format!("/{db}/?since=garbage")),
        400,
        "no query parameters",
    );
    // A missing table is 404 even when the parameters are bad too.
    assert_error(
        &get(&server, &format!("/{db}/nope/?bogus=1")),
        404,
        "not found",
    );
    assert_still_serving(&server);
}

//! Exact values: every column type at its extremes, with the source server,
//! destination server, dbd_server host and dbd_puller host in four
//! different time zones (two with daylight saving time), including the hour
//! that repeats when it ends. The destination must come out byte-identical,
//! and its digests equal to the source's.

use dbdump_tests::fixtures::{ROWS, TYPES};
use dbdump_tests::*;

#[test]
fn every_type_survives_four_time_zones_byte_for_byte() {
    // Separate servers: their system time zones are part of the test.
    let src = Sandbox::start("tz-source", Some("America/New_York"));
    let dst = Sandbox::start("tz-dest", Some("Asia/Kolkata"));
    let db = unique_name("types");
    let copy = format!("{db}_copy");
    src.exec(&format!(
        "CREATE DATABASE {0}; USE {0}; {TYPES}; {ROWS}",
        ident(&db)
    ));
    copy_schema(&src, &db, &dst, &copy);
    assert_eq!(
        src.scalar("SELECT @@system_time_zone").as_deref(),
        Some("EST"),
        "the source must run in a DST zone"
    );
    // Two distinct instants that New York shows as the same local time.
    let local = src.query_strings(&format!(
        "SET time_zone = 'SYSTEM'; SELECT DISTINCT CAST(ts0 AS CHAR) FROM {}.types WHERE id IN (1, 2, 4) AND ts0 LIKE '2026-11-01%'",
        ident(&db)
    ));
    assert_eq!(
        local.len(),
        1,
        "05:30 and 06:30 UTC are both 01:30 in New York: {local:?}"
    );

    let server = Server::start_with_env(
        &src,
        &["--source-databases", &db, "--settle", "0"],
        &[("TZ", "Australia/Adelaide")],
    );
    let out = puller_command(server.port, &dst, &db, &copy, &[])
        .env("TZ", "Europe/London")
        .output()
        .expect("puller runs");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(count(&dst, &copy, "types"), 204);
    assert_same(&src, &db, &dst, &copy, &["types"]);

    // Equal rows digest equal, whatever the zones: --verify finds nothing.
    let out = puller_command(server.port, &dst, &db, &copy, &["--verify"])
        .env("TZ", "Europe/London")
        .output()
        .expect("puller runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("1 chunks compared, 0 differed, 0 rows deleted, 0 rows repaired"),
        "{stderr}"
    );
    // The smallest changes still show: a FLOAT's and a DOUBLE's last bit,
    // a microsecond, one byte deep in a blob, a zero date's neighbour.
    dst.exec(&format!(
        "SET time_zone = '+00:00'; USE {};
         UPDATE types SET f = f * (1 + 1e-7), upd = upd WHERE id = 1;
         UPDATE types SET db = db + 1e-16, upd = upd WHERE id = 104;
         UPDATE types SET ts6 = ts6 + INTERVAL 1 MICROSECOND, upd = upd WHERE id = 2;
         UPDATE types SET lb = INSERT(lb, 600000, 1, 'x'), upd = upd WHERE id = 4;
         UPDATE types SET dtm = '0000-00-01 00:00:00', upd = upd WHERE id = 3;",
        ident(&copy)
    ));
    let out = puller_command(server.port, &dst, &db, &copy, &["--verify"])
        .env("TZ", "Europe/London")
        .output()
        .expect("puller runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("5 rows repaired"), "{stderr}");
    assert_same(&src, &db, &dst, &copy, &["types"]);

    // Incremental: the resume point lies in the repeated hour; an update
    // moves one row past it and nothing else travels.
    src.exec(&format!(
        "UPDATE {}.types SET vc = 'changed' WHERE id = 3",
        ident(&db)
    ));
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let out = puller_command(server.port, &dst, &db, &copy, &[])
        .env("TZ", "Europe/London")
        .output()
        .expect("puller runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("table `types`: 1 rows applied"), "{stderr}");
    assert_same(&src, &db, &dst, &copy, &["types"]);
}

#[test]
fn header_describes_encodings_and_values_read_with_plain_json() {
    let (src, _) = pair();
    let db = unique_name("wire");
    src.exec(&format!(
        "CREATE DATABASE {0}; USE {0}; {TYPES}; {ROWS}",
        ident(&db)
    ));
    let server = Server::start(src, &["--source-databases", &db]);
    let (status, _, body) = http_get(
        server.port,
        &format!("/{db}/types/?include_columns=biu,d,f,dt,t,b64,vb,l1"),
        &[],
    );
    assert_eq!(status, 200, "{body}");
    let lines = ndjson_lines(&body);
    let header = &lines[0]["header"];
    let encoding = |name: &str| {
        header["columns"]
            .as_array()
            .and_then(|cols| cols.iter().find(|c| c["name"] == name))
            .map(|c| c["encoding"].as_str().unwrap_or_default().to_string())
            .unwrap_or_default()
    };
    assert_eq!(encoding("biu"), "number");
    assert_eq!(encoding("d"), "string");
    assert_eq!(encoding("vb"), "base64");
    assert_eq!(encoding("b64"), "base64");
    assert_eq!(encoding("l1"), "string");
    assert_eq!(header["key"], serde_json::json!(["id"]));
    // Row 1, by position in the header (id first, upd last).
    let names: Vec<String> = header["columns"]
        .as_array()
        .expect("columns")
        .iter()
        .map(|c| c["name"].as_str().unwrap_or_default().to_string())
        .collect();
    let row1 = lines[1..]
        .iter()
        .find(|r| r.is_array() && r[0] == 1)
        .expect("row 1 is in the stream");
    let field = |n: &str| &row1[names.iter().position(|x| x == n).expect("column is sent")];
    // serde_json keeps u64 exact.
    assert_eq!(field("biu").as_u64(), Some(u64::MAX));
    assert_eq!(
        field("d"),
        "99999999999999999999999999999999999.999999999999999999999999999999"
    );
    assert_eq!(field("dt"), "9999-12-31");
    assert_eq!(field("t"), "838:59:59.000000");
    assert_eq!(field("b64"), "//////////8=");
    assert_eq!(field("l1"), "café ÿ ½ Æ");
    assert!(lines.last().expect("trailer")["trailer"]["rows"].as_u64() == Some(204));
}

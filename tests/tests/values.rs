//! Exact values: every column type at its extremes, with the source server,
//! destination server, dbd_server host and dbd_puller host in four
//! different time zones (two with daylight saving time), including the hour
//! that repeats when it ends. The destination must come out byte-identical,
//! and its digests equal to the source's.

use dbdump_tests::*;

const TYPES: &str = "CREATE TABLE types (
    id INT NOT NULL PRIMARY KEY,
    ti TINYINT NULL, tiu TINYINT UNSIGNED NULL, si SMALLINT NULL, mi MEDIUMINT NULL,
    miu MEDIUMINT UNSIGNED NULL, i INT NULL, iu INT UNSIGNED NULL,
    bi BIGINT NULL, biu BIGINT UNSIGNED NULL,
    d DECIMAL(65,30) NULL, d0 DECIMAL(10,0) NULL,
    f FLOAT NULL, db DOUBLE NULL,
    dt DATE NULL, dtm DATETIME(6) NULL, dt0 DATETIME NULL, t TIME(6) NULL, t0 TIME NULL, y YEAR NULL,
    ts6 TIMESTAMP(6) NULL DEFAULT NULL, ts0 TIMESTAMP NULL DEFAULT NULL,
    c CHAR(10) NULL, vc VARCHAR(200) NULL, tx MEDIUMTEXT NULL,
    l1 VARCHAR(50) CHARACTER SET latin1 NULL, u16 VARCHAR(20) CHARACTER SET utf16 NULL,
    cyr VARCHAR(20) CHARACTER SET cp1251 NULL, sj VARCHAR(20) CHARACTER SET sjis NULL,
    bn BINARY(4) NULL, vb VARBINARY(300) NULL, bl BLOB NULL, lb LONGBLOB NULL,
    b1 BIT(1) NULL, b64 BIT(64) NULL,
    e ENUM('a','b','ç') NULL, st SET('x','y','z') NULL, j JSON NULL,
    g GEOMETRY NULL, p POINT NULL,
    upd TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
    KEY (upd)
  ) DEFAULT CHARSET=utf8mb4";

/// Row 1: the largest values; row 2: the smallest; row 3: NULL everywhere;
/// row 4: awkward ones (NUL bytes, zero dates, the repeated DST hour).
const ROWS: &str = "SET time_zone = '+00:00';
  INSERT INTO types VALUES (1,
    127, 255, 32767, 8388607, 16777215, 2147483647, 4294967295,
    9223372036854775807, 18446744073709551615,
    99999999999999999999999999999999999.999999999999999999999999999999, 9999999999,
    3.40282e38, 1.7976931348623157e308,
    '9999-12-31', '9999-12-31 23:59:59.999999', '9999-12-31 23:59:59', '838:59:59.000000', '838:59:59', 2155,
    '2038-01-19 03:14:07.999999', '2038-01-19 03:14:07',
    'abcdefghij', CONCAT('4-byte: ', 0xF09F9880, ' ', 0xF09D849E, ' quote\" back\\\\ tab\t nl\n'),
    REPEAT('long text ü ', 20000),
    'café ÿ ½ Æ', 'wide 😀 ü', 'Привет', '日本語',
    0xFFFFFFFF, 0x000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F202122232425262728292A2B2C2D2E2F303132333435363738393A3B3C3D3E3F404142434445464748494A4B4C4D4E4F505152535455565758595A5B5C5D5E5F606162636465666768696A6B6C6D6E6F707172737475767778797A7B7C7D7E7F808182838485868788898A8B8C8D8E8F909192939495969798999A9B9C9D9E9FA0A1A2A3A4A5A6A7A8A9AAABACADAEAFB0B1B2B3B4B5B6B7B8B9BABBBCBDBEBFC0C1C2C3C4C5C6C7C8C9CACBCCCDCECFD0D1D2D3D4D5D6D7D8D9DADBDCDDDEDFE0E1E2E3E4E5E6E7E8E9EAEBECEDEEEFF0F1F2F3F4F5F6F7F8F9FAFBFCFDFEFF,
    NULL, NULL,
    b'1', 0xFFFFFFFFFFFFFFFF,
    'ç', 'x,y,z', '{\"a\": [1, 2.5, \"ü\"], \"b\": null, \"c\": {\"d\": true}}',
    ST_GeomFromText('POLYGON((0 0,10 0,10 10,0 10,0 0),(2 2,3 2,3 3,2 2))'), POINT(1.5, -2.25),
    '2026-11-01 05:30:00.000001');
  INSERT INTO types VALUES (2,
    -128, 0, -32768, -8388608, 0, -2147483648, 0,
    -9223372036854775808, 0,
    -99999999999999999999999999999999999.999999999999999999999999999999, -9999999999,
    -1.17549e-38, 2.2250738585072014e-308,
    '1000-01-01', '1000-01-01 00:00:00.000000', '1000-01-01 00:00:00', '-838:59:59.000000', '-838:59:59', 1901,
    '1970-01-01 00:00:01.000000', '1970-01-01 00:00:01',
    '', '', '', '', '', '', '',
    0x00000000, X'', X'', X'',
    b'0', 0x0000000000000000,
    'a', '', '[]',
    ST_GeomFromText('GEOMETRYCOLLECTION EMPTY'), POINT(0, 0),
    '2026-11-01 06:30:00.000001');
  INSERT INTO types (id, upd) VALUES (3, '2026-11-01 05:59:59.999999');
  INSERT INTO types VALUES (4,
    0, 0, 0, 0, 0, 0, 0, 0, 0,
    0.000000000000000000000000000001, 0,
    0.1, 0.30000000000000004,
    '0000-00-00', '0000-00-00 00:00:00.000000', '2026-11-01 01:30:00', '-00:00:00.000001', '00:00:00', 0,
    '2026-11-01 05:30:00.000000', '2026-11-01 06:30:00',
    'trail  ', CONCAT('nul', 0x00, 'byte'), CONCAT(0x00, 0x01, 0x1F, 0x7F), 'ÿ', '𝄞', 'ёЁ', 'ｱ',
    0x00010000, 0x00, REPEAT(0x00FF, 30000), REPEAT(0xDEADBEEF, 300000),
    NULL, 0x0000000000000001,
    'b', 'y', '\"just a string\"',
    ST_GeomFromText('MULTIPOINT(1 1, 2 2)'), POINT(-180, 90),
    '2026-11-01 06:00:00.500000');
  INSERT INTO types (id, f, db, upd) SELECT 100 + seq, seq / 7, seq / 7, '2026-11-01 06:15:00'
    FROM seq_1_to_200;";

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

//! Names crafted to break out of SQL quoting or the path (injection,
//! `..`, NUL, bad escapes, over-long names) are 404 or 400, never a fault;
//! names that need encoding work when encoded.

use dbdump_tests::*;
use serde_json::json;

use crate::common::*;

#[test]
fn hostile_names_are_404_or_400_never_a_fault() {
    let db = new_db("api_hostile");
    // Names that need encoding do work when encoded.
    sql(
        &db,
        &format!(
            "CREATE TABLE t (id INT PRIMARY KEY, {TS}); CREATE TABLE `a?b` (id INT PRIMARY KEY, {TS});
             CREATE TABLE `50%` (id INT PRIMARY KEY, {TS}); CREATE TABLE `x y/z` (id INT PRIMARY KEY, {TS});
             INSERT INTO `a?b` VALUES (7, '2020-01-01 00:00:00');"
        ),
    );
    let server = Server::start(src(), &[]);
    let s = stream(&server, &format!("/{db}/a%3Fb/"));
    assert_eq!(
        (s.header["table"].clone(), s.ids()),
        (json!("a?b"), vec![7])
    );
    assert_eq!(
        stream(&server, &format!("/{db}/50%25/")).header["table"],
        json!("50%")
    );
    assert_eq!(
        stream(&server, &format!("/{db}/x%20y%2Fz/")).header["table"],
        json!("x y/z")
    );

    let long = "n".repeat(300);
    let paths = [
        "/%60%3B%20DROP%20TABLE%20x%3B/".to_string(),
        "/%60%3B%20DROP%20TABLE%20x%3B/t/".to_string(),
        "/../".to_string(),
        "/..".to_string(),
        "/./".to_string(),
        format!("/{db}/../"),
        format!("/{db}/..%2F..%2Fetc/"),
        "/db/..%2F..%2Fetc/".to_string(),
        "/%00/".to_string(),
        format!("/{db}/t%00/"),
        format!("/{long}/"),
        format!("/{db}/{long}/"),
        format!("/{db}/t%27%20union%20select%201/"),
        "/db/t%27%20union%20select%201/".to_string(),
        format!("/{db}/t%60%20WHERE%201%3D1%20--%20/"),
        "/%25/".to_string(),
        "/%25%25/".to_string(),
        "/%3F/".to_string(),
        format!("/{db}/a?b/"),
        format!("/{db}/50%/"),
        format!("/{db}/%3F/"),
        format!("/{db}/%25/t/"),
        format!("/{db}%3F/"),
        "/%2F/".to_string(),
        format!("/{db}//t/"),
        "/a/b/c/".to_string(),
        "/%zz/".to_string(),
        "/%/".to_string(),
        "/%C3%28/".to_string(),
        "/%E2%80%AE/".to_string(),
        format!("/{db}/t/?since=%27%3B%20DROP%20TABLE%20t%3B"),
        format!("/{db}/t/?include_columns=%60id%60"),
    ];
    for path in &paths {
        let (code, head, body) = get(&server, path);
        assert!(code == 400 || code == 404, "{path}: {code}\n{head}\n{body}");
        assert_error(&(code, head, body), code, "");
    }
    assert_eq!(
        table_names(&server, &db).len(),
        4,
        "nothing was dropped: {:?}",
        table_names(&server, &db)
    );
    assert!(error_lines(&server).is_empty(), "{}", server.log_text());
}

//! The two listings: `GET /` (the exposed databases, never a system
//! schema unless named, nothing of an unexposed one) and `GET /<db>/` (only
//! the tables that can be synced, parents before children).

use dbdump_tests::*;
use serde_json::json;

use crate::common::*;

// ---------------------------------------------------------------- GET /

#[test]
fn root_lists_databases_but_never_system_schemas() {
    let db = new_db("api_root");
    let server = Server::start(src(), &[]);
    let (_, head, _) = get(&server, "/");
    assert_eq!(header(&head, "cache-control"), Some("no-store"), "{head}");
    let dbs = databases(&server);
    assert!(dbs.contains(&db), "{db} missing from {dbs:?}");
    for system in ["mysql", "information_schema", "performance_schema", "sys"] {
        assert!(
            !dbs.iter().any(|d| d.eq_ignore_ascii_case(system)),
            "{dbs:?}"
        );
    }
    let mut sorted = dbs.clone();
    sorted.sort();
    assert_eq!(dbs, sorted, "sorted by name");
}

#[test]
fn source_databases_limits_the_list_to_those_named() {
    let (a, b, c) = (
        new_db("api_only_a"),
        new_db("api_only_b"),
        new_db("api_only_c"),
    );
    let list = format!("{b},{a}");
    let server = Server::start(src(), &["--source-databases", &list]);
    let mut want = vec![a.clone(), b.clone()];
    want.sort();
    assert_eq!(databases(&server), want);
    assert_eq!(
        json_ok(get(&server, &format!("/{a}/")))["tables"],
        json!([])
    );
    assert_error(&get(&server, &format!("/{c}/")), 404, "not found");
    // A name in the list that does not exist is simply not listed.
    let server = Server::start(src(), &["--source-databases", &format!("{a},no_such_db_x")]);
    assert_eq!(databases(&server), [a]);
}

#[test]
fn system_schemas_are_404_unless_named() {
    let db = new_db("api_sys");
    let server = Server::start(src(), &[]);
    for path in [
        "/mysql/",
        "/mysql",
        "/mysql/user/",
        "/information_schema/",
        "/information_schema/TABLES/",
        "/performance_schema/",
        "/sys/",
    ] {
        assert_error(&get(&server, path), 404, "not found");
    }

    // Named explicitly, `mysql` is exposed like any other database.
    let list = format!("mysql,{db}");
    let server = Server::start(src(), &["--source-databases", &list]);
    let mut want = vec!["mysql".to_string(), db.clone()];
    want.sort();
    assert_eq!(databases(&server), want);
    assert_eq!(json_ok(get(&server, "/mysql/"))["database"], json!("mysql"));
    assert_error(&get(&server, "/information_schema/"), 404, "not found");
}

#[test]
fn every_path_under_an_unexposed_database_is_404() {
    let shown = db_with_rows("api_shown", &[(1, "2020-01-01 00:00:00")]);
    let hidden = db_with_rows("api_hidden", &[(1, "2020-01-01 00:00:00")]);
    let server = Server::start(src(), &["--source-databases", &shown]);
    assert_eq!(ids(&server, &shown, ""), [1]);
    let hidden_answers: Vec<String> = [
        format!("/{hidden}/"),
        format!("/{hidden}/t/"),
        format!("/{hidden}/t/?since=2000-01-01"),
        format!("/{hidden}/nope/"),
        "/mysql/user/".to_string(),
    ]
    .iter()
    .map(|p| assert_error(&get(&server, p), 404, "not found"))
    .collect();
    // Unexposed and nonexistent look the same, so probing reveals nothing.
    let missing = assert_error(&get(&server, "/no_such_db_x/t/"), 404, "not found");
    assert_eq!(
        hidden_answers[1].replace(&hidden, "X"),
        missing.replace("no_such_db_x", "X")
    );
}

// ---------------------------------------------------------------- GET /<db>/

#[test]
fn table_list_has_tables_with_auto_timestamp_and_a_key_and_every_table_with_its_method() {
    let db = new_db("api_tables");
    sql(
        &db,
        &format!(
            "CREATE TABLE ok_second (id INT PRIMARY KEY, {TS});
             CREATE TABLE ok_micro (id INT PRIMARY KEY, {TS6});
             CREATE TABLE ok_composite (a INT, b VARCHAR(10), x INT, {TS},
                 PRIMARY KEY (b, a), KEY (ts));
             CREATE TABLE no_on_update (id INT PRIMARY KEY,
                 ts TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP);
             CREATE TABLE datetime_on_update (id INT PRIMARY KEY,
                 ts DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP);
             CREATE TABLE no_timestamp (id INT PRIMARY KEY, v INT);
             CREATE TABLE no_key (id INT, {TS});
             CREATE TABLE unique_not_key (id INT NOT NULL UNIQUE, {TS});
             CREATE VIEW a_view AS SELECT * FROM ok_second;"
        ),
    );
    let server = Server::start(src(), &[]);
    let v = json_ok(get(&server, &format!("/{db}/")));
    assert_eq!(v["database"], json!(db));
    let mut tables = v["tables"].as_array().expect("tables").clone();
    tables.sort_by_key(|t| t["table"].as_str().unwrap_or_default().to_string());
    assert_eq!(
        tables,
        [
            json!({"table": "ok_composite", "timestamp_column": "ts", "key": ["b", "a"],
                   "timestamp_indexed": true}),
            json!({"table": "ok_micro", "timestamp_column": "ts", "key": ["id"],
                   "timestamp_indexed": false}),
            json!({"table": "ok_second", "timestamp_column": "ts", "key": ["id"],
                   "timestamp_indexed": false}),
            // InnoDB clusters it by its UNIQUE NOT NULL key: so do we.
            json!({"table": "unique_not_key", "timestamp_column": "ts", "key": ["id"],
                   "timestamp_indexed": false}),
        ]
    );
    // Every table says how a puller that names no cursor syncs it.
    let methods: Vec<(String, String, Option<String>)> = v["every_table"]
        .as_array()
        .expect("every_table")
        .iter()
        .map(|t| {
            let s = |k: &str| t[k].as_str().map(str::to_string);
            (
                s("table").unwrap_or_default(),
                s("method").unwrap_or_default(),
                s("key_index"),
            )
        })
        .collect();
    let method = |table: &str| -> (String, Option<String>) {
        let (_, m, k) = methods.iter().find(|(t, _, _)| t == table).expect(table);
        (m.clone(), k.clone())
    };
    let some = |s: &str| Some(s.to_string());
    assert_eq!(
        method("ok_composite"),
        ("timestamp".into(), some("PRIMARY"))
    );
    assert_eq!(method("no_on_update"), ("digest".into(), some("PRIMARY")));
    assert_eq!(
        method("datetime_on_update"),
        ("digest".into(), some("PRIMARY"))
    );
    assert_eq!(method("no_timestamp"), ("digest".into(), some("PRIMARY")));
    assert_eq!(method("no_key"), ("whole".into(), None));
    assert_eq!(method("unique_not_key"), ("timestamp".into(), some("id")));
    assert!(methods.iter().all(|(t, _, _)| t != "a_view"), "{methods:?}");
}

#[test]
fn table_list_puts_parents_before_children_the_same_way_every_time() {
    let db = new_db("api_fk");
    // Created children first (foreign key checks off), and named so that the
    // alphabetical order is the wrong one: c_root <- b_mid <- a_child.
    // x_one <-> y_two reference each other; z_leaf hangs off the cycle;
    // d_ref references a table that cannot be synced.
    sql(
        &db,
        &format!(
            "SET foreign_key_checks = 0;
             CREATE TABLE a_child (id INT PRIMARY KEY, p INT, {TS},
                 FOREIGN KEY (p) REFERENCES b_mid (id));
             CREATE TABLE b_mid (id INT PRIMARY KEY, p INT, {TS},
                 FOREIGN KEY (p) REFERENCES c_root (id));
             CREATE TABLE c_root (id INT PRIMARY KEY, {TS});
             CREATE TABLE x_one (id INT PRIMARY KEY, p INT, {TS},
                 FOREIGN KEY (p) REFERENCES y_two (id));
             CREATE TABLE y_two (id INT PRIMARY KEY, p INT, {TS},
                 FOREIGN KEY (p) REFERENCES x_one (id));
             CREATE TABLE z_leaf (id INT PRIMARY KEY, p INT, {TS},
                 FOREIGN KEY (p) REFERENCES x_one (id));
             CREATE TABLE plain (id INT PRIMARY KEY);
             CREATE TABLE d_ref (id INT PRIMARY KEY, p INT, {TS},
                 FOREIGN KEY (p) REFERENCES plain (id));"
        ),
    );
    let server = Server::start(src(), &[]);
    let order = table_names(&server, &db);
    let mut all = order.clone();
    all.sort();
    assert_eq!(
        all,
        ["a_child", "b_mid", "c_root", "d_ref", "x_one", "y_two", "z_leaf"]
    );
    let pos = |t: &str| order.iter().position(|n| n == t).expect("listed");
    // Every edge outside the cycle points backwards in the list.
    for (child, parent) in [
        ("a_child", "b_mid"),
        ("b_mid", "c_root"),
        ("z_leaf", "x_one"),
    ] {
        assert!(
            pos(parent) < pos(child),
            "{parent} before {child}: {order:?}"
        );
    }
    for _ in 0..3 {
        assert_eq!(table_names(&server, &db), order, "same order every call");
    }
}

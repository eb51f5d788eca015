//! Usage errors of both binaries (exit 2, nothing on stdout, the usage and
//! one `error:` line on stderr): unknown flags, missing values and required
//! flags, bad numbers, inconsistent credentials and bad values in `DBD_*`
//! variables.

use dbdump_tests::*;

use crate::common::*;

#[test]
fn unknown_flag_or_stray_argument_is_a_usage_error() {
    let (s, p) = (server_base(), puller_base());
    assert_usage_error(
        &run("dbd_server", &with(&s, &["--bogus"]), &[]),
        "dbd_server",
        "--bogus",
    );
    assert_usage_error(
        &run("dbd_puller", &with(&p, &["--bogus"]), &[]),
        "dbd_puller",
        "--bogus",
    );
    assert_usage_error(
        &run("dbd_server", &with(&s, &["stray"]), &[]),
        "dbd_server",
        "stray",
    );
    assert_usage_error(
        &run("dbd_puller", &with(&p, &["-Z"]), &[]),
        "dbd_puller",
        "-Z",
    );
    // Flags of the other binary are unknown too.
    assert_usage_error(
        &run("dbd_puller", &with(&p, &["--settle", "1"]), &[]),
        "dbd_puller",
        "--settle",
    );
}

#[test]
fn flag_without_its_value_is_a_usage_error() {
    let (s, p) = (server_base(), puller_base());
    let r = run("dbd_server", &with(&s, &["--source-databases"]), &[]);
    assert_usage_error(&r, "dbd_server", "--source-databases");
    let r = run("dbd_server", &with(&s, &["-P"]), &[]);
    assert_usage_error(&r, "dbd_server", "-P");
    let r = run("dbd_puller", &with(&p, &["--poll-interval"]), &[]);
    assert_usage_error(&r, "dbd_puller", "--poll-interval");
    let r = run("dbd_puller", &with(&p, &["-t"]), &[]);
    assert_usage_error(&r, "dbd_puller", "-t");
}

#[test]
fn non_numeric_or_out_of_range_port_is_a_usage_error() {
    // Each flag given once, with a bad value, next to the required flags.
    let server = |flag: &str, value: &str| {
        let mut args = vec!["--source-host", "127.0.0.1", "--source-username", "root"];
        args.extend([flag, value]);
        run("dbd_server", &args, &[])
    };
    for (flag, value) in [
        ("-P", "http"),
        ("--listen-port", "65536"),
        ("--source-port", "3306x"),
    ] {
        assert_usage_error(&server(flag, value), "dbd_server", value);
    }
    let p = puller_base();
    for (flag, value) in [
        ("--source-port", "eighty"),
        ("--dest-port", "-1"),
        ("--source-timeout", "soon"),
    ] {
        let i = p.iter().position(|a| a == flag).expect("in base");
        let mut args: Vec<&str> = p.iter().map(String::as_str).collect();
        args[i + 1] = value;
        assert_usage_error(&run("dbd_puller", &args, &[]), "dbd_puller", value);
    }
}

#[test]
fn missing_required_flag_is_a_usage_error() {
    let r = run("dbd_server", &["--source-username", "root"], &[]);
    assert_usage_error(&r, "dbd_server", "--source-host");
    let r = run("dbd_server", &["--source-host", "127.0.0.1"], &[]);
    assert_usage_error(&r, "dbd_server", "--source-username");
    let r = run("dbd_server", &[], &[]);
    assert_usage_error(&r, "dbd_server", "required");
    // Each of the puller's required flags, left out in turn.
    let p = puller_base();
    for required in [
        "--source-host",
        "--source-database",
        "--dest-host",
        "--dest-username",
        "--dest-database",
    ] {
        let i = p.iter().position(|a| a == required).expect("in base");
        let mut args: Vec<&str> = p.iter().map(String::as_str).collect();
        args.drain(i..i + 2);
        let r = run("dbd_puller", &args, &[]);
        assert_usage_error(&r, "dbd_puller", required);
        assert!(
            r.stderr.contains(&env_name(required)),
            "names its variable: {}",
            r.stderr
        );
    }
}

#[test]
fn bad_convergence_flags_are_usage_errors() {
    let p = puller_base();
    for (args, needle) in [
        (&["--resync-interval", "3"][..], "needs --poll-interval"),
        (
            &["--poll-interval", "1", "--resync-interval", "0"],
            "at least 1 poll",
        ),
        (
            &["--poll-interval", "1", "--resync-interval", "x"],
            "a number of polls",
        ),
        (&["--max-delete-percent", "101"], "from 0 to 100"),
        (&["--max-delete-percent", "half"], "a percentage"),
    ] {
        let r = run("dbd_puller", &with(&p, args), &[]);
        assert_usage_error(&r, "dbd_puller", needle);
    }
}

#[test]
fn exclude_column_without_table_dot_column_is_a_usage_error() {
    let p = puller_base();
    for bad in ["nodot", ".col", "tbl.", "t.a,nodot"] {
        let r = run("dbd_puller", &with(&p, &["-x", bad]), &[]);
        assert_usage_error(&r, "dbd_puller", "not table.column");
    }
}

#[test]
fn inconsistent_credentials_are_usage_errors() {
    let s = server_base();
    let r = run("dbd_server", &with(&s, &["-u", "foo"]), &[]);
    assert_usage_error(&r, "dbd_server", "--listen-password");
    let r = run("dbd_server", &with(&s, &["-p", "bar"]), &[]);
    assert_usage_error(&r, "dbd_server", "--listen-username");
    let missing = std::env::temp_dir().join(unique_name("no_such_password_file"));
    let missing = missing.to_str().expect("UTF-8");
    let r = run(
        "dbd_server",
        &with(&s, &["-u", "foo", "--listen-password-file", missing]),
        &[],
    );
    assert_usage_error(&r, "dbd_server", missing);
    let r = run(
        "dbd_server",
        &with(
            &s,
            &["-u", "foo", "-p", "bar", "--listen-password-file", missing],
        ),
        &[],
    );
    assert_usage_error(&r, "dbd_server", "not both");
    let p = puller_base();
    let r = run("dbd_puller", &with(&p, &["--source-password", "x"]), &[]);
    assert_usage_error(&r, "dbd_puller", "--source-username");
    let r = run("dbd_puller", &with(&p, &["--source-ssl-ca", missing]), &[]);
    assert_usage_error(&r, "dbd_puller", missing);
}

#[test]
fn bad_values_in_variables_are_usage_errors_naming_the_variable() {
    let s = server_base();
    let r = run("dbd_server", &with(&s, &[]), &[("DBD_DEBUG", "maybe")]);
    assert_usage_error(&r, "dbd_server", "DBD_DEBUG");
    // server_base() passes -P, which would win over the variable.
    let r = run(
        "dbd_server",
        &["--source-host", "127.0.0.1", "--source-username", "root"],
        &[("DBD_LISTEN_PORT", "abc")],
    );
    assert_usage_error(&r, "dbd_server", "DBD_LISTEN_PORT");
    let p = puller_base();
    let r = run(
        "dbd_puller",
        &with(&p, &[]),
        &[("DBD_POLL_INTERVAL", "often")],
    );
    assert_usage_error(&r, "dbd_puller", "DBD_POLL_INTERVAL");
}

//! Parsing and help against a small flag table of their own.

use std::ffi::OsString;

use super::*;

static GROUPS: &[Group] = &[Group {
    title: "optional arguments",
    about: "",
}];
static FLAGS: &[Flag] = &[
    Flag {
        long: "--port",
        short: Some("-P"),
        metavar: Some("PORT"),
        default: Some("8888"),
        required: false,
        alias: None,
        bare: None,
        group: 0,
        help: "Port",
    },
    Flag {
        long: "--host",
        short: None,
        metavar: Some("HOST"),
        default: None,
        required: true,
        alias: None,
        bare: None,
        group: 0,
        help: "Host",
    },
    Flag {
        long: "--ssl",
        short: Some("-s"),
        metavar: None,
        default: None,
        required: false,
        alias: None,
        bare: None,
        group: 0,
        help: "Use SSL",
    },
    Flag {
        long: "--password",
        short: None,
        metavar: Some("PASSWORD"),
        default: None,
        required: false,
        alias: None,
        bare: None,
        group: 0,
        help: "Password",
    },
    Flag {
        long: "--password-file",
        short: None,
        metavar: Some("FILE"),
        default: None,
        required: false,
        alias: None,
        bare: None,
        group: 0,
        help: "Password file",
    },
    Flag {
        long: "--dry-run",
        short: None,
        metavar: Some("text|json"),
        default: None,
        required: false,
        alias: None,
        bare: Some("text"),
        group: 0,
        help: "Change nothing",
    },
];
static SPEC: Spec = Spec {
    name: "demo",
    about: "Demo.",
    groups: GROUPS,
    flags: FLAGS,
    epilog: "",
};

fn run(args: &[&str], env: &[(&str, &str)]) -> Result<Parsed, CliError> {
    let env: HashMap<String, String> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    parse(&SPEC, args.iter().map(OsString::from).collect(), &|k| {
        env.get(k).cloned()
    })
}

fn values(args: &[&str], env: &[(&str, &str)]) -> Values {
    match run(args, env).unwrap() {
        Parsed::Run(v) => v,
        other => panic!("{other:?}"),
    }
}

#[test]
fn defaults_env_and_flags_in_that_order_of_weakness() {
    let v = values(&["--host", "h"], &[]);
    assert_eq!(v.parsed::<u16>("--port", "a port").unwrap(), Some(8888));
    let v = values(&["--host", "h"], &[("DBD_PORT", "9000")]);
    assert_eq!(v.get("--port"), Some("9000"));
    let v = values(&["--host", "h", "-P", "7000"], &[("DBD_PORT", "9000")]);
    assert_eq!(v.get("--port"), Some("7000"));
    let v = values(&["--host", "h", "-P", "1", "--port", "2"], &[]);
    assert_eq!(v.get("--port"), Some("2"), "the last one wins");
    let v = values(&["--port=6000"], &[("DBD_HOST", "h")]);
    assert_eq!(v.get("--port"), Some("6000"));
    assert_eq!(v.get("--host"), Some("h"));
}

#[test]
fn switches_from_flags_and_env() {
    assert!(values(&["--host", "h", "-s"], &[]).switch("--ssl"));
    assert!(values(&["--host", "h"], &[("DBD_SSL", "yes")]).switch("--ssl"));
    assert!(!values(&["--host", "h"], &[("DBD_SSL", "0")]).switch("--ssl"));
    assert!(run(&["--host", "h"], &[("DBD_SSL", "maybe")]).is_err());
}

#[test]
fn yes_no_values() {
    let v = values(&["--host", "h", "--password=no"], &[]);
    assert_eq!(v.boolean("--password").unwrap(), Some(false));
    let v = values(&["--host", "h"], &[("DBD_PASSWORD", "On")]);
    assert_eq!(v.boolean("--password").unwrap(), Some(true));
    assert_eq!(v.boolean("--password-file").unwrap(), None);
    let v = values(&["--host", "h", "--password", "maybe"], &[]);
    let err = v.boolean("--password").unwrap_err();
    assert!(err.0.contains("--password must be yes or no"), "{err}");
}

#[test]
fn bad_command_lines_are_errors() {
    assert!(run(&["--host"], &[])
        .unwrap_err()
        .0
        .contains("needs a value"));
    assert!(run(&[], &[]).unwrap_err().0.contains("--host is required"));
    assert!(run(&["--host", "h", "--bogus"], &[])
        .unwrap_err()
        .0
        .contains("--bogus"));
    assert!(run(&["--host", "h", "stray"], &[])
        .unwrap_err()
        .0
        .contains("stray"));
    let v = values(&["--host", "h", "-P", "http"], &[]);
    let err = v.parsed::<u16>("--port", "a port number").unwrap_err();
    assert!(err.0.contains("--port must be a port number"), "{err}");
    assert!(matches!(run(&["--help"], &[]).unwrap(), Parsed::Help));
    assert!(matches!(run(&["--version"], &[]).unwrap(), Parsed::Version));
}

#[test]
fn secrets_come_from_value_or_file_not_both() {
    let dir = std::env::temp_dir().join(format!("dbdump-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("pw");
    std::fs::write(&file, "s3cret\n").unwrap();
    let f = file.to_str().unwrap();
    let v = values(&["--host", "h", "--password-file", f], &[]);
    assert_eq!(
        v.secret("--password", "--password-file")
            .unwrap()
            .as_deref(),
        Some("s3cret")
    );
    let v = values(
        &["--host", "h", "--password-file", f, "--password", "x"],
        &[],
    );
    assert!(v.secret("--password", "--password-file").is_err());
    let v = values(&["--host", "h"], &[("DBD_PASSWORD", "envpw")]);
    assert_eq!(
        v.secret("--password", "--password-file")
            .unwrap()
            .as_deref(),
        Some("envpw")
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn help_names_every_flag_and_variable() {
    let h = help(&SPEC);
    for f in FLAGS {
        assert!(
            h.contains(f.long) && h.contains(&env_name(f.long)),
            "{}",
            f.long
        );
    }
    assert!(h.contains("(default: 8888)"));
    assert!(usage(&SPEC).starts_with("usage: demo [-h] [-P PORT] --host HOST"));
}

#[test]
fn optional_values_come_after_an_equals_sign_only() {
    let v = values(&["--host", "h", "--dry-run"], &[]);
    assert_eq!(v.get("--dry-run"), Some("text"));
    assert!(v.given("--dry-run") && !v.given("--port") && v.get("--port").is_some());
    let v = values(&["--dry-run=json", "--host", "h"], &[]);
    assert_eq!(v.get("--dry-run"), Some("json"));
    let v = values(&["--dry-run", "-s", "--host", "h"], &[]);
    assert_eq!(
        v.get("--dry-run"),
        Some("text"),
        "the next flag is no value"
    );
    assert!(v.switch("--ssl"));
    let v = values(&["--host", "h"], &[("DBD_DRY_RUN", "json")]);
    assert_eq!(v.get("--dry-run"), Some("json"));
    assert_eq!(v.source("--dry-run"), "DBD_DRY_RUN");
    assert_eq!(values(&["--host", "h"], &[]).get("--dry-run"), None);
    let err = run(&["--host", "h", "--dry-run", "json"], &[]).unwrap_err();
    assert!(
        err.0.contains("--dry-run takes its value after `=`"),
        "{err}"
    );
    let err = run(&["--host", "--dry-run"], &[]).unwrap_err();
    assert!(
        err.0
            .contains("--host needs a value (got the flag --dry-run)"),
        "{err}"
    );
    assert!(
        usage(&SPEC).contains("[--dry-run[=text|json]]"),
        "{}",
        usage(&SPEC)
    );
    assert!(
        help(&SPEC).contains("  --dry-run[=text|json]"),
        "{}",
        help(&SPEC)
    );
}

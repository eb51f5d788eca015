//! `--version` and `--help` of both binaries: name and version, and every
//! flag of the original tool with its short form, default and environment
//! variable.

use crate::common::*;

/// A flag as `--help` must show it: long name, short form, default and
/// environment variable.
struct Expected {
    long: &'static str,
    short: Option<&'static str>,
    default: Option<&'static str>,
}

const fn f(
    long: &'static str,
    short: Option<&'static str>,
    default: Option<&'static str>,
) -> Expected {
    Expected {
        long,
        short,
        default,
    }
}

/// Checks `--help` of `binary` against `flags`.
fn assert_help(binary: &str, flags: &[Expected]) {
    let r = run(binary, &["--help"], &[]);
    assert_eq!(r.code, Some(0), "{r:?}");
    assert_eq!(r.stderr, "", "help goes to stdout");
    let help = &r.stdout;
    assert!(help.starts_with(&format!("usage: {binary} [-h]")), "{help}");
    assert!(help.contains("--version"), "{help}");
    // Wrapping may split "(default: 8888)" over lines: compare with single
    // spaces, and look at each flag's entry (from its label to its "[env:").
    let flat = help.split_whitespace().collect::<Vec<_>>().join(" ");
    let body = &flat[flat.find("optional arguments:").expect("argument list")..];
    for flag in flags {
        let env = env_name(flag.long);
        let at = [format!(" {} ", flag.long), format!(" {},", flag.long)]
            .iter()
            .filter_map(|label| body.find(label.as_str()))
            .min()
            .unwrap_or_else(|| panic!("{} not in --help:\n{help}", flag.long));
        let entry = &body[at..];
        let entry = &entry[..entry
            .find("[env:")
            .map_or(entry.len(), |i| i + 6 + env.len())];
        assert!(
            entry.ends_with(&format!("[env: {env}")),
            "{} should name {env}: {entry}",
            flag.long
        );
        if let Some(default) = flag.default {
            assert!(
                entry.contains(&format!("(default: {default})")),
                "{} should show default {default}: {entry}",
                flag.long
            );
        }
        if let Some(short) = flag.short {
            let line = help
                .lines()
                .find(|l| l.trim_start().starts_with(short) && l.contains(flag.long));
            assert!(
                line.is_some(),
                "{short} and {} on one line:\n{help}",
                flag.long
            );
        }
    }
}

#[test]
fn version_prints_name_and_version_and_exits_0() {
    for binary in ["dbd_server", "dbd_puller"] {
        let r = run(binary, &["--version"], &[]);
        assert_eq!(r.code, Some(0), "{r:?}");
        assert_eq!(
            r.stdout,
            format!("{binary} {}\n", env!("CARGO_PKG_VERSION"))
        );
        assert_eq!(r.stdout, format!("{binary} 0.1.0\n"));
        assert_eq!(r.stderr, "");
    }
}

#[test]
fn server_help_lists_every_flag_with_default_and_variable() {
    assert_help(
        "dbd_server",
        &[
            f("--listen-address", Some("-a"), Some("0.0.0.0")),
            f("--listen-port", Some("-P"), Some("8888")),
            f("--listen-username", Some("-u"), None),
            f("--listen-password", Some("-p"), None),
            f("--listen-password-file", None, None),
            f("--listen-ssl", Some("-s"), None),
            f("--ssl-private-key", None, Some("ssl.key")),
            f("--ssl-public-key", None, Some("ssl.crt")),
            f("--listen-timeout", None, Some("60")),
            f("--source-host", None, None),
            f("--source-port", None, Some("3306")),
            f("--source-username", None, None),
            f("--source-password", None, None),
            f("--source-password-file", None, None),
            f("--source-databases", None, None),
            f("--source-max-connections", None, Some("8")),
            f("--settle", None, Some("1")),
            f("--debug", Some("-d"), None),
        ],
    );
    let help = run("dbd_server", &["-h"], &[]).stdout;
    assert!(help.contains("-h, --help"), "{help}");
}

#[test]
fn puller_help_lists_every_flag_with_default_and_variable() {
    assert_help(
        "dbd_puller",
        &[
            f("--source-host", None, None),
            f("--source-port", None, Some("8888")),
            f("--source-username", None, None),
            f("--source-password", None, None),
            f("--source-password-file", None, None),
            f("--source-database", None, None),
            f("--source-timeout", None, Some("15")),
            f("--source-ssl", None, None),
            f("--source-ssl-ca", None, None),
            f("--dest-host", None, None),
            f("--dest-port", None, Some("3306")),
            f("--dest-username", None, None),
            f("--dest-password", None, None),
            f("--dest-password-file", None, None),
            f("--dest-database", None, None),
            f("--tables", Some("-t"), None),
            f("--exclude-columns", Some("-x"), None),
            f("--app-time-zone", None, Some("UTC")),
            f("--poll-interval", None, None),
            f("--create-tables", None, None),
            f("--deletes", None, None),
            f("--verify", None, None),
            f("--force-resync", Some("-f"), None),
            f("--resync-interval", None, None),
            f("--max-delete-percent", None, Some("50")),
            f("--force-deletes", None, None),
            f("--source-compress", None, None),
            f("--progress-interval", None, Some("10")),
            f("--status-file", None, None),
            f("--metrics-file", None, None),
            f("--dry-run-examples", None, Some("5")),
            f("--debug", Some("-d"), None),
        ],
    );
    let help = run("dbd_puller", &["-h"], &[]).stdout;
    for var in ["DBD_SOURCE_PASSWORD", "DBD_DEST_PASSWORD"] {
        assert!(help.contains(var), "{help}");
    }
}

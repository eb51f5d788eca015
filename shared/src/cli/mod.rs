//! Command-line flags, described once per binary in a table ([`Spec`]) from
//! which parsing, `--help`, the usage line and the environment variable names
//! are all derived (`parse`, `help`). Every flag `--foo-bar` can also be set with the variable
//! `DBD_FOO_BAR`; a flag on the command line wins over the environment.

use std::collections::HashMap;

mod help;
mod parse;

pub use help::{help, usage};
pub use parse::parse;

/// One flag. `metavar: None` makes it a switch.
pub struct Flag {
    pub long: &'static str,
    pub short: Option<&'static str>,
    pub metavar: Option<&'static str>,
    pub default: Option<&'static str>,
    pub required: bool,
    /// Another long name accepted for the same flag (not shown in usage).
    pub alias: Option<&'static str>,
    /// A flag whose value is optional: its value when given alone
    /// (`--dry-run`); another one comes only after `=` (`--dry-run=json`).
    pub bare: Option<&'static str>,
    /// Index into [`Spec::groups`].
    pub group: usize,
    pub help: &'static str,
}

/// Builds an optional flag (for the `static` flag tables).
pub const fn flag(
    long: &'static str,
    short: Option<&'static str>,
    metavar: Option<&'static str>,
    default: Option<&'static str>,
    group: usize,
    help: &'static str,
) -> Flag {
    Flag {
        long,
        short,
        metavar,
        default,
        required: false,
        alias: None,
        bare: None,
        group,
        help,
    }
}

/// Gives a flag a second long name.
pub const fn alias(mut f: Flag, name: &'static str) -> Flag {
    f.alias = Some(name);
    f
}

/// Makes a flag's value optional: given alone, it has the value `value`;
/// another value comes after `=` only (`--dry-run=json`), so that the next
/// argument is never taken for it.
pub const fn bare(mut f: Flag, value: &'static str) -> Flag {
    f.bare = Some(value);
    f
}

/// Marks a flag as required.
pub const fn required(mut f: Flag) -> Flag {
    f.required = true;
    f
}

pub struct Group {
    pub title: &'static str,
    pub about: &'static str,
}

/// Everything `--help` shows for one binary.
pub struct Spec {
    pub name: &'static str,
    pub about: &'static str,
    pub groups: &'static [Group],
    pub flags: &'static [Flag],
    pub epilog: &'static str,
}

/// A bad command line; the binary prints it with the usage and exits 2.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CliError(pub String);

impl std::fmt::Display for CliError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// What the command line asked for.
#[derive(Debug)]
pub enum Parsed {
    Help,
    Version,
    Run(Values),
}

/// Flag values after merging command line, environment and defaults.
#[derive(Debug, Default)]
pub struct Values {
    values: HashMap<&'static str, String>,
    /// Where each value came from, for error messages.
    sources: HashMap<&'static str, String>,
}

/// `--listen-port` → `DBD_LISTEN_PORT`.
pub fn env_name(long: &str) -> String {
    format!(
        "DBD_{}",
        long.trim_start_matches('-')
            .to_uppercase()
            .replace('-', "_")
    )
}

/// Parses the process's arguments and environment into a configuration with
/// `build`; prints help, version or a usage error (exit 2) and exits where the
/// command line asks for that.
pub fn from_env<T>(spec: &Spec, build: impl Fn(&Values) -> Result<T, CliError>) -> T {
    let args = std::env::args_os().skip(1).collect();
    match parse(spec, args, &|k| std::env::var(k).ok()) {
        Ok(Parsed::Help) => {
            print!("{}", help(spec));
            std::process::exit(0)
        }
        Ok(Parsed::Version) => {
            println!("{} {}", spec.name, crate::VERSION);
            std::process::exit(0)
        }
        Ok(Parsed::Run(values)) => build(&values).unwrap_or_else(|e| exit_usage(spec, &e)),
        Err(e) => exit_usage(spec, &e),
    }
}

/// Prints a command-line error and the usage to stderr and exits with 2.
pub fn exit_usage(spec: &Spec, err: &CliError) -> ! {
    eprint!("{}", usage(spec));
    eprintln!("{}: error: {err}", spec.name);
    std::process::exit(2)
}

#[cfg(test)]
mod tests;

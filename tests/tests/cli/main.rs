//! Both binaries' command lines: `--version`, `--help` (every flag of the
//! original tool, defaults, environment variables), usage errors (exit 2,
//! one `error:` line and the usage on stderr), configuration from the
//! environment with flags winning, and the exit codes when something the
//! binary needs is unreachable. Most tests need no database; the few that
//! do use the shared sandbox pair.
//!
//! One test binary (one pair of sandbox servers) in modules by concern:
//! `help` (`--version`, `--help`), `usage_errors`, `environment` (`DBD_*`
//! variables) and `exit_codes`; the shared helpers are in `common`.

mod common;
mod environment;
mod exit_codes;
mod help;
mod usage_errors;

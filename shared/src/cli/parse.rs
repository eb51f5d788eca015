//! Parsing a command line against a [`Spec`]: flags, then the environment,
//! then defaults; typed access to the values, with errors that name the flag
//! or variable a bad value came from.

use std::ffi::OsString;
use std::str::FromStr;

use crate::cli::{env_name, CliError, Flag, Parsed, Spec, Values};

fn truthy(flag: &str, v: &str) -> Result<bool, CliError> {
    match v.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "" | "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(CliError(format!(
            "{} must be 1/0, true/false, yes/no or on/off, not {v:?}",
            env_name(flag)
        ))),
    }
}

/// Parses `args` (without the program name) against `spec`, taking values
/// missing from the command line from `env`.
pub fn parse(
    spec: &Spec,
    args: Vec<OsString>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Parsed, CliError> {
    let (args, stray) = bare_values(spec, args);
    let mut args = pico_args::Arguments::from_vec(args);
    if args.contains(["-h", "--help"]) {
        return Ok(Parsed::Help);
    }
    if args.contains("--version") {
        return Ok(Parsed::Version);
    }
    let mut out = Values::default();
    for flag in spec.flags {
        let given = take_flag(spec, flag, &mut args)?;
        let (value, source) = match given {
            Some(v) => (Some(v), flag.long.to_string()),
            None => {
                let name = env_name(flag.long);
                (env(&name), name)
            }
        };
        if flag.metavar.is_none() {
            // A switch: on when given, or when its variable is truthy.
            if let Some(v) = value {
                if truthy(flag.long, &v)? {
                    out.values.insert(flag.long, v);
                    out.sources.insert(flag.long, source);
                }
            }
            continue;
        }
        if let Some(v) = value {
            out.values.insert(flag.long, v);
            out.sources.insert(flag.long, source);
        } else if let Some(d) = flag.default {
            out.values.insert(flag.long, d.to_string());
            out.sources
                .insert(flag.long, format!("{} (default)", flag.long));
        }
    }
    let rest = args.finish();
    if let Some(first) = rest.first() {
        let text = first.to_string_lossy();
        return Err(CliError(if text.starts_with('-') {
            format!("unknown or repeated flag: {text}")
        } else if let Some((name, _)) = stray.iter().find(|(_, v)| *v == text) {
            format!("{name} takes its value after `=` ({name}={text}), not as the next argument")
        } else {
            format!("unexpected argument: {text}")
        }));
    }
    for flag in spec.flags.iter().filter(|f| f.required) {
        if !out.values.contains_key(flag.long) {
            return Err(CliError(format!(
                "the flag {} is required (or set {})",
                flag.long,
                env_name(flag.long)
            )));
        }
    }
    Ok(Parsed::Run(out))
}

/// Gives every flag with an optional value that stands alone on the
/// command line its bare value (`--dry-run` becomes `--dry-run=text`), so
/// that the argument after it is never taken for its value. Returns the
/// arguments, and each such flag followed by a word that is no flag (for
/// the error message if that word is left over).
fn bare_values(spec: &Spec, args: Vec<OsString>) -> (Vec<OsString>, Vec<(&'static str, String)>) {
    let mut stray = Vec::new();
    let mut out: Vec<OsString> = Vec::with_capacity(args.len());
    for (i, arg) in args.iter().enumerate() {
        let text = arg.to_string_lossy();
        let bare = spec.flags.iter().find_map(|f| {
            let named = text == f.long || f.alias == Some(text.as_ref());
            f.bare.filter(|_| named).map(|v| (f.long, v))
        });
        match bare {
            Some((long, value)) => {
                if let Some(next) = args.get(i + 1).map(|a| a.to_string_lossy()) {
                    if !next.starts_with('-') {
                        stray.push((long, next.into_owned()));
                    }
                }
                out.push(format!("{text}={value}").into());
            }
            None => out.push(arg.clone()),
        }
    }
    (out, stray)
}

/// Takes every occurrence of `flag` (short, long or alias) off the command
/// line; as with argparse, the last one wins. A value that is itself one of
/// our flags means the real value was forgotten.
fn take_flag(
    spec: &Spec,
    flag: &Flag,
    args: &mut pico_args::Arguments,
) -> Result<Option<String>, CliError> {
    let names = [flag.short, Some(flag.long), flag.alias];
    let mut last = None;
    for name in names.into_iter().flatten() {
        if flag.metavar.is_none() {
            while args.contains(name) {
                last = Some("1".to_string());
            }
            continue;
        }
        while let Some(v) = args
            .opt_value_from_str::<_, String>(name)
            .map_err(pico_error)?
        {
            // A flag given its bare value is `--flag=value` by now.
            let given = v.split_once('=').map_or(v.as_str(), |(f, _)| f);
            let is_flag = spec.flags.iter().any(|f| {
                f.long == v
                    || f.short == Some(v.as_str())
                    || f.alias == Some(v.as_str())
                    || (f.bare.is_some() && (f.long == given || f.alias == Some(given)))
            });
            if is_flag || v == "-h" || v == "--help" {
                return Err(CliError(format!(
                    "{name} needs a value (got the flag {given})"
                )));
            }
            last = Some(v);
        }
    }
    Ok(last)
}

fn pico_error(e: pico_args::Error) -> CliError {
    CliError(match e {
        pico_args::Error::OptionWithoutAValue(flag) => format!("{flag} needs a value"),
        pico_args::Error::NonUtf8Argument => "arguments must be valid UTF-8".to_string(),
        other => other.to_string(),
    })
}

impl Values {
    pub fn get(&self, long: &str) -> Option<&str> {
        self.values.get(long).map(String::as_str)
    }

    /// Whether the flag was given, on the command line or in the
    /// environment (not just its default).
    pub fn given(&self, long: &str) -> bool {
        self.sources
            .get(long)
            .is_some_and(|s| !s.ends_with("(default)"))
    }

    /// Where the flag's value came from: the flag or its variable.
    pub fn source<'a>(&'a self, long: &'a str) -> &'a str {
        self.sources.get(long).map_or(long, String::as_str)
    }

    /// A switch: present (or its variable truthy).
    pub fn switch(&self, long: &str) -> bool {
        self.values.contains_key(long)
    }

    /// Parses a value, naming the flag or variable it came from on failure.
    pub fn parsed<T: FromStr>(&self, long: &str, what: &str) -> Result<Option<T>, CliError> {
        match self.values.get(long) {
            None => Ok(None),
            Some(v) => {
                v.trim().parse::<T>().map(Some).map_err(|_| {
                    CliError(format!("{} must be {what}, not {v:?}", self.sources[long]))
                })
            }
        }
    }

    /// A yes/no value (`yes`/`no`, `true`/`false`, `1`/`0`, `on`/`off`), for
    /// a flag that is on by default and so cannot be a switch:
    /// `--source-compress=no`.
    pub fn boolean(&self, long: &str) -> Result<Option<bool>, CliError> {
        let Some(v) = self.values.get(long) else {
            return Ok(None);
        };
        match v.trim().to_ascii_lowercase().as_str() {
            "1" | "true" | "yes" | "on" => Ok(Some(true)),
            "0" | "false" | "no" | "off" => Ok(Some(false)),
            _ => Err(CliError(format!(
                "{} must be yes or no (or true/false, 1/0, on/off), not {v:?}",
                self.sources[long]
            ))),
        }
    }

    /// A duration in (possibly fractional) seconds within `min..=max`.
    pub fn seconds(
        &self,
        long: &str,
        min: f64,
        max: f64,
    ) -> Result<Option<std::time::Duration>, CliError> {
        match self.parsed::<f64>(long, "a number of seconds")? {
            None => Ok(None),
            Some(s) if (min..=max).contains(&s) => Ok(Some(std::time::Duration::from_secs_f64(s))),
            Some(_) => Err(CliError(format!(
                "{} must be between {min} and {max} seconds",
                self.sources[long]
            ))),
        }
    }

    /// A password given directly or as a file to read (its first line).
    /// Giving both is a mistake worth stopping for.
    pub fn secret(&self, long: &str, file_flag: &str) -> Result<Option<String>, CliError> {
        match (self.values.get(long), self.values.get(file_flag)) {
            (Some(_), Some(_)) => Err(CliError(format!(
                "give either {} or {}, not both",
                self.sources[long], self.sources[file_flag]
            ))),
            (Some(v), None) => Ok(Some(v.clone())),
            (None, Some(path)) => std::fs::read_to_string(path)
                .map(|s| Some(s.lines().next().unwrap_or("").to_string()))
                .map_err(|e| {
                    CliError(format!(
                        "cannot read {} {path:?}: {e}",
                        self.sources[file_flag]
                    ))
                }),
            (None, None) => Ok(None),
        }
    }
}

//! Command-line flags, described once per binary in a table ([`Spec`]) from
//! which parsing, `--help`, the usage line and the environment variable names
//! are all derived. Every flag `--foo-bar` can also be set with the variable
//! `DBD_FOO_BAR`; a flag on the command line wins over the environment.

use std::collections::HashMap;
use std::ffi::OsString;
use std::fmt::Write as _;
use std::str::FromStr;

/// One flag. `metavar: None` makes it a switch.
pub struct Flag {
    pub long: &'static str,
    pub short: Option<&'static str>,
    pub metavar: Option<&'static str>,
    pub default: Option<&'static str>,
    pub required: bool,
    /// Another long name accepted for the same flag (not shown in usage).
    pub alias: Option<&'static str>,
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
        group,
        help,
    }
}

/// Gives a flag a second long name.
pub const fn alias(mut f: Flag, name: &'static str) -> Flag {
    f.alias = Some(name);
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
            let is_flag = spec
                .flags
                .iter()
                .any(|f| f.long == v || f.short == Some(v.as_str()) || f.alias == Some(v.as_str()));
            if is_flag || v == "-h" || v == "--help" {
                return Err(CliError(format!("{name} needs a value (got the flag {v})")));
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

fn flag_label(f: &Flag) -> String {
    let long = match f.metavar {
        Some(m) => format!("{} {m}", f.long),
        None => f.long.to_string(),
    };
    match f.short {
        Some(s) => match f.metavar {
            Some(m) => format!("{s} {m}, {long}"),
            None => format!("{s}, {long}"),
        },
        None => long,
    }
}

/// The one-paragraph usage line, wrapped like argparse does.
pub fn usage(spec: &Spec) -> String {
    let mut parts = vec!["[-h]".to_string()];
    for f in spec.flags {
        let name = f.short.unwrap_or(f.long);
        let item = match f.metavar {
            Some(m) => format!("{name} {m}"),
            None => name.to_string(),
        };
        parts.push(if f.required {
            item
        } else {
            format!("[{item}]")
        });
    }
    parts.push("[--version]".into());
    let head = format!("usage: {} ", spec.name);
    let indent = " ".repeat(head.len());
    let mut out = head.clone();
    let mut col = head.len();
    for (i, p) in parts.iter().enumerate() {
        if i > 0 && col + p.len() + 1 > 79 {
            out.push('\n');
            out.push_str(&indent);
            col = indent.len();
        } else if i > 0 {
            out.push(' ');
            col += 1;
        }
        out.push_str(p);
        col += p.len();
    }
    out.push('\n');
    out
}

/// Full `--help` text, grouped as in the original tool, with each flag's
/// environment variable.
pub fn help(spec: &Spec) -> String {
    let mut out = usage(spec);
    let _ = writeln!(out, "\n{}\n", spec.about);
    for (gi, g) in spec.groups.iter().enumerate() {
        // Group 0 holds the general options, listed like argparse does.
        if gi == 0 {
            let _ = writeln!(out, "{}:", g.title);
            let _ = writeln!(
                out,
                "  -h, --help            show this help message and exit"
            );
        } else {
            let _ = writeln!(out, "\n{}:\n  {}\n", g.title, wrap(g.about, 2));
        }
        for f in spec.flags.iter().filter(|f| f.group == gi) {
            let label = flag_label(f);
            let mut text = f.help.to_string();
            if let Some(d) = f.default {
                let _ = write!(text, " (default: {d})");
            }
            if let Some(a) = f.alias {
                let _ = write!(text, " (also {a})");
            }
            if f.required {
                text.push_str(" [required]");
            }
            let _ = write!(text, " [env: {}]", env_name(f.long));
            if label.len() <= 20 {
                let _ = writeln!(out, "  {label:<20}  {}", wrap(&text, 24));
            } else {
                let _ = writeln!(out, "  {label}\n{}{}", " ".repeat(24), wrap(&text, 24));
            }
        }
        if gi == 0 {
            let _ = writeln!(out, "  --version             display version and exit");
        }
    }
    if !spec.epilog.is_empty() {
        let _ = writeln!(out, "\n{}", spec.epilog);
    }
    out
}

fn wrap(text: &str, indent: usize) -> String {
    let mut out = String::new();
    let mut col = indent;
    for word in text.split_whitespace() {
        if col > indent && col + word.len() + 1 > 79 {
            out.push('\n');
            out.push_str(&" ".repeat(indent));
            col = indent;
        } else if col > indent {
            out.push(' ');
            col += 1;
        }
        out.push_str(word);
        col += word.len();
    }
    out
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
mod tests {
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
            group: 0,
            help: "Password file",
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
}

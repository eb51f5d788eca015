//! What `--help` and a usage error print, from the same [`Spec`]: the usage
//! line wrapped like argparse's, and every flag with its default and
//! environment variable.

use std::fmt::Write as _;

use crate::cli::{env_name, Flag, Spec};

fn flag_label(f: &Flag) -> String {
    let long = match (f.metavar, f.bare) {
        (Some(m), Some(_)) => format!("{}[={m}]", f.long),
        (Some(m), None) => format!("{} {m}", f.long),
        (None, _) => f.long.to_string(),
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
        let item = match (f.metavar, f.bare) {
            (Some(m), Some(_)) => format!("{name}[={m}]"),
            (Some(m), None) => format!("{name} {m}"),
            (None, _) => name.to_string(),
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

//! Checks on the SQL parts of a table definition received from dbd_server,
//! before `ddl` puts them in a statement: a type must read as MySQL prints
//! types, a name as a plain name, and an expression (a default, a generated
//! column, a CHECK) must stay inside the parentheses it is put in: no `;`,
//! no comment (which can hide executable text), no `,` or `)` at its top
//! level. The meaning of an expression is the database's to check.

/// An SQL string literal (the session does not use NO_BACKSLASH_ESCAPES).
pub fn string_literal(text: &str) -> String {
    format!("'{}'", text.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// A character set, collation or option name: letters, digits, `_`.
pub fn word(what: &str, text: &str) -> Result<String, String> {
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        Ok(text.to_string())
    } else {
        Err(format!("{what} {text:?} is not a plain name"))
    }
}

/// Scans SQL text: quoted strings and identifiers are skipped whole;
/// `visit` sees every other byte with the parenthesis depth before it.
/// Comments and `;` are refused (comments can hide executable text).
pub fn scan(
    text: &str,
    mut visit: impl FnMut(u8, i32) -> Result<(), String>,
) -> Result<i32, String> {
    let b = text.as_bytes();
    let (mut i, mut depth) = (0, 0i32);
    while i < b.len() {
        match b[i] {
            q @ (b'\'' | b'"' | b'`') => {
                i += 1;
                loop {
                    match b.get(i) {
                        None => return Err("unterminated quote".into()),
                        Some(b'\\') if q != b'`' => i += 2,
                        Some(&c) if c == q && b.get(i + 1) == Some(&q) => i += 2,
                        Some(&c) if c == q => break,
                        Some(_) => i += 1,
                    }
                }
            }
            b';' => return Err("a `;`".into()),
            b'#' => return Err("a comment".into()),
            b'-' if b.get(i + 1) == Some(&b'-') => return Err("a comment".into()),
            b'/' if b.get(i + 1) == Some(&b'*') => return Err("a comment".into()),
            b'(' => {
                visit(b'(', depth)?;
                depth += 1;
            }
            b')' => {
                depth -= 1;
                if depth < 0 {
                    return Err("a `)` closing more than it opened".into());
                }
            }
            c => visit(c, depth)?,
        }
        i += 1;
    }
    Ok(depth)
}

/// An expression (generated column, default, CHECK), checked to be one
/// balanced expression: wrapped in parentheses, it cannot reach outside
/// them. Its meaning is the database's to check.
pub fn expression(what: &str, text: &str) -> Result<String, String> {
    let depth = scan(text, |c, depth| {
        if c == b',' && depth == 0 {
            Err("a `,` outside parentheses".into())
        } else {
            Ok(())
        }
    })
    .map_err(|e| format!("{what} `{text}` has {e}; refusing to use it"))?;
    if depth != 0 || text.trim().is_empty() {
        return Err(format!(
            "{what} `{text}` is not one balanced expression; refusing to use it"
        ));
    }
    Ok(text.to_string())
}

/// A column type as `COLUMN_TYPE` prints it: a type name, an optional
/// list of numbers or quoted strings in parentheses, then `unsigned`,
/// `signed` or `zerofill` (`decimal(10,2) unsigned zerofill`,
/// `enum('a','b')`).
pub fn column_type(text: &str) -> Result<String, String> {
    let bad = || format!("column type `{text}` is not one MySQL prints; refusing to use it");
    let attributes = |s: &str| {
        s.split_whitespace().all(|w| {
            ["unsigned", "signed", "zerofill"]
                .iter()
                .any(|a| a.eq_ignore_ascii_case(w))
        })
    };
    let (head, rest) = text.split_at(text.find('(').unwrap_or(text.len()));
    let mut head_words = head.split_whitespace();
    let name_ok = head_words
        .next()
        .is_some_and(|w| w.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'));
    if !name_ok || !attributes(&head_words.collect::<Vec<_>>().join(" ")) {
        return Err(bad());
    }
    if rest.is_empty() {
        return Ok(text.to_string());
    }
    // `(` items `)`: each item a number or a quoted string, comma-separated.
    let b = rest.as_bytes();
    let mut i = 1;
    loop {
        while b.get(i) == Some(&b' ') {
            i += 1;
        }
        match b.get(i) {
            Some(b'\'') => i += closing_quote(&rest[i..]).ok_or_else(bad)? + 1,
            Some(c) if c.is_ascii_digit() => {
                while b.get(i).is_some_and(u8::is_ascii_digit) {
                    i += 1;
                }
            }
            _ => return Err(bad()),
        }
        match b.get(i) {
            Some(b',') => i += 1,
            Some(b')') => break,
            _ => return Err(bad()),
        }
    }
    if !attributes(&rest[i + 1..]) {
        return Err(bad());
    }
    Ok(text.to_string())
}

/// `name` or `name(n)`: CURRENT_TIMESTAMP and its kin, with a precision.
pub fn niladic_call(text: &str) -> bool {
    let (name, args) = text.split_at(text.find('(').unwrap_or(text.len()));
    let name_ok = !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphabetic() || b == b'_');
    let args_ok = args.is_empty()
        || args
            .strip_prefix('(')
            .and_then(|a| a.strip_suffix(')'))
            .is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()));
    name_ok && args_ok
}

/// The index, in `text` (starting with a quote), of the quote that ends it.
pub fn closing_quote(text: &str) -> Option<usize> {
    let b = text.as_bytes();
    let mut i = 1;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'\'' if b.get(i + 1) == Some(&b'\'') => i += 2,
            b'\'' => return Some(i),
            _ => i += 1,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_as_mysql_prints_them_and_nothing_else() {
        for ok in [
            "int(11)",
            "decimal(10,2) unsigned zerofill",
            "enum('a','b''c','x)y')",
            "set('Trailers','Deleted Scenes')",
            "timestamp(6)",
            "geometry",
            "double",
            "varchar(20)",
            "bigint(20) unsigned",
            "double unsigned",
        ] {
            assert!(column_type(ok).is_ok(), "{ok}");
        }
        for bad in [
            "int) , evil int",
            "int(11) ; drop table x",
            "varchar(20) CHARACTER SET x",
            "int /* x */",
            "enum('a') DEFAULT 1",
            "",
            "int(1",
        ] {
            assert!(column_type(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn expressions_stay_in_their_parentheses() {
        for ok in [
            "`a` * 2",
            "json_valid(`j`)",
            "concat(`a`,')',`b`)",
            "`a` > 0 and `b` in (1,2)",
        ] {
            assert!(expression("x", ok).is_ok(), "{ok}");
        }
        for bad in [
            "1), evil INT",
            "1, `x` INT",
            "1; DROP TABLE t",
            "1 -- x",
            "1 /*! evil */",
            "(1",
            "'open",
            "",
        ] {
            assert!(expression("x", bad).is_err(), "{bad}");
        }
    }
}

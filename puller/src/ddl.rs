//! Every DDL text dbd_puller writes (`CREATE DATABASE`, `CREATE TABLE`,
//! `ALTER TABLE … ADD COLUMN`), built from a table definition received from
//! dbd_server. Nothing received runs as it is: names are quoted here; types,
//! character sets, engines and rules must match what MySQL itself prints;
//! the SQL expressions a definition holds (defaults, generated columns,
//! CHECK clauses) are checked to stay inside the parentheses they are put
//! in, so that no text can end the statement or add to it.

use dbdump_shared::schema::{ColumnDefinition, IndexKind, TableDefinition};
use dbdump_shared::sql::{quote_ident, quote_list};

/// Engines a created table may have (others can reach outside the
/// database: CONNECT reads files, FEDERATED other servers).
const ENGINES: &[&str] = &["InnoDB", "MyISAM", "Aria", "MEMORY", "ARCHIVE"];
/// Table options (from CREATE_OPTIONS) carried over; the rest are left out.
const OPTIONS: &[&str] = &[
    "row_format",
    "key_block_size",
    "stats_persistent",
    "stats_auto_recalc",
    "stats_sample_pages",
    "page_checksum",
    "transactional",
    "checksum",
    "pack_keys",
    "delay_key_write",
];
const RULES: &[&str] = &[
    "RESTRICT",
    "CASCADE",
    "SET NULL",
    "NO ACTION",
    "SET DEFAULT",
];

/// An SQL string literal (the session does not use NO_BACKSLASH_ESCAPES).
pub fn string_literal(text: &str) -> String {
    format!("'{}'", text.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// A character set, collation or option name: letters, digits, `_`.
fn word(what: &str, text: &str) -> Result<String, String> {
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        Ok(text.to_string())
    } else {
        Err(format!("{what} {text:?} is not a plain name"))
    }
}

/// Scans SQL text: quoted strings and identifiers are skipped whole;
/// `visit` sees every other byte with the parenthesis depth before it.
/// Comments and `;` are refused (comments can hide executable text).
fn scan(text: &str, mut visit: impl FnMut(u8, i32) -> Result<(), String>) -> Result<i32, String> {
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
fn niladic_call(text: &str) -> bool {
    let (name, args) = text.split_at(text.find('(').unwrap_or(text.len()));
    let name_ok = !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphabetic() || b == b'_');
    let args_ok = args.is_empty()
        || args
            .strip_prefix('(')
            .and_then(|a| a.strip_suffix(')'))
            .is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()));
    name_ok && args_ok
}

/// A default: a single literal or `CURRENT_TIMESTAMP(n)` as it is, any
/// other expression in parentheses (MariaDB prints both alike).
fn default_clause(text: &str) -> Result<String, String> {
    let t = text.trim();
    let lower = t.to_ascii_lowercase();
    let timestamp = niladic_call(&lower)
        && ["current_timestamp", "now", "localtimestamp", "localtime"]
            .iter()
            .any(|f| lower.split('(').next() == Some(f));
    let number = t.strip_prefix('-').unwrap_or(t).bytes().all(|b| {
        b.is_ascii_digit() || b == b'.' || b == b'e' || b == b'E' || b == b'+' || b == b'-'
    }) && !t.is_empty();
    let quoted = |open: &str| {
        lower.starts_with(open)
            && t.ends_with('\'')
            && scan(t, |_, _| Ok(())).is_ok()
            && closing_quote(&t[open.len() - 1..]) == Some(t.len() - open.len())
    };
    let hex = lower.starts_with("0x") && t[2..].bytes().all(|b| b.is_ascii_hexdigit());
    if timestamp || number || hex || lower == "null" || quoted("'") || quoted("b'") || quoted("x'")
    {
        return Ok(format!("DEFAULT {t}"));
    }
    Ok(format!("DEFAULT ({})", expression("default", t)?))
}

/// The index, in `text` (starting with a quote), of the quote that ends it.
fn closing_quote(text: &str) -> Option<usize> {
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

/// One column's definition, as in CREATE TABLE and ADD COLUMN.
pub fn column(c: &ColumnDefinition) -> Result<String, String> {
    let mut out = format!("{} {}", quote_ident(&c.name), column_type(&c.sql_type)?);
    if let Some(cs) = &c.charset {
        out.push_str(&format!(" CHARACTER SET {}", word("character set", cs)?));
    }
    if let Some(co) = &c.collation {
        out.push_str(&format!(" COLLATE {}", word("collation", co)?));
    }
    if let Some(g) = &c.generated {
        let kind = if g.stored { "STORED" } else { "VIRTUAL" };
        out.push_str(&format!(
            " GENERATED ALWAYS AS ({}) {kind}",
            expression("generated column expression", &g.expression)?
        ));
    } else {
        out.push_str(if c.nullable { " NULL" } else { " NOT NULL" });
        if let Some(d) = &c.default {
            out.push(' ');
            out.push_str(&default_clause(d)?);
        }
        if let Some(u) = &c.on_update {
            if !niladic_call(u) {
                return Err(format!(
                    "ON UPDATE `{u}` is not CURRENT_TIMESTAMP; refusing to use it"
                ));
            }
            out.push_str(&format!(" ON UPDATE {u}"));
        }
        if c.auto_increment {
            out.push_str(" AUTO_INCREMENT");
        }
    }
    if c.invisible {
        out.push_str(" INVISIBLE");
    }
    if !c.comment.is_empty() {
        out.push_str(&format!(" COMMENT {}", string_literal(&c.comment)));
    }
    if let Some(check) = &c.check {
        out.push_str(&format!(" CHECK ({})", expression("CHECK", check)?));
    }
    Ok(out)
}

/// `CREATE DATABASE IF NOT EXISTS` with the source database's defaults.
pub fn create_database(db: &str, charset: &str, collation: &str) -> Result<String, String> {
    Ok(format!(
        "CREATE DATABASE IF NOT EXISTS {} CHARACTER SET {} COLLATE {}",
        quote_ident(db),
        word("character set", charset)?,
        word("collation", collation)?
    ))
}

/// `CREATE TABLE` in database `db` from `t` (its columns, keys, foreign
/// keys and checks already filtered by the caller).
pub fn create_table(db: &str, t: &TableDefinition) -> Result<String, String> {
    let mut parts = Vec::new();
    for c in &t.columns {
        parts.push(column(c)?);
    }
    for i in &t.indexes {
        let cols: Vec<String> = i
            .columns
            .iter()
            .map(|c| {
                let mut s = quote_ident(&c.name);
                if let Some(p) = c.prefix {
                    s.push_str(&format!("({p})"));
                }
                if c.descending {
                    s.push_str(" DESC");
                }
                s
            })
            .collect();
        let name = quote_ident(&i.name);
        let head = match i.kind {
            IndexKind::Primary => "PRIMARY KEY".to_string(),
            IndexKind::Unique => format!("UNIQUE KEY {name}"),
            IndexKind::Index => format!("KEY {name}"),
            IndexKind::Fulltext => format!("FULLTEXT KEY {name}"),
            IndexKind::Spatial => format!("SPATIAL KEY {name}"),
        };
        let mut part = format!("{head} ({})", cols.join(","));
        if !i.comment.is_empty() {
            part.push_str(&format!(" COMMENT {}", string_literal(&i.comment)));
        }
        parts.push(part);
    }
    for f in &t.foreign_keys {
        let rule = |r: &str| {
            RULES
                .iter()
                .find(|x| x.eq_ignore_ascii_case(r))
                .map(|x| x.to_string())
                .ok_or_else(|| format!("foreign key rule {r:?} is not one MySQL has"))
        };
        let target = match &f.references_database {
            Some(other) => format!("{}.{}", quote_ident(other), quote_ident(&f.references)),
            None => quote_ident(&f.references),
        };
        parts.push(format!(
            "CONSTRAINT {} FOREIGN KEY ({}) REFERENCES {target} ({}) ON DELETE {} ON UPDATE {}",
            quote_ident(&f.name),
            quote_list(&f.columns),
            quote_list(&f.referenced_columns),
            rule(&f.on_delete)?,
            rule(&f.on_update)?
        ));
    }
    for c in &t.checks {
        parts.push(format!(
            "CONSTRAINT {} CHECK ({})",
            quote_ident(&c.name),
            expression("CHECK", &c.clause)?
        ));
    }
    let engine = ENGINES
        .iter()
        .find(|e| e.eq_ignore_ascii_case(&t.engine))
        .ok_or_else(|| {
            format!(
                "engine {:?} is not one --create-tables creates (it does {})",
                t.engine,
                ENGINES.join(", ")
            )
        })?;
    let mut options = format!(
        " ENGINE={engine} DEFAULT CHARSET={} COLLATE={}",
        word("character set", &t.charset)?,
        word("collation", &t.collation)?
    );
    for o in &t.options {
        if let Some((k, v)) = o.split_once('=') {
            let k = k.trim_matches('`').to_ascii_lowercase();
            if OPTIONS.contains(&k.as_str()) {
                options.push_str(&format!(
                    " {}={}",
                    k.to_ascii_uppercase(),
                    word("table option", v)?
                ));
            }
        }
    }
    if !t.comment.is_empty() {
        options.push_str(&format!(" COMMENT={}", string_literal(&t.comment)));
    }
    Ok(format!(
        "CREATE TABLE {}.{} (\n  {}\n){options}",
        quote_ident(db),
        quote_ident(&t.table),
        parts.join(",\n  ")
    ))
}

/// `ALTER TABLE … ADD COLUMN …` at the source's position: after `after`,
/// or first.
pub fn add_column(
    db: &str,
    table: &str,
    c: &ColumnDefinition,
    after: Option<&str>,
) -> Result<String, String> {
    let place = match after {
        Some(prev) => format!(" AFTER {}", quote_ident(prev)),
        None => " FIRST".to_string(),
    };
    Ok(format!(
        "ALTER TABLE {}.{} ADD COLUMN {}{place}",
        quote_ident(db),
        quote_ident(table),
        column(c)?
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use dbdump_shared::schema::Generated;

    fn col(name: &str, ty: &str) -> ColumnDefinition {
        ColumnDefinition {
            name: name.into(),
            sql_type: ty.into(),
            nullable: true,
            default: None,
            charset: None,
            collation: None,
            auto_increment: false,
            on_update: None,
            generated: None,
            invisible: false,
            comment: String::new(),
            check: None,
        }
    }

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

    #[test]
    fn defaults_literal_or_in_parentheses() {
        assert_eq!(default_clause("'G'").unwrap(), "DEFAULT 'G'");
        assert_eq!(default_clause("4.99").unwrap(), "DEFAULT 4.99");
        assert_eq!(default_clause("-1").unwrap(), "DEFAULT -1");
        assert_eq!(default_clause("NULL").unwrap(), "DEFAULT NULL");
        assert_eq!(default_clause("b'101'").unwrap(), "DEFAULT b'101'");
        assert_eq!(
            default_clause("current_timestamp(6)").unwrap(),
            "DEFAULT current_timestamp(6)"
        );
        assert_eq!(default_clause("curdate()").unwrap(), "DEFAULT (curdate())");
        assert_eq!(default_clause("'a' 'b'").unwrap(), "DEFAULT ('a' 'b')");
        assert!(default_clause("1, `x` INT").is_err());
        assert!(default_clause("'x') , y int (").is_err());
    }

    #[test]
    fn columns_and_tables() {
        let mut c = col("v`x", "varchar(10)");
        c.charset = Some("utf8mb4".into());
        c.collation = Some("utf8mb4_bin".into());
        c.default = Some("'it''s'".into());
        c.comment = "a 'note'".into();
        assert_eq!(
            column(&c).unwrap(),
            "`v``x` varchar(10) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL DEFAULT 'it''s' COMMENT 'a \\'note\\''"
        );
        let mut g = col("b", "int(11)");
        g.generated = Some(Generated {
            expression: "`a` * 2".into(),
            stored: false,
        });
        assert_eq!(
            column(&g).unwrap(),
            "`b` int(11) GENERATED ALWAYS AS (`a` * 2) VIRTUAL"
        );
        let mut t = col("ts", "timestamp(6)");
        t.nullable = false;
        t.default = Some("current_timestamp(6)".into());
        t.on_update = Some("current_timestamp(6)".into());
        assert_eq!(
            column(&t).unwrap(),
            "`ts` timestamp(6) NOT NULL DEFAULT current_timestamp(6) ON UPDATE current_timestamp(6)"
        );
        let mut evil = col("x", "int");
        evil.on_update = Some("now() , y int".into());
        assert!(column(&evil).is_err());
        assert!(create_database("d", "utf8mb4", "utf8mb4_general_ci; DROP").is_err());
        assert_eq!(
            add_column("d", "t", &col("c", "int"), Some("b")).unwrap(),
            "ALTER TABLE `d`.`t` ADD COLUMN `c` int NULL AFTER `b`"
        );
    }
}

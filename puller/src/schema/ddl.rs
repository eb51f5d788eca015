//! Every DDL text dbd_puller writes (`CREATE DATABASE`, `CREATE TABLE`,
//! `ALTER TABLE … ADD COLUMN`), built from a table definition received from
//! dbd_server. Nothing received runs as it is: names are quoted here;
//! engines, options and foreign key rules come from fixed lists; types,
//! character sets and the SQL expressions a definition holds pass the
//! checks of `sqlcheck` first.

use dbdump_shared::schema::{ColumnDefinition, IndexKind, TableDefinition};
use dbdump_shared::sql::{quote_ident, quote_list};

use crate::schema::sqlcheck::{
    closing_quote, column_type, expression, niladic_call, scan, string_literal, word,
};

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
        ColumnDefinition::plain(name, ty)
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

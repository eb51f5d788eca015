//! Parents before children: the foreign keys between the tables of a
//! database, and the order in which a puller syncs its tables so that every
//! table comes after the tables it references (cycles broken the same way
//! on every call).

use std::collections::{BTreeMap, BTreeSet};

use mysql::prelude::Queryable;
use mysql::Value;

use crate::error::ApiError;
use crate::inspect::tables::{triples, TableMeta};
use crate::sql;

/// The foreign keys between tables of `db`, as (child, parent).
pub fn foreign_keys(
    conn: &mut impl Queryable,
    db: &str,
) -> Result<Vec<(String, String)>, ApiError> {
    let fks = triples(
        conn,
        sql::FOREIGN_KEYS,
        vec![Value::from(db), Value::from(db)],
    )?;
    Ok(fks
        .into_iter()
        .filter(|[schema, _, _]| schema == db)
        .map(|[_, child, parent]| (child, parent))
        .collect())
}

/// `tables` ordered parents before children by `edges` ([`foreign_keys`]).
pub fn in_order(tables: Vec<TableMeta>, edges: &[(String, String)]) -> Vec<TableMeta> {
    let order = parents_first(tables.iter().map(|t| t.name.clone()).collect(), edges);
    let mut by_name: BTreeMap<String, TableMeta> =
        tables.into_iter().map(|t| (t.name.clone(), t)).collect();
    order
        .into_iter()
        .filter_map(|n| by_name.remove(&n))
        .collect()
}

/// Orders `names` so that every table comes after the tables it references.
/// Ties go alphabetically; a cycle (like store <-> staff) is broken at the
/// table on it with the fewest unmet parents (then alphabetically), so the
/// order is the same on every call.
pub fn parents_first(names: BTreeSet<String>, edges: &[(String, String)]) -> Vec<String> {
    let mut parents: BTreeMap<&str, BTreeSet<&str>> = names
        .iter()
        .map(|n| (n.as_str(), BTreeSet::new()))
        .collect();
    for (child, parent) in edges {
        if child != parent && names.contains(parent) {
            if let Some(p) = parents.get_mut(child.as_str()) {
                p.insert(parent.as_str());
            }
        }
    }
    let mut out = Vec::with_capacity(names.len());
    while !parents.is_empty() {
        // Tables whose parents are all placed, alphabetically first; when
        // only cycles remain, a table on a cycle with the fewest unmet parents.
        let ready = parents
            .iter()
            .find(|(_, ps)| ps.is_empty())
            .map(|(n, _)| *n);
        let next = ready.unwrap_or_else(|| {
            parents
                .iter()
                .filter(|(n, _)| on_cycle(&parents, n))
                .min_by_key(|(n, ps)| (ps.len(), **n))
                .map(|(n, _)| *n)
                .unwrap_or_default()
        });
        parents.remove(next);
        for ps in parents.values_mut() {
            ps.remove(next);
        }
        out.push(next.to_string());
    }
    out
}

/// Whether `start` can reach itself through unmet parent links.
fn on_cycle(parents: &BTreeMap<&str, BTreeSet<&str>>, start: &str) -> bool {
    let mut seen = BTreeSet::new();
    let mut todo: Vec<&str> = parents
        .get(start)
        .map(|p| p.iter().copied().collect())
        .unwrap_or_default();
    while let Some(n) = todo.pop() {
        if n == start {
            return true;
        }
        if seen.insert(n) {
            todo.extend(parents.get(n).into_iter().flatten().copied());
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order(names: &[&str], edges: &[(&str, &str)]) -> Vec<String> {
        let edges: Vec<(String, String)> = edges
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        parents_first(names.iter().map(|s| s.to_string()).collect(), &edges)
    }

    #[test]
    fn parents_come_first() {
        assert_eq!(
            order(&["c", "b", "a"], &[("a", "b"), ("b", "c")]),
            ["c", "b", "a"]
        );
        assert_eq!(order(&["x", "y"], &[]), ["x", "y"]);
        assert_eq!(order(&["a"], &[("a", "a")]), ["a"]);
        assert_eq!(order(&["a", "b"], &[("a", "elsewhere")]), ["a", "b"]);
    }

    #[test]
    fn cycles_are_broken_deterministically() {
        // Sakila: staff -> store, store -> staff, payment -> staff, address <- store/staff.
        let edges = [
            ("staff", "store"),
            ("store", "staff"),
            ("staff", "address"),
            ("store", "address"),
            ("payment", "staff"),
        ];
        let o = order(&["payment", "store", "staff", "address"], &edges);
        assert_eq!(o, ["address", "staff", "payment", "store"]);
        assert_eq!(o, order(&["address", "staff", "payment", "store"], &edges));
    }
}

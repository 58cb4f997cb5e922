//! Rows out: related objects nested, printed (`str_related`) or as ids, computed
//! properties filled, keys projected in the view's order. Password hashes never leave.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use diesel::mysql::MysqlConnection;
use serde_json::value::RawValue;
use serde_json::{Map, Value, json};

use super::meta::TableMeta;
use super::models::RelationKind;
use super::resolve::{ColumnRef, Resolved};
use super::sql::{Bind, DynRow, Object, q, select_columns, select_rows};
use super::view::Row;
use crate::auth::Ctx;
use crate::error::ApiError;

/// How related rows appear.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RelMode {
    /// every scalar column of the related row (FAB's nested schema)
    Nested,
    /// the related row's repr (`str_related=1`); to-many relations stay nested
    Str,
    /// ids (the edit / add schema of POST and PUT results)
    Pk,
}

fn ids_of(rows: &[Row], key: &str) -> Vec<i64> {
    let set: BTreeSet<i64> = rows
        .iter()
        .filter_map(|r| r.get(key).and_then(Value::as_i64))
        .collect();
    set.into_iter().collect()
}

fn in_list(n: usize) -> String {
    vec!["?"; n].join(",")
}

/// The ids as binds of an `IN` list padded to a power of two with the last id repeated
/// (the same rows): a handful of statement texts per relation instead of one per
/// length, so the statements can stay prepared.
fn padded(ids: &[i64]) -> Vec<Bind> {
    let mut binds: Vec<Bind> = ids.iter().map(|i| Bind::Int(*i)).collect();
    if let Some(last) = ids.last() {
        binds.resize(ids.len().next_power_of_two(), Bind::Int(*last));
    }
    binds
}

/// The scalar columns of a related row that FAB's nested schema shows, in DDL order.
fn nested_row(rv: &Resolved<'_>, table: &str, mut row: Row) -> Row {
    if let Some(m) = rv.model_of(table) {
        for fk in m.fk_columns() {
            row.shift_remove(fk);
        }
        for s in m.secret_columns {
            row.shift_remove(*s);
        }
    }
    row
}

/// [`nested_row`]'s columns of `table` (indices into its columns, DDL order) with their
/// names: what a related row written straight from the database shows.
fn nested_columns<'m>(rv: &Resolved<'_>, table: &'m TableMeta) -> (Vec<usize>, Vec<&'m str>) {
    let hidden: Vec<&str> = rv
        .model_of(&table.name)
        .map(|m| {
            let mut h = m.fk_columns();
            h.extend(m.secret_columns.iter().copied());
            h
        })
        .unwrap_or_default();
    table
        .columns
        .iter()
        .enumerate()
        .filter(|(_, c)| !hidden.contains(&c.name.as_str()))
        .map(|(i, c)| (i, c.name.as_str()))
        .unzip()
}

/// Nested rows as [`nested_rows_where`] answers them: the column names, and each row
/// with its key.
type KeyedRows<'m> = (Vec<&'m str>, Vec<(i64, DynRow)>);

/// The rows of `table` whose column `key` is one of `values` (`order`: SQL after the
/// WHERE), with [`nested_columns`]'s columns and their names, each with its `key` value
/// (read past the names when the nested schema hides `key`). `None` when `table` or
/// `key` is unknown or `values` is empty.
fn nested_rows_where<'m>(
    conn: &mut MysqlConnection,
    rv: &Resolved<'_>,
    meta: &'m TableMeta,
    key: &str,
    values: &[i64],
    order: &str,
) -> Result<Option<KeyedRows<'m>>, ApiError> {
    let Some(key_col) = meta.columns.iter().position(|c| c.name == key) else {
        return Ok(None);
    };
    if values.is_empty() {
        return Ok(None);
    }
    let (mut cols, names) = nested_columns(rv, meta);
    let key_at = cols.iter().position(|c| *c == key_col).unwrap_or_else(|| {
        cols.push(key_col);
        cols.len() - 1
    });
    let rows = select_columns(
        conn,
        meta,
        &cols,
        &format!(
            "WHERE t.{} IN ({}){order}",
            q(key),
            in_list(values.len().next_power_of_two())
        ),
        &padded(values),
    )?;
    let keyed = rows
        .into_iter()
        .filter_map(|r| r.0.get(key_at).and_then(Value::as_i64).map(|k| (k, r)))
        .collect();
    Ok(Some((names, keyed)))
}

/// The rows of `table` with ids `ids`, each written once as FAB's nested schema shows it
/// ([`nested_row`]'s columns, straight from the database to JSON: no map is built).
fn load_nested_by_ids(
    conn: &mut MysqlConnection,
    rv: &Resolved<'_>,
    table: &str,
    ids: &[i64],
) -> Result<BTreeMap<i64, Arc<RawValue>>, ApiError> {
    let mut out = BTreeMap::new();
    let Some(meta) = rv.schema.table(table) else {
        return Ok(out);
    };
    let Some((names, rows)) = nested_rows_where(conn, rv, meta, "id", ids, "")? else {
        return Ok(out);
    };
    for (id, r) in rows {
        let raw = serde_json::value::to_raw_value(&Object {
            names: &names,
            values: &r.0,
        })
        .map_err(|e| ApiError::internal(e.to_string()))?;
        out.insert(id, Arc::from(raw));
    }
    Ok(out)
}

/// The children of each of `parents` in `table` (linked by `fk`, in id order), written
/// once per parent as the JSON array FAB's nested schema shows (no map is built).
fn load_nested_children(
    conn: &mut MysqlConnection,
    rv: &Resolved<'_>,
    table: &str,
    fk: &str,
    parents: &[i64],
) -> Result<BTreeMap<i64, Arc<RawValue>>, ApiError> {
    let mut out = BTreeMap::new();
    let Some(meta) = rv.schema.table(table) else {
        return Ok(out);
    };
    let Some((names, rows)) = nested_rows_where(conn, rv, meta, fk, parents, " ORDER BY t.`id`")?
    else {
        return Ok(out);
    };
    let mut by_parent: BTreeMap<i64, Vec<&[Value]>> = BTreeMap::new();
    for (p, r) in &rows {
        by_parent.entry(*p).or_default().push(&r.0);
    }
    struct Array<'a>(&'a [&'a str], &'a [&'a [Value]]);
    impl serde::Serialize for Array<'_> {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.collect_seq(self.1.iter().map(|values| Object {
                names: self.0,
                values,
            }))
        }
    }
    for (parent, children) in by_parent {
        let raw = serde_json::value::to_raw_value(&Array(&names, &children))
            .map_err(|e| ApiError::internal(e.to_string()))?;
        out.insert(parent, Arc::from(raw));
    }
    Ok(out)
}

/// Loads rows of `table` by id with their repr under `__repr__`.
pub fn load_by_ids(
    conn: &mut MysqlConnection,
    rv: &Resolved<'_>,
    table: &str,
    ids: &[i64],
) -> Result<BTreeMap<i64, Row>, ApiError> {
    if ids.is_empty() {
        return Ok(BTreeMap::new());
    }
    let Some(meta) = rv.schema.table(table) else {
        return Ok(BTreeMap::new());
    };
    let repr = rv.model_of(table).map(|m| m.repr_sql).unwrap_or("t.`id`");
    let rows = select_rows(
        conn,
        meta,
        &[("__repr__", repr.to_string())],
        &format!(
            "WHERE t.`id` IN ({})",
            in_list(ids.len().next_power_of_two())
        ),
        &padded(ids),
    )?;
    Ok(rows
        .into_iter()
        .filter_map(|r| r.get("id").and_then(Value::as_i64).map(|id| (id, r)))
        .collect())
}

/// Related objects of a list page in [`RelMode::Nested`], written once as JSON straight
/// from the database and shared by every row that shows them: many-to-one relations
/// (twenty projects made by the same user carry one serialised user, not twenty copies
/// of its map) and each row's one-to-many children. Per key, one value per row, `None`
/// for no related row.
#[derive(Debug, Default)]
pub struct Shared(Vec<(String, Vec<Option<Arc<RawValue>>>)>);

impl Shared {
    /// The shared value of `key` for row `i`, when `key` is shared.
    pub fn get(&self, key: &str, i: usize) -> Option<Option<&RawValue>> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.get(i).and_then(|r| r.as_deref()))
    }

    /// The keys whose values are shared.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|(k, _)| k.as_str())
    }
}

/// Rows of a page written out with their [`Shared`] values in place.
pub struct PageRows<'a> {
    pub rows: &'a [Row],
    pub shared: &'a Shared,
}

impl serde::Serialize for PageRows<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{SerializeMap, SerializeSeq};
        struct One<'a>(&'a Row, &'a Shared, usize);
        impl serde::Serialize for One<'_> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut m = s.serialize_map(Some(self.0.len()))?;
                for (k, v) in self.0 {
                    match self.1.get(k, self.2) {
                        Some(raw) => m.serialize_entry(k, &raw)?,
                        None => m.serialize_entry(k, v)?,
                    }
                }
                m.end()
            }
        }
        let mut seq = s.serialize_seq(Some(self.rows.len()))?;
        for (i, row) in self.rows.iter().enumerate() {
            seq.serialize_element(&One(row, self.shared, i))?;
        }
        seq.end()
    }
}

/// Fills related objects and properties named in `keys` into `rows` (in place).
pub fn enrich(
    conn: &mut MysqlConnection,
    rv: &Resolved<'_>,
    ctx: &Ctx,
    rows: &mut [Row],
    keys: &[String],
    mode: RelMode,
) -> Result<(), ApiError> {
    enrich_sharing(conn, rv, ctx, rows, keys, mode, false).map(|_| ())
}

/// [`enrich`], with nested many-to-one objects and one-to-many children left out of
/// `rows` and answered as [`Shared`] values when `share` is set and `mode` is
/// [`RelMode::Nested`] (a list page: see [`PageRows`]). The rows then lack those keys;
/// properties never read them.
pub fn enrich_sharing(
    conn: &mut MysqlConnection,
    rv: &Resolved<'_>,
    ctx: &Ctx,
    rows: &mut [Row],
    keys: &[String],
    mode: RelMode,
    share: bool,
) -> Result<Shared, ApiError> {
    let mut shared = Shared::default();
    // shared related rows are written straight from the database (see `load_nested_*`)
    let share = share && mode == RelMode::Nested;
    // the targets of every many-to-one relation shown, each table loaded once for all
    // its relations (`created_by` and `changed_by` are one query), each row prepared once
    let mut targets: BTreeMap<&str, BTreeSet<i64>> = BTreeMap::new();
    if mode != RelMode::Pk {
        for key in keys {
            if let ColumnRef::Relation(r) = rv.resolve(key)
                && let RelationKind::ManyToOne { fk, target } = r.kind
            {
                targets.entry(target).or_default().extend(
                    rows.iter()
                        .filter_map(|row| row.get(fk).and_then(Value::as_i64)),
                );
            }
        }
    }
    let mut loaded: BTreeMap<&str, BTreeMap<i64, (Value, Row)>> = BTreeMap::new();
    let mut written: BTreeMap<&str, BTreeMap<i64, Arc<RawValue>>> = BTreeMap::new();
    for (target, ids) in targets {
        let ids: Vec<i64> = ids.into_iter().collect();
        if share {
            written.insert(target, load_nested_by_ids(conn, rv, target, &ids)?);
            continue;
        }
        let prepared = load_by_ids(conn, rv, target, &ids)?
            .into_iter()
            .map(|(id, mut r)| {
                let repr = r.remove("__repr__").unwrap_or(Value::Null);
                (id, (repr, nested_row(rv, target, r)))
            })
            .collect();
        loaded.insert(target, prepared);
    }
    let none = BTreeMap::new();
    let no_rows = BTreeMap::new();
    for key in keys {
        match rv.resolve(key) {
            ColumnRef::Relation(r) => match r.kind {
                RelationKind::ManyToOne { fk, target } if share => {
                    let written = written.get(target).unwrap_or(&no_rows);
                    let values = rows
                        .iter()
                        .map(|row| {
                            row.get(fk)
                                .and_then(Value::as_i64)
                                .and_then(|id| written.get(&id).cloned())
                        })
                        .collect();
                    shared.0.push((key.clone(), values));
                }
                RelationKind::ManyToOne { fk, target } => {
                    let related = loaded.get(target).unwrap_or(&none);
                    for row in rows.iter_mut() {
                        let id = row.get(fk).and_then(Value::as_i64);
                        let v = match (mode, id) {
                            (_, None) => Value::Null,
                            (RelMode::Pk, Some(id)) => json!(id),
                            (RelMode::Str, Some(id)) => related
                                .get(&id)
                                .map(|(repr, _)| repr.clone())
                                .unwrap_or(Value::Null),
                            (RelMode::Nested, Some(id)) => match related.get(&id) {
                                Some((_, r)) => Value::Object(r.clone()),
                                None => Value::Null,
                            },
                        };
                        row.insert(key.clone(), v);
                    }
                }
                RelationKind::OneToMany { target, fk } if share => {
                    let children = load_nested_children(conn, rv, target, fk, &ids_of(rows, "id"))?;
                    let empty: Arc<RawValue> = Arc::from(
                        RawValue::from_string("[]".into())
                            .map_err(|e| ApiError::internal(e.to_string()))?,
                    );
                    let values = rows
                        .iter()
                        .map(|row| {
                            let id = row.get("id").and_then(Value::as_i64);
                            Some(
                                id.and_then(|id| children.get(&id))
                                    .unwrap_or(&empty)
                                    .clone(),
                            )
                        })
                        .collect();
                    shared.0.push((key.clone(), values));
                }
                RelationKind::OneToMany { target, fk } => {
                    let ids = ids_of(rows, "id");
                    let mut by_parent: BTreeMap<i64, Vec<Row>> = BTreeMap::new();
                    if !ids.is_empty()
                        && let Some(meta) = rv.schema.table(target)
                    {
                        let found = select_rows(
                            conn,
                            meta,
                            &[],
                            &format!(
                                "WHERE t.{} IN ({}) ORDER BY t.`id`",
                                q(fk),
                                in_list(ids.len().next_power_of_two())
                            ),
                            &padded(&ids),
                        )?;
                        for r in found {
                            if let Some(p) = r.get(fk).and_then(Value::as_i64) {
                                by_parent.entry(p).or_default().push(r);
                            }
                        }
                    }
                    for row in rows.iter_mut() {
                        let id = row.get("id").and_then(Value::as_i64).unwrap_or(-1);
                        let children = by_parent.remove(&id).unwrap_or_default();
                        let v: Vec<Value> = children
                            .into_iter()
                            .map(|c| match mode {
                                RelMode::Pk => c.get("id").cloned().unwrap_or(Value::Null),
                                _ => Value::Object(nested_row(rv, target, c)),
                            })
                            .collect();
                        row.insert(key.clone(), Value::Array(v));
                    }
                }
                RelationKind::ManyToMany {
                    through,
                    self_fk,
                    other_fk,
                    target,
                } => {
                    let ids = ids_of(rows, "id");
                    let mut links: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
                    if !ids.is_empty() {
                        #[derive(diesel::QueryableByName)]
                        struct Link {
                            #[diesel(sql_type = diesel::sql_types::BigInt)]
                            a: i64,
                            #[diesel(sql_type = diesel::sql_types::BigInt)]
                            b: i64,
                        }
                        let sql = format!(
                            "SELECT CAST({s} AS SIGNED) AS a, CAST({o} AS SIGNED) AS b FROM {t} WHERE {s} IN ({l}) ORDER BY {o}",
                            s = q(self_fk),
                            o = q(other_fk),
                            t = q(through),
                            l = in_list(ids.len())
                        );
                        let mut query = diesel::sql_query(sql).into_boxed();
                        for i in &ids {
                            query = query.bind::<diesel::sql_types::BigInt, _>(*i);
                        }
                        let found: Vec<Link> = diesel::RunQueryDsl::load(query, conn)?;
                        for l in found {
                            links.entry(l.a).or_default().push(l.b);
                        }
                    }
                    let all: Vec<i64> = links
                        .values()
                        .flatten()
                        .copied()
                        .collect::<BTreeSet<_>>()
                        .into_iter()
                        .collect();
                    let related = if mode == RelMode::Pk {
                        BTreeMap::new()
                    } else {
                        load_by_ids(conn, rv, target, &all)?
                    };
                    for row in rows.iter_mut() {
                        let id = row.get("id").and_then(Value::as_i64).unwrap_or(-1);
                        let v: Vec<Value> = links
                            .get(&id)
                            .map(|targets| {
                                targets
                                    .iter()
                                    .map(|t| match mode {
                                        RelMode::Pk => json!(t),
                                        _ => related
                                            .get(t)
                                            .map(|r| {
                                                let mut r = r.clone();
                                                r.remove("__repr__");
                                                Value::Object(nested_row(rv, target, r))
                                            })
                                            .unwrap_or(Value::Null),
                                    })
                                    .collect()
                            })
                            .unwrap_or_default();
                        row.insert(key.clone(), Value::Array(v));
                    }
                }
            },
            ColumnRef::Property => {
                if let Some(p) = rv.view.property(key) {
                    (p.compute)(conn, ctx, rows)?;
                }
            }
            _ => {}
        }
    }
    Ok(shared)
}

/// Keeps `keys` (in order) plus the primary key, dropping secrets.
pub fn project(rv: &Resolved<'_>, row: &Row, keys: &[String]) -> Row {
    let mut out = Map::new();
    for k in keys {
        if rv.model.secret_columns.contains(&k.as_str()) {
            continue;
        }
        out.insert(k.clone(), row.get(k).cloned().unwrap_or(Value::Null));
    }
    let pk = rv.pk();
    out.insert(pk.to_string(), row.get(pk).cloned().unwrap_or(Value::Null));
    out
}

/// [`project`] of a row that is not needed afterwards: its values are moved, not copied.
pub fn project_owned(rv: &Resolved<'_>, mut row: Row, keys: &[String]) -> Row {
    let pk = rv.pk();
    let pk_value = row.get(pk).cloned().unwrap_or(Value::Null);
    let mut out = Map::with_capacity(keys.len() + 1);
    for k in keys {
        if rv.model.secret_columns.contains(&k.as_str()) || out.contains_key(k) {
            continue;
        }
        let v = row.get_mut(k).map(Value::take).unwrap_or(Value::Null);
        out.insert(k.clone(), v);
    }
    out.insert(pk.to_string(), pk_value);
    out
}

/// Every DB column of a row (the original's `to_json`, used by DELETE), secrets dropped.
pub fn to_json(rv: &Resolved<'_>, row: &Row) -> Row {
    let mut out = Map::new();
    for c in &rv.table.columns {
        if rv.model.secret_columns.contains(&c.name.as_str()) {
            continue;
        }
        out.insert(
            c.name.clone(),
            row.get(&c.name).cloned().unwrap_or(Value::Null),
        );
    }
    out
}

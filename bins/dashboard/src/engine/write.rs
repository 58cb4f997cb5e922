//! Rows in: request bodies turned into validated column values (api.md §1.4-1.6),
//! inserted or updated in one transaction by the handlers.

use diesel::mysql::MysqlConnection;
use serde_json::{Value, json};

use super::meta::{ColumnMeta, SqlKind};
use super::models::{OrmDefault, RelationKind};
use super::resolve::{ColumnRef, Resolved};
use super::sql::{Bind, count, execute, q};
use super::view::Row;
use crate::auth::Ctx;
use crate::error::ApiError;

/// Column values to write, plus to-many links (relation name → ids).
#[derive(Debug, Default, Clone)]
pub struct Changes {
    pub values: Row,
    pub links: Vec<(String, Vec<i64>)>,
}

/// Strips spaces from every top-level string (the original's first step).
pub fn strip_strings(body: &mut Row) {
    for v in body.values_mut() {
        if let Value::String(s) = v {
            let t = s.trim();
            if t.len() != s.len() {
                *s = t.to_string();
            }
        }
    }
}

/// Folds expand sub-fields (`cluster`, `org`...) of the request into the expand JSON column.
pub fn merge_expand(rv: &Resolved<'_>, body: &mut Row, current: Option<&Row>) {
    let Some(e) = &rv.view.expand else { return };
    let mut expand = app_core::json_text::object_or_empty(
        body.get(e.column).and_then(Value::as_str).or_else(|| {
            current
                .and_then(|c| c.get(e.column))
                .and_then(Value::as_str)
        }),
    );
    let mut touched = false;
    for f in &e.fields {
        if let Some(name) = f.get("name").and_then(Value::as_str)
            && let Some(v) = body.remove(name)
        {
            expand.insert(name.to_string(), v);
            touched = true;
        }
    }
    if touched || body.contains_key(e.column) {
        body.insert(
            e.column.to_string(),
            json!(app_core::json_text::pretty4(&Value::Object(expand))),
        );
    }
}

fn type_error(col: &str, msg: &str) -> ApiError {
    ApiError::unprocessable(format!("{{'{col}': ['{msg}']}}"))
}

/// Converts one JSON value to what the column holds, or explains why it cannot.
pub fn convert_value(c: &ColumnMeta, v: &Value) -> Result<Value, ApiError> {
    let col = c.name.as_str();
    if v.is_null() {
        return if c.nullable {
            Ok(Value::Null)
        } else {
            Err(type_error(col, "Field may not be null."))
        };
    }
    Ok(match c.kind {
        SqlKind::Int | SqlKind::BigInt => match v {
            Value::Number(n) if n.is_i64() => v.clone(),
            Value::Number(n)
                if n.as_f64()
                    .map(|f| f.fract() == 0.0 && f.abs() < 9.0e15)
                    .unwrap_or(false) =>
            {
                json!(n.as_f64().unwrap_or(0.0) as i64)
            }
            Value::String(s) if s.trim().is_empty() && c.nullable => Value::Null,
            Value::String(s) => json!(
                s.trim()
                    .parse::<i64>()
                    .map_err(|_| type_error(col, "Not a valid integer."))?
            ),
            Value::Bool(b) => json!(*b as i64),
            _ => return Err(type_error(col, "Not a valid integer.")),
        },
        SqlKind::Float => match v {
            Value::Number(_) => v.clone(),
            Value::String(s) => json!(
                s.trim()
                    .parse::<f64>()
                    .map_err(|_| type_error(col, "Not a valid number."))?
            ),
            _ => return Err(type_error(col, "Not a valid number.")),
        },
        SqlKind::Bool => match v {
            Value::Bool(_) => v.clone(),
            Value::Number(n) => json!(n.as_f64().unwrap_or(0.0) != 0.0),
            Value::String(s) => match s.trim() {
                "true" | "True" | "1" | "y" | "yes" | "on" => json!(true),
                "false" | "False" | "0" | "n" | "no" | "off" | "" => json!(false),
                _ => return Err(type_error(col, "Not a valid boolean.")),
            },
            _ => return Err(type_error(col, "Not a valid boolean.")),
        },
        SqlKind::DateTime | SqlKind::Date => match v {
            Value::String(s) if s.trim().is_empty() && c.nullable => Value::Null,
            Value::String(s) => match app_models::time::parse_time(s) {
                Some(t) => json!(t.format("%Y-%m-%dT%H:%M:%S").to_string()),
                None => return Err(type_error(col, "Not a valid datetime.")),
            },
            _ => return Err(type_error(col, "Not a valid datetime.")),
        },
        SqlKind::Enum => {
            let s = match v {
                Value::String(s) => s.trim_matches(',').replace(",,", ","),
                Value::Number(n) => n.to_string(),
                _ => return Err(type_error(col, "Not a valid choice.")),
            };
            if !c.enum_values.iter().any(|e| e == &s) {
                return Err(ApiError::unprocessable(format!(
                    "{{'{col}': ['Must be one of: {}.']}}",
                    c.enum_values.join(", ")
                )));
            }
            json!(s)
        }
        SqlKind::String | SqlKind::Text => {
            let s = match v {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                other => serde_json::to_string(other).unwrap_or_default(),
            };
            let limit = match c.kind {
                SqlKind::String => c.max_len.unwrap_or(255),
                _ if c.sqla_type == "TEXT(65536)" => 16_777_215,
                _ => 65_535,
            };
            let len = if c.kind == SqlKind::String {
                s.chars().count() as u64
            } else {
                s.len() as u64
            };
            if len > limit {
                return Err(ApiError::unprocessable(format!(
                    "{{'{col}': ['Longer than maximum length {limit}.']}}"
                )));
            }
            json!(s)
        }
    })
}

fn parse_id_list(v: &Value, field: &str) -> Result<Vec<i64>, ApiError> {
    let bad = || {
        type_error(
            field,
            "Expected ids as a comma separated string, e.g. \"1,2\".",
        )
    };
    match v {
        Value::Null => Ok(vec![]),
        Value::Number(n) => n.as_i64().map(|i| vec![i]).ok_or_else(bad),
        Value::String(s) => s
            .replace('，', ",")
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(|p| p.parse::<i64>().map_err(|_| bad()))
            .collect(),
        Value::Array(items) => items
            .iter()
            .map(|i| match i {
                Value::Number(n) => n.as_i64().ok_or_else(bad),
                Value::String(s) => s.trim().parse::<i64>().map_err(|_| bad()),
                Value::Object(o) => o.get("id").and_then(Value::as_i64).ok_or_else(bad),
                _ => Err(bad()),
            })
            .collect(),
        _ => Err(bad()),
    }
}

fn related_exists(conn: &mut MysqlConnection, table: &str, id: i64) -> Result<bool, ApiError> {
    Ok(count(
        conn,
        &format!("SELECT COUNT(*) AS n FROM {} WHERE `id` = ?", q(table)),
        &[Bind::Int(id)],
    )? > 0)
}

/// Turns a (filtered) request body into column values and links.
pub fn to_changes(
    conn: &mut MysqlConnection,
    rv: &Resolved<'_>,
    body: &Row,
    allowed: &[String],
) -> Result<Changes, ApiError> {
    let mut ch = Changes::default();
    for (k, v) in body {
        if !allowed.iter().any(|a| a == k) {
            continue;
        }
        match rv.resolve(k) {
            ColumnRef::Column(c) => {
                if c.is_primary
                    || (rv.model.audit && (c.name == "created_by_fk" || c.name == "changed_by_fk"))
                {
                    continue;
                }
                ch.values.insert(c.name.clone(), convert_value(c, v)?);
            }
            ColumnRef::Relation(r) => match r.kind {
                RelationKind::ManyToOne { fk, target } => {
                    let id = match v {
                        Value::Null => None,
                        Value::String(s) if s.trim().is_empty() => None,
                        Value::Object(o) => o.get("id").and_then(Value::as_i64),
                        other => parse_id_list(other, k)?.first().copied(),
                    };
                    let nullable = rv.table.column(fk).map(|c| c.nullable).unwrap_or(true);
                    match id {
                        Some(id) => {
                            if !related_exists(conn, target, id)? {
                                return Err(type_error(k, "Related Object doesn't exist in DB"));
                            }
                            ch.values.insert(fk.to_string(), json!(id));
                        }
                        None if nullable => {
                            ch.values.insert(fk.to_string(), Value::Null);
                        }
                        None => return Err(type_error(k, "Missing data for required field.")),
                    }
                }
                RelationKind::ManyToMany { target, .. } => {
                    let ids = parse_id_list(v, k)?;
                    for id in &ids {
                        if !related_exists(conn, target, *id)? {
                            return Err(type_error(k, "Related Object doesn't exist in DB"));
                        }
                    }
                    ch.links.push((k.clone(), ids));
                }
                RelationKind::OneToMany { .. } => {}
            },
            _ => {}
        }
    }
    Ok(ch)
}

/// Fills ORM defaults and audit columns of a new row.
pub fn complete_for_insert(rv: &Resolved<'_>, ctx: &Ctx, ch: &mut Changes) -> Result<(), ApiError> {
    let now = app_models::forms::now()
        .format("%Y-%m-%dT%H:%M:%S")
        .to_string();
    for c in &rv.table.columns {
        if c.is_primary || ch.values.contains_key(&c.name) {
            continue;
        }
        if let Some(d) = rv.model.default_of(&c.name) {
            let v = match d {
                OrmDefault::Str(s) => json!(s),
                OrmDefault::Int(i) => json!(i),
                OrmDefault::Bool(b) => json!(b),
                OrmDefault::Float(f) => json!(f),
                OrmDefault::Now => json!(now),
                OrmDefault::NowString => json!(now.replace('T', " ")),
                OrmDefault::CurrentUser => json!(ctx.user_id),
            };
            ch.values.insert(c.name.clone(), v);
        }
    }
    Ok(())
}

/// Rejects a new row that lacks a required column (after the hooks had their say).
pub fn check_required(rv: &Resolved<'_>, ch: &Changes) -> Result<(), ApiError> {
    let missing: Vec<String> = rv
        .table
        .columns
        .iter()
        .filter(|c| !c.is_primary && !c.nullable && c.server_default.is_none())
        .filter(|c| matches!(ch.values.get(&c.name), None | Some(Value::Null)))
        .map(|c| {
            let shown = rv.model.relations.iter().find_map(|r| match r.kind {
                RelationKind::ManyToOne { fk, .. } if fk == c.name => Some(r.name.to_string()),
                _ => None,
            });
            format!(
                "'{}': ['Missing data for required field.']",
                shown.unwrap_or_else(|| c.name.clone())
            )
        })
        .collect();
    if !missing.is_empty() {
        return Err(ApiError::unprocessable(format!(
            "{{{}}}",
            missing.join(", ")
        )));
    }
    Ok(())
}

fn bind_of(c: &ColumnMeta, v: &Value) -> Bind {
    match v {
        Value::Null => Bind::Null,
        Value::Bool(b) => Bind::Bool(*b),
        Value::Number(n) if n.is_i64() => Bind::Int(n.as_i64().unwrap_or(0)),
        Value::Number(n) => Bind::Float(n.as_f64().unwrap_or(0.0)),
        Value::String(s) if matches!(c.kind, SqlKind::DateTime) => Bind::Text(s.replace('T', " ")),
        Value::String(s) => Bind::Text(s.clone()),
        other => Bind::Text(other.to_string()),
    }
}

/// `INSERT` the values; returns the new id.
pub fn insert_row(
    conn: &mut MysqlConnection,
    rv: &Resolved<'_>,
    values: &Row,
) -> Result<i64, ApiError> {
    let mut cols = Vec::new();
    let mut binds = Vec::new();
    // an adopted original database numbers some tables with a sequence
    let seq_id = if rv.table.id_sequence {
        Some(app_models::queries::next_sequence_id(conn, &rv.table.name)?)
    } else {
        None
    };
    if let Some(id) = seq_id {
        cols.push(q(rv.pk()));
        binds.push(Bind::Int(i64::from(id)));
    }
    for c in &rv.table.columns {
        if seq_id.is_some() && c.name == rv.pk() {
            continue;
        }
        if let Some(v) = values.get(&c.name) {
            cols.push(q(&c.name));
            binds.push(bind_of(c, v));
        }
    }
    let sql = format!(
        "INSERT INTO {} ({}) VALUES ({})",
        q(&rv.table.name),
        cols.join(", "),
        vec!["?"; cols.len()].join(", ")
    );
    execute(conn, &sql, &binds)?;
    match seq_id {
        Some(id) => Ok(i64::from(id)),
        None => Ok(i64::from(app_models::queries::last_insert_id(conn)?)),
    }
}

/// `UPDATE` the given values of row `id`.
pub fn update_row(
    conn: &mut MysqlConnection,
    rv: &Resolved<'_>,
    id: i64,
    values: &Row,
) -> Result<(), ApiError> {
    let mut sets = Vec::new();
    let mut binds = Vec::new();
    for c in &rv.table.columns {
        if c.is_primary {
            continue;
        }
        if let Some(v) = values.get(&c.name) {
            sets.push(format!("{} = ?", q(&c.name)));
            binds.push(bind_of(c, v));
        }
    }
    if sets.is_empty() {
        return Ok(());
    }
    binds.push(Bind::Int(id));
    execute(
        conn,
        &format!(
            "UPDATE {} SET {} WHERE `id` = ?",
            q(&rv.table.name),
            sets.join(", ")
        ),
        &binds,
    )?;
    Ok(())
}

/// Inserts one row of a link table; `numbered`: its ids come from its sequence
/// (`ab_user_role` of an adopted original database, [`crate::engine::meta::TableMeta`]).
pub fn link_row(
    conn: &mut MysqlConnection,
    table: &str,
    numbered: bool,
    (a, a_id): (&str, i64),
    (b, b_id): (&str, i64),
) -> Result<(), ApiError> {
    let mut binds = vec![Bind::Int(a_id), Bind::Int(b_id)];
    let sql = if numbered {
        let id = app_models::queries::next_sequence_id(conn, table)?;
        binds.insert(0, Bind::Int(i64::from(id)));
        format!(
            "INSERT INTO {} (`id`, {}, {}) VALUES (?, ?, ?)",
            q(table),
            q(a),
            q(b)
        )
    } else {
        format!(
            "INSERT INTO {} ({}, {}) VALUES (?, ?)",
            q(table),
            q(a),
            q(b)
        )
    };
    execute(conn, &sql, &binds)?;
    Ok(())
}

/// Replaces the many-to-many links of row `id`.
pub fn write_links(
    conn: &mut MysqlConnection,
    rv: &Resolved<'_>,
    id: i64,
    links: &[(String, Vec<i64>)],
) -> Result<(), ApiError> {
    for (name, ids) in links {
        if let Some(r) = rv.model.relation(name)
            && let RelationKind::ManyToMany {
                through,
                self_fk,
                other_fk,
                ..
            } = r.kind
        {
            execute(
                conn,
                &format!("DELETE FROM {} WHERE {} = ?", q(through), q(self_fk)),
                &[Bind::Int(id)],
            )?;
            for other in ids {
                let numbered = rv.schema.table(through).is_some_and(|t| t.id_sequence);
                link_row(conn, through, numbered, (self_fk, id), (other_fk, *other))?;
            }
        }
    }
    Ok(())
}

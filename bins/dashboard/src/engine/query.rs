//! `form_data`: filters, paging, ordering, `columns`, `str_related`, `only_favorite`
//! (api.md §3), validated against the view; every value becomes a bound parameter.

use serde_json::{Map, Value};

use super::meta::SqlKind;
use super::models::RelationKind;
use super::resolve::{ColumnRef, Resolved};
use super::sql::{Bind, SqlFrag, like_escape, q};
use crate::error::ApiError;

/// The largest page (the original's `FAB_API_MAX_PAGE_SIZE`).
pub const MAX_PAGE_SIZE: i64 = 2000;

/// A validated list request.
#[derive(Debug, Clone, Default)]
pub struct ListRequest {
    pub filters: Vec<(String, String, Value)>,
    pub page: i64,
    pub page_size: i64,
    pub order: Option<(String, bool)>,
    pub columns: Option<Vec<String>>,
    pub str_related: bool,
    pub only_favorite: bool,
}

/// Merges the query string (`form_data=<json>` and loose `form_data[key]=v` / `key=v`
/// params) and an optional JSON body into one argument object, as the original does.
pub fn merge_args(query: &str, body: &[u8]) -> Result<Map<String, Value>, ApiError> {
    let mut args = Map::new();
    if !body.is_empty()
        && let Ok(Value::Object(b)) = serde_json::from_slice::<Value>(body)
    {
        args.extend(b);
    }
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query)
        .map_err(|e| ApiError::bad_request(format!("bad query string: {e}")))?;
    for (k, v) in &pairs {
        if k == "form_data" {
            match serde_json::from_str::<Value>(v) {
                Ok(Value::Object(m)) => args.extend(m),
                Ok(Value::Null) => {}
                Ok(_) => return Err(ApiError::bad_request("form_data must be a JSON object")),
                Err(e) => {
                    return Err(ApiError::bad_request(format!(
                        "form_data is not valid JSON: {e}"
                    )));
                }
            }
        }
    }
    for (k, v) in pairs {
        if k == "form_data" {
            continue;
        }
        let key = k
            .trim_start_matches("form_data")
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        if key.is_empty() {
            continue;
        }
        let value = match serde_json::from_str::<Value>(&v) {
            Ok(n @ Value::Number(_)) | Ok(n @ Value::Bool(_)) => n,
            _ => Value::String(v),
        };
        args.entry(key).or_insert(value);
    }
    Ok(args)
}

fn as_int(v: &Value, what: &str) -> Result<Option<i64>, ApiError> {
    match v {
        Value::Null => Ok(None),
        Value::Number(n) => n
            .as_i64()
            .or_else(|| {
                n.as_f64()
                    .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15)
                    .map(|f| f as i64)
            })
            .map(Some)
            .ok_or_else(|| ApiError::bad_request(format!("{what} must be an integer"))),
        Value::String(s) if s.trim().is_empty() => Ok(None),
        Value::String(s) => s
            .trim()
            .parse::<i64>()
            .map(Some)
            .map_err(|_| ApiError::bad_request(format!("{what} must be an integer, got {s:?}"))),
        _ => Err(ApiError::bad_request(format!("{what} must be an integer"))),
    }
}

fn truthy(v: Option<&Value>) -> bool {
    match v {
        Some(Value::Bool(b)) => *b,
        Some(Value::Number(n)) => n.as_f64().unwrap_or(0.0) != 0.0,
        Some(Value::String(s)) => matches!(s.trim(), "1" | "true" | "True" | "y" | "yes"),
        _ => false,
    }
}

/// Validates the merged arguments against the view.
pub fn parse_list_request(
    rv: &Resolved<'_>,
    args: &Map<String, Value>,
) -> Result<ListRequest, ApiError> {
    let page = as_int(args.get("page").unwrap_or(&Value::Null), "page")?.unwrap_or(0);
    if page < 0 {
        return Err(ApiError::bad_request("page must be 0 or more"));
    }
    let requested =
        as_int(args.get("page_size").unwrap_or(&Value::Null), "page_size")?.unwrap_or(0);
    let page_size = match requested {
        0 => rv.view.page_size.min(MAX_PAGE_SIZE),
        n if !(1..=MAX_PAGE_SIZE).contains(&n) => MAX_PAGE_SIZE,
        n => n,
    };
    let page = page.min(1_000_000_000);

    let search = rv.search_columns();
    let mut filters = Vec::new();
    match args.get("filters") {
        None | Some(Value::Null) => {}
        Some(Value::Array(list)) => {
            for f in list {
                let Value::Object(f) = f else {
                    return Err(ApiError::bad_request(
                        "each filter must be an object {col, opr, value}",
                    ));
                };
                let col = f
                    .get("col")
                    .and_then(Value::as_str)
                    .ok_or_else(|| ApiError::bad_request("a filter needs a string \"col\""))?;
                let opr = f
                    .get("opr")
                    .and_then(Value::as_str)
                    .ok_or_else(|| ApiError::bad_request("a filter needs a string \"opr\""))?;
                let value = f.get("value").ok_or_else(|| {
                    ApiError::bad_request(format!("filter on {col} needs a \"value\""))
                })?;
                if !search.iter().any(|s| s == col) {
                    return Err(ApiError::bad_request(format!(
                        "Filter column: {col} not allowed to filter"
                    )));
                }
                if !rv.filter_ops(col).contains(&opr) {
                    return Err(ApiError::bad_request(format!(
                        "Filter operation: {opr} not allowed on column: {col}"
                    )));
                }
                match value {
                    Value::Array(items) => {
                        for item in items {
                            filters.push((col.to_string(), opr.to_string(), item.clone()));
                        }
                    }
                    v => filters.push((col.to_string(), opr.to_string(), v.clone())),
                }
            }
        }
        Some(_) => return Err(ApiError::bad_request("filters must be a list")),
    }

    let order = match args.get("order_column") {
        None | Some(Value::Null) => None,
        Some(Value::String(c)) if c.is_empty() => None,
        Some(Value::String(c)) => {
            if !rv.order_columns().iter().any(|o| o == c) {
                return Err(ApiError::bad_request(format!(
                    "Invalid order by column: {c}"
                )));
            }
            let asc = args.get("order_direction").and_then(Value::as_str) == Some("asc");
            Some((c.clone(), asc))
        }
        Some(_) => return Err(ApiError::bad_request("order_column must be a string")),
    };

    let columns = match args.get("columns") {
        None | Some(Value::Null) => None,
        Some(Value::Array(c)) => {
            let allowed: Vec<String> = rv
                .list_columns()
                .into_iter()
                .chain(rv.show_columns())
                .collect();
            Some(
                c.iter()
                    .filter_map(Value::as_str)
                    .filter(|name| allowed.iter().any(|a| a == name))
                    .map(String::from)
                    .collect(),
            )
        }
        Some(_) => {
            return Err(ApiError::bad_request(
                "columns must be a list of column names",
            ));
        }
    };

    Ok(ListRequest {
        filters,
        page,
        page_size,
        order,
        columns,
        str_related: truthy(args.get("str_related")),
        only_favorite: truthy(args.get("only_favorite")),
    })
}

fn scalar_text(v: &Value, col: &str) -> Result<String, ApiError> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        _ => Err(ApiError::bad_request(format!(
            "filter value of {col} must be a string or a number"
        ))),
    }
}

/// Coerces a filter value to the column's type.
pub fn coerce(kind: SqlKind, v: &Value, col: &str) -> Result<Bind, ApiError> {
    let text = || scalar_text(v, col);
    Ok(match kind {
        SqlKind::Int | SqlKind::BigInt => match as_int(v, col)? {
            Some(i) => Bind::Int(i),
            None => {
                return Err(ApiError::bad_request(format!(
                    "filter value of {col} must be an integer"
                )));
            }
        },
        SqlKind::Float => {
            let t = text()?;
            Bind::Float(t.trim().parse::<f64>().map_err(|_| {
                ApiError::bad_request(format!("filter value of {col} must be a number"))
            })?)
        }
        SqlKind::Bool => match v {
            Value::Bool(b) => Bind::Bool(*b),
            other => {
                let t = scalar_text(other, col)?;
                match t.trim() {
                    "1" | "true" | "True" | "y" | "yes" => Bind::Bool(true),
                    "0" | "false" | "False" | "n" | "no" => Bind::Bool(false),
                    _ => {
                        return Err(ApiError::bad_request(format!(
                            "filter value of {col} must be true or false"
                        )));
                    }
                }
            }
        },
        SqlKind::DateTime | SqlKind::Date => {
            let t = text()?;
            let parsed = app_models::time::parse_time(&t)
                .map(|d| d.format("%Y-%m-%d %H:%M:%S").to_string())
                .or_else(|| {
                    chrono::NaiveDate::parse_from_str(t.trim(), "%Y-%m-%d")
                        .ok()
                        .map(|d| d.format("%Y-%m-%d 00:00:00").to_string())
                });
            Bind::Text(parsed.ok_or_else(|| {
                ApiError::bad_request(format!(
                    "filter value of {col} must be a date like 2026-11-30 12:00:00"
                ))
            })?)
        }
        SqlKind::String | SqlKind::Text | SqlKind::Enum => Bind::Text(text()?),
    })
}

/// The SQL of one validated filter on alias `t`.
pub fn filter_sql(rv: &Resolved<'_>, col: &str, opr: &str, v: &Value) -> Result<SqlFrag, ApiError> {
    match rv.resolve(col) {
        ColumnRef::Column(c) => {
            let name = format!("t.{}", q(&c.name));
            if c.kind.is_stringy() {
                let s = scalar_text(v, col)?;
                let e = like_escape(&s);
                let (sql, bind) = match opr {
                    "sw" => (format!("{name} LIKE ?"), format!("{e}%")),
                    "ew" => (format!("{name} LIKE ?"), format!("%{e}")),
                    "ct" => (format!("{name} LIKE ?"), format!("%{e}%")),
                    "nsw" => (
                        format!("({name} IS NULL OR {name} NOT LIKE ?)"),
                        format!("{e}%"),
                    ),
                    "new" => (
                        format!("({name} IS NULL OR {name} NOT LIKE ?)"),
                        format!("%{e}"),
                    ),
                    "nct" => (
                        format!("({name} IS NULL OR {name} NOT LIKE ?)"),
                        format!("%{e}%"),
                    ),
                    "eq" => (format!("{name} = ?"), s),
                    "neq" => (format!("({name} IS NULL OR {name} <> ?)"), s),
                    _ => {
                        return Err(ApiError::bad_request(format!(
                            "Filter operation: {opr} not allowed on column: {col}"
                        )));
                    }
                };
                return Ok(SqlFrag::new(sql, vec![Bind::Text(bind)]));
            }
            let b = coerce(c.kind, v, col)?;
            let sql = match opr {
                "eq" => format!("{name} = ?"),
                "neq" => format!("({name} IS NULL OR {name} <> ?)"),
                "gt" => format!("{name} > ?"),
                "lt" => format!("{name} < ?"),
                _ => {
                    return Err(ApiError::bad_request(format!(
                        "Filter operation: {opr} not allowed on column: {col}"
                    )));
                }
            };
            Ok(SqlFrag::new(sql, vec![b]))
        }
        ColumnRef::Relation(r) => {
            let id = match as_int(v, col)? {
                Some(i) => i,
                None => {
                    return Err(ApiError::bad_request(format!(
                        "filter value of {col} must be the id of a row"
                    )));
                }
            };
            match (r.kind, opr) {
                (RelationKind::ManyToOne { fk, .. }, "rel_o_m") => Ok(SqlFrag::new(
                    format!("t.{} = ?", q(fk)),
                    vec![Bind::Int(id)],
                )),
                (RelationKind::ManyToOne { fk, .. }, "nrel_o_m") => Ok(SqlFrag::new(
                    format!("(t.{f} IS NULL OR t.{f} <> ?)", f = q(fk)),
                    vec![Bind::Int(id)],
                )),
                (
                    RelationKind::ManyToMany {
                        through,
                        self_fk,
                        other_fk,
                        ..
                    },
                    "rel_m_m",
                ) => Ok(SqlFrag::new(
                    format!(
                        "EXISTS (SELECT 1 FROM {} x WHERE x.{} = t.`id` AND x.{} = ?)",
                        q(through),
                        q(self_fk),
                        q(other_fk)
                    ),
                    vec![Bind::Int(id)],
                )),
                (RelationKind::OneToMany { target, fk }, "rel_m_m") => Ok(SqlFrag::new(
                    format!(
                        "EXISTS (SELECT 1 FROM {} x WHERE x.{} = t.`id` AND x.`id` = ?)",
                        q(target),
                        q(fk)
                    ),
                    vec![Bind::Int(id)],
                )),
                _ => Err(ApiError::bad_request(format!(
                    "Filter operation: {opr} not allowed on column: {col}"
                ))),
            }
        }
        _ => Err(ApiError::bad_request(format!(
            "Filter column: {col} not allowed to filter"
        ))),
    }
}

/// The ORDER BY of a list (requested, else the view's base order, else none).
pub fn order_sql(rv: &Resolved<'_>, order: &Option<(String, bool)>) -> String {
    let (col, asc) = match order {
        Some((c, asc)) => (c.as_str(), *asc),
        None => match rv.view.base_order {
            Some((c, dir)) => (c, dir == "asc"),
            None => return String::new(),
        },
    };
    match rv.resolve(col) {
        ColumnRef::Column(c) => format!(
            " ORDER BY t.{} {}, t.`id` {}",
            q(&c.name),
            if asc { "ASC" } else { "DESC" },
            if asc { "ASC" } else { "DESC" }
        ),
        _ => String::new(),
    }
}

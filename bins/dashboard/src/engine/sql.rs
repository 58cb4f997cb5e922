//! Dynamic SQL with bound values. Identifiers come only from schema metadata and view
//! declarations (and are backtick-quoted); every value is a bound parameter.

use diesel::mysql::{Mysql, MysqlConnection};
use diesel::prelude::*;
use diesel::query_builder::BoxedSqlQuery;
use diesel::sql_types::{BigInt, Bool, Double, Nullable, Text};
use serde_json::{Map, Value};

use super::meta::{SqlKind, TableMeta};

/// A bound value.
#[derive(Debug, Clone, PartialEq)]
pub enum Bind {
    Int(i64),
    Float(f64),
    Bool(bool),
    Text(String),
    Null,
}

/// A fragment of SQL with its bound values, in order.
#[derive(Debug, Clone, Default)]
pub struct SqlFrag {
    pub sql: String,
    pub binds: Vec<Bind>,
}

impl SqlFrag {
    pub fn new(sql: impl Into<String>, binds: Vec<Bind>) -> Self {
        SqlFrag {
            sql: sql.into(),
            binds,
        }
    }
    /// AND of non-empty fragments (empty → TRUE).
    pub fn and(parts: Vec<SqlFrag>) -> SqlFrag {
        let parts: Vec<SqlFrag> = parts.into_iter().filter(|p| !p.sql.is_empty()).collect();
        if parts.is_empty() {
            return SqlFrag::new("1=1", vec![]);
        }
        let sql = parts
            .iter()
            .map(|p| format!("({})", p.sql))
            .collect::<Vec<_>>()
            .join(" AND ");
        let binds = parts.into_iter().flat_map(|p| p.binds).collect();
        SqlFrag { sql, binds }
    }
}

/// Quotes an identifier that already passed validation against metadata.
pub fn q(ident: &str) -> String {
    format!("`{}`", ident.replace('`', ""))
}

fn bind_all<'a>(
    mut query: BoxedSqlQuery<'a, Mysql, diesel::query_builder::SqlQuery>,
    binds: &[Bind],
) -> BoxedSqlQuery<'a, Mysql, diesel::query_builder::SqlQuery> {
    for b in binds {
        query = match b.clone() {
            Bind::Int(i) => query.bind::<BigInt, _>(i),
            Bind::Float(f) => query.bind::<Double, _>(f),
            Bind::Bool(v) => query.bind::<Bool, _>(v),
            Bind::Text(s) => query.bind::<Text, _>(s),
            Bind::Null => query.bind::<Nullable<Text>, _>(None::<String>),
        };
    }
    query
}

#[derive(QueryableByName)]
struct JsonRow {
    #[diesel(sql_type = Nullable<Text>)]
    j: Option<String>,
}

#[derive(QueryableByName)]
struct CountRow {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// Runs a statement (INSERT/UPDATE/DELETE); returns affected rows.
pub fn execute(conn: &mut MysqlConnection, sql: &str, binds: &[Bind]) -> QueryResult<usize> {
    bind_all(diesel::sql_query(sql).into_boxed(), binds).execute(conn)
}

/// Runs `SELECT COUNT(*) AS n ...`.
pub fn count(conn: &mut MysqlConnection, sql: &str, binds: &[Bind]) -> QueryResult<i64> {
    let rows: Vec<CountRow> = bind_all(diesel::sql_query(sql).into_boxed(), binds).load(conn)?;
    Ok(rows.first().map(|r| r.n).unwrap_or(0))
}

/// The `JSON_OBJECT(...)` expression of every column of `table` (alias `t`).
pub fn json_object_expr(table: &TableMeta) -> String {
    let parts: Vec<String> = table
        .columns
        .iter()
        .map(|c| {
            let col = format!("t.{}", q(&c.name));
            let expr = match c.kind {
                SqlKind::DateTime => format!("DATE_FORMAT({col}, '%Y-%m-%dT%H:%i:%s')"),
                SqlKind::Date => format!("DATE_FORMAT({col}, '%Y-%m-%d')"),
                _ => col,
            };
            format!("'{}', {expr}", c.name)
        })
        .collect();
    format!("JSON_OBJECT({})", parts.join(", "))
}

/// Selects whole rows of `table` as JSON maps (typed per column), with `tail` after
/// `FROM table t` (WHERE / ORDER / LIMIT).
pub fn select_rows(
    conn: &mut MysqlConnection,
    table: &TableMeta,
    extra: &[(&str, String)],
    tail: &str,
    binds: &[Bind],
) -> QueryResult<Vec<Map<String, Value>>> {
    let mut expr = json_object_expr(table);
    if !extra.is_empty() {
        // extra computed keys, e.g. the row's repr
        expr.pop();
        for (k, e) in extra {
            expr.push_str(&format!(", '{k}', {e}"));
        }
        expr.push(')');
    }
    let sql = format!("SELECT {expr} AS j FROM {} t {tail}", q(&table.name));
    let rows: Vec<JsonRow> = bind_all(diesel::sql_query(sql).into_boxed(), binds).load(conn)?;
    Ok(rows
        .into_iter()
        .filter_map(|r| r.j)
        .filter_map(|j| match serde_json::from_str::<Value>(&j) {
            Ok(Value::Object(m)) => Some(fix_types(table, m)),
            _ => None,
        })
        .collect())
}

/// MySQL's JSON gives booleans as 0/1: turn them into JSON booleans.
fn fix_types(table: &TableMeta, mut row: Map<String, Value>) -> Map<String, Value> {
    for c in &table.columns {
        if c.kind == SqlKind::Bool
            && let Some(v) = row.get_mut(&c.name)
            && let Some(i) = v.as_i64()
        {
            *v = Value::Bool(i != 0);
        }
    }
    row
}

pub use app_models::queries::like_escape;

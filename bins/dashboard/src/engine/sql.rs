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

/// How many different read statements one process keeps prepared on each connection
/// (MariaDB's `max_prepared_stmt_count` is 16,382 for the whole server by default).
const MAX_CACHED_STATEMENTS: usize = 256;

/// Whether the statement `sql` may stay prepared on its connection: the first
/// [`MAX_CACHED_STATEMENTS`] different texts a process reads with may; others are
/// prepared, run and closed each time (user-built filters cannot grow the cache).
fn cacheable(sql: &str) -> bool {
    use std::collections::HashSet;
    use std::hash::{BuildHasher, RandomState};
    use std::sync::{LazyLock, Mutex};
    static KNOWN: LazyLock<(RandomState, Mutex<HashSet<u64>>)> =
        LazyLock::new(|| (RandomState::new(), Mutex::new(HashSet::new())));
    let h = KNOWN.0.hash_one(sql);
    let Ok(mut known) = KNOWN.1.lock() else {
        return false;
    };
    if known.contains(&h) {
        return true;
    }
    if known.len() < MAX_CACHED_STATEMENTS {
        known.insert(h);
        return true;
    }
    false
}

/// A read statement with bound values that the connection may keep prepared (diesel's
/// `sql_query` is prepared, run and closed every time: two round trips and a parse on
/// the server per query). Texts come from the engine; see [`cacheable`] for the bound.
struct Prepared<'a> {
    sql: &'a str,
    binds: &'a [Bind],
    cache: bool,
}

impl diesel::query_builder::QueryFragment<Mysql> for Prepared<'_> {
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, Mysql>,
    ) -> QueryResult<()> {
        if !self.cache {
            out.unsafe_to_cache_prepared();
        }
        // diesel writes each placeholder itself: the text goes in between
        let pieces = placeholder_split(self.sql);
        if pieces.len() != self.binds.len() + 1 {
            return Err(diesel::result::Error::QueryBuilderError(
                format!(
                    "{} placeholders for {} values",
                    pieces.len() - 1,
                    self.binds.len()
                )
                .into(),
            ));
        }
        out.push_sql(pieces[0]);
        for (b, piece) in self.binds.iter().zip(&pieces[1..]) {
            match b {
                Bind::Int(i) => out.push_bind_param::<BigInt, _>(i)?,
                Bind::Float(f) => out.push_bind_param::<Double, _>(f)?,
                Bind::Bool(v) => out.push_bind_param::<Bool, _>(v)?,
                Bind::Text(s) => out.push_bind_param::<Text, _>(s)?,
                Bind::Null => out.push_bind_param::<Nullable<Text>, _>(&None::<String>)?,
            }
            out.push_sql(piece);
        }
        Ok(())
    }
}

/// `sql` cut at each `?` placeholder (not inside a quoted string or identifier).
fn placeholder_split(sql: &str) -> Vec<&str> {
    let mut pieces = Vec::new();
    let mut quote: Option<u8> = None;
    let mut start = 0;
    let bytes = sql.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        match quote {
            Some(q) if c == b'\\' && q != b'`' => i += 1,
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == b'\'' || c == b'"' || c == b'`' => quote = Some(c),
            None if c == b'?' => {
                pieces.push(&sql[start..i]);
                start = i + 1;
            }
            None => {}
        }
        i += 1;
    }
    pieces.push(&sql[start..]);
    pieces
}

impl diesel::query_builder::QueryId for Prepared<'_> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl diesel::query_builder::Query for Prepared<'_> {
    type SqlType = diesel::sql_types::Untyped;
}

impl RunQueryDsl<MysqlConnection> for Prepared<'_> {}

fn read<'a>(sql: &'a str, binds: &'a [Bind]) -> Prepared<'a> {
    Prepared {
        sql,
        binds,
        cache: cacheable(sql),
    }
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
    let rows: Vec<CountRow> = read(sql, binds).load(conn)?;
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
    let rows: Vec<JsonRow> = read(&sql, binds).load(conn)?;
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

#[cfg(test)]
mod tests {
    use super::placeholder_split;

    #[test]
    fn placeholders_outside_quotes_only() {
        assert_eq!(
            placeholder_split("SELECT a FROM t WHERE x = ? AND y IN (?,?)"),
            vec!["SELECT a FROM t WHERE x = ", " AND y IN (", ",", ")"]
        );
        assert_eq!(
            placeholder_split("SELECT '?', `a?`, \"b?\", 'it\\'s ?' FROM t WHERE c = ?"),
            vec!["SELECT '?', `a?`, \"b?\", 'it\\'s ?' FROM t WHERE c = ", ""]
        );
        assert_eq!(placeholder_split("SELECT 1"), vec!["SELECT 1"]);
    }
}

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
    let mut out = String::with_capacity(ident.len() + 2);
    push_q(&mut out, ident);
    out
}

/// [`q`] written at the end of `out`.
pub fn push_q(out: &mut String, ident: &str) {
    out.push('`');
    out.extend(ident.chars().filter(|c| *c != '`'));
    out.push('`');
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
    /// The text cut at its placeholders (diesel walks a query several times per run).
    pieces: Vec<&'a str>,
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
        let pieces = &self.pieces;
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
        pieces: placeholder_split(sql),
        binds,
        cache: cacheable(sql),
    }
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

/// One row of a statement whose columns are known only at run time: each value decoded
/// by the type the server sent it with (the binary protocol), in select order.
pub struct DynRow(pub Vec<Value>);

impl diesel::deserialize::QueryableByName<Mysql> for DynRow {
    fn build<'a>(row: &impl diesel::row::NamedRow<'a, Mysql>) -> diesel::deserialize::Result<Self> {
        use diesel::row::{Field, Row};
        let n = row.field_count();
        let mut out = Vec::with_capacity(n);
        for i in 0..n {
            let field = Row::get(row, i).ok_or("a column went missing")?;
            out.push(match field.value() {
                None => Value::Null,
                Some(v) => decode(v)?,
            });
        }
        Ok(DynRow(out))
    }
}

/// A value as the engine shows it, decoded from its server type: integers, floats
/// (integral doubles as integers, as MariaDB's JSON prints them), `YYYY-MM-DDTHH:MM:SS`
/// date-times, `YYYY-MM-DD` dates, `HH:MM:SS` times, and text for everything else.
fn decode(v: diesel::mysql::MysqlValue<'_>) -> diesel::deserialize::Result<Value> {
    use diesel::deserialize::FromSql;
    use diesel::mysql::MysqlType as T;
    use diesel::mysql::data_types::MysqlTime;
    use diesel::sql_types::{Date, Datetime, Float, Time, Unsigned};
    Ok(match v.value_type() {
        T::Tiny
        | T::UnsignedTiny
        | T::Short
        | T::UnsignedShort
        | T::Long
        | T::UnsignedLong
        | T::LongLong => Value::from(<i64 as FromSql<BigInt, Mysql>>::from_sql(v)?),
        T::UnsignedLongLong => Value::from(<u64 as FromSql<Unsigned<BigInt>, Mysql>>::from_sql(v)?),
        // a FLOAT's shortest decimal form, as MariaDB prints it (0.1, not 0.100000001…)
        T::Float => float(
            <f32 as FromSql<Float, Mysql>>::from_sql(v)?
                .to_string()
                .parse()
                .unwrap_or(f64::NAN),
        ),
        T::Double => float(<f64 as FromSql<Double, Mysql>>::from_sql(v)?),
        T::Numeric => std::str::from_utf8(v.as_bytes())
            .ok()
            .and_then(|s| s.parse::<f64>().ok())
            .and_then(serde_json::Number::from_f64)
            .map_or(Value::Null, Value::Number),
        T::DateTime | T::Timestamp => {
            let t = <MysqlTime as FromSql<Datetime, Mysql>>::from_sql(v)?;
            Value::String(digits(&[
                (t.year, 4, '-'),
                (t.month, 2, '-'),
                (t.day, 2, 'T'),
                (t.hour, 2, ':'),
                (t.minute, 2, ':'),
                (t.second, 2, ' '),
            ]))
        }
        T::Date => {
            let t = <MysqlTime as FromSql<Date, Mysql>>::from_sql(v)?;
            Value::String(digits(&[
                (t.year, 4, '-'),
                (t.month, 2, '-'),
                (t.day, 2, ' '),
            ]))
        }
        T::Time => {
            let t = <MysqlTime as FromSql<Time, Mysql>>::from_sql(v)?;
            Value::String(digits(&[
                (t.hour, 2, ':'),
                (t.minute, 2, ':'),
                (t.second, 2, ' '),
            ]))
        }
        _ => Value::String(match std::str::from_utf8(v.as_bytes()) {
            Ok(s) => s.to_owned(),
            Err(_) => String::from_utf8_lossy(v.as_bytes()).into_owned(),
        }),
    })
}

/// Zero-padded numbers, each followed by its separator (the last one's is dropped):
/// `DATE_FORMAT`'s `%Y-%m-%dT%H:%i:%s` without the formatting machinery, which is
/// most of the cost of reading a row of dates.
fn digits(parts: &[(u32, usize, char)]) -> String {
    let mut out = String::with_capacity(parts.len() * 3 + 2);
    for (i, (n, width, sep)) in parts.iter().enumerate() {
        let mut buf = [b'0'; 10];
        let mut n = *n;
        let mut len = 0;
        while n > 0 && len < buf.len() {
            buf[len] = b'0' + (n % 10) as u8;
            n /= 10;
            len += 1;
        }
        for _ in len..*width {
            out.push('0');
        }
        out.extend(buf[..len].iter().rev().map(|d| char::from(*d)));
        if i + 1 < parts.len() {
            out.push(*sep);
        }
    }
    out
}

/// A double as MariaDB's JSON prints it: integral values (below 2^53) as integers.
fn float(f: f64) -> Value {
    if f.fract() == 0.0 && f.abs() < 9_007_199_254_740_992.0 {
        Value::from(f as i64)
    } else {
        serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)
    }
}

/// The select list of every column of `table` (alias `t`), in DDL order.
pub fn columns_expr(table: &TableMeta) -> &str {
    table.select_list.get_or_init(|| {
        table
            .columns
            .iter()
            .map(|c| format!("t.{}", q(&c.name)))
            .collect::<Vec<_>>()
            .join(", ")
    })
}

/// Selects whole rows of `table` as maps (typed per column, in DDL order), with `tail`
/// after `FROM table t` (WHERE / ORDER / LIMIT), and `extra` computed keys after them
/// (e.g. the row's repr).
pub fn select_rows(
    conn: &mut MysqlConnection,
    table: &TableMeta,
    extra: &[(&str, String)],
    tail: &str,
    binds: &[Bind],
) -> QueryResult<Vec<Map<String, Value>>> {
    // one buffer of the statement's size (`format!` grows it a few times)
    let columns = columns_expr(table);
    let extra_len: usize = extra.iter().map(|(k, e)| k.len() + e.len() + 8).sum();
    let mut sql =
        String::with_capacity(columns.len() + extra_len + table.name.len() + tail.len() + 20);
    sql.push_str("SELECT ");
    sql.push_str(columns);
    for (k, e) in extra {
        sql.push_str(", ");
        sql.push_str(e);
        sql.push_str(" AS ");
        push_q(&mut sql, k);
    }
    sql.push_str(" FROM ");
    push_q(&mut sql, &table.name);
    sql.push_str(" t ");
    sql.push_str(tail);
    let rows: Vec<DynRow> = read(&sql, binds).load(conn)?;
    Ok(rows
        .into_iter()
        .map(|r| typed_row(table, extra, r))
        .collect())
}

/// Selects the columns `cols` (indices into `table.columns`, in that order) of the rows of
/// `table` matched by `tail`, as positional rows typed as [`select_rows`] types them:
/// for rows that are written out and never looked up by key (see [`Object`]).
pub fn select_columns(
    conn: &mut MysqlConnection,
    table: &TableMeta,
    cols: &[usize],
    tail: &str,
    binds: &[Bind],
) -> QueryResult<Vec<DynRow>> {
    let mut sql = String::with_capacity(cols.len() * 24 + table.name.len() + tail.len() + 20);
    sql.push_str("SELECT ");
    for (n, i) in cols.iter().enumerate() {
        if n > 0 {
            sql.push_str(", ");
        }
        sql.push_str("t.");
        push_q(&mut sql, &table.columns[*i].name);
    }
    sql.push_str(" FROM ");
    push_q(&mut sql, &table.name);
    sql.push_str(" t ");
    sql.push_str(tail);
    let mut rows: Vec<DynRow> = read(&sql, binds).load(conn)?;
    for row in &mut rows {
        for (v, i) in row.0.iter_mut().zip(cols) {
            typed(table.columns[*i].kind, v);
        }
    }
    Ok(rows)
}

/// A positional row written as a JSON object: `names[i]` with `values[i]` (values past
/// the names are not written).
pub struct Object<'a> {
    pub names: &'a [&'a str],
    pub values: &'a [Value],
}

impl serde::Serialize for Object<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(self.names.len()))?;
        for (k, v) in self.names.iter().zip(self.values) {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

/// A value as its column's kind shows it: `TINYINT(1)` columns are booleans.
fn typed(kind: SqlKind, v: &mut Value) {
    if kind == SqlKind::Bool
        && let Value::Number(n) = v
    {
        *v = Value::Bool(n.as_i64() != Some(0));
    }
}

/// A decoded row as a map: the table's columns (booleans from `TINYINT(1)`), then `extra`.
fn typed_row(table: &TableMeta, extra: &[(&str, String)], row: DynRow) -> Map<String, Value> {
    let mut out = Map::with_capacity(row.0.len());
    let mut values = row.0.into_iter();
    for c in &table.columns {
        let mut v = values.next().unwrap_or(Value::Null);
        typed(c.kind, &mut v);
        out.insert(c.name.clone(), v);
    }
    for ((k, _), v) in extra.iter().zip(values) {
        out.insert((*k).to_string(), v);
    }
    out
}

pub use app_models::queries::like_escape;

#[cfg(test)]
mod tests {
    use super::{digits, placeholder_split};

    #[test]
    fn dates_print_as_date_format_does() {
        assert_eq!(
            digits(&[
                (2026, 4, '-'),
                (1, 2, '-'),
                (9, 2, 'T'),
                (0, 2, ':'),
                (5, 2, ':'),
                (59, 2, ' ')
            ]),
            "2026-01-09T00:05:59"
        );
        assert_eq!(
            digits(&[(0, 4, '-'), (0, 2, '-'), (0, 2, ' ')]),
            "0000-00-00"
        );
        assert_eq!(digits(&[(12345, 4, '-'), (12, 2, ' ')]), "12345-12");
        assert_eq!(
            digits(&[(838, 2, ':'), (59, 2, ':'), (59, 2, ' ')]),
            "838:59:59"
        );
    }

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

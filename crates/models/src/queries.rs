//! Typed queries shared by the binaries.

use diesel::mysql::MysqlConnection;
use diesel::prelude::*;

use crate::rows::*;
use crate::schema::*;

/// The user with that name, if any.
pub fn user_by_name(conn: &mut MysqlConnection, name: &str) -> QueryResult<Option<User>> {
    ab_user::table
        .filter(ab_user::username.eq(name))
        .select(User::as_select())
        .first(conn)
        .optional()
}

/// The role names of a user.
pub fn user_roles(conn: &mut MysqlConnection, user_id: i32) -> QueryResult<Vec<String>> {
    ab_user_role::table
        .inner_join(ab_role::table.on(ab_role::id.nullable().eq(ab_user_role::role_id)))
        .filter(ab_user_role::user_id.eq(user_id))
        .select(ab_role::name)
        .order(ab_role::id)
        .load(conn)
}

/// MySQL's `LAST_INSERT_ID()` for this connection.
pub fn last_insert_id(conn: &mut MysqlConnection) -> QueryResult<i32> {
    define_sql_function!(fn last_insert_id() -> diesel::sql_types::Unsigned<diesel::sql_types::Bigint>);
    let id: u64 = diesel::select(last_insert_id()).get_result(conn)?;
    Ok(id as i32)
}

/// Escapes `%`, `_` and `\` for a LIKE pattern.
pub fn like_escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

/// The LIKE pattern of the `workflow.labels` rows of a run id (labels are stored as
/// 4-space pretty JSON, so `"run-id": "<id>"` appears verbatim).
pub fn run_id_label_pattern(run_id: &str) -> String {
    format!("%\"run-id\": \"{}\"%", like_escape(run_id))
}

/// The tables whose ids come from a sequence `<table>_id_seq` rather than from the `id`
/// column itself. A database created by the original's migrations on MariaDB numbers the
/// `ab_*` tables this way (their ids have neither a default nor AUTO_INCREMENT); fresh
/// databases and the original on MySQL use AUTO_INCREMENT and have none. One query:
/// callers read it once (at start, or once per seed) and keep it.
pub fn id_sequence_tables(
    conn: &mut MysqlConnection,
) -> QueryResult<std::collections::BTreeSet<String>> {
    #[derive(QueryableByName)]
    struct T {
        #[diesel(sql_type = diesel::sql_types::Text)]
        t: String,
    }
    let rows: Vec<T> = diesel::sql_query(
        "SELECT c.table_name AS t FROM information_schema.columns c \
         JOIN information_schema.tables s ON s.table_schema = c.table_schema \
           AND s.table_name = CONCAT(c.table_name, '_id_seq') AND s.table_type = 'SEQUENCE' \
         WHERE c.table_schema = DATABASE() AND c.column_name = 'id' \
           AND c.extra NOT LIKE '%auto_increment%'",
    )
    .load(conn)?;
    Ok(rows.into_iter().map(|r| r.t).collect())
}

/// `NEXTVAL` of the id sequence of `table` (one of [`id_sequence_tables`]).
pub fn next_sequence_id(conn: &mut MysqlConnection, table: &str) -> QueryResult<i32> {
    #[derive(QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    if !table.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(diesel::result::Error::QueryBuilderError(
            format!("not a table name: {table}").into(),
        ));
    }
    let next: Vec<N> = diesel::sql_query(format!(
        "SELECT CAST(NEXTVAL(`{table}_id_seq`) AS SIGNED) AS n"
    ))
    .load(conn)?;
    next.first()
        .map(|n| n.n as i32)
        .ok_or(diesel::result::Error::NotFound)
}

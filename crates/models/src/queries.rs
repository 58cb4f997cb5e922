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

/// The next id of `table` from its sequence `<table>_id_seq`, when there is one and the
/// `id` column does not number rows itself. A database created by the original's
/// migrations on MariaDB takes the ids of the `ab_*` tables from such sequences (the
/// columns have neither a default nor AUTO_INCREMENT); fresh databases and the original
/// on MySQL use AUTO_INCREMENT, and get `None` here.
pub fn next_id_from_sequence(conn: &mut MysqlConnection, table: &str) -> QueryResult<Option<i32>> {
    #[derive(QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let seq = format!("{table}_id_seq");
    if !seq.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Ok(None);
    }
    let found: Vec<N> = diesel::sql_query(
        "SELECT COUNT(*) AS n FROM information_schema.tables s \
         WHERE s.table_schema = DATABASE() AND s.table_name = ? AND s.table_type = 'SEQUENCE' \
         AND NOT EXISTS (SELECT 1 FROM information_schema.columns c WHERE c.table_schema = DATABASE() \
           AND c.table_name = ? AND c.column_name = 'id' AND c.extra LIKE '%auto_increment%')",
    )
    .bind::<diesel::sql_types::Text, _>(&seq)
    .bind::<diesel::sql_types::Text, _>(table)
    .load(conn)?;
    if found.first().map(|n| n.n).unwrap_or(0) == 0 {
        return Ok(None);
    }
    let next: Vec<N> =
        diesel::sql_query(format!("SELECT CAST(NEXTVAL(`{seq}`) AS SIGNED) AS n")).load(conn)?;
    Ok(next.first().map(|n| n.n as i32))
}

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

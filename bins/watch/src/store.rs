//! The watcher's MySQL writes: the `workflow` and `run` rows (`app_core::workflow_store`,
//! shared with the dashboard), task usage samples, inference service owners.

pub use app_core::workflow_store::{Applied, PipelineRow, apply_workflow, apply_workflows};
use app_models::schema::task;
use diesel::mysql::MysqlConnection;
use diesel::prelude::*;
use diesel::sql_types::{Integer, Text};

/// The `monitoring` of a pipeline's task by name: `(task id, monitoring)`.
pub fn task_monitoring(
    conn: &mut MysqlConnection,
    pipeline_id: i32,
    name: &str,
) -> QueryResult<Option<(i32, Option<String>)>> {
    task::table
        .filter(task::pipeline_id.eq(pipeline_id))
        .filter(task::name.eq(name))
        .select((task::id, task::monitoring))
        .first(conn)
        .optional()
}

/// Stores a task's `monitoring`.
pub fn set_task_monitoring(
    conn: &mut MysqlConnection,
    task_id: i32,
    text: &str,
) -> QueryResult<usize> {
    diesel::update(task::table.find(task_id))
        .set(task::monitoring.eq(text))
        .execute(conn)
}

#[derive(QueryableByName)]
struct Owner {
    #[diesel(sql_type = diesel::sql_types::Nullable<Text>)]
    username: Option<String>,
    #[diesel(sql_type = Integer)]
    id: i32,
}

/// The inference service of that name and its creator: `Some((id, username))`.
pub fn inference_service_owner(
    conn: &mut MysqlConnection,
    name: &str,
) -> QueryResult<Option<(i32, String)>> {
    let rows: Vec<Owner> = diesel::sql_query(
        "SELECT s.id AS id, u.username AS username FROM inferenceservice s \
         LEFT JOIN ab_user u ON u.id = s.created_by_fk WHERE s.name = ? LIMIT 1",
    )
    .bind::<Text, _>(name)
    .load(conn)?;
    Ok(rows
        .into_iter()
        .next()
        .map(|o| (o.id, o.username.unwrap_or_default())))
}

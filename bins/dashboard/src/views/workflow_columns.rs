//! The workflow view's computed columns, as the original's `Workflow` model has them:
//! the project and duration of a run, its steps' durations, the link to its logs, and
//! its text columns in code blocks.

use diesel::mysql::MysqlConnection;
use serde_json::{Value, json};

use super::workflow::labels_of;
use crate::auth::Ctx;
use crate::engine::view::Row;
use crate::error::ApiError;

fn pipeline_id_of(row: &Row) -> Option<i64> {
    labels_of(row)
        .get("pipeline-id")
        .and_then(|v| v.as_str().and_then(|s| s.trim().parse().ok()))
}

/// The name of the project of the workflow's pipeline, `unknown` without one.
pub(super) fn project_name(
    conn: &mut MysqlConnection,
    _: &Ctx,
    rows: &mut [Row],
) -> Result<(), ApiError> {
    let ids: Vec<i64> = rows.iter().filter_map(pipeline_id_of).collect();
    let names = app_models::dashboard::pipeline_project_names(conn, &ids)?;
    for r in rows.iter_mut() {
        let name = pipeline_id_of(r)
            .and_then(|p| names.get(&p).cloned())
            .unwrap_or_else(|| "unknown".into());
        r.insert("project".into(), json!(name));
    }
    Ok(())
}

/// An Argo time (`2026-12-07T10:00:00Z` or `2026-12-07 10:00:00`).
fn argo_time(s: &str) -> Option<chrono::NaiveDateTime> {
    let s = s.trim_end_matches('Z').replacen('T', " ", 1);
    chrono::NaiveDateTime::parse_from_str(&s, "%Y-%m-%d %H:%M:%S").ok()
}

/// Hours between two Argo times as the original prints them (`1.25h`, `2.0h`).
fn hours_between(start: &str, finish: &str) -> Option<String> {
    let (s, f) = (argo_time(start)?, argo_time(finish)?);
    let hours = (f - s).num_seconds() as f64 / 3600.0;
    let rounded = (hours * 100.0).round() / 100.0;
    Some(if rounded.fract() == 0.0 {
        format!("{rounded:.1}h")
    } else {
        format!("{rounded}h")
    })
}

/// The run's duration in hours (`unknown` before it started).
pub(super) fn elapsed_time(
    _: &mut MysqlConnection,
    _: &Ctx,
    rows: &mut [Row],
) -> Result<(), ApiError> {
    for r in rows.iter_mut() {
        let more =
            app_core::json_text::object_or_empty(r.get("status_more").and_then(Value::as_str));
        let text = |v: Option<&Value>| v.and_then(Value::as_str).unwrap_or("").to_string();
        let change_time = text(r.get("change_time"));
        let mut finish = match more.get("finishedAt") {
            Some(v) => text(Some(v)),
            None => change_time.clone(),
        };
        if finish.is_empty() {
            let status = text(r.get("status")).to_lowercase();
            finish = if ["running", "pending", "suspended"].contains(&status.as_str()) {
                chrono::Local::now().format("%Y-%m-%d %H:%M:%S").to_string()
            } else {
                change_time
            };
        }
        let start = text(more.get("startedAt"));
        let elapsed = hours_between(&start, &finish).unwrap_or_else(|| "unknown".into());
        r.insert("elapsed_time".into(), json!(elapsed));
    }
    Ok(())
}

/// How long each succeeded step took, by the labels of the pipeline's tasks.
pub(super) fn task_status(
    conn: &mut MysqlConnection,
    _: &Ctx,
    rows: &mut [Row],
) -> Result<(), ApiError> {
    let ids: Vec<i64> = rows.iter().filter_map(pipeline_id_of).collect();
    let tasks = app_models::dashboard::pipeline_task_labels(conn, &ids)?;
    for r in rows.iter_mut() {
        let more =
            app_core::json_text::object_or_empty(r.get("status_more").and_then(Value::as_str));
        let steps = pipeline_id_of(r).and_then(|p| tasks.get(&p));
        let mut took: Vec<(String, String)> = Vec::new();
        if let (Some(Value::Object(nodes)), Some(steps)) = (more.get("nodes"), steps) {
            for node in nodes.values() {
                let field = |k: &str| node.get(k).and_then(Value::as_str).unwrap_or("");
                if field("type") != "Pod" || field("phase") != "Succeeded" {
                    continue;
                }
                for (_, label) in steps.iter().filter(|(n, _)| n == field("templateName")) {
                    if let Some(h) = hours_between(field("startedAt"), field("finishedAt")) {
                        match took.iter_mut().find(|(l, _)| l == label) {
                            Some(entry) => entry.1 = h,
                            None => took.push((label.clone(), h)),
                        }
                    }
                }
            }
        }
        let message: String = took.iter().map(|(l, h)| format!("{l}: {h}\n")).collect();
        r.insert(
            "task_status".into(),
            json!(format!("<pre><code>{message}</code></pre>")),
        );
    }
    Ok(())
}

/// The link to the run's pods and logs.
pub(super) fn log_link(_: &mut MysqlConnection, _: &Ctx, rows: &mut [Row]) -> Result<(), ApiError> {
    for r in rows.iter_mut() {
        let text = |k: &str| r.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        let url = format!(
            "/frontend/commonRelation?backurl=/workflow_modelview/api/web/dag/{}/{}/{}",
            text("cluster"),
            text("namespace"),
            text("name")
        );
        r.insert(
            "log".into(),
            json!(format!("<a target=_blank href=\"{url}\">日志</a>")),
        );
    }
    Ok(())
}

/// `<column>_html`: the column's text in a code block.
fn code_block(rows: &mut [Row], column: &str) {
    for r in rows.iter_mut() {
        let text = r
            .get(column)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        r.insert(
            format!("{column}_html"),
            json!(format!("<pre><code>{text}</code></pre>")),
        );
    }
}

pub(super) fn annotations_html(
    _: &mut MysqlConnection,
    _: &Ctx,
    rows: &mut [Row],
) -> Result<(), ApiError> {
    code_block(rows, "annotations");
    Ok(())
}

pub(super) fn labels_html(
    _: &mut MysqlConnection,
    _: &Ctx,
    rows: &mut [Row],
) -> Result<(), ApiError> {
    code_block(rows, "labels");
    Ok(())
}

pub(super) fn spec_html(
    _: &mut MysqlConnection,
    _: &Ctx,
    rows: &mut [Row],
) -> Result<(), ApiError> {
    code_block(rows, "spec");
    Ok(())
}

pub(super) fn status_more_html(
    _: &mut MysqlConnection,
    _: &Ctx,
    rows: &mut [Row],
) -> Result<(), ApiError> {
    code_block(rows, "status_more");
    Ok(())
}

pub(super) fn info_json_html(
    _: &mut MysqlConnection,
    _: &Ctx,
    rows: &mut [Row],
) -> Result<(), ApiError> {
    code_block(rows, "info_json");
    Ok(())
}

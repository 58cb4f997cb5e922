//! The `logs` rows of write requests (kept also for failed ones, as the original).

use std::time::Instant;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse};
use serde_json::{Value, json};

use crate::auth::Ctx;
use crate::engine::query::merge_args;
use crate::error::ApiError;

use super::*;

/// Writes a row to `logs` (even when the request failed, as the original).
pub async fn log_event(
    state: &Data,
    ctx: &Ctx,
    req: &HttpRequest,
    action: &str,
    body: &[u8],
    status: u16,
    started: Instant,
) {
    let mut payload = json!({});
    if let Ok(Value::Object(args)) = merge_args(req.query_string(), &[]).map(Value::Object) {
        payload = Value::Object(args);
    }
    if let Ok(Value::Object(b)) = serde_json::from_slice::<Value>(body)
        && let Value::Object(p) = &mut payload
    {
        for (k, v) in b {
            if k != "password" {
                p.insert(k, v);
            }
        }
    }
    let json_text: String = serde_json::to_string(&payload)
        .unwrap_or_default()
        .chars()
        .take(60_000)
        .collect();
    let log = app_models::forms::NewLog {
        user_id: Some(ctx.user_id),
        action: Some(action.chars().take(512).collect()),
        method: Some(req.method().to_string()),
        path: Some(req.path().chars().take(200).collect()),
        status: Some(status as i32),
        json: Some(json_text),
        dttm: Some(app_models::forms::now()),
        duration_ms: Some(started.elapsed().as_millis().min(i32::MAX as u128) as i32),
        referrer: req
            .headers()
            .get(header::REFERER)
            .and_then(|r| r.to_str().ok())
            .map(|r| r.chars().take(1024).collect()),
    };
    let r = blocking(state, move |_, conn| {
        use diesel::RunQueryDsl;
        diesel::insert_into(app_models::schema::logs::table)
            .values(log)
            .execute(conn)?;
        Ok(())
    })
    .await;
    if let Err(e) = r {
        tracing::warn!(error = %e, "cannot write the logs row");
        state.metrics.inc(
            "dashboard_failed_writes_total",
            "Database writes that failed and were given up (not the answer's own write)",
            &[("what", "logs")],
        );
    }
}

/// Runs a write handler's `work` and records it in `logs` with the answer's status and
/// the time it took (also when it failed, as the original).
pub(crate) async fn logged(
    state: &Data,
    ctx: &Ctx,
    req: &HttpRequest,
    action: &str,
    body: &[u8],
    work: impl std::future::Future<Output = Result<HttpResponse, ApiError>>,
) -> HttpResponse {
    let started = Instant::now();
    let resp = match work.await {
        Ok(r) => r,
        Err(e) => actix_web::ResponseError::error_response(&e),
    };
    log_event(
        state,
        ctx,
        req,
        action,
        body,
        resp.status().as_u16(),
        started,
    )
    .await;
    resp
}

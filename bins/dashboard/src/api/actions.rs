//! Row actions (`action/<name>/<id>`, `multi_action/<name>`).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use diesel::Connection;
use diesel::mysql::MysqlConnection;
use serde_json::{Value, json};

use crate::auth::Ctx;
use crate::engine::resolve::Resolved;
use crate::engine::view::{ActionDef, ModelView, Row, Verb};
use crate::error::ApiError;
use crate::reply::envelope;
use crate::state::AppState;

use super::*;

/// The original's `muldelete` action (`_info.action.muldelete`): each selected row the
/// caller may delete goes as the generic delete removes it (permission and delete hooks,
/// favourites), the others are reported; the cluster work of the deleted rows
/// ([`ViewHooks::delete_effects`]) is queued before. A view without `can_delete` refuses
/// it with 403, as its delete.
///
/// [`ViewHooks::delete_effects`]: crate::engine::view::ViewHooks::delete_effects
pub fn muldelete() -> ActionDef {
    ActionDef {
        name: "muldelete",
        text: "删除",
        confirmation: "确定删除所选记录?",
        icon: "fa-trash",
        multiple: true,
        single: false,
        run: muldelete_rows,
        effects: Some(muldelete_effects),
    }
}

fn muldelete_effects(
    conn: &mut MysqlConnection,
    ctx: &Ctx,
    view: &ModelView,
    rows: &[Row],
) -> Result<crate::queue::Effects, ApiError> {
    let mut out = Vec::new();
    if !view.hooks.has_delete_effects() || !view.permits(ctx, "can_delete") {
        return Ok(out);
    }
    for r in rows {
        if view.access.get(Verb::Delete).allows(conn, ctx, r)? {
            out.extend(view.hooks.delete_effects(conn, ctx, r)?);
        }
    }
    Ok(out)
}

fn muldelete_rows(
    conn: &mut MysqlConnection,
    ctx: &Ctx,
    rv: &Resolved<'_>,
    rows: &[Row],
) -> Result<String, ApiError> {
    if !rv.view.permits(ctx, "can_delete") {
        return Err(ApiError::forbidden("no permission to delete"));
    }
    let mut ok = Vec::new();
    let mut fail = Vec::new();
    for r in rows {
        let id = crate::engine::view::id_of(r.get("id")).unwrap_or(0);
        if rv.view.access.get(Verb::Delete).allows(conn, ctx, r)? {
            super::delete_visible(conn, rv, ctx, r)?;
            ok.push(json!(id));
        } else {
            fail.push(json!(id));
        }
    }
    Ok(json!({"success": ok, "fail": fail}).to_string())
}

/// The cluster work action `name` on rows `ids` leaves (read-only, no transaction).
pub(super) fn action_effects(
    st: &AppState,
    conn: &mut MysqlConnection,
    idx: usize,
    ctx: &Ctx,
    name: &str,
    ids: &[i64],
) -> Result<crate::queue::Effects, ApiError> {
    let view = &st.views[idx];
    let Some(effects) = view.action(name).and_then(|a| a.effects) else {
        return Ok(Vec::new());
    };
    let rv = Resolved::new(view, &st.schema, &st.models)?;
    let rows = visible_rows(conn, &rv, ctx, ids)?;
    effects(conn, ctx, view, &rows)
}

/// The rows of `ids` the caller can see (unknown and hidden ones left out).
pub(super) fn visible_rows(
    conn: &mut MysqlConnection,
    rv: &Resolved<'_>,
    ctx: &Ctx,
    ids: &[i64],
) -> Result<Vec<Row>, ApiError> {
    let mut rows = Vec::new();
    for id in ids {
        if let Some(r) = load_visible(conn, rv, ctx, *id)? {
            rows.push(r);
        }
    }
    Ok(rows)
}

/// Runs action `name` on rows `ids`: its cluster work is queued first (503 with nothing
/// written when the queue cannot be reached), then its transaction.
pub(super) async fn perform_action(
    state: &Data,
    idx: usize,
    ctx: &Ctx,
    name: &str,
    ids: Vec<i64>,
) -> Result<String, ApiError> {
    if state.views[idx]
        .action(name)
        .is_some_and(|a| a.effects.is_some())
    {
        let (c, n, i) = (ctx.clone(), name.to_string(), ids.clone());
        let effects = blocking(state, move |st, conn| {
            action_effects(st, conn, idx, &c, &n, &i)
        })
        .await?;
        state.queue.push(effects).await?;
    }
    let (c, n) = (ctx.clone(), name.to_string());
    blocking(state, move |st, conn| {
        run_action(st, conn, idx, &c, &n, &ids)
    })
    .await
}

pub(super) fn run_action(
    st: &AppState,
    conn: &mut MysqlConnection,
    idx: usize,
    ctx: &Ctx,
    name: &str,
    ids: &[i64],
) -> Result<String, ApiError> {
    let view = &st.views[idx];
    let action = view
        .action(name)
        .ok_or_else(|| ApiError::bad_request(format!("unknown action {name}")))?;
    let rv = Resolved::new(view, &st.schema, &st.models)?;
    conn.transaction(|conn| {
        let rows = visible_rows(conn, &rv, ctx, ids)?;
        if rows.is_empty() {
            return Err(ApiError::not_found());
        }
        (action.run)(conn, ctx, &rv, &rows)
    })
}

pub(super) async fn single_action(
    state: Data,
    idx: usize,
    ctx: Ctx,
    req: HttpRequest,
    (name, pk): (String, String),
) -> HttpResponse {
    let c2 = ctx.clone();
    let work = async {
        let id: i64 = pk.parse().map_err(|_| ApiError::not_found())?;
        let message = perform_action(&state, idx, &c2, &name, vec![id]).await?;
        state.after_write(idx);
        Ok(envelope(StatusCode::OK, json!({}), 0, &message, &[]))
    };
    logged(
        &state,
        &ctx,
        &req,
        &format!("{}.action.{name}", state.views[idx].api_name),
        &[],
        work,
    )
    .await
}

pub(super) async fn multi_action(
    state: Data,
    idx: usize,
    ctx: Ctx,
    req: HttpRequest,
    name: String,
    body: web::Bytes,
) -> HttpResponse {
    let c2 = ctx.clone();
    let work = async {
        let parsed = json_body(&body)?;
        let ids: Vec<i64> = match parsed.get("ids") {
            Some(Value::Array(a)) => a
                .iter()
                .map(|v| {
                    v.as_i64()
                        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
                        .ok_or_else(|| ApiError::bad_request("ids must be integers"))
                })
                .collect::<Result<_, _>>()?,
            _ => return Err(ApiError::bad_request("body must be {\"ids\": [...]}")),
        };
        if ids.len() > 10_000 {
            return Err(ApiError::bad_request("too many ids"));
        }
        let message = perform_action(&state, idx, &c2, &name, ids).await?;
        state.after_write(idx);
        Ok(envelope(StatusCode::OK, json!({}), 0, &message, &[]))
    };
    logged(
        &state,
        &ctx,
        &req,
        &format!("{}.multi_action.{name}", state.views[idx].api_name),
        &body,
        work,
    )
    .await
}

//! `_info`, list and show: reading through a view.

use actix_web::{HttpRequest, HttpResponse, web};
use diesel::mysql::MysqlConnection;
use serde_json::{Map, Value};

use crate::auth::Ctx;
use crate::engine::dump::{PageRows, RelMode, enrich, project};
use crate::engine::info::{apply_exist_add_args, build_info};
use crate::engine::query::merge_args;
use crate::engine::resolve::Resolved;
use crate::engine::view::{ModelView, Row, Verb};
use crate::error::ApiError;
use crate::reply::ok;
use crate::state::AppState;

use super::*;
use crate::engine::plan::ListPlan;

pub(super) async fn info(
    state: Data,
    idx: usize,
    ctx: Ctx,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let args = merge_args(req.query_string(), &[])?;
    let payload = blocking(&state, move |st, conn| {
        let view = &st.views[idx];
        let rv = Resolved::new(view, &st.schema, &st.models)?;
        let related: Vec<&ModelView> = view
            .related_views
            .iter()
            .filter_map(|rb| st.views.iter().find(|v| v.id == *rb))
            .collect();
        let mut data = None;
        if let Some(id) = args.get("id").and_then(|v| {
            v.as_i64()
                .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        }) {
            let item = load_visible(conn, &rv, &ctx, id)?.ok_or_else(ApiError::not_found)?;
            view.access.check(conn, &ctx, Verb::Edit, &item)?;
            let keys = rv.show_columns();
            let mut rows = vec![item];
            enrich(conn, &rv, &ctx, &mut rows, &keys, RelMode::Nested)?;
            data = Some(Value::Object(project(&rv, &rows[0], &keys)));
        }
        let mut info = build_info(conn, &rv, &ctx, &related, data)?;
        if let Some(Value::String(s)) = args.get("exist_add_args")
            && let Ok(Value::Object(exist)) = serde_json::from_str::<Value>(s)
        {
            apply_exist_add_args(&mut info, &exist);
        }
        Ok(Value::Object(info))
    })
    .await?;
    Ok(HttpResponse::Ok()
        .insert_header(("api_flashes", "[]"))
        .json(payload))
}

/// Lists rows: the shared body of `GET /` and of other list-shaped endpoints.
pub fn list_rows(
    st: &AppState,
    conn: &mut MysqlConnection,
    idx: usize,
    ctx: &Ctx,
    args: &Map<String, Value>,
) -> Result<(Vec<Row>, i64), ApiError> {
    let rv = Resolved::new(&st.views[idx], &st.schema, &st.models)?;
    ListPlan::new(&rv, ctx, args)?.run(conn, &rv, ctx)
}

pub(super) async fn list(
    state: Data,
    idx: usize,
    ctx: Ctx,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    forbid_unless(&state.views[idx], &ctx, "can_list", "list")?;
    let args = merge_args(req.query_string(), &body)?;
    let mut page = blocking(&state, move |st, conn| {
        let rv = Resolved::new(&st.views[idx], &st.schema, &st.models)?;
        ListPlan::new(&rv, &ctx, &args)?.run_page(conn, &rv, &ctx)
    })
    .await?;
    state.views[idx].hooks.post_list(&mut page.rows);
    #[derive(serde::Serialize)]
    struct Out<'a> {
        data: PageRows<'a>,
        count: i64,
    }
    Ok(crate::reply::ok_of(&Out {
        data: PageRows {
            rows: &page.rows,
            shared: &page.shared,
        },
        count: page.total,
    }))
}

pub(super) async fn show(
    state: Data,
    idx: usize,
    ctx: Ctx,
    req: HttpRequest,
    id: i64,
) -> Result<HttpResponse, ApiError> {
    forbid_unless(&state.views[idx], &ctx, "can_show", "show")?;
    let args = merge_args(req.query_string(), &[])?;
    let str_related = matches!(args.get("str_related"), Some(Value::Number(n)) if n.as_i64() == Some(1))
        || matches!(args.get("str_related"), Some(Value::Bool(true)));
    let row = blocking(&state, move |st, conn| {
        let rv = Resolved::new(&st.views[idx], &st.schema, &st.models)?;
        let item = load_visible(conn, &rv, &ctx, id)?.ok_or_else(ApiError::not_found)?;
        let keys = rv.show_columns();
        let mut rows = vec![item];
        enrich(
            conn,
            &rv,
            &ctx,
            &mut rows,
            &keys,
            if str_related {
                RelMode::Str
            } else {
                RelMode::Nested
            },
        )?;
        let mut row = project(&rv, &rows[0], &keys);
        if let Some(e) = &rv.view.expand {
            e.show_into(&mut row);
        }
        rv.view.hooks.post_show(&mut row);
        Ok(row)
    })
    .await?;
    Ok(ok(Value::Object(row)))
}

//! The routes of a form view ([`FormView`], api.md §1.9): `_info`, the list (order,
//! page, filters applied to the rows its [`FormSource`] returns), `echart`, and actions
//! on row keys. Any logged-in user reaches them (as the original); what each caller
//! sees and may act on is the source's to decide.

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use futures::future::BoxFuture;
use serde_json::{Value, json};

use super::{Data, json_body, logged};
use crate::auth::Ctx;
use crate::engine::form::{FormListQuery, FormView};
use crate::engine::query::merge_args;
use crate::engine::view::Row;
use crate::error::ApiError;
use crate::reply::envelope;
use crate::routing::{Answer, Routes};
use crate::state::AppState;

/// Where a form view's rows, chart and actions come from. `host` is the request's host
/// (links in rows point at the cluster's host, else at it).
pub trait FormSource: Send + Sync {
    /// Every row the caller may see, in the view's default order.
    fn rows<'a>(
        &'a self,
        state: &'a web::Data<AppState>,
        ctx: &'a Ctx,
        host: &'a str,
    ) -> BoxFuture<'a, Result<Vec<Row>, ApiError>>;

    /// The chart option of `echart`: a JavaScript object literal the front end evaluates.
    fn echart<'a>(
        &'a self,
        state: &'a web::Data<AppState>,
        ctx: &'a Ctx,
    ) -> BoxFuture<'a, Result<String, ApiError>>;

    /// Runs action `name` (declared by the view) on the rows of keys `ids`; the message.
    fn action<'a>(
        &'a self,
        state: &'a web::Data<AppState>,
        ctx: &'a Ctx,
        name: &'a str,
        ids: Vec<String>,
    ) -> BoxFuture<'a, Result<String, ApiError>>;
}

/// Registers the routes of a form view under its route base.
pub fn configure_form_view(r: &mut Routes<'_>, view: Arc<FormView>, source: Arc<dyn FormSource>) {
    let base = format!("/{}", view.route_base().trim_matches('/'));
    r.tag(&base);
    r.scope(&base, |r| {
        r.redirect_to_slash("");
        let v = view.clone();
        r.add(
            "GET",
            "/_info",
            "Columns, titles and actions of the page",
            Answer::Json(json!({"type": "object"})),
            move || {
                let v = v.clone();
                async move { crate::reply::bare_json(&v.info()) }
            },
        );
        let (v, s) = (view.clone(), source.clone());
        r.add(
            "GET",
            "/",
            "The rows the caller may see, filtered, ordered and paged",
            Answer::Envelope(json!({"type": "object", "properties": {
                "data": {"type": "array", "items": {"type": "object"}},
                "count": {"type": "integer"}}})),
            move |st: Data, c: Ctx, req: HttpRequest, body: web::Bytes| {
                list(st, v.clone(), s.clone(), c, req, body)
            },
        )
        .query = vec![(
            "form_data",
            "JSON: order_column, order_direction, page, page_size, filters [{col, opr: eq|ct, value}]",
        )];
        let (v, s) = (view.clone(), source.clone());
        r.add(
            "GET",
            "/echart",
            "The chart of the page (a JavaScript object literal in `result`)",
            Answer::Envelope(json!({"type": "string"})),
            move |st: Data, c: Ctx| echart(st, v.clone(), s.clone(), c),
        );
        let (v, s) = (view.clone(), source.clone());
        r.add(
            "GET",
            "/action/{name}/{pk}",
            "Run an action on one row (its key)",
            Answer::Envelope(json!({})),
            move |st: Data, c: Ctx, req: HttpRequest, p: web::Path<(String, String)>| {
                let (name, pk) = p.into_inner();
                act(st, v.clone(), s.clone(), c, req, name, Ok(vec![pk]), web::Bytes::new())
            },
        );
        let (v, s) = (view.clone(), source.clone());
        r.add(
            "POST",
            "/multi_action/{name}",
            "Run an action on many rows (their keys)",
            Answer::Envelope(json!({})),
            move |st: Data, c: Ctx, req: HttpRequest, p: web::Path<String>, body: web::Bytes| {
                let ids = keys(&body);
                act(st, v.clone(), s.clone(), c, req, p.into_inner(), ids, body)
            },
        )
        .body = Some(
            json!({"type": "object", "required": ["ids"], "properties": {"ids": {"type": "array", "items": {"type": "string"}}}}),
        );
        r.add(
            "*",
            "/{pk}",
            "Anything else: 404 (a form view has no show, add, edit or delete)",
            Answer::Other("404"),
            || async { Err::<HttpResponse, _>(ApiError::not_found()) },
        );
    });
}

async fn list(
    state: Data,
    view: Arc<FormView>,
    source: Arc<dyn FormSource>,
    ctx: Ctx,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let args = merge_args(req.query_string(), &body)?;
    let query = FormListQuery::parse(&view, &args)?;
    let host = req.connection_info().host().to_string();
    let rows = source.rows(&state, &ctx, &host).await?;
    let (count, data) = query.apply(&view, rows);
    Ok(original_envelope(json!({"data": data, "count": count})))
}

/// The envelope as the original's form views write it (`jsonify` of a dict in this
/// order, `application/json` without a charset, no `api_flashes`).
fn original_envelope(result: Value) -> HttpResponse {
    crate::reply::bare_json(&json!({"message": "success", "status": 0, "result": result}))
}

async fn echart(
    state: Data,
    view: Arc<FormView>,
    source: Arc<dyn FormSource>,
    ctx: Ctx,
) -> Result<HttpResponse, ApiError> {
    if !view.echart {
        // the original's answer for a view without a chart
        return Ok(crate::reply::bare_json(&json!({})));
    }
    let option = source.echart(&state, &ctx).await?;
    Ok(original_envelope(Value::String(option)))
}

/// The `ids` of a multi-action body: strings (numbers are taken as their text).
fn keys(body: &[u8]) -> Result<Vec<String>, ApiError> {
    let parsed = json_body(body)?;
    let Some(Value::Array(list)) = parsed.get("ids") else {
        return Err(ApiError::bad_request("body must be {\"ids\": [...]}"));
    };
    if list.len() > 10_000 {
        return Err(ApiError::bad_request("too many ids"));
    }
    list.iter()
        .map(|v| match v {
            Value::String(s) => Ok(s.clone()),
            Value::Number(n) => Ok(n.to_string()),
            _ => Err(ApiError::bad_request("ids must be strings")),
        })
        .collect()
}

#[allow(clippy::too_many_arguments)]
async fn act(
    state: Data,
    view: Arc<FormView>,
    source: Arc<dyn FormSource>,
    ctx: Ctx,
    req: HttpRequest,
    name: String,
    ids: Result<Vec<String>, ApiError>,
    body: web::Bytes,
) -> HttpResponse {
    let work = async {
        if view.action(&name).is_none() {
            return Err(ApiError::bad_request(format!("unknown action {name}")));
        }
        let message = source.action(&state, &ctx, &name, ids?).await?;
        Ok(envelope(StatusCode::OK, json!({}), 0, &message, &[]))
    };
    logged(
        &state,
        &ctx,
        &req,
        &format!("{}.multi_action.{name}", view.api_name),
        &body,
        work,
    )
    .await
}

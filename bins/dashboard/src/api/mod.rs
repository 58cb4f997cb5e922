//! The generic routes of every model view (api.md §1), from its declaration.

use std::time::Instant;

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use diesel::Connection;
use diesel::mysql::MysqlConnection;
use serde_json::{Map, Value, json};

use super::dump::{RelMode, enrich, project, to_json};
use super::info::{apply_exist_add_args, build_info};
use super::query::{filter_sql, merge_args, order_sql, parse_list_request};
use super::resolve::{ColumnRef, Resolved};
use super::response::{ApiError, envelope, ok};
use super::sql::{Bind, SqlFrag, count, execute, select_rows};
use super::view::{ModelView, Row};
use super::write::{
    Changes, check_required, complete_for_insert, insert_row, merge_expand, strip_strings,
    to_changes, update_row, write_links,
};
use crate::app::AppState;
use crate::auth::Ctx;
use crate::routing::{Answer, Routes};

type Data = web::Data<AppState>;

/// Registers every generic route of view number `idx` under its route base (api.md §1).
pub fn configure_view(r: &mut Routes<'_>, idx: usize, view: &ModelView) {
    use crate::openapi::schemas as sch;
    let base = format!("/{}", view.route_base.trim_matches('/'));
    let row = json!({"$ref": format!("#/components/schemas/{}", sch::row_name(view))});
    r.tag(&base);
    r.scope(&base, |r| view_routes(r, idx, row));
}

/// The generic routes of view `idx`, relative to its route base.
fn view_routes(r: &mut Routes<'_>, idx: usize, row: Value) {
    use crate::openapi::schemas as sch;
    let page = json!({"type": "object", "properties": {
        "data": {"type": "array", "items": row},
        "count": {"type": "integer"}
    }});
    r.redirect_to_slash("");
    r.add(
        "GET",
        "/_info",
        "Fields, filters, actions and permissions of the view (for the caller)",
        Answer::Envelope(json!({"type": "object"})),
        move |s: Data, c: Ctx, r: HttpRequest| info(s, idx, c, r),
    );
    r.add(
        "GET",
        "/",
        "List with filters, paging and ordering",
        Answer::Envelope(page),
        move |s: Data, c: Ctx, r: HttpRequest, b: web::Bytes| list(s, idx, c, r, b),
    )
    .query = vec![("form_data", sch::FORM_DATA)];
    r.add(
        "POST",
        "/",
        "Create a row",
        Answer::Envelope(row.clone()),
        move |s: Data, c: Ctx, r: HttpRequest, b: web::Bytes| add(s, idx, c, r, b),
    )
    .body = Some(row.clone());
    r.add(
        "GET",
        "/{pk:\\d+}",
        "Show a row",
        Answer::Envelope(row.clone()),
        move |s: Data, c: Ctx, r: HttpRequest, p: web::Path<i64>| {
            show(s, idx, c, r, p.into_inner())
        },
    );
    r.add(
        "PUT",
        "/{pk:\\d+}",
        "Update a row (only the fields sent)",
        Answer::Envelope(row.clone()),
        move |s: Data, c: Ctx, r: HttpRequest, p: web::Path<i64>, b: web::Bytes| {
            edit(s, idx, c, r, p.into_inner(), b)
        },
    )
    .body = Some(row.clone());
    r.add(
        "DELETE",
        "/{pk:\\d+}",
        "Delete a row (its cluster work goes to the worker first)",
        Answer::Envelope(row),
        move |s: Data, c: Ctx, r: HttpRequest, p: web::Path<i64>| {
            delete(s, idx, c, r, p.into_inner())
        },
    );
    r.add(
        "GET",
        "/action/{name}/{pk}",
        "Run an action on one row",
        Answer::Envelope(json!({})),
        move |s: Data, c: Ctx, r: HttpRequest, p: web::Path<(String, String)>| {
            single_action(s, idx, c, r, p.into_inner())
        },
    );
    r.add(
        "POST",
        "/multi_action/{name}",
        "Run an action on many rows",
        Answer::Envelope(json!({})),
        move |s: Data, c: Ctx, r: HttpRequest, p: web::Path<String>, b: web::Bytes| {
            multi_action(s, idx, c, r, p.into_inner(), b)
        },
    )
    .body = Some(
        json!({"type": "object", "required": ["ids"], "properties": {"ids": {"type": "array", "items": {"type": "integer"}}}}),
    );
    r.add(
        "POST",
        "/favorite/{pk}",
        "Mark a row as a favourite",
        Answer::Envelope(json!({})),
        move |s: Data, c: Ctx, p: web::Path<String>| favorite(s, idx, c, p.into_inner(), true),
    );
    r.add(
        "DELETE",
        "/favorite/{pk}",
        "Unmark a favourite",
        Answer::Envelope(json!({})),
        move |s: Data, c: Ctx, p: web::Path<String>| favorite(s, idx, c, p.into_inner(), false),
    );
    r.redirect_to_slash("/download_template");
    r.add(
        "GET",
        "/download_template/",
        "A CSV template of the add columns",
        Answer::Other("text/csv"),
        move |s: Data| download_template(s, idx),
    );
    r.redirect_to_slash("/download");
    r.add(
        "GET",
        "/download/",
        "The rows as CSV",
        Answer::Other("text/csv"),
        move |s: Data, c: Ctx, r: HttpRequest| download(s, idx, c, r),
    )
    .query = vec![("form_data", sch::FORM_DATA)];
    r.add(
        "POST",
        "/upload/",
        "Create rows from a CSV file (multipart field csv_file)",
        Answer::Envelope(json!({"type": "array"})),
        move |s: Data, c: Ctx, r: HttpRequest, p: actix_multipart::Multipart| {
            upload(s, idx, c, r, p)
        },
    );
    // last: it matches any single segment (`download`, `upload`… included)
    r.add(
        "*",
        "/{pk}",
        "Any other id: 404",
        Answer::Other("404"),
        || async { Err::<HttpResponse, _>(ApiError::not_found()) },
    );
}

/// Flask's strict slashes: `…/api` → 308 `…/api/`.
pub fn redirect_slash(req: &HttpRequest) -> HttpResponse {
    let mut to = format!("{}/", req.path());
    if !req.query_string().is_empty() {
        to.push('?');
        to.push_str(req.query_string());
    }
    HttpResponse::PermanentRedirect()
        .insert_header((header::LOCATION, to))
        .finish()
}

fn forbid_unless(view: &ModelView, ctx: &Ctx, perm: &str, what: &str) -> Result<(), ApiError> {
    if view.permits(ctx, perm) {
        Ok(())
    } else {
        Err(ApiError::forbidden(format!("no permission to {what}")))
    }
}

fn json_body(body: &[u8]) -> Result<Row, ApiError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(ApiError::bad_request(
            "Request is not JSON: expected a JSON object",
        )),
        Err(_) => Err(ApiError::bad_request("Request is not JSON")),
    }
}

/// The WHERE of a view for a caller: its base filter.
pub fn base_where(rv: &Resolved<'_>, ctx: &Ctx) -> SqlFrag {
    SqlFrag::and(rv.view.hooks.base_filter(ctx).into_iter().collect())
}

/// Loads one row through the view's base filter.
pub fn load_visible(
    conn: &mut MysqlConnection,
    rv: &Resolved<'_>,
    ctx: &Ctx,
    id: i64,
) -> Result<Option<Row>, ApiError> {
    let w = SqlFrag::and(vec![
        base_where(rv, ctx),
        SqlFrag::new("t.`id` = ?", vec![Bind::Int(id)]),
    ]);
    Ok(select_rows(
        conn,
        rv.table,
        &[],
        &format!("WHERE {} LIMIT 1", w.sql),
        &w.binds,
    )?
    .into_iter()
    .next())
}

/// Runs blocking work with the state and a connection.
pub async fn blocking<T, F>(state: &Data, f: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce(&AppState, &mut MysqlConnection) -> Result<T, ApiError> + Send + 'static,
{
    let st = state.clone();
    web::block(move || {
        let mut conn = st.pool.get().map_err(app_models::DbError::from)?;
        f(&st, &mut conn)
    })
    .await?
}

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
async fn logged(
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

async fn info(
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
            .filter_map(|rb| st.views.iter().find(|v| v.route_base == *rb))
            .collect();
        let mut data = None;
        if let Some(id) = args.get("id").and_then(|v| {
            v.as_i64()
                .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        }) {
            let item = load_visible(conn, &rv, &ctx, id)?.ok_or_else(ApiError::not_found)?;
            if !view.hooks.check_edit_permission(conn, &ctx, &item)? {
                return Err(ApiError::no_permission("edit"));
            }
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
    let view = &st.views[idx];
    let rv = Resolved::new(view, &st.schema, &st.models)?;
    let lr = parse_list_request(&rv, args)?;
    let mut parts = vec![base_where(&rv, ctx)];
    if lr.only_favorite {
        parts.push(SqlFrag::new(
            "t.`id` IN (SELECT CAST(f.`row_id` AS SIGNED) FROM `favorite` f WHERE f.`model_name` = ? AND f.`user_id` = ?)",
            vec![Bind::Text(view.table.to_string()), Bind::Int(ctx.user_id as i64)],
        ));
    } else {
        for (col, opr, value) in &lr.filters {
            parts.push(filter_sql(&rv, col, opr, value)?);
        }
    }
    let w = SqlFrag::and(parts);
    let total = count(
        conn,
        &format!(
            "SELECT COUNT(*) AS n FROM `{}` t WHERE {}",
            view.table, w.sql
        ),
        &w.binds,
    )?;
    let offset = lr.page.saturating_mul(lr.page_size);
    let mut binds = w.binds.clone();
    binds.push(Bind::Int(lr.page_size));
    binds.push(Bind::Int(offset));
    let tail = format!(
        "WHERE {}{} LIMIT ? OFFSET ?",
        w.sql,
        order_sql(&rv, &lr.order)
    );
    let mut rows = select_rows(conn, rv.table, &[], &tail, &binds)?;
    let keys = lr.columns.clone().unwrap_or_else(|| rv.list_columns());
    enrich(
        conn,
        &rv,
        ctx,
        &mut rows,
        &keys,
        if lr.str_related {
            RelMode::Str
        } else {
            RelMode::Nested
        },
    )?;
    Ok((rows.iter().map(|r| project(&rv, r, &keys)).collect(), total))
}

async fn list(
    state: Data,
    idx: usize,
    ctx: Ctx,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    forbid_unless(&state.views[idx], &ctx, "can_list", "list")?;
    let args = merge_args(req.query_string(), &body)?;
    let (rows, total) = blocking(&state, move |st, conn| {
        list_rows(st, conn, idx, &ctx, &args)
    })
    .await?;
    let data: Vec<Value> = rows.into_iter().map(Value::Object).collect();
    Ok(ok(json!({"data": data, "count": total})))
}

async fn show(
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
        Ok(project(&rv, &rows[0], &keys))
    })
    .await?;
    Ok(ok(Value::Object(row)))
}

/// The keys of the edit schema dump (edit ∪ show ∪ list ∪ search).
fn edit_dump_keys(rv: &Resolved<'_>) -> Vec<String> {
    let mut keys: Vec<String> = Vec::new();
    for c in rv
        .edit_columns()
        .into_iter()
        .chain(rv.show_columns())
        .chain(rv.list_columns())
        .chain(rv.search_columns())
    {
        if !keys.contains(&c) && !matches!(rv.resolve(&c), ColumnRef::Unknown) {
            keys.push(c);
        }
    }
    if let Some(e) = &rv.view.expand {
        keys.retain(|k| {
            e.fields
                .iter()
                .all(|f| f.get("name").and_then(Value::as_str) != Some(k))
        });
    }
    keys
}

fn add_dump_keys(rv: &Resolved<'_>) -> Vec<String> {
    rv.add_columns()
        .into_iter()
        .filter(|c| !matches!(rv.resolve(c), ColumnRef::Unknown | ColumnRef::Property))
        .collect()
}

/// Creates a row as `POST /` does; the shared body of add and CSV upload.
pub fn add_row(
    st: &AppState,
    conn: &mut MysqlConnection,
    idx: usize,
    ctx: &Ctx,
    mut body: Row,
) -> Result<Row, ApiError> {
    let view = &st.views[idx];
    let rv = Resolved::new(view, &st.schema, &st.models)?;
    conn.transaction(|conn| {
        strip_strings(&mut body);
        view.hooks.pre_add_req(conn, ctx, &mut body)?;
        merge_expand(&rv, &mut body, None);
        let allowed = rv.add_columns();
        let mut ch: Changes = to_changes(conn, &rv, &body, &allowed)?;
        complete_for_insert(&rv, ctx, &mut ch)?;
        view.hooks.pre_add(conn, ctx, &mut ch.values)?;
        check_required(&rv, &ch)?;
        let id = insert_row(conn, &rv, &ch.values)?;
        write_links(conn, &rv, id, &ch.links)?;
        let item = load_visible_unfiltered(conn, &rv, id)?;
        // post_add hooks write other tables only (memberships, roles, the pipeline's
        // layout): the row read above is still current, and enrich reads the links after
        view.hooks.post_add(conn, ctx, &item)?;
        let keys = add_dump_keys(&rv);
        let mut rows = vec![item];
        enrich(conn, &rv, ctx, &mut rows, &keys, RelMode::Pk)?;
        Ok(project(&rv, &rows[0], &keys))
    })
}

fn load_visible_unfiltered(
    conn: &mut MysqlConnection,
    rv: &Resolved<'_>,
    id: i64,
) -> Result<Row, ApiError> {
    select_rows(conn, rv.table, &[], "WHERE t.`id` = ?", &[Bind::Int(id)])?
        .into_iter()
        .next()
        .ok_or_else(ApiError::not_found)
}

async fn add(
    state: Data,
    idx: usize,
    ctx: Ctx,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let c2 = ctx.clone();
    let work = async {
        forbid_unless(&state.views[idx], &ctx, "can_add", "add")?;
        let parsed = json_body(&body)?;
        let hooks = &state.views[idx].hooks;
        if hooks.has_cluster_check() {
            hooks.cluster_check(&ctx, &parsed, None).await?;
        }
        let row = blocking(&state, move |st, conn| add_row(st, conn, idx, &c2, parsed)).await?;
        state.after_write(idx);
        Ok(ok(Value::Object(row)))
    };
    logged(
        &state,
        &ctx,
        &req,
        &format!("{}.post", state.views[idx].api_name),
        &body,
        work,
    )
    .await
}

/// Updates a row as `PUT /<id>` does.
pub fn edit_row(
    st: &AppState,
    conn: &mut MysqlConnection,
    idx: usize,
    ctx: &Ctx,
    id: i64,
    mut body: Row,
) -> Result<Row, ApiError> {
    let view = &st.views[idx];
    let rv = Resolved::new(view, &st.schema, &st.models)?;
    conn.transaction(|conn| {
        let item = load_visible(conn, &rv, ctx, id)?.ok_or_else(ApiError::not_found)?;
        if !view.hooks.check_edit_permission(conn, ctx, &item)? {
            return Err(ApiError::no_permission("edit"));
        }
        strip_strings(&mut body);
        view.hooks.pre_update_req(conn, ctx, &mut body, &item)?;
        merge_expand(&rv, &mut body, Some(&item));
        let allowed = rv.edit_columns();
        let mut ch = to_changes(conn, &rv, &body, &allowed)?;
        if rv.model.audit {
            ch.values.insert(
                "changed_on".into(),
                json!(
                    app_models::forms::now()
                        .format("%Y-%m-%dT%H:%M:%S")
                        .to_string()
                ),
            );
            ch.values.insert("changed_by_fk".into(), json!(ctx.user_id));
        }
        view.hooks.pre_update(conn, ctx, &mut ch.values, &item)?;
        update_row(conn, &rv, id, &ch.values)?;
        write_links(conn, &rv, id, &ch.links)?;
        let item = load_visible_unfiltered(conn, &rv, id)?;
        let keys = edit_dump_keys(&rv);
        let mut rows = vec![item];
        enrich(conn, &rv, ctx, &mut rows, &keys, RelMode::Pk)?;
        Ok(project(&rv, &rows[0], &keys))
    })
}

async fn edit(
    state: Data,
    idx: usize,
    ctx: Ctx,
    req: HttpRequest,
    id: i64,
    body: web::Bytes,
) -> HttpResponse {
    let c2 = ctx.clone();
    let work = async {
        forbid_unless(&state.views[idx], &ctx, "can_edit", "edit")?;
        let parsed = json_body(&body)?;
        let hooks = &state.views[idx].hooks;
        if hooks.has_cluster_check() {
            let c3 = ctx.clone();
            let current = blocking(&state, move |st, conn| {
                let view = &st.views[idx];
                let rv = Resolved::new(view, &st.schema, &st.models)?;
                let item = load_visible(conn, &rv, &c3, id)?.ok_or_else(ApiError::not_found)?;
                if !view.hooks.check_edit_permission(conn, &c3, &item)? {
                    return Err(ApiError::no_permission("edit"));
                }
                Ok(item)
            })
            .await?;
            hooks.cluster_check(&ctx, &parsed, Some(&current)).await?;
        }
        let row = blocking(&state, move |st, conn| {
            edit_row(st, conn, idx, &c2, id, parsed)
        })
        .await?;
        state.after_write(idx);
        Ok(HttpResponse::Ok()
            .insert_header(("api_flashes", "[]"))
            .json(json!({"status": 0, "message": "success", "result": row})))
    };
    logged(
        &state,
        &ctx,
        &req,
        &format!("{}.put", state.views[idx].api_name),
        &body,
        work,
    )
    .await
}

/// Deletes a row as `DELETE /<id>` does; returns the deleted row.
/// The cluster work deleting row `id` leaves (read-only, no transaction): the row must
/// be visible and deletable by the caller.
pub fn delete_effects(
    st: &AppState,
    conn: &mut MysqlConnection,
    idx: usize,
    ctx: &Ctx,
    id: i64,
) -> Result<crate::queue::Effects, ApiError> {
    let view = &st.views[idx];
    let rv = Resolved::new(view, &st.schema, &st.models)?;
    let item = load_visible(conn, &rv, ctx, id)?.ok_or_else(ApiError::not_found)?;
    if !view.hooks.check_delete_permission(conn, ctx, &item)? {
        return Err(ApiError::no_permission("delete"));
    }
    view.hooks.delete_effects(conn, ctx, &item)
}

pub fn delete_row(
    st: &AppState,
    conn: &mut MysqlConnection,
    idx: usize,
    ctx: &Ctx,
    id: i64,
) -> Result<Row, ApiError> {
    let view = &st.views[idx];
    let rv = Resolved::new(view, &st.schema, &st.models)?;
    conn.transaction(|conn| {
        let item = load_visible(conn, &rv, ctx, id)?.ok_or_else(ApiError::not_found)?;
        delete_visible(conn, &rv, ctx, &item)
    })
}

/// Deletes a row the caller can see, as the generic delete does: the view's permission
/// and `pre_delete` hooks, its many-to-many links and favourites, then the row. Runs in
/// the caller's transaction; returns the row as the API shows it.
pub fn delete_visible(
    conn: &mut MysqlConnection,
    rv: &Resolved<'_>,
    ctx: &Ctx,
    item: &Row,
) -> Result<Row, ApiError> {
    let view = rv.view;
    if !view.hooks.check_delete_permission(conn, ctx, item)? {
        return Err(ApiError::no_permission("delete"));
    }
    let id = super::view::id_of(item.get("id")).ok_or_else(ApiError::not_found)?;
    view.hooks.pre_delete(conn, ctx, item)?;
    for r in &rv.model.relations {
        if let super::models::RelationKind::ManyToMany {
            through, self_fk, ..
        } = r.kind
        {
            execute(
                conn,
                &format!("DELETE FROM `{through}` WHERE `{self_fk}` = ?"),
                &[Bind::Int(id)],
            )?;
        }
    }
    execute(
        conn,
        "DELETE FROM `favorite` WHERE `model_name` = ? AND `row_id` = ?",
        &[Bind::Text(view.table.into()), Bind::Text(id.to_string())],
    )?;
    execute(
        conn,
        &format!("DELETE FROM `{}` WHERE `id` = ?", view.table),
        &[Bind::Int(id)],
    )?;
    Ok(to_json(rv, item))
}

async fn delete(state: Data, idx: usize, ctx: Ctx, req: HttpRequest, id: i64) -> HttpResponse {
    let c2 = ctx.clone();
    let work = async {
        forbid_unless(&state.views[idx], &ctx, "can_delete", "delete")?;
        if state.views[idx].hooks.has_delete_effects() {
            let c3 = ctx.clone();
            let effects = blocking(&state, move |st, conn| {
                delete_effects(st, conn, idx, &c3, id)
            })
            .await?;
            state.queue.push(effects).await?;
        }
        let row = blocking(&state, move |st, conn| delete_row(st, conn, idx, &c2, id)).await?;
        state.after_write(idx);
        Ok(HttpResponse::Ok()
            .insert_header(("api_flashes", "[]"))
            .json(json!({"status": 0, "message": "success", "result": row})))
    };
    logged(
        &state,
        &ctx,
        &req,
        &format!("{}.delete", state.views[idx].api_name),
        &[],
        work,
    )
    .await
}

/// The cluster work action `name` on rows `ids` leaves (read-only, no transaction).
fn action_effects(
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
fn visible_rows(
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
async fn perform_action(
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

fn run_action(
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

async fn single_action(
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

async fn multi_action(
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

async fn favorite(
    state: Data,
    idx: usize,
    ctx: Ctx,
    pk: String,
    add: bool,
) -> Result<HttpResponse, ApiError> {
    let id: i64 = match pk.parse() {
        Ok(i) => i,
        Err(_) => {
            return Ok(HttpResponse::NotFound()
                .json(json!({"result": "", "status": "fail", "message": "no such row"})));
        }
    };
    let done = blocking(&state, move |st, conn| {
        let view = &st.views[idx];
        let rv = Resolved::new(view, &st.schema, &st.models)?;
        let binds = vec![Bind::Text(view.table.into()), Bind::Text(id.to_string()), Bind::Int(ctx.user_id as i64)];
        if add {
            if load_visible(conn, &rv, &ctx, id)?.is_none() {
                return Ok(false);
            }
            execute(conn, "INSERT IGNORE INTO `favorite` (`model_name`, `row_id`, `user_id`) VALUES (?, ?, ?)", &binds)?;
        } else {
            execute(conn, "DELETE FROM `favorite` WHERE `model_name` = ? AND `row_id` = ? AND `user_id` = ?", &binds)?;
        }
        Ok(true)
    })
    .await?;
    if !done {
        return Ok(HttpResponse::NotFound()
            .json(json!({"result": "", "status": "fail", "message": "no such row"})));
    }
    let message = if add {
        "favorite success"
    } else {
        "unfavorite success"
    };
    Ok(HttpResponse::Ok().json(json!({"result": "", "status": "success", "message": message})))
}

/// UTF-8 byte-order mark: the original's CSV files start with it, so spreadsheet
/// programs read them as UTF-8.
const BOM: &[u8] = "\u{feff}".as_bytes();

/// A CSV download as the original sends it: `text/csv; charset=utf-8`, with a BOM.
fn csv_response(table: &str, body: Vec<u8>) -> HttpResponse {
    let mut bytes = Vec::with_capacity(BOM.len() + body.len());
    bytes.extend_from_slice(BOM);
    bytes.extend_from_slice(&body);
    HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename={table}.csv"),
        ))
        .body(bytes)
}

fn csv_cell(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

async fn download_template(state: Data, idx: usize) -> Result<HttpResponse, ApiError> {
    let view = &state.views[idx];
    let rv = Resolved::new(view, &state.schema, &state.models)?;
    let cols = rv.add_columns();
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(&cols)
        .map_err(|e| ApiError::internal(e.to_string()))?;
    w.write_record(cols.iter().map(|_| "xx"))
        .map_err(|e| ApiError::internal(e.to_string()))?;
    let mut bytes = w
        .into_inner()
        .map_err(|e| ApiError::internal(e.to_string()))?;
    // the original's template has no line break after the last row
    if bytes.last() == Some(&b'\n') {
        bytes.pop();
    }
    Ok(csv_response(view.table, bytes))
}

async fn download(
    state: Data,
    idx: usize,
    ctx: Ctx,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    forbid_unless(&state.views[idx], &ctx, "can_list", "list")?;
    let mut args = merge_args(req.query_string(), &[])?;
    args.insert("page".into(), json!(0));
    args.insert("page_size".into(), json!(super::query::MAX_PAGE_SIZE));
    let table = state.views[idx].table;
    let bytes = blocking(&state, move |st, conn| {
        let rv = Resolved::new(&st.views[idx], &st.schema, &st.models)?;
        let cols = rv.show_columns();
        args.insert("columns".into(), json!(cols));
        args.insert("str_related".into(), json!(1));
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record(&cols)
            .map_err(|e| ApiError::internal(e.to_string()))?;
        let mut page = 0;
        loop {
            args.insert("page".into(), json!(page));
            let (rows, total) = list_rows(st, conn, idx, &ctx, &args)?;
            for r in &rows {
                w.write_record(
                    cols.iter()
                        .map(|c| csv_cell(r.get(c).unwrap_or(&Value::Null))),
                )
                .map_err(|e| ApiError::internal(e.to_string()))?;
            }
            page += 1;
            if rows.is_empty() || page * super::query::MAX_PAGE_SIZE >= total.min(20_000) {
                break;
            }
        }
        w.into_inner()
            .map_err(|e| ApiError::internal(e.to_string()))
    })
    .await?;
    Ok(csv_response(table, bytes))
}

async fn upload(
    state: Data,
    idx: usize,
    ctx: Ctx,
    req: HttpRequest,
    mut payload: actix_multipart::Multipart,
) -> HttpResponse {
    use futures::StreamExt;
    let c2 = ctx.clone();
    let work = async {
        forbid_unless(&state.views[idx], &ctx, "can_add", "add")?;
        let mut data: Option<(String, Vec<u8>)> = None;
        while let Some(field) = payload.next().await {
            let mut field =
                field.map_err(|e| ApiError::bad_request(format!("bad multipart body: {e}")))?;
            let name = field
                .content_disposition()
                .and_then(|cd| cd.get_name())
                .unwrap_or("")
                .to_string();
            let filename = field
                .content_disposition()
                .and_then(|cd| cd.get_filename())
                .unwrap_or("")
                .to_string();
            let mut buf = Vec::new();
            while let Some(chunk) = field.next().await {
                let chunk =
                    chunk.map_err(|e| ApiError::bad_request(format!("bad multipart body: {e}")))?;
                if buf.len() + chunk.len() > 20 * 1024 * 1024 {
                    return Err(ApiError::bad_request("file too large (20 MB max)"));
                }
                buf.extend_from_slice(&chunk);
            }
            if name == "csv_file" {
                data = Some((filename, buf));
            }
        }
        let Some((filename, bytes)) = data else {
            return Err(ApiError::bad_request(
                "multipart field csv_file is required",
            ));
        };
        if !(filename.contains(".csv") || filename.contains(".json")) {
            return Ok(envelope(
                StatusCode::OK,
                json!([]),
                1,
                "不支持的格式文件",
                &[],
            ));
        }
        let results = blocking(&state, move |st, conn| {
            let rv = Resolved::new(&st.views[idx], &st.schema, &st.models)?;
            let allowed = rv.add_columns();
            let mut rdr = csv::Reader::from_reader(bytes.strip_prefix(BOM).unwrap_or(&bytes));
            let headers: Vec<String> = rdr
                .headers()
                .map_err(|e| ApiError::bad_request(format!("bad csv: {e}")))?
                .iter()
                .map(|h| h.trim().to_string())
                .collect();
            if let Some(bad) = headers.iter().find(|h| !allowed.contains(h)) {
                return Err(ApiError::bad_request(format!(
                    "csv column {bad} is not one of {}",
                    allowed.join(", ")
                )));
            }
            let mut out = Vec::new();
            for rec in rdr.records() {
                let rec = match rec {
                    Ok(r) => r,
                    Err(e) => {
                        out.push(json!(format!("bad csv row: {e}")));
                        continue;
                    }
                };
                let mut body = Map::new();
                for (h, v) in headers.iter().zip(rec.iter()) {
                    body.insert(h.clone(), json!(v));
                }
                match add_row(st, conn, idx, &c2, body) {
                    Ok(_) => out.push(json!("success")),
                    Err(e) => out.push(json!(e.message)),
                }
            }
            Ok(out)
        })
        .await?;
        let n = results
            .iter()
            .filter(|r| r.as_str() == Some("success"))
            .count();
        state.after_write(idx);
        Ok(envelope(
            StatusCode::OK,
            Value::Array(results),
            0,
            &format!("success {n} rows"),
            &[],
        ))
    };
    logged(
        &state,
        &ctx,
        &req,
        &format!("{}.upload", state.views[idx].api_name),
        &[],
        work,
    )
    .await
}

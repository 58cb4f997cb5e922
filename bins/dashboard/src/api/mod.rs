//! The generic routes of every model view (api.md §1), from its declaration: the route
//! table here, the handlers by responsibility in the submodules.

mod actions;
mod audit;
mod csv;
mod favorite;
pub mod form;
mod read;
mod write;

pub use audit::log_event;
pub(crate) use audit::logged;
pub use read::list_rows;
pub use write::{add_row, delete_effects, delete_row, delete_visible, edit_row};

pub use actions::muldelete;
use actions::{multi_action, single_action};
use csv::{download, download_template, upload};
use favorite::favorite;
use read::{info, list, show};
use write::{add, delete, edit};

use actix_web::{HttpRequest, HttpResponse, web};
use diesel::mysql::MysqlConnection;
use serde_json::{Value, json};

use crate::auth::Ctx;
use crate::engine::view::{ModelView, Row};
use crate::error::ApiError;
use crate::routing::{Answer, Routes};
use crate::state::AppState;

type Data = web::Data<AppState>;

/// Registers every generic route of view number `idx` under its route base (api.md §1).
pub fn configure_view(r: &mut Routes<'_>, idx: usize, view: &ModelView) {
    use crate::openapi::schemas as sch;
    let base = format!("/{}", view.route_base().trim_matches('/'));
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

pub(crate) fn forbid_unless(
    view: &ModelView,
    ctx: &Ctx,
    perm: &str,
    what: &str,
) -> Result<(), ApiError> {
    if view.permits(ctx, perm) {
        Ok(())
    } else {
        Err(ApiError::forbidden(format!("no permission to {what}")))
    }
}

pub(crate) fn json_body(body: &[u8]) -> Result<Row, ApiError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(ApiError::bad_request(
            "Request is not JSON: expected a JSON object",
        )),
        Err(_) => Err(ApiError::bad_request("Request is not JSON")),
    }
}

use crate::engine::plan::load_visible;

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

//! Add, edit and delete, with their hooks, links and clean-ups, each in one transaction
//! whose cluster work is queued before it.

use actix_web::{HttpRequest, HttpResponse, web};
use diesel::Connection;
use diesel::mysql::MysqlConnection;
use serde_json::{Value, json};

use crate::auth::Ctx;
use crate::engine::dump::{RelMode, enrich, project, to_json};
use crate::engine::resolve::{ColumnRef, Resolved};
use crate::engine::sql::{Bind, execute, select_rows};
use crate::engine::view::{Row, Verb};
use crate::engine::write::{
    Changes, check_required, complete_for_insert, insert_row, merge_expand, strip_strings,
    to_changes, update_row, write_links,
};
use crate::error::ApiError;
use crate::reply::ok;
use crate::state::AppState;

use super::*;

/// The keys of the edit schema dump (edit ∪ show ∪ list ∪ search).
pub(super) fn edit_dump_keys(rv: &Resolved<'_>) -> Vec<String> {
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

pub(super) fn add_dump_keys(rv: &Resolved<'_>) -> Vec<String> {
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
    view.access.check_add(ctx)?;
    conn.transaction(|conn| {
        strip_strings(&mut body);
        view.hooks.pre_add_req(conn, ctx, &mut body)?;
        merge_expand(&rv, &mut body, None);
        let mut allowed = rv.add_columns();
        allowed.retain(|c| view.form_has(ctx, c));
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

pub(super) fn load_visible_unfiltered(
    conn: &mut MysqlConnection,
    rv: &Resolved<'_>,
    id: i64,
) -> Result<Row, ApiError> {
    select_rows(conn, rv.table, &[], "WHERE t.`id` = ?", &[Bind::Int(id)])?
        .into_iter()
        .next()
        .ok_or_else(ApiError::not_found)
}

pub(super) async fn add(
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
        view.access.check(conn, ctx, Verb::Edit, &item)?;
        strip_strings(&mut body);
        view.hooks.pre_update_req(conn, ctx, &mut body, &item)?;
        merge_expand(&rv, &mut body, Some(&item));
        let mut allowed = rv.edit_columns();
        allowed.retain(|c| view.form_has(ctx, c));
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

pub(super) async fn edit(
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
                view.access.check(conn, &c3, Verb::Edit, &item)?;
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
        Ok(ok(Value::Object(row)))
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
    view.access.check(conn, ctx, Verb::Delete, &item)?;
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
    view.access.check(conn, ctx, Verb::Delete, item)?;
    let id = crate::engine::view::id_of(item.get("id")).ok_or_else(ApiError::not_found)?;
    view.hooks.pre_delete(conn, ctx, item)?;
    for r in &rv.model.relations {
        if let crate::engine::models::RelationKind::ManyToMany {
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

pub(super) async fn delete(
    state: Data,
    idx: usize,
    ctx: Ctx,
    req: HttpRequest,
    id: i64,
) -> HttpResponse {
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
        Ok(ok(Value::Object(row)))
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

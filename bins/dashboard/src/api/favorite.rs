//! Favourites of a row (`favorite/<id>`).

use actix_web::HttpResponse;
use serde_json::json;

use crate::auth::Ctx;
use crate::engine::resolve::Resolved;
use crate::engine::sql::{Bind, execute};
use crate::error::ApiError;

use super::*;

pub(super) async fn favorite(
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
    // the original's favourite answers carry `status` as a word, unlike every other
    // envelope: kept for the front end, which reads it
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

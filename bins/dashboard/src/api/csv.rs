//! CSV template, download and upload.

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse};
use serde_json::{Map, Value, json};

use crate::auth::Ctx;
use crate::engine::query::merge_args;
use crate::engine::resolve::Resolved;
use crate::error::ApiError;
use crate::reply::envelope;

use super::*;

/// UTF-8 byte-order mark: the original's CSV files start with it, so spreadsheet
/// programs read them as UTF-8.
pub(super) const BOM: &[u8] = "\u{feff}".as_bytes();

/// A CSV download as the original sends it: `text/csv; charset=utf-8`, with a BOM.
pub(super) fn csv_response(table: &str, body: Vec<u8>) -> HttpResponse {
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

pub(super) fn csv_cell(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

pub(super) async fn download_template(state: Data, idx: usize) -> Result<HttpResponse, ApiError> {
    let view = &state.views[idx];
    let rv = Resolved::new(view, &state.schema, &state.models)?;
    let cols = rv.add_columns();
    let mut w = ::csv::Writer::from_writer(Vec::new());
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

pub(super) async fn download(
    state: Data,
    idx: usize,
    ctx: Ctx,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    forbid_unless(&state.views[idx], &ctx, "can_list", "list")?;
    let mut args = merge_args(req.query_string(), &[])?;
    args.insert("page".into(), json!(0));
    args.insert(
        "page_size".into(),
        json!(crate::engine::query::MAX_PAGE_SIZE),
    );
    let table = state.views[idx].table;
    let bytes = blocking(&state, move |st, conn| {
        let rv = Resolved::new(&st.views[idx], &st.schema, &st.models)?;
        let cols = rv.show_columns();
        args.insert("columns".into(), json!(cols));
        args.insert("str_related".into(), json!(1));
        let mut w = ::csv::Writer::from_writer(Vec::new());
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
            if rows.is_empty() || page * crate::engine::query::MAX_PAGE_SIZE >= total.min(20_000) {
                break;
            }
        }
        w.into_inner()
            .map_err(|e| ApiError::internal(e.to_string()))
    })
    .await?;
    Ok(csv_response(table, bytes))
}

pub(super) async fn upload(
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
            let mut rdr = ::csv::Reader::from_reader(bytes.strip_prefix(BOM).unwrap_or(&bytes));
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

//! Success answers in the original's envelope (`{"result", "status", "message"}`) and
//! the `api_flashes` header. Every handler answers through these helpers.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use serde_json::{Value, json};

/// `api_flashes` header value: a JSON list of `[category, message]` as Python's
/// `json.dumps` writes it (`", "` between items, non-ASCII escaped: the header stays ASCII).
pub fn flashes_header(flashes: &[(&str, &str)]) -> String {
    let list: Vec<Value> = flashes.iter().map(|(c, m)| json!([c, m])).collect();
    let out = app_core::json_text::python_dumps(&list);
    if out.len() > 2000 { "[]".into() } else { out }
}

/// Marks a response whose `Content-Type` stays `application/json` without a charset,
/// as Flask's `jsonify` answers of the original (menu, navbar, feature check, user
/// centre); every other JSON answer names its charset, as FAB's do.
#[derive(Clone, Copy)]
pub struct BareJson;

/// A JSON answer (no envelope) with the original's bare `application/json`.
pub fn bare_json<T: serde::Serialize>(value: &T) -> HttpResponse {
    let mut res = HttpResponse::Ok().json(value);
    res.extensions_mut().insert(BareJson);
    res
}

/// `{"result": result, "status": 0, "message": "success"}`.
pub fn ok(result: Value) -> HttpResponse {
    envelope(StatusCode::OK, result, 0, "success", &[])
}

/// The envelope as it is written: serialised straight from its parts (no copy of the
/// result into another JSON tree first).
#[derive(serde::Serialize)]
struct Envelope<'a, T: serde::Serialize> {
    result: &'a T,
    status: i64,
    message: &'a str,
}

/// `{"result": result, "status": 0, "message": "success"}` for any serialisable result
/// (a list page serialises its rows once, straight into the answer).
pub fn ok_of<T: serde::Serialize>(result: &T) -> HttpResponse {
    // a page of rows is tens of kilobytes: one buffer from the start, not doubled into
    let mut bytes = Vec::with_capacity(32 * 1024);
    match serde_json::to_writer(
        &mut bytes,
        &Envelope {
            result,
            status: 0,
            message: "success",
        },
    ) {
        Ok(()) => HttpResponse::Ok()
            .insert_header(("api_flashes", "[]"))
            .content_type("application/json")
            .body(bytes),
        Err(e) => {
            tracing::error!(error = %e, "cannot write the answer");
            envelope(
                StatusCode::INTERNAL_SERVER_ERROR,
                json!({}),
                1,
                "cannot write the answer",
                &[],
            )
        }
    }
}

/// The body of an envelope: `{"result", "status", "message"}` (the result is moved in,
/// not copied).
pub fn body(result: Value, code: i64, message: &str) -> Value {
    let mut m = serde_json::Map::with_capacity(3);
    m.insert("result".into(), result);
    m.insert("status".into(), json!(code));
    m.insert("message".into(), json!(message));
    Value::Object(m)
}

/// A 200 answer builder with the envelope's headers, for answers that also set cookies:
/// finish it with `.json(body(...))`.
pub fn builder() -> actix_web::HttpResponseBuilder {
    let mut b = HttpResponse::Ok();
    b.insert_header(("api_flashes", "[]"));
    b
}

/// An envelope with every part chosen.
pub fn envelope(
    status: StatusCode,
    result: Value,
    code: i64,
    message: &str,
    flashes: &[(&str, &str)],
) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header(("api_flashes", flashes_header(flashes)))
        .json(body(result, code, message))
}

/// `{"result": result, "status": 0, "message": message}`: a success with the original's
/// own message (`登录成功`, `修正完成`…).
pub fn ok_with(message: &str, result: Value) -> HttpResponse {
    envelope(StatusCode::OK, result, 0, message, &[])
}

/// Text made safe inside HTML (element content and quoted attribute values).
pub fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

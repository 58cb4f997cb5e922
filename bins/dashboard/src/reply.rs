//! Success answers in the original's envelope (`{"result", "status", "message"}`) and
//! the `api_flashes` header. Every handler answers through these helpers.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use serde_json::{Value, json};

/// `api_flashes` header value: a JSON list of `[category, message]`, non-ASCII escaped.
pub fn flashes_header(flashes: &[(&str, &str)]) -> String {
    let list: Vec<Value> = flashes.iter().map(|(c, m)| json!([c, m])).collect();
    let s = serde_json::to_string(&list).unwrap_or_else(|_| "[]".into());
    // escape non-ASCII like Python's json.dumps default, so the header stays ASCII
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        if ch.is_ascii() {
            out.push(ch);
        } else {
            let mut buf = [0u16; 2];
            for unit in ch.encode_utf16(&mut buf) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        }
    }
    if out.len() > 2000 { "[]".into() } else { out }
}

/// `{"result": result, "status": 0, "message": "success"}`.
pub fn ok(result: Value) -> HttpResponse {
    envelope(StatusCode::OK, result, 0, "success", &[])
}

/// The body of an envelope: `{"result", "status", "message"}`.
pub fn body(result: Value, code: i64, message: &str) -> Value {
    json!({"result": result, "status": code, "message": message})
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

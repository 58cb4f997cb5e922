//! What every answer goes through: JSON error shapes for everything actix answers on
//! its own, body limits, CORS.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::ServiceResponse;
use actix_web::http::header;
use actix_web::middleware::{ErrorHandlerResponse, ErrorHandlers};
use actix_web::{HttpResponse, web};
use app_core::Config;

use crate::error::ApiError;

/// Turns any error response that is not JSON (extractor errors, payload limits,
/// unknown URLs) into the JSON envelope, so clients never get HTML or plain text.
fn json_errors<B: MessageBody + 'static>(
    res: ServiceResponse<B>,
) -> actix_web::Result<ErrorHandlerResponse<B>> {
    let is_json = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.contains("json") || v.contains("text/html"))
        .unwrap_or(false);
    if is_json || res.status().as_u16() < 400 {
        return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
    }
    let status = res.status();
    let (req, _) = res.into_parts();
    let message = match status.as_u16() {
        404 => "not found".to_string(),
        405 => "method not allowed".to_string(),
        413 => "request body too large".to_string(),
        s => format!("bad request ({s})"),
    };
    let resp: HttpResponse<BoxBody> =
        actix_web::ResponseError::error_response(&ApiError::new(status, message));
    Ok(ErrorHandlerResponse::Response(
        ServiceResponse::new(req, resp).map_into_right_body(),
    ))
}

/// The error-shaping middleware.
pub fn error_shaper<B: MessageBody + 'static>() -> ErrorHandlers<B> {
    ErrorHandlers::new().default_handler(json_errors)
}

/// Body limits and extractor error shapes.
pub fn limits(
    max_body: usize,
) -> (
    web::PayloadConfig,
    web::JsonConfig,
    web::QueryConfig,
    web::PathConfig,
) {
    (
        web::PayloadConfig::new(max_body),
        web::JsonConfig::default()
            .limit(max_body)
            .error_handler(|e, _| ApiError::bad_request(format!("bad JSON body: {e}")).into()),
        web::QueryConfig::default()
            .error_handler(|e, _| ApiError::bad_request(format!("bad query string: {e}")).into()),
        web::PathConfig::default().error_handler(|_, _| ApiError::not_found().into()),
    )
}

/// CORS for the configured origins only (`CORS_ORIGINS`; none by default: the front end
/// is served from the same origin). Requests from other origins are served without
/// CORS headers, so browsers keep their pages from reading the answers.
pub fn cors(config: &Config) -> actix_cors::Cors {
    let mut cors = actix_cors::Cors::default()
        .allow_any_method()
        .allow_any_header()
        .supports_credentials()
        .max_age(3600);
    for origin in &config.cors_origins {
        cors = cors.allowed_origin(origin);
    }
    cors
}

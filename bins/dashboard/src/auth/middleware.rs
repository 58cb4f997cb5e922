//! The global login check (the original's `check_login`), CORS headers, and the
//! `myapp_username` cookie on every authenticated response.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::cookie::Cookie;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{FromRequest, HttpMessage, HttpRequest, HttpResponse, web};
use serde_json::json;

use super::context::Ctx;
use super::session::{SESSION_COOKIE, decode_session};
use crate::app::AppState;
use crate::engine::response::ApiError;

/// Paths that need no login (as the original's skip list).
fn is_public(path: &str) -> bool {
    path == "/"
        || path == "/health"
        || path == "/metrics"
        || path == "/favicon.ico"
        || path.starts_with("/static/")
        || path.starts_with("/frontend")
        || path.starts_with("/login")
        || path.starts_with("/logout")
        || path == "/openapi.json"
}

/// Where a request's credentials point: a username to load, or a reason to refuse.
enum Credential {
    None,
    User(String),
    Invalid(&'static str),
}

fn credential(req: &ServiceRequest, state: &AppState) -> Credential {
    let now = chrono::Utc::now().timestamp();
    if let Some(h) = req.headers().get(header::AUTHORIZATION) {
        let Ok(value) = h.to_str() else {
            return Credential::Invalid("unreadable Authorization header");
        };
        let value = value.trim();
        let value = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))
            .unwrap_or(value)
            .trim();
        let key = &state.config.jwt_password;
        if let Some((user, token)) = value.split_once('|') {
            return match app_core::token::verify_user_token(token, key) {
                Some(sub) if sub == user => Credential::User(sub),
                _ => Credential::Invalid("the token does not belong to this user"),
            };
        }
        return match app_core::token::verify_user_token(value, key) {
            Some(sub) => Credential::User(sub),
            None => {
                Credential::Invalid("Authorization must be <username>|<token> or the user's token")
            }
        };
    }
    if let Some(c) = req.cookie(SESSION_COOKIE)
        && let Some(u) = decode_session(c.value(), &state.config.secret_key, now)
    {
        return Credential::User(u);
    }
    Credential::None
}

fn add_common_headers(headers: &mut actix_web::http::header::HeaderMap) {
    for name in [
        "access-control-allow-origin",
        "access-control-allow-methods",
        "access-control-allow-headers",
    ] {
        if let Ok(n) = header::HeaderName::from_bytes(name.as_bytes()) {
            headers.insert(n, HeaderValue::from_static("*"));
        }
    }
}

fn wants_html(req: &ServiceRequest) -> bool {
    req.method() == actix_web::http::Method::GET
        && !req.path().contains("/api/")
        && req
            .headers()
            .get(header::ACCEPT)
            .and_then(|a| a.to_str().ok())
            .map(|a| a.contains("text/html"))
            .unwrap_or(false)
}

fn refuse(req: ServiceRequest, message: &str) -> ServiceResponse<BoxBody> {
    let resp = if wants_html(&req) {
        let target = req.uri().to_string();
        HttpResponse::Found()
            .insert_header((
                header::LOCATION,
                format!("/login/?login_url={}", urlencoding::encode(&target)),
            ))
            .finish()
    } else {
        HttpResponse::Unauthorized().json(json!({"result": {}, "status": 1, "message": message}))
    };
    let mut sr = req.into_response(resp);
    add_common_headers(sr.headers_mut());
    sr
}

/// The middleware: authenticate, gate, decorate.
pub async fn authenticate(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    let public = is_public(req.path()) || req.method() == actix_web::http::Method::OPTIONS;
    let mut ctx: Option<Ctx> = None;
    match credential(&req, &state) {
        Credential::User(name) => match state.load_ctx(&name).await {
            Ok(Some(c)) => ctx = Some(c),
            Ok(None) if public => {}
            Ok(None) => return Ok(refuse(req, "unknown or inactive user")),
            Err(e) if public => tracing::debug!(error = %e, "cannot load user on a public path"),
            Err(e) => {
                let mut sr = req.into_response(actix_web::ResponseError::error_response(&e));
                add_common_headers(sr.headers_mut());
                return Ok(sr);
            }
        },
        Credential::Invalid(reason) if !public => return Ok(refuse(req, reason)),
        Credential::Invalid(_) | Credential::None => {
            if !public {
                return Ok(refuse(
                    req,
                    "login required: use /login/, or send Authorization: <username>|<token>",
                ));
            }
        }
    }
    let username = ctx.as_ref().map(|c| c.username.clone());
    if let Some(c) = ctx {
        req.extensions_mut().insert(c);
    }
    let mut res = next.call(req).await?.map_into_boxed_body();
    add_common_headers(res.headers_mut());
    if let Some(u) = username {
        let cookie = Cookie::build("myapp_username", u).path("/").finish();
        if let Ok(v) = HeaderValue::from_str(&cookie.to_string()) {
            res.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    Ok(res)
}

impl FromRequest for Ctx {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Ctx, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        std::future::ready(
            req.extensions()
                .get::<Ctx>()
                .cloned()
                .ok_or_else(|| ApiError::unauthorized("login required")),
        )
    }
}

//! The global login check (the original's `check_login`), security headers, and the
//! `myapp_username` cookie on every authenticated response. CORS is `actix-cors`, for
//! the configured origins only (`crate::app::cors`).

use actix_web::body::{BoxBody, MessageBody};
use actix_web::cookie::Cookie;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderMap, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{FromRequest, HttpMessage, HttpRequest, HttpResponse, web};
use serde_json::json;

use crate::auth::context::Ctx;
use crate::auth::session::{SESSION_COOKIE, SessionUser, decode_session};
use crate::auth::tokens;
use crate::error::ApiError;
use crate::state::AppState;
use app_core::token::UserClaims;

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
        || path == "/docs"
}

/// Where a request's credentials point: a user to load and check, or a reason to refuse.
enum Credential {
    None,
    Token(UserClaims),
    Session(SessionUser),
    Invalid(&'static str),
}

impl Credential {
    fn username(&self) -> Option<&str> {
        match self {
            Credential::Token(c) => Some(&c.sub),
            Credential::Session(s) => Some(&s.username),
            Credential::None | Credential::Invalid(_) => None,
        }
    }

    /// Why the loaded user does not match the credential (revoked, expired, other user).
    fn refusal(&self, ctx: &Ctx, ttl_days: Option<i64>) -> Option<&'static str> {
        match self {
            Credential::Token(c) => tokens::refusal(c, ctx, ttl_days),
            Credential::Session(s) if s.user_id != ctx.user_id as i64 => {
                Some("the session belongs to a deleted user")
            }
            _ => None,
        }
    }
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
        let key = &state.keys.token;
        let verified = &state.verified_tokens;
        if let Some((user, token)) = value.split_once('|') {
            return match verified.verify(token, key, now) {
                Some(claims) if claims.sub == user => Credential::Token(claims),
                _ => Credential::Invalid("the token does not belong to this user"),
            };
        }
        return match verified.verify(value, key, now) {
            Some(claims) => Credential::Token(claims),
            None => {
                Credential::Invalid("Authorization must be <username>|<token> or the user's token")
            }
        };
    }
    if let Some(c) = req.cookie(SESSION_COOKIE)
        && let Some(u) = decode_session(c.value(), &state.keys.session, now)
    {
        return Credential::Session(u);
    }
    Credential::None
}

/// Headers on every response: no MIME sniffing; HTML pages also may only be framed by
/// this site's own pages and send only the origin as referrer to other sites. JSON
/// names its charset, as the original's answers do.
pub fn add_security_headers(headers: &mut HeaderMap) {
    add_headers(headers, false)
}

/// [`add_security_headers`]; `bare_json`: a [`crate::reply::BareJson`] answer keeps its
/// `application/json` without a charset.
fn add_headers(headers: &mut HeaderMap, bare_json: bool) {
    if !bare_json
        && headers
            .get(header::CONTENT_TYPE)
            .is_some_and(|v| v.as_bytes() == b"application/json")
    {
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        );
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    let html = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    if html {
        headers.insert(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("SAMEORIGIN"),
        );
        headers.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("strict-origin-when-cross-origin"),
        );
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
    add_security_headers(sr.headers_mut());
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
    let cred = credential(&req, &state);
    match cred.username() {
        Some(name) => match state.load_ctx(name).await {
            Ok(Some(c)) => match cred.refusal(&c, state.config.token_ttl_days) {
                None => ctx = Some(c),
                Some(_) if public => {}
                Some(reason) => return Ok(refuse(req, reason)),
            },
            Ok(None) if public => {}
            Ok(None) => return Ok(refuse(req, "unknown or inactive user")),
            Err(e) if public => tracing::debug!(error = %e, "cannot load user on a public path"),
            Err(e) => {
                let mut sr = req.into_response(actix_web::ResponseError::error_response(&e));
                add_security_headers(sr.headers_mut());
                return Ok(sr);
            }
        },
        None => match cred {
            Credential::Invalid(reason) if !public => return Ok(refuse(req, reason)),
            _ if !public => {
                return Ok(refuse(
                    req,
                    "login required: use /login/, or send Authorization: <username>|<token>",
                ));
            }
            _ => {}
        },
    }
    let username = ctx.as_ref().map(|c| c.username.clone());
    if let Some(c) = ctx {
        req.extensions_mut().insert(c);
    }
    let mut res = next.call(req).await?.map_into_boxed_body();
    let bare = res
        .response()
        .extensions()
        .contains::<crate::reply::BareJson>();
    add_headers(res.headers_mut(), bare);
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

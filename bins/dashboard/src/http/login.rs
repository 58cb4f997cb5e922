//! `/login/`, `/login/api/` and `/logout`.
//!
//! Unlike the original, login never accepts a plain-text stored password, never
//! registers unknown users, and `/login/api/?token=` needs the user's token, not a name.

use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieDuration};
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

use app_core::config::CookieSecure;
use app_models::rows::User;
use app_models::security::{record_login_failure, record_login_success};

use crate::auth::session::{SESSION_COOKIE, SESSION_SECONDS, encode_session};
use crate::auth::{throttle, tokens};
use crate::error::ApiError;
use crate::reply;
use crate::routing::{Answer, Routes};
use crate::state::AppState;

#[derive(Deserialize)]
pub struct LoginQuery {
    login_url: Option<String>,
    token: Option<String>,
}

#[derive(Deserialize)]
pub struct LoginForm {
    username: String,
    password: String,
}

/// Only same-site paths are followed after login (no open redirect).
fn safe_target(login_url: Option<&str>) -> String {
    match login_url {
        Some(u) if u.starts_with('/') && !u.starts_with("//") && !u.contains('\\') => u.to_string(),
        Some(u) => match url::Url::parse(u) {
            Ok(parsed) => {
                let mut p = parsed.path().to_string();
                if let Some(q) = parsed.query() {
                    p.push('?');
                    p.push_str(q);
                }
                if p.starts_with('/') && !p.starts_with("//") {
                    p
                } else {
                    "/frontend/".into()
                }
            }
            Err(_) => "/frontend/".into(),
        },
        None => "/frontend/".into(),
    }
}

fn login_page(login_url: &str, error: Option<&str>) -> String {
    let err = error
        .map(|e| format!("<p class=\"error\">{}</p>", crate::reply::html_escape(e)))
        .unwrap_or_default();
    format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>cube-studio login</title>
<style>body{{font-family:sans-serif;background:#f5f6f8}}form{{width:320px;margin:120px auto;padding:24px;background:#fff;border-radius:8px;box-shadow:0 1px 4px #0002}}
input{{width:100%;padding:8px;margin:6px 0 14px;box-sizing:border-box}}button{{width:100%;padding:10px}}.error{{color:#c00}}</style></head>
<body><form method="post" action="/login/?login_url={url}">
<h2>cube-studio</h2>{err}
<label>用户名 / username<input name="username" autocomplete="username" autofocus></label>
<label>密码 / password<input name="password" type="password" autocomplete="current-password"></label>
<button type="submit">登录 / Login</button></form></body></html>"#,
        url = crate::reply::html_escape(&urlencoding::encode(login_url)),
    )
}

/// Whether the session cookie gets `Secure` for this request.
fn secure_cookie(state: &AppState, req: &HttpRequest) -> bool {
    match state.config.session_cookie_secure {
        CookieSecure::Always => true,
        CookieSecure::Never => false,
        CookieSecure::Auto => req.connection_info().scheme() == "https",
    }
}

fn session_cookies(
    state: &AppState,
    req: &HttpRequest,
    username: &str,
    user_id: i64,
) -> (Cookie<'static>, Cookie<'static>) {
    let now = chrono::Utc::now().timestamp();
    let session = Cookie::build(
        SESSION_COOKIE,
        encode_session(username, user_id, &state.keys.session, now),
    )
    .path("/")
    .http_only(true)
    .secure(secure_cookie(state, req))
    .same_site(SameSite::Lax)
    .max_age(CookieDuration::seconds(SESSION_SECONDS))
    .finish();
    let name = Cookie::build("myapp_username", username.to_string())
        .path("/")
        .same_site(SameSite::Lax)
        .finish();
    (session, name)
}

/// `GET /login/`: the login form.
pub async fn login_form(q: web::Query<LoginQuery>) -> HttpResponse {
    let target = safe_target(q.login_url.as_deref());
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(login_page(&target, None))
}

/// The client address logins are throttled by: the peer, or with
/// `LOGIN_TRUST_FORWARDED` the address a trusted proxy forwards.
fn client_addr(state: &AppState, req: &HttpRequest) -> String {
    let forwarded = state.config.login_throttle.trust_forwarded;
    let addr = if forwarded {
        req.connection_info().realip_remote_addr().map(String::from)
    } else {
        req.peer_addr().map(|a| a.ip().to_string())
    };
    let addr = addr.unwrap_or_else(|| "unknown".into());
    // "ip:port" (a forwarded IPv4 with a port) → ip; IPv6 stays whole
    match addr.parse::<std::net::SocketAddr>() {
        Ok(sa) => sa.ip().to_string(),
        Err(_) => addr,
    }
}

/// What a login attempt came to.
enum Attempt {
    Accepted { username: String, user_id: i32 },
    Refused,
    Throttled { retry_after: i64 },
}

/// Checks a username (or e-mail) and password against active users, with throttling and
/// Flask-AppBuilder's login statistics. The password hash is checked without holding a
/// database connection.
async fn attempt_login(
    state: &AppState,
    username: String,
    password: String,
    addr: String,
) -> Result<Attempt, ApiError> {
    let throttle = state.config.login_throttle;
    let pool = state.pool.clone();
    let (name, addr2) = (username.clone(), addr.clone());
    let found = web::block(move || -> Result<Result<Option<User>, i64>, ApiError> {
        let mut conn = pool.get().map_err(app_models::DbError::from)?;
        if let Some(wait) = throttle::blocked(&mut conn, &throttle, &name, &addr2)? {
            return Ok(Err(wait));
        }
        let user = match app_models::queries::user_by_name(&mut conn, &name)? {
            Some(u) => Some(u),
            None => {
                use app_models::schema::ab_user;
                use diesel::prelude::*;
                ab_user::table
                    .filter(ab_user::email.eq(&name))
                    .select(User::as_select())
                    .first(&mut conn)
                    .optional()?
            }
        };
        Ok(Ok(user))
    })
    .await??;
    let user = match found {
        Err(retry_after) => return Ok(Attempt::Throttled { retry_after }),
        Ok(user) => user,
    };
    let verified = match &user {
        Some(u) if u.active.unwrap_or(true) => {
            let hash = u.password.clone().unwrap_or_default();
            web::block(move || app_core::password::verify_password(&hash, &password)).await?
        }
        _ => false,
    };
    let pool = state.pool.clone();
    let attempt = web::block(move || -> Result<Attempt, ApiError> {
        let mut conn = pool.get().map_err(app_models::DbError::from)?;
        match user {
            Some(u) if verified => {
                throttle::succeeded(&mut conn, &username)?;
                record_login_success(&mut conn, u.id)?;
                Ok(Attempt::Accepted {
                    username: u.username,
                    user_id: u.id,
                })
            }
            other => {
                throttle::failed(&mut conn, &throttle, &username, &addr)?;
                if let Some(u) = other {
                    record_login_failure(&mut conn, u.id)?;
                }
                Ok(Attempt::Refused)
            }
        }
    })
    .await??;
    Ok(attempt)
}

/// `POST /login/`: a form (browser) or JSON (API clients) with `username` and `password`.
pub async fn login_submit(
    req: HttpRequest,
    state: web::Data<AppState>,
    q: web::Query<LoginQuery>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let is_json = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.contains("json"))
        .unwrap_or(false);
    let form: Option<LoginForm> = if is_json {
        serde_json::from_slice(&body).ok()
    } else {
        serde_urlencoded::from_bytes(&body).ok()
    };
    let target = safe_target(q.login_url.as_deref());
    let fail = |msg: &str| -> HttpResponse {
        if is_json {
            HttpResponse::Unauthorized().json(json!({"status": 1, "message": msg, "result": {}}))
        } else {
            HttpResponse::Unauthorized()
                .content_type("text/html; charset=utf-8")
                .body(login_page(&target, Some(msg)))
        }
    };
    let Some(form) = form else {
        return Ok(fail("username and password are required"));
    };
    let username = form.username.trim().to_string();
    if username.is_empty()
        || username.len() > 64
        || form.password.is_empty()
        || form.password.len() > 1024
    {
        return Ok(fail("wrong username or password"));
    }
    let addr = client_addr(&state, &req);
    let (user, user_id) = match attempt_login(&state, username, form.password, addr).await? {
        Attempt::Accepted { username, user_id } => (username, user_id),
        Attempt::Refused => return Ok(fail("wrong username or password")),
        Attempt::Throttled { retry_after } => {
            let msg = format!("too many failed logins: try again in {retry_after} seconds");
            let mut resp = fail(&msg);
            *resp.status_mut() = actix_web::http::StatusCode::TOO_MANY_REQUESTS;
            if let Ok(v) = header::HeaderValue::from_str(&retry_after.to_string()) {
                resp.headers_mut().insert(header::RETRY_AFTER, v);
            }
            return Ok(resp);
        }
    };
    let (session, name) = session_cookies(&state, &req, &user, user_id as i64);
    if is_json {
        return Ok(reply::builder()
            .cookie(session)
            .cookie(name)
            .json(reply::body(json!({"username": user}), 0, "登录成功")));
    }
    Ok(HttpResponse::Found()
        .cookie(session)
        .cookie(name)
        .insert_header((header::LOCATION, target))
        .finish())
}

/// `GET|POST /login/api/?token=<user token>`: a session from the user's token.
pub async fn login_api(
    req: HttpRequest,
    state: web::Data<AppState>,
    q: web::Query<LoginQuery>,
) -> Result<HttpResponse, ApiError> {
    let Some(token) = q.token.as_deref() else {
        return Err(ApiError::bad_request("token is required"));
    };
    let token = token.rsplit('|').next().unwrap_or(token);
    let invalid = || {
        HttpResponse::Unauthorized()
            .json(json!({"status": 1, "message": "invalid token", "result": {}}))
    };
    let Some(claims) = app_core::token::verify_user_token(token, &state.keys.token) else {
        return Ok(invalid());
    };
    let Some(ctx) = state.load_ctx(&claims.sub).await? else {
        return Ok(reply::envelope(
            actix_web::http::StatusCode::OK,
            json!({}),
            1,
            "未发现用户",
            &[],
        ));
    };
    if tokens::refusal(&claims, &ctx, state.config.token_ttl_days).is_some() {
        return Ok(invalid());
    }
    let (session, name) = session_cookies(&state, &req, &ctx.username, ctx.user_id as i64);
    Ok(reply::builder()
        .cookie(session)
        .cookie(name)
        .json(reply::body(json!({}), 0, "登录成功")))
}

/// `GET /logout`: clears the cookies and goes back to the login form.
pub async fn logout() -> HttpResponse {
    let mut session = Cookie::build(SESSION_COOKIE, "").path("/").finish();
    session.make_removal();
    let mut name = Cookie::build("myapp_username", "").path("/").finish();
    name.make_removal();
    HttpResponse::Found()
        .cookie(session)
        .cookie(name)
        .insert_header((header::LOCATION, "/login/"))
        .finish()
}

/// Registers `/login/`, `/login/api/` and `/logout`.
pub fn configure(r: &mut Routes<'_>) {
    let page = Answer::Other("text/html");
    r.tag("authentication").public();
    r.redirect_to_slash("/login");
    r.add("GET", "/login/", "The login form", page.clone(), login_form)
        .query = vec![("login_url", "where to go after logging in (same site only)")];
    r.add(
        "POST",
        "/login/",
        "Log in with username and password (form or JSON); sets the session cookie; 429 with Retry-After when throttled",
        Answer::Envelope(json!({"type": "object", "properties": {"username": {"type": "string"}}})),
        login_submit,
    )
    .body = Some(json!({"type": "object", "required": ["username", "password"], "properties": {"username": {"type": "string"}, "password": {"type": "string"}}}));
    for method in ["GET", "POST"] {
        r.add(
            method,
            "/login/api/",
            "A session from the user's token (?token=)",
            Answer::Envelope(json!({})),
            login_api,
        )
        .query = vec![("token", "the user's token")];
    }
    for path in ["/logout", "/logout/"] {
        r.add(
            "GET",
            path,
            "Clears the session and goes to /login/",
            Answer::Other("302 redirect"),
            logout,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirects_stay_on_site() {
        assert_eq!(safe_target(Some("/frontend/x?a=1")), "/frontend/x?a=1");
        assert_eq!(safe_target(Some("//evil.com/x")), "/frontend/");
        assert_eq!(
            safe_target(Some("http://host:8080/frontend/y?b=2")),
            "/frontend/y?b=2"
        );
        assert_eq!(safe_target(Some("javascript:alert(1)")), "/frontend/");
        assert_eq!(safe_target(None), "/frontend/");
    }
}

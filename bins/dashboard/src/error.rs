//! The one error type every handler returns: the original's envelope with `status` 1
//! (or -1), a message and the right HTTP status.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde_json::json;

use crate::reply::envelope;

/// The message of the original for a missing or hidden row.
pub const NOT_FOUND_MESSAGE: &str = "未查询到当前记录，可能是系统缓存未更新，请重试";

/// The error of any handler: a JSON envelope with `status` 1 (or -1), a message, and
/// the right HTTP status; never an HTML page, never a panic.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub http: StatusCode,
    pub code: i64,
    pub message: String,
    pub flash: Option<&'static str>,
}

impl ApiError {
    pub fn new(http: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            http,
            code: 1,
            message: message.into(),
            flash: None,
        }
    }
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }
    pub fn unprocessable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, message).with_flash("error")
    }
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, message)
    }
    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, NOT_FOUND_MESSAGE).with_flash("info")
    }
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, message)
    }
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, message)
    }
    /// The 422 of `check_edit_permission` / `check_delete_permission`.
    pub fn no_permission(what: &str) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("no permission to {what}"),
        )
        .with_flash("warning")
    }
    pub fn with_flash(mut self, category: &'static str) -> Self {
        self.flash = Some(category);
        self
    }
    pub fn with_code(mut self, code: i64) -> Self {
        self.code = code;
        self
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.http.as_u16(), self.message)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.http
    }
    fn error_response(&self) -> HttpResponse {
        let flashes: Vec<(&str, &str)> = self
            .flash
            .map(|c| vec![(c, self.message.as_str())])
            .unwrap_or_default();
        envelope(self.http, json!({}), self.code, &self.message, &flashes)
    }
}

/// Database errors as clients see them: what went wrong in our words, never the
/// database's own text (it names tables, keys and values); that goes to the log.
impl From<diesel::result::Error> for ApiError {
    fn from(e: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind, Error};
        let refused = |message: &str, info: &dyn diesel::result::DatabaseErrorInformation| {
            tracing::info!(database = %info.message(), "write refused by the database");
            ApiError::unprocessable(message.to_string())
        };
        match &e {
            Error::NotFound => ApiError::not_found(),
            Error::DatabaseError(DatabaseErrorKind::UniqueViolation, info) => refused(
                "a record with the same unique value already exists",
                info.as_ref(),
            ),
            Error::DatabaseError(DatabaseErrorKind::ForeignKeyViolation, info) => refused(
                "the record is used by other records, or refers to a record that does not exist",
                info.as_ref(),
            ),
            Error::DatabaseError(DatabaseErrorKind::NotNullViolation, info) => {
                refused("a required value is missing", info.as_ref())
            }
            Error::DatabaseError(DatabaseErrorKind::CheckViolation, info) => {
                refused("a value is not allowed here", info.as_ref())
            }
            Error::DatabaseError(_, info) if is_data_error(info.message()) => refused(
                "a value does not fit its field (too long, out of range, of the wrong type or missing)",
                info.as_ref(),
            ),
            _ => {
                app_models::db::note_error(&e);
                tracing::error!(error = %e, "database error");
                ApiError::unavailable("database error, please retry")
            }
        }
    }
}

fn is_data_error(msg: &str) -> bool {
    [
        "Data too long",
        "Incorrect",
        "Out of range",
        "cannot be null",
        "Truncated",
        "doesn't have a default",
    ]
    .iter()
    .any(|p| msg.contains(p))
}

impl From<app_models::DbError> for ApiError {
    fn from(e: app_models::DbError) -> Self {
        match e {
            app_models::DbError::Query(q) => q.into(),
            other => {
                tracing::warn!(error = %other, "database unavailable");
                ApiError::unavailable("database unavailable, please retry")
            }
        }
    }
}

impl From<actix_web::error::BlockingError> for ApiError {
    fn from(_: actix_web::error::BlockingError) -> Self {
        ApiError::internal("worker pool unavailable")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reply::flashes_header;

    #[test]
    fn flashes_are_ascii_like_python() {
        assert_eq!(flashes_header(&[]), "[]");
        assert_eq!(
            flashes_header(&[("info", NOT_FOUND_MESSAGE)]),
            r#"[["info", "\u672a\u67e5\u8be2\u5230\u5f53\u524d\u8bb0\u5f55\uff0c\u53ef\u80fd\u662f\u7cfb\u7edf\u7f13\u5b58\u672a\u66f4\u65b0\uff0c\u8bf7\u91cd\u8bd5"]]"#
        );
    }
}

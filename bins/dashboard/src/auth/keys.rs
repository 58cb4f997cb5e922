//! The two keys of the dashboard: the session key (signs session cookies) and the token
//! key (signs user tokens). `SECRET_KEY` / `JWT_PASSWORD` set them; otherwise they are
//! generated once (256 random bits) and stored in the database (`app_setting`), so every
//! replica shares them with no configuration. There is no built-in key.

use app_core::Config;
use app_models::security::{replace_setting, setting, setting_or_insert};
use diesel::mysql::MysqlConnection;
use diesel::result::QueryResult;

/// `app_setting` name of the generated session key.
pub const SESSION_KEY: &str = "session_key";
/// `app_setting` name of the generated token key.
pub const TOKEN_KEY: &str = "token_key";

/// The keys in force.
#[derive(Clone)]
pub struct Keys {
    pub session: String,
    pub token: String,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keys { .. }")
    }
}

/// The configured keys, or the stored ones, generating and storing what is missing (the
/// first replica to store a key wins; the others read it).
pub fn load_or_create(conn: &mut MysqlConnection, config: &Config) -> QueryResult<Keys> {
    let mut stored = |name: &str| -> QueryResult<String> {
        match setting(conn, name)? {
            Some(v) if !v.is_empty() => Ok(v),
            _ => {
                let v = setting_or_insert(conn, name, &app_core::token::generate_key())?;
                tracing::info!(
                    key = name,
                    "generated a new key and stored it in the database"
                );
                Ok(v)
            }
        }
    };
    let session = match &config.secret_key {
        Some(k) => k.clone(),
        None => stored(SESSION_KEY)?,
    };
    let token = match &config.jwt_password {
        Some(k) => k.clone(),
        None => stored(TOKEN_KEY)?,
    };
    Ok(Keys { session, token })
}

/// Which key `dashboard keys rotate` replaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    Session,
    Token,
}

impl KeyKind {
    pub fn setting_name(self) -> &'static str {
        match self {
            KeyKind::Session => SESSION_KEY,
            KeyKind::Token => TOKEN_KEY,
        }
    }
}

/// Replaces a stored key with a new random one. Every session (session key) or every
/// user token (token key) signed with the old key stops verifying once the dashboards
/// restart and read it.
pub fn rotate(conn: &mut MysqlConnection, kind: KeyKind) -> QueryResult<()> {
    replace_setting(conn, kind.setting_name(), &app_core::token::generate_key())
}

//! Who is calling: session cookies from `/login/`, `Authorization: <username>|<token>`,
//! a raw HS256 user token, or `Bearer <token>`. A bare username is never enough.
//! The HTTP side (the login form, the middleware) is `crate::http`.

pub mod context;
pub mod keys;
pub mod session;
pub mod throttle;
pub mod tokens;

pub use context::Ctx;

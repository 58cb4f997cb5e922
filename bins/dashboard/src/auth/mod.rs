//! Who is calling: session cookies from `/login/`, `Authorization: <username>|<token>`,
//! a raw HS256 user token, or `Bearer <token>`. A bare username is never enough.

pub mod context;
pub mod login;
pub mod middleware;
pub mod session;

pub use context::Ctx;

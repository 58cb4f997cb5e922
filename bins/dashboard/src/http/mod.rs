//! The HTTP layer around the views: login, the authentication middleware, `/metrics`,
//! the front end's own routes, and the shapes of errors actix answers on its own.

pub mod authenticate;
pub mod frontend;
pub mod login;
pub mod metrics;
pub mod shape;

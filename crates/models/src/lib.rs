//! The cube-studio database: schema, rows, forms, queries and the embedded migrations.
//!
//! Table and column names are identical to cube-studio's MySQL schema, so an existing
//! cube-studio database can be adopted and the front end sees the names it expects.

pub mod dashboard;
pub mod db;
pub mod forms;
pub mod queries;
pub mod rows;
pub mod schema;
pub mod security;
pub mod time;

pub use db::{DbConn, DbError, DbPool};

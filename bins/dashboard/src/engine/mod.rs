//! The generic model-view engine: a view is a declaration ([`view::ModelView`]); the
//! engine derives `_info`, list, show, add, edit, delete, actions, favourites and CSV
//! import/export from it (api.md §1-3), with SQL built only from schema metadata.

pub mod dump;
pub mod fields;
pub mod form;
pub mod info;
pub mod meta;
pub mod models;
pub mod plan;
pub mod query;
pub mod resolve;
pub mod sql;
pub mod view;
pub mod write;

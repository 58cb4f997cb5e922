//! The cube-studio dashboard as a library: the generic model-view engine, the views,
//! authentication, the front-end support routes, and the seed. `main.rs` is the CLI.

pub mod app;
pub mod auth;
pub mod cluster;
pub mod engine;
pub mod frontend;
pub mod icons;
pub mod metrics;
pub mod openapi;
pub mod queue;
pub mod routing;
pub mod seed;
pub mod server;
pub mod views;

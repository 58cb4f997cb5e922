//! The cube-studio dashboard as a library. Modules, lowest layer first; a module imports
//! only from the layers before it (`tests/layering.rs` checks it):
//!
//! 1. `reply`, `error`, `routing`, `icons`, `settings`: answers, the one error type,
//!    the route registrar, menu icons, front-end settings;
//! 2. `auth`: who is calling (context, keys, tokens, sessions, login throttling);
//! 3. `cluster`, `queue`: the Kubernetes client and the worker's queues;
//! 4. `engine`: view declarations, schema metadata, list plans, SQL (no HTTP, no state);
//! 5. `state`: what every handler reaches;
//! 6. `api`: the generic routes of every view; `openapi`; `http`: login, authentication
//!    middleware, metrics, front-end routes, error shapes;
//! 7. `views`: the declarations and their few custom routes;
//! 8. `seed`, `app` (builds the state and registers every route), `server`.

// 1
pub mod error;
pub mod icons;
pub mod reply;
pub mod routing;
pub mod settings;

// 2
pub mod auth;

// 3
pub mod cluster;
pub mod queue;

// 4
pub mod engine;

// 5
pub mod state;

// 6
pub mod api;
pub mod http;
pub mod openapi;

// 7
pub mod views;

// 8
pub mod app;
pub mod seed;
pub mod server;

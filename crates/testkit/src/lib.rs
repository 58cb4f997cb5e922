#![allow(clippy::unwrap_used, clippy::expect_used)] // dev-only crate: tests may panic
//! Test support shared by every crate's tests: a private MariaDB database per test,
//! a fake Kubernetes API server reached through a real kubeconfig, and helpers that
//! start the real binaries as processes.

pub mod db;
pub mod fake_kube;
pub mod fixtures;
mod http1;
pub mod process;
pub mod prometheus;
pub mod rbac;
pub mod webhook;

pub use db::TestDb;

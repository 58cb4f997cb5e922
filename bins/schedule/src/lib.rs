//! `schedule`: the periodic tasks of cube-studio (the Celery beat) — cron pipelines
//! with backfill, expiry, dependencies and concurrency limits, and the housekeeping.
//!
//! Safe with several replicas: run rows have a unique `(pipeline_id, execution_date)`,
//! launches are claimed with a conditional update, and each occurrence of a periodic
//! task is claimed in Redis by one replica.

pub mod context;
pub mod housekeeping;
pub mod periodic;
pub mod plan_state;
pub mod timerun;

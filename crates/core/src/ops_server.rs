//! The small HTTP server of `schedule`, `worker` and `watch`: `/health` and `/metrics`.

use std::sync::Arc;

use actix_web::{App, HttpResponse, HttpServer, web};

use crate::metrics::Metrics;

/// Decides whether the process is healthy; returns the reason when it is not.
pub type HealthCheck = Arc<dyn Fn() -> Result<(), crate::service::Unavailable> + Send + Sync>;

/// Serves `/health` (200 `OK` or 503 with the reason) and `/metrics` until the handle is stopped.
pub fn serve_ops(
    addr: &str,
    metrics: Metrics,
    health: HealthCheck,
) -> std::io::Result<actix_web::dev::Server> {
    let server = HttpServer::new(move || {
        let metrics = metrics.clone();
        let health = health.clone();
        App::new()
            .route(
                "/health",
                web::get().to(move || {
                    let health = health.clone();
                    async move {
                        match health() {
                            Ok(()) => HttpResponse::Ok().content_type("text/plain").body("OK"),
                            Err(reason) => HttpResponse::ServiceUnavailable()
                                .content_type("text/plain")
                                .body(reason.to_string()),
                        }
                    }
                }),
            )
            .route(
                "/metrics",
                web::get().to(move || {
                    let metrics = metrics.clone();
                    async move {
                        HttpResponse::Ok()
                            .content_type("text/plain; version=0.0.4")
                            .body(metrics.render())
                    }
                }),
            )
    })
    .workers(1)
    .disable_signals()
    .bind(addr)?
    .run();
    Ok(server)
}

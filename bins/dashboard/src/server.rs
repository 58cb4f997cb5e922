//! The HTTP server.

use actix_web::{App, HttpResponse, HttpServer, web};
use app_core::Config;

pub async fn serve(config: Config) -> anyhow::Result<()> {
    let addr = config.dashboard_addr.clone();
    tracing::info!(%addr, "dashboard listening");
    HttpServer::new(|| {
        App::new().route(
            "/health",
            web::get().to(|| async { HttpResponse::Ok().body("OK") }),
        )
    })
    .bind(&addr)?
    .run()
    .await?;
    Ok(())
}

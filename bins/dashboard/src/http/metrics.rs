//! `/metrics` of the dashboard (Prometheus text): requests and their latency per route
//! pattern, method and status class, and the database pool, like the other binaries.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{HttpResponse, web};

use crate::state::AppState;

const REQUESTS: &str = "dashboard_requests_total";
const SECONDS_SUM: &str = "dashboard_request_seconds_sum";
const SECONDS_COUNT: &str = "dashboard_request_seconds_count";
const SECONDS_MAX: &str = "dashboard_request_seconds_max";

/// Counts every request under its route pattern (`/users/api/{pk}`, never the raw path,
/// so ids do not make new series; unmatched paths count as `unmatched`).
pub async fn record(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody + 'static>, actix_web::Error> {
    let started = Instant::now();
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let method = req.method().as_str().to_string();
    let res = next.call(req).await?;
    if let Some(state) = state {
        let route = res
            .request()
            .match_pattern()
            .map(|p| route_label(&p))
            .unwrap_or_else(|| "unmatched".to_string());
        let status = format!("{}xx", res.status().as_u16() / 100);
        let elapsed = started.elapsed().as_secs_f64();
        let m = &state.metrics;
        let labels = [
            ("route", route.as_str()),
            ("method", method.as_str()),
            ("status", status.as_str()),
        ];
        m.inc(REQUESTS, "HTTP requests answered", &labels);
        let route_labels = [("route", route.as_str()), ("method", method.as_str())];
        m.inc_by(
            SECONDS_SUM,
            "Total seconds spent answering requests",
            &route_labels,
            elapsed,
        );
        m.inc(SECONDS_COUNT, "Requests timed", &route_labels);
        m.max(
            SECONDS_MAX,
            "Slowest request (seconds)",
            &route_labels,
            elapsed,
        );
    }
    Ok(res)
}

/// A route pattern without the regular expressions of its segments:
/// `/users/api/{pk:\d+}` → `/users/api/{pk}`.
fn route_label(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len());
    let mut in_regex = false;
    let mut depth = 0usize;
    for c in pattern.chars() {
        match c {
            '{' => {
                depth += 1;
                if !in_regex {
                    out.push(c);
                }
            }
            '}' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    in_regex = false;
                    out.push(c);
                }
            }
            ':' if depth == 1 => in_regex = true,
            _ if !in_regex => out.push(c),
            _ => {}
        }
    }
    out
}

/// `GET /metrics`.
pub async fn render(state: web::Data<AppState>) -> HttpResponse {
    let pool = state.pool.state();
    let m = &state.metrics;
    m.set(
        "dashboard_db_pool_connections",
        "Open database connections of the pool",
        &[],
        pool.connections as f64,
    );
    m.set(
        "dashboard_db_pool_idle",
        "Idle database connections of the pool",
        &[],
        pool.idle_connections as f64,
    );
    m.set(
        "dashboard_db_pool_max",
        "Largest size of the database pool",
        &[],
        state.pool.max_size() as f64,
    );
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(m.render())
}

#[cfg(test)]
mod tests {
    #[test]
    fn route_labels_drop_segment_regexes() {
        assert_eq!(
            super::route_label("/users/api/{pk:\\d+}"),
            "/users/api/{pk}"
        );
        assert_eq!(super::route_label("/a/{x:[0-9]{2}}/b/{y}"), "/a/{x}/b/{y}");
        assert_eq!(super::route_label("/plain/"), "/plain/");
    }
}

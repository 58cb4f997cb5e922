//! A fake Prometheus on 127.0.0.1: `/api/v1/query_range` and `/api/v1/query` (GET, or
//! POST with a form body) answer in Prometheus' JSON shape the series a test seeded for
//! the query (matched by a substring of the PromQL), and every query is recorded.

use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;

/// One query as it arrived.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    /// `/api/v1/query_range` or `/api/v1/query`.
    pub path: String,
    /// Every parameter (`query`, `start`, `end`, `step`, `time`).
    pub params: Vec<(String, String)>,
}

impl Query {
    /// The value of parameter `name`.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Default)]
struct Book {
    /// (substring of the PromQL, series) in seeding order; the first match answers.
    series: Vec<(String, Value)>,
    /// Substrings of the PromQL answered with a 400 error.
    failing: Vec<String>,
    queries: Vec<Query>,
}

/// The fake server; it lives as long as the test's runtime.
#[derive(Clone)]
pub struct FakePrometheus {
    /// `http://127.0.0.1:<port>` (what `PROMETHEUS_URL` takes).
    pub url: String,
    book: Arc<Mutex<Book>>,
}

impl FakePrometheus {
    pub async fn start() -> FakePrometheus {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let book: Arc<Mutex<Book>> = Arc::default();
        let shared = book.clone();
        tokio::spawn(async move {
            while let Ok((sock, _)) = listener.accept().await {
                tokio::spawn(serve(sock, shared.clone()));
            }
        });
        FakePrometheus { url, book }
    }

    /// Queries whose PromQL contains `needle` are answered with `series`: for a range
    /// query a list of `{"metric": {...}, "values": [[t, "v"], ...]}`, for an instant
    /// query a list of `{"metric": {...}, "value": [t, "v"]}`.
    pub fn seed(&self, needle: &str, series: Value) {
        self.book
            .lock()
            .unwrap()
            .series
            .push((needle.to_string(), series));
    }

    /// Queries whose PromQL contains `needle` fail with 400 (`bad_data`).
    pub fn fail(&self, needle: &str) {
        self.book.lock().unwrap().failing.push(needle.to_string());
    }

    /// Every query so far, in order.
    pub fn queries(&self) -> Vec<Query> {
        self.book.lock().unwrap().queries.clone()
    }
}

fn answer(book: &Mutex<Book>, q: Query) -> (u16, Value) {
    let mut book = book.lock().unwrap();
    let promql = q.param("query").unwrap_or("").to_string();
    let range = q.path.ends_with("/query_range");
    let known = q.path.ends_with("/query") || range;
    book.queries.push(q);
    if !known {
        return (404, json!({"status": "error", "error": "not found"}));
    }
    if promql.is_empty() || book.failing.iter().any(|n| promql.contains(n.as_str())) {
        return (
            400,
            json!({"status": "error", "errorType": "bad_data", "error": format!("cannot evaluate {promql:?}")}),
        );
    }
    let result = book
        .series
        .iter()
        .find(|(n, _)| promql.contains(n.as_str()))
        .map(|(_, s)| s.clone())
        .unwrap_or_else(|| json!([]));
    let kind = if range { "matrix" } else { "vector" };
    (
        200,
        json!({"status": "success", "data": {"resultType": kind, "result": result}}),
    )
}

fn params(text: &str) -> Vec<(String, String)> {
    url::form_urlencoded::parse(text.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

async fn serve(mut sock: tokio::net::TcpStream, book: Arc<Mutex<Book>>) {
    let mut buf: Vec<u8> = Vec::new();
    while let Some(req) = crate::http1::next_request(&mut sock, &mut buf).await {
        let body = String::from_utf8_lossy(&req.body).to_string();
        let target = req.target().to_string();
        let (path, query) = target.split_once('?').unwrap_or((target.as_str(), ""));
        let mut all = params(query);
        all.extend(params(&body));
        let (status, json) = answer(
            &book,
            Query {
                path: path.to_string(),
                params: all,
            },
        );
        let text = json.to_string();
        let reply = format!(
            "HTTP/1.1 {status} {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{text}",
            if status == 200 { "OK" } else { "Error" },
            text.len()
        );
        if sock.write_all(reply.as_bytes()).await.is_err() {
            return;
        }
    }
}

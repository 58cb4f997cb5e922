//! A local webhook for notification tests: answers 200 to every POST and keeps the
//! JSON bodies.

use std::sync::{Arc, Mutex};

use serde_json::Value;
use tokio::io::AsyncWriteExt;

/// A local webhook: answers 200 to every POST and keeps the JSON bodies.
pub struct Webhook {
    pub url: String,
    pub received: Arc<Mutex<Vec<Value>>>,
}

impl Webhook {
    pub async fn start() -> Webhook {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let received: Arc<Mutex<Vec<Value>>> = Arc::default();
        let store = received.clone();
        tokio::spawn(async move {
            while let Ok((sock, _)) = listener.accept().await {
                let store = store.clone();
                tokio::spawn(serve_connection(sock, store));
            }
        });
        Webhook { url, received }
    }

    pub fn messages(&self) -> Vec<Value> {
        self.received.lock().unwrap().clone()
    }
}

async fn serve_connection(mut sock: tokio::net::TcpStream, store: Arc<Mutex<Vec<Value>>>) {
    let mut buf: Vec<u8> = Vec::new();
    while let Some(req) = crate::http1::next_request(&mut sock, &mut buf).await {
        if let Ok(v) = serde_json::from_slice::<Value>(&req.body) {
            store.lock().unwrap().push(v);
        }
        let reply = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
        if sock.write_all(reply).await.is_err() {
            return;
        }
    }
}

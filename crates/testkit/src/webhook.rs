//! A local webhook for notification tests: answers 200 to every POST and keeps the
//! JSON bodies.

use std::sync::{Arc, Mutex};

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

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
    loop {
        // one request: headers, then Content-Length bytes
        let header_end = loop {
            if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break p + 4;
            }
            let mut chunk = [0u8; 4096];
            match sock.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        };
        let head = String::from_utf8_lossy(&buf[..header_end]).to_lowercase();
        let len: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        while buf.len() < header_end + len {
            let mut chunk = [0u8; 4096];
            match sock.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        if let Ok(v) = serde_json::from_slice::<Value>(&buf[header_end..header_end + len]) {
            store.lock().unwrap().push(v);
        }
        buf.drain(..header_end + len);
        let reply = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
        if sock.write_all(reply).await.is_err() {
            return;
        }
    }
}

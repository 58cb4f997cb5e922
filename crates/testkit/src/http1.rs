//! The request reader of the small test servers (webhook, Prometheus): one HTTP/1.1
//! request at a time off a kept-alive socket, its body by `Content-Length`.

use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

/// One request: the head (request line and headers) and the body.
pub(crate) struct Request {
    pub head: String,
    pub body: Vec<u8>,
}

impl Request {
    /// The request target (`/path?query`).
    pub fn target(&self) -> &str {
        self.head.split_whitespace().nth(1).unwrap_or("/")
    }
}

/// The next request on `sock` (`buf` keeps what was read past it); `None` when the
/// client closed the connection or it failed.
pub(crate) async fn next_request(sock: &mut TcpStream, buf: &mut Vec<u8>) -> Option<Request> {
    let header_end = loop {
        if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break p + 4;
        }
        read_more(sock, buf).await?;
    };
    let head = String::from_utf8_lossy(&buf[..header_end]).to_string();
    let len: usize = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length").then(|| v.trim())
        })
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    while buf.len() < header_end + len {
        read_more(sock, buf).await?;
    }
    let body = buf[header_end..header_end + len].to_vec();
    buf.drain(..header_end + len);
    Some(Request { head, body })
}

async fn read_more(sock: &mut TcpStream, buf: &mut Vec<u8>) -> Option<()> {
    let mut chunk = [0u8; 4096];
    match sock.read(&mut chunk).await {
        Ok(0) | Err(_) => None,
        Ok(n) => {
            buf.extend_from_slice(&chunk[..n]);
            Some(())
        }
    }
}

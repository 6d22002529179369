//! The metrics listener: TCP, one request per connection, answered by the
//! daemon's loop.
//!
//! ```text
//!  accept ──(permit of MAX_CONNECTIONS, else closed at once)──► connection task
//!  connection task: head ≤ http::MAX_HEAD within READ_TIMEOUT
//!      GET /metrics ──(reply tx)──► daemon loop ──text──► written within WRITE_TIMEOUT
//!      anything else ──► 400/404/405/408/431, closed
//! ```
//! A client that sends slowly, sends too much or never reads holds one
//! permit for at most READ_TIMEOUT + SCRAPE_TIMEOUT + WRITE_TIMEOUT.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot, Semaphore};
use tokio::task::JoinHandle;

use super::http::{self, Route};

/// Connections served at once; more are closed when accepted.
pub const MAX_CONNECTIONS: usize = 8;
/// The whole request head must arrive within this.
pub const READ_TIMEOUT: Duration = Duration::from_secs(5);
/// The daemon's loop must answer within this (it may be busy applying a
/// large FIB change).
pub const SCRAPE_TIMEOUT: Duration = Duration::from_secs(10);
/// The response must be taken by the client within this.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// A scrape asked of the daemon's loop: the rendered text comes back.
pub type Scrape = oneshot::Sender<String>;

/// A bound listener; dropping it stops accepting (connections being
/// answered finish).
#[derive(Debug)]
pub struct Listener {
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Listener {
    /// Binds `addr` now (so a bind failure is reported to whoever asked)
    /// and serves it; scrapes go to `scrapes`. Needs a tokio runtime.
    pub fn bind(addr: SocketAddr, scrapes: mpsc::Sender<Scrape>) -> std::io::Result<Listener> {
        // std sets SO_REUSEADDR: a restarted daemon binds again at once.
        let std = std::net::TcpListener::bind(addr)?;
        std.set_nonblocking(true)?;
        let local = std.local_addr()?;
        let listener = TcpListener::from_std(std)?;
        let task = tokio::spawn(accept_loop(listener, scrapes));
        Ok(Listener { addr: local, task })
    }

    /// The address bound (the port chosen, if 0 was asked).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }
}

async fn accept_loop(listener: TcpListener, scrapes: mpsc::Sender<Scrape>) {
    let permits = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                // EMFILE and the like: wait instead of spinning.
                tracing::warn!(error = %e, "metrics listener: accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            tracing::debug!(%peer, "metrics listener: connection limit reached; closed");
            drop(stream);
            continue;
        };
        let scrapes = scrapes.clone();
        tokio::spawn(async move {
            serve(stream, scrapes).await;
            drop(permit);
        });
    }
}

/// Reads one request head: Ok(len) once it ends, Err(None) if it grows
/// past MAX_HEAD, Err(Some) on an I/O error or a close before its end.
async fn read_head(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Result<usize, Option<()>> {
    let mut chunk = [0u8; 1024];
    loop {
        let n = stream.read(&mut chunk).await.map_err(|_| Some(()))?;
        if n == 0 {
            return Err(Some(()));
        }
        // Search from where a terminator could start.
        let from = buf.len().saturating_sub(3);
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = http::head_end(&buf[from..]) {
            return Ok(from + end);
        }
        if buf.len() > http::MAX_HEAD {
            return Err(None);
        }
    }
}

async fn serve(mut stream: TcpStream, scrapes: mpsc::Sender<Scrape>) {
    let mut buf = Vec::with_capacity(1024);
    let (status, body, head_only) =
        match tokio::time::timeout(READ_TIMEOUT, read_head(&mut stream, &mut buf)).await {
            Err(_) => (
                408,
                "request head not received in time\n".to_string(),
                false,
            ),
            Ok(Err(None)) => (431, "request head too large\n".to_string(), false),
            Ok(Err(Some(()))) => return,
            Ok(Ok(len)) => match http::route(&buf[..len]) {
                r @ (Route::Metrics | Route::MetricsHead) => {
                    let head_only = r == Route::MetricsHead;
                    match scrape(&scrapes).await {
                        Some(text) => (200, text, head_only),
                        None => (503, "anycast6d did not answer in time\n".into(), head_only),
                    }
                }
                Route::NotFound => (404, "not found: metrics are at /metrics\n".into(), false),
                Route::MethodNotAllowed => (405, "only GET and HEAD\n".into(), false),
                Route::BadRequest => (400, "not an HTTP/1.x request\n".into(), false),
            },
        };
    let ctype = if status == 200 {
        super::CONTENT_TYPE
    } else {
        "text/plain; charset=utf-8"
    };
    let head = http::response_head(status, ctype, body.len());
    let write = async {
        stream.write_all(head.as_bytes()).await?;
        if !head_only {
            stream.write_all(body.as_bytes()).await?;
        }
        stream.shutdown().await
    };
    let _ = tokio::time::timeout(WRITE_TIMEOUT, write).await;
}

async fn scrape(scrapes: &mpsc::Sender<Scrape>) -> Option<String> {
    let (tx, rx) = oneshot::channel();
    let asked = async {
        scrapes.send(tx).await.ok()?;
        rx.await.ok()
    };
    tokio::time::timeout(SCRAPE_TIMEOUT, asked)
        .await
        .ok()
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fake daemon loop answering every scrape with `text`.
    fn answering(text: &'static str) -> mpsc::Sender<Scrape> {
        let (tx, mut rx) = mpsc::channel::<Scrape>(4);
        tokio::spawn(async move {
            while let Some(reply) = rx.recv().await {
                let _ = reply.send(text.to_string());
            }
        });
        tx
    }

    async fn exchange(addr: SocketAddr, req: &[u8]) -> String {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(req).await.unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).await.unwrap();
        out
    }

    #[tokio::test]
    async fn answers_metrics_and_refuses_the_rest() {
        let l = Listener::bind("127.0.0.1:0".parse().unwrap(), answering("x 1\n# EOF\n")).unwrap();
        let a = l.local_addr();
        let ok = exchange(a, b"GET /metrics HTTP/1.1\r\nHost: a\r\n\r\n").await;
        assert!(ok.starts_with("HTTP/1.1 200 OK\r\n"), "{ok}");
        assert!(ok.contains("Content-Length: 10\r\n"), "{ok}");
        assert!(ok.ends_with("\r\n\r\nx 1\n# EOF\n"), "{ok}");
        let head = exchange(a, b"HEAD /metrics HTTP/1.1\r\n\r\n").await;
        assert!(head.ends_with("Connection: close\r\n\r\n"), "{head}");
        let nf = exchange(a, b"GET / HTTP/1.1\r\n\r\n").await;
        assert!(nf.starts_with("HTTP/1.1 404 "), "{nf}");
        let bad = exchange(a, b"hello\r\n\r\n").await;
        assert!(bad.starts_with("HTTP/1.1 400 "), "{bad}");
        let mut big = b"GET /metrics HTTP/1.1\r\nX: ".to_vec();
        big.extend(std::iter::repeat_n(b'a', http::MAX_HEAD + 10));
        let long = exchange(a, &big).await;
        assert!(long.starts_with("HTTP/1.1 431 "), "{long}");
    }

    #[tokio::test]
    async fn a_dead_loop_gets_503_not_a_hang() {
        let (tx, rx) = mpsc::channel::<Scrape>(1);
        drop(rx);
        let l = Listener::bind("127.0.0.1:0".parse().unwrap(), tx).unwrap();
        let r = exchange(l.local_addr(), b"GET /metrics HTTP/1.0\r\n\r\n").await;
        assert!(r.starts_with("HTTP/1.1 503 "), "{r}");
    }

    #[tokio::test]
    async fn a_second_bind_of_the_same_address_fails() {
        let l = Listener::bind("127.0.0.1:0".parse().unwrap(), answering("")).unwrap();
        let e = Listener::bind(l.local_addr(), answering("")).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::AddrInUse);
        drop(l);
    }
}

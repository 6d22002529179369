//! The daemon side of the management socket.
//!
//! ```text
//!  client ──line──► connection task ──(Request, reply tx)──► daemon loop
//!  client ◄─line─── connection task ◄──────── Response ───────┘
//! ```
//! Connection tasks only parse and forward: every request is handled in
//! order by the daemon's single event loop, which owns all state.

use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{mpsc, oneshot};

use super::proto::{parse_request, Request, Response};
use crate::ControlError;

/// A request with the way back to its connection.
pub type Incoming = (Request, oneshot::Sender<Response>);

/// Longest request line accepted.
const MAX_LINE: usize = 64 * 1024;

/// Binds `path` (mode 0600; its directory is created 0700 if missing) and
/// serves it. Refuses to steal the socket of a daemon that still answers.
pub fn serve(path: &Path) -> Result<mpsc::Receiver<Incoming>, ControlError> {
    let err = |source| ControlError::MgmtSocket {
        path: path.to_path_buf(),
        source,
    };
    if let Some(dir) = path.parent() {
        if !dir.exists() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(err)?;
        }
    }
    if path.exists() {
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            return Err(err(std::io::Error::new(
                std::io::ErrorKind::AddrInUse,
                "another anycast6d answers on this socket",
            )));
        }
        std::fs::remove_file(path).map_err(err)?;
    }
    let listener = UnixListener::bind(path).map_err(err)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(err)?;
    let (tx, rx) = mpsc::channel(16);
    tokio::spawn(accept_loop(listener, tx, path.to_path_buf()));
    Ok(rx)
}

async fn accept_loop(listener: UnixListener, tx: mpsc::Sender<Incoming>, path: PathBuf) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                tokio::spawn(connection(stream, tx.clone()));
            }
            Err(e) => {
                tracing::warn!(socket = %path.display(), error = %e, "mgmt accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        }
        if tx.is_closed() {
            break;
        }
    }
}

async fn connection(stream: UnixStream, tx: mpsc::Sender<Incoming>) {
    let (rd, mut wr) = stream.into_split();
    let mut lines = BufReader::new(rd);
    let mut line = String::new();
    loop {
        line.clear();
        match lines.read_line(&mut line).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let resp = if line.len() > MAX_LINE {
            Response::error(format!("bad request: longer than {MAX_LINE} bytes"))
        } else if line.trim().is_empty() {
            continue;
        } else {
            match parse_request(line.trim()) {
                Err(resp) => resp,
                Ok(req) => {
                    let (rtx, rrx) = oneshot::channel();
                    if tx.send((req, rtx)).await.is_err() {
                        return;
                    }
                    rrx.await
                        .unwrap_or_else(|_| Response::error("anycast6d is shutting down"))
                }
            }
        };
        let mut out = resp.to_line();
        out.push('\n');
        if wr.write_all(out.as_bytes()).await.is_err() {
            return;
        }
    }
}

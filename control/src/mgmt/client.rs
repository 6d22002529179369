//! Blocking client: one request, one response.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use super::proto::{Request, Response};

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("anycast6d is not running (nothing listens on {path}: {source})")]
    DaemonUnreachable {
        path: String,
        source: std::io::Error,
    },
    #[error("talking to anycast6d on {path}: {source}")]
    SocketIo {
        path: String,
        source: std::io::Error,
    },
    #[error("anycast6d on {path} sent a reply that is not JSON: {reason}")]
    ReplyInvalid { path: String, reason: String },
}

/// How long a request may take: a reload resolves neighbours and rewrites
/// the FIB, which takes seconds at most.
const TIMEOUT: Duration = Duration::from_secs(60);

pub fn request(socket: &Path, req: &Request) -> Result<Response, ClientError> {
    exchange(socket, req, None)
}

/// One request whose reply the daemon sends just before it exits: returns
/// once the connection closes too (the process is gone), or after `wait`.
pub fn request_until_closed(
    socket: &Path,
    req: &Request,
    wait: Duration,
) -> Result<Response, ClientError> {
    exchange(socket, req, Some(wait))
}

fn exchange(
    socket: &Path,
    req: &Request,
    until_closed: Option<Duration>,
) -> Result<Response, ClientError> {
    let path = socket.display().to_string();
    let stream = UnixStream::connect(socket).map_err(|source| ClientError::DaemonUnreachable {
        path: path.clone(),
        source,
    })?;
    let io = |source| ClientError::SocketIo {
        path: path.clone(),
        source,
    };
    stream.set_read_timeout(Some(TIMEOUT)).map_err(io)?;
    let mut line = serde_json::to_string(req).expect("requests always encode");
    line.push('\n');
    (&stream).write_all(line.as_bytes()).map_err(io)?;
    let mut reply = String::new();
    let mut rd = BufReader::new(&stream);
    rd.read_line(&mut reply).map_err(io)?;
    if let Some(wait) = until_closed {
        stream.set_read_timeout(Some(wait)).map_err(io)?;
        // Nothing more comes: EOF (the process exited) or the timeout.
        let _ = std::io::Read::read_to_end(&mut rd, &mut Vec::new());
    }
    serde_json::from_str(&reply).map_err(|e| ClientError::ReplyInvalid {
        path: path.clone(),
        reason: if reply.is_empty() {
            "empty reply (the daemon closed the connection)".into()
        } else {
            e.to_string()
        },
    })
}

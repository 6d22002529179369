//! The systemd notification protocol (sd_notify(3)), spoken by hand: one
//! datagram of `KEY=VALUE` lines to the socket `$NOTIFY_SOCKET` names (a
//! path, or `@name` in the abstract namespace). anycast6d sends `READY=1`
//! once the FIB is in sync and the management socket listens,
//! `RELOADING=1` / `READY=1` around a SIGHUP reload, `WATCHDOG=1` every
//! half `$WATCHDOG_USEC` from its event loop (so a loop that hangs stops
//! them and systemd restarts the service), `STATUS=` lines, and
//! `STOPPING=1` on the way out. Without `$NOTIFY_SOCKET` it does nothing.

use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::time::Duration;

pub struct Notifier {
    sock: Option<(UnixDatagram, SocketAddr)>,
    watchdog: Option<Duration>,
}

impl Notifier {
    /// From the environment systemd sets (`NOTIFY_SOCKET`, `WATCHDOG_USEC`
    /// and `WATCHDOG_PID`, which must be this process if set).
    pub fn from_env() -> Notifier {
        let sock = std::env::var("NOTIFY_SOCKET")
            .ok()
            .filter(|s| !s.is_empty())
            .and_then(|s| match open(&s) {
                Ok(x) => Some(x),
                Err(e) => {
                    tracing::warn!(socket = %s, error = %e, "NOTIFY_SOCKET unusable: systemd gets no notifications");
                    None
                }
            });
        let ours = std::env::var("WATCHDOG_PID")
            .ok()
            .is_none_or(|p| p.trim() == std::process::id().to_string());
        let watchdog = std::env::var("WATCHDOG_USEC")
            .ok()
            .and_then(|u| u.trim().parse::<u64>().ok())
            .filter(|&u| u > 0 && ours)
            .map(Duration::from_micros);
        Notifier { sock, watchdog }
    }

    /// How often to send `WATCHDOG=1`: half the watchdog time.
    pub fn watchdog_interval(&self) -> Option<Duration> {
        self.sock.as_ref()?;
        self.watchdog.map(|w| (w / 2).max(Duration::from_millis(1)))
    }

    /// Sends one message (lines `KEY=VALUE`); errors are logged, not fatal.
    pub fn send(&self, msg: &str) {
        if let Some((s, addr)) = &self.sock {
            if let Err(e) = s.send_to_addr(msg.as_bytes(), addr) {
                tracing::debug!(error = %e, "sd_notify");
            }
        }
    }

    pub fn ready(&self, status: &str) {
        self.send(&format!(
            "READY=1\nSTATUS={}\nMAINPID={}",
            one_line(status),
            std::process::id()
        ));
    }

    pub fn status(&self, status: &str) {
        self.send(&format!("STATUS={}", one_line(status)));
    }
}

fn one_line(s: &str) -> String {
    s.replace('\n', " ")
}

fn open(name: &str) -> std::io::Result<(UnixDatagram, SocketAddr)> {
    let addr = match name.strip_prefix('@') {
        Some(abs) => {
            use std::os::linux::net::SocketAddrExt;
            SocketAddr::from_abstract_name(abs.as_bytes())?
        }
        None => SocketAddr::from_pathname(name)?,
    };
    Ok((UnixDatagram::unbound()?, addr))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_reach_a_path_socket() {
        let dir = std::env::temp_dir().join(format!("a6-notify-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let path = dir.join("notify.sock");
        let _ = std::fs::remove_file(&path);
        let rx = UnixDatagram::bind(&path).unwrap();
        let (sock, addr) = open(path.to_str().unwrap()).unwrap();
        let n = Notifier {
            sock: Some((sock, addr)),
            watchdog: Some(Duration::from_millis(500)),
        };
        assert_eq!(n.watchdog_interval(), Some(Duration::from_millis(250)));
        n.ready("FIB in sync\n2 groups");
        let mut buf = [0u8; 256];
        let len = rx.recv(&mut buf).unwrap();
        let msg = std::str::from_utf8(&buf[..len]).unwrap();
        assert_eq!(
            msg,
            format!(
                "READY=1\nSTATUS=FIB in sync 2 groups\nMAINPID={}",
                std::process::id()
            )
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn abstract_names_are_accepted() {
        let name = format!("a6-notify-test-{}", std::process::id());
        use std::os::linux::net::SocketAddrExt;
        let rx = UnixDatagram::bind_addr(&SocketAddr::from_abstract_name(name.as_bytes()).unwrap())
            .unwrap();
        let (sock, addr) = open(&format!("@{name}")).unwrap();
        Notifier {
            sock: Some((sock, addr)),
            watchdog: None,
        }
        .send("WATCHDOG=1");
        let mut buf = [0u8; 64];
        let len = rx.recv(&mut buf).unwrap();
        assert_eq!(&buf[..len], b"WATCHDOG=1");
    }

    #[test]
    fn no_socket_no_watchdog() {
        let n = Notifier {
            sock: None,
            watchdog: Some(Duration::from_secs(1)),
        };
        assert_eq!(n.watchdog_interval(), None);
        n.send("READY=1");
    }
}

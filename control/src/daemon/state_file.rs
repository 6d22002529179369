//! The daemon's state file: runtime overlays (member add/remove/drain), so
//! a restarted daemon installs exactly what was running and rewrites
//! nothing; and, after `anycast6ctl shutdown --graceful`, the graceful
//! restart in progress (what AOSPF left in the kernel and had taught the
//! RIB, and until when). Written atomically (temporary file + rename).
//!
//! Still version 1: `graceful_restart` is optional, absent from files
//! written before it existed, and ignored by daemons that predate it
//! (they start as after a crash).

use std::net::Ipv6Addr;
use std::path::Path;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use super::kernel_routes::Installed;
use crate::proto::{RibEntry, Source};
use crate::rib::overlay::Overlays;
use crate::ControlError;

const VERSION: u32 = 1;

#[derive(Serialize, Deserialize)]
struct StateFile {
    version: u32,
    overlays: Overlays,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    graceful_restart: Option<GracefulRestart>,
}

/// What a state file holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Saved {
    pub overlays: Overlays,
    pub graceful_restart: Option<GracefulRestart>,
}

/// A planned restart in progress: what the old process left for the new
/// one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GracefulRestart {
    /// Unix time (seconds) the grace period ends, as the old process
    /// announced it; a start after that is an ordinary one.
    pub until_unix: u64,
    /// AOSPF's kernel routes (protocol 0xa6), left in place.
    pub aospf_routes: Vec<SavedRoute>,
    /// The anycast members AOSPF had taught the RIB.
    pub aospf_members: Vec<SavedMember>,
}

/// A kernel route: what deleting it must name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct SavedRoute {
    pub prefix: Ipv6Addr,
    pub plen: u8,
    /// As the kernel holds it (0 is stored as 1024).
    pub metric: u32,
}

/// A RIB candidate a protocol taught.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedMember {
    pub anycast: Ipv6Addr,
    pub next_hop: Ipv6Addr,
    pub ifindex: u32,
    pub metric: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member_unicast: Option<Ipv6Addr>,
}

/// Now, in Unix milliseconds.
fn unix_ms(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl GracefulRestart {
    /// Announced at `at` for `period`, with what AOSPF leaves.
    pub fn new(
        at: SystemTime,
        period: Duration,
        routes: &Installed,
        members: Vec<RibEntry>,
    ) -> GracefulRestart {
        GracefulRestart {
            // Rounded down: our period never outlasts the helpers'.
            until_unix: (unix_ms(at) + period.as_millis() as u64) / 1000,
            aospf_routes: routes
                .iter()
                .map(|(&(prefix, plen), &metric)| SavedRoute {
                    prefix,
                    plen,
                    metric,
                })
                .collect(),
            aospf_members: members
                .into_iter()
                .map(|e| SavedMember {
                    anycast: e.anycast,
                    next_hop: e.next_hop,
                    ifindex: e.ifindex,
                    metric: e.metric,
                    member_unicast: e.member_unicast,
                })
                .collect(),
        }
    }

    /// How long the grace period still runs at `now` (None: over).
    pub fn remaining(&self, now: SystemTime) -> Option<Duration> {
        let left = (self.until_unix * 1000).checked_sub(unix_ms(now))?;
        (left > 0).then(|| Duration::from_millis(left))
    }

    /// The saved routes as the route writer holds them.
    pub fn routes(&self) -> Installed {
        self.aospf_routes
            .iter()
            .map(|r| ((r.prefix, r.plen), r.metric))
            .collect()
    }

    /// The saved members as RIB changes of AOSPF.
    pub fn members(&self) -> Vec<RibEntry> {
        self.aospf_members
            .iter()
            .map(|m| RibEntry {
                anycast: m.anycast,
                next_hop: m.next_hop,
                ifindex: m.ifindex,
                metric: m.metric,
                member_unicast: m.member_unicast,
                source: Source::Aospf,
            })
            .collect()
    }
}

fn err(path: &Path, reason: impl ToString) -> ControlError {
    ControlError::StateFile {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    }
}

/// What was saved; nothing if the file does not exist.
pub fn load(path: &Path) -> Result<Saved, ControlError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Saved::default()),
        Err(e) => return Err(err(path, e)),
    };
    let f: StateFile = serde_json::from_str(&text).map_err(|e| err(path, e))?;
    if f.version != VERSION {
        return Err(err(
            path,
            format!("version {} (this anycast6d reads {VERSION})", f.version),
        ));
    }
    Ok(Saved {
        overlays: f.overlays,
        graceful_restart: f.graceful_restart,
    })
}

/// Writes the overlays and, on a graceful exit, the restart in progress
/// (any other write drops it: it is read once, by the next start).
pub fn save(
    path: &Path,
    overlays: &Overlays,
    graceful_restart: Option<&GracefulRestart>,
) -> Result<(), ControlError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| err(path, e))?;
    }
    let f = StateFile {
        version: VERSION,
        overlays: overlays.clone(),
        graceful_restart: graceful_restart.cloned(),
    };
    let text = serde_json::to_string_pretty(&f).map_err(|e| err(path, e))?;
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text + "\n").map_err(|e| err(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| err(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_missing_file() {
        let dir = std::env::temp_dir().join(format!("a6-state-{}", std::process::id()));
        let path = dir.join("s.json");
        assert_eq!(load(&path).unwrap(), Saved::default());
        let mut o = Overlays::default();
        o.removed.push(crate::rib::overlay::MemberRef {
            group: anycast6_dataplane::Route::Host("2001:db8:ac::1".parse().unwrap()),
            address: "2001:db8::10".parse().unwrap(),
            interface: Some("eth1".into()),
        });
        save(&path, &o, None).unwrap();
        assert_eq!(load(&path).unwrap().overlays, o);
        assert!(!std::fs::read_to_string(&path)
            .unwrap()
            .contains("graceful_restart"));
        std::fs::write(&path, "{").unwrap();
        assert!(load(&path).unwrap_err().to_string().contains("s.json"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_file_of_before_graceful_restart_still_loads() {
        let dir = std::env::temp_dir().join(format!("a6-state-old-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("s.json");
        std::fs::write(
            &path,
            r#"{"version":1,"overlays":{"added":[],"removed":[],"states":[]}}"#,
        )
        .unwrap();
        let s = load(&path).unwrap();
        assert_eq!(s.graceful_restart, None);
        assert!(s.overlays.is_empty());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn graceful_restart_round_trip_and_expiry() {
        let dir = std::env::temp_dir().join(format!("a6-state-gr-{}", std::process::id()));
        let path = dir.join("s.json");
        let at = SystemTime::UNIX_EPOCH + Duration::from_millis(1_700_000_000_700);
        let mut routes = Installed::new();
        routes.insert(("2001:db8:ff::f".parse().unwrap(), 128), 20);
        routes.insert(("2001:db8:1::".parse().unwrap(), 64), 1024);
        let member = RibEntry {
            anycast: "2001:db8:ac::1".parse().unwrap(),
            next_hop: "fe80::2".parse().unwrap(),
            ifindex: 7,
            metric: 30,
            member_unicast: None,
            source: Source::Aospf,
        };
        let gr = GracefulRestart::new(at, Duration::from_secs(120), &routes, vec![member.clone()]);
        // 1_700_000_000.7 + 120, rounded down.
        assert_eq!(gr.until_unix, 1_700_000_120);
        save(&path, &Overlays::default(), Some(&gr)).unwrap();
        let back = load(&path).unwrap().graceful_restart.unwrap();
        assert_eq!(back, gr);
        assert_eq!(back.routes(), routes);
        assert_eq!(back.members(), vec![member]);
        assert_eq!(
            back.remaining(at + Duration::from_secs(100)),
            Some(Duration::from_millis(19_300))
        );
        assert_eq!(back.remaining(at + Duration::from_millis(119_300)), None);
        assert_eq!(back.remaining(at + Duration::from_secs(500)), None);
        // The next ordinary save drops it.
        save(&path, &Overlays::default(), None).unwrap();
        assert_eq!(load(&path).unwrap().graceful_restart, None);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

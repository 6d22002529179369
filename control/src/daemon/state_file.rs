//! The daemon's state file: runtime overlays (member add/remove/drain), so
//! a restarted daemon installs exactly what was running and rewrites
//! nothing. Written atomically (temporary file + rename).

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::rib::overlay::Overlays;
use crate::ControlError;

const VERSION: u32 = 1;

#[derive(Serialize, Deserialize)]
struct StateFile {
    version: u32,
    overlays: Overlays,
}

fn err(path: &Path, reason: impl ToString) -> ControlError {
    ControlError::StateFile {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    }
}

/// The saved overlays; none if the file does not exist.
pub fn load(path: &Path) -> Result<Overlays, ControlError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Overlays::default()),
        Err(e) => return Err(err(path, e)),
    };
    let f: StateFile = serde_json::from_str(&text).map_err(|e| err(path, e))?;
    if f.version != VERSION {
        return Err(err(
            path,
            format!("version {} (this anycast6d reads {VERSION})", f.version),
        ));
    }
    Ok(f.overlays)
}

pub fn save(path: &Path, overlays: &Overlays) -> Result<(), ControlError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| err(path, e))?;
    }
    let f = StateFile {
        version: VERSION,
        overlays: overlays.clone(),
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
        assert_eq!(load(&path).unwrap(), Overlays::default());
        let mut o = Overlays::default();
        o.removed.push(crate::rib::overlay::MemberRef {
            group: anycast6_dataplane::Route::Host("2001:db8:ac::1".parse().unwrap()),
            address: "2001:db8::10".parse().unwrap(),
            interface: Some("eth1".into()),
        });
        save(&path, &o).unwrap();
        assert_eq!(load(&path).unwrap(), o);
        std::fs::write(&path, "{").unwrap();
        assert!(load(&path).unwrap_err().to_string().contains("s.json"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

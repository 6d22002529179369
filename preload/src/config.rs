//! The preload's settings: a small line-based file plus environment
//! overrides, read once per process.
//!
//! ```text
//! # anycast destinations, one prefix or address a line
//! 2001:db8:a::/48
//! 2001:db8::53
//! key = 1:a-secret-of-16-bytes-or-more   # repeatable; the first one signs
//! fallback = direct                      # or fail (EHOSTUNREACH)
//! timeout_ms = 300
//! retries = 2
//! port = 5360
//! rfc2526 = on                           # or off
//! ```
//!
//! The file is all-or-nothing: one bad line and the whole configuration is
//! refused (the hooks then pass everything through untouched), with an
//! error naming the file and line.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::anycast::{AnycastSet, Prefix, PrefixError};

pub const DEFAULT_PATH: &str = "/etc/anycast6/aarp.conf";

/// Environment variables read by the preload.
pub mod env {
    pub const CONFIG: &str = "ANYCAST6_AARP_CONFIG";
    pub const ANYCAST: &str = "ANYCAST6_AARP_ANYCAST";
    pub const KEY: &str = "ANYCAST6_AARP_KEY";
    pub const FALLBACK: &str = "ANYCAST6_AARP_FALLBACK";
    pub const TIMEOUT_MS: &str = "ANYCAST6_AARP_TIMEOUT_MS";
    pub const RETRIES: &str = "ANYCAST6_AARP_RETRIES";
    pub const DEBUG: &str = "ANYCAST6_AARP_DEBUG";
}

/// Same floor as the daemon's keys (docs/config.md).
pub const MIN_SECRET_LEN: usize = 16;
pub const MAX_TIMEOUT_MS: u64 = 60_000;
pub const MAX_RETRIES: u32 = 100;

/// What to do when no member could be resolved.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Fallback {
    /// Use the anycast address itself, as if the preload were absent.
    #[default]
    Direct,
    /// Fail the call with EHOSTUNREACH.
    Fail,
}

impl fmt::Display for Fallback {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Fallback::Direct => "direct",
            Fallback::Fail => "fail",
        })
    }
}

/// A keyring entry as configured (turned into an AARP key by the resolver).
#[derive(Clone, PartialEq, Eq)]
pub struct KeySpec {
    pub id: u16,
    pub secret: Vec<u8>,
}

impl fmt::Debug for KeySpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print the secret.
        f.debug_struct("KeySpec")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub anycast: AnycastSet,
    pub keys: Vec<KeySpec>,
    pub fallback: Fallback,
    /// Per-try timeout; `None`: the AARP client's default.
    pub timeout: Option<Duration>,
    /// `None`: the AARP client's default.
    pub retries: Option<u32>,
    /// AARP server port; `None`: the AARP client's default (5360).
    pub port: Option<u16>,
    pub debug: bool,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            anycast: AnycastSet::new(Vec::new(), true),
            keys: Vec::new(),
            fallback: Fallback::Direct,
            timeout: None,
            retries: None,
            port: None,
            debug: false,
        }
    }
}

/// What is wrong with one setting, wherever it came from.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    #[error(transparent)]
    PrefixInvalid(#[from] PrefixError),
    #[error("key `{0}` is not ID:SECRET with ID 0..=65535")]
    KeyInvalid(String),
    #[error("key secret is shorter than {MIN_SECRET_LEN} bytes (too easy to guess)")]
    SecretTooShort,
    #[error("fallback `{0}` is neither `direct` nor `fail`")]
    FallbackInvalid(String),
    #[error("{name} `{value}` is not an integer {min}..={max}")]
    NumberInvalid {
        name: &'static str,
        value: String,
        min: u64,
        max: u64,
    },
    #[error("`{0}` is neither on nor off")]
    SwitchInvalid(String),
    #[error("unknown setting `{0}` (expected key, fallback, timeout_ms, retries, port, rfc2526)")]
    SettingUnknown(String),
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{}: {source}", path.display())]
    FileUnreadable {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}:{line}: {source}", path.display())]
    LineInvalid {
        path: PathBuf,
        line: usize,
        source: ValueError,
    },
    #[error("{var}: {source}")]
    EnvInvalid {
        var: &'static str,
        source: ValueError,
    },
}

impl Config {
    /// Parses a configuration file's text; `path` only names it in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let mut cfg = Config::default();
        let mut prefixes = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let line = raw.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            cfg.parse_line(line, &mut prefixes)
                .map_err(|source| ConfigError::LineInvalid {
                    path: path.to_path_buf(),
                    line: i + 1,
                    source,
                })?;
        }
        cfg.anycast = AnycastSet::new(prefixes, cfg.anycast.rfc2526());
        Ok(cfg)
    }

    fn parse_line(&mut self, line: &str, prefixes: &mut Vec<Prefix>) -> Result<(), ValueError> {
        let Some((name, value)) = line.split_once('=') else {
            prefixes.push(line.parse()?);
            return Ok(());
        };
        let value = value.trim();
        match name.trim() {
            "key" => self.keys.push(parse_key(value)?),
            "fallback" => self.fallback = parse_fallback(value)?,
            "timeout_ms" => self.timeout = Some(parse_timeout(value)?),
            "retries" => self.retries = Some(parse_number("retries", value, 0, MAX_RETRIES)?),
            "port" => self.port = Some(parse_number("port", value, 1, u16::MAX)?),
            "rfc2526" => {
                let on = match value {
                    "on" | "yes" | "true" => true,
                    "off" | "no" | "false" => false,
                    other => return Err(ValueError::SwitchInvalid(other.to_string())),
                };
                // The prefixes are collected by `parse` and set at the end.
                self.anycast = AnycastSet::new(Vec::new(), on);
            }
            other => return Err(ValueError::SettingUnknown(other.to_string())),
        }
        Ok(())
    }

    /// The process's configuration: the file (`ANYCAST6_AARP_CONFIG`, else
    /// [`DEFAULT_PATH`] if it exists) with the environment on top. `var`
    /// reads one environment variable (a parameter so tests need no real
    /// environment).
    pub fn load(var: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let mut cfg = match var(env::CONFIG) {
            Some(path) => Config::read(Path::new(&path))?,
            None if Path::new(DEFAULT_PATH).exists() => Config::read(Path::new(DEFAULT_PATH))?,
            None => Config::default(),
        };
        cfg.apply_env(var)?;
        Ok(cfg)
    }

    fn read(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::FileUnreadable {
            path: path.to_path_buf(),
            source,
        })?;
        Config::parse(&text, path)
    }

    /// Environment overrides: `ANYCAST6_AARP_ANYCAST` adds destinations,
    /// `ANYCAST6_AARP_KEY` replaces the file's keys, the others replace the
    /// file's setting. Empty variables are ignored.
    pub fn apply_env(&mut self, var: impl Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
        let get = |name| var(name).filter(|v| !v.trim().is_empty());
        let wrap = |var| move |source| ConfigError::EnvInvalid { var, source };
        if let Some(list) = get(env::ANYCAST) {
            let mut prefixes = self.anycast.prefixes().to_vec();
            for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                prefixes.push(
                    item.parse()
                        .map_err(|e| wrap(env::ANYCAST)(ValueError::from(e)))?,
                );
            }
            self.anycast = AnycastSet::new(prefixes, self.anycast.rfc2526());
        }
        if let Some(v) = get(env::KEY) {
            self.keys = vec![parse_key(v.trim()).map_err(wrap(env::KEY))?];
        }
        if let Some(v) = get(env::FALLBACK) {
            self.fallback = parse_fallback(v.trim()).map_err(wrap(env::FALLBACK))?;
        }
        if let Some(v) = get(env::TIMEOUT_MS) {
            self.timeout = Some(parse_timeout(v.trim()).map_err(wrap(env::TIMEOUT_MS))?);
        }
        if let Some(v) = get(env::RETRIES) {
            self.retries = Some(
                parse_number("retries", v.trim(), 0, MAX_RETRIES).map_err(wrap(env::RETRIES))?,
            );
        }
        self.debug = get(env::DEBUG).is_some_and(|v| v.trim() != "0");
        Ok(())
    }
}

fn parse_key(value: &str) -> Result<KeySpec, ValueError> {
    let (id, secret) = value
        .split_once(':')
        .ok_or_else(|| ValueError::KeyInvalid(redact(value)))?;
    let id = id
        .trim()
        .parse::<u16>()
        .map_err(|_| ValueError::KeyInvalid(redact(value)))?;
    if secret.len() < MIN_SECRET_LEN {
        return Err(ValueError::SecretTooShort);
    }
    Ok(KeySpec {
        id,
        secret: secret.as_bytes().to_vec(),
    })
}

/// Errors name the key id part only: a secret never reaches stderr.
fn redact(value: &str) -> String {
    match value.split_once(':') {
        Some((id, _)) => format!("{id}:…"),
        None => "…".to_string(),
    }
}

fn parse_fallback(value: &str) -> Result<Fallback, ValueError> {
    match value {
        "direct" => Ok(Fallback::Direct),
        "fail" => Ok(Fallback::Fail),
        other => Err(ValueError::FallbackInvalid(other.to_string())),
    }
}

fn parse_timeout(value: &str) -> Result<Duration, ValueError> {
    parse_number("timeout_ms", value, 1, MAX_TIMEOUT_MS).map(Duration::from_millis)
}

fn parse_number<T>(name: &'static str, value: &str, min: T, max: T) -> Result<T, ValueError>
where
    T: std::str::FromStr + PartialOrd + Copy + Into<u64>,
{
    value
        .parse::<T>()
        .ok()
        .filter(|n| *n >= min && *n <= max)
        .ok_or_else(|| ValueError::NumberInvalid {
            name,
            value: value.to_string(),
            min: min.into(),
            max: max.into(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, Path::new("aarp.conf"))
    }

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn full_file_parses() {
        let cfg = parse(
            "# anycast services\n\
             2001:db8:a::/48\n\
             \n\
             2001:db8::53   # dns\n\
             key = 7:0123456789abcdef-x\n\
             key=8:fedcba9876543210\n\
             fallback = fail\n\
             timeout_ms = 250\n\
             retries = 3\n\
             port = 5361\n\
             rfc2526 = off\n",
        )
        .unwrap();
        let prefixes: Vec<String> = cfg
            .anycast
            .prefixes()
            .iter()
            .map(|p| p.to_string())
            .collect();
        assert_eq!(prefixes, ["2001:db8:a::/48", "2001:db8::53/128"]);
        assert!(!cfg.anycast.rfc2526());
        assert_eq!(cfg.keys.len(), 2);
        assert_eq!(cfg.keys[0].id, 7);
        assert_eq!(cfg.keys[0].secret, b"0123456789abcdef-x");
        assert_eq!(cfg.fallback, Fallback::Fail);
        assert_eq!(cfg.timeout, Some(Duration::from_millis(250)));
        assert_eq!(cfg.retries, Some(3));
        assert_eq!(cfg.port, Some(5361));
        assert!(!cfg.debug);
    }

    #[test]
    fn defaults_when_empty() {
        let cfg = parse("# nothing\n\n").unwrap();
        assert_eq!(cfg, Config::default());
        assert!(cfg.anycast.rfc2526());
        assert_eq!(cfg.fallback, Fallback::Direct);
    }

    #[test]
    fn errors_carry_file_and_line() {
        let err = parse("2001:db8::1\n\n2001:db8::/200\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "aarp.conf:3: `200` is not a prefix length 0..=128"
        );
        let err = parse("fallback = maybe").unwrap_err();
        assert_eq!(
            err.to_string(),
            "aarp.conf:1: fallback `maybe` is neither `direct` nor `fail`"
        );
        let err = parse("# c\ntimeout_ms = 0").unwrap_err();
        assert_eq!(
            err.to_string(),
            "aarp.conf:2: timeout_ms `0` is not an integer 1..=60000"
        );
        let err = parse("colour = blue").unwrap_err();
        assert!(matches!(
            err,
            ConfigError::LineInvalid { line: 1, source: ValueError::SettingUnknown(ref s), .. } if s == "colour"
        ));
        let err = parse("192.0.2.1").unwrap_err();
        assert!(matches!(
            err,
            ConfigError::LineInvalid {
                source: ValueError::PrefixInvalid(_),
                ..
            }
        ));
    }

    #[test]
    fn key_errors_never_show_the_secret() {
        let err = parse("key = 70000:averyverysecretsecret").unwrap_err();
        assert!(!err.to_string().contains("secret"), "{err}");
        assert!(err.to_string().contains("70000:…"));
        let err = parse("key = 1:short").unwrap_err();
        assert!(matches!(
            err,
            ConfigError::LineInvalid {
                source: ValueError::SecretTooShort,
                ..
            }
        ));
        assert!(format!(
            "{:?}",
            KeySpec {
                id: 1,
                secret: b"hidden".to_vec()
            }
        )
        .contains("id: 1"));
        assert!(!format!(
            "{:?}",
            KeySpec {
                id: 1,
                secret: b"hidden".to_vec()
            }
        )
        .contains("hidden"));
    }

    #[test]
    fn environment_overrides_the_file() {
        let mut cfg =
            parse("2001:db8:a::/48\nkey = 1:file-secret-0123456\nfallback = fail").unwrap();
        cfg.apply_env(env_of(&[
            (env::ANYCAST, "2001:db8:b::1, 2001:db8:c::/64,"),
            (env::KEY, "9:env-secret-0123456789"),
            (env::FALLBACK, "direct"),
            (env::TIMEOUT_MS, "1500"),
            (env::RETRIES, "0"),
            (env::DEBUG, "1"),
        ]))
        .unwrap();
        assert_eq!(cfg.anycast.prefixes().len(), 3);
        assert_eq!(
            cfg.keys,
            [KeySpec {
                id: 9,
                secret: b"env-secret-0123456789".to_vec()
            }]
        );
        assert_eq!(cfg.fallback, Fallback::Direct);
        assert_eq!(cfg.timeout, Some(Duration::from_millis(1500)));
        assert_eq!(cfg.retries, Some(0));
        assert!(cfg.debug);
    }

    #[test]
    fn debug_is_off_for_zero_and_empty() {
        for v in ["0", "", " "] {
            let mut cfg = Config::default();
            cfg.apply_env(env_of(&[(env::DEBUG, v)])).unwrap();
            assert!(!cfg.debug, "{v:?}");
        }
    }

    #[test]
    fn environment_errors_name_the_variable() {
        let mut cfg = Config::default();
        let err = cfg
            .apply_env(env_of(&[(env::ANYCAST, "2001:db8::1,nonsense")]))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "ANYCAST6_AARP_ANYCAST: `nonsense` is not an IPv6 address"
        );
        let err = cfg.apply_env(env_of(&[(env::FALLBACK, "x")])).unwrap_err();
        assert!(matches!(
            err,
            ConfigError::EnvInvalid {
                var: env::FALLBACK,
                ..
            }
        ));
    }

    #[test]
    fn load_reads_the_named_file() {
        let dir = std::env::temp_dir().join(format!("anycast6-preload-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("aarp.conf");
        std::fs::write(&path, "2001:db8:1::/64\nretries = 1\n").unwrap();
        let p = path.to_string_lossy().into_owned();
        let cfg = Config::load(env_of(&[(env::CONFIG, &p), (env::RETRIES, "4")])).unwrap();
        assert_eq!(cfg.anycast.prefixes().len(), 1);
        assert_eq!(cfg.retries, Some(4));
        let missing = dir.join("absent.conf").to_string_lossy().into_owned();
        let err = Config::load(env_of(&[(env::CONFIG, &missing)])).unwrap_err();
        assert!(matches!(err, ConfigError::FileUnreadable { .. }));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

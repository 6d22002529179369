//! The management protocol (docs/mgmt-api.md): one JSON request per line,
//! one JSON response per line, over a Unix stream socket.

use std::net::Ipv6Addr;

use anycast6_dataplane::Action;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// What `show` shows: a view of the daemon's own, or a registered
/// protocol's by its name (daemon/protocol.rs), whole or one part of it.
/// On the wire, the name, then the part after a space (`"aospf
/// neighbors"`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShowWhat {
    Groups,
    Members,
    Fib,
    Counters,
    Interfaces,
    Dataplane,
    /// Every candidate member and next hop per anycast address, with its
    /// source and administrative distance.
    Rib,
    /// A registered protocol's state and counters (`ard`, `arip`, `aarp`,
    /// `aospf`, ...), or the part `view` of it (one of its registration's
    /// `views`: `aospf neighbors`).
    Protocol {
        name: String,
        view: Option<String>,
    },
}

impl ShowWhat {
    pub const BUILTIN: [ShowWhat; 7] = [
        ShowWhat::Groups,
        ShowWhat::Members,
        ShowWhat::Fib,
        ShowWhat::Counters,
        ShowWhat::Interfaces,
        ShowWhat::Dataplane,
        ShowWhat::Rib,
    ];

    /// The view's name (a protocol's, without the part).
    pub fn name(&self) -> &str {
        match self {
            ShowWhat::Protocol { name, .. } => name,
            b => b.builtin_name().unwrap_or_default(),
        }
    }

    /// As written on the wire and on the command line.
    pub fn text(&self) -> String {
        match self {
            ShowWhat::Protocol {
                name,
                view: Some(v),
            } => format!("{name} {v}"),
            w => w.name().to_string(),
        }
    }

    /// The name of a built-in view (None for a protocol's).
    pub fn builtin_name(&self) -> Option<&'static str> {
        Some(match self {
            ShowWhat::Groups => "groups",
            ShowWhat::Members => "members",
            ShowWhat::Fib => "fib",
            ShowWhat::Counters => "counters",
            ShowWhat::Interfaces => "interfaces",
            ShowWhat::Dataplane => "dataplane",
            ShowWhat::Rib => "rib",
            ShowWhat::Protocol { .. } => return None,
        })
    }

    /// A built-in view by name, else the protocol of that name, with the
    /// part after a space if any ([`ShowWhat::check`] says whether it
    /// exists).
    pub fn parse(s: &str) -> ShowWhat {
        let s = s.trim();
        let (name, view) = match s.split_once(' ') {
            Some((n, v)) => (n, Some(v.trim())),
            None => (s, None),
        };
        ShowWhat::of(name, view)
    }

    /// `show NAME [VIEW]`.
    pub fn of(name: &str, view: Option<&str>) -> ShowWhat {
        match ShowWhat::BUILTIN.into_iter().find(|b| b.name() == name) {
            Some(b) if view.is_none() => b,
            _ => ShowWhat::Protocol {
                name: name.to_string(),
                view: view.map(str::to_string),
            },
        }
    }

    /// The protocol is registered and has the part asked for; the error
    /// says what there is.
    pub fn check(&self) -> Result<(), String> {
        let ShowWhat::Protocol { name, view } = self else {
            return Ok(());
        };
        let Some(r) = crate::daemon::protocol::find(name) else {
            if ShowWhat::BUILTIN.iter().any(|b| b.name() == name) {
                let v = view.as_deref().unwrap_or_default();
                return Err(format!("show {name} has no parts (asked for {v:?})"));
            }
            return Err(format!(
                "unknown view {:?}; one of {}",
                self.text(),
                ShowWhat::BUILTIN
                    .iter()
                    .filter_map(ShowWhat::builtin_name)
                    .chain(crate::daemon::protocol::names())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        };
        match view {
            Some(v) if !r.views.contains(&v.as_str()) => Err(if r.views.is_empty() {
                format!("show {name} has no parts (asked for {v:?})")
            } else {
                format!(
                    "show {name} has no part {v:?}; one of {}",
                    r.views.join(", ")
                )
            }),
            _ => Ok(()),
        }
    }
}

impl Serialize for ShowWhat {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text())
    }
}

impl<'de> Deserialize<'de> for ShowWhat {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        let w = ShowWhat::parse(&s);
        w.check().map_err(serde::de::Error::custom)?;
        Ok(w)
    }
}

/// Names a member: the group (address or prefix), the member's unicast
/// address, and its interface when the address alone is ambiguous.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemberSel {
    pub group: String,
    pub address: Ipv6Addr,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interface: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemberAdd {
    pub group: String,
    pub address: Ipv6Addr,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interface: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_hop: Option<Ipv6Addr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distance: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<Action>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encap_source: Option<Ipv6Addr>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "cmd", rename_all = "snake_case")]
pub enum Request {
    Show {
        what: ShowWhat,
    },
    /// Re-read the config file and apply it; with `confirm_s`, roll it
    /// back unless `confirm` arrives within that many seconds.
    Reload {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        confirm_s: Option<u32>,
    },
    /// What `reload` would add, remove and change; nothing is applied.
    ReloadDiff,
    /// Keep the reload that awaits confirmation.
    Confirm,
    MemberAdd(MemberAdd),
    MemberRemove(MemberSel),
    MemberDrain(MemberSel),
    MemberUndrain(MemberSel),
    /// Detach and unpin everything, remove what anycast6d put in the kernel,
    /// and exit.
    Destroy,
    /// Exit as on SIGTERM (pins, links and the FIB stay); `graceful`: AOSPF
    /// announces a graceful restart and leaves its routes for the next
    /// process (docs/aospf.md).
    Shutdown {
        #[serde(default)]
        graceful: bool,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Response {
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Response {
    pub fn ok(data: impl Serialize) -> Response {
        match serde_json::to_value(data) {
            Ok(v) => Response {
                ok: true,
                data: Some(v),
                error: None,
            },
            Err(e) => Response::error(format!("encoding the reply: {e}")),
        }
    }

    pub fn error(msg: impl Into<String>) -> Response {
        Response {
            ok: false,
            data: None,
            error: Some(msg.into()),
        }
    }

    /// The line sent on the wire (no newline).
    pub fn to_line(&self) -> String {
        serde_json::to_string(self)
            .unwrap_or_else(|e| format!("{{\"ok\":false,\"error\":\"encoding: {e}\"}}"))
    }
}

/// Parses one request line; the error is the reply to send.
pub fn parse_request(line: &str) -> Result<Request, Response> {
    serde_json::from_str(line).map_err(|e| Response::error(format!("bad request: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_on_the_wire() {
        let cases = [
            (
                r#"{"cmd":"show","what":"groups"}"#,
                Request::Show {
                    what: ShowWhat::Groups,
                },
            ),
            (
                r#"{"cmd":"show","what":"aospf neighbors"}"#,
                Request::Show {
                    what: ShowWhat::Protocol {
                        name: "aospf".into(),
                        view: Some("neighbors".into()),
                    },
                },
            ),
            (
                r#"{"cmd":"show","what":"aospf"}"#,
                Request::Show {
                    what: ShowWhat::Protocol {
                        name: "aospf".into(),
                        view: None,
                    },
                },
            ),
            (r#"{"cmd":"reload"}"#, Request::Reload { confirm_s: None }),
            (
                r#"{"cmd":"reload","confirm_s":60}"#,
                Request::Reload {
                    confirm_s: Some(60),
                },
            ),
            (r#"{"cmd":"reload_diff"}"#, Request::ReloadDiff),
            (r#"{"cmd":"confirm"}"#, Request::Confirm),
            (
                r#"{"cmd":"shutdown","graceful":true}"#,
                Request::Shutdown { graceful: true },
            ),
            (
                r#"{"cmd":"shutdown","graceful":false}"#,
                Request::Shutdown { graceful: false },
            ),
            (
                r#"{"cmd":"member_drain","group":"2001:db8:ac::1","address":"2001:db8:1::10"}"#,
                Request::MemberDrain(MemberSel {
                    group: "2001:db8:ac::1".into(),
                    address: "2001:db8:1::10".parse().unwrap(),
                    interface: None,
                }),
            ),
            (
                r#"{"cmd":"member_add","group":"2001:db8:ac::1","address":"2001:db8:1::10","interface":"eth1","weight":5,"action":"encap"}"#,
                Request::MemberAdd(MemberAdd {
                    group: "2001:db8:ac::1".into(),
                    address: "2001:db8:1::10".parse().unwrap(),
                    interface: Some("eth1".into()),
                    next_hop: None,
                    distance: None,
                    weight: Some(5),
                    action: Some(Action::Encap),
                    encap_source: None,
                }),
            ),
        ];
        for (line, req) in cases {
            assert_eq!(parse_request(line).unwrap(), req, "{line}");
            assert_eq!(serde_json::to_string(&req).unwrap(), line);
        }
    }

    #[test]
    fn shutdown_is_plain_unless_asked() {
        assert_eq!(
            parse_request(r#"{"cmd":"shutdown"}"#).unwrap(),
            Request::Shutdown { graceful: false }
        );
    }

    #[test]
    fn bad_requests_say_why() {
        for line in [
            r#"{"cmd":"fly"}"#,
            r#"{"cmd":"show","what":"everything"}"#,
            r#"{"cmd":"show","what":"aospf everything"}"#,
            r#"{"cmd":"show","what":"arip neighbors"}"#,
            r#"{"cmd":"show","what":"groups neighbors"}"#,
            r#"{"cmd":"member_remove","group":"x","address":"2001:db8::1","colour":"red"}"#,
            "not json",
        ] {
            let e = parse_request(line).unwrap_err();
            assert!(!e.ok);
            assert!(e.error.unwrap().starts_with("bad request: "));
        }
    }

    #[test]
    fn responses_on_the_wire() {
        assert_eq!(
            Response::ok(vec![1, 2]).to_line(),
            r#"{"ok":true,"data":[1,2]}"#
        );
        assert_eq!(
            Response::error("no").to_line(),
            r#"{"ok":false,"error":"no"}"#
        );
    }
}

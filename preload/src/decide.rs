//! From a resolver outcome to what the hook does with the call.

use std::fmt;
use std::net::Ipv6Addr;

use crate::config::Fallback;

/// The hooked call a decision is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Call {
    Connect,
    Sendto,
    Sendmsg,
    Sendmmsg,
}

impl fmt::Display for Call {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Call::Connect => "connect",
            Call::Sendto => "sendto",
            Call::Sendmsg => "sendmsg",
            Call::Sendmmsg => "sendmmsg",
        })
    }
}

/// What the AARP client said, reduced to what the hook and its debug line
/// need (so this module does not depend on the client's types).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolution {
    Member {
        member: Ipv6Addr,
        /// Who answered (the client's `AnswerSource`, as text).
        source: String,
        /// Served from the process-wide cache, no query sent.
        cached: bool,
        authenticated: bool,
    },
    /// No usable answer; the reason goes to the debug line.
    Unresolved { reason: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Call through with the member as destination.
    Rewrite(Ipv6Addr),
    /// Call through unchanged (fallback = direct).
    Direct,
    /// Fail with EHOSTUNREACH, without calling through (fallback = fail).
    Fail,
}

pub fn action(resolution: &Resolution, fallback: Fallback) -> Action {
    match (resolution, fallback) {
        (Resolution::Member { member, .. }, _) => Action::Rewrite(*member),
        (Resolution::Unresolved { .. }, Fallback::Direct) => Action::Direct,
        (Resolution::Unresolved { .. }, Fallback::Fail) => Action::Fail,
    }
}

/// Why an anycast destination was left alone before any resolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skip {
    /// A datagram to the AARP port: never resolve AARP itself.
    AarpPort,
    /// Neither TCP nor UDP (raw, ICMPv6 ping, SCTP...): anycast semantics
    /// stay the network's.
    SocketType,
    /// TCP `sendto`/`sendmsg` without MSG_FASTOPEN: the kernel ignores the
    /// address (the socket is connected), so there is nothing to steer.
    StreamSend,
}

impl fmt::Display for Skip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Skip::AarpPort => "datagram to the AARP port",
            Skip::SocketType => "neither a TCP nor a UDP socket",
            Skip::StreamSend => "TCP send without MSG_FASTOPEN ignores the address",
        })
    }
}

/// One debug line per decision (only with ANYCAST6_AARP_DEBUG set).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event<'a> {
    Decided {
        call: Call,
        anycast: Ipv6Addr,
        port: u16,
        resolution: &'a Resolution,
        action: Action,
    },
    Skipped {
        call: Call,
        anycast: Ipv6Addr,
        port: u16,
        why: Skip,
    },
    /// The configuration was refused; every call passes through.
    ConfigRefused { error: String },
    /// A panic inside the preload; the call went through unchanged.
    Panicked { call: Call },
}

impl fmt::Display for Event<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("anycast6-aarp: ")?;
        match self {
            Event::Decided {
                call,
                anycast,
                port,
                resolution,
                action,
            } => {
                write!(f, "{call} [{anycast}]:{port} -> ")?;
                match (resolution, action) {
                    (
                        Resolution::Member {
                            member,
                            source,
                            cached,
                            authenticated,
                        },
                        _,
                    ) => write!(
                        f,
                        "member {member} (from {source}, {}, {})",
                        if *cached { "cached" } else { "queried" },
                        if *authenticated {
                            "authenticated"
                        } else {
                            "unsigned"
                        },
                    ),
                    (Resolution::Unresolved { reason }, Action::Fail) => {
                        write!(f, "fallback fail: EHOSTUNREACH ({reason})")
                    }
                    (Resolution::Unresolved { reason }, _) => {
                        write!(f, "fallback direct: anycast address itself ({reason})")
                    }
                }
            }
            Event::Skipped {
                call,
                anycast,
                port,
                why,
            } => write!(f, "{call} [{anycast}]:{port} -> untouched ({why})"),
            Event::ConfigRefused { error } => {
                write!(
                    f,
                    "configuration refused, passing every call through: {error}"
                )
            }
            Event::Panicked { call } => {
                write!(f, "{call}: internal panic, call passed through unchanged")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member() -> Resolution {
        Resolution::Member {
            member: "2001:db8:5::7".parse().unwrap(),
            source: "router 2001:db8::fe".into(),
            cached: true,
            authenticated: false,
        }
    }

    fn unresolved() -> Resolution {
        Resolution::Unresolved {
            reason: "no answer after 3 tries".into(),
        }
    }

    #[test]
    fn actions_follow_the_fallback() {
        let m: Ipv6Addr = "2001:db8:5::7".parse().unwrap();
        assert_eq!(action(&member(), Fallback::Fail), Action::Rewrite(m));
        assert_eq!(action(&member(), Fallback::Direct), Action::Rewrite(m));
        assert_eq!(action(&unresolved(), Fallback::Direct), Action::Direct);
        assert_eq!(action(&unresolved(), Fallback::Fail), Action::Fail);
    }

    #[test]
    fn debug_lines() {
        let a: Ipv6Addr = "2001:db8::1".parse().unwrap();
        let m = member();
        let line = Event::Decided {
            call: Call::Connect,
            anycast: a,
            port: 80,
            resolution: &m,
            action: action(&m, Fallback::Direct),
        }
        .to_string();
        assert_eq!(
            line,
            "anycast6-aarp: connect [2001:db8::1]:80 -> member 2001:db8:5::7 \
             (from router 2001:db8::fe, cached, unsigned)"
        );
        let u = unresolved();
        let line = Event::Decided {
            call: Call::Sendto,
            anycast: a,
            port: 53,
            resolution: &u,
            action: Action::Fail,
        }
        .to_string();
        assert_eq!(
            line,
            "anycast6-aarp: sendto [2001:db8::1]:53 -> fallback fail: EHOSTUNREACH \
             (no answer after 3 tries)"
        );
        let line = Event::Skipped {
            call: Call::Sendmsg,
            anycast: a,
            port: 5360,
            why: Skip::AarpPort,
        }
        .to_string();
        assert_eq!(
            line,
            "anycast6-aarp: sendmsg [2001:db8::1]:5360 -> untouched (datagram to the AARP port)"
        );
    }
}

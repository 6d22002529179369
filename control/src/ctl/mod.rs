//! anycast6ctl: the command line, the requests it sends, and how replies
//! are shown (tables for people, `--json` for programs).

pub mod aospf;
pub mod capture;
pub mod kernel_import;
pub mod mga;
pub mod piasm;
pub mod render;
pub mod table;

use std::net::Ipv6Addr;
use std::path::{Path, PathBuf};

use anycast6_dataplane::{Action, DataplaneOptions};
use clap::{Parser, Subcommand};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::config::DEFAULT_SOCKET;
use crate::mgmt::client::{self, ClientError};
use crate::mgmt::views::*;
use crate::mgmt::{MemberAdd, MemberSel, Request, ShowWhat};

/// Talk to anycast6d: show its state, reload its config, change members
/// at run time, stop it (gracefully for a restart), or take the fast path
/// down.
#[derive(Parser, Debug)]
#[command(name = "anycast6ctl", version)]
pub struct Cli {
    /// The daemon's management socket.
    #[arg(long, global = true, default_value = DEFAULT_SOCKET)]
    pub socket: PathBuf,
    /// Print the reply's data as JSON (stable keys) instead of tables.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub cmd: Cmd,
}

#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// Show groups, members, the FIB, counters, interfaces, the pinned
    /// dataplane, the RIB, or a protocol's state and counters (ard, arip,
    /// aarp, aospf, piasm, mga, kernel-import), or one part of it (aospf:
    /// neighbors, database, routes, interfaces; piasm: neighbors, trees).
    Show {
        #[arg(value_parser = show_arg())]
        what: String,
        /// One part of a protocol's view (`show aospf neighbors`).
        #[arg(value_parser = view_arg())]
        view: Option<String>,
    },
    /// Re-read the config file and apply it, all or nothing.
    Reload {
        /// Roll the reload back unless `anycast6ctl confirm` arrives within
        /// SECONDS (1..=86400). A plain reload confirms a waiting one.
        #[arg(long, value_name = "SECONDS", conflicts_with = "diff",
              value_parser = clap::value_parser!(u32).range(1..=i64::from(crate::daemon::confirm::MAX_CONFIRM_S)))]
        confirm: Option<u32>,
        /// Show what a reload would add, remove and change, and whether it
        /// would be refused; apply nothing.
        #[arg(long)]
        diff: bool,
    },
    /// Keep the reload that awaits confirmation (`reload --confirm`).
    Confirm,
    /// Change a group's members at run time (kept across reloads and restarts).
    Member {
        #[command(subcommand)]
        op: MemberCmd,
    },
    /// Resolve an anycast address to one member's unicast address with AARP
    /// (a query sent to the address itself; no daemon needed).
    Resolve {
        anycast: Ipv6Addr,
        /// Require answers signed with this key: ID:SECRET (secret ≥ 16 bytes).
        #[arg(long)]
        key: Option<String>,
        /// Per try, milliseconds.
        #[arg(long, default_value_t = 300)]
        timeout_ms: u64,
        #[arg(long, default_value_t = 2)]
        retries: u32,
    },
    /// Stop anycast6d as SIGTERM does: forwarding goes on with the pinned
    /// FIB; the protocols stop cleanly. Returns once the process is gone.
    Shutdown {
        /// Planned restart: AOSPF announces a graceful restart (RFC 5187)
        /// and leaves its routes in the kernel, so its neighbours keep
        /// routing through this router; start the new anycast6d (same
        /// config) within the grace period (`[aospf] grace_period_s`).
        #[arg(long)]
        graceful: bool,
    },
    /// Capture packets counted under some reasons, sampled from the fast
    /// path: a line (or JSON object) per packet, or pcapng with -w
    /// (docs/capture.md). Opens the pinned maps itself: needs CAP_BPF.
    Capture(capture::CaptureArgs),
    /// Detach every program and remove every pin. Asks the daemon if one
    /// runs on --socket (it also removes its neighbour entries and lo
    /// addresses, then exits); otherwise does it directly.
    Destroy {
        /// The pin directory (default: the daemon's, or /sys/fs/bpf/anycast6/v<ABI>).
        #[arg(long)]
        pin_dir: Option<PathBuf>,
        /// Without a daemon: also remove the managed neighbour entries and
        /// lo addresses anycast6 made in this network namespace.
        #[arg(long)]
        kernel: bool,
    },
}

/// What `show` can show: the daemon's own views, then every registered
/// protocol (daemon/protocol.rs) by its name.
pub fn show_names() -> Vec<&'static str> {
    let mut v: Vec<&'static str> = ShowWhat::BUILTIN
        .iter()
        .filter_map(ShowWhat::builtin_name)
        .collect();
    v.extend(crate::daemon::protocol::names());
    v
}

fn show_arg() -> clap::builder::PossibleValuesParser {
    // A section spelt with `_` may be asked for with `-` (`kernel-import`).
    clap::builder::PossibleValuesParser::new(show_names().into_iter().map(|n| {
        let v = clap::builder::PossibleValue::new(n);
        if n.contains('_') {
            v.alias(&*n.replace('_', "-").leak())
        } else {
            v
        }
    }))
}

/// Every part any protocol shows alone (which protocol has which is
/// checked by `ShowWhat::check`).
fn view_arg() -> clap::builder::PossibleValuesParser {
    let mut v: Vec<&'static str> = crate::daemon::protocol::REGISTRY
        .iter()
        .flat_map(|r| r.views.iter().copied())
        .collect();
    v.sort_unstable();
    v.dedup();
    clap::builder::PossibleValuesParser::new(v)
}

#[derive(clap::Args, Debug, Clone)]
pub struct MemberArgs {
    /// The group: its anycast address or prefix.
    pub group: String,
    /// The member's unicast address.
    pub address: Ipv6Addr,
    /// The member's interface (needed when the address is on several).
    #[arg(long)]
    pub interface: Option<String>,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ActionArg {
    Rewrite,
    Encap,
    Local,
}

#[derive(Subcommand, Debug)]
pub enum MemberCmd {
    /// Add a member to a configured group.
    Add {
        #[command(flatten)]
        m: MemberArgs,
        /// L2 next hop (default: the member itself, on-link).
        #[arg(long)]
        next_hop: Option<Ipv6Addr>,
        /// Routing distance (default 1); only the nearest members get traffic.
        #[arg(long)]
        distance: Option<u32>,
        /// Maglev weight, 1..=65535 (default 100).
        #[arg(long)]
        weight: Option<u16>,
        #[arg(long, value_enum)]
        action: Option<ActionArg>,
        /// Outer source for encap (default: [daemon] router_address).
        #[arg(long)]
        encap_source: Option<Ipv6Addr>,
    },
    /// Remove a member (a configured one stays removed until reload drops the change).
    Remove {
        #[command(flatten)]
        m: MemberArgs,
    },
    /// Drain a member: it keeps its flows and gets no new ones.
    Drain {
        #[command(flatten)]
        m: MemberArgs,
    },
    /// Undo a drain.
    Undrain {
        #[command(flatten)]
        m: MemberArgs,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum CtlError {
    #[error("{0}")]
    Client(#[from] ClientError),
    /// The daemon answered with an error.
    #[error("{0}")]
    Daemon(String),
    #[error("unexpected reply from anycast6d: {0}")]
    ReplyInvalid(String),
    #[error("{0}")]
    Destroy(String),
    #[error("{0}")]
    Resolve(String),
    /// A command line clap accepts but that names nothing.
    #[error("{0}")]
    Usage(String),
}

fn sel(m: &MemberArgs) -> MemberSel {
    MemberSel {
        group: m.group.clone(),
        address: m.address,
        interface: m.interface.clone(),
    }
}

/// The request a command sends (None: `destroy`, handled apart).
pub fn request_of(cmd: &Cmd) -> Option<Request> {
    Some(match cmd {
        Cmd::Show { what, view } => Request::Show {
            what: ShowWhat::of(what, view.as_deref()),
        },
        Cmd::Reload { diff: true, .. } => Request::ReloadDiff,
        Cmd::Reload { confirm, .. } => Request::Reload {
            confirm_s: *confirm,
        },
        Cmd::Confirm => Request::Confirm,
        Cmd::Shutdown { graceful } => Request::Shutdown {
            graceful: *graceful,
        },
        Cmd::Resolve { .. } => return None,
        Cmd::Member { op } => match op {
            MemberCmd::Add {
                m,
                next_hop,
                distance,
                weight,
                action,
                encap_source,
            } => Request::MemberAdd(MemberAdd {
                group: m.group.clone(),
                address: m.address,
                interface: m.interface.clone(),
                next_hop: *next_hop,
                distance: *distance,
                weight: *weight,
                action: action.map(|a| match a {
                    ActionArg::Rewrite => Action::Rewrite,
                    ActionArg::Encap => Action::Encap,
                    ActionArg::Local => Action::Local,
                }),
                encap_source: *encap_source,
            }),
            MemberCmd::Remove { m } => Request::MemberRemove(sel(m)),
            MemberCmd::Drain { m } => Request::MemberDrain(sel(m)),
            MemberCmd::Undrain { m } => Request::MemberUndrain(sel(m)),
        },
        Cmd::Destroy { .. } | Cmd::Capture(_) => return None,
    })
}

/// How long `shutdown` waits, after the reply, for the process to go.
const SHUTDOWN_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

fn call(socket: &Path, req: &Request) -> Result<Value, CtlError> {
    reply_data(client::request(socket, req)?)
}

fn reply_data(resp: crate::mgmt::Response) -> Result<Value, CtlError> {
    if resp.ok {
        Ok(resp.data.unwrap_or(Value::Null))
    } else {
        Err(CtlError::Daemon(
            resp.error
                .unwrap_or_else(|| "failed (no reason given)".into()),
        ))
    }
}

fn typed<T: DeserializeOwned>(v: Value) -> Result<T, CtlError> {
    serde_json::from_value(v).map_err(|e| CtlError::ReplyInvalid(e.to_string()))
}

/// Text for people from the data of a reply to `cmd`.
pub fn render(cmd: &Cmd, data: Value) -> Result<String, CtlError> {
    Ok(match cmd {
        Cmd::Show { what, view } => match ShowWhat::of(what, view.as_deref()) {
            ShowWhat::Groups => render::groups(&typed::<Vec<GroupView>>(data)?),
            ShowWhat::Members => render::members(&typed::<Vec<MemberView>>(data)?),
            ShowWhat::Fib => render::fib(&typed(data)?),
            ShowWhat::Counters => render::counters(&typed(data)?),
            ShowWhat::Interfaces => render::interfaces(&typed::<Vec<InterfaceView>>(data)?),
            ShowWhat::Dataplane => render::dataplane(&typed(data)?),
            ShowWhat::Rib => render::rib(&typed::<Vec<MemberView>>(data)?),
            ShowWhat::Protocol { name, view } => match crate::daemon::protocol::find(&name) {
                Some(r) => (r.render)(&data, view.as_deref()),
                None => serde_json::to_string_pretty(&data).unwrap_or_default() + "\n",
            },
        },
        Cmd::Reload { diff: true, .. } => render::reload_diff(&typed(data)?),
        Cmd::Reload { .. } => render::reload(&typed(data)?),
        Cmd::Confirm => render::confirm(&typed(data)?),
        Cmd::Shutdown { .. } => render::shutdown(&typed(data)?),
        Cmd::Member { .. } => render::member_change(&typed(data)?),
        Cmd::Destroy { .. } => render::destroy(&typed(data)?),
        Cmd::Resolve { .. } => render::resolve(&data),
        Cmd::Capture(_) => String::new(),
    })
}

/// Runs a command; returns what to print on stdout.
pub fn run(cli: &Cli) -> Result<String, CtlError> {
    if let Cmd::Show { what, view } = &cli.cmd {
        ShowWhat::of(what, view.as_deref())
            .check()
            .map_err(CtlError::Usage)?;
    }
    let data = match &cli.cmd {
        Cmd::Capture(a) => {
            let s = capture::run(&cli.socket, cli.json, a)?;
            eprintln!(
                "anycast6ctl: {} packets captured ({} matched before sampling, {} lost to a full ring)",
                s.packets, s.matched, s.lost
            );
            return Ok(String::new());
        }
        Cmd::Destroy { pin_dir, kernel } => destroy(&cli.socket, pin_dir.as_deref(), *kernel)?,
        Cmd::Resolve {
            anycast,
            key,
            timeout_ms,
            retries,
        } => resolve(*anycast, key.as_deref(), *timeout_ms, *retries)?,
        cmd @ Cmd::Shutdown { .. } => {
            let req = request_of(cmd).expect("shutdown is a request");
            reply_data(client::request_until_closed(
                &cli.socket,
                &req,
                SHUTDOWN_WAIT,
            )?)?
        }
        cmd => call(&cli.socket, &request_of(cmd).expect("not destroy"))?,
    };
    if cli.json {
        Ok(serde_json::to_string_pretty(&data).expect("JSON values encode") + "\n")
    } else {
        render(&cli.cmd, data)
    }
}

/// `resolve`: one AARP exchange from this host.
pub fn resolve(
    anycast: Ipv6Addr,
    key: Option<&str>,
    timeout_ms: u64,
    retries: u32,
) -> Result<Value, CtlError> {
    use anycast6_aarp::auth::{Key, Keyring};
    let keyring = match key {
        None => Keyring::none(),
        Some(k) => {
            let (id, secret) = k
                .split_once(':')
                .ok_or_else(|| CtlError::Resolve("--key is ID:SECRET".into()))?;
            let id: u16 = id
                .parse()
                .map_err(|_| CtlError::Resolve(format!("--key id {id:?} is not 0..=65535")))?;
            if secret.len() < 16 {
                return Err(CtlError::Resolve(
                    "--key secret is shorter than 16 bytes".into(),
                ));
            }
            Keyring::new(vec![Key::new(id, secret.as_bytes().to_vec())])
        }
    };
    let opts = anycast6_aarp::ClientOptions {
        timeout: std::time::Duration::from_millis(timeout_ms.max(1)),
        retries,
        keyring,
        ..anycast6_aarp::ClientOptions::default()
    };
    let a = anycast6_aarp::resolve_blocking(anycast, &opts)
        .map_err(|e| CtlError::Resolve(format!("{anycast}: {e}")))?;
    Ok(serde_json::json!({
        "anycast": a.anycast,
        "member": a.member,
        "source": match a.source {
            anycast6_aarp::AnswerSource::Member => "member",
            anycast6_aarp::AnswerSource::Router => "router",
        },
        "lifetime_ms": a.lifetime.as_millis() as u64,
        "preference": a.preference,
        "authenticated": a.authenticated,
    }))
}

/// `destroy`: through the daemon when one answers on `socket` for this pin
/// directory, directly otherwise (`kernel`: also remove anycast6's
/// neighbour entries and lo addresses in this network namespace). Builds
/// its own tokio runtime: call it outside one.
pub fn destroy(socket: &Path, pin_dir: Option<&Path>, kernel: bool) -> Result<Value, CtlError> {
    let daemon_pin_dir = match client::request(
        socket,
        &Request::Show {
            what: ShowWhat::Dataplane,
        },
    ) {
        Ok(r) if r.ok => r
            .data
            .and_then(|d| d.get("pin_dir").and_then(Value::as_str).map(PathBuf::from)),
        _ => None,
    };
    if let Some(dpd) = daemon_pin_dir {
        if pin_dir.is_none_or(|p| p == dpd) {
            return call(socket, &Request::Destroy);
        }
    }
    let pin_dir = pin_dir
        .map(Path::to_path_buf)
        .unwrap_or_else(DataplaneOptions::default_pin_dir);
    let removed = if kernel {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| CtlError::Destroy(e.to_string()))?;
        rt.block_on(crate::daemon::run::destroy(&pin_dir))
            .map_err(|e| CtlError::Destroy(e.to_string()))?
            .kernel_objects_removed
    } else {
        anycast6_dataplane::Dataplane::destroy(&pin_dir)
            .map_err(|e| CtlError::Destroy(format!("{}: {e}", pin_dir.display())))?;
        0
    };
    Ok(serde_json::to_value(DestroyView {
        pin_dir: pin_dir.display().to_string(),
        kernel_objects_removed: removed,
    })
    .expect("encodes"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Cli {
        Cli::try_parse_from(std::iter::once("anycast6ctl").chain(args.iter().copied())).unwrap()
    }

    #[test]
    fn commands_become_requests() {
        let c = parse(&["--socket", "/tmp/s", "--json", "show", "counters"]);
        assert_eq!(c.socket, PathBuf::from("/tmp/s"));
        assert!(c.json);
        assert_eq!(
            request_of(&c.cmd),
            Some(Request::Show {
                what: ShowWhat::Counters
            })
        );

        let c = parse(&[
            "member",
            "add",
            "2001:db8:ac::1",
            "2001:db8:4::10",
            "--interface",
            "to-m4",
            "--distance",
            "1",
        ]);
        let Some(Request::MemberAdd(a)) = request_of(&c.cmd) else {
            panic!()
        };
        assert_eq!(
            (a.interface.as_deref(), a.distance, a.weight),
            (Some("to-m4"), Some(1), None)
        );

        let c = parse(&[
            "member",
            "drain",
            "2001:db8:ac::1",
            "2001:db8:1::10",
            "--json",
        ]);
        assert!(c.json);
        assert!(matches!(request_of(&c.cmd), Some(Request::MemberDrain(_))));

        let c = parse(&["show", "aospf", "neighbors", "--json"]);
        assert_eq!(
            request_of(&c.cmd),
            Some(Request::Show {
                what: ShowWhat::Protocol {
                    name: "aospf".into(),
                    view: Some("neighbors".into())
                }
            })
        );

        let c = parse(&["shutdown", "--graceful"]);
        assert_eq!(
            request_of(&c.cmd),
            Some(Request::Shutdown { graceful: true })
        );
        let c = parse(&["shutdown"]);
        assert_eq!(
            request_of(&c.cmd),
            Some(Request::Shutdown { graceful: false })
        );

        let c = parse(&["destroy", "--pin-dir", "/sys/fs/bpf/x/v1"]);
        assert_eq!(request_of(&c.cmd), None);
        assert_eq!(c.socket, PathBuf::from(DEFAULT_SOCKET));
    }

    #[test]
    fn bad_usage_is_refused() {
        for args in [
            &["show", "everything"][..],
            &["show", "aospf", "neighbours"],
            &["member", "add", "g", "not-an-address"],
            &["member", "add", "g", "::1", "--weight", "70000"],
        ] {
            assert!(
                Cli::try_parse_from(std::iter::once("anycast6ctl").chain(args.iter().copied()))
                    .is_err(),
                "{args:?}"
            );
        }
    }

    #[test]
    fn parts_only_where_a_protocol_has_them() {
        for (args, msg) in [
            (
                &["show", "arip", "neighbors"][..],
                "show arip has no parts (asked for \"neighbors\")",
            ),
            (
                &["show", "groups", "routes"],
                "show groups has no parts (asked for \"routes\")",
            ),
        ] {
            let c = parse(&[&["--socket", "/nonexistent/a6.sock"][..], args].concat());
            assert_eq!(run(&c).unwrap_err().to_string(), msg, "{args:?}");
        }
    }

    #[test]
    fn unreachable_daemon_names_the_socket() {
        let c = parse(&["--socket", "/nonexistent/a6.sock", "show", "groups"]);
        let e = run(&c).unwrap_err().to_string();
        assert!(
            e.starts_with("anycast6d is not running (nothing listens on /nonexistent/a6.sock"),
            "{e}"
        );
    }
}

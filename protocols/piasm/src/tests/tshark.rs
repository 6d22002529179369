//! tshark 4.0 (Wireshark's PIMv2 dissector) reads every PIA-SM message the
//! encoder writes, signed and unsigned, in IPv6 packets addressed as
//! docs/piasm.md §2 says: link messages to ff02::d from a link-local
//! address with hop limit 1, unicast ones between global addresses, the
//! Join/Prune toward C behind a Hop-by-Hop Router Alert (65503). It shows
//! them as §11 says, with a correct checksum, nothing malformed and no
//! expert info. Then contrib/wireshark/piasm.lua, checked by
//! scripts/check-dissector.sh as CI checks ard.lua, shows what PIA-SM means
//! by each field, and flags what receivers refuse. Skipped, loudly, where
//! tshark is missing.

use std::net::Ipv6Addr;
use std::path::{Path, PathBuf};
use std::process::Command;

use anycast6_core::pcap;

use super::packet::{a, expected, fixture, fixtures, key};
use crate::packet::*;

fn tshark_missing() -> bool {
    if Command::new("tshark").arg("-v").output().is_ok() {
        return false;
    }
    eprintln!("SKIPPED: tshark not installed, PIA-SM messages not checked against Wireshark");
    true
}

/// An IPv6 packet carrying the PIM message `pim`: hop limit 1 to
/// ALL-PIM-ROUTERS, 64 otherwise; with `router_alert`, behind a Hop-by-Hop
/// header holding Router Alert 65503 (RFC 2711).
fn ipv6(src: Ipv6Addr, dst: Ipv6Addr, router_alert: bool, pim: &[u8]) -> Vec<u8> {
    let hop_limit = if dst == ALL_PIM_ROUTERS { 1 } else { 64 };
    let mut ext = Vec::new();
    let mut next = PROTO_PIM;
    if router_alert {
        // Next header, length 0 (8 octets), option 5 of 2 octets, PadN of 2.
        ext.extend_from_slice(&[PROTO_PIM, 0, 5, 2]);
        ext.extend_from_slice(&ROUTER_ALERT.to_be_bytes());
        ext.extend_from_slice(&[1, 0]);
        next = 0;
    }
    let mut p = vec![0x60, 0, 0, 0];
    p.extend_from_slice(&((ext.len() + pim.len()) as u16).to_be_bytes());
    p.extend_from_slice(&[next, hop_limit]);
    p.extend_from_slice(&src.octets());
    p.extend_from_slice(&dst.octets());
    p.extend_from_slice(&ext);
    p.extend_from_slice(pim);
    p
}

/// One packet of the capture and what went into it.
struct Sent {
    what: String,
    message: Message,
    seq: Option<u64>,
    router_alert: bool,
    packet: Vec<u8>,
}

/// Every fixture's message as this crate encodes it, unsigned, then signed.
fn every_message() -> Vec<Sent> {
    let mut out = Vec::new();
    for f in fixtures() {
        let (m, _) = expected(f.name);
        let router_alert = matches!(m, Message::JoinPrune(_)) && f.dst == a("2001:db8:c::1");
        for seq in [None, Some(500)] {
            let pim = match seq {
                None => Packet::encode(&m, f.src, f.dst),
                Some(s) => Packet::encode_signed(&m, f.src, f.dst, &key(), s),
            };
            out.push(Sent {
                what: format!("{}{}", f.name, if seq.is_some() { " signed" } else { "" }),
                message: m.clone(),
                seq,
                router_alert,
                packet: ipv6(f.src, f.dst, router_alert, &pim),
            });
        }
    }
    out
}

struct Capture {
    dir: PathBuf,
    file: PathBuf,
}

impl Capture {
    fn write(name: &str, packets: &[Vec<u8>]) -> Capture {
        let dir = std::env::temp_dir().join(format!("piasm-tshark-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join(format!("{name}.pcap"));
        pcap::write(
            &mut std::fs::File::create(&file).unwrap(),
            pcap::LINKTYPE_IPV6,
            packets,
        )
        .unwrap();
        Capture { dir, file }
    }

    /// tshark's standard output on the capture, which must succeed.
    fn tshark(&self, lua: Option<&Path>, args: &[&str]) -> String {
        let mut cmd = Command::new("tshark");
        cmd.arg("-n");
        if let Some(l) = lua {
            cmd.arg("-X").arg(format!("lua_script:{}", l.display()));
        }
        let out = cmd.arg("-r").arg(&self.file).args(args).output().unwrap();
        assert!(
            out.status.success(),
            "tshark {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// One line per packet, `fields` separated by tabs, values by commas.
    fn fields(&self, lua: Option<&Path>, fields: &[&str]) -> Vec<Vec<String>> {
        let mut args = vec!["-T", "fields", "-E", "aggregator=,"];
        for f in fields {
            args.extend(["-e", f]);
        }
        self.tshark(lua, &args)
            .lines()
            .map(|l| l.split('\t').map(str::to_owned).collect())
            .collect()
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        std::fs::remove_dir_all(&self.dir).ok();
    }
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn join<T: ToString>(v: impl IntoIterator<Item = T>) -> String {
    v.into_iter()
        .map(|x| x.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

/// What PIM's dissector shows of a message: option types and lengths of
/// a Hello, join attribute types and lengths of a Join/Prune, groups and
/// mask lengths.
fn pim_view(s: &Sent) -> [String; 6] {
    let mut v: [String; 6] = Default::default();
    match &s.message {
        Message::Hello(h) => {
            let mut opts = vec![(1, 2), (19, 4), (20, 4), (24, 18 * h.addresses.len())];
            if h.piasm.is_some() {
                opts.push((65100, 4));
            }
            if s.seq.is_some() {
                opts.push((65101, 44));
            }
            v[0] = join(opts.iter().map(|o| o.0));
            v[1] = join(opts.iter().map(|o| o.1));
        }
        Message::JoinPrune(j) => {
            let mut types = Vec::new();
            let mut lens = Vec::new();
            let mut attrs = |w: Option<u32>, e: Option<Ipv6Addr>, r: bool| {
                for (t, l, on) in [(60, 4, w.is_some()), (61, 16, e.is_some()), (62, 0, r)] {
                    if on {
                        types.push(t);
                        lens.push(l);
                    }
                }
            };
            for e in &j.entries {
                match e.action {
                    Action::Join(x) => attrs(Some(x.weight), x.endpoint, x.relayed),
                    Action::Prune(p) => attrs(None, p.endpoint, p.relayed),
                }
            }
            v[2] = join(types);
            v[3] = join(lens);
            // Each group's address twice: its item, and the address in it.
            v[4] = join(j.entries.iter().flat_map(|e| [e.anycast; 2]));
            // Each group's and each source's mask length.
            v[5] = join(std::iter::repeat_n(128, j.entries.len() * 2));
        }
        Message::ShortcutRequest(_) | Message::BranchAnnouncement(_) => {}
    }
    v
}

#[test]
fn tshark_decodes_every_message_as_pimv2() {
    if tshark_missing() {
        return;
    }
    let sent = every_message();
    let cap = Capture::write(
        "all",
        &sent.iter().map(|s| s.packet.clone()).collect::<Vec<_>>(),
    );
    let text = cap.tshark(None, &["-V"]);
    let expert = cap.tshark(None, &["-q", "-z", "expert"]);
    let n = sent.len();
    assert_eq!(
        text.matches("Protocol Independent Multicast").count(),
        n,
        "{text}"
    );
    assert_eq!(text.matches("0010 .... = Version: 2").count(), n, "{text}");
    assert_eq!(text.matches(" [correct]").count(), n, "{text}");
    assert!(!text.contains("Malformed"), "{text}");
    assert!(!text.contains("Expert Info"), "{text}");
    for level in ["Errors", "Warns", "Notes", "Chats", "Comments"] {
        assert!(!expert.contains(level), "{expert}");
    }

    let rows = cap.fields(
        None,
        &[
            "pim.version",
            "pim.type",
            "pim.cksum.status",
            "ipv6.hlim",
            "ipv6.opt.router_alert",
            "_ws.expert",
            "_ws.malformed",
            "pim.optiontype",
            "pim.optionlength",
            "pim.source_ja.flags.attr_type",
            "pim.source_ja.length",
            "pim.group_ip6",
            "pim.mask_len",
        ],
    );
    assert_eq!(rows.len(), n);
    for (s, row) in sent.iter().zip(&rows) {
        let t = match s.message {
            Message::Hello(_) => "0",
            Message::JoinPrune(_) => "3",
            _ => "15",
        };
        let link = s.packet[7] == 1;
        assert_eq!(
            row[..7],
            [
                "2",
                t,
                "1", // Good
                if link { "1" } else { "64" },
                if s.router_alert { "65503" } else { "" },
                "",
                "",
            ],
            "{}: {row:?}",
            s.what
        );
        assert_eq!(row[7..], pim_view(s), "{}", s.what);
    }
    // How §11 says tshark shows what it does not know.
    for want in [
        "Option 65100: Unknown: 65100",
        "Option 65101: Unknown: 65101",
        "Unknown: 01800000",
        "Unknown: 01000000",
        "Join Attribute: Unknown",
        "..11 1100 = Attribute Type: Unknown (60)",
        "..11 1101 = Attribute Type: Unknown (61)",
        "..11 1110 = Attribute Type: Unknown (62)",
        "Group 0: 2001:db8:a::1/128",
        "Group 2: 2001:db8:a::3/128",
        "IP address: 2001:db8:c::1/128 (SWR)",
        "Encoding Type: Native with Join Attribute (1)",
        "Upstream-neighbor: fe80::2",
        ".... 1111 = Type: Unknown (15)",
        "Router Alert",
    ] {
        assert!(text.contains(want), "tshark output lacks {want:?}:\n{text}");
    }
    let extensions = sent
        .iter()
        .filter(|s| {
            matches!(
                s.message,
                Message::ShortcutRequest(_) | Message::BranchAnnouncement(_)
            )
        })
        .count();
    assert_eq!(extensions, 10);
    assert_eq!(
        text.matches("Type: Unknown (15)").count(),
        extensions,
        "{text}"
    );
}

fn lua() -> PathBuf {
    root().join("contrib/wireshark/piasm.lua")
}

fn check_dissector(cap: &Capture) -> (bool, String) {
    let out = Command::new(root().join("scripts/check-dissector.sh"))
        .arg(lua())
        .arg(&cap.file)
        .arg("pim")
        .output()
        .expect("scripts/check-dissector.sh runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

/// The piasm.lua fields [`lua_view`] gives, in its order.
const LUA_FIELDS: [&str; 15] = [
    "piasm.message",
    "piasm.weight",
    "piasm.endpoint",
    "piasm.relayed",
    "piasm.hello.core",
    "piasm.branch.endpoint",
    "piasm.branch.weight",
    "piasm.auth.seq",
    "piasm.hello.version",
    "piasm.holdtime",
    "piasm.anycast",
    "piasm.ingress",
    "piasm.version",
    "piasm.table_length",
    "piasm.hash_seed",
];

/// What piasm.lua should show of a message ([`LUA_FIELDS`]), from the
/// message itself: the kind, weights, endpoints, Relayed flags, the C
/// flag, the branches, the trailer's sequence number, and the fields of
/// the extension messages.
fn lua_view(s: &Sent) -> Vec<String> {
    let mut v: Vec<String> = vec![String::new(); LUA_FIELDS.len()];
    v[0] = match &s.message {
        Message::Hello(_) => "Hello",
        Message::JoinPrune(_) => "Join/Prune",
        Message::ShortcutRequest(_) => "Shortcut Request",
        Message::BranchAnnouncement(_) => "Branch Announcement",
    }
    .into();
    v[7] = s.seq.map(|q| q.to_string()).unwrap_or_default();
    match &s.message {
        Message::Hello(h) => {
            if let Some(c) = h.piasm {
                v[4] = u8::from(c.core).to_string();
                v[8] = c.version.to_string();
            }
        }
        Message::JoinPrune(j) => {
            let (mut w, mut e, mut r) = (vec![], vec![], vec![]);
            for x in &j.entries {
                let (weight, endpoint, relayed) = match x.action {
                    Action::Join(j) => (Some(j.weight), j.endpoint, j.relayed),
                    Action::Prune(p) => (None, p.endpoint, p.relayed),
                };
                w.extend(weight);
                e.extend(endpoint);
                if relayed {
                    r.push(1);
                }
            }
            (v[1], v[2], v[3]) = (join(w), join(e), join(r));
            v[10] = join(j.entries.iter().map(|x| x.anycast));
        }
        Message::ShortcutRequest(q) => {
            v[9] = q.holdtime.to_string();
            v[10] = q.anycast.to_string();
            v[11] = q.ingress.to_string();
        }
        Message::BranchAnnouncement(b) => {
            v[5] = join(b.branches.iter().map(|x| x.0));
            v[6] = join(b.branches.iter().map(|x| x.1));
            v[9] = b.holdtime.to_string();
            v[10] = b.anycast.to_string();
            v[12] = b.version.to_string();
            v[13] = b.table_len.to_string();
            v[14] = format!("{:#010x}", b.hash_seed);
        }
    }
    v
}

#[test]
fn piasm_lua_shows_what_every_message_means() {
    if tshark_missing() {
        return;
    }
    let sent = every_message();
    let cap = Capture::write(
        "lua",
        &sent.iter().map(|s| s.packet.clone()).collect::<Vec<_>>(),
    );
    let (ok, out) = check_dissector(&cap);
    assert!(ok, "check-dissector: {out}");
    assert!(
        out.contains(&format!("decoded {0} of {0} packets", sent.len())),
        "{out}"
    );

    let mut fields = LUA_FIELDS.to_vec();
    fields.extend(["piasm.auth.key_id", "_ws.expert"]);
    let rows = cap.fields(Some(&lua()), &fields);
    assert_eq!(rows.len(), sent.len());
    for (s, row) in sent.iter().zip(&rows) {
        assert_eq!(row[..LUA_FIELDS.len()], lua_view(s), "{}", s.what);
        let key_id = if s.seq.is_some() { "7" } else { "" };
        assert_eq!(
            row[LUA_FIELDS.len()..],
            [key_id, ""],
            "{}: the key, no expert info",
            s.what
        );
    }
    let text = cap.tshark(Some(&lua()), &["-V", "-O", "piasm"]);
    for want in [
        "PIA-SM option (65100): version 1, core",
        "Join 2001:db8:a::1 toward 2001:db8:c::1, weight 2, endpoint 2001:db8:2::1, relayed",
        "Join 2001:db8:a::2 toward 2001:db8:c::1, weight 65535, endpoint 2001:db8:3::1, relayed",
        "Prune 2001:db8:a::3 toward 2001:db8:c::1, endpoint 2001:db8:2::1, relayed",
        "Prune 2001:db8:a::2 toward 2001:db8:c::1",
        "Branch 1: 2001:db8:2::1, weight 3",
        "Branch 2: 2001:db8:3::1, weight 1",
        "Hash Seed: 0xdeadbeef",
        "0 branches (go through the core)",
        "Shortcut Request for 2001:db8:a::1 from 2001:db8:1::1, cancelled",
        "Authentication Trailer: key 7, seq 500",
        "Algorithm: HMAC-SHA-256 (1)",
        "[Plain PIM router (no option 65100): True]",
    ] {
        assert!(
            text.contains(want),
            "piasm.lua output lacks {want:?}:\n{text}"
        );
    }
}

/// Wireshark's expert severities as `-T fields` prints them.
const PI_ERROR: &str = "8388608";
const PI_WARN: &str = "6291456";

/// What receivers refuse, piasm.lua flags as an error, so that the check
/// fails on it: one broken message a packet, each with a right checksum,
/// and last a Hello from a global address, which only warns.
#[test]
fn piasm_lua_flags_what_receivers_refuse() {
    if tshark_missing() {
        return;
    }
    let broken = |name: &str, edit: &dyn Fn(&mut Vec<u8>)| {
        let f = fixture(name);
        let mut b = f.bytes.clone();
        edit(&mut b);
        b[2] = 0;
        b[3] = 0;
        let c = checksum(f.src, f.dst, &b);
        b[2..4].copy_from_slice(&c.to_be_bytes());
        // The decoder refuses each of them too.
        assert!(Packet::decode(f.src, f.dst, &b).is_err(), "{name}");
        ipv6(f.src, f.dst, false, &b)
    };
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "Weight not 1 to 65535",
            broken("join-prune-link", &|b| b[75] = 0),
        ),
        (
            "Branches not sorted by endpoint, or repeated",
            broken("branch-announcement", &|b| b.copy_within(36..52, 56)),
        ),
        (
            "3 octets after the message: neither none nor a 44-octet trailer",
            broken("shortcut-request", &|b| b.extend_from_slice(&[0; 3])),
        ),
        ("PIA-SM version 2, not 1", broken("hello", &|b| b[52] = 2)),
        (
            "Unknown PIA-SM extension subtype",
            broken("shortcut-request", &|b| b[1] = 0x30),
        ),
        (
            "Unknown attribute, not transitive",
            broken("join-prune-unicast", &|b| {
                b[76] &= !0x40;
                b.extend_from_slice(&[0x7f, 0]);
            }),
        ),
        (
            "Hello without Holdtime",
            broken("hello", &|b| {
                b.drain(4..10);
            }),
        ),
        (
            "More than 64 branches",
            broken("branch-announcement-empty", &|b| b[7] = 65),
        ),
    ];
    let mut packets: Vec<Vec<u8>> = cases.iter().map(|c| c.1.clone()).collect();
    let f = fixture("hello");
    let global = a("2001:db8:1::1");
    let mut hello = f.bytes.clone();
    let c = {
        hello[2] = 0;
        hello[3] = 0;
        checksum(global, f.dst, &hello)
    };
    hello[2..4].copy_from_slice(&c.to_be_bytes());
    assert!(Packet::decode(global, f.dst, &hello).is_ok());
    packets.push(ipv6(global, f.dst, false, &hello));
    let cap = Capture::write("broken", &packets);
    let (ok, out) = check_dissector(&cap);
    assert!(!ok, "check-dissector passed: {out}");
    let frames = (1..=cases.len())
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        out.contains(&format!("expert errors in frames: {frames} \n")),
        "{out}"
    );
    let rows = cap.fields(Some(&lua()), &["_ws.expert.message", "_ws.expert.severity"]);
    for ((want, _), row) in cases.iter().zip(&rows) {
        assert!(row[0].contains(want), "{want}: {row:?}");
        assert_eq!(row[1], PI_ERROR, "{want}: {row:?}");
    }
    let last = rows.last().unwrap();
    assert_eq!(
        last[..],
        ["Source not link-local, receivers drop it", PI_WARN],
        "{last:?}"
    );
}

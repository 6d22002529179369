//! tshark 4.0 (Wireshark's MIPv6 and ICMPv6 dissectors) reads every MGA
//! message the encoder writes, in IPv6 packets addressed as docs/mga.md §3
//! says (hop limit 64): each as MIPv6 of the right MH type (DHAAD as
//! ICMPv6 144/145 with a correct checksum), the options by name, nothing
//! malformed and no expert info at all (§11). tshark 4.0 shows the MH
//! checksum without checking it, so contrib/wireshark/mga.lua checks it,
//! and decodes the Experimental option's sub-options; checked by
//! scripts/check-dissector.sh as CI checks the other dissectors, which must
//! fail when the dissector stops decoding them. Skipped, loudly, where
//! tshark is missing.

use std::net::Ipv6Addr;
use std::path::{Path, PathBuf};
use std::process::Command;

use anycast6_core::pcap;

use super::packet::{fixture, fixtures, reseal, sent, Expected};
use crate::packet::*;

fn tshark_missing() -> bool {
    if Command::new("tshark").arg("-v").output().is_ok() {
        return false;
    }
    eprintln!("SKIPPED: tshark not installed, MGA messages not checked against Wireshark");
    true
}

fn ipv6(src: Ipv6Addr, dst: Ipv6Addr, next: u8, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0x60, 0, 0, 0];
    p.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    p.extend_from_slice(&[next, 64]);
    p.extend_from_slice(&src.octets());
    p.extend_from_slice(&dst.octets());
    p.extend_from_slice(payload);
    p
}

/// One packet of the capture and what went into it.
struct Sent {
    what: &'static str,
    message: Expected,
    payload: Vec<u8>,
    packet: Vec<u8>,
}

/// Every fixture's message as this crate encodes (and seals) it.
fn every_message() -> Vec<Sent> {
    fixtures()
        .into_iter()
        .map(|f| {
            let message = sent(&f);
            let (next, payload) = match &message {
                Expected::Mh(m) => (PROTO_MH, m.encode(f.src, f.dst)),
                Expected::Dhaad(d) => (PROTO_ICMPV6, d.encode(f.src, f.dst)),
            };
            Sent {
                what: f.name,
                message,
                packet: ipv6(f.src, f.dst, next, &payload),
                payload,
            }
        })
        .collect()
}

struct Capture {
    dir: PathBuf,
    file: PathBuf,
}

impl Capture {
    fn write(name: &str, packets: &[Vec<u8>]) -> Capture {
        let dir = std::env::temp_dir().join(format!("mga-tshark-{name}-{}", std::process::id()));
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

fn lua() -> PathBuf {
    root().join("contrib/wireshark/mga.lua")
}

/// The option names tshark shows for a message's options, in order.
fn option_names(o: &Options) -> Vec<&'static str> {
    let mut v = Vec::new();
    if o.home_prefix.is_some() {
        v.push("Home Network Prefix");
    }
    if o.refresh_advice.is_some() {
        v.push("Binding Refresh Advice");
    }
    if o.experimental.is_some() {
        v.push("Experimental");
    }
    if o.message_id.is_some() {
        v.push("MESG-ID-OPTION-TYPE");
    }
    if o.auth.is_some() {
        v.push("AUTH-OPTION-TYPE");
    }
    v
}

#[test]
fn tshark_decodes_every_message_as_mipv6_or_icmpv6() {
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
    assert!(!text.contains("Malformed"), "{text}");
    assert!(!text.contains("Expert Info"), "{text}");
    for level in ["Errors", "Warns", "Notes", "Chats", "Comments"] {
        assert!(!expert.contains(level), "{expert}");
    }
    let rows = cap.fields(
        None,
        &[
            "ipv6.nxt",
            "mip6.proto",
            "mip6.hlen",
            "mip6.mhtype",
            "mip6.csum",
            "icmpv6.type",
            "icmpv6.checksum.status",
            "_ws.expert",
            "_ws.malformed",
            "mip6.nemo.mnp.mnp",
            "mip6.nemo.mnp.pfl",
            "mip6.bra.interval",
            "mip6.auth.subtype",
            "mip6.auth.mobility_spi",
            "mip6.bu.seqnr",
            "mip6.bu.lifetime",
            "mip6.ba.status",
            "mip6.be.haddr",
        ],
    );
    assert_eq!(rows.len(), sent.len());
    let mut mh = 0;
    for (s, row) in sent.iter().zip(&rows) {
        match &s.message {
            Expected::Mh(m) => {
                mh += 1;
                let o = m.options();
                let ck = u16::from_be_bytes([s.payload[4], s.payload[5]]);
                assert_eq!(
                    row[..9],
                    [
                        "135".to_string(),
                        "59".into(),
                        s.payload[1].to_string(),
                        m.mh_type().to_string(),
                        format!("{ck:#06x}"),
                        String::new(),
                        String::new(),
                        String::new(),
                        String::new(),
                    ],
                    "{}: {row:?}",
                    s.what
                );
                let opt = |v: Option<String>| v.unwrap_or_default();
                assert_eq!(
                    row[9..14],
                    [
                        opt(o.home_prefix.map(|a| a.to_string())),
                        opt(o.home_prefix.map(|_| "128".into())),
                        opt(o.refresh_advice.map(|r| r.to_string())),
                        opt(o.auth.map(|a| a.subtype.to_string())),
                        opt(o.auth.map(|a| a.spi.to_string())),
                    ],
                    "{}",
                    s.what
                );
                match m {
                    Message::Update(u) => assert_eq!(
                        row[14..16],
                        [u.sequence.to_string(), u.lifetime.to_string()],
                        "{}",
                        s.what
                    ),
                    Message::Ack(a) => assert_eq!(row[16], a.status.to_string(), "{}", s.what),
                    Message::Error(e) => {
                        assert_eq!(row[17], e.home_address.to_string(), "{}", s.what)
                    }
                    Message::RefreshRequest(_) => {}
                }
                // The options by name, in order, each once.
                let names = option_names(o);
                let block = text
                    .split("\nFrame ")
                    .find(|b| b.contains(&format!("Checksum: {ck:#06x}")))
                    .unwrap();
                let shown: Vec<&str> = block
                    .lines()
                    .filter_map(|l| l.trim().strip_prefix("MIPv6 Option - "))
                    .map(|l| l.split(':').next().unwrap())
                    .filter(|n| *n != "PadN" && *n != "Pad1")
                    .collect();
                assert_eq!(shown, names, "{}", s.what);
            }
            Expected::Dhaad(d) => {
                let t = match d {
                    Dhaad::Request { .. } => "144",
                    Dhaad::Reply { .. } => "145",
                };
                assert_eq!(
                    row[..9],
                    ["58", "", "", "", "", t, "1", "", ""],
                    "{}: {row:?}",
                    s.what
                );
            }
        }
    }
    assert_eq!(mh, 8);
    assert_eq!(text.matches("Mobile IPv6\n").count(), mh, "{text}");
    for want in [
        "Mobility Header Type: Binding Update (5)",
        "Mobility Header Type: Binding Acknowledgement (6)",
        "Mobility Header Type: Binding Error (7)",
        "Mobility Header Type: Binding Refresh Request (0)",
        "MIPv6 Option - Home Network Prefix: 2001:db8:a::1/128",
        "Subtype: Unknown (1)",
        "Subtype: Unknown (2)",
        "MIPv6 Option - Pad1",
        "MIPv6 Option - PadN",
        "Home Agent Address Discovery Request",
        "Home Agent Address Discovery Reply",
        "Home Agent Address: 2001:db8:1::2",
        "Home Agent Address: 2001:db8:2::2",
        "Identifier: 4660 (0x1234)",
    ] {
        assert!(text.contains(want), "tshark output lacks {want:?}:\n{text}");
    }
}

fn check_dissector(lua: &Path, cap: &Capture, sel: &str, fields: &str) -> (bool, String) {
    let out = Command::new(root().join("scripts/check-dissector.sh"))
        .arg(lua)
        .arg(&cap.file)
        .arg(sel)
        .arg(fields)
        .output()
        .expect("scripts/check-dissector.sh runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

/// The two checks CI runs: every Mobility Header claimed, its checksum
/// checked; every Experimental option decoded into its fields.
const CHECKS: [(&str, &str); 2] = [
    ("mipv6", "mga.message,mga.checksum.good"),
    (
        "mip6.options.em",
        "mga.magic,mga.version,mga.suboption.type",
    ),
];

const LUA_FIELDS: [&str; 11] = [
    "mga.checksum.good",
    "mga.magic",
    "mga.version",
    "mga.metric",
    "mga.flow.protocol",
    "mga.flow.correspondent_port",
    "mga.flow.service_port",
    "mga.flow.correspondent",
    "mga.flow.care_of",
    "mga.draining",
    "_ws.expert",
];

/// What mga.lua should show of a message ([`LUA_FIELDS`]).
fn lua_view(m: &Message) -> Vec<String> {
    let mut v = vec![String::new(); LUA_FIELDS.len()];
    v[0] = "1".into();
    if let Some(e) = m.options().experimental {
        v[1] = "0xa6".into();
        v[2] = "1".into();
        v[3] = e.metric.map(|x| x.to_string()).unwrap_or_default();
        if let Some(f) = e.flow {
            v[4] = f.protocol.to_string();
            v[5] = f.correspondent_port.to_string();
            v[6] = f.service_port.to_string();
            v[7] = f.correspondent.to_string();
            v[8] = f.care_of.to_string();
        }
        v[9] = if e.draining {
            "1".into()
        } else {
            String::new()
        };
    }
    v
}

#[test]
fn mga_lua_decodes_the_experimental_option() {
    if tshark_missing() {
        return;
    }
    let sent = every_message();
    let cap = Capture::write(
        "lua",
        &sent.iter().map(|s| s.packet.clone()).collect::<Vec<_>>(),
    );
    for (sel, fields) in CHECKS {
        let (ok, out) = check_dissector(&lua(), &cap, sel, fields);
        assert!(ok, "check-dissector {sel}: {out}");
        let n = if sel == "mipv6" { 8 } else { 3 };
        assert!(
            out.contains(&format!("decoded {n} of {n} packets matching '{sel}'")),
            "{out}"
        );
    }
    let rows = cap.fields(Some(&lua()), &LUA_FIELDS);
    for (s, row) in sent.iter().zip(&rows) {
        match &s.message {
            Expected::Mh(m) => assert_eq!(row[..], lua_view(m)[..], "{}", s.what),
            Expected::Dhaad(_) => assert!(row.iter().all(String::is_empty), "{}", s.what),
        }
    }
    let text = cap.tshark(Some(&lua()), &["-V", "-O", "mga"]);
    for want in [
        "MGA Binding Update",
        "Checksum: 0x",
        "[correct]",
        "Sub-option Metric (1): 10",
        "Sub-option Draining (3)",
        "Flow: protocol 6, [2001:db8:20::1]:40000 to service port 443, care-of 2001:db8:10::1",
    ] {
        assert!(
            text.contains(want),
            "mga.lua output lacks {want:?}:\n{text}"
        );
    }
}

/// The check fails when the dissector stops decoding the sub-options, and
/// when a packet carries what receivers refuse (an expert error each).
#[test]
fn the_dissector_check_can_fail() {
    if tshark_missing() {
        return;
    }
    let sent = every_message();
    let cap = Capture::write(
        "fail",
        &sent.iter().map(|s| s.packet.clone()).collect::<Vec<_>>(),
    );
    let dir = std::env::temp_dir().join(format!("mga-lua-broken-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let broken = dir.join("mga.lua");
    let src = std::fs::read_to_string(lua()).unwrap();
    let stopped = src.replace("while at < r:len() do", "while false do");
    assert_ne!(
        stopped, src,
        "mga.lua's sub-option loop moved: update this test"
    );
    std::fs::write(&broken, stopped).unwrap();
    let (ok, out) = check_dissector(&broken, &cap, CHECKS[1].0, CHECKS[1].1);
    std::fs::remove_dir_all(&dir).ok();
    assert!(
        !ok,
        "check-dissector passed a dissector decoding no sub-option: {out}"
    );
    assert!(out.contains("with mga.suboption.type"), "{out}");

    // Refused octets, each with its checksum right but the first.
    let edit = |name: &str, f: &dyn Fn(&mut Vec<u8>), fix: bool| {
        let x = fixture(name);
        let mut b = x.bytes.clone();
        f(&mut b);
        if fix {
            reseal(x.src, x.dst, &mut b);
        }
        ipv6(x.src, x.dst, PROTO_MH, &b)
    };
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("Checksum 0x", edit("binding-ack", &|b| b[9] ^= 1, false)),
        (
            "Magic 0xa7, not 0xa6",
            edit("binding-update-home", &|b| b[34] = 0xa7, true),
        ),
        (
            "Version 2, not 1",
            edit("binding-update-home", &|b| b[35] = 2, true),
        ),
        (
            "Sub-type 3 twice",
            edit(
                "binding-update-home",
                &|b| {
                    // Metric becomes Draining, Draining (and PadN 2 after).
                    b[33] = 6;
                    b.splice(36..42, [3, 0, 3, 0, 1, 2]);
                },
                true,
            ),
        ),
        (
            "Sub-option 1 cut short",
            edit("binding-update-home", &|b| b[33] = 7, true),
        ),
    ];
    let cap = Capture::write(
        "refused",
        &cases.iter().map(|c| c.1.clone()).collect::<Vec<_>>(),
    );
    let (ok, out) = check_dissector(&lua(), &cap, CHECKS[0].0, CHECKS[0].1);
    assert!(!ok, "check-dissector passed refused messages: {out}");
    assert!(out.contains("expert errors in frames: 1 2 3 4 5 "), "{out}");
    let rows = cap.fields(Some(&lua()), &["_ws.expert.message"]);
    for ((want, _), row) in cases.iter().zip(&rows) {
        assert!(row[0].contains(want), "{want}: {row:?}");
    }
}

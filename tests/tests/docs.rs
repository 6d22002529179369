//! The docs say what the code does: the worked flow-hash example and the
//! ABI tables are checked against the dataplane crate.

use std::net::Ipv6Addr;

use anycast6_dataplane::abi::{self, FlowKey, Reason};
use anycast6_dataplane::{flowhash, maglev};

fn doc(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../docs")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn key(sport_be: [u8; 2], dport_be: [u8; 2], proto: u8, frag: u8) -> FlowKey {
    let src: Ipv6Addr = "2001:db8:c::2".parse().unwrap();
    let dst: Ipv6Addr = "2001:db8:ac::1".parse().unwrap();
    FlowKey {
        src: src.octets(),
        dst: dst.octets(),
        sport_be: u16::from_ne_bytes(sport_be),
        dport_be: u16::from_ne_bytes(dport_be),
        proto,
        frag,
        _pad: 0,
    }
}

#[test]
fn flow_hash_worked_example() {
    let text = doc("flow-hash.md");
    let seed = 0x5eed_1234;

    let k = key(40000u16.to_be_bytes(), 7000u16.to_be_bytes(), 17, 0);
    let bytes = k.to_bytes();
    assert_eq!(&bytes[32..], &[0x9c, 0x40, 0x1b, 0x58, 0x11, 0, 0, 0]);
    let h = flowhash::flow_hash(&k, seed);
    let m = maglev::table_len(2);
    assert_eq!(m, 211);
    let idx = flowhash::maglev_index(h, m);
    let label = flowhash::flow_label(h);
    for needle in [
        format!("hash        {h:#010x}"),
        format!("{h:#010x} % 211 = {idx} "),
        format!("flow label  {label:#x}"),
    ] {
        assert!(text.contains(&needle), "docs/flow-hash.md lacks {needle:?}");
    }

    // A fragment: identification 0x12345678 in the port fields, frag = 1.
    let f = key([0x12, 0x34], [0x56, 0x78], 17, 1);
    let hf = flowhash::flow_hash(&f, seed);
    let needle = format!("hash is `{hf:#010x}` (index {} of 211)", hf % 211);
    assert!(text.contains(&needle), "docs/flow-hash.md lacks {needle:?}");
}

#[test]
fn abi_doc_names_every_map_and_reason() {
    let text = doc("abi.md");
    assert!(text.contains(&format!(
        "The current ABI version is **{}**.",
        abi::ABI_VERSION
    )));
    for m in abi::map::XDP_ALL
        .iter()
        .chain([abi::map::DECAP_ADDRS, abi::map::DECAP_STATS].iter())
    {
        assert!(
            text.contains(&format!("| `{m}` |")),
            "docs/abi.md has no row for map {m}"
        );
    }
    for r in Reason::ALL {
        let verdict = match r.verdict() {
            abi::Verdict::Redirect => "REDIRECT",
            abi::Verdict::Tx => "TX",
            abi::Verdict::Pass => "PASS",
            abi::Verdict::Drop => "DROP",
        };
        let row = format!("| {} | `{}` | {verdict} |", r as u32, r.name());
        assert!(text.contains(&row), "docs/abi.md lacks reason row {row:?}");
    }
    assert!(
        text.contains(&format!(
            "| `a6_stats` | PERCPU_ARRAY | `__u32` reason → `a6_counter` | {} (`A6_R_MAX`)",
            abi::REASON_MAX
        )),
        "docs/abi.md gives a6_stats another size than A6_R_MAX"
    );
    let pins = format!("/sys/fs/bpf/anycast6/v{}", abi::ABI_VERSION);
    for d in ["abi.md", "architecture.md", "config.md"] {
        let t = doc(d);
        for (i, _) in t.match_indices("/sys/fs/bpf/anycast6/v") {
            assert!(
                t[i..].starts_with(&pins) || t[i..].starts_with("/sys/fs/bpf/anycast6/v<ABI>"),
                "docs/{d} names a pin directory other than {pins}"
            );
        }
    }
    for (i, name) in abi::decap_reason::NAMES.iter().enumerate() {
        let item = format!("{i} `{name}`");
        assert!(
            text.contains(&item),
            "docs/abi.md lacks decap reason {item:?}"
        );
    }
}

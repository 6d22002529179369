//! Why AARP exists (MISSION.md part 2): with plain kernel routing and no
//! anycast6 on the path, the route to an anycast address moves to another
//! member in the middle of a long TCP transfer. Without the preload
//! library the transfer breaks (its segments reach a member that has no
//! such connection); with it, the connection was made to the first
//! member's unicast address and completes byte-exact.
//!
//! ```text
//!  client ── r (kernel routing: A via m1, then via m2) ── m1, m2
//! ```

use std::net::Ipv6Addr;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anycast6_tests::daemon::bin;
use anycast6_tests::proto;
use anycast6_tests::{require_root, veth, wait_for, Daemon, Netns, Proc, TempDir};

const A: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0xac, 0, 0, 0, 0, 0x5);
const M1: &str = "2001:db8:1::10";
const M2: &str = "2001:db8:2::10";
const PORT: &str = "7201";
const BYTES: u64 = 12 << 20;
const RATE: u64 = 3 << 20;

struct Net {
    tmp: TempDir,
    client: Netns,
    r: Netns,
    /// Kept alive for the test's length.
    _ms: Vec<Netns>,
    _procs: Vec<Proc>,
    _daemons: Vec<Daemon>,
}

fn build() -> Net {
    let tmp = TempDir::new("aarpr").expect("tmp");
    let ns = |r: &str| Netns::new(&format!("aarpr{r}")).expect("netns");
    let (client, r, m1, m2) = (ns("c"), ns("r"), ns("1"), ns("2"));
    r.enable_forwarding().unwrap();
    veth(&client, "c-r", &r, "r-c").unwrap();
    client.add_addr("c-r", "2001:db8:c::2/64").unwrap();
    r.add_addr("r-c", "2001:db8:c::1/64").unwrap();
    client.add_route("default", "2001:db8:c::1").unwrap();
    let mut procs = Vec::new();
    let mut daemons = Vec::new();
    for (i, (m, unicast)) in [(&m1, M1), (&m2, M2)].into_iter().enumerate() {
        let n = i + 1;
        veth(&r, &format!("r-m{n}"), m, "m-r").unwrap();
        r.add_addr(&format!("r-m{n}"), &format!("2001:db8:{n}::1/64"))
            .unwrap();
        m.add_addr("m-r", &format!("{unicast}/64")).unwrap();
        m.add_route("default", &format!("2001:db8:{n}::1")).unwrap();
        // The anycast address on lo and an AARP-answering member role.
        let cfg = proto::member_role(A, format!("[aarp]\nunicast = \"{unicast}\"\n"));
        daemons.push(Daemon::start(m, &tmp, &format!("m{n}"), &cfg).expect("member anycast6d"));
        let mut cmd = m.command(bin("a6-traffic"));
        cmd.args([
            "tcp-server",
            "--name",
            &format!("m{n}"),
            "--bind",
            "::",
            "--port",
            PORT,
        ]);
        procs.push(
            Proc::spawn(
                &format!("echo-m{n}"),
                cmd,
                tmp.join(format!("echo-m{n}.log")),
            )
            .unwrap(),
        );
    }
    r.add_route(&format!("{A}/128"), M1).unwrap();
    Net {
        tmp,
        client,
        r,
        _ms: vec![m1, m2],
        _procs: procs,
        _daemons: daemons,
    }
}

/// Runs a paced transfer to A from the client, moves the route to m2
/// after `move_after`, and returns (exit ok, stdout + stderr).
fn transfer(net: &Net, preload: bool, move_after: Duration) -> (bool, String) {
    net.r
        .ip(&["-6", "route", "replace", &format!("{A}/128"), "via", M1])
        .unwrap();
    let mut cmd = net.client.command(bin("a6-traffic"));
    cmd.args([
        "tcp-transfer",
        "--dst",
        &A.to_string(),
        "--port",
        PORT,
        "--bytes",
        &BYTES.to_string(),
        "--rate",
        &RATE.to_string(),
    ])
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    if preload {
        cmd.env("LD_PRELOAD", bin("libanycast6_aarp.so"))
            .env("ANYCAST6_AARP_ANYCAST", format!("{A}/128"))
            .env("ANYCAST6_AARP_DEBUG", "1");
    }
    let child = cmd.spawn().expect("a6-traffic");
    let t = Instant::now();
    std::thread::sleep(move_after);
    net.r
        .ip(&["-6", "route", "replace", &format!("{A}/128"), "via", M2])
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("preload={preload}: after {:?}: {text}", t.elapsed());
    (out.status.success(), text)
}

#[test]
fn route_moves_mid_transfer_breaks_plain_tcp_and_not_tcp_through_aarp() {
    if !require_root("route_moves_mid_transfer_breaks_plain_tcp_and_not_tcp_through_aarp") {
        return;
    }
    let net = build();
    wait_for("members answer on A", Duration::from_secs(10), || {
        net.client
            .command(bin("anycast6ctl"))
            .args(["resolve", &A.to_string()])
            .output()
            .is_ok_and(|o| o.status.success())
    })
    .expect("AARP answers");

    // Without the library: the connection is to A; once A routes to m2,
    // m2 answers the segments with resets.
    let (ok, text) = transfer(&net, false, Duration::from_millis(1500));
    assert!(!ok, "the plain transfer was expected to break: {text}");

    // With it: connect() went to m1's unicast address; the route to A is
    // irrelevant and the transfer completes byte-exact.
    let (ok, text) = transfer(&net, true, Duration::from_millis(1500));
    assert!(ok, "the transfer through AARP failed: {text}");
    assert!(text.contains("byte-exact by m1"), "{text}");
    assert!(text.contains(&format!("-> member {M1}")), "{text}");
    let _ = &net.tmp;
}

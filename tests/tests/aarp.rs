//! AARP end to end (docs/aarp.md): members answer for themselves; a router
//! that owns the address answers on their behalf with the member its fast
//! path would choose; a key stops a rogue member's answers; unmodified
//! curl, nc and a Python client connect to a member's unicast address
//! through the preload library.

use std::collections::BTreeMap;
use std::net::{Ipv6Addr, SocketAddrV6, UdpSocket};
use std::process::Command;
use std::time::Duration;

use anycast6_aarp::packet::{self, AnswerSource, Body, Message, Query, Status};
use anycast6_tests::daemon::{bin, DaemonCfg};
use anycast6_tests::proto;
use anycast6_tests::topology::{Options, ANYCAST, CLIENT, M1, M2};
use anycast6_tests::{require_root, wait_for, Daemon, Netns, Topology};

const KEY: &str = "aarp test key 0123456789";

fn member_cfg(unicast: Ipv6Addr, key: bool) -> DaemonCfg {
    let keys = if key {
        format!("keys = [{{ id = 3, secret = \"{KEY}\" }}]\n")
    } else {
        String::new()
    };
    proto::member_role(
        ANYCAST,
        format!("[aarp]\nunicast = \"{unicast}\"\nlifetime_ms = 20000\n{keys}"),
    )
}

fn router_cfg(topo: &Topology, answer: bool) -> DaemonCfg {
    let mut cfg = topo.router_config();
    cfg.extra = format!("[aarp]\nanswer_for_members = {answer}\n");
    cfg
}

/// One AARP query from [CLIENT]:sport; the answer's (member, source).
fn ask(sport: u16) -> anyhow::Result<(Ipv6Addr, AnswerSource)> {
    let s = UdpSocket::bind(SocketAddrV6::new(CLIENT, sport, 0, 0))?;
    s.connect(SocketAddrV6::new(ANYCAST, anycast6_aarp::PORT, 0, 0))?;
    s.set_read_timeout(Some(Duration::from_millis(500)))?;
    let nonce = 0xa6a6_0000_0000_0000 | u64::from(sport);
    let q = Message {
        body: Body::Query(Query {
            nonce,
            anycast: ANYCAST,
            member_only: false,
        }),
        trailer: None,
    };
    let mut buf = [0u8; 512];
    for _ in 0..3 {
        s.send(&q.encode())?;
        let Ok(n) = s.recv(&mut buf) else { continue };
        if let Ok(Message {
            body: Body::Answer(a),
            ..
        }) = packet::decode(&buf[..n])
        {
            if a.nonce == nonce && a.status == Status::Ok {
                return Ok((a.member, a.source));
            }
        }
    }
    anyhow::bail!("no answer from port {sport}")
}

fn ask_many(
    client: &Netns,
    ports: std::ops::Range<u16>,
) -> BTreeMap<u16, (Ipv6Addr, AnswerSource)> {
    client
        .run_in(move || {
            let mut out = BTreeMap::new();
            for p in ports {
                out.insert(p, ask(p)?);
            }
            Ok(out)
        })
        .expect("AARP queries")
}

/// tshark on the router's client-facing link: the next 100 AARP packets.
fn capture(topo: &Topology, label: &str) -> (anycast6_tests::Proc, std::path::PathBuf) {
    let file = topo.tmp.join(format!("aarp-{label}.pcap"));
    let mut cmd = topo.router.command("tshark");
    cmd.args([
        "-n",
        "-q",
        "-i",
        "to-c",
        "-f",
        "udp port 5360",
        "-c",
        "100",
        "-a",
        "duration:15",
        "-w",
    ])
    .arg(&file);
    let p = anycast6_tests::Proc::spawn(
        &format!("cap-{label}"),
        cmd,
        topo.tmp.join(format!("cap-{label}.log")),
    )
    .expect("tshark");
    // tshark says when dumpcap has the interface open; on a loaded machine
    // that takes longer than any fixed pause (a capture that starts after
    // the queries sees none of them).
    wait_for("tshark capturing", Duration::from_secs(30), || {
        p.log().contains("Capturing on")
    })
    .expect("tshark did not start capturing");
    std::thread::sleep(Duration::from_millis(300));
    (p, file)
}

fn resolve(client: &Netns, extra: &[&str]) -> std::process::Output {
    let mut cmd = client.command(bin("anycast6ctl"));
    cmd.args(["--json", "resolve", &ANYCAST.to_string()])
        .args(extra);
    cmd.output().expect("anycast6ctl resolve")
}

#[test]
fn members_answer_and_the_router_answers_like_its_fast_path() {
    if !require_root("members_answer_and_the_router_answers_like_its_fast_path") {
        return;
    }
    let topo = Topology::build("aarp", Options { m4: false }).expect("topology");
    let router = Daemon::start(&topo.router, &topo.tmp, "router", &router_cfg(&topo, false))
        .expect("router");
    let _m1 = Daemon::start(&topo.m1, &topo.tmp, "m1", &member_cfg(M1, false)).expect("m1");
    let _m2 = Daemon::start(&topo.m2, &topo.tmp, "m2", &member_cfg(M2, false)).expect("m2");
    topo.wait_anycast_ready(Duration::from_secs(15))
        .expect("anycast ready");

    // anycast6ctl resolve from the client: a member answers for itself.
    let out = resolve(&topo.client, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["source"], "member", "{v}");
    assert!(
        v["member"] == M1.to_string() || v["member"] == M2.to_string(),
        "{v}"
    );
    assert_eq!(v["lifetime_ms"], 20000, "{v}");
    let human = topo
        .client
        .command(bin("anycast6ctl"))
        .args(["resolve", &ANYCAST.to_string()])
        .output()
        .unwrap();
    let line = String::from_utf8_lossy(&human.stdout);
    assert!(
        line.contains("-> 2001:db8:") && line.contains("from member"),
        "{line}"
    );

    // 1000 clients (source ports): the member each query reached, i.e. the
    // fast path's choice for that flow.
    let cap_members = capture(&topo, "members");
    let by_members = ask_many(&topo.client, 20000..21000);
    assert!(by_members.values().all(|(_, s)| *s == AnswerSource::Member));
    let m1_share = by_members.values().filter(|(m, _)| *m == M1).count();
    assert!(
        (300..700).contains(&m1_share),
        "m1 answered {m1_share} of 1000"
    );

    // The router now answers for the members: the same member per client.
    std::fs::write(
        &router.config,
        router_cfg(&topo, true).to_toml(
            &router.socket,
            router.pin_dir(),
            &topo.tmp.join("router.state.json"),
        ),
    )
    .unwrap();
    router.ctl(&["reload"]).expect("reload");
    wait_for("the router answers", Duration::from_secs(10), || {
        topo.client
            .run_in(|| ask(30000))
            .is_ok_and(|(_, s)| s == AnswerSource::Router)
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", router.log()));
    let cap_router = capture(&topo, "router");
    let by_router = ask_many(&topo.client, 20000..21000);
    // Every AARP packet of both captures decodes with our dissector, no
    // malformed field.
    for (mut p, file) in [cap_members, cap_router] {
        wait_for("capture ends", Duration::from_secs(20), || !p.running()).unwrap();
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let out = Command::new(root.join("scripts/check-dissector.sh"))
            .arg(root.join("contrib/wireshark/aarp.lua"))
            .arg(&file)
            .arg("5360")
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "{}: {text}", file.display());
        eprintln!("{}: {}", file.display(), text.trim());
    }
    let mut differ = Vec::new();
    for (p, (m, s)) in &by_router {
        assert_eq!(*s, AnswerSource::Router, "port {p}");
        if by_members[p].0 != *m {
            differ.push(*p);
        }
    }
    assert!(
        differ.is_empty(),
        "{} of 1000 clients got another member from the router than the fast path gave them: {:?}",
        differ.len(),
        &differ[..differ.len().min(10)]
    );
    let v = router.ctl_json(&["show", "aarp"]).unwrap();
    assert!(v["counters"]["answered"].as_u64() >= Some(1000), "{v}");
}

#[test]
fn a_rogue_members_unsigned_answer_is_rejected_with_a_key() {
    if !require_root("a_rogue_members_unsigned_answer_is_rejected_with_a_key") {
        return;
    }
    let topo = Topology::build("aarpk", Options { m4: false }).expect("topology");
    let _router = Daemon::start(&topo.router, &topo.tmp, "router", &router_cfg(&topo, false))
        .expect("router");
    // m1 holds the key; m2 (a third namespace) answers unsigned, claiming
    // the address for itself.
    let _m1 = Daemon::start(&topo.m1, &topo.tmp, "m1", &member_cfg(M1, true)).expect("m1");
    let _m2 = Daemon::start(&topo.m2, &topo.tmp, "m2", &member_cfg(M2, false)).expect("m2");
    topo.wait_anycast_ready(Duration::from_secs(15))
        .expect("anycast ready");
    let key = format!("3:{KEY}");
    let (mut ok_m1, mut refused, mut unsigned_m2) = (0, 0, 0);
    for _ in 0..24 {
        // Each resolve uses a fresh source port: Maglev spreads them.
        let out = resolve(
            &topo.client,
            &["--key", &key, "--timeout-ms", "200", "--retries", "0"],
        );
        if out.status.success() {
            let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            assert_eq!(
                v["member"],
                M1.to_string(),
                "only the keyed member is accepted: {v}"
            );
            assert_eq!(v["authenticated"], true, "{v}");
            ok_m1 += 1;
        } else {
            refused += 1;
        }
        let out = resolve(&topo.client, &["--timeout-ms", "200", "--retries", "0"]);
        if out.status.success() {
            let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            if v["member"] == M2.to_string() {
                unsigned_m2 += 1;
            }
        }
    }
    eprintln!("with the key: {ok_m1} from m1, {refused} refused; without: {unsigned_m2} from m2");
    assert!(ok_m1 > 0, "the keyed member answers");
    assert!(
        refused > 0,
        "queries reaching the rogue member get no usable answer"
    );
    assert!(
        unsigned_m2 > 0,
        "without a key the rogue's answer is taken (what the key prevents)"
    );
}

/// Unmodified programs through the preload library: the TCP connection
/// goes to a member's unicast address and the exchange completes.
#[test]
fn curl_nc_and_python_reach_a_member_through_the_preload_library() {
    if !require_root("curl_nc_and_python_reach_a_member_through_the_preload_library") {
        return;
    }
    let topo = Topology::build("aarpp", Options { m4: false }).expect("topology");
    let _router = Daemon::start(&topo.router, &topo.tmp, "router", &router_cfg(&topo, false))
        .expect("router");
    let _m1 = Daemon::start(&topo.m1, &topo.tmp, "m1", &member_cfg(M1, false)).expect("m1");
    let _m2 = Daemon::start(&topo.m2, &topo.tmp, "m2", &member_cfg(M2, false)).expect("m2");
    topo.wait_anycast_ready(Duration::from_secs(15))
        .expect("anycast ready");
    // python3 -m http.server on each member, serving a page naming it.
    let mut http = Vec::new();
    for (name, ns) in [("m1", &topo.m1), ("m2", &topo.m2)] {
        let dir = topo.tmp.join(format!("www-{name}"));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("index.html"), format!("served by {name}\n")).unwrap();
        let mut cmd = ns.command("python3");
        cmd.args(["-m", "http.server", "8080", "--bind", "::", "--directory"])
            .arg(&dir);
        http.push(
            anycast6_tests::Proc::spawn(
                &format!("http-{name}"),
                cmd,
                topo.tmp.join(format!("http-{name}.log")),
            )
            .unwrap(),
        );
        // A TCP echo server on every address (the topology's own listen on
        // the anycast address only), greeting with the member's name.
        let mut cmd = ns.command(bin("a6-traffic"));
        cmd.args([
            "tcp-server",
            "--name",
            name,
            "--bind",
            "::",
            "--port",
            "7101",
        ]);
        http.push(
            anycast6_tests::Proc::spawn(
                &format!("echo-{name}"),
                cmd,
                topo.tmp.join(format!("echo-{name}.log")),
            )
            .unwrap(),
        );
    }
    let so = bin("libanycast6_aarp.so");
    assert!(so.exists(), "{} not built", so.display());
    let env = |cmd: &mut Command| {
        cmd.env("LD_PRELOAD", &so)
            .env("ANYCAST6_AARP_ANYCAST", format!("{ANYCAST}/128"))
            .env("ANYCAST6_AARP_DEBUG", "1");
    };
    let url = format!("http://[{ANYCAST}]:8080/");
    wait_for("http servers up", Duration::from_secs(10), || {
        let mut c = topo.client.command("curl");
        c.args(["-s", "-g", "--max-time", "2", &url]);
        env(&mut c);
        c.output().is_ok_and(|o| o.status.success())
    })
    .expect("curl through the library");
    let mut c = topo.client.command("curl");
    c.args(["-s", "-g", "--max-time", "5", &url]);
    env(&mut c);
    let out = c.output().unwrap();
    let body = String::from_utf8_lossy(&out.stdout).into_owned();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    eprintln!("curl: {body}{err}");
    assert!(out.status.success(), "{err}");
    let (served, unicast) = if body.contains("m1") {
        ("m1", M1)
    } else {
        ("m2", M2)
    };
    assert!(body.contains(&format!("served by {served}")), "{body}");
    assert!(
        err.contains(&format!("-> member {unicast}")),
        "the connection went to {served}'s unicast address: {err}"
    );

    // nc: the members' echo servers (port 7101) greet with their name.
    let mut c = topo.client.command("sh");
    c.args([
        "-c",
        &format!("printf 'hello\\n' | nc -6 -q 1 -w 3 {ANYCAST} 7101"),
    ]);
    env(&mut c);
    let out = c.output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    eprintln!("nc: {text}{err}");
    assert!(
        text.starts_with("m1\n") || text.starts_with("m2\n"),
        "{text}{err}"
    );
    assert!(text.contains("hello"), "echoed: {text}");
    assert!(err.contains("-> member 2001:db8:"), "{err}");

    // A Python client: 1 MiB echoed byte-exact over the member's unicast.
    let script = format!(
        "import socket\n\
         s = socket.create_connection(('{ANYCAST}', 7101))\n\
         peer = s.getpeername()[0]\n\
         f = s.makefile('rb')\n\
         name = f.readline().decode().strip()\n\
         data = bytes(range(256)) * 4096\n\
         s.sendall(data); s.shutdown(socket.SHUT_WR)\n\
         back = f.read()\n\
         assert back == data, (len(back), len(data))\n\
         print(name, peer, len(back))\n"
    );
    let mut c = topo.client.command("python3");
    c.args(["-c", &script]);
    env(&mut c);
    let out = c.output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut f = text.split_whitespace();
    let (name, peer) = (f.next().unwrap(), f.next().unwrap());
    let want = if name == "m1" { M1 } else { M2 };
    assert_eq!(
        peer.parse::<Ipv6Addr>().unwrap(),
        want,
        "python peer: {text}"
    );
    drop(http);
}

/// A draining member gives no AARP answers (new clients go elsewhere).
#[test]
fn a_draining_member_does_not_answer() {
    if !require_root("a_draining_member_does_not_answer") {
        return;
    }
    let topo = Topology::build("aarpd", Options { m4: false }).expect("topology");
    let _router = Daemon::start(&topo.router, &topo.tmp, "router", &router_cfg(&topo, false))
        .expect("router");
    let mut m1cfg = member_cfg(M1, false);
    m1cfg.extra = format!("draining = true\n{}", m1cfg.extra);
    let _m1 = Daemon::start(&topo.m1, &topo.tmp, "m1", &m1cfg).expect("m1");
    let _m2 = Daemon::start(&topo.m2, &topo.tmp, "m2", &member_cfg(M2, false)).expect("m2");
    topo.wait_anycast_ready(Duration::from_secs(15))
        .expect("anycast ready");
    let (from_m2, silent) = topo
        .client
        .run_in(|| {
            let (mut m2, mut none) = (0, 0);
            for p in 22000..22040 {
                match ask(p) {
                    Ok((m, _)) => {
                        anyhow::ensure!(m == M2, "port {p} answered by {m}");
                        m2 += 1;
                    }
                    Err(_) => none += 1,
                }
            }
            Ok((m2, none))
        })
        .expect("queries");
    eprintln!("40 queries: {from_m2} answered by m2, {silent} unanswered (reached draining m1)");
    assert!(from_m2 > 0 && silent > 0, "{from_m2} / {silent}");
}

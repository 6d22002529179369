//! Attaching, pinned links and destroy, in a network namespace of our own
//! (veth pair and the namespace's loopback; no traffic is sent).

mod common;

use anycast6_dataplane::{loader::Decap, AttachMode, Dataplane};
use common::{in_netns, root_or_skip, Netns, PinDir};

#[test]
fn attach_keep_detach_destroy() {
    if !root_or_skip("attach_keep_detach_destroy: namespaces and XDP links") {
        return;
    }
    let ns = Netns::new("att");
    ns.ip(&[
        "link", "add", "a6v0", "type", "veth", "peer", "name", "a6v1",
    ]);
    let pins = PinDir::new("attach");
    let opts = pins.opts();
    let pin_dir = pins.path.clone();

    let (first, prog_first) = in_netns(&ns, {
        let opts = opts.clone();
        move || {
            let mut dp = Dataplane::open(&opts).expect("open");
            let a = dp
                .attach("a6v0", AttachMode::NativeOrGeneric)
                .expect("attach veth");
            assert_eq!(a.ifname, "a6v0");
            assert_eq!(a.mode, AttachMode::Native, "veth has native XDP");
            assert_eq!(a.link_pin, opts.pin_dir.join("link_a6v0"));
            // Generic explicitly.
            let b = dp.attach("a6v1", AttachMode::Generic).expect("attach peer");
            assert_eq!(b.mode, AttachMode::Generic);
            // lo has no native XDP: the fallback attaches generic.
            let l = dp
                .attach("lo", AttachMode::NativeOrGeneric)
                .expect("attach lo");
            assert_eq!(l.mode, AttachMode::Generic);
            assert!(dp.attach("lo2", AttachMode::Generic).is_err());
            assert!(dp.attach("../x", AttachMode::Generic).is_err());
            let mut ports = vec![a.ifindex, b.ifindex, l.ifindex];
            ports.sort_unstable();
            assert_eq!(dp.fib().installed().unwrap().tx_ports, ports);
            let listed = dp.attached().unwrap();
            assert_eq!(
                listed.iter().map(|x| x.ifname.as_str()).collect::<Vec<_>>(),
                vec!["a6v0", "a6v1", "lo"]
            );
            assert_eq!(listed[0], a);
            let p = a.prog_id;
            (a, p)
            // dp dropped here: the links stay, pinned.
        }
    });
    assert!(ns.has_xdp("a6v0"), "link survives the process's handles");
    assert!(ns.has_xdp("lo"));

    in_netns(&ns, {
        let opts = opts.clone();
        move || {
            // A restarted daemon: the pinned link is kept and switched to
            // the newly loaded program.
            let mut dp = Dataplane::open(&opts).expect("reopen");
            let listed = dp.attached().unwrap();
            assert_eq!(listed.len(), 3);
            assert_eq!(listed[0].prog_id, prog_first);
            let again = dp.attach("a6v0", AttachMode::Native).expect("re-attach");
            assert_eq!(again.ifindex, first.ifindex);
            assert_eq!(again.mode, AttachMode::Native);
            assert_eq!(again.link_pin, first.link_pin);
            assert_ne!(
                again.prog_id, prog_first,
                "link now runs this process's program"
            );

            dp.detach("a6v1").expect("detach");
            dp.detach("a6v1").expect("detach twice");
            assert_eq!(dp.attached().unwrap().len(), 2);
            assert!(!dp
                .fib()
                .installed()
                .unwrap()
                .tx_ports
                .contains(&listed[1].ifindex));
        }
    });
    assert!(!ns.has_xdp("a6v1"), "detach removed the program");
    assert!(ns.has_xdp("a6v0"));

    // The decap program in the same pin directory.
    in_netns(&ns, {
        let pin_dir = pin_dir.clone();
        move || {
            let d = Decap::attach(
                &pin_dir,
                "a6v1",
                AttachMode::Generic,
                &["2001:db8:ac::1".parse().unwrap()],
            )
            .expect("decap attach");
            let l = d.attached().unwrap();
            assert_eq!(l.len(), 1);
            assert_eq!(
                (l[0].ifname.as_str(), l[0].mode),
                ("a6v1", AttachMode::Generic)
            );
        }
    });
    assert!(ns.has_xdp("a6v1"));

    Dataplane::destroy(&pin_dir).expect("destroy");
    for ifname in ["a6v0", "a6v1", "lo"] {
        assert!(!ns.has_xdp(ifname), "{ifname} still has XDP after destroy");
    }
    assert!(!pin_dir.exists());
}

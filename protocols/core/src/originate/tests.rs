use super::*;

const LO: u32 = 1;
const ETH: u32 = 2;

fn a(s: &str) -> Ipv6Addr {
    s.parse().unwrap()
}

fn p(s: &str) -> Prefix {
    let (addr, len) = s.split_once('/').unwrap();
    Prefix::new(a(addr), len.parse().unwrap()).unwrap()
}

fn addr(ifindex: u32, cidr: &str) -> IfAddr {
    let (x, len) = cidr.split_once('/').unwrap();
    IfAddr {
        ifindex,
        addr: a(x),
        plen: len.parse().unwrap(),
        flags: AddrFlags::default(),
        ours: false,
    }
}

fn unicast(metric: u32, origin: Origin) -> Origination {
    Origination {
        metric,
        kind: Kind::Unicast,
        origin,
    }
}

fn anycast(metric: u32) -> Origination {
    Origination {
        metric,
        kind: Kind::Anycast,
        origin: Origin::Served,
    }
}

/// A router as the kernel shows it: `lo` with ::1 and a loopback /128,
/// an interface with a /64, its link-local and a /128.
fn router() -> Vec<IfAddr> {
    vec![
        addr(LO, "::1/128"),
        addr(LO, "2001:db8:99::1/128"),
        addr(ETH, "2001:db8:1::1/64"),
        addr(ETH, "fe80::1/64"),
        addr(ETH, "2001:db8:2::7/128"),
    ]
}

#[test]
fn prefix_masks_host_bits() {
    assert_eq!(p("2001:db8:1::1/64").to_string(), "2001:db8:1::/64");
    assert_eq!(p("2001:db8:1::1/128").to_string(), "2001:db8:1::1/128");
    assert_eq!(p("2001:db8:ffff::/33").to_string(), "2001:db8:8000::/33");
    assert_eq!(p("2001:db8::1/0").to_string(), "::/0");
    assert!(p("::/0").is_default());
    assert_eq!(Prefix::new(a("::"), 129), None);
}

#[test]
fn connected_includes_lo_and_host_routes_like_redistribute_connected() {
    let got = originate(&Policy::default(), &router(), &BTreeMap::new());
    let want: Originated = [
        (p("2001:db8:99::1/128"), unicast(1, Origin::Connected)),
        (p("2001:db8:1::/64"), unicast(1, Origin::Connected)),
        (p("2001:db8:2::7/128"), unicast(1, Origin::Connected)),
    ]
    .into_iter()
    .collect();
    assert_eq!(got, want);
}

#[test]
fn addresses_that_are_not_this_routers_routes_are_skipped() {
    let mut tentative = addr(ETH, "2001:db8:3::1/64");
    tentative.flags.tentative = true;
    let mut failed = addr(ETH, "2001:db8:4::1/64");
    failed.flags.dadfailed = true;
    let mut ours = addr(LO, "2001:db8:ac::1/128");
    ours.ours = true;
    for (x, why) in [
        (addr(ETH, "fe80::1/64"), Skip::LinkLocal),
        (addr(ETH, "febf::1/64"), Skip::LinkLocal),
        (addr(LO, "::1/128"), Skip::Loopback),
        (addr(ETH, "::/64"), Skip::Unspecified),
        (addr(ETH, "ff02::1/128"), Skip::Multicast),
        (addr(ETH, "2001:db8:5::1/0"), Skip::DefaultRoute),
        (tentative, Skip::Tentative),
        (failed, Skip::DadFailed),
        (ours, Skip::Ours),
    ] {
        assert_eq!(x.connected(), Err(why), "{x:?}");
        let got = originate(&Policy::default(), &[x], &BTreeMap::new());
        assert!(got.is_empty(), "{x:?} originated {got:?}");
    }
    // fec0::/10 (deprecated site-local) is not link-local: originated.
    assert_eq!(
        addr(ETH, "fec0::1/64").connected(),
        Ok(p("fec0::/64")),
        "site-local"
    );
}

#[test]
fn two_addresses_of_one_prefix_originate_it_once() {
    let addrs = [
        addr(ETH, "2001:db8:1::1/64"),
        addr(ETH + 1, "2001:db8:1::2/64"),
    ];
    let got = originate(&Policy::default(), &addrs, &BTreeMap::new());
    assert_eq!(got.len(), 1);
}

#[test]
fn statics_and_connected_metric() {
    let policy = Policy {
        connected_metric: 3,
        statics: vec![
            StaticPrefix {
                prefix: p("2001:db8:5a::/48"),
                metric: 2,
            },
            // A connected prefix listed as static: the static metric wins.
            StaticPrefix {
                prefix: p("2001:db8:1::/64"),
                metric: 7,
            },
            StaticPrefix {
                prefix: p("::/0"),
                metric: 5,
            },
        ],
        ..Policy::default()
    };
    let got = originate(&policy, &router(), &BTreeMap::new());
    assert_eq!(got[&p("2001:db8:5a::/48")], unicast(2, Origin::Static));
    assert_eq!(got[&p("2001:db8:1::/64")], unicast(7, Origin::Static));
    assert_eq!(got[&p("::/0")], unicast(5, Origin::Static));
    assert_eq!(got[&p("2001:db8:99::1/128")], unicast(3, Origin::Connected));
    assert_eq!(got.len(), 5);
}

#[test]
fn connected_off_keeps_statics_and_anycast() {
    let policy = Policy {
        connected: false,
        statics: vec![StaticPrefix {
            prefix: p("2001:db8:5a::/48"),
            metric: 2,
        }],
        ..Policy::default()
    };
    let served = [(a("2001:db8:ac::1"), 4)].into_iter().collect();
    let got = originate(&policy, &router(), &served);
    let want: Originated = [
        (p("2001:db8:5a::/48"), unicast(2, Origin::Static)),
        (p("2001:db8:ac::1/128"), anycast(4)),
    ]
    .into_iter()
    .collect();
    assert_eq!(got, want);
    let none = Policy {
        anycast: false,
        ..policy
    };
    assert_eq!(originate(&none, &router(), &served).len(), 1);
}

#[test]
fn a_served_anycast_address_is_never_announced_as_unicast() {
    // The operator put the anycast address on lo by hand (not ours) and
    // lists it as static: it is still announced as anycast, once.
    let mut addrs = router();
    addrs.push(addr(LO, "2001:db8:ac::1/128"));
    let policy = Policy {
        statics: vec![StaticPrefix {
            prefix: p("2001:db8:ac::1/128"),
            metric: 9,
        }],
        ..Policy::default()
    };
    let served = [(a("2001:db8:ac::1"), 2)].into_iter().collect();
    let got = originate(&policy, &addrs, &served);
    assert_eq!(got[&p("2001:db8:ac::1/128")], anycast(2));
}

#[test]
fn diff_says_what_to_add_change_and_withdraw() {
    let old: Originated = [
        (p("2001:db8:1::/64"), unicast(1, Origin::Connected)),
        (p("2001:db8:2::/64"), unicast(1, Origin::Connected)),
        (p("2001:db8:3::/64"), unicast(1, Origin::Connected)),
        (p("2001:db8:ac::1/128"), unicast(1, Origin::Connected)),
    ]
    .into_iter()
    .collect();
    let new: Originated = [
        // same
        (p("2001:db8:1::/64"), unicast(1, Origin::Connected)),
        // metric changed
        (p("2001:db8:2::/64"), unicast(4, Origin::Static)),
        // origin changed, same announcement: no change
        (p("2001:db8:3::/64"), unicast(1, Origin::Static)),
        // kind changed
        (p("2001:db8:ac::1/128"), anycast(1)),
        // new
        (p("2001:db8:5a::/48"), unicast(2, Origin::Static)),
    ]
    .into_iter()
    .collect();
    let d = diff(&old, &new);
    assert_eq!(
        d.add,
        vec![(p("2001:db8:5a::/48"), unicast(2, Origin::Static))]
    );
    assert_eq!(
        d.change,
        vec![
            (
                p("2001:db8:2::/64"),
                unicast(1, Origin::Connected),
                unicast(4, Origin::Static)
            ),
            (
                p("2001:db8:ac::1/128"),
                unicast(1, Origin::Connected),
                anycast(1)
            ),
        ]
    );
    assert!(d.withdraw.is_empty());
    let back = diff(&new, &old);
    assert_eq!(
        back.withdraw,
        vec![(p("2001:db8:5a::/48"), unicast(2, Origin::Static))]
    );
    assert!(diff(&new, &new).is_empty());
}

#[test]
fn originator_follows_address_events() {
    let mut o = Originator::new(Policy::default());
    o.begin_dump();
    let d = o.finish_dump(router());
    assert_eq!(d.add.len(), 3);
    assert!(d.change.is_empty() && d.withdraw.is_empty());

    // An address added to lo at run time.
    let extra = addr(LO, "2001:db8:99::2/128");
    let d = o.address_event(AddressEvent::New(extra));
    assert_eq!(
        d.add,
        vec![(p("2001:db8:99::2/128"), unicast(1, Origin::Connected))]
    );
    // The same notification again (a flags-only change that does not
    // matter, or a replay): nothing to push.
    assert!(o.address_event(AddressEvent::New(extra)).is_empty());
    // Removed.
    let d = o.address_event(AddressEvent::Del {
        ifindex: LO,
        addr: extra.addr,
    });
    assert_eq!(
        d.withdraw,
        vec![(p("2001:db8:99::2/128"), unicast(1, Origin::Connected))]
    );
    // One of two addresses of a /64 goes: the /64 stays.
    o.address_event(AddressEvent::New(addr(ETH, "2001:db8:1::2/64")));
    let d = o.address_event(AddressEvent::Del {
        ifindex: ETH,
        addr: a("2001:db8:1::1"),
    });
    assert!(d.is_empty(), "{d:?}");
    assert!(o.originated().contains_key(&p("2001:db8:1::/64")));
}

#[test]
fn a_tentative_address_is_originated_once_dad_passes_and_withdrawn_if_it_fails() {
    let mut o = Originator::new(Policy::default());
    let mut x = addr(ETH, "2001:db8:7::1/64");
    x.flags.tentative = true;
    assert!(o.address_event(AddressEvent::New(x)).is_empty());
    x.flags.tentative = false;
    let d = o.address_event(AddressEvent::New(x));
    assert_eq!(d.add.len(), 1);
    x.flags.dadfailed = true;
    let d = o.address_event(AddressEvent::New(x));
    assert_eq!(d.withdraw.len(), 1);
}

#[test]
fn served_addresses_and_policy_changes_give_differences_only() {
    let mut o = Originator::new(Policy::default());
    o.begin_dump();
    o.finish_dump(router());
    let served: BTreeMap<_, _> = [(a("2001:db8:ac::1"), 2)].into_iter().collect();
    let d = o.set_served(served.clone());
    assert_eq!(d.add, vec![(p("2001:db8:ac::1/128"), anycast(2))]);
    assert!(o.set_served(served).is_empty());
    let d = o.set_served([(a("2001:db8:ac::1"), 3)].into_iter().collect());
    assert_eq!(d.change.len(), 1);
    let d = o.set_policy(Policy {
        connected: false,
        ..Policy::default()
    });
    assert_eq!(d.withdraw.len(), 3);
    assert!(d.add.is_empty() && d.change.is_empty());
    assert_eq!(o.originated().len(), 1);
}

#[test]
fn events_during_a_dump_are_replayed_on_top_of_it() {
    let mut o = Originator::new(Policy::default());
    o.begin_dump();
    o.finish_dump(router());
    // Notifications were lost: a dump must be read.
    assert!(o.address_event(AddressEvent::Lost).is_empty());
    assert!(o.needs_dump());
    o.begin_dump();
    assert!(!o.needs_dump());
    // While the dump is read, an address goes and one comes ...
    let new = addr(LO, "2001:db8:99::3/128");
    o.address_event(AddressEvent::Del {
        ifindex: ETH,
        addr: a("2001:db8:2::7"),
    });
    o.address_event(AddressEvent::New(new));
    // ... and the dump was taken before both: it still has the old one,
    // not the new one. The result is the kernel's state after both.
    let d = o.finish_dump(router());
    assert!(d.is_empty(), "{d:?}");
    let got: Vec<String> = o.originated().keys().map(|p| p.to_string()).collect();
    assert_eq!(
        got,
        vec![
            "2001:db8:1::/64",
            "2001:db8:99::1/128",
            "2001:db8:99::3/128"
        ]
    );
    // The dump was taken after a change that an older event describes:
    // replaying it again changes nothing.
    o.begin_dump();
    o.address_event(AddressEvent::New(new));
    let mut now = router();
    now.retain(|x| x.addr != a("2001:db8:2::7"));
    now.push(new);
    assert!(o.finish_dump(now).is_empty());
}

#[test]
fn a_loss_during_a_dump_or_a_failed_dump_asks_for_another() {
    let mut o = Originator::new(Policy::default());
    o.begin_dump();
    o.address_event(AddressEvent::Lost);
    o.finish_dump(router());
    assert!(o.needs_dump());
    o.begin_dump();
    o.abort_dump();
    assert!(o.needs_dump());
    // The table is what it was before the failed dump.
    assert_eq!(o.originated().len(), 3);
}

#[test]
fn a_link_that_goes_down_withdraws_its_prefixes_until_it_comes_back() {
    let mut o = Originator::new(Policy::default());
    o.begin_dump();
    o.finish_dump(router());
    // Carrier lost on ETH: the kernel keeps the addresses, the routes go.
    let d = o.set_down([ETH].into());
    let mut gone: Vec<String> = d.withdraw.iter().map(|(p, _)| p.to_string()).collect();
    gone.sort();
    assert_eq!(gone, vec!["2001:db8:1::/64", "2001:db8:2::7/128"]);
    assert!(d.add.is_empty() && d.change.is_empty());
    assert!(
        o.originated().contains_key(&p("2001:db8:99::1/128")),
        "lo stays"
    );
    // An address added while it is down waits for the link too.
    assert!(o
        .address_event(AddressEvent::New(addr(ETH, "2001:db8:3::1/64")))
        .is_empty());
    assert!(
        o.set_down([ETH].into()).is_empty(),
        "same set: nothing to push"
    );
    let d = o.set_down(Default::default());
    assert_eq!(d.add.len(), 3, "{d:?}");
}

//! ARD router and members on one simulated link: the clock jumps from
//! deadline to deadline, datagrams are handed over in memory, and the RIB is
//! the set of entries the router's changes leave behind.

use std::collections::BTreeMap;
use std::net::Ipv6Addr;
use std::time::Duration;

use anycast6_ard::{
    packet, ArdMember, ArdRouter, MemberConfig, MemberInterface, RouterConfig, RouterOutput,
    Transmit, ALL_NODES, ALL_ROUTERS,
};
use anycast6_core::auth::{Key, Keyring};
use anycast6_core::{Instant, RibChange, RibEntry, SimClock, Source};

const R_IF: u32 = 1;
const R_LL: &str = "fe80::1";

fn ip(s: &str) -> Ipv6Addr {
    s.parse().unwrap()
}

fn ms(v: u64) -> Duration {
    Duration::from_millis(v)
}

fn member_ll(i: usize) -> Ipv6Addr {
    ip(&format!("fe80::10:{}", i + 1))
}

fn member_cfg(i: usize, addrs: &[(&str, u32)]) -> MemberConfig {
    let mut c = MemberConfig::new(
        vec![MemberInterface {
            ifindex: 100 + i as u32,
            link_local: member_ll(i),
        }],
        ip(&format!("2001:db8:1::{}", i + 1)),
        addrs.iter().map(|&(a, m)| (ip(a), m)).collect(),
    );
    c.rng_seed = i as u64 + 1;
    c
}

fn router_cfg() -> RouterConfig {
    RouterConfig {
        query_interval: ms(1000),
        max_response_delay: ms(100),
        ..RouterConfig::default()
    }
}

type Key3 = (Ipv6Addr, Ipv6Addr, u32);

struct Link {
    clock: SimClock,
    router: ArdRouter,
    members: Vec<ArdMember>,
    /// Members whose datagrams are lost (both ways).
    cut: Vec<bool>,
    rib: BTreeMap<Key3, RibEntry>,
    changes: Vec<(Instant, RibChange)>,
    /// Every datagram a member sent, in order, with when.
    sent_by_members: Vec<(Instant, usize, Transmit)>,
    hop_limit: u8,
}

impl Link {
    fn new(rcfg: RouterConfig, mcfgs: Vec<MemberConfig>) -> Link {
        let clock = SimClock::new();
        let mut router = ArdRouter::new(rcfg, clock.now()).unwrap();
        router.add_interface(clock.now(), R_IF, ip(R_LL)).unwrap();
        let members: Vec<_> = mcfgs
            .into_iter()
            .map(|c| ArdMember::new(c, clock.now()).unwrap())
            .collect();
        let n = members.len();
        let mut l = Link {
            clock,
            router,
            members,
            cut: vec![false; n],
            rib: BTreeMap::new(),
            changes: Vec::new(),
            sent_by_members: Vec::new(),
            hop_limit: 255,
        };
        l.pump();
        l
    }

    fn now(&self) -> Instant {
        self.clock.now()
    }

    /// Hands every pending datagram over until nothing moves.
    fn pump(&mut self) {
        loop {
            let mut moved = false;
            while let Some(o) = self.router.poll_output() {
                moved = true;
                match o {
                    RouterOutput::Rib(c) => self.apply(c),
                    RouterOutput::Send(t) => {
                        assert_eq!(t.ifindex, R_IF);
                        assert_eq!(t.src, ip(R_LL));
                        for (i, m) in self.members.iter_mut().enumerate() {
                            if self.cut[i] || (t.dst != ALL_NODES && t.dst != member_ll(i)) {
                                continue;
                            }
                            m.handle_packet(
                                self.clock.now(),
                                100 + i as u32,
                                t.src,
                                self.hop_limit,
                                &t.bytes,
                            );
                        }
                    }
                }
            }
            for i in 0..self.members.len() {
                while let Some(t) = self.members[i].poll_output() {
                    moved = true;
                    assert_eq!(t.dst, ALL_ROUTERS);
                    assert_eq!(t.src, member_ll(i));
                    self.sent_by_members.push((self.clock.now(), i, t.clone()));
                    if !self.cut[i] {
                        self.router.handle_packet(
                            self.clock.now(),
                            R_IF,
                            t.src,
                            self.hop_limit,
                            &t.bytes,
                        );
                    }
                }
            }
            if !moved {
                return;
            }
        }
    }

    fn apply(&mut self, c: RibChange) {
        self.changes.push((self.clock.now(), c.clone()));
        match c {
            RibChange::Upsert(e) => {
                assert_eq!(e.source, Source::Ard);
                self.rib.insert((e.anycast, e.next_hop, e.ifindex), e);
            }
            RibChange::Withdraw {
                anycast,
                next_hop,
                ifindex,
                source,
            } => {
                assert_eq!(source, Source::Ard);
                assert!(
                    self.rib.remove(&(anycast, next_hop, ifindex)).is_some(),
                    "withdraw of an entry not in the RIB"
                );
            }
        }
    }

    fn next_deadline(&self) -> Option<Instant> {
        self.members
            .iter()
            .filter_map(|m| m.poll_timeout())
            .chain(self.router.poll_timeout())
            .min()
    }

    /// Jumps deadline to deadline up to `until` (inclusive), then to it.
    fn run_until(&mut self, until: Instant) {
        while let Some(t) = self.next_deadline().filter(|&t| t <= until) {
            let now = self.clock.jump_to(t);
            self.router.handle_timeout(now);
            for m in &mut self.members {
                m.handle_timeout(now);
            }
            self.pump();
        }
        self.clock.jump_to(until);
    }

    fn run_for(&mut self, d: Duration) {
        let until = self.now() + d;
        self.run_until(until);
    }

    fn entry(&self, anycast: &str, member: usize) -> Option<&RibEntry> {
        self.rib.get(&(ip(anycast), member_ll(member), R_IF))
    }

    fn withdrawals(&self) -> Vec<(Instant, Ipv6Addr)> {
        self.changes
            .iter()
            .filter_map(|(t, c)| match c {
                RibChange::Withdraw { anycast, .. } => Some((*t, *anycast)),
                _ => None,
            })
            .collect()
    }

    /// When the router last heard member `i`.
    fn last_heard(&self, i: usize) -> Instant {
        self.sent_by_members
            .iter()
            .filter(|(_, m, _)| *m == i)
            .map(|(t, _, _)| *t)
            .max()
            .unwrap()
    }

    fn upserts(&self) -> usize {
        self.changes
            .iter()
            .filter(|(_, c)| matches!(c, RibChange::Upsert(_)))
            .count()
    }
}

const A: &str = "2001:db8:a::1";
const B: &str = "2001:db8:a::2";

/// Inside `ard` so that `cargo test -p anycast6-control ard` selects them.
mod ard {
    use super::*;

    #[test]
    fn join_installs_the_member_with_its_metric_and_unicast() {
        let l = Link::new(router_cfg(), vec![member_cfg(0, &[(A, 10), (B, 0)])]);
        let e = l.entry(A, 0).expect("installed at once");
        assert_eq!(e.metric, 11);
        assert_eq!(e.member_unicast, Some(ip("2001:db8:1::1")));
        assert_eq!(e.ifindex, R_IF);
        assert_eq!(l.entry(B, 0).unwrap().metric, 1);
        assert_eq!(l.changes[0].0, Instant::ZERO);
        let c = l.router.counters();
        assert_eq!(c.rx_report, 1);
        assert_eq!(c.rx_records_change, 2);
        assert_eq!(c.tx_query, 1, "first startup query at once");
    }

    #[test]
    fn refresh_keeps_the_entry_without_churn() {
        let mut l = Link::new(router_cfg(), vec![member_cfg(0, &[(A, 10)])]);
        l.run_for(Duration::from_secs(600));
        assert!(l.entry(A, 0).is_some());
        assert!(l.withdrawals().is_empty());
        assert_eq!(l.upserts(), 1, "refreshes emit nothing");
        let c = l.router.counters();
        // 2 startup queries (0 s, 0.25 s), then one a second.
        assert_eq!(c.tx_query, 2 + 599);
        assert!(
            c.rx_report > 60,
            "periodic reports and query answers: {c:?}"
        );
    }

    #[test]
    fn silence_expires_after_the_hold_time_sub_second() {
        let mut m = member_cfg(0, &[(A, 1)]);
        m.hold_time = ms(300);
        m.report_interval = ms(100);
        let mut l = Link::new(router_cfg(), vec![m]);
        l.run_for(ms(1000));
        assert!(l.entry(A, 0).is_some());
        l.cut[0] = true;
        let last = l.last_heard(0);
        assert!(last > Instant::ZERO + ms(850), "{last:?}");
        l.run_until(last + ms(299));
        assert!(l.entry(A, 0).is_some(), "still held 299 ms after");
        l.run_for(ms(1));
        assert_eq!(l.withdrawals(), vec![(last + ms(300), ip(A))]);
        assert_eq!(l.router.counters().expired, 1);
        assert!(l.router.view(l.now()).interfaces[0].members.is_empty());
    }

    #[test]
    fn silence_expires_after_the_hold_time_long() {
        let mut m = member_cfg(0, &[(A, 1)]);
        m.hold_time = Duration::from_secs(30);
        m.report_interval = Duration::from_secs(10);
        let mut r = router_cfg();
        r.query_interval = Duration::from_secs(125);
        r.max_response_delay = Duration::from_secs(10);
        let mut l = Link::new(r, vec![m]);
        l.run_for(Duration::from_secs(5));
        l.cut[0] = true;
        // The member's last report: its triggered repeat at 1 s.
        assert_eq!(l.last_heard(0), Instant::ZERO + Duration::from_secs(1));
        l.run_until(Instant::ZERO + ms(30_999));
        assert!(l.entry(A, 0).is_some());
        l.run_for(Duration::from_secs(2));
        assert_eq!(
            l.withdrawals(),
            vec![(Instant::ZERO + Duration::from_secs(31), ip(A))]
        );
    }

    #[test]
    fn router_bounds_the_hold_time() {
        let mut m = member_cfg(0, &[(A, 1)]);
        m.hold_time = ms(20);
        m.report_interval = ms(10);
        let mut l = Link::new(router_cfg(), vec![m]);
        l.cut[0] = true;
        l.run_for(ms(99));
        assert!(l.entry(A, 0).is_some(), "raised to min_hold 100 ms");
        l.run_for(ms(1));
        assert_eq!(l.withdrawals(), vec![(Instant::ZERO + ms(100), ip(A))]);
    }

    #[test]
    fn members_lower_their_hold_to_the_routers_maximum() {
        let mut m = member_cfg(0, &[(A, 1)]);
        m.hold_time = Duration::from_secs(60);
        m.report_interval = Duration::from_secs(20);
        let mut r = router_cfg();
        r.max_hold = Duration::from_secs(3);
        r.query_interval = Duration::from_secs(100);
        let mut l = Link::new(r, vec![m]);
        l.run_for(Duration::from_secs(300));
        assert!(
            l.withdrawals().is_empty(),
            "refreshed within 3 s throughout"
        );
        let v = l.members[0].view();
        assert_eq!(v.interfaces[0].hold_ms, 3000);
        assert_eq!(v.interfaces[0].report_interval_ms, 1000);
        let (_, _, last) = l.sent_by_members.last().unwrap();
        let d = packet::Packet::decode(&last.bytes).unwrap();
        let packet::Message::Report(rep) = d.packet.message else {
            panic!()
        };
        assert_eq!(rep.hold_time, Duration::from_secs(3));
    }

    #[test]
    fn leave_withdraws_at_once_and_is_repeated() {
        let mut l = Link::new(router_cfg(), vec![member_cfg(0, &[(A, 1), (B, 2)])]);
        l.run_for(ms(500));
        let now = l.now();
        l.members[0].remove_address(now, ip(A));
        l.pump();
        assert_eq!(l.withdrawals(), vec![(now, ip(A))]);
        assert!(l.entry(B, 0).is_some());
        assert_eq!(l.router.counters().left, 1);
        l.run_for(Duration::from_secs(2));
        assert_eq!(
            l.members[0].counters().tx_records_leave,
            2,
            "robustness 2: sent twice"
        );
        assert_eq!(l.withdrawals().len(), 1);
    }

    #[test]
    fn a_lost_leave_is_repaired_by_its_repeat() {
        let mut l = Link::new(router_cfg(), vec![member_cfg(0, &[(A, 1)])]);
        l.run_for(ms(500));
        let now = l.now();
        l.cut[0] = true;
        l.members[0].remove_address(now, ip(A));
        l.pump();
        l.cut[0] = false;
        assert!(l.entry(A, 0).is_some(), "first leave lost");
        l.run_for(Duration::from_secs(1));
        assert_eq!(l.withdrawals().len(), 1);
        // Default report interval 10 s: the repeat comes 5 s later... or
        // earlier when a query answer (a full report) carries the leave.
        assert!(l.withdrawals()[0].0 <= now + Duration::from_secs(1));
    }

    #[test]
    fn metric_change_upserts_the_new_metric() {
        let mut l = Link::new(router_cfg(), vec![member_cfg(0, &[(A, 10)])]);
        l.run_for(ms(300));
        let now = l.now();
        l.members[0].set_address(now, ip(A), 3).unwrap();
        l.pump();
        assert_eq!(l.entry(A, 0).unwrap().metric, 4);
        assert_eq!(l.upserts(), 2);
        // Same metric again: nothing sent.
        let before = l.sent_by_members.len();
        l.members[0].set_address(now, ip(A), 3).unwrap();
        l.pump();
        assert_eq!(l.sent_by_members.len(), before);
        assert!(l.members[0].set_address(now, ip("ff05::1"), 3).is_err());
    }

    #[test]
    fn draining_is_passed_through() {
        let mut l = Link::new(router_cfg(), vec![member_cfg(0, &[(A, 10)])]);
        let now = l.now();
        l.members[0].set_draining(now, ip(A), true);
        l.pump();
        let e = l.entry(A, 0).unwrap().clone();
        assert_eq!(l.upserts(), 2);
        assert_eq!(l.router.draining(&e), Some(true));
        l.members[0].set_draining(now, ip(A), false);
        l.pump();
        assert_eq!(l.router.draining(&e), Some(false));
        assert_eq!(l.upserts(), 3);
    }

    #[test]
    fn health_failure_leaves_all_and_recovery_reports_again() {
        let mut l = Link::new(router_cfg(), vec![member_cfg(0, &[(A, 1), (B, 1)])]);
        l.run_for(ms(500));
        let now = l.now();
        l.members[0].set_healthy(now, false);
        l.pump();
        assert!(l.rib.is_empty());
        assert_eq!(l.withdrawals().len(), 2);
        // Unhealthy: no reports, no query answers, nothing comes back.
        l.run_for(Duration::from_secs(60));
        assert!(l.rib.is_empty());
        let now = l.now();
        l.members[0].set_healthy(now, true);
        l.pump();
        assert_eq!(l.rib.len(), 2);
    }

    #[test]
    fn shutdown_leaves_everything_then_falls_silent() {
        let mut l = Link::new(router_cfg(), vec![member_cfg(0, &[(A, 1), (B, 1)])]);
        l.run_for(ms(500));
        let now = l.now();
        l.members[0].shutdown(now);
        l.pump();
        assert!(l.rib.is_empty());
        assert_eq!(
            l.withdrawals().iter().map(|w| w.0).collect::<Vec<_>>(),
            [now, now]
        );
        let until = l.now() + Duration::from_secs(60);
        l.run_until(until);
        assert_eq!(l.members[0].poll_timeout(), None);
        assert_eq!(l.members[0].counters().tx_records_leave, 4);
        assert!(l.rib.is_empty());
    }

    #[test]
    fn two_members_one_address_different_metrics() {
        let mut l = Link::new(
            router_cfg(),
            vec![member_cfg(0, &[(A, 20)]), member_cfg(1, &[(A, 5)])],
        );
        l.run_for(Duration::from_secs(10));
        assert_eq!(l.entry(A, 0).unwrap().metric, 21);
        assert_eq!(l.entry(A, 1).unwrap().metric, 6);
        let best = l
            .rib
            .values()
            .filter(|e| e.anycast == ip(A))
            .min_by_key(|e| e.metric)
            .unwrap();
        assert_eq!(best.next_hop, member_ll(1));
        assert_eq!(best.member_unicast, Some(ip("2001:db8:1::2")));
        // The preferred one leaves: the other stays.
        let now = l.now();
        l.members[1].remove_address(now, ip(A));
        l.pump();
        assert!(l.entry(A, 1).is_none());
        assert!(l.entry(A, 0).is_some());
    }

    #[test]
    fn queries_are_answered_within_the_max_response_delay() {
        let mut r = router_cfg();
        r.query_interval = Duration::from_secs(10);
        r.max_response_delay = ms(500);
        // Member reports only every 50 s: what it sends after t=1 s answers queries.
        let mut m = member_cfg(0, &[(A, 1)]);
        m.hold_time = Duration::from_secs(120);
        m.report_interval = Duration::from_secs(50);
        let mut l = Link::new(r, vec![m]);
        // Queries at 0 and 2.5 s (startup), then every 10 s: 12.5 s, 22.5 s.
        l.run_until(Instant::ZERO + ms(12_499));
        assert_eq!(l.members[0].counters().rx_query, 2);
        let before = l.sent_by_members.len();
        l.run_until(Instant::ZERO + ms(13_000));
        assert_eq!(l.members[0].counters().rx_query, 3);
        assert_eq!(l.sent_by_members.len(), before + 1, "one answer");
        let at = l.sent_by_members[before].0;
        assert!(at >= Instant::ZERO + ms(12_500) && at <= Instant::ZERO + ms(13_000));
        l.run_until(Instant::ZERO + ms(23_000));
        assert_eq!(l.sent_by_members.len(), before + 2);
        // Seeded delays: not always the same offset.
        let at2 = l.sent_by_members[before + 1].0;
        assert_ne!(at2 - at, Duration::from_secs(10));

        // Unicast, address-specific query: only that record comes back.
        let now = l.now();
        l.router.query(R_IF, member_ll(0), Some(ip(A))).unwrap();
        l.pump();
        l.run_for(ms(500));
        let (_, _, t) = l.sent_by_members.last().unwrap();
        let d = packet::Packet::decode(&t.bytes).unwrap();
        let packet::Message::Report(rep) = d.packet.message else {
            panic!()
        };
        assert!(!rep.complete);
        assert_eq!(rep.records.len(), 1);
        assert_eq!(rep.records[0].anycast, ip(A));
        assert!(l.now() <= now + ms(500));
        // A query for an address it does not serve: no answer.
        let n = l.sent_by_members.len();
        l.router.query(R_IF, ALL_NODES, Some(ip(B))).unwrap();
        l.pump();
        l.run_for(ms(600));
        assert_eq!(l.sent_by_members.len(), n);
    }

    #[test]
    fn a_complete_report_replaces_the_members_set() {
        // Router alone: reports are crafted here.
        let clock = SimClock::new();
        let mut r = ArdRouter::new(router_cfg(), clock.now()).unwrap();
        r.add_interface(clock.now(), R_IF, ip(R_LL)).unwrap();
        while r.poll_output().is_some() {}
        let rec = |a: &str, kind| packet::Record {
            kind,
            draining: false,
            metric: 1,
            anycast: ip(a),
        };
        let report = |records, complete| {
            packet::Packet {
                message: packet::Message::Report(packet::Report {
                    hold_time: Duration::from_secs(10),
                    member_unicast: ip("2001:db8::5"),
                    complete,
                    records,
                }),
                auth: None,
            }
            .encode()
        };
        let src = member_ll(0);
        let drain = |r: &mut ArdRouter| {
            let mut v = Vec::new();
            while let Some(RouterOutput::Rib(c)) = r.poll_output() {
                v.push(c);
            }
            v
        };
        use packet::RecordType::*;
        r.handle_packet(
            clock.now(),
            R_IF,
            src,
            255,
            &report(vec![rec(A, Current), rec(B, Current)], true),
        );
        assert_eq!(drain(&mut r).len(), 2);
        // Not complete: B is not withdrawn.
        r.handle_packet(
            clock.now(),
            R_IF,
            src,
            255,
            &report(vec![rec(A, Current)], false),
        );
        assert!(drain(&mut r).is_empty());
        // Complete but with a bad record: only adds.
        let mut bad = report(vec![rec(A, Current), rec("2001:db8:a::9", Current)], true);
        bad[8 + 24 + 24 + 4..8 + 24 + 24 + 8].copy_from_slice(&u32::MAX.to_be_bytes());
        r.handle_packet(clock.now(), R_IF, src, 255, &bad);
        assert!(drain(&mut r).is_empty());
        assert_eq!(r.counters().record_errors.metric_invalid, 1);
        // Complete: B goes.
        r.handle_packet(
            clock.now(),
            R_IF,
            src,
            255,
            &report(vec![rec(A, Current)], true),
        );
        assert_eq!(
            drain(&mut r),
            vec![RibChange::Withdraw {
                anycast: ip(B),
                next_hop: src,
                ifindex: R_IF,
                source: Source::Ard
            }]
        );
        // A new unicast address re-announces what the member serves.
        let mut p = report(vec![], false);
        p[8 + 4 + 15] = 6;
        r.handle_packet(clock.now(), R_IF, src, 255, &p);
        let ch = drain(&mut r);
        assert!(
            matches!(&ch[..], [RibChange::Upsert(e)] if e.member_unicast == Some(ip("2001:db8::6"))),
            "{ch:?}"
        );
    }

    #[test]
    fn link_checks_reject_off_link_datagrams() {
        let mut l = Link::new(router_cfg(), vec![]);
        let m = MemberConfig::new(
            vec![MemberInterface {
                ifindex: 100,
                link_local: member_ll(0),
            }],
            ip("2001:db8:1::1"),
            vec![(ip(A), 1)],
        );
        let mut member = ArdMember::new(m, l.now()).unwrap();
        let t = member.poll_output().unwrap();
        let now = l.now();
        l.router.handle_packet(now, R_IF, t.src, 254, &t.bytes);
        l.router.handle_packet(now, R_IF, t.src, 1, &t.bytes);
        l.router
            .handle_packet(now, R_IF, ip("2001:db8:1::1"), 255, &t.bytes);
        l.router.handle_packet(now, 77, t.src, 255, &t.bytes);
        l.pump();
        assert!(l.rib.is_empty());
        let c = l.router.counters().rejected;
        assert_eq!(c.hop_limit, 2);
        assert_eq!(c.source_not_link_local, 1);
        assert_eq!(c.interface_unknown, 1);
        assert_eq!(c.total(), 4);
        // The member applies the same checks to queries.
        let q = l.router.query(R_IF, ALL_NODES, None);
        q.unwrap();
        let Some(RouterOutput::Send(q)) = l.router.poll_output() else {
            panic!()
        };
        member.handle_packet(now, 100, q.src, 64, &q.bytes);
        member.handle_packet(now, 100, ip("fd00::1"), 255, &q.bytes);
        assert_eq!(member.counters().rejected.hop_limit, 1);
        assert_eq!(member.counters().rejected.source_not_link_local, 1);
        assert_eq!(member.counters().rx_query, 0);
        // The real thing passes.
        l.router.handle_packet(now, R_IF, t.src, 255, &t.bytes);
        l.pump();
        assert_eq!(l.rib.len(), 1);
    }

    fn keyed(keys: &[(u16, &str)]) -> Keyring {
        Keyring::new(
            keys.iter()
                .map(|&(id, s)| Key::new(id, s.as_bytes().to_vec()))
                .collect(),
        )
    }

    #[test]
    fn auth_accepts_signed_members_and_counts_every_refusal() {
        let mut r = router_cfg();
        r.keyring = keyed(&[(1, "s3cret")]);
        let good = {
            let mut m = member_cfg(0, &[(A, 1)]);
            m.keyring = keyed(&[(1, "s3cret")]);
            m.seq_start = 1_000;
            m
        };
        let unsigned = member_cfg(1, &[(A, 2)]);
        let bad_digest = {
            let mut m = member_cfg(2, &[(A, 3)]);
            m.keyring = keyed(&[(1, "guess")]);
            m
        };
        let unknown_key = {
            let mut m = member_cfg(3, &[(A, 4)]);
            m.keyring = keyed(&[(9, "s3cret")]);
            m
        };
        let mut l = Link::new(r, vec![good, unsigned, bad_digest, unknown_key]);
        l.run_for(Duration::from_secs(5));
        assert!(l.entry(A, 0).is_some());
        assert_eq!(l.rib.len(), 1, "only the keyed member: {:?}", l.rib);
        let c = l.router.counters().rejected;
        assert!(c.auth_missing > 0);
        assert!(c.auth_bad_digest > 0);
        assert!(c.auth_unknown_key > 0);
        assert_eq!(c.auth_replay, 0);
        assert!(l.router.counters().rx_auth_verified > 0);
        // Members verify the router's signed queries too (and the keyless one ignores the trailer).
        assert!(l.members[0].counters().rx_auth_verified > 0);
        assert_eq!(l.members[0].counters().rejected.total(), 0);
        assert!(l.members[1].counters().rx_auth_ignored > 0);
        assert!(l.members[2].counters().rejected.auth_bad_digest > 0);

        // Replay: the member leaves; the attacker re-sends its last report.
        let (_, _, captured) = l
            .sent_by_members
            .iter()
            .rev()
            .find(|(_, i, _)| *i == 0)
            .cloned()
            .unwrap();
        let now = l.now();
        l.members[0].remove_address(now, ip(A));
        l.pump();
        assert!(l.rib.is_empty());
        l.router
            .handle_packet(now, R_IF, captured.src, 255, &captured.bytes);
        l.pump();
        assert!(l.rib.is_empty(), "replayed report refused");
        assert_eq!(l.router.counters().rejected.auth_replay, 1);
        // Replayed from another link-local source: the digest covers the source.
        l.router
            .handle_packet(now, R_IF, member_ll(7), 255, &captured.bytes);
        l.pump();
        assert!(l.rib.is_empty());
        assert_eq!(
            l.router.counters().rejected.auth_bad_digest,
            c.auth_bad_digest + 1
        );
    }

    #[test]
    fn the_view_and_counters_serialise() {
        let l = Link::new(router_cfg(), vec![member_cfg(0, &[(A, 7)])]);
        let v = serde_json::to_value(l.router.view(l.now())).unwrap();
        let a = &v["interfaces"][0]["members"][0]["addresses"][0];
        assert_eq!(a["anycast"], A);
        assert_eq!(a["metric"], 7);
        assert_eq!(a["draining"], false);
        let c = serde_json::to_value(l.router.counters()).unwrap();
        assert_eq!(c["rx_report"], 1);
        assert_eq!(c["rejected"]["auth_replay"], 0);
        serde_json::to_value(l.members[0].view()).unwrap();
    }
}

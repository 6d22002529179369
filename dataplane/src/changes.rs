//! The change period of a group (docs/flow-hash.md section 3): which Maglev
//! entries changed while flows may have been alive on them, and what the
//! fast path needs to keep those flows where they were.
//!
//! One function, [`plan`], computes a group's next state from its previous
//! one; the FIB writer and the userspace snapshot builder both call it, so
//! the XDP and AF_XDP paths hold the same tables, marks and deadlines.
//!
//! A period begins with a publish that changes the member of some entry and
//! lasts while its hold lasts; further changes within it extend it. During a
//! period an entry that changed is marked (`MG_MARKED`) with the member it
//! had when the period began (the "old" member); packets hashing to a marked
//! entry consult the affinity table. Unmarked entries are decided by the
//! table alone.

use std::time::Duration;

use crate::{abi, maglev, types::MemberSpec};

/// The two windows of the rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Windows {
    /// After a change, a non-TCP flow that misses the affinity table in a
    /// changed entry counts as old (alive before the change) this long.
    pub grace: Duration,
    /// Marks count (affinity is consulted in changed entries) this long
    /// after the last change of a period.
    pub hold: Duration,
}

impl Windows {
    /// No change periods: every packet goes straight from the table.
    pub const NONE: Windows = Windows {
        grace: Duration::ZERO,
        hold: Duration::ZERO,
    };
}

impl Default for Windows {
    fn default() -> Self {
        Windows {
            grace: Duration::from_secs(DEFAULT_GRACE_S),
            hold: Duration::from_secs(DEFAULT_HOLD_S),
        }
    }
}

pub const DEFAULT_GRACE_S: u64 = 10;
pub const DEFAULT_HOLD_S: u64 = 600;

/// CLOCK_MONOTONIC in ns: the clock of `bpf_ktime_get_ns`, so deadlines the
/// writer computes compare with the XDP program's clock.
pub fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec we own; CLOCK_MONOTONIC is
    // always available on Linux.
    #[allow(unsafe_code)]
    unsafe {
        libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts);
    }
    (ts.tv_sec as u64) * 1_000_000_000 + ts.tv_nsec as u64
}

/// What the writer remembers of an open period (not in the maps: a
/// restarted writer starts the next period afresh).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Period {
    /// Generation of the publish that began it (`a6_group.mark_gen`).
    pub start_gen: u32,
    /// Member id of every entry when the period began (its length is the
    /// table length then); None where there was no usable member.
    pub table0: Vec<Option<u32>>,
}

/// A group as it stands (the previous publish).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupState {
    pub gen: u32,
    pub members: Vec<abi::Member>,
    /// Member index of every entry.
    pub table: Vec<u8>,
    /// Mark of every entry (`MG_*`, 0 = unmarked).
    pub marks: Vec<u8>,
    /// The period table (old member index per entry at the period's
    /// starting length, `MG_NONE` for none), empty when not needed.
    pub prev_table: Vec<u8>,
    pub mark_gen: u32,
    pub grace_until_ns: u64,
    pub hold_until_ns: u64,
    pub period: Option<Period>,
}

fn usable_state(s: u8) -> bool {
    s == abi::STATE_ACTIVE || s == abi::STATE_DRAINING
}

/// Wrapping "a is at or after b" for generations (the C side's `(__s32)(a - b) >= 0`).
fn gen_at_or_after(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) >= 0
}

/// The state after publishing `members` as generation `gen` at `now_ns`.
pub fn plan(
    old: Option<&GroupState>,
    members: &[MemberSpec],
    gen: u32,
    now_ns: u64,
    w: Windows,
) -> GroupState {
    plan_with_len(old, members, gen, now_ns, w, None)
}

/// [`plan`] with a table length asked for (`maglev::group_table_with`).
pub fn plan_with_len(
    old: Option<&GroupState>,
    members: &[MemberSpec],
    gen: u32,
    now_ns: u64,
    w: Windows,
    want_len: Option<u32>,
) -> GroupState {
    let prev_len = old.map(|o| o.table.len() as u32).unwrap_or(0);
    let (_, table) = maglev::group_table_with(members, prev_len, want_len);
    let len = table.len();

    // since_gen: kept while the member stays usable, else this generation.
    let mut abi_members: Vec<abi::Member> = members.iter().map(crate::fib::member_to_abi).collect();
    for m in &mut abi_members {
        let kept = old.and_then(|o| {
            o.members
                .iter()
                .find(|p| p.member_id == m.member_id && usable_state(p.state))
                .map(|p| p.since_gen)
        });
        m.since_gen = match kept {
            Some(s) if usable_state(m.state) => s,
            _ => gen,
        };
    }

    let mut st = GroupState {
        gen,
        members: abi_members,
        marks: vec![0; len],
        table,
        prev_table: Vec::new(),
        mark_gen: 0,
        grace_until_ns: 0,
        hold_until_ns: 0,
        period: None,
    };
    let Some(old) = old else {
        return st;
    };
    if len == 0 {
        return st;
    }
    let id_of = |g: &GroupState, i: usize| -> Option<u32> {
        let m = g.members.get(usize::from(*g.table.get(i)?))?;
        Some(m.member_id)
    };

    // The open period, if its hold still lasts and we remember it; else a
    // new one begins from the table as it stands.
    let live = now_ns < old.hold_until_ns;
    let (period, carried) = match (&old.period, live) {
        (Some(p), true) => (p.clone(), true),
        _ => (
            Period {
                start_gen: gen,
                table0: (0..old.table.len()).map(|i| id_of(old, i)).collect(),
            },
            false,
        ),
    };
    if period.table0.is_empty() {
        return st;
    }
    // The new group as the closures below read it (st is written meanwhile).
    let view = GroupState {
        marks: Vec::new(),
        prev_table: Vec::new(),
        period: None,
        ..st.clone()
    };
    // Old members by index in the new group: present, usable, and usable
    // since before the period began (a member that left and came back has
    // lost the flows it had).
    let remap = |id: Option<u32>| -> Option<u8> {
        let id = id?;
        let i = view.members.iter().position(|m| {
            m.member_id == id
                && usable_state(m.state)
                && gen_at_or_after(period.start_gen, m.since_gen)
        })?;
        Some(i as u8)
    };
    let grace_live = carried && now_ns < old.grace_until_ns;
    let same_as_old = old.table.len() == len;
    let changed_now = |i: usize| -> bool { !same_as_old || id_of(old, i) != id_of(&view, i) };
    let old_mark = |i: usize| -> u8 {
        if carried && same_as_old {
            old.marks.get(i).copied().unwrap_or(0)
        } else if carried {
            // The length changed within the period: every entry was marked.
            abi::MG_MARKED
        } else {
            0
        }
    };

    let mut any_changed = false;
    let mut any_marked = false;
    if period.table0.len() == len {
        for i in 0..len {
            let cur = st.table[i];
            let prev = remap(period.table0[i]);
            let ch = changed_now(i);
            let om = old_mark(i);
            let marked = om & abi::MG_MARKED != 0 || (ch && prev.is_some_and(|p| p != cur));
            if !marked {
                continue;
            }
            any_marked = true;
            any_changed |= ch;
            let grace = ch || (grace_live && om & abi::MG_GRACE != 0);
            st.marks[i] = abi::MG_MARKED
                | (prev.unwrap_or(cur) & abi::MG_PREV_MASK)
                | if grace { abi::MG_GRACE } else { 0 };
        }
    } else {
        // The length differs from the period's start: a flow's old entry is
        // not at its new position, so every entry looks in the period table.
        let prev_table: Vec<u8> = period
            .table0
            .iter()
            .map(|id| remap(*id).unwrap_or(abi::MG_NONE))
            .collect();
        if !carried && prev_table.iter().all(|p| *p == abi::MG_NONE) {
            // No old member left to keep a flow on.
            return st;
        }
        st.prev_table = prev_table;
        any_marked = true;
        for i in 0..len {
            let ch = changed_now(i);
            any_changed |= ch;
            let om = old_mark(i);
            let grace = ch || (grace_live && om & abi::MG_GRACE != 0);
            st.marks[i] =
                abi::MG_MARKED | abi::MG_PREV_TABLE | if grace { abi::MG_GRACE } else { 0 };
        }
    }
    if !any_marked {
        return st;
    }
    st.mark_gen = period.start_gen;
    let ns = |d: Duration| d.as_nanos().min(u128::from(u64::MAX)) as u64;
    if any_changed || !carried {
        st.hold_until_ns = now_ns.saturating_add(ns(w.hold));
        st.grace_until_ns = now_ns.saturating_add(ns(w.grace));
    } else {
        st.hold_until_ns = old.hold_until_ns;
        st.grace_until_ns = old.grace_until_ns;
    }
    st.period = Some(period);
    st
}

/// Whether the period of `g` still lasts at `now_ns`.
pub fn period_live(g: &GroupState, now_ns: u64) -> bool {
    g.period.is_some() && now_ns < g.hold_until_ns
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{Action, MemberState};
    use std::net::Ipv6Addr;

    fn m(id: u32, state: MemberState) -> MemberSpec {
        MemberSpec {
            member_id: id,
            unicast: Ipv6Addr::new(0x2001, 0xdb8, 0xa, 0, 0, 0, 0, id as u16),
            encap_src: Ipv6Addr::UNSPECIFIED,
            ifindex: 2,
            dmac: [2, 0, 0, 0, 0, id as u8],
            smac: [2, 0, 0, 0, 0, 0xff],
            mtu: 1500,
            action: Action::Rewrite,
            state,
            weight: 100,
        }
    }

    const W: Windows = Windows {
        grace: Duration::from_secs(1),
        hold: Duration::from_secs(10),
    };

    #[test]
    fn first_publish_and_unchanged_republish_mark_nothing() {
        let a = [m(1, MemberState::Active), m(2, MemberState::Active)];
        let s1 = plan(None, &a, 1, 0, W);
        assert!(s1.marks.iter().all(|x| *x == 0));
        let s2 = plan(Some(&s1), &a, 2, 5, W);
        assert!(s2.marks.iter().all(|x| *x == 0));
        assert_eq!(s2.hold_until_ns, 0);
    }

    #[test]
    fn a_leaving_member_marks_nothing_a_draining_one_marks_its_entries() {
        let a = [
            m(1, MemberState::Active),
            m(2, MemberState::Active),
            m(3, MemberState::Active),
        ];
        let s1 = plan(None, &a, 1, 0, W);
        // m3 removed: its flows must move, nothing to keep there; the few
        // entries Maglev moves between m1 and m2 are marked with the old one.
        let s2 = plan(Some(&s1), &a[..2], 2, 5, W);
        for i in 0..s2.table.len() {
            if s1.table[i] == 2 {
                assert_eq!(s2.marks[i], 0, "entry {i} was m3's");
            } else if s2.marks[i] != 0 {
                assert_ne!(s1.table[i], s2.table[i]);
                assert_eq!(s2.marks[i] & abi::MG_PREV_MASK, s1.table[i]);
            } else {
                assert_eq!(s1.table[i], s2.table[i]);
            }
        }
        // m3 draining: the entries it had are marked with it as the old member.
        let mut d = a.to_vec();
        d[2].state = MemberState::Draining;
        let s3 = plan(Some(&s1), &d, 2, 5, W);
        let marked: Vec<usize> = (0..s3.marks.len()).filter(|i| s3.marks[*i] != 0).collect();
        assert!(!marked.is_empty());
        for i in &marked {
            assert_eq!(s3.marks[*i] & abi::MG_PREV_MASK, s1.table[*i]);
            assert_ne!(s3.marks[*i] & abi::MG_GRACE, 0);
        }
        assert!(marked.iter().any(|i| s1.table[*i] == 2));
        assert_eq!(s3.mark_gen, 2);
        assert_eq!(s3.hold_until_ns, 5 + 10_000_000_000);
        assert_eq!(s3.grace_until_ns, 5 + 1_000_000_000);
    }

    #[test]
    fn a_length_change_uses_the_period_table() {
        let one = [m(1, MemberState::Active)];
        let s1 = plan(None, &one, 1, 0, W);
        let two = [m(1, MemberState::Active), m(2, MemberState::Active)];
        let s2 = plan(Some(&s1), &two, 2, 5, W);
        assert_ne!(s1.table.len(), s2.table.len());
        assert_eq!(s2.prev_table.len(), s1.table.len());
        assert!(s2.prev_table.iter().all(|x| *x == 0), "everything was m1");
        assert!(s2
            .marks
            .iter()
            .all(|x| *x == abi::MG_MARKED | abi::MG_PREV_TABLE | abi::MG_GRACE));
        // A later change in the period keeps the period table and start.
        let s3 = plan(Some(&s2), &one, 3, 6, W);
        assert_eq!(s3.mark_gen, 2);
        assert_eq!(s3.prev_table, s2.prev_table);
        // After the hold, a new period begins from the table as it stands.
        let s4 = plan(Some(&s3), &two, 4, 20_000_000_000, W);
        assert_eq!(s4.mark_gen, 4);
    }

    #[test]
    fn a_member_back_after_leaving_is_not_an_old_member() {
        let a = [m(1, MemberState::Active), m(2, MemberState::Active)];
        let s1 = plan(None, &a, 1, 0, W);
        let mut d = a.to_vec();
        d[1].state = MemberState::Draining;
        let s2 = plan(Some(&s1), &d, 2, 1, W);
        let s3 = plan(Some(&s2), &a[..1], 3, 2, W);
        let s4 = plan(Some(&s3), &a, 4, 3, W);
        assert_eq!(s4.members[1].since_gen, 4);
        // m2 is nobody's old member any more (unless it is the entry's own).
        for i in 0..s4.table.len() {
            if s4.marks[i] != 0 {
                let prev = s4.marks[i] & abi::MG_PREV_MASK;
                assert!(prev == 0 || prev == s4.table[i], "entry {i}");
            }
        }
    }
}

//! Maglev tables (dataplane::maglev), no kernel involved: build time, how
//! evenly members share the table, and how many flows move when one member
//! leaves or joins.
//!
//! Flows moved are counted on real flow keys through the same flow hash and
//! table index the XDP program uses (flowhash::flow_hash, maglev_index),
//! comparing the *member* (by unicast address) before and after, so a
//! member's change of position in the list does not count as a move.

use std::hint::black_box;
use std::net::Ipv6Addr;
use std::time::Instant;

use anycast6_dataplane::{abi::FlowKey, flowhash, maglev};
use anyhow::Result;
use rand::{Rng, SeedableRng};

use crate::figure::{at_most, Figure};
use crate::progress::Progress;
use crate::Opts;

/// What explains a slow build (perf record + annotate of this scenario
/// when it was written; appended to a missed build-time figure).
const PROFILE: &str = ". Profile (perf record/annotate of this scenario): 82% of the samples \
     in maglev::build, and 56% of those on the instruction after the 32-bit `div` of the \
     probe step `next[i] = ((next[i] + skip[i]) % len)` (dataplane/src/maglev.rs): one \
     integer division per probe, and a table of M slots takes several probes per slot as it \
     fills. Since next < len and skip < \
     len, `let x = next + skip; next = if x >= len { x - len } else { x }` gives the same \
     table without a division";

/// The table length the targets are stated for.
pub const M: u32 = 65537;
const SEED: u32 = 0x5eed_1234;

fn members(n: usize) -> Vec<(Ipv6Addr, u16)> {
    (0..n)
        .map(|i| {
            (
                Ipv6Addr::new(0x2001, 0xdb8, 0x100, 0, 0, 0, (i >> 16) as u16, i as u16),
                100,
            )
        })
        .collect()
}

fn flows(count: usize) -> Vec<u32> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(42);
    let dst = Ipv6Addr::new(0x2001, 0xdb8, 0xac, 0, 0, 0, 0, 1).octets();
    (0..count)
        .map(|_| {
            let mut src = [0u8; 16];
            rng.fill(&mut src[..]);
            src[0] = 0x20;
            let key = FlowKey {
                src,
                dst,
                sport_be: rng.random::<u16>().to_be(),
                dport_be: 443u16.to_be(),
                proto: 17,
                frag: 0,
                _pad: 0,
            };
            flowhash::flow_hash(&key, SEED)
        })
        .collect()
}

/// Share of `hashes` whose member (by address) differs between two tables.
fn moved(
    hashes: &[u32],
    len: u32,
    a: &[u8],
    a_members: &[(Ipv6Addr, u16)],
    b: &[u8],
    b_members: &[(Ipv6Addr, u16)],
) -> f64 {
    let n = hashes
        .iter()
        .filter(|&&h| {
            let i = flowhash::maglev_index(h, len) as usize;
            a_members[a[i] as usize].0 != b_members[b[i] as usize].0
        })
        .count();
    n as f64 / hashes.len() as f64
}

/// max/min of the members' entry counts.
fn spread(table: &[u8], n: usize) -> f64 {
    let mut c = vec![0usize; n];
    for &e in table {
        c[e as usize] += 1;
    }
    let max = c.iter().copied().max().unwrap_or(0) as f64;
    let min = c.iter().copied().min().unwrap_or(0) as f64;
    max / min
}

/// Which members to remove (or add after) as repetitions: every member
/// for small N, a spread-out subset otherwise.
fn picks(n: usize, count: usize) -> Vec<usize> {
    if n <= count {
        (0..n).collect()
    } else {
        (0..count).map(|k| k * n / count).collect()
    }
}

pub fn run(opts: Opts, progress: &Progress) -> Result<Vec<Figure>> {
    let reps = if opts.quick { 7 } else { 21 };
    let n_flows = if opts.quick { 50_000 } else { 200_000 };
    let hashes = flows(n_flows);
    let mut out = Vec::new();
    for n in [10usize, 100] {
        progress.step(format!("build M={M} N={n} ×{reps}"));
        let ms = members(n);
        // One untimed build first (page faults of the first allocation).
        black_box(maglev::build(&ms, M));
        let mut times = Vec::with_capacity(reps);
        for _ in 0..reps {
            progress.check()?;
            let t = Instant::now();
            let table = maglev::build(black_box(&ms), M);
            times.push(t.elapsed().as_secs_f64() * 1e3);
            black_box(table);
        }
        let target = (n == 100).then(|| at_most(1.8)).flatten();
        let mut f = Figure::from_samples(
            &format!("maglev.build_ms.n{n}"),
            &format!("Maglev build M={M} N={n}"),
            "ms",
            times,
            target,
            &format!(
                "maglev::build of {n} equal-weight members into {M} slots, wall time of one \
                 build on one core, {reps} repetitions after one untimed build"
            ),
        );
        if f.pass == Some(false) {
            f.note.push_str(PROFILE);
        }
        out.push(f);

        let table = maglev::build(&ms, M);
        out.push(Figure::from_samples(
            &format!("maglev.spread.n{n}"),
            &format!("Maglev entry spread M={M} N={n} (max/min entries per member)"),
            "ratio",
            vec![spread(&table, n)],
            None,
            "largest over smallest number of table entries held by one member (equal weights; 1.0 is perfect)",
        ));

        // Removing one member, M kept (the table length of a republished
        // group is kept, maglev::next_table_len).
        for (len, tag) in [
            (M, String::new()),
            (maglev::table_len(n), ".sized".to_string()),
        ] {
            progress.check()?;
            progress.step(format!("flows moved, N={n}, M={len}"));
            let before = if len == M {
                table.clone()
            } else {
                maglev::build(&ms, len)
            };
            let mut rem = Vec::new();
            for r in picks(n, if opts.quick { 5 } else { 10 }) {
                let rest: Vec<_> = ms
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| *i != r)
                    .map(|(_, m)| *m)
                    .collect();
                let after = maglev::build(&rest, len);
                rem.push(moved(&hashes, len, &before, &ms, &after, &rest));
            }
            let bound = 1.0 / n as f64 + 0.01;
            let (target, note) = if len == M {
                (
                    at_most(bound),
                    format!(
                        "share of {n_flows} random flows (flow hash % M, as the XDP program) whose \
                         member changes when one of {n} members is removed, M={M} kept; samples: \
                         different removed members; target 1/N + 1% = {:.4}; the removed member's \
                         own flows (1/N) must move",
                        bound
                    ),
                )
            } else {
                (
                    None,
                    format!(
                        "as maglev.moved_remove.n{n} but with the production table length \
                         maglev::table_len({n}) = {len} (about 100 slots per member, kept on \
                         republish): the paper's fill moves a little more than 1/N at M/N ~ 100 \
                         (the leaving member's slots split unevenly among the others); affinity \
                         keeps live flows where they are"
                    ),
                )
            };
            out.push(Figure::from_samples(
                &format!("maglev.moved_remove.n{n}{tag}"),
                &format!("flows moved removing 1 of {n} members (M={len})"),
                "share",
                rem,
                target,
                &note,
            ));

            let mut add = Vec::new();
            for k in picks(n, if opts.quick { 3 } else { 5 }) {
                let mut more = ms.clone();
                more.push((
                    Ipv6Addr::new(0x2001, 0xdb8, 0x200, 0, 0, 0, 0, k as u16),
                    100,
                ));
                let after = maglev::build(&more, len);
                add.push(moved(&hashes, len, &before, &ms, &after, &more));
            }
            out.push(Figure::from_samples(
                &format!("maglev.moved_add.n{n}{tag}"),
                &format!("flows moved adding 1 member to {n} (M={len})"),
                "share",
                add,
                None,
                &format!(
                    "share of {n_flows} random flows whose member changes when a member joins \
                     {n} (ideal: 1/(N+1) = {:.4}, all of them to the new member); samples: \
                     different new member addresses",
                    1.0 / (n as f64 + 1.0)
                ),
            ));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moved_counts_members_not_positions() {
        let ms = members(3);
        let t = maglev::build(&ms, 101);
        let rev: Vec<_> = ms.iter().rev().copied().collect();
        let tr = maglev::build(&rev, 101);
        let h = flows(1000);
        assert_eq!(moved(&h, 101, &t, &ms, &tr, &rev), 0.0);
    }

    #[test]
    fn picks_spread() {
        assert_eq!(picks(10, 10), (0..10).collect::<Vec<_>>());
        assert_eq!(picks(100, 4), vec![0, 25, 50, 75]);
    }
}

//! Adjacency-up time, Hello → Full: AOSPF against FRR ospf6d with the same
//! timers, both seen by the same observer.
//!
//! ```text
//!  ns o: FRR ospf6d (observer, 192.0.2.1) ══ o-s / s-o ══ ns s: the subject (192.0.2.2)
//! ```
//! The observer runs for the whole measurement; each repetition starts a
//! subject — the AOSPF core on a raw socket (aospf-lsdb-gen without a
//! grid) or FRR zebra + ospf6d — alternately, and reads from the
//! observer's log (microsecond timestamps) the time from its [Down]->[Init]
//! for the subject (the subject's first Hello arrived) to its ->[Full], and
//! from ->[ExStart] to ->[Full] (the database exchange alone: Hello → Full
//! also holds up to a Hello interval of waiting for the other's Hello,
//! which only the timers' phases decide).
//! The subject is then killed and the observer's dead interval runs out
//! ([Down]) before the next one. Point-to-point, so no Wait timer (a
//! broadcast link would add the dead interval to both).

use std::time::Duration;

use anycast6_tests::frr::Frr;
use anycast6_tests::wait_until;
use anyhow::{bail, Context, Result};

use super::lsdb::{self, Pair};
use super::ospf6d::{self, StateChange};
use super::Timers;
use crate::progress::Progress;

const OBSERVER_ID: &str = "192.0.2.1";
const SUBJECT_ID: &str = "192.0.2.2";

/// Which implementation the subject runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subject {
    Aospf,
    Ospf6d,
}

/// One adjacency as the observer saw it, ms.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Adjacency {
    /// From the first [Down]->[Init] (the subject's first Hello) to ->[Full].
    pub hello_to_full: f64,
    /// From ->[ExStart] (both have seen each other's Hellos) to ->[Full]:
    /// the database exchange, without the Hello timers' phases.
    pub exstart_to_full: f64,
}

/// The first adjacency in the observer's state changes.
fn adjacency(changes: &[StateChange]) -> Option<Adjacency> {
    let init = changes
        .iter()
        .position(|c| c.from == "Down" && c.to == "Init")?;
    let after = &changes[init..];
    let full = after.iter().find(|c| c.to == "Full")?;
    let exstart = after.iter().find(|c| c.to == "ExStart")?;
    Some(Adjacency {
        hello_to_full: (full.at - changes[init].at) * 1e3,
        exstart_to_full: (full.at - exstart.at) * 1e3,
    })
}

/// The adjacencies of each subject (AOSPF, ospf6d), `reps` each,
/// alternating.
pub fn run(
    t: &Timers,
    reps: usize,
    progress: &Progress,
) -> Result<(Vec<Adjacency>, Vec<Adjacency>)> {
    let Pair { tmp, g: o, d: s } = lsdb::pair("adj")?;
    // pair() names the links g-d / d-g: the observer sits at g.
    let conf = ospf6d::config(OBSERVER_ID, &[ospf6d::Iface::new("g-d")], t);
    let observer = Frr::start_ospf6d(&o, &tmp, "o", &conf)?;
    let olog = ospf6d::log_path(&tmp, "o");
    let changes = || -> Vec<StateChange> {
        ospf6d::state_changes(&std::fs::read_to_string(&olog).unwrap_or_default())
    };
    let (mut aospf, mut frr) = (Vec::new(), Vec::new());
    for rep in 0..reps {
        for subject in [Subject::Aospf, Subject::Ospf6d] {
            crate::cleanup::check()?;
            progress.step(format!(
                "adjacency Hello → Full, {subject:?} (rep {}/{reps})",
                rep + 1
            ));
            let seen = changes().len();
            let label = format!("s{rep}{subject:?}");
            // Either guard kills the subject when it drops.
            let mut running: (Option<anycast6_tests::Proc>, Option<Frr>) = (None, None);
            match subject {
                Subject::Aospf => {
                    let mut args = lsdb::generator_args("d-g", t);
                    args.extend(["--router-id".into(), SUBJECT_ID.into()]);
                    running.0 = Some(lsdb::start_generator(&s, &tmp, &label, &args)?.0);
                }
                Subject::Ospf6d => {
                    let conf = ospf6d::config(SUBJECT_ID, &[ospf6d::Iface::new("d-g")], t);
                    running.1 = Some(Frr::start_ospf6d(&s, &tmp, &label, &conf)?);
                }
            }
            let mut ms = None;
            let ok = wait_until(Duration::from_secs(30), || {
                ms = adjacency(&changes()[seen..]);
                ms.is_some()
            });
            if !ok {
                bail!(
                    "the observer never saw the {subject:?} subject Full:\n{}",
                    observer.logs(20)
                );
            }
            let ms = ms.context("set")?;
            match subject {
                Subject::Aospf => aospf.push(ms),
                Subject::Ospf6d => frr.push(ms),
            }
            drop(running);
            // The observer forgets the subject (dead interval) before the
            // next one says Hello.
            let full_at = changes().len();
            let gone = wait_until(t.dead * 3, || {
                changes()[full_at..].iter().any(|c| c.to == "Down")
            });
            if !gone {
                bail!("the observer still has the subject after {:?}", t.dead * 3);
            }
        }
    }
    Ok((aospf, frr))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(at: f64, from: &str, to: &str) -> StateChange {
        StateChange {
            at,
            from: from.into(),
            to: to.into(),
        }
    }

    #[test]
    fn reads_one_adjacency() {
        let v = [
            c(1.0, "Down", "Init"),
            c(1.5, "Init", "ExStart"),
            c(1.6, "Loading", "Full"),
        ];
        let a = adjacency(&v).unwrap();
        assert_eq!(a.hello_to_full.round(), 600.0);
        assert_eq!(a.exstart_to_full.round(), 100.0);
        assert_eq!(adjacency(&v[..2]), None);
    }
}

//! Applying a plan to the FIB, all or nothing: if an operation fails, what
//! was already done is undone by diffing back to the state read before.

use anycast6_dataplane::userspace::{FibOp as SnapOp, SnapshotBuilder};
use anycast6_dataplane::{DataplaneError, FibWriter, InstalledFib, MemberSpec, Route};

use crate::rib::{diff, FibOp, FibState};

/// The FIB operations the daemon uses; `FibWriter` in production, an
/// in-memory map in tests.
pub trait Fib {
    fn installed(&self) -> Result<InstalledFib, DataplaneError>;
    fn publish_group(
        &mut self,
        group_id: u32,
        members: &[MemberSpec],
    ) -> Result<(), DataplaneError>;
    fn delete_group(&mut self, group_id: u32) -> Result<(), DataplaneError>;
    fn set_route(&mut self, route: Route, group_id: u32) -> Result<(), DataplaneError>;
    fn delete_route(&mut self, route: Route) -> Result<(), DataplaneError>;
    fn set_tx_port(&mut self, ifindex: u32) -> Result<(), DataplaneError>;
    fn delete_tx_port(&mut self, ifindex: u32) -> Result<(), DataplaneError>;
}

impl Fib for FibWriter {
    fn installed(&self) -> Result<InstalledFib, DataplaneError> {
        FibWriter::installed(self)
    }
    fn publish_group(
        &mut self,
        group_id: u32,
        members: &[MemberSpec],
    ) -> Result<(), DataplaneError> {
        FibWriter::publish_group(self, group_id, members)
    }
    fn delete_group(&mut self, group_id: u32) -> Result<(), DataplaneError> {
        FibWriter::delete_group(self, group_id)
    }
    fn set_route(&mut self, route: Route, group_id: u32) -> Result<(), DataplaneError> {
        FibWriter::set_route(self, route, group_id)
    }
    fn delete_route(&mut self, route: Route) -> Result<(), DataplaneError> {
        FibWriter::delete_route(self, route)
    }
    fn set_tx_port(&mut self, ifindex: u32) -> Result<(), DataplaneError> {
        FibWriter::set_tx_port(self, ifindex)
    }
    fn delete_tx_port(&mut self, ifindex: u32) -> Result<(), DataplaneError> {
        FibWriter::delete_tx_port(self, ifindex)
    }
}

/// The FIB writer and the userspace snapshot builder fed the same
/// operations: each one the maps take (rollback included) goes to the
/// builder too, so the AF_XDP path's snapshot equals the maps.
pub struct Tee<'a> {
    pub fib: &'a mut FibWriter,
    pub snap: &'a mut SnapshotBuilder,
}

impl Tee<'_> {
    fn mirror(&mut self, op: SnapOp) {
        if let Err(e) = self.snap.apply(&op) {
            tracing::error!(error = %e, ?op, "userspace snapshot refused an operation the maps took");
        }
    }
}

impl Fib for Tee<'_> {
    fn installed(&self) -> Result<InstalledFib, DataplaneError> {
        self.fib.installed()
    }
    fn publish_group(
        &mut self,
        group_id: u32,
        members: &[MemberSpec],
    ) -> Result<(), DataplaneError> {
        self.fib.publish_group(group_id, members)?;
        self.mirror(SnapOp::PublishGroup {
            group_id,
            members: members.to_vec(),
        });
        Ok(())
    }
    fn delete_group(&mut self, group_id: u32) -> Result<(), DataplaneError> {
        self.fib.delete_group(group_id)?;
        self.mirror(SnapOp::DeleteGroup(group_id));
        Ok(())
    }
    fn set_route(&mut self, route: Route, group_id: u32) -> Result<(), DataplaneError> {
        self.fib.set_route(route, group_id)?;
        self.mirror(SnapOp::SetRoute { route, group_id });
        Ok(())
    }
    fn delete_route(&mut self, route: Route) -> Result<(), DataplaneError> {
        self.fib.delete_route(route)?;
        self.mirror(SnapOp::DeleteRoute(route));
        Ok(())
    }
    fn set_tx_port(&mut self, ifindex: u32) -> Result<(), DataplaneError> {
        self.fib.set_tx_port(ifindex)?;
        self.mirror(SnapOp::SetTxPort(ifindex));
        Ok(())
    }
    fn delete_tx_port(&mut self, ifindex: u32) -> Result<(), DataplaneError> {
        self.fib.delete_tx_port(ifindex)?;
        self.mirror(SnapOp::DeleteTxPort(ifindex));
        Ok(())
    }
}

fn exec(fib: &mut dyn Fib, op: &FibOp) -> Result<(), DataplaneError> {
    match op {
        FibOp::SetTxPort(i) => fib.set_tx_port(*i),
        FibOp::PublishGroup { group_id, members } => fib.publish_group(*group_id, members),
        FibOp::SetRoute { route, group_id } => fib.set_route(*route, *group_id),
        FibOp::DeleteRoute(r) => fib.delete_route(*r),
        FibOp::DeleteGroup(g) => fib.delete_group(*g),
        FibOp::DeleteTxPort(i) => fib.delete_tx_port(*i),
    }
}

#[derive(Debug, thiserror::Error)]
#[error("FIB update failed at \"{op}\" ({error}); {}", match .rollback {
    Ok(n) => format!("rolled back ({n} operations): the FIB is as before"),
    Err(e) => format!("ROLLBACK FAILED too ({e}): the FIB may be partly updated"),
})]
pub struct ApplyError {
    pub op: String,
    pub error: String,
    pub rollback: Result<usize, String>,
}

/// Runs `ops` in order. On the first failure, restores `before` (the state
/// the ops were planned from) and reports both.
pub fn apply(fib: &mut dyn Fib, ops: &[FibOp], before: &FibState) -> Result<(), ApplyError> {
    for (i, op) in ops.iter().enumerate() {
        tracing::debug!(step = i, op = %op, "fib");
        if let Err(error) = exec(fib, op) {
            let rollback = rollback(fib, before);
            return Err(ApplyError {
                op: op.to_string(),
                error: error.to_string(),
                rollback,
            });
        }
    }
    Ok(())
}

fn rollback(fib: &mut dyn Fib, before: &FibState) -> Result<usize, String> {
    let now = FibState::from(&fib.installed().map_err(|e| e.to_string())?);
    let back = diff(before, &now);
    for op in &back {
        exec(fib, op).map_err(|e| format!("{op}: {e}"))?;
    }
    Ok(back.len())
}

/// An in-memory FIB for tests, failing on demand.
#[cfg(test)]
pub mod mem {
    use super::*;

    #[derive(Default)]
    pub struct MemFib {
        pub state: FibState,
        /// Fail the n-th mutating call from now (0-based), once.
        pub fail_at: Option<usize>,
        pub calls: usize,
    }

    impl MemFib {
        fn step(&mut self) -> Result<(), DataplaneError> {
            let n = self.calls;
            self.calls += 1;
            if self.fail_at == Some(n) {
                self.fail_at = None;
                return Err(DataplaneError::GroupIdOutOfRange(999));
            }
            Ok(())
        }
    }

    impl Fib for MemFib {
        fn installed(&self) -> Result<InstalledFib, DataplaneError> {
            Ok(InstalledFib {
                routes: self.state.routes.iter().map(|(r, g)| (*r, *g)).collect(),
                groups: self
                    .state
                    .groups
                    .iter()
                    .map(|(g, m)| anycast6_dataplane::InstalledGroup {
                        group_id: *g,
                        gen: 1,
                        maglev_block: 0,
                        maglev_len: 0,
                        members: m.clone(),
                    })
                    .collect(),
                tx_ports: self.state.tx_ports.iter().copied().collect(),
                ifaces: Vec::new(),
            })
        }
        fn publish_group(
            &mut self,
            group_id: u32,
            members: &[MemberSpec],
        ) -> Result<(), DataplaneError> {
            self.step()?;
            self.state.groups.insert(group_id, members.to_vec());
            Ok(())
        }
        fn delete_group(&mut self, group_id: u32) -> Result<(), DataplaneError> {
            self.step()?;
            self.state.groups.remove(&group_id);
            Ok(())
        }
        fn set_route(&mut self, route: Route, group_id: u32) -> Result<(), DataplaneError> {
            self.step()?;
            self.state.routes.insert(route, group_id);
            Ok(())
        }
        fn delete_route(&mut self, route: Route) -> Result<(), DataplaneError> {
            self.step()?;
            self.state.routes.remove(&route);
            Ok(())
        }
        fn set_tx_port(&mut self, ifindex: u32) -> Result<(), DataplaneError> {
            self.step()?;
            self.state.tx_ports.insert(ifindex);
            Ok(())
        }
        fn delete_tx_port(&mut self, ifindex: u32) -> Result<(), DataplaneError> {
            self.step()?;
            self.state.tx_ports.remove(&ifindex);
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv6Addr;

    use anycast6_dataplane::{Action, MemberState};

    use super::mem::MemFib;
    use super::*;

    fn member(id: u32, weight: u16) -> MemberSpec {
        MemberSpec {
            member_id: id,
            unicast: Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, id as u16),
            encap_src: Ipv6Addr::UNSPECIFIED,
            ifindex: 3,
            dmac: [2, 0, 0, 0, 0, 1],
            smac: [2, 0, 0, 0, 0, 2],
            mtu: 1500,
            action: Action::Rewrite,
            state: MemberState::Active,
            weight,
        }
    }

    fn state(routes: &[(u16, u32)], groups: &[(u32, Vec<MemberSpec>)]) -> FibState {
        FibState {
            routes: routes
                .iter()
                .map(|(a, g)| {
                    (
                        Route::Host(Ipv6Addr::new(0x2001, 0xdb8, 0xac, 0, 0, 0, 0, *a)),
                        *g,
                    )
                })
                .collect(),
            groups: groups.iter().cloned().collect(),
            tx_ports: [3].into(),
        }
    }

    #[test]
    fn every_failure_point_rolls_back_to_before() {
        let before = state(
            &[(1, 0), (2, 1)],
            &[(0, vec![member(0, 100)]), (1, vec![member(1, 100)])],
        );
        let after = state(
            &[(1, 0), (3, 2)],
            &[
                (0, vec![member(0, 50)]),
                (2, vec![member(2, 100), member(3, 1)]),
            ],
        );
        let ops = diff(&after, &before);
        assert!(ops.len() >= 5, "{ops:?}");
        for fail_at in 0..ops.len() {
            let mut fib = MemFib {
                state: before.clone(),
                fail_at: Some(fail_at),
                calls: 0,
            };
            let err = apply(&mut fib, &ops, &before).unwrap_err();
            assert_eq!(fib.state, before, "failure at op {fail_at}");
            assert!(matches!(err.rollback, Ok(n) if n == fail_at), "{err}");
            assert!(err.to_string().contains("rolled back"), "{err}");
        }
        let mut fib = MemFib {
            state: before.clone(),
            ..Default::default()
        };
        apply(&mut fib, &ops, &before).unwrap();
        assert_eq!(fib.state, after);
    }
}

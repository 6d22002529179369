//! Flooding (RFC 2328 §13.3), acknowledgements (§13.5) and
//! retransmission (§13.6). What one call floods is queued per interface
//! and sent, packed into as few LS Updates as the MTU allows, when the
//! entry point returns (`Instance::finish`).

use std::net::{Ipv4Addr, Ipv6Addr};

use anycast6_core::Instant;

use crate::instance::{Instance, ACK_DELAY};
use crate::interface::IState;
use crate::lsdb::{compare, LsaKey, ScopeKey};
use crate::neighbor::NState;
use crate::packet::{self, Body, LsaHeader};
use std::cmp::Ordering;

impl Instance {
    /// Floods the database's instance of (s, k), received from `from`
    /// (ifindex, router id) or originated by us (None). Returns whether it
    /// went back out of the interface it came in on (then that is its
    /// acknowledgement).
    pub(crate) fn flood(
        &mut self,
        now: Instant,
        s: ScopeKey,
        k: LsaKey,
        from: Option<(u32, Ipv4Addr)>,
    ) -> bool {
        let Some(hdr) = self.lsdb.get(s, &k).map(|e| e.header(now)) else {
            return false;
        };
        let targets: Vec<u32> = match s {
            ScopeKey::Link(i) => vec![i],
            _ => self.ifaces.keys().copied().collect(),
        };
        let mut back = false;
        for ifindex in targets {
            let Some(ifc) = self.ifaces.get_mut(&ifindex) else {
                continue;
            };
            if !ifc.sends() {
                continue;
            }
            let rxmt = ifc.cfg.retransmit_interval;
            let mut added = false;
            for n in ifc.neighbors.values_mut() {
                if n.state < NState::Exchange {
                    continue;
                }
                if n.state != NState::Full {
                    if let Some(req) = n.requests.get(&(s, k)) {
                        match compare(&hdr, req) {
                            Ordering::Less => continue,
                            Ordering::Equal => {
                                n.requests.remove(&(s, k));
                                continue;
                            }
                            Ordering::Greater => {
                                n.requests.remove(&(s, k));
                            }
                        }
                    }
                }
                if from == Some((ifindex, n.router_id)) {
                    continue;
                }
                n.rxmt.insert((s, k), ());
                n.rxmt_at.get_or_insert(now + rxmt);
                added = true;
            }
            if !added {
                continue;
            }
            if let Some((in_if, rid)) = from {
                if in_if == ifindex {
                    // The DR floods it to the link, or the BDR will if the
                    // DR does not (RFC 2328 §13.3 steps 3, 4).
                    if rid == ifc.dr || rid == ifc.bdr || ifc.state == IState::Backup {
                        continue;
                    }
                    back = true;
                }
            }
            ifc.pending_flood.push((s, k));
        }
        back
    }

    /// The LSAs queued by `flood`, sent: to AllSPFRouters from the DR, the
    /// BDR and on point-to-point links, to AllDRouters otherwise.
    pub(crate) fn send_pending_floods(&mut self, now: Instant) {
        let ifindexes: Vec<u32> = self
            .ifaces
            .iter()
            .filter(|(_, i)| !i.pending_flood.is_empty())
            .map(|(k, _)| *k)
            .collect();
        for ifindex in ifindexes {
            let ifc = self.ifaces.get_mut(&ifindex).unwrap();
            let keys = std::mem::take(&mut ifc.pending_flood);
            let delay = ifc.cfg.transmit_delay;
            let dst = match ifc.state {
                IState::DrOther => packet::ALL_D_ROUTERS,
                _ => packet::ALL_SPF_ROUTERS,
            };
            let mut seen = std::collections::BTreeSet::new();
            let lsas = keys
                .into_iter()
                .filter(|k| seen.insert(*k))
                .filter_map(|(s, k)| self.lsdb.get(s, &k).map(|e| e.to_send(now, delay)))
                .collect();
            self.send_lsas(ifindex, dst, lsas);
        }
    }

    /// The instance of (s, k) leaves every retransmission list (a newer
    /// one replaced it).
    pub(crate) fn unlist(&mut self, s: ScopeKey, k: LsaKey) {
        for i in self.ifaces.values_mut() {
            for n in i.neighbors.values_mut() {
                n.rxmt.remove(&(s, k));
            }
        }
    }

    pub(crate) fn delayed_ack(&mut self, now: Instant, ifindex: u32, h: LsaHeader) {
        let ifc = self.ifaces.get_mut(&ifindex).unwrap();
        ifc.delayed_acks.push(h);
        ifc.ack_at.get_or_insert(now + ACK_DELAY);
    }

    pub(crate) fn direct_ack(&mut self, ifindex: u32, rid: Ipv4Addr, h: LsaHeader) {
        let Some(dst) = self.ifaces[&ifindex].neighbors.get(&rid).map(|n| n.addr) else {
            return;
        };
        self.send(ifindex, dst, Body::LsAck(vec![h]));
    }

    pub(crate) fn send_delayed_acks(&mut self, ifindex: u32) {
        let per = (self.budget(ifindex) - packet::HEADER_LEN) / packet::lsa::LSA_HEADER_LEN;
        let ifc = self.ifaces.get_mut(&ifindex).unwrap();
        ifc.ack_at = None;
        let acks = std::mem::take(&mut ifc.delayed_acks);
        let dst: Ipv6Addr = match ifc.state {
            IState::DrOther => packet::ALL_D_ROUTERS,
            _ => packet::ALL_SPF_ROUTERS,
        };
        for chunk in acks.chunks(per.max(1)) {
            self.send(ifindex, dst, Body::LsAck(chunk.to_vec()));
        }
    }

    /// RxmtInterval passed: what the neighbour has not acknowledged goes
    /// again, unicast.
    pub(crate) fn retransmit(&mut self, now: Instant, ifindex: u32, rid: Ipv4Addr) {
        let rxmt = self.ifaces[&ifindex].cfg.retransmit_interval;
        let delay = self.ifaces[&ifindex].cfg.transmit_delay;
        let budget = self.budget(ifindex);
        let keys: Vec<(ScopeKey, LsaKey)> = self.ifaces[&ifindex].neighbors[&rid]
            .rxmt
            .keys()
            .copied()
            .collect();
        let mut lsas = Vec::new();
        let mut size = 0;
        let mut gone = Vec::new();
        for (s, k) in keys {
            match self.lsdb.get(s, &k) {
                Some(e) => {
                    // One packet's worth per interval.
                    size += usize::from(e.lsa.header.length);
                    if !lsas.is_empty() && size > budget {
                        break;
                    }
                    lsas.push(e.to_send(now, delay));
                }
                None => gone.push((s, k)),
            }
        }
        let n = self.nbr(ifindex, rid);
        for g in gone {
            n.rxmt.remove(&g);
        }
        n.rxmt_at = if n.rxmt.is_empty() {
            None
        } else {
            Some(now + rxmt)
        };
        let dst = n.addr;
        if !lsas.is_empty() {
            self.counters.retransmissions += 1;
            self.send_lsas(ifindex, dst, lsas);
        }
    }
}

//! Outputs: updates (periodic, triggered, answers to requests), split
//! horizon, packetisation to the link MTU, signing.

use std::net::Ipv6Addr;

use super::debug::Debug;
use super::instance::Instance;
use super::packet::{Command, Entry, Packet, Rte, GROUP, PORT};
use super::Output;

impl Instance {
    /// The route entries to announce on `ifindex`, split horizon applied
    /// (RFC 2080 §2.6); only changed routes when `only_changed`.
    pub(crate) fn update_entries(&self, ifindex: u32, only_changed: bool) -> Vec<Entry> {
        self.table
            .values()
            .filter(|r| !only_changed || r.changed)
            .filter_map(|r| {
                let metric = r.metric_on(ifindex, self.config.split_horizon)?;
                Some(Entry::Route(Rte {
                    prefix: r.prefix.addr,
                    tag: r.advert.tag,
                    plen: r.prefix.len,
                    metric,
                }))
            })
            .collect()
    }

    /// Sends `entries` in as many packets as the interface MTU needs,
    /// each signed when a keyring is configured. Sent from `ifindex`'s
    /// link-local address, source port 521, hop limit 255.
    pub(crate) fn send_entries(
        &mut self,
        ifindex: u32,
        dst: Ipv6Addr,
        dst_port: u16,
        command: Command,
        entries: Vec<Entry>,
    ) {
        let Some(iface) = self.interfaces.get(&ifindex) else {
            return;
        };
        let src = iface.config.link_local;
        let key = self.config.keyring.send_key().cloned();
        let max = iface.config.max_rtes(key.is_some());
        for chunk in entries.chunks(max) {
            let p = Packet::new(command, chunk.to_vec());
            let bytes = match &key {
                Some(k) => p.encode_signed(src, k, self.seq.take()),
                None => p.encode(),
            };
            self.counters.tx_packets += 1;
            match command {
                Command::Request => self.counters.tx_requests += 1,
                Command::Response => self.counters.tx_responses += 1,
            }
            self.outputs.push_back(Output::Send {
                ifindex,
                dst,
                dst_port,
                bytes,
            });
        }
    }

    fn send_update(&mut self, only_changed: bool) {
        let kind = if only_changed {
            "triggered"
        } else {
            "periodic"
        };
        let ifindexes: Vec<u32> = self.interfaces.keys().copied().collect();
        for ifindex in ifindexes {
            let entries = self.update_entries(ifindex, only_changed);
            Debug::UpdateSent {
                kind,
                ifindex,
                entries: entries.len(),
            }
            .log();
            self.send_entries(ifindex, GROUP, PORT, Command::Response, entries);
        }
        for r in self.table.values_mut() {
            r.changed = false;
        }
        self.trigger_pending = false;
    }

    /// The unsolicited whole-table response (RFC 2080 §2.5).
    pub(crate) fn send_periodic_update(&mut self) {
        self.counters.tx_periodic_updates += 1;
        self.send_update(false);
    }

    /// Changed routes only (RFC 2080 §2.5.1).
    pub(crate) fn send_triggered_update(&mut self) {
        self.counters.tx_triggered_updates += 1;
        self.send_update(true);
    }
}

//! What the workers report: the engine's counters (reasons, groups,
//! members), their own I/O counters and each socket's XDP_STATISTICS.

use anycast6_dataplane::userspace::EngineCounters;
use serde::{Deserialize, Serialize};

/// Copy or zero-copy, as the kernel bound the socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BindMode {
    Copy,
    ZeroCopy,
}

impl BindMode {
    pub fn name(self) -> &'static str {
        match self {
            BindMode::Copy => "copy",
            BindMode::ZeroCopy => "zero-copy",
        }
    }
}

/// A worker's own counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IoCounters {
    pub rx_packets: u64,
    pub rx_bytes: u64,
    pub tx_packets: u64,
    pub tx_bytes: u64,
    /// Forwarded frames dropped because the egress socket's tx ring was full.
    pub tx_ring_full: u64,
    /// Forwarded frames whose egress has no socket in this worker.
    pub tx_no_socket: u64,
    /// Frames the engine passes to the kernel (local member, no port, a
    /// draining-only group's new flow, ...) that could not be queued for
    /// the exception device (queue full, no device, not IPv6): dropped,
    /// and counted under their pass reason as well. The daemon adds the
    /// device's write errors.
    pub pass_not_reinjected: u64,
    /// Batches that had to wait for frames (UMEM exhausted).
    pub fill_starved: u64,
    /// Non-empty rx batches taken (rx_packets / rx_batches: the mean batch).
    #[serde(default)]
    pub rx_batches: u64,
    /// sendmsg(2) calls made to transmit (copy mode sends at most 32
    /// frames a call).
    #[serde(default)]
    pub tx_wakeups: u64,
}

impl IoCounters {
    pub fn add(&mut self, o: &IoCounters) {
        self.rx_packets += o.rx_packets;
        self.rx_bytes += o.rx_bytes;
        self.tx_packets += o.tx_packets;
        self.tx_bytes += o.tx_bytes;
        self.tx_ring_full += o.tx_ring_full;
        self.tx_no_socket += o.tx_no_socket;
        self.pass_not_reinjected += o.pass_not_reinjected;
        self.fill_starved += o.fill_starved;
        self.rx_batches += o.rx_batches;
        self.tx_wakeups += o.tx_wakeups;
    }
}

/// The kernel's XDP_STATISTICS of one socket.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct XdpStats {
    pub rx_dropped: u64,
    pub rx_invalid_descs: u64,
    pub tx_invalid_descs: u64,
    pub rx_ring_full: u64,
    pub rx_fill_ring_empty_descs: u64,
    pub tx_ring_empty_descs: u64,
}

impl XdpStats {
    pub fn add(&mut self, o: &XdpStats) {
        self.rx_dropped += o.rx_dropped;
        self.rx_invalid_descs += o.rx_invalid_descs;
        self.tx_invalid_descs += o.tx_invalid_descs;
        self.rx_ring_full += o.rx_ring_full;
        self.rx_fill_ring_empty_descs += o.rx_fill_ring_empty_descs;
        self.tx_ring_empty_descs += o.tx_ring_empty_descs;
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SocketReport {
    pub ifname: String,
    pub ifindex: u32,
    pub queue: u32,
    /// Receives steered traffic (an `afxdp` interface) or only transmits.
    pub rx: bool,
    pub mode: BindMode,
    pub xdp: XdpStats,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerReport {
    pub queue: u32,
    pub engine: EngineCounters,
    pub io: IoCounters,
    pub sockets: Vec<SocketReport>,
    pub affinity_entries: usize,
}

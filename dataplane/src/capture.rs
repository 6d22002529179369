//! Capture of the forwarding program's decisions (docs/capture.md): the
//! pinned settings (`a6_cap_cfg`), the session counters (`a6_cap_stats`),
//! the ring buffer of samples (`a6_cap_ring`) and the decoder of its records.
//!
//! The program samples a packet when its final reason is in the armed mask
//! and the lease (`CapCfg::expires_ns`) has not run out: whoever arms must
//! renew the lease, so a holder that dies (SIGKILL) leaves a capture that
//! stops by itself within one lease.

use std::os::fd::{AsFd, BorrowedFd};
use std::path::Path;

use aya::maps::{Array, Map, MapData, RingBuf};

use crate::abi::{self, cap, map, CapCfg, CapRecHeader, CapStats, Reason};
use crate::error::DataplaneError;
use crate::fib::map_err;

/// One decoded `a6_cap_rec`: the header, and the frame bytes it carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaptureRecord<'a> {
    /// CLOCK_MONOTONIC nanoseconds at the verdict.
    pub ts_ns: u64,
    pub session: u32,
    /// Ingress interface.
    pub ifindex: u32,
    /// Frame length as it arrived.
    pub wire_len: u32,
    /// Frame length at the verdict (`frame` is its first bytes).
    pub pkt_len: u32,
    pub reason: Reason,
    /// XDP action (`testrun::XDP_*`).
    pub verdict: u16,
    /// The chosen member, if the packet got as far as member choice.
    pub member_id: Option<u32>,
    /// The chosen member's interface (0: none).
    pub egress_ifindex: u32,
    pub rx_queue: u32,
    /// The first bytes of the frame at the verdict.
    pub frame: &'a [u8],
}

/// What is wrong with a ring buffer record; the field is named.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CaptureDecodeError {
    #[error("record of {0} bytes is shorter than its 48-byte header")]
    RecordShort(usize),
    #[error("record field reason: {0} is not a reason (A6_R_MAX is {max})", max = abi::REASON_MAX)]
    ReasonInvalid(u16),
    #[error("record field verdict: {0} is not an XDP action")]
    VerdictInvalid(u16),
    #[error("record field cap_len: {cap_len} exceeds snap max {max} or the {have} bytes present", max = cap::SNAP_MAX)]
    CapLenInvalid { cap_len: u32, have: usize },
    #[error("record field cap_len: {cap_len} exceeds pkt_len {pkt_len}")]
    CapLenOverPktLen { cap_len: u32, pkt_len: u32 },
}

fn u16_at(b: &[u8], off: usize) -> u16 {
    u16::from_ne_bytes([b[off], b[off + 1]])
}

fn u32_at(b: &[u8], off: usize) -> u32 {
    u32::from_ne_bytes(b[off..off + 4].try_into().expect("4 bytes"))
}

fn u64_at(b: &[u8], off: usize) -> u64 {
    u64::from_ne_bytes(b[off..off + 8].try_into().expect("8 bytes"))
}

/// Decodes one ring buffer record (host byte order, as the program wrote
/// it). Accepts a record cut right after its frame bytes (`48 + cap_len`
/// bytes) as well as the whole fixed-size reservation.
pub fn decode_record(b: &[u8]) -> Result<CaptureRecord<'_>, CaptureDecodeError> {
    use std::mem::offset_of;
    const H: usize = cap::REC_HEADER;
    if b.len() < H {
        return Err(CaptureDecodeError::RecordShort(b.len()));
    }
    let reason_raw = u16_at(b, offset_of!(CapRecHeader, reason));
    let reason = Reason::from_index(u32::from(reason_raw))
        .ok_or(CaptureDecodeError::ReasonInvalid(reason_raw))?;
    let verdict = u16_at(b, offset_of!(CapRecHeader, verdict));
    if verdict > 4 {
        return Err(CaptureDecodeError::VerdictInvalid(verdict));
    }
    let cap_len = u32_at(b, offset_of!(CapRecHeader, cap_len));
    let pkt_len = u32_at(b, offset_of!(CapRecHeader, pkt_len));
    let have = b.len() - H;
    if cap_len as usize > cap::SNAP_MAX || cap_len as usize > have {
        return Err(CaptureDecodeError::CapLenInvalid { cap_len, have });
    }
    if cap_len > pkt_len {
        return Err(CaptureDecodeError::CapLenOverPktLen { cap_len, pkt_len });
    }
    let member = u32_at(b, offset_of!(CapRecHeader, member_id));
    Ok(CaptureRecord {
        ts_ns: u64_at(b, offset_of!(CapRecHeader, ts_ns)),
        session: u32_at(b, offset_of!(CapRecHeader, session)),
        ifindex: u32_at(b, offset_of!(CapRecHeader, ifindex)),
        wire_len: u32_at(b, offset_of!(CapRecHeader, wire_len)),
        pkt_len,
        reason,
        verdict,
        member_id: (member != cap::NO_MEMBER).then_some(member),
        egress_ifindex: u32_at(b, offset_of!(CapRecHeader, egress_ifindex)),
        rx_queue: u32_at(b, offset_of!(CapRecHeader, rx_queue)),
        frame: &b[H..H + cap_len as usize],
    })
}

/// Encodes a record as the program writes it (tests and fuzz seeds).
pub fn encode_record(h: &CapRecHeader, frame: &[u8]) -> Vec<u8> {
    use std::mem::offset_of;
    let mut b = vec![0u8; cap::REC_HEADER + frame.len()];
    let mut put = |off: usize, v: &[u8]| b[off..off + v.len()].copy_from_slice(v);
    put(offset_of!(CapRecHeader, ts_ns), &h.ts_ns.to_ne_bytes());
    put(offset_of!(CapRecHeader, session), &h.session.to_ne_bytes());
    put(offset_of!(CapRecHeader, ifindex), &h.ifindex.to_ne_bytes());
    put(
        offset_of!(CapRecHeader, wire_len),
        &h.wire_len.to_ne_bytes(),
    );
    put(offset_of!(CapRecHeader, pkt_len), &h.pkt_len.to_ne_bytes());
    put(offset_of!(CapRecHeader, cap_len), &h.cap_len.to_ne_bytes());
    put(
        offset_of!(CapRecHeader, member_id),
        &h.member_id.to_ne_bytes(),
    );
    put(
        offset_of!(CapRecHeader, egress_ifindex),
        &h.egress_ifindex.to_ne_bytes(),
    );
    put(
        offset_of!(CapRecHeader, rx_queue),
        &h.rx_queue.to_ne_bytes(),
    );
    put(offset_of!(CapRecHeader, reason), &h.reason.to_ne_bytes());
    put(offset_of!(CapRecHeader, verdict), &h.verdict.to_ne_bytes());
    b[cap::REC_HEADER..].copy_from_slice(frame);
    b
}

/// CLOCK_MONOTONIC now, nanoseconds: the clock of `bpf_ktime_get_ns`.
pub fn monotonic_ns() -> u64 {
    clock_ns(libc::CLOCK_MONOTONIC)
}

/// CLOCK_REALTIME now, nanoseconds since the Unix epoch.
pub fn realtime_ns() -> u64 {
    clock_ns(libc::CLOCK_REALTIME)
}

fn clock_ns(clock: libc::clockid_t) -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    #[allow(unsafe_code)]
    // SAFETY: clock_gettime writes one timespec to the pointer it is given.
    let r = unsafe { libc::clock_gettime(clock, &mut ts) };
    if r != 0 {
        return 0;
    }
    (ts.tv_sec as u64) * 1_000_000_000 + ts.tv_nsec as u64
}

/// The name of interface `ifindex` in the calling thread's network namespace.
pub fn ifname(ifindex: u32) -> Option<String> {
    crate::sys::if_indextoname(ifindex)
}

/// The capture maps of a pin directory, opened from their pins.
pub struct CaptureMaps {
    cfg: Array<MapData, CapCfg>,
    stats: Array<MapData, CapStats>,
    ring: RingBuf<MapData>,
}

fn open_pinned(pin_dir: &Path, name: &'static str) -> Result<Map, DataplaneError> {
    let md = MapData::from_pin(pin_dir.join(name)).map_err(|e| map_err(name, e))?;
    Map::from_map_data(md).map_err(|e| map_err(name, e))
}

impl CaptureMaps {
    /// Opens the pinned capture maps (needs CAP_BPF, or root).
    pub fn open(pin_dir: &Path) -> Result<CaptureMaps, DataplaneError> {
        let cfg = open_pinned(pin_dir, map::CAP_CFG)?
            .try_into()
            .map_err(|e| map_err(map::CAP_CFG, e))?;
        let stats = open_pinned(pin_dir, map::CAP_STATS)?
            .try_into()
            .map_err(|e| map_err(map::CAP_STATS, e))?;
        let ring = open_pinned(pin_dir, map::CAP_RING)?
            .try_into()
            .map_err(|e| map_err(map::CAP_RING, e))?;
        Ok(CaptureMaps { cfg, stats, ring })
    }

    /// The settings as pinned now.
    pub fn config(&self) -> Result<CapCfg, DataplaneError> {
        self.cfg.get(&0, 0).map_err(|e| map_err(map::CAP_CFG, e))
    }

    /// Writes the settings (one map update).
    pub fn set_config(&mut self, c: &CapCfg) -> Result<(), DataplaneError> {
        self.cfg.set(0, c, 0).map_err(|e| map_err(map::CAP_CFG, e))
    }

    /// Disarms: mask 0, lease over, everything else 0.
    pub fn disarm(&mut self) -> Result<(), DataplaneError> {
        self.set_config(&CapCfg::default())
    }

    /// The counters of the current session.
    pub fn stats(&self) -> Result<CapStats, DataplaneError> {
        self.stats
            .get(&0, 0)
            .map_err(|e| map_err(map::CAP_STATS, e))
    }

    /// Zeroes the session counters (before arming).
    pub fn reset_stats(&mut self) -> Result<(), DataplaneError> {
        self.stats
            .set(0, CapStats::default(), 0)
            .map_err(|e| map_err(map::CAP_STATS, e))
    }

    /// The next record waiting in the ring, copied out; `None` when empty.
    pub fn next_record(&mut self) -> Option<Vec<u8>> {
        self.ring.next().map(|item| item.to_vec())
    }

    /// The ring's descriptor, to poll(2) for readability.
    pub fn ring_fd(&self) -> BorrowedFd<'_> {
        self.ring.as_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(reason: Reason, cap_len: u32) -> CapRecHeader {
        CapRecHeader {
            ts_ns: 123_456_789,
            session: 9,
            ifindex: 4,
            wire_len: 90,
            pkt_len: 90,
            cap_len,
            member_id: cap::NO_MEMBER,
            egress_ifindex: 0,
            rx_queue: 1,
            reason: reason as u16,
            verdict: 1,
            _pad: 0,
        }
    }

    #[test]
    fn record_round_trip_short_and_full() {
        let frame: Vec<u8> = (0..60).collect();
        let b = encode_record(&header(Reason::DropTruncL4, 60), &frame);
        let r = decode_record(&b).unwrap();
        assert_eq!(r.reason, Reason::DropTruncL4);
        assert_eq!((r.ts_ns, r.session, r.ifindex), (123_456_789, 9, 4));
        assert_eq!(r.member_id, None);
        assert_eq!(r.frame, &frame[..]);
        // The whole reservation, as the ring hands it out.
        let mut full = b.clone();
        full.resize(cap::REC_HEADER + cap::SNAP_MAX, 0xee);
        assert_eq!(decode_record(&full).unwrap().frame, &frame[..]);
        let mut h = header(Reason::FwdRewrite, 0);
        h.member_id = 17;
        h.verdict = 4;
        let b = encode_record(&h, &[]);
        let r = decode_record(&b).unwrap();
        assert_eq!((r.member_id, r.verdict), (Some(17), 4));
    }

    #[test]
    fn bad_records_name_the_field() {
        let frame = [0u8; 20];
        assert_eq!(
            decode_record(&[0; 47]),
            Err(CaptureDecodeError::RecordShort(47))
        );
        let mut h = header(Reason::PassNd, 20);
        h.reason = abi::REASON_MAX as u16;
        assert_eq!(
            decode_record(&encode_record(&h, &frame)),
            Err(CaptureDecodeError::ReasonInvalid(abi::REASON_MAX as u16))
        );
        let mut h = header(Reason::PassNd, 20);
        h.verdict = 5;
        assert!(decode_record(&encode_record(&h, &frame))
            .unwrap_err()
            .to_string()
            .contains("verdict"));
        let h = header(Reason::PassNd, 21);
        assert!(decode_record(&encode_record(&h, &frame))
            .unwrap_err()
            .to_string()
            .contains("cap_len"));
        let mut h = header(Reason::PassNd, 20);
        h.pkt_len = 19;
        assert_eq!(
            decode_record(&encode_record(&h, &frame)),
            Err(CaptureDecodeError::CapLenOverPktLen {
                cap_len: 20,
                pkt_len: 19
            })
        );
    }
}

//! A bench-local batched writer for the pinned `a6_fib` hash map:
//! BPF_MAP_UPDATE_BATCH / BPF_MAP_DELETE_BATCH (one system call per chunk
//! of entries), which aya 0.14 does not expose and the dataplane's
//! `FibWriter` does not offer (it writes one route per system call).
//!
//! The map is opened from its pin (`MapData::from_pin`); keys and values
//! are the ABI structs (`abi::FibKey`, `abi::FibVal`) laid out contiguously,
//! exactly as the kernel copies them.

use std::os::fd::{AsFd, AsRawFd};
use std::path::Path;

use anycast6_dataplane::abi::{self, FibKey, FibVal};
use anyhow::{bail, Context, Result};
use aya::maps::MapData;

// bpf(2) commands (include/uapi/linux/bpf.h, enum bpf_cmd).
const BPF_MAP_UPDATE_BATCH: libc::c_long = 26;
const BPF_MAP_DELETE_BATCH: libc::c_long = 27;

/// Entries per system call: large enough that the call overhead vanishes,
/// small enough that the kernel's per-call copy stays in cache.
pub const CHUNK: usize = 16_384;

pub struct FibBatch {
    map: MapData,
}

impl FibBatch {
    /// Opens `<pin_dir>/a6_fib`.
    pub fn open(pin_dir: &Path) -> Result<FibBatch> {
        let path = pin_dir.join(abi::map::FIB);
        let map =
            MapData::from_pin(&path).with_context(|| format!("opening {}", path.display()))?;
        Ok(FibBatch { map })
    }

    /// Inserts or replaces every (key, value), CHUNK entries per call.
    pub fn update(&self, keys: &[FibKey], values: &[FibVal]) -> Result<()> {
        assert_eq!(keys.len(), values.len(), "one value per key");
        for (k, v) in keys.chunks(CHUNK).zip(values.chunks(CHUNK)) {
            let done = self.call(BPF_MAP_UPDATE_BATCH, k, Some(v))?;
            if done != k.len() {
                bail!("BPF_MAP_UPDATE_BATCH wrote {done} of {} entries", k.len());
            }
        }
        Ok(())
    }

    /// Deletes every key (all must exist), CHUNK per call.
    pub fn delete(&self, keys: &[FibKey]) -> Result<()> {
        for k in keys.chunks(CHUNK) {
            let done = self.call(BPF_MAP_DELETE_BATCH, k, None)?;
            if done != k.len() {
                bail!("BPF_MAP_DELETE_BATCH deleted {done} of {} entries", k.len());
            }
        }
        Ok(())
    }

    /// One batch call; returns how many elements the kernel processed.
    fn call(&self, cmd: libc::c_long, keys: &[FibKey], values: Option<&[FibVal]>) -> Result<usize> {
        let fd = self.map.fd().as_fd().as_raw_fd();
        // union bpf_attr, the `batch` member: in_batch, out_batch, keys,
        // values (u64 each), count (u32), map_fd (u32), elem_flags, flags.
        let mut attr = [0u64; 16];
        attr[2] = keys.as_ptr() as u64;
        attr[3] = values.map_or(0, |v| v.as_ptr() as u64);
        attr[4] = (keys.len() as u64) | ((fd as u32 as u64) << 32);
        #[allow(unsafe_code)]
        // SAFETY: bpf(2) reads `attr` (ours, 128 bytes, the tail zero as the
        // kernel requires) and, through it, `count` keys and values from the
        // two slices, which are repr(C) ABI structs with no padding (sizes
        // asserted in abi.rs) and outlive the call; it writes only
        // attr.batch.count.
        let r = unsafe {
            libc::syscall(
                libc::SYS_bpf,
                cmd,
                attr.as_mut_ptr(),
                std::mem::size_of_val(&attr) as libc::c_uint,
            )
        };
        let count = (attr[4] & 0xffff_ffff) as usize;
        if r < 0 {
            let e = std::io::Error::last_os_error();
            bail!("bpf batch command {cmd} on a6_fib: {e} (after {count} elements)");
        }
        Ok(count)
    }
}

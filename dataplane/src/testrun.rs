//! BPF_PROG_TEST_RUN helpers. (API fixed; bodies to be implemented.)

/// Result of one test run of an XDP program on a frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunResult {
    /// XDP action (0 aborted, 1 drop, 2 pass, 3 tx, 4 redirect).
    pub action: u32,
    /// The frame as the program left it.
    pub frame: Vec<u8>,
    pub duration_ns: u64,
}

pub const XDP_ABORTED: u32 = 0;
pub const XDP_DROP: u32 = 1;
pub const XDP_PASS: u32 = 2;
pub const XDP_TX: u32 = 3;
pub const XDP_REDIRECT: u32 = 4;

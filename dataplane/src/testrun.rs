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

/// Room the program may add to a frame: XDP test runs give 256 bytes of
/// headroom (encap adds 40, a Packet Too Big at most 48 + a header), and
/// tail growth is bounded by the same page.
pub const OUTPUT_SLACK: usize = 512;

/// One BPF_PROG_TEST_RUN of `prog` on `frame` (repeat 1: the frame is not
/// reset between repeats, see DESIGN.md).
pub fn run_xdp(
    prog: &aya::programs::Xdp,
    frame: &[u8],
) -> Result<RunResult, crate::DataplaneError> {
    use aya::{TestRun, TestRunOptions};
    if frame.len() < 14 {
        return Err(crate::DataplaneError::TestRunFrameInvalid(format!(
            "{} bytes: XDP test runs need at least an Ethernet header (14)",
            frame.len()
        )));
    }
    let mut out = vec![0u8; frame.len() + OUTPUT_SLACK];
    let opts = TestRunOptions {
        data_in: Some(frame),
        data_out: Some(&mut out),
        repeat: 1,
        ..TestRunOptions::default()
    };
    let r = prog
        .test_run(opts)
        .map_err(crate::DataplaneError::TestRun)?;
    out.truncate((r.data_size_out as usize).min(frame.len() + OUTPUT_SLACK));
    Ok(RunResult {
        action: r.return_value,
        frame: out,
        duration_ns: r.duration.as_nanos() as u64,
    })
}

/// tc verdicts (`TC_ACT_*`) as a test run of a tc program returns them.
pub const TC_ACT_OK: u32 = 0;
pub const TC_ACT_SHOT: u32 = 2;

/// One BPF_PROG_TEST_RUN of the tc (SchedClassifier) program `prog` on the
/// Ethernet frame `frame`: the kernel builds an skb from it (protocol from
/// the ethertype, no GSO, no checksum offload state) and returns the frame
/// as the program left it; `action` is the `TC_ACT_*` verdict.
pub fn run_tc(
    prog: &aya::programs::SchedClassifier,
    frame: &[u8],
) -> Result<RunResult, crate::DataplaneError> {
    use aya::{TestRun, TestRunOptions};
    if frame.len() < 14 {
        return Err(crate::DataplaneError::TestRunFrameInvalid(format!(
            "{} bytes: tc test runs need at least an Ethernet header (14)",
            frame.len()
        )));
    }
    let mut out = vec![0u8; frame.len() + OUTPUT_SLACK];
    let opts = TestRunOptions {
        data_in: Some(frame),
        data_out: Some(&mut out),
        repeat: 1,
        ..TestRunOptions::default()
    };
    let r = prog
        .test_run(opts)
        .map_err(crate::DataplaneError::TestRun)?;
    out.truncate((r.data_size_out as usize).min(frame.len() + OUTPUT_SLACK));
    Ok(RunResult {
        action: r.return_value,
        frame: out,
        duration_ns: r.duration.as_nanos() as u64,
    })
}

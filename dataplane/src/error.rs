//! Errors of the dataplane crate.
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum DataplaneError {
    #[error("bpffs is not mounted at /sys/fs/bpf (mount -t bpf bpf /sys/fs/bpf)")]
    BpffsMissing,
    #[error("pin directory {path}: {source}")]
    PinDirIo {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("loading eBPF object: {0}")]
    ObjectLoad(#[from] aya::EbpfError),
    #[error("eBPF program {name}: {source}")]
    ProgramLoad {
        name: &'static str,
        source: aya::programs::ProgramError,
    },
    #[error("map {name}: {source}")]
    MapAccess {
        name: &'static str,
        source: aya::maps::MapError,
    },
    #[error("interface {0} not found")]
    InterfaceNotFound(String),
    #[error("attaching XDP to {ifname}: {reason}")]
    AttachFailed { ifname: String, reason: String },
    #[error("group {group_id} has {count} members, at most {max} fit")]
    GroupTooLarge {
        group_id: u32,
        count: usize,
        max: usize,
    },
    #[error("maglev space exhausted: need {needed} blocks, {free} free (raise maglev_blocks)")]
    MaglevSpaceExhausted { needed: u32, free: u32 },
    #[error("member id {0} out of range (member_ids capacity)")]
    MemberIdOutOfRange(u32),
    #[error("group id {0} out of range (groups capacity)")]
    GroupIdOutOfRange(u32),
    #[error("test run: {0}")]
    TestRun(aya::programs::ProgramError),
    #[error("eBPF object has no program {0}")]
    ProgramMissing(&'static str),
    #[error("eBPF object has no map {0}")]
    MapMissing(&'static str),
    #[error("map {map} holds an invalid entry: {detail}")]
    MapEntryInvalid { map: &'static str, detail: String },
    #[error("tx port {ifindex}: {reason}")]
    TxPortInvalid { ifindex: u32, reason: String },
    #[error("pinned link {path}: {source}")]
    LinkIo {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("pinning link {path}: {source}")]
    LinkPin {
        path: PathBuf,
        source: aya::pin::PinError,
    },
    #[error("querying XDP state of {ifname}: {source}")]
    XdpQueryFailed {
        ifname: String,
        source: std::io::Error,
    },
    #[error("attaching tc {direction} program to {ifname}: {reason}")]
    TcAttachFailed {
        ifname: String,
        direction: &'static str,
        reason: String,
    },
    #[error("MGA flow {flow}: {reason}")]
    MgaFlowInvalid { flow: String, reason: &'static str },
    #[error("test run frame: {0}")]
    TestRunFrameInvalid(String),
    #[error("fixture route {0:?} is not an IPv6 address or prefix")]
    FixtureRouteInvalid(String),
    #[error("interface {ifname}: no Ethernet address ({source})")]
    InterfaceMacUnknown {
        ifname: String,
        source: std::io::Error,
    },
}

//! The exported replacements for libc's `connect`, `sendto`, `sendmsg`
//! and `sendmmsg`: thin FFI around [`steer`].
//!
//! Every hook first finds the real function (`dlsym(RTLD_NEXT)`, once),
//! then takes the fast path unless the destination is an IPv6 anycast
//! address: non-IPv6 or unmatched destinations reach the real call with no
//! allocation and no lock. On the slow path errno is saved and restored,
//! so the caller sees the real call's return value and errno only; the one
//! exception is `fallback = fail`, which returns -1 with EHOSTUNREACH
//! without calling through. A panic never crosses the FFI boundary: it is
//! caught and the call goes through unchanged.
//!
//! Known limits: a pointer the real call would refuse with EFAULT is read
//! here first (an IPv6 `sockaddr` or a `msghdr`), so such a buggy call
//! crashes instead; statically linked programs and programs that issue
//! system calls themselves (Go) are not intercepted.

use std::ffi::{c_int, c_uint, c_void, CStr};
use std::io::Write;
use std::mem::size_of;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::OnceLock;

use libc::{mmsghdr, msghdr, size_t, sockaddr, sockaddr_in6, socklen_t, ssize_t};

use crate::config::{env, Config};
use crate::decide::{self, Action, Call, Event, Skip};
use crate::dest::{self, peek_in6, SOCKADDR_IN6_LEN};
use crate::resolver::{inside_resolver, note_client_io, Resolver};

type ConnectFn = unsafe extern "C" fn(c_int, *const sockaddr, socklen_t) -> c_int;
type SendtoFn = unsafe extern "C" fn(
    c_int,
    *const c_void,
    size_t,
    c_int,
    *const sockaddr,
    socklen_t,
) -> ssize_t;
type SendmsgFn = unsafe extern "C" fn(c_int, *const msghdr, c_int) -> ssize_t;
type SendmmsgFn = unsafe extern "C" fn(c_int, *mut mmsghdr, c_uint, c_int) -> c_int;

/// Linux caps a sendmmsg(2) vector at UIO_MAXIOV entries and ignores the rest.
const SENDMMSG_MAX: usize = 1024;
const IPPROTO_MPTCP: c_int = 262;

struct Real {
    connect: Option<ConnectFn>,
    sendto: Option<SendtoFn>,
    sendmsg: Option<SendmsgFn>,
    sendmmsg: Option<SendmmsgFn>,
}

fn real() -> &'static Real {
    static REAL: OnceLock<Real> = OnceLock::new();
    REAL.get_or_init(|| Real {
        // SAFETY (each): the symbols are libc's, whose C prototypes these
        // function pointer types repeat exactly.
        connect: next_symbol(c"connect").map(|p| {
            #[allow(unsafe_code)]
            // SAFETY: see above.
            unsafe {
                std::mem::transmute::<*mut c_void, ConnectFn>(p)
            }
        }),
        sendto: next_symbol(c"sendto").map(|p| {
            #[allow(unsafe_code)]
            // SAFETY: see above.
            unsafe {
                std::mem::transmute::<*mut c_void, SendtoFn>(p)
            }
        }),
        sendmsg: next_symbol(c"sendmsg").map(|p| {
            #[allow(unsafe_code)]
            // SAFETY: see above.
            unsafe {
                std::mem::transmute::<*mut c_void, SendmsgFn>(p)
            }
        }),
        sendmmsg: next_symbol(c"sendmmsg").map(|p| {
            #[allow(unsafe_code)]
            // SAFETY: see above.
            unsafe {
                std::mem::transmute::<*mut c_void, SendmmsgFn>(p)
            }
        }),
    })
}

/// The next definition of `name` after this library (libc's).
fn next_symbol(name: &CStr) -> Option<*mut c_void> {
    #[allow(unsafe_code)]
    // SAFETY: `name` is NUL-terminated; RTLD_NEXT is a valid handle in a
    // shared object; dlsym is thread-safe.
    let p = unsafe { libc::dlsym(libc::RTLD_NEXT, name.as_ptr()) };
    (!p.is_null()).then_some(p)
}

struct State {
    cfg: Config,
    resolver: Resolver,
}

impl State {
    fn log(&self, event: Event<'_>) {
        if self.cfg.debug {
            write_stderr(&event);
        }
    }
}

/// The configuration and the AARP client, built on first use; `None` when
/// the configuration was refused (every call then passes through).
static STATE: OnceLock<Option<State>> = OnceLock::new();

fn state() -> Option<&'static State> {
    STATE
        .get_or_init(|| {
            let debug_env = std::env::var(env::DEBUG).is_ok_and(|v| !v.is_empty() && v != "0");
            // Our own copy of std: this hook only governs panics in here.
            std::panic::set_hook(Box::new(move |info| {
                if debug_env {
                    write_stderr(&format_args!("anycast6-aarp: panic: {info}"));
                }
            }));
            match Config::load(|name| std::env::var(name).ok()) {
                Ok(cfg) => Some(State {
                    resolver: Resolver::new(&cfg),
                    cfg,
                }),
                Err(e) => {
                    if debug_env {
                        write_stderr(&Event::ConfigRefused {
                            error: e.to_string(),
                        });
                    }
                    None
                }
            }
        })
        .as_ref()
}

fn write_stderr(line: &dyn std::fmt::Display) {
    // One write(2) per line so lines from threads do not interleave.
    let line = format!("{line}\n");
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}

/// What a hook does with one destination.
enum Steer {
    Pass,
    To(sockaddr_in6),
    Fail,
}

#[derive(PartialEq, Eq)]
enum SocketKind {
    Tcp,
    Udp,
    Other,
}

fn socket_kind(fd: c_int) -> Option<SocketKind> {
    let ty = getsockopt_int(fd, libc::SO_TYPE)?;
    let proto = getsockopt_int(fd, libc::SO_PROTOCOL)?;
    Some(match (ty, proto) {
        (libc::SOCK_STREAM, libc::IPPROTO_TCP | IPPROTO_MPTCP) => SocketKind::Tcp,
        (libc::SOCK_DGRAM, libc::IPPROTO_UDP | libc::IPPROTO_UDPLITE) => SocketKind::Udp,
        _ => SocketKind::Other,
    })
}

fn getsockopt_int(fd: c_int, opt: c_int) -> Option<c_int> {
    let mut v: c_int = 0;
    let mut len = size_of::<c_int>() as socklen_t;
    #[allow(unsafe_code)]
    // SAFETY: `v` and `len` are live locals of the sizes announced.
    let rc = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            opt,
            (&mut v as *mut c_int).cast(),
            &mut len,
        )
    };
    (rc == 0).then_some(v)
}

/// The slow path's fast exit: `Some` only for a configured anycast
/// destination. No allocation, no lock once the state exists.
fn anycast_state(sa: &sockaddr_in6) -> Option<&'static State> {
    if inside_resolver() {
        note_client_io();
        return None;
    }
    state().filter(|s| s.cfg.anycast.contains(dest::ip(sa)))
}

/// Decides for one anycast destination: resolve, or leave it alone.
/// `fastopen`: a send carrying MSG_FASTOPEN (TCP connect-and-send).
fn steer(call: Call, fd: c_int, sa: &sockaddr_in6, fastopen: bool, state: &State) -> Steer {
    let anycast = dest::ip(sa);
    let port = dest::port(sa);
    let skip = match socket_kind(fd) {
        // Not a socket, or closed: the real call reports it.
        None => return Steer::Pass,
        Some(SocketKind::Other) => Some(Skip::SocketType),
        Some(SocketKind::Udp) if port == state.resolver.port() => Some(Skip::AarpPort),
        Some(SocketKind::Tcp) if call != Call::Connect && !fastopen => Some(Skip::StreamSend),
        Some(_) => None,
    };
    if let Some(why) = skip {
        state.log(Event::Skipped {
            call,
            anycast,
            port,
            why,
        });
        return Steer::Pass;
    }
    let resolution = state.resolver.resolve(anycast);
    let action = decide::action(&resolution, state.cfg.fallback);
    state.log(Event::Decided {
        call,
        anycast,
        port,
        resolution: &resolution,
        action,
    });
    match action {
        Action::Rewrite(member) => Steer::To(dest::with_ip(sa, member)),
        Action::Direct => Steer::Pass,
        Action::Fail => Steer::Fail,
    }
}

/// Runs `f`, turning a panic into `fallback` (the call passes through).
fn guarded<T>(call: Call, fallback: T, f: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|_| {
        // Not `state()`: its initialisation may be what panicked.
        if let Some(Some(s)) = STATE.get() {
            s.log(Event::Panicked { call });
        }
        fallback
    })
}

fn errno() -> c_int {
    #[allow(unsafe_code)]
    // SAFETY: __errno_location returns this thread's errno, always valid.
    unsafe {
        *libc::__errno_location()
    }
}

fn set_errno(v: c_int) {
    #[allow(unsafe_code)]
    // SAFETY: as in `errno`.
    unsafe {
        *libc::__errno_location() = v;
    }
}

/// A connect error that says the member itself is gone (a non-blocking
/// connect's outcome arrives later and is not seen here).
fn member_failed(errno: c_int) -> bool {
    matches!(
        errno,
        libc::ECONNREFUSED | libc::EHOSTUNREACH | libc::ENETUNREACH | libc::ETIMEDOUT
    )
}

/// Drops the cached answer for `sa`'s anycast address; errno unchanged.
fn forget(sa: &sockaddr_in6) {
    let saved = errno();
    guarded(Call::Connect, (), || {
        if let Some(Some(s)) = STATE.get() {
            s.resolver.invalidate(dest::ip(sa));
        }
    });
    set_errno(saved);
}

fn missing() -> c_int {
    set_errno(libc::ENOSYS);
    -1
}

/// The steering decision for one possibly-anycast destination, or `None`
/// for the fast path. errno is as the caller left it afterwards.
fn decide_for(call: Call, fd: c_int, sa: &sockaddr_in6, fastopen: bool) -> Option<Steer> {
    let saved = errno();
    let steer = guarded(call, None, || {
        anycast_state(sa).map(|state| steer(call, fd, sa, fastopen, state))
    });
    set_errno(saved);
    steer
}

/// # Safety
/// The contract of connect(2).
#[no_mangle]
#[allow(unsafe_code)]
pub unsafe extern "C" fn connect(fd: c_int, addr: *const sockaddr, len: socklen_t) -> c_int {
    let Some(real_connect) = real().connect else {
        return missing();
    };
    // SAFETY: `addr`/`len` come from the caller under connect(2)'s contract.
    let Some(sa) = (unsafe { peek_in6(addr, len) }) else {
        // SAFETY: the caller's own arguments, unchanged.
        return unsafe { real_connect(fd, addr, len) };
    };
    match decide_for(Call::Connect, fd, &sa, false) {
        None | Some(Steer::Pass) => {
            // SAFETY: the caller's own arguments, unchanged.
            unsafe { real_connect(fd, addr, len) }
        }
        Some(Steer::To(member)) => {
            // SAFETY: `member` is a live sockaddr_in6 of the length passed.
            let rc = unsafe {
                real_connect(
                    fd,
                    (&member as *const sockaddr_in6).cast(),
                    SOCKADDR_IN6_LEN,
                )
            };
            if rc == -1 && member_failed(errno()) {
                forget(&sa);
            }
            rc
        }
        Some(Steer::Fail) => {
            set_errno(libc::EHOSTUNREACH);
            -1
        }
    }
}

/// # Safety
/// The contract of sendto(2).
#[no_mangle]
#[allow(unsafe_code)]
pub unsafe extern "C" fn sendto(
    fd: c_int,
    buf: *const c_void,
    n: size_t,
    flags: c_int,
    addr: *const sockaddr,
    len: socklen_t,
) -> ssize_t {
    let Some(real_sendto) = real().sendto else {
        return missing() as ssize_t;
    };
    let fastopen = flags & libc::MSG_FASTOPEN != 0;
    // SAFETY: `addr`/`len` come from the caller under sendto(2)'s contract.
    let steer =
        unsafe { peek_in6(addr, len) }.and_then(|sa| decide_for(Call::Sendto, fd, &sa, fastopen));
    match steer {
        None | Some(Steer::Pass) => {
            // SAFETY: the caller's own arguments, unchanged.
            unsafe { real_sendto(fd, buf, n, flags, addr, len) }
        }
        Some(Steer::To(member)) => {
            // SAFETY: the caller's buffer; `member` is a live sockaddr_in6.
            unsafe {
                real_sendto(
                    fd,
                    buf,
                    n,
                    flags,
                    (&member as *const sockaddr_in6).cast(),
                    SOCKADDR_IN6_LEN,
                )
            }
        }
        Some(Steer::Fail) => {
            set_errno(libc::EHOSTUNREACH);
            -1
        }
    }
}

/// # Safety
/// The contract of sendmsg(2).
#[no_mangle]
#[allow(unsafe_code)]
pub unsafe extern "C" fn sendmsg(fd: c_int, msg: *const msghdr, flags: c_int) -> ssize_t {
    let Some(real_sendmsg) = real().sendmsg else {
        return missing() as ssize_t;
    };
    if msg.is_null() {
        // SAFETY: the caller's own arguments; the kernel reports EFAULT.
        return unsafe { real_sendmsg(fd, msg, flags) };
    }
    // SAFETY: non-null, and sendmsg(2)'s contract makes it a readable msghdr.
    let hdr = unsafe { std::ptr::read(msg) };
    let fastopen = flags & libc::MSG_FASTOPEN != 0;
    // SAFETY: msg_name/msg_namelen describe the caller's address buffer.
    let steer = unsafe { peek_in6(hdr.msg_name.cast_const().cast(), hdr.msg_namelen) }
        .and_then(|sa| decide_for(Call::Sendmsg, fd, &sa, fastopen));
    match steer {
        None | Some(Steer::Pass) => {
            // SAFETY: the caller's own arguments, unchanged.
            unsafe { real_sendmsg(fd, msg, flags) }
        }
        Some(Steer::To(member)) => {
            let mut copy = hdr;
            copy.msg_name = (&member as *const sockaddr_in6).cast_mut().cast();
            copy.msg_namelen = SOCKADDR_IN6_LEN;
            // SAFETY: `copy` is the caller's msghdr (same iovecs and
            // control data) naming `member`, which outlives the call.
            unsafe { real_sendmsg(fd, &copy, flags) }
        }
        Some(Steer::Fail) => {
            set_errno(libc::EHOSTUNREACH);
            -1
        }
    }
}

/// # Safety
/// The contract of sendmmsg(2).
#[no_mangle]
#[allow(unsafe_code)]
pub unsafe extern "C" fn sendmmsg(
    fd: c_int,
    vec: *mut mmsghdr,
    vlen: c_uint,
    flags: c_int,
) -> c_int {
    let Some(real_sendmmsg) = real().sendmmsg else {
        return missing();
    };
    let n = (vlen as usize).min(SENDMMSG_MAX);
    if vec.is_null() || n == 0 || inside_resolver() {
        // SAFETY: the caller's own arguments, unchanged.
        return unsafe { real_sendmmsg(fd, vec, vlen, flags) };
    }
    // SAFETY: sendmmsg(2)'s contract: `vlen` readable entries (the kernel
    // reads at most SENDMMSG_MAX of them, and so do we).
    let entries = unsafe { std::slice::from_raw_parts(vec.cast_const(), n) };
    let fastopen = flags & libc::MSG_FASTOPEN != 0;
    let peek = |e: &mmsghdr| {
        // SAFETY: each entry's msg_name/msg_namelen describe a caller buffer.
        unsafe {
            peek_in6(
                e.msg_hdr.msg_name.cast_const().cast(),
                e.msg_hdr.msg_namelen,
            )
        }
    };
    let any_anycast = guarded(Call::Sendmmsg, false, || {
        entries
            .iter()
            .filter_map(peek)
            .any(|sa| anycast_state(&sa).is_some())
    });
    if !any_anycast {
        // SAFETY: the caller's own arguments, unchanged.
        return unsafe { real_sendmmsg(fd, vec, vlen, flags) };
    }

    // Slow path: a private copy of the vector naming members.
    let mut copy: Vec<mmsghdr> = entries.to_vec();
    let mut rewrites: Vec<(usize, sockaddr_in6)> = Vec::new();
    let mut count = n;
    for (i, entry) in entries.iter().enumerate() {
        let Some(sa) = peek(entry) else { continue };
        match decide_for(Call::Sendmmsg, fd, &sa, fastopen) {
            None | Some(Steer::Pass) => {}
            Some(Steer::To(member)) => rewrites.push((i, member)),
            Some(Steer::Fail) => {
                // Send what precedes it, as sendmmsg(2) does on an error.
                count = i;
                break;
            }
        }
    }
    for (i, member) in &rewrites {
        let hdr = &mut copy[*i].msg_hdr;
        hdr.msg_name = (member as *const sockaddr_in6).cast_mut().cast();
        hdr.msg_namelen = SOCKADDR_IN6_LEN;
    }
    if count == 0 {
        set_errno(libc::EHOSTUNREACH);
        return -1;
    }
    // SAFETY: `copy` holds `count` valid entries whose names point into
    // `rewrites` (not touched again) or the caller's buffers, all alive
    // across the call.
    let sent = unsafe { real_sendmmsg(fd, copy.as_mut_ptr(), count as c_uint, flags) };
    for (i, entry) in copy.iter().enumerate().take(sent.max(0) as usize) {
        // SAFETY: `i` < count <= vlen: the caller's entry, writable by
        // sendmmsg(2)'s contract (the kernel writes msg_len there).
        unsafe { (*vec.add(i)).msg_len = entry.msg_len };
    }
    sent
}

//! What a worker's OS thread is doing in the kernel, in words a person can
//! act on: the system call it is blocked in and the descriptor it waits on.
//!
//! Linux shows a thread's current system call in
//! `/proc/self/task/<tid>/syscall`: the call's number and its six
//! arguments in hex, `running` if the thread is on a CPU, or `-1 ...` if it
//! sleeps outside a call. For calls whose first argument is a descriptor
//! the descriptor is described: `/proc/self/fd/<fd>` says whether it is a
//! socket, a pipe or a file (with its path), and a socket's addresses come
//! from `getsockname`/`getpeername` on a duplicate of it (through
//! `socket2`), so a descriptor closed meanwhile cannot be touched: at worst
//! a reused number is described as what it now is.

use std::os::fd::{FromRawFd, OwnedFd};

/// What the OS thread is doing, as far as the kernel says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Activity {
    /// On a CPU, or runnable: running code.
    Running,
    /// Blocked in system call `nr` with these arguments.
    Syscall { nr: libc::c_long, args: [u64; 6] },
    /// Asleep but not in a system call (a page fault, a stop).
    Sleeping,
    /// `/proc` could not be read.
    Unknown,
}

/// Reads what thread `tid` of this process is doing.
pub fn activity(tid: libc::pid_t) -> Activity {
    match std::fs::read_to_string(format!("/proc/self/task/{tid}/syscall")) {
        Ok(text) => parse_activity(&text),
        Err(_) => Activity::Unknown,
    }
}

fn parse_activity(text: &str) -> Activity {
    let mut words = text.split_whitespace();
    let Some(first) = words.next() else { return Activity::Unknown };
    if first == "running" {
        return Activity::Running;
    }
    let Ok(nr) = first.parse::<libc::c_long>() else { return Activity::Unknown };
    if nr < 0 {
        return Activity::Sleeping;
    }
    let mut args = [0u64; 6];
    for arg in &mut args {
        *arg = words.next().and_then(|w| u64::from_str_radix(w.trim_start_matches("0x"), 16).ok()).unwrap_or(0);
    }
    Activity::Syscall { nr, args }
}

/// How a system call's arguments name what it waits on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Waits {
    /// The first argument is a descriptor.
    OnFd,
    /// A futex: a lock, condition variable or thread join.
    OnFutex,
    /// Time passing.
    OnTime,
    /// Something else (children, signals, several descriptors).
    Other,
}

/// The name of system call `nr` and what it waits on, for the calls a
/// blocked worker is likely to be in.
pub fn syscall_name(nr: libc::c_long) -> Option<(&'static str, Waits)> {
    use Waits::*;
    #[rustfmt::skip]
    let common: &[(libc::c_long, &str, Waits)] = &[
        (libc::SYS_read, "read", OnFd), (libc::SYS_write, "write", OnFd),
        (libc::SYS_readv, "readv", OnFd), (libc::SYS_writev, "writev", OnFd),
        (libc::SYS_pread64, "pread64", OnFd), (libc::SYS_pwrite64, "pwrite64", OnFd),
        (libc::SYS_recvfrom, "recvfrom", OnFd), (libc::SYS_sendto, "sendto", OnFd),
        (libc::SYS_recvmsg, "recvmsg", OnFd), (libc::SYS_sendmsg, "sendmsg", OnFd),
        (libc::SYS_recvmmsg, "recvmmsg", OnFd), (libc::SYS_sendmmsg, "sendmmsg", OnFd),
        (libc::SYS_accept, "accept", OnFd), (libc::SYS_accept4, "accept4", OnFd),
        (libc::SYS_connect, "connect", OnFd), (libc::SYS_flock, "flock", OnFd),
        (libc::SYS_fcntl, "fcntl", OnFd), (libc::SYS_fsync, "fsync", OnFd),
        (libc::SYS_fdatasync, "fdatasync", OnFd), (libc::SYS_ioctl, "ioctl", OnFd),
        (libc::SYS_openat, "openat", Other), (libc::SYS_splice, "splice", OnFd),
        (libc::SYS_io_uring_enter, "io_uring_enter", OnFd),
        (libc::SYS_epoll_pwait, "epoll_pwait", OnFd), (libc::SYS_epoll_pwait2, "epoll_pwait2", OnFd),
        (libc::SYS_ppoll, "ppoll", Other), (libc::SYS_pselect6, "pselect6", Other),
        (libc::SYS_nanosleep, "nanosleep", OnTime), (libc::SYS_clock_nanosleep, "clock_nanosleep", OnTime),
        (libc::SYS_futex, "futex", OnFutex), (libc::SYS_wait4, "wait4", Other),
        (libc::SYS_waitid, "waitid", Other), (libc::SYS_rt_sigtimedwait, "rt_sigtimedwait", Other),
        (libc::SYS_rt_sigsuspend, "rt_sigsuspend", Other), (libc::SYS_msgrcv, "msgrcv", Other),
        (libc::SYS_semtimedop, "semtimedop", Other),
    ];
    #[cfg(target_arch = "x86_64")]
    #[rustfmt::skip]
    let legacy: &[(libc::c_long, &str, Waits)] = &[
        (libc::SYS_poll, "poll", Other), (libc::SYS_select, "select", Other),
        (libc::SYS_epoll_wait, "epoll_wait", OnFd), (libc::SYS_pause, "pause", Other),
        (libc::SYS_open, "open", Other), (libc::SYS_sendfile, "sendfile", OnFd),
        (libc::SYS_semop, "semop", Other),
    ];
    #[cfg(not(target_arch = "x86_64"))]
    let legacy: &[(libc::c_long, &str, Waits)] = &[];
    common.iter().chain(legacy).find(|(n, _, _)| *n == nr).map(|&(_, name, waits)| (name, waits))
}

/// What kind of thing a descriptor is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FdKind {
    /// A TCP, UDP or Unix socket: "TCP socket 127.0.0.1:40312 -> 127.0.0.1:8080".
    Socket(String),
    /// A pipe or FIFO.
    Pipe,
    /// A regular file, device or directory, by path.
    Path(String),
    /// Anything else `/proc` names (`anon_inode:[eventfd]`, ...).
    Other(String),
    /// Not open (any more).
    Closed,
}

impl std::fmt::Display for FdKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FdKind::Socket(text) => f.write_str(text),
            FdKind::Pipe => f.write_str("a pipe"),
            FdKind::Path(path) => write!(f, "file {path}"),
            FdKind::Other(what) => f.write_str(what),
            FdKind::Closed => f.write_str("a descriptor closed since"),
        }
    }
}

/// Describes descriptor `fd` of this process.
pub fn describe_fd(fd: i32) -> FdKind {
    let Ok(target) = std::fs::read_link(format!("/proc/self/fd/{fd}")) else { return FdKind::Closed };
    let target = target.to_string_lossy().into_owned();
    if target.starts_with("socket:") {
        return FdKind::Socket(describe_socket(fd).unwrap_or_else(|| "a socket".into()));
    }
    if target.starts_with("pipe:") {
        return FdKind::Pipe;
    }
    if target.starts_with('/') {
        return FdKind::Path(target);
    }
    FdKind::Other(target)
}

/// "TCP socket 127.0.0.1:40312 -> 127.0.0.1:8080", "Unix stream socket
/// /tmp/s.sock", ...; `None` if `fd` is not a socket now.
pub fn describe_socket(fd: i32) -> Option<String> {
    let own = duplicate(fd)?;
    let sock = socket2::SockRef::from(&own);
    let local = sock.local_addr().ok()?;
    let peer = sock.peer_addr().ok();
    let stream = sock.r#type().ok() == Some(socket2::Type::STREAM);
    let (kind, local_text, peer_text) = if local.is_unix() {
        let kind = if stream { "Unix stream socket" } else { "Unix datagram socket" };
        (kind, unix_addr(&local), peer.as_ref().map(unix_addr))
    } else {
        let kind = if stream { "TCP socket" } else { "UDP socket" };
        let text = |a: &socket2::SockAddr| a.as_socket().map_or_else(|| "?".into(), |a| a.to_string());
        (kind, text(&local), peer.as_ref().map(text))
    };
    Some(match peer_text {
        Some(peer) => format!("{kind} {local_text} -> {peer}"),
        None => format!("{kind} {local_text} (not connected)"),
    })
}

/// The local address of socket `fd`, if it is an IP socket.
pub fn socket_local_addr(fd: i32) -> Option<std::net::SocketAddr> {
    let own = duplicate(fd)?;
    socket2::SockRef::from(&own).local_addr().ok()?.as_socket()
}

fn unix_addr(addr: &socket2::SockAddr) -> String {
    if let Some(path) = addr.as_pathname() {
        path.display().to_string()
    } else if let Some(name) = addr.as_abstract_namespace() {
        format!("@{}", String::from_utf8_lossy(name))
    } else {
        "(unnamed)".into()
    }
}

/// A descriptor of our own for the file `fd` names now.
fn duplicate(fd: i32) -> Option<OwnedFd> {
    // SAFETY: F_DUPFD_CLOEXEC only reads the descriptor table; on a number
    // not open it fails with EBADF.
    let own = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 0) };
    // SAFETY: a new descriptor, which nothing else owns.
    (own >= 0).then(|| unsafe { OwnedFd::from_raw_fd(own) })
}

/// Whether thread `tid` is blocked in the kernel (state `S` or `D` in
/// `/proc/self/task/<tid>/stat`) rather than running or runnable.
pub fn blocked_in_kernel(tid: libc::pid_t) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/self/task/{tid}/stat")) else { return false };
    // The state follows the command name, which is in parentheses.
    let state = stat.rsplit_once(')').and_then(|(_, rest)| rest.trim_start().chars().next());
    matches!(state, Some('S') | Some('D'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syscall_lines_are_parsed() {
        assert_eq!(parse_activity("running\n"), Activity::Running);
        assert_eq!(parse_activity("-1 0x7ffd 0x7f00\n"), Activity::Sleeping);
        let nr = libc::SYS_recvfrom;
        assert_eq!(
            parse_activity(&format!("{nr} 0x9 0x7f0000 0x400 0x0 0x0 0x0 0x7ffd 0x7f00\n")),
            Activity::Syscall { nr, args: [9, 0x7f0000, 0x400, 0, 0, 0] }
        );
        assert_eq!(syscall_name(nr), Some(("recvfrom", Waits::OnFd)));
        assert_eq!(syscall_name(libc::SYS_futex).map(|(n, _)| n), Some("futex"));
    }

    #[test]
    fn a_connected_socket_is_described_with_both_addresses() {
        use std::os::fd::AsRawFd;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let text = describe_fd(client.as_raw_fd()).to_string();
        let want = format!("TCP socket {} -> {}", client.local_addr().unwrap(), listener.local_addr().unwrap());
        assert_eq!(text, want);
        let path = std::env::temp_dir().join(format!("myriad-kernel-test-{}.sock", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let unix_listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
        let unix_client = std::os::unix::net::UnixStream::connect(&path).unwrap();
        let text = describe_fd(unix_client.as_raw_fd()).to_string();
        assert_eq!(text, format!("Unix stream socket (unnamed) -> {}", path.display()));
        drop((unix_client, unix_listener));
        let _ = std::fs::remove_file(&path);
        let file = std::fs::File::open("/proc/self/stat").unwrap();
        assert!(matches!(describe_fd(file.as_raw_fd()), FdKind::Path(p) if p.ends_with("/stat")));
        let mut fds = [0; 2];
        // SAFETY: (test) pipe writes two new descriptors into the array.
        assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
        assert_eq!(describe_fd(fds[0]), FdKind::Pipe);
        // SAFETY: (test) both are ours, and closed once.
        unsafe { drop((OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1]))) };
    }
}

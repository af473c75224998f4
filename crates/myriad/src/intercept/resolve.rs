//! Intercepted `getaddrinfo`: name resolution reads files and talks to DNS
//! servers with no way to make it non-blocking, so on a myriad thread it
//! runs on the offload pool (`myriad::blocking`) while the thread parks.
//! The real function is libc's, found with `dlsym(RTLD_NEXT)` — it is not
//! a system call.

use std::ffi::{c_char, c_int};
use std::sync::atomic::{AtomicUsize, Ordering};

use libc::addrinfo;

use super::parks_here;

type GetAddrInfo = unsafe extern "C" fn(*const c_char, *const c_char, *const addrinfo, *mut *mut addrinfo) -> c_int;

/// libc's `getaddrinfo`, looked up once.
fn real() -> Option<GetAddrInfo> {
    static REAL: AtomicUsize = AtomicUsize::new(0);
    let mut address = REAL.load(Ordering::Acquire);
    if address == 0 {
        // SAFETY: a NUL-terminated name; RTLD_NEXT finds the definition
        // after this object's, which is libc's.
        address = unsafe { libc::dlsym(libc::RTLD_NEXT, c"getaddrinfo".as_ptr()) } as usize;
        REAL.store(address, Ordering::Release);
    }
    // SAFETY: a non-null result of that lookup is libc's `getaddrinfo`,
    // whose signature `GetAddrInfo` is.
    (address != 0).then(|| unsafe { std::mem::transmute::<usize, GetAddrInfo>(address) })
}

/// The caller's arguments, sent to a pool thread; the caller waits.
struct Arguments {
    node: *const c_char,
    service: *const c_char,
    hints: *const addrinfo,
    res: *mut *mut addrinfo,
}

// SAFETY: the pointers are only used by the pool thread while the caller
// is parked in `blocking`, which returns only after the call is done.
unsafe impl Send for Arguments {}

impl Arguments {
    /// Makes the call (a method, so that a closure captures the whole
    /// `Send` struct, not its pointer fields one by one).
    ///
    /// # Safety
    ///
    /// libc's contract for the arguments, which outlive the call.
    unsafe fn call(self, real: GetAddrInfo) -> c_int {
        // SAFETY: forwarded.
        unsafe { real(self.node, self.service, self.hints, self.res) }
    }
}

/// `getaddrinfo(3)`.
///
/// # Safety
///
/// libc's contract.
#[no_mangle]
pub unsafe extern "C" fn getaddrinfo(
    node: *const c_char,
    service: *const c_char,
    hints: *const addrinfo,
    res: *mut *mut addrinfo,
) -> c_int {
    let Some(real) = real() else { return libc::EAI_SYSTEM };
    if !parks_here() {
        // SAFETY: forwarded.
        return unsafe { real(node, service, hints, res) };
    }
    let arguments = Arguments { node, service, hints, res };
    // SAFETY: forwarded; the caller waits for this call (see above).
    crate::blocking(move || unsafe { arguments.call(real) })
}

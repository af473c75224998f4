/* A C function that blocks the way C libraries do: poll(2) for a
 * descriptor, then recv(2). Built by build.rs; called from myriad threads
 * in tests/c_library.rs, where both calls must park only the calling
 * myriad thread (the myriad crate's `intercept` feature). */
#include <poll.h>
#include <sys/socket.h>
#include <sys/types.h>

/* Returns what recv returned, or -2 if poll timed out. */
ssize_t interop_wait_and_recv(int fd, unsigned char *buf, size_t len, int timeout_ms) {
    struct pollfd p = { .fd = fd, .events = POLLIN, .revents = 0 };
    int ready = poll(&p, 1, timeout_ms);
    if (ready == 0) {
        return -2;
    }
    if (ready < 0) {
        return -1;
    }
    return recv(fd, buf, len, 0);
}

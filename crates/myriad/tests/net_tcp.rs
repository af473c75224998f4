//! TCP behaviour of `myriad::net` on loopback: interoperation with std on
//! both ends, timeouts, half-close, resets, shutdown of clones, name
//! resolution, conversions. Timing is only ever checked as a lower bound.

use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::time::{Duration, Instant};

use myriad::net::{SocketAddr, TcpListener, TcpStream};

/// Deterministic bytes for connection `id`, and a checksum to compare.
fn payload(id: usize, len: usize) -> Vec<u8> {
    let mut x = (id as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

fn echo_until_eof(mut stream: impl Read + Write) -> io::Result<usize> {
    let mut buf = [0; 4096];
    let mut total = 0;
    loop {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            return Ok(total);
        }
        stream.write_all(&buf[..n])?;
        total += n;
    }
}

#[test]
fn myriad_server_serves_std_clients() {
    const CLIENTS: usize = 16;
    const LEN: usize = 256 * 1024;
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = myriad::thread::spawn(move || {
        let handlers: Vec<_> = (0..CLIENTS)
            .map(|_| {
                let (stream, _) = listener.accept().unwrap();
                myriad::thread::spawn(move || echo_until_eof(stream).unwrap())
            })
            .collect();
        handlers.into_iter().map(|h| h.join().unwrap()).sum::<usize>()
    });
    let clients: Vec<_> = (0..CLIENTS)
        .map(|id| {
            std::thread::spawn(move || {
                let data = payload(id, LEN);
                let stream = std::net::TcpStream::connect(addr).unwrap();
                let mut reader = stream.try_clone().unwrap();
                let writer = std::thread::spawn({
                    let data = data.clone();
                    let mut stream = stream;
                    move || {
                        stream.write_all(&data).unwrap();
                        stream.shutdown(Shutdown::Write).unwrap();
                    }
                });
                let mut back = Vec::new();
                reader.read_to_end(&mut back).unwrap();
                writer.join().unwrap();
                assert!(back == data, "client {id}: echo differs");
            })
        })
        .collect();
    for c in clients {
        c.join().unwrap();
    }
    assert_eq!(server.join().unwrap(), CLIENTS * LEN);
}

#[test]
fn myriad_clients_talk_to_a_std_server() {
    const CLIENTS: usize = 32;
    const LEN: usize = 64 * 1024;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = std::thread::spawn(move || {
        let handlers: Vec<_> = (0..CLIENTS)
            .map(|_| {
                let (stream, _) = listener.accept().unwrap();
                std::thread::spawn(move || echo_until_eof(stream).unwrap())
            })
            .collect();
        handlers.into_iter().map(|h| h.join().unwrap()).sum::<usize>()
    });
    let clients: Vec<_> = (0..CLIENTS)
        .map(|id| {
            myriad::thread::spawn(move || {
                let data = payload(id, LEN);
                let stream = TcpStream::connect(addr).unwrap();
                let reader = stream.try_clone().unwrap();
                let writer = myriad::thread::spawn({
                    let data = data.clone();
                    move || {
                        (&stream).write_all(&data).unwrap();
                        stream.shutdown(Shutdown::Write).unwrap();
                    }
                });
                let mut back = Vec::new();
                (&reader).read_to_end(&mut back).unwrap();
                writer.join().unwrap();
                assert!(back == data, "client {id}: echo differs");
            })
        })
        .collect();
    for c in clients {
        c.join().unwrap();
    }
    assert_eq!(server.join().unwrap(), CLIENTS * LEN);
}

#[test]
fn vectored_io_and_peek() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut a = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (mut b, _) = listener.accept().unwrap();
    let n = a.write_vectored(&[io::IoSlice::new(b"hello "), io::IoSlice::new(b"world")]).unwrap();
    assert_eq!(n, 11);
    let reader = myriad::thread::spawn(move || {
        let mut got = Vec::new();
        let mut peeked = [0; 5];
        let k = b.peek(&mut peeked).unwrap();
        assert!(k > 0 && peeked[..k] == b"hello"[..k]);
        while got.len() < 11 {
            let (mut x, mut y) = ([0; 6], [0; 5]);
            let n = b.read_vectored(&mut [io::IoSliceMut::new(&mut x), io::IoSliceMut::new(&mut y)]).unwrap();
            got.extend_from_slice(&[&x[..], &y[..]].concat()[..n]);
        }
        got
    });
    assert_eq!(reader.join().unwrap(), b"hello world");
}

#[test]
fn read_timeout_fails_with_would_block_after_the_timeout() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let check = move || {
        let mut stream = TcpStream::connect(addr).unwrap();
        stream.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
        assert_eq!(stream.read_timeout().unwrap(), Some(Duration::from_millis(50)));
        let start = Instant::now();
        let err = stream.read(&mut [0; 16]).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::WouldBlock);
        assert!(start.elapsed() >= Duration::from_millis(50));
        assert_eq!(stream.set_read_timeout(Some(Duration::ZERO)).unwrap_err().kind(), io::ErrorKind::InvalidInput);
    };
    myriad::thread::spawn(check).join().unwrap();
    check(); // and from an OS thread
    drop(listener);
}

#[test]
fn write_timeout_fails_with_would_block_when_the_peer_does_not_read() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let writer = myriad::thread::spawn(move || {
        let stream = TcpStream::connect(addr).unwrap();
        socket2::SockRef::from(&stream).set_send_buffer_size(4096).unwrap();
        stream.set_write_timeout(Some(Duration::from_millis(50))).unwrap();
        let chunk = [7u8; 64 * 1024];
        let mut written = 0usize;
        loop {
            let start = Instant::now();
            match (&stream).write(&chunk) {
                Ok(n) => written += n,
                Err(e) => {
                    assert_eq!(e.kind(), io::ErrorKind::WouldBlock);
                    assert!(start.elapsed() >= Duration::from_millis(50));
                    return (written, stream);
                }
            }
            assert!(written < 256 << 20, "the kernel kept accepting data");
        }
    });
    let (peer, _) = listener.accept().unwrap();
    socket2::SockRef::from(&peer).set_recv_buffer_size(4096).unwrap();
    let (written, _stream) = writer.join().unwrap();
    assert!(written > 0);
}

#[test]
fn connect_timeout_times_out_against_a_full_backlog() {
    // A listener with backlog 0 holds one unaccepted connection; Linux then
    // drops further SYNs, so those connects hang until their timeout.
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket.bind(&SocketAddr::from(([127, 0, 0, 1], 0)).into()).unwrap();
    socket.listen(0).unwrap();
    let addr = socket.local_addr().unwrap().as_socket().unwrap();
    let mut held = Vec::new();
    let mut full = false;
    for _ in 0..16 {
        match std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
            Ok(s) => held.push(s),
            Err(e) if e.kind() == io::ErrorKind::TimedOut || e.kind() == io::ErrorKind::WouldBlock => {
                full = true;
                break;
            }
            Err(e) => panic!("unexpected connect error {e}"),
        }
    }
    assert!(full, "the backlog never filled");
    let attempt = move || {
        let start = Instant::now();
        let err = TcpStream::connect_timeout(&addr, Duration::from_millis(100)).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut, "{err}");
        assert!(start.elapsed() >= Duration::from_millis(100));
    };
    myriad::thread::spawn(attempt).join().unwrap();
    attempt();
    assert_eq!(TcpStream::connect_timeout(&addr, Duration::ZERO).unwrap_err().kind(), io::ErrorKind::InvalidInput);
    drop((held, socket));
}

#[test]
fn connect_to_a_closed_port_is_refused() {
    let addr = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let err = myriad::thread::spawn(move || TcpStream::connect(addr).unwrap_err()).join().unwrap();
    assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused);
}

#[test]
fn half_close_lets_the_peer_read_eof_and_still_write_back() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = myriad::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut got = Vec::new();
        s.read_to_end(&mut got).unwrap(); // EOF after the client's shutdown
        s.write_all(format!("got {} bytes", got.len()).as_bytes()).unwrap();
    });
    let client = myriad::thread::spawn(move || {
        let mut c = TcpStream::connect(addr).unwrap();
        c.write_all(&[1; 1000]).unwrap();
        c.shutdown(Shutdown::Write).unwrap();
        let mut reply = String::new();
        c.read_to_string(&mut reply).unwrap();
        reply
    });
    server.join().unwrap();
    assert_eq!(client.join().unwrap(), "got 1000 bytes");
}

#[test]
fn a_reset_peer_gives_connection_reset() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (server, _) = listener.accept().unwrap();
    let reader = myriad::thread::spawn(move || {
        let mut server = server;
        server.read(&mut [0; 16])
    });
    myriad::thread::sleep(Duration::from_millis(10)); // let it block (not required)
    client.set_linger(Some(Duration::ZERO)).unwrap();
    drop(client);
    let err = reader.join().unwrap().unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::ConnectionReset);
}

#[test]
fn shutdown_wakes_a_reader_blocked_on_a_clone() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let _peer = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (stream, _) = listener.accept().unwrap();
    let reader = stream.try_clone().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let blocked = myriad::thread::spawn(move || {
        tx.send(()).unwrap();
        (&reader).read(&mut [0; 16])
    });
    rx.recv().unwrap();
    myriad::thread::sleep(Duration::from_millis(20)); // most likely parked by now
    stream.shutdown(Shutdown::Both).unwrap();
    assert_eq!(blocked.join().unwrap().unwrap(), 0, "EOF after shutdown");

    // The same for a reader on a plain OS thread.
    let _peer = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (stream, _) = listener.accept().unwrap();
    let reader = stream.try_clone().unwrap();
    let blocked = std::thread::spawn(move || (&reader).read(&mut [0; 16]));
    std::thread::sleep(Duration::from_millis(20));
    stream.shutdown(Shutdown::Read).unwrap();
    assert_eq!(blocked.join().unwrap().unwrap(), 0);
}

#[test]
fn dropping_a_writer_clone_keeps_the_reader_working() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut peer = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (stream, _) = listener.accept().unwrap();
    let mut writer = stream.try_clone().unwrap();
    let reader = myriad::thread::spawn(move || {
        let mut stream = stream;
        let mut buf = [0; 5];
        stream.read_exact(&mut buf).map(|()| buf)
    });
    writer.write_all(b"ping").unwrap();
    drop(writer);
    myriad::thread::sleep(Duration::from_millis(20));
    let mut got = [0; 4];
    peer.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"ping");
    peer.write_all(b"still").unwrap();
    assert_eq!(&reader.join().unwrap().unwrap(), b"still");
}

#[test]
fn localhost_resolves_from_a_myriad_thread() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let h = myriad::thread::spawn(move || {
        let a = TcpStream::connect(("localhost", port)).unwrap();
        let b = TcpStream::connect(format!("localhost:{port}")).unwrap();
        let l = TcpListener::bind("localhost:0").unwrap();
        (a.peer_addr().unwrap(), b.peer_addr().unwrap(), l.local_addr().unwrap())
    });
    let (a, b, l) = h.join().unwrap();
    assert_eq!(a, SocketAddr::from(([127, 0, 0, 1], port)));
    assert_eq!(b, a);
    assert!(l.ip().is_loopback());
    // Other threads keep running while one resolves.
    let slow = myriad::thread::spawn(|| myriad::net::UdpSocket::bind("localhost:0").unwrap().local_addr().unwrap());
    let quick = myriad::thread::spawn(|| 42);
    assert_eq!(quick.join().unwrap(), 42);
    assert!(slow.join().unwrap().ip().is_loopback());
}

#[test]
fn conversions_to_and_from_std() {
    let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = std_listener.local_addr().unwrap();
    let listener = TcpListener::from(std_listener);
    let accepted = myriad::thread::spawn(move || listener.accept().map(|(s, _)| s));
    let client = TcpStream::connect(addr).unwrap();
    let server = accepted.join().unwrap().unwrap();
    // Back to std: blocking again, with the timeout carried into the socket.
    server.set_read_timeout(Some(Duration::from_millis(30))).unwrap();
    let mut std_server = std::net::TcpStream::from(server);
    // (The kernel rounds SO_RCVTIMEO to its clock tick.)
    assert!(std_server.read_timeout().unwrap().unwrap() >= Duration::from_millis(30));
    let start = Instant::now();
    let err = std_server.read(&mut [0; 4]).unwrap_err();
    assert!(matches!(err.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut));
    assert!(start.elapsed() >= Duration::from_millis(30));
    (&client).write_all(b"std!").unwrap();
    std_server.set_read_timeout(None).unwrap();
    let mut buf = [0; 4];
    std_server.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"std!");
    // Through OwnedFd and raw descriptors.
    let fd: std::os::fd::OwnedFd = client.into();
    let client = TcpStream::from(fd);
    use std::os::fd::{FromRawFd, IntoRawFd};
    // SAFETY: the descriptor was just released by `into_raw_fd`.
    let client = unsafe { TcpStream::from_raw_fd(client.into_raw_fd()) };
    assert_eq!(client.peer_addr().unwrap(), addr);
}

#[test]
fn nonblocking_mode_and_options() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    assert_eq!(listener.accept().unwrap_err().kind(), io::ErrorKind::WouldBlock);
    listener.set_nonblocking(false).unwrap();
    let stream = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    stream.set_nodelay(true).unwrap();
    assert!(stream.nodelay().unwrap());
    stream.set_ttl(33).unwrap();
    assert_eq!(stream.ttl().unwrap(), 33);
    assert!(stream.take_error().unwrap().is_none());
    let clone = stream.try_clone().unwrap();
    assert_eq!(clone.local_addr().unwrap(), stream.local_addr().unwrap());
    assert!(format!("{stream:?}").contains("TcpStream"));
    let incoming = listener.incoming().next().unwrap().unwrap();
    assert_eq!(incoming.peer_addr().unwrap(), stream.local_addr().unwrap());
}

#[test]
fn ipv6_loopback() {
    let Ok(listener) = TcpListener::bind("[::1]:0") else {
        eprintln!("no IPv6 loopback here; skipped");
        return;
    };
    let addr = listener.local_addr().unwrap();
    let h = myriad::thread::spawn(move || {
        let mut s = TcpStream::connect(addr).unwrap();
        s.write_all(b"v6").unwrap();
    });
    let (mut s, peer) = listener.accept().unwrap();
    assert!(peer.is_ipv6());
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).unwrap();
    assert_eq!(buf, b"v6");
    h.join().unwrap();
}

#[test]
fn several_threads_accepting_on_one_listener_all_get_connections() {
    // Each waits on the same socket in the same direction: an event must
    // wake every waiter, not just the last to register.
    let listener = myriad::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let acceptors: Vec<_> = (0..4)
        .map(|_| {
            let listener = listener.try_clone().unwrap();
            myriad::thread::spawn(move || listener.accept().map(|(s, _)| s.peer_addr().is_ok()))
        })
        .collect();
    // Let all four park in accept before anyone connects.
    std::thread::sleep(std::time::Duration::from_millis(100));
    let clients: Vec<_> = (0..4).map(|_| std::net::TcpStream::connect(addr).unwrap()).collect();
    for a in acceptors {
        assert!(a.join().unwrap().unwrap());
    }
    drop(clients);
}

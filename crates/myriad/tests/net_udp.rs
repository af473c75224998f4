//! UDP round trips on loopback, from myriad threads and OS threads.

use std::io;
use std::time::{Duration, Instant};

use myriad::net::UdpSocket;

#[test]
fn round_trips_between_myriad_threads() {
    let server = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = server.local_addr().unwrap();
    let echo = myriad::thread::spawn(move || {
        let mut buf = [0; 1500];
        for _ in 0..100 {
            let (n, from) = server.recv_from(&mut buf).unwrap();
            server.send_to(&buf[..n], from).unwrap();
        }
    });
    let client = myriad::thread::spawn(move || {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        socket.connect(addr).unwrap();
        let mut buf = [0; 1500];
        for i in 0..100u32 {
            let msg = i.to_le_bytes();
            socket.send(&msg).unwrap();
            let n = socket.recv(&mut buf).unwrap();
            assert_eq!(&buf[..n], &msg);
        }
    });
    client.join().unwrap();
    echo.join().unwrap();
}

#[test]
fn round_trips_from_an_os_thread() {
    let a = UdpSocket::bind("127.0.0.1:0").unwrap();
    let b = UdpSocket::bind("127.0.0.1:0").unwrap();
    let b_addr = b.local_addr().unwrap();
    let echo = std::thread::spawn(move || {
        let mut buf = [0; 64];
        let (n, from) = b.recv_from(&mut buf).unwrap();
        b.send_to(&buf[..n], from).unwrap();
    });
    a.send_to(b"from the OS thread", b_addr).unwrap();
    let mut buf = [0; 64];
    let (n, from) = a.peek_from(&mut buf).unwrap();
    assert_eq!((&buf[..n], from), (&b"from the OS thread"[..], b_addr));
    let (n, _) = a.recv_from(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"from the OS thread");
    echo.join().unwrap();
}

#[test]
fn std_and_myriad_sockets_interoperate() {
    let std_socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let ours = UdpSocket::bind("127.0.0.1:0").unwrap();
    let ours_addr = ours.local_addr().unwrap();
    let receiver = myriad::thread::spawn(move || {
        let mut buf = [0; 16];
        ours.recv_from(&mut buf).map(|(n, _)| buf[..n].to_vec())
    });
    std_socket.send_to(b"std->myriad", ours_addr).unwrap();
    assert_eq!(receiver.join().unwrap().unwrap(), b"std->myriad");
    let converted = UdpSocket::from(std_socket);
    let back: std::net::UdpSocket = converted.into();
    back.set_read_timeout(Some(Duration::from_millis(5))).unwrap();
    assert!(back.recv_from(&mut [0; 4]).is_err());
}

#[test]
fn read_timeout_is_a_lower_bound() {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.set_read_timeout(Some(Duration::from_millis(40))).unwrap();
    let h = myriad::thread::spawn(move || {
        let start = Instant::now();
        let err = socket.recv(&mut [0; 8]).unwrap_err();
        (err.kind(), start.elapsed())
    });
    let (kind, elapsed) = h.join().unwrap();
    assert_eq!(kind, io::ErrorKind::WouldBlock);
    assert!(elapsed >= Duration::from_millis(40));
}

#[test]
fn ipv6_and_options() {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.set_broadcast(true).unwrap();
    assert!(socket.broadcast().unwrap());
    socket.set_multicast_ttl_v4(3).unwrap();
    assert_eq!(socket.multicast_ttl_v4().unwrap(), 3);
    socket.set_ttl(9).unwrap();
    assert_eq!(socket.ttl().unwrap(), 9);
    if let Ok(v6) = UdpSocket::bind("[::1]:0") {
        let addr = v6.local_addr().unwrap();
        let other = UdpSocket::bind("[::1]:0").unwrap();
        other.send_to(b"six", addr).unwrap();
        let mut buf = [0; 8];
        assert_eq!(v6.recv_from(&mut buf).unwrap().0, 3);
    }
    assert_eq!(
        socket.send_to(b"x", &[][..] as &[myriad::net::SocketAddr]).unwrap_err().kind(),
        io::ErrorKind::InvalidInput
    );
}

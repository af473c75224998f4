//! Unix stream and datagram sockets: round trips between myriad threads and
//! with OS threads, shutdown of clones, abstract addresses.

use std::io::{Read, Write};
use std::net::Shutdown;
use std::path::PathBuf;
use std::time::Duration;

use myriad::net::unix::{SocketAddr, UnixDatagram, UnixListener, UnixStream};

fn temp_path(name: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!("myriad-test-{}-{name}.sock", std::process::id()));
    let _ = std::fs::remove_file(&path);
    path
}

#[test]
fn stream_echo_through_a_path() {
    let path = temp_path("echo");
    let listener = UnixListener::bind(&path).unwrap();
    let server = myriad::thread::spawn(move || {
        let handlers: Vec<_> = listener
            .incoming()
            .take(8)
            .map(|s| {
                let mut s = s.unwrap();
                myriad::thread::spawn(move || {
                    let mut buf = Vec::new();
                    s.read_to_end(&mut buf).unwrap();
                    s.write_all(&buf).unwrap();
                })
            })
            .collect();
        for h in handlers {
            h.join().unwrap();
        }
    });
    let clients: Vec<_> = (0..8u8)
        .map(|i| {
            let path = path.clone();
            myriad::thread::spawn(move || {
                let mut s = UnixStream::connect(&path).unwrap();
                let data = vec![i; 100_000];
                s.write_all(&data).unwrap();
                s.shutdown(Shutdown::Write).unwrap();
                let mut back = Vec::new();
                s.read_to_end(&mut back).unwrap();
                assert!(back == data);
            })
        })
        .collect();
    for c in clients {
        c.join().unwrap();
    }
    server.join().unwrap();
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn stream_with_an_os_thread_and_std() {
    let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
    let mut ours = UnixStream::from(a);
    let peer = std::thread::spawn(move || {
        let mut b = b;
        let mut buf = [0; 5];
        b.read_exact(&mut buf).unwrap();
        b.write_all(&buf).unwrap();
    });
    let h = myriad::thread::spawn(move || {
        ours.write_all(b"hello").unwrap();
        let mut buf = [0; 5];
        ours.read_exact(&mut buf).unwrap();
        buf
    });
    assert_eq!(&h.join().unwrap(), b"hello");
    peer.join().unwrap();
}

#[test]
fn shutdown_wakes_a_reader_blocked_on_a_clone() {
    let (a, _b) = UnixStream::pair().unwrap();
    let reader = a.try_clone().unwrap();
    let blocked = myriad::thread::spawn(move || (&reader).read(&mut [0; 8]));
    myriad::thread::sleep(Duration::from_millis(20));
    a.shutdown(Shutdown::Both).unwrap();
    assert_eq!(blocked.join().unwrap().unwrap(), 0);
}

#[test]
fn read_timeout_on_a_stream() {
    let (mut a, _b) = UnixStream::pair().unwrap();
    a.set_read_timeout(Some(Duration::from_millis(30))).unwrap();
    let start = std::time::Instant::now();
    let err = a.read(&mut [0; 8]).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::WouldBlock);
    assert!(start.elapsed() >= Duration::from_millis(30));
}

#[test]
fn datagram_round_trips() {
    let server_path = temp_path("dgram-server");
    let client_path = temp_path("dgram-client");
    let server = UnixDatagram::bind(&server_path).unwrap();
    let echo = myriad::thread::spawn(move || {
        let mut buf = [0; 256];
        for _ in 0..50 {
            let (n, from) = server.recv_from(&mut buf).unwrap();
            server.send_to(&buf[..n], from.as_pathname().unwrap()).unwrap();
        }
    });
    let client = UnixDatagram::bind(&client_path).unwrap();
    client.connect(&server_path).unwrap();
    let h = myriad::thread::spawn(move || {
        let mut buf = [0; 256];
        for i in 0..50u32 {
            client.send(&i.to_be_bytes()).unwrap();
            let n = client.recv(&mut buf).unwrap();
            assert_eq!(&buf[..n], &i.to_be_bytes());
        }
    });
    h.join().unwrap();
    echo.join().unwrap();
    std::fs::remove_file(&server_path).unwrap();
    std::fs::remove_file(&client_path).unwrap();
}

#[test]
fn abstract_addresses() {
    use std::os::linux::net::SocketAddrExt;
    let addr = SocketAddr::from_abstract_name(format!("myriad-test-abstract-{}", std::process::id())).unwrap();
    let listener = UnixListener::bind_addr(&addr).unwrap();
    let client = myriad::thread::spawn({
        let addr = SocketAddr::from_abstract_name(addr.as_abstract_name().unwrap()).unwrap();
        move || {
            let mut s = UnixStream::connect_addr(&addr).unwrap();
            s.write_all(b"abstract").unwrap();
        }
    });
    let (mut s, _) = listener.accept().unwrap();
    let mut got = String::new();
    s.read_to_string(&mut got).unwrap();
    assert_eq!(got, "abstract");
    client.join().unwrap();
}

#[test]
fn datagram_shutdown_wakes_a_receiver_blocked_on_a_clone() {
    let (a, _b) = UnixDatagram::pair().unwrap();
    let reader = a.try_clone().unwrap();
    let blocked = myriad::thread::spawn(move || (reader.recv(&mut [0; 8]), reader.recv_from(&mut [0; 8])));
    myriad::thread::sleep(Duration::from_millis(20));
    a.shutdown(Shutdown::Read).unwrap();
    let (recv, recv_from) = blocked.join().unwrap();
    assert_eq!(recv.unwrap(), 0);
    let (n, addr) = recv_from.unwrap();
    assert_eq!(n, 0);
    assert!(addr.is_unnamed());
}

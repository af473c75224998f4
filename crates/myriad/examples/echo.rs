//! A thread-per-connection TCP echo server on myriad threads.
//!
//! ```text
//! cargo run --example echo                  # serve on 127.0.0.1:7007
//! cargo run --example echo -- 127.0.0.1:9000
//! cargo run --example echo -- --self-test   # serve, run 1,000 clients, check, exit
//! ```
//!
//! Each connection gets its own thread running plain blocking code; the
//! thread parks while it waits for data, so thousands of idle connections
//! cost a few KiB each.

use std::io::{self, Read, Write};
use std::time::Instant;

use myriad::net::{TcpListener, TcpStream};
use myriad::thread;

fn serve(listener: TcpListener) {
    for stream in listener.incoming() {
        match stream {
            Ok(stream) => {
                thread::spawn(move || {
                    if let Err(e) = echo(stream) {
                        eprintln!("connection: {e}");
                    }
                });
            }
            Err(e) if matches!(e.raw_os_error(), Some(libc::EMFILE | libc::ENFILE)) => {
                eprintln!("accept: {e}; backing off");
                thread::sleep(std::time::Duration::from_millis(10));
            }
            Err(e) => eprintln!("accept: {e}"),
        }
    }
}

fn echo(mut stream: TcpStream) -> io::Result<()> {
    let mut buf = [0; 4096];
    loop {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        stream.write_all(&buf[..n])?;
    }
}

fn self_test() -> io::Result<()> {
    const CLIENTS: usize = 1000;
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    thread::spawn(move || serve(listener));
    let start = Instant::now();
    let clients: Vec<_> = (0..CLIENTS)
        .map(|i| {
            thread::spawn(move || -> io::Result<()> {
                let mut stream = TcpStream::connect(addr)?;
                let msg = format!("hello from client {i}\n");
                for _ in 0..10 {
                    stream.write_all(msg.as_bytes())?;
                    let mut back = vec![0; msg.len()];
                    stream.read_exact(&mut back)?;
                    assert_eq!(back, msg.as_bytes());
                }
                Ok(())
            })
        })
        .collect();
    for c in clients {
        c.join().expect("client panicked")?;
    }
    println!("self-test: {CLIENTS} clients x 10 echoes OK in {:?}", start.elapsed());
    Ok(())
}

fn main() -> io::Result<()> {
    let arg = std::env::args().nth(1);
    match arg.as_deref() {
        Some("--self-test") => self_test(),
        Some("-h" | "--help") => {
            println!("usage: echo [ADDR | --self-test]   (default ADDR 127.0.0.1:7007)");
            Ok(())
        }
        addr => {
            let listener = TcpListener::bind(addr.unwrap_or("127.0.0.1:7007"))?;
            let addr = listener.local_addr()?;
            println!("echo server on {addr} (try: nc {} {})", addr.ip(), addr.port());
            serve(listener);
            Ok(())
        }
    }
}

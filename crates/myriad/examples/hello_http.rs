//! A minimal HTTP/1.1 keep-alive "Hello, World!" server, one myriad thread
//! per connection, written as plain blocking code.
//!
//! ```text
//! cargo run --release --example hello_http                 # 127.0.0.1:8080
//! cargo run --release --example hello_http -- 0.0.0.0:3000
//! PORT=3000 cargo run --release --example hello_http
//! curl -i http://127.0.0.1:8080/
//! ```
//!
//! Every request gets a 13-byte body. Request bodies are not supported
//! (`Content-Length` is honoured by skipping the bytes); the connection
//! closes on `Connection: close`, on HTTP/1.0 without keep-alive, or on EOF.

use std::io::{self, BufRead, BufReader, Read, Write};

use myriad::net::{TcpListener, TcpStream};
use myriad::thread;

const RESPONSE: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 13\r\nContent-Type: text/plain\r\n\r\nHello, World!";

fn handle(stream: TcpStream) -> io::Result<()> {
    let mut reader = BufReader::new(&stream);
    let mut writer = &stream;
    let mut line = String::new();
    loop {
        // Request line.
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let mut keep_alive = !line.trim_end().ends_with("HTTP/1.0");
        // Headers.
        let mut content_length = 0u64;
        loop {
            line.clear();
            if reader.read_line(&mut line)? == 0 {
                return Ok(());
            }
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                let value = value.trim();
                if name.eq_ignore_ascii_case("connection") {
                    keep_alive = value.eq_ignore_ascii_case("keep-alive");
                } else if name.eq_ignore_ascii_case("content-length") {
                    content_length = value.parse().unwrap_or(0);
                }
            }
        }
        if content_length > 0 {
            io::copy(&mut (&mut reader).take(content_length), &mut io::sink())?;
        }
        writer.write_all(RESPONSE)?;
        if !keep_alive {
            return Ok(());
        }
    }
}

fn main() -> io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .or_else(|| std::env::var("PORT").ok().map(|p| format!("127.0.0.1:{p}")))
        .unwrap_or_else(|| "127.0.0.1:8080".to_string());
    let listener = TcpListener::bind(addr.as_str())?;
    eprintln!("hello_http on http://{}/", listener.local_addr()?);
    for stream in listener.incoming() {
        match stream {
            Ok(stream) => {
                thread::spawn(move || {
                    let _ = handle(stream);
                });
            }
            Err(e) if matches!(e.raw_os_error(), Some(libc::EMFILE | libc::ENFILE)) => {
                eprintln!("accept: {e}; backing off");
                thread::sleep(std::time::Duration::from_millis(10));
            }
            Err(e) => eprintln!("accept: {e}"),
        }
    }
    Ok(())
}

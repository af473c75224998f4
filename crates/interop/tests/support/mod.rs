//! A tiny HTTP/1.1 server on myriad threads, for the clients under test.

use std::io::{BufRead, BufReader, Write};

/// Serves `GET /<anything>` with the body `hello <anything>`, keep-alive,
/// one myriad thread per connection; returns the address.
pub fn http_server() -> std::net::SocketAddr {
    let listener = myriad::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    myriad::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            myriad::thread::spawn(move || serve(stream));
        }
    });
    addr
}

fn serve(stream: myriad::net::TcpStream) {
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return;
        }
        let path = request_line.split_whitespace().nth(1).unwrap_or("/").trim_start_matches('/').to_owned();
        let mut close = false;
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).unwrap_or(0) == 0 {
                return;
            }
            if header.to_ascii_lowercase().starts_with("connection: close") {
                close = true;
            }
            if header == "\r\n" {
                break;
            }
        }
        let body = format!("hello {path}");
        let response =
            format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\nContent-Type: text/plain\r\n\r\n{body}", body.len());
        if writer.write_all(response.as_bytes()).is_err() || close {
            return;
        }
    }
}

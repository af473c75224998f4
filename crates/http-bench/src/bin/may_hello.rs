//! may_minihttp peer for `scripts/http_wrk.sh`: HTTP/1.1 keep-alive
//! "Hello, World!" (13 bytes) on one may worker (one core).
//!
//! `may_hello [ADDR]` (default 127.0.0.1:8080).

use std::io;

use may_minihttp::{HttpServer, HttpService, Request, Response};

#[derive(Clone)]
struct Hello;

impl HttpService for Hello {
    fn call(&mut self, _req: Request, res: &mut Response) -> io::Result<()> {
        res.header("Content-Type: text/plain").body("Hello, World!");
        Ok(())
    }
}

fn main() -> io::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:8080".to_string());
    may::config().set_workers(1);
    eprintln!("may_hello on http://{addr}/");
    let server = HttpServer(Hello).start(addr.as_str())?;
    server.join().map_err(|_| io::Error::other("server thread panicked"))
}

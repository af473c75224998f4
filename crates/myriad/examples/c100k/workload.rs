// The c100k workload: an HTTP/1.1 server with one thread per connection
// and one thread per request, written as plain blocking code, and a load
// generator with one thread per simulated user — all in one process.
//
// This file is included (`include!`) into a module that first imports
// `thread`, `net`, `sync` and `fs` from either myriad or std, plus a
// `FileExt` trait for `read_at`: the same source runs on both, which is the
// point — a program ports between them by changing imports. What both
// sides share (configuration, counters, the expected answers) is in
// `shared.rs`.
//
// Requests in flight come from HTTP/1.1 pipelining: each user sends
// `pipeline` requests on its connection before it reads the first reply,
// and sends one more for each reply it reads, so that it always has
// `pipeline` outstanding until its `requests_per_connection` are sent. The
// server's connection thread only reads requests, and starts one thread
// per request; a request thread does the work, then joins the thread of
// the request before it on the connection (which returns once that one's
// response is written) and writes its own response: responses leave in
// request order, as HTTP/1.1 requires, while the work overlaps. A request
// is *in flight* from the moment its head is read until its response is
// written (`Progress::request_received`/`request_answered`).
//
// A request `GET /work/<id>` does a mixture of work:
//
// 1. waits for a simulated downstream call (`downstream_ms` to twice that,
//    by request),
// 2. reads a 4 KiB chunk of a data file (`fs::File::read_at`),
// 3. calls a backend: a round trip over a pooled TCP connection to a small
//    in-process backend service,
// 4. hashes the chunk (the CPU work), and replies with the id, the
//    backend's answer and the hash.
//
// With `fanout` > 0, the request reads its chunk and then scatters the
// downstream wait and the hashing over that many scoped threads, which
// gather with the backend's answer that the request's thread fetches
// meanwhile.
//
// Stopping (on myriad, where threads can be interrupted: `stop`): on
// Ctrl-C, `shut_down` interrupts the acceptor and every connection
// thread; a connection thread that is interrupted, or whose client resets
// the connection, interrupts its requests' threads, as does a request
// thread that finds the connection dead when it writes; and a request
// thread interrupted while it waits for its fan-out interrupts the
// fan-out. (A client's FIN is not a departure: HTTP clients may
// half-close and still read the answers.) Each interrupted blocking call returns at once, so the
// whole tree of threads ends in milliseconds, however long their
// downstream calls would have taken.
//
// The client knows the file's contents (a function of the offset), so it
// verifies every response exactly, in order. Bad requests get 400, 404 or
// 413 (after the responses to the requests before them) and the
// connection closes; a client that stalls is timed out.

use std::io::{BufRead, BufReader, Read, Write};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crate::shared::{
    backend_answer, chunk_offset, combined_hash, expected_body, fnv1a, part_hash, parts, Config, Progress, Report,
    CHUNK,
};

const MAX_HEAD: u64 = 8 * 1024;
const MAX_BODY: u64 = 64 * 1024;

/// Connections to the backend service, checked out one request at a time.
/// Reads go through a `BufReader`: a read that asks for more than the
/// 8 bytes that came tells the runtime the socket is drained, so the next
/// one waits for data instead of first trying a `recv` that would only say
/// `EAGAIN` (a wasted syscall per call on each end, 2 of ~12 per request).
struct BackendPool {
    idle: sync::Mutex<Vec<BufReader<net::TcpStream>>>,
    available: sync::Condvar,
}

impl BackendPool {
    fn call(&self, id: u64) -> std::io::Result<u64> {
        let mut stream = {
            let mut idle = self.idle.lock().unwrap();
            loop {
                if let Some(stream) = idle.pop() {
                    break stream;
                }
                idle = self.available.wait(idle).unwrap();
            }
        };
        let result = (|| {
            stream.get_mut().write_all(&id.to_le_bytes())?;
            let mut reply = [0u8; 8];
            stream.read_exact(&mut reply)?;
            Ok(u64::from_le_bytes(reply))
        })();
        self.idle.lock().unwrap().push(stream);
        self.available.notify_one();
        result
    }
}

/// The backend service: answers each 8-byte id after 1 ms.
fn start_backend(progress: &'static Progress) -> std::io::Result<std::net::SocketAddr> {
    let listener = net::TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let spawned = thread::Builder::new().spawn(move || {
                progress.thread_started();
                let mut id = [0u8; 8];
                let mut reader = BufReader::new(&stream);
                while reader.read_exact(&mut id).is_ok() {
                    let answer = backend_answer(u64::from_le_bytes(id));
                    if (&stream).write_all(&answer.to_le_bytes()).is_err() {
                        break;
                    }
                }
                progress.thread_ended();
            });
            if let Err(err) = spawned {
                progress.error(format!("backend: cannot spawn a thread: {err}"));
            }
        }
    });
    Ok(addr)
}

fn is_timeout(err: &std::io::Error) -> bool {
    matches!(err.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut)
}

/// Why a request was refused (or, `Idle`, not received).
enum Refusal {
    /// No request began within the read timeout.
    Idle,
    BadRequest,
    NotFound,
    TooLarge,
}

/// Reads one request head; `Ok(None)` at a clean end of the connection.
fn read_request(reader: &mut BufReader<&net::TcpStream>) -> std::io::Result<Option<Result<u64, Refusal>>> {
    let mut head = Vec::new();
    let mut limited = reader.by_ref().take(MAX_HEAD);
    let mut content_length = 0u64;
    let mut line = Vec::new();
    let mut first = true;
    let mut target = Err(Refusal::BadRequest);
    loop {
        line.clear();
        let n = match limited.read_until(b'\n', &mut line) {
            // Nothing of a new request within the read timeout.
            Err(err) if first && line.is_empty() && is_timeout(&err) => return Ok(Some(Err(Refusal::Idle))),
            result => result?,
        };
        if n == 0 {
            if first && head.is_empty() {
                return Ok(None);
            }
            // The head did not end within the limit (or the peer left).
            return Ok(Some(Err(if limited.limit() == 0 { Refusal::TooLarge } else { Refusal::BadRequest })));
        }
        if !line.ends_with(b"\n") {
            // Cut off: by the size limit, or by the client closing its side.
            return Ok(Some(Err(if limited.limit() == 0 { Refusal::TooLarge } else { Refusal::BadRequest })));
        }
        head.extend_from_slice(&line);
        let text = match std::str::from_utf8(&line) {
            Ok(text) => text.trim_end(),
            Err(_) => return Ok(Some(Err(Refusal::BadRequest))),
        };
        if first {
            first = false;
            let mut words = text.split(' ');
            target = match (words.next(), words.next(), words.next(), words.next()) {
                (Some("GET"), Some(path), Some(version), None) if version.starts_with("HTTP/1.") => {
                    match path.strip_prefix("/work/").map(str::parse::<u64>) {
                        Some(Ok(id)) => Ok(id),
                        _ => Err(Refusal::NotFound),
                    }
                }
                _ => Err(Refusal::BadRequest),
            };
            continue;
        }
        if text.is_empty() {
            break;
        }
        let Some((name, value)) = text.split_once(':') else { return Ok(Some(Err(Refusal::BadRequest))) };
        if name.eq_ignore_ascii_case("content-length") {
            match value.trim().parse() {
                Ok(n) => content_length = n,
                Err(_) => return Ok(Some(Err(Refusal::BadRequest))),
            }
        }
    }
    if content_length > MAX_BODY {
        return Ok(Some(Err(Refusal::TooLarge)));
    }
    // A GET body is allowed and ignored.
    std::io::copy(&mut reader.by_ref().take(content_length), &mut std::io::sink())?;
    Ok(Some(target))
}

/// Closes after a refusal without losing the response: unread input at
/// close would make the kernel reset the connection, and the client might
/// never read the status. So stop sending, drain briefly, then close.
fn linger_close(stream: &net::TcpStream) {
    let _ = stream.shutdown(net::Shutdown::Write);
    let _ = stream.set_read_timeout(Some(Duration::from_millis(200)));
    let _ = std::io::copy(&mut stream.take(MAX_BODY), &mut std::io::sink());
}

/// Writes `response` on `stream`, or shuts the connection down if it
/// cannot: the client then sees the connection end, not a missing reply.
fn respond(stream: &net::TcpStream, response: std::io::Result<String>) -> std::io::Result<()> {
    let written = response.and_then(|response| {
        // One write per response: `write!` straight to a socket would send
        // each piece as its own segment and meet Nagle's algorithm.
        let mut writer = stream;
        writer.write_all(response.as_bytes())
    });
    if written.is_err() {
        let _ = stream.shutdown(net::Shutdown::Both);
    }
    written
}

/// The result of the request thread before this one: its response is
/// written (or the connection failed) once it returns.
fn wait_turn(before: Option<thread::ScopedJoinHandle<'_, std::io::Result<()>>>) -> std::io::Result<()> {
    match before {
        None => Ok(()),
        Some(handle) => handle.join().unwrap_or_else(|_| Err(std::io::Error::other("a request thread panicked"))),
    }
}

/// Serves one connection until it closes, errs, or sends a bad request:
/// reads requests and starts a thread for each (see the file's comment).
fn serve(stream: net::TcpStream, ctx: &'static Server) -> std::io::Result<()> {
    stream.set_read_timeout(Some(ctx.read_timeout))?;
    let progress = ctx.progress;
    // Reads and writes share the one descriptor (`&TcpStream` is `Read`
    // and `Write`): a clone would cost a descriptor per connection.
    let stream = &stream;
    let mut reader = BufReader::new(stream);
    // When the newest response was written (ms since `opened`): the read
    // timeout counts from there, not from the start of a read that began
    // while the client still waited for its responses.
    let opened = Instant::now();
    let written = std::sync::atomic::AtomicU64::new(0);
    let (opened, written) = (&opened, &written);
    thread::scope(|s| {
        // The thread of the newest request: the next one writes after it.
        let mut last: Option<thread::ScopedJoinHandle<'_, std::io::Result<()>>> = None;
        loop {
            let request = match read_request(&mut reader) {
                Ok(Some(request)) => request,
                // The client has sent all it will (it may still read:
                // a half-close is no departure).
                Ok(None) => return wait_turn(last),
                Err(err) => {
                    if stop::is_interrupt(&err) || err.kind() == std::io::ErrorKind::ConnectionReset {
                        // Shutting down, or the client is gone (it reset
                        // the connection): stop the requests' threads
                        // instead of answering them.
                        stop::interrupt_scope(s);
                    }
                    // Answer what was received; the read's error is the
                    // connection's.
                    let _ = wait_turn(last);
                    return Err(err);
                }
            };
            let id = match request {
                Ok(id) => id,
                // Waiting for the client to read what it asked for is not
                // being idle: requests are in flight.
                Err(Refusal::Idle)
                    if last.as_ref().is_some_and(|l| !l.is_finished())
                        || opened.elapsed().saturating_sub(Duration::from_millis(written.load(Ordering::Relaxed)))
                            < ctx.read_timeout =>
                {
                    continue
                }
                Err(Refusal::Idle) => return wait_turn(last),
                Err(refusal) => {
                    wait_turn(last)?;
                    let status = match refusal {
                        Refusal::Idle => unreachable!("handled above"),
                        Refusal::BadRequest => "400 Bad Request",
                        Refusal::NotFound => "404 Not Found",
                        Refusal::TooLarge => "413 Content Too Large",
                    };
                    let head = format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
                    (&*stream).write_all(head.as_bytes())?;
                    linger_close(stream);
                    return Ok(());
                }
            };
            progress.request_received();
            let before = last.take();
            let spawned = thread::Builder::new().spawn_scoped(s, move || {
                progress.thread_started();
                let body = handle(id, ctx);
                let result = wait_turn(before).and_then(|()| {
                    let body = body?;
                    respond(stream, Ok(format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}", body.len())))
                });
                if result.is_err() {
                    let _ = stream.shutdown(net::Shutdown::Both);
                    // The connection is dead: its other requests need not
                    // be worked on.
                    stop::interrupt_scope(s);
                }
                written.fetch_max(opened.elapsed().as_millis() as u64, Ordering::Relaxed);
                progress.request_answered();
                progress.thread_ended();
                result
            });
            match spawned {
                Ok(handle) => last = Some(handle),
                Err(err) => {
                    progress.request_answered();
                    progress.error(format!("server: cannot spawn a thread per request: {err}"));
                    let _ = stream.shutdown(net::Shutdown::Both);
                    return Err(err);
                }
            }
        }
    })
}

/// The backend's answer, published by the handler to its fan-out threads.
struct Answer {
    value: sync::Mutex<Option<std::io::Result<u64>>>,
    ready: sync::Condvar,
}

impl Answer {
    fn publish(&self, value: std::io::Result<u64>) {
        *self.value.lock().unwrap() = Some(value);
        self.ready.notify_all();
    }

    fn wait(&self) -> std::io::Result<u64> {
        let mut value = self.value.lock().unwrap();
        loop {
            match &*value {
                Some(Ok(v)) => return Ok(*v),
                Some(Err(e)) => return Err(std::io::Error::new(e.kind(), e.to_string())),
                None => value = self.ready.wait(value).unwrap(),
            }
        }
    }
}

/// The work of one request (see the file's comment): its body.
fn handle(id: u64, ctx: &'static Server) -> std::io::Result<String> {
    // On the thread's stack: no heap allocation per request.
    let mut chunk = [0u8; CHUNK];
    if ctx.fanout == 0 {
        // The downstream call first: a request costs little CPU until it
        // returns, so all of a burst's threads are started and waiting
        // together, not queued behind each other's backend calls.
        thread::sleep(Duration::from_millis(ctx.downstream_ms + id % (ctx.downstream_ms + 1)));
        ctx.file.read_exact_at(&mut chunk, chunk_offset(id))?;
        let backend = ctx.backend.call(id)?;
        let hash = combined_hash(&chunk, parts(&chunk, 1).map(|part| part_hash(fnv1a(part), backend)));
        return Ok(format!("{id} {backend} {hash:016x}\n"));
    }
    ctx.file.read_exact_at(&mut chunk, chunk_offset(id))?;
    let progress = ctx.progress;
    let answer = Answer { value: sync::Mutex::new(None), ready: sync::Condvar::new() };
    let (backend, part_hashes) = thread::scope(|s| {
        let answer = &answer;
        let handles: Vec<_> = parts(&chunk, ctx.fanout)
            .enumerate()
            .map(|(k, part)| {
                thread::Builder::new().spawn_scoped(s, move || {
                    progress.thread_started();
                    let base = ctx.downstream_ms;
                    thread::sleep(Duration::from_millis(base + id.wrapping_add(k as u64) % (base + 1)));
                    let hash = fnv1a(part);
                    let result = answer.wait().map(|backend| part_hash(hash, backend));
                    progress.thread_ended();
                    result
                })
            })
            .collect::<Vec<_>>();
        let backend = ctx.backend.call(id);
        if backend.as_ref().is_err_and(stop::is_interrupt) {
            // This request is being stopped: so is its fan-out.
            stop::interrupt_scope(s);
        }
        let backend_copy = backend.as_ref().map(|v| *v).map_err(|e| std::io::Error::new(e.kind(), e.to_string()));
        answer.publish(backend_copy);
        let hashes: Vec<std::io::Result<u64>> = handles
            .into_iter()
            .map(|h| match h {
                Ok(h) => stop::join(h, s).unwrap_or_else(|_| Err(std::io::Error::other("a fan-out thread panicked"))),
                Err(err) => Err(err),
            })
            .collect();
        (backend, hashes)
    });
    let backend = backend?;
    let mut hashes = Vec::with_capacity(part_hashes.len());
    for h in part_hashes {
        hashes.push(h?);
    }
    let hash = combined_hash(&chunk, hashes.into_iter());
    Ok(format!("{id} {backend} {hash:016x}\n"))
}

/// A server's threads that `shut_down` interrupts: the acceptor and the
/// connection threads, by id.
#[derive(Default)]
struct Threads {
    acceptor: Option<thread::Thread>,
    connections: std::collections::HashMap<thread::ThreadId, thread::Thread>,
    shutting_down: bool,
}

/// The servers started in this process, by address.
static SERVERS: std::sync::Mutex<Vec<(std::net::SocketAddr, &'static Server)>> = std::sync::Mutex::new(Vec::new());

/// Stops the server at `addr`, or every server (`None`), on a side whose
/// threads can be interrupted: the acceptor and every connection thread
/// are interrupted, and they stop their requests' threads in turn.
/// Returns how many connection threads were interrupted; the caller waits
/// for `Progress::connections_open` and `Progress::in_flight` to reach
/// zero.
#[allow(dead_code, reason = "the std side cannot interrupt, and never calls it")]
pub fn shut_down(only: Option<std::net::SocketAddr>) -> usize {
    let servers = SERVERS.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let mut interrupted = 0;
    for (addr, server) in servers {
        if only.is_some_and(|only| only != addr) {
            continue;
        }
        let threads = &mut *server.threads.lock().unwrap();
        threads.shutting_down = true;
        if let Some(acceptor) = &threads.acceptor {
            stop::interrupt(acceptor);
        }
        for connection in threads.connections.values() {
            stop::interrupt(connection);
        }
        interrupted += threads.connections.len();
    }
    interrupted
}

struct Server {
    /// Its threads, for `shut_down`.
    threads: sync::Mutex<Threads>,
    read_timeout: Duration,
    downstream_ms: u64,
    file: fs::File,
    backend: BackendPool,
    fanout: usize,
    progress: &'static Progress,
}

/// Starts the server; returns its address.
pub fn start_server(
    config: &Config,
    data_file: &std::path::Path,
    progress: &'static Progress,
) -> std::io::Result<std::net::SocketAddr> {
    let backend_addr = start_backend(progress)?;
    let mut pool = Vec::new();
    for _ in 0..config.backend_connections {
        let stream = net::TcpStream::connect(backend_addr)?;
        stream.set_nodelay(true)?;
        pool.push(BufReader::new(stream));
    }
    let server: &'static Server = Box::leak(Box::new(Server {
        threads: sync::Mutex::new(Threads::default()),
        read_timeout: config.read_timeout,
        downstream_ms: config.downstream_ms,
        file: fs::File::open(data_file)?,
        backend: BackendPool { idle: sync::Mutex::new(pool), available: sync::Condvar::new() },
        fanout: config.fanout,
        progress,
    }));
    let listener = net::TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let acceptor = thread::spawn(move || loop {
        match listener.accept() {
            Ok((stream, _)) => {
                let spawned = thread::Builder::new().spawn(move || {
                    progress.thread_started();
                    progress.connections_open.fetch_add(1, Ordering::Relaxed);
                    let me = thread::current();
                    let registered = {
                        let mut threads = server.threads.lock().unwrap();
                        if !threads.shutting_down {
                            threads.connections.insert(me.id(), me.clone());
                        }
                        !threads.shutting_down
                    };
                    let served = if registered { serve(stream, server) } else { Ok(()) };
                    server.threads.lock().unwrap().connections.remove(&me.id());
                    match served {
                        // Stopped by `shut_down`.
                        Err(err) if stop::is_interrupt(&err) => {}
                        // A client that went away or stalled past the read
                        // timeout: the connection just closes.
                        Err(err)
                            if matches!(
                                err.kind(),
                                std::io::ErrorKind::ConnectionReset
                                    | std::io::ErrorKind::WouldBlock
                                    | std::io::ErrorKind::TimedOut
                            ) => {}
                        Err(err) => progress.error(format!("server: {err}")),
                        Ok(()) => {}
                    }
                    progress.connections_open.fetch_sub(1, Ordering::Relaxed);
                    progress.thread_ended();
                });
                if let Err(err) = spawned {
                    progress.error(format!("server: cannot spawn a thread per connection: {err}"));
                }
            }
            // Shutting down: the listener closes.
            Err(err) if stop::is_interrupt(&err) => return,
            // Out of descriptors: back off briefly instead of spinning.
            Err(err) => {
                progress.error(format!("server: accept: {err}"));
                thread::sleep(Duration::from_millis(10));
            }
        }
    });
    server.threads.lock().unwrap().acceptor = Some(acceptor.thread().clone());
    SERVERS.lock().unwrap_or_else(|e| e.into_inner()).push((addr, server));
    Ok(addr)
}

/// Holds the users back until every one of them is connected, so that all
/// connections (and their threads) are open at the same time.
struct Gate {
    arrived: sync::Mutex<(usize, bool)>,
    changed: sync::Condvar,
}

impl Gate {
    fn arrive_and_wait(&self) {
        let mut state = self.arrived.lock().unwrap();
        state.0 += 1;
        self.changed.notify_all();
        while !state.1 {
            state = self.changed.wait(state).unwrap();
        }
    }

    /// Opens once `expected` users arrived (all that could be spawned).
    fn open_when(&self, expected: usize) {
        let mut state = self.arrived.lock().unwrap();
        while state.0 < expected {
            state = self.changed.wait(state).unwrap();
        }
        state.1 = true;
        self.changed.notify_all();
    }
}

/// Reads one response and returns its body (or the status, if not 200).
fn read_response(reader: &mut BufReader<&net::TcpStream>) -> std::io::Result<String> {
    let mut line = String::new();
    let mut length = None;
    if reader.read_line(&mut line)? == 0 {
        return Err(std::io::ErrorKind::UnexpectedEof.into());
    }
    if !line.starts_with("HTTP/1.1 200") {
        return Err(std::io::Error::other(format!("status {:?}", line.trim_end())));
    }
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some(v) = header.strip_prefix("Content-Length: ") {
            length = v.parse::<usize>().ok();
        }
    }
    let mut body = vec![0u8; length.ok_or_else(|| std::io::Error::other("no Content-Length"))?];
    reader.read_exact(&mut body)?;
    String::from_utf8(body).map_err(std::io::Error::other)
}

/// One simulated user: connects, keeps `pipeline` requests outstanding
/// until it has sent its share, and verifies each reply, in order.
fn user(addr: std::net::SocketAddr, index: usize, config: &Config, gate: &Gate, progress: &Progress) -> Vec<u32> {
    let total = config.requests_per_connection;
    let mut latencies = Vec::with_capacity(total);
    let connected = net::TcpStream::connect(addr);
    gate.arrive_and_wait();
    let start = Instant::now();
    let stream = match connected {
        Ok(stream) => stream,
        Err(err) => {
            progress.error(format!("client: connect: {err}"));
            return latencies;
        }
    };
    let _ = stream.set_read_timeout(Some(config.read_timeout * 3));
    let mut writer = &stream;
    let mut reader = BufReader::new(&stream);
    let id_of = |r: usize| (index * total + r) as u64;
    // When each outstanding request was sent, oldest first.
    let mut sent = std::collections::VecDeque::with_capacity(config.pipeline);
    let mut next = 0;
    let mut batch = String::new();
    for r in 0..total {
        // Top the window up, in one write (one segment, not one per request).
        let stop = start.elapsed() > config.deadline || progress.stopping.load(Ordering::Relaxed);
        while !stop && next < total && sent.len() < config.pipeline.max(1) {
            batch.push_str(&format!("GET /work/{} HTTP/1.1\r\nHost: c100k\r\n\r\n", id_of(next)));
            next += 1;
            sent.push_back(Instant::now());
        }
        if !batch.is_empty() {
            if let Err(err) = writer.write_all(batch.as_bytes()) {
                progress.error(format!("client: sending request {}: {err}", id_of(next - 1)));
                break;
            }
            batch.clear();
        }
        let Some(sent_at) = sent.pop_front() else { break };
        let id = id_of(r);
        match read_response(&mut reader) {
            Ok(body) if body == expected_body(id, config.fanout) => {
                latencies.push(sent_at.elapsed().as_micros().min(u32::MAX as u128) as u32);
                progress.requests_done.fetch_add(1, Ordering::Relaxed);
            }
            Ok(body) => {
                progress.error(format!("client: wrong body for {id}: {body:?}"));
                break;
            }
            Err(err) => {
                progress.error(format!("client: request {id}: {err}"));
                break;
            }
        }
    }
    latencies
}

/// Runs the whole workload: server, backend and users.
pub fn run(config: &Config, data_file: &std::path::Path, progress: &'static Progress) -> Report {
    let start = Instant::now();
    let addr = match start_server(config, data_file, progress) {
        Ok(addr) => addr,
        Err(err) => {
            progress.error(format!("cannot start the server: {err}"));
            return Report {
                requests: 0,
                errors: 1,
                elapsed: start.elapsed(),
                latencies_us: Vec::new(),
                peak_threads: 0,
                peak_in_flight: 0,
                first_error: progress.stop_reason.lock().unwrap().clone(),
            };
        }
    };
    let config_ref: &'static Config = Box::leak(Box::new(config.clone()));
    let gate: &'static Gate =
        Box::leak(Box::new(Gate { arrived: sync::Mutex::new((0, false)), changed: sync::Condvar::new() }));
    let mut users = Vec::with_capacity(config.connections);
    for index in 0..config.connections {
        let spawned = thread::Builder::new().spawn(move || {
            progress.thread_started();
            let latencies = user(addr, index, config_ref, gate, progress);
            progress.thread_ended();
            latencies
        });
        match spawned {
            Ok(handle) => users.push(handle),
            Err(err) => {
                progress.error(format!("client: cannot spawn user thread {index}: {err}"));
                progress.stopping.store(true, Ordering::Relaxed);
                break;
            }
        }
    }
    gate.open_when(users.len());
    let mut latencies_us = Vec::new();
    for handle in users {
        match handle.join() {
            Ok(l) => latencies_us.extend(l),
            Err(_) => progress.error("client: a user thread panicked".into()),
        }
    }
    latencies_us.sort_unstable();
    Report {
        requests: progress.requests_done.load(Ordering::Relaxed),
        errors: progress.errors.load(Ordering::Relaxed),
        elapsed: start.elapsed(),
        latencies_us,
        peak_threads: progress.threads_peak.load(Ordering::Relaxed),
        peak_in_flight: progress.in_flight_peak.load(Ordering::Relaxed),
        first_error: progress.stop_reason.lock().unwrap().clone(),
    }
}

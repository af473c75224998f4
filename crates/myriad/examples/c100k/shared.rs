// What the c100k workload's two sides (myriad and std, see `workload.rs`)
// share: the configuration, live counters, the report, and the data the
// server serves — a file whose bytes are a function of their offset, so
// the client can recompute every expected response.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

/// What to run.
#[derive(Clone, Debug)]
pub struct Config {
    /// Simulated users, each with its own connection.
    pub connections: usize,
    /// Scoped threads each request fans out into (0: none, the request's
    /// own thread does all of its work).
    pub fanout: usize,
    /// Requests each user sends on its connection (keep-alive).
    pub requests_per_connection: usize,
    /// Requests each user keeps outstanding on its connection (HTTP/1.1
    /// pipelining): sent before it reads a reply.
    pub pipeline: usize,
    /// Connections in the pool to the backend service.
    pub backend_connections: usize,
    /// Stop issuing requests after this long.
    pub deadline: Duration,
    /// How long the server waits for a client's next request.
    pub read_timeout: Duration,
    /// The simulated downstream call each fan-out thread makes takes from
    /// `downstream_ms` to twice that, by request and part.
    pub downstream_ms: u64,
}

/// Live counters, read by the progress line.
#[derive(Default)]
pub struct Progress {
    pub threads_alive: AtomicUsize,
    pub threads_peak: AtomicUsize,
    pub connections_open: AtomicUsize,
    /// Requests received whose response is not written yet, and the most
    /// there were at once.
    pub in_flight: AtomicUsize,
    pub in_flight_peak: AtomicUsize,
    pub requests_done: AtomicU64,
    pub errors: AtomicU64,
    pub stop_reason: std::sync::Mutex<Option<String>>,
    pub stopping: AtomicBool,
}

impl Progress {
    pub fn thread_started(&self) {
        let now = self.threads_alive.fetch_add(1, Ordering::Relaxed) + 1;
        self.threads_peak.fetch_max(now, Ordering::Relaxed);
    }

    pub fn thread_ended(&self) {
        self.threads_alive.fetch_sub(1, Ordering::Relaxed);
    }

    pub fn request_received(&self) {
        let now = self.in_flight.fetch_add(1, Ordering::Relaxed) + 1;
        self.in_flight_peak.fetch_max(now, Ordering::Relaxed);
    }

    pub fn request_answered(&self) {
        self.in_flight.fetch_sub(1, Ordering::Relaxed);
    }

    pub fn error(&self, what: String) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        let mut reason = self.stop_reason.lock().unwrap();
        if reason.is_none() {
            *reason = Some(what);
        }
    }
}

/// The outcome of a run.
pub struct Report {
    pub requests: u64,
    pub errors: u64,
    pub elapsed: Duration,
    /// Request latencies in microseconds, sorted.
    pub latencies_us: Vec<u32>,
    pub peak_threads: usize,
    pub peak_in_flight: usize,
    pub first_error: Option<String>,
}

pub const FILE_BYTES: u64 = 4 << 20;
pub const CHUNK: usize = 4096;

/// The data file's byte at `offset`: the client recomputes it.
pub fn file_byte(offset: u64) -> u8 {
    let x = offset.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    (x >> 56) as u8 ^ (offset as u8)
}

pub fn chunk_offset(id: u64) -> u64 {
    id.wrapping_mul(7919).wrapping_mul(CHUNK as u64) % (FILE_BYTES - CHUNK as u64)
}

pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| (h ^ b as u64).wrapping_mul(0x0100_0000_01b3))
}

/// Hash of the chunk as `fanout` parts, combined in order.
pub fn combined_hash(chunk: &[u8], part_hashes: impl Iterator<Item = u64>) -> u64 {
    part_hashes.fold(chunk.len() as u64, |acc, h| acc.rotate_left(5) ^ h)
}

pub fn parts(chunk: &[u8], fanout: usize) -> impl Iterator<Item = &[u8]> {
    chunk.chunks(chunk.len().div_ceil(fanout.max(1)))
}

/// A fan-out part's result: its hash mixed with the backend's answer.
pub fn part_hash(hash: u64, backend: u64) -> u64 {
    hash ^ backend.rotate_left(17)
}

pub fn backend_answer(id: u64) -> u64 {
    id.wrapping_mul(31).wrapping_add(7)
}

/// The body the server must send for request `id`.
pub fn expected_body(id: u64, fanout: usize) -> String {
    let offset = chunk_offset(id);
    let chunk: Vec<u8> = (offset..offset + CHUNK as u64).map(file_byte).collect();
    let backend = backend_answer(id);
    let hash = combined_hash(&chunk, parts(&chunk, fanout).map(|p| part_hash(fnv1a(p), backend)));
    format!("{id} {backend} {hash:016x}\n")
}

/// Writes the data file the server reads from.
pub fn write_data_file(path: &std::path::Path) -> std::io::Result<()> {
    let data: Vec<u8> = (0..FILE_BYTES).map(file_byte).collect();
    std::fs::write(path, data)
}

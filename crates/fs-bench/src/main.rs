//! fs-bench: concurrent 4 KiB random reads of one 64 MiB file from 1,000
//! threads or tasks, and the round-trip cost of `myriad::blocking(|| ())`,
//! all in one run and reported as ratios (docs/DESIGN.md, "How we measure").
//!
//! Each variant runs in a child process of this binary (so that myriad's
//! one-time io_uring probe sees `MYRIAD_IO_URING=0` for the fallback, and
//! no runtime lingers into the next variant):
//!
//! - `myriad-uring`: 1,000 myriad threads, `FileExt::read_at` on a shared
//!   `myriad::fs::File`, through the workers' io_uring rings;
//! - `myriad-offload`: the same with `MYRIAD_IO_URING=0` (offload pool);
//! - `tokio-fs`: 1,000 tasks on tokio's multi-thread runtime, each with its
//!   own `tokio::fs::File`, `seek` then `read_exact` (tokio::fs has no
//!   positioned read);
//! - `tokio-spawn-blocking`: 1,000 tasks calling `spawn_blocking(pread)` on
//!   a shared std `File`, the usual tokio workaround;
//! - `std-threads`: 1,000 OS threads, `read_at` on a shared std `File`.
//!
//! Every variant reads the same offsets (a fixed xorshift sequence per
//! worker). The clock starts when every worker is ready (a barrier) and
//! stops when the last one finishes. The file is written first, so reads
//! come from the page cache: this measures the cost each runtime adds to a
//! read, not the disk.
//!
//! Run: `cargo run --release -p fs-bench` (options: `--reads N` per
//! worker, default 200; `--workers N`, default 1,000).

use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

const FILE_SIZE: u64 = 64 << 20;
const BLOCK: usize = 4096;
const BLOCKS: u64 = FILE_SIZE / BLOCK as u64;

/// The offsets worker `w` reads, the same in every variant.
fn offsets(w: usize, reads: usize) -> impl Iterator<Item = u64> {
    let mut x = 0x9E37_79B9_7F4A_7C15u64 ^ (w as u64 + 1).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    (0..reads).map(move |_| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (x % BLOCKS) * BLOCK as u64
    })
}

/// Checks a block read at `offset` against the file's pattern: the first
/// 8 bytes of every block are its offset.
fn check(buf: &[u8], offset: u64) {
    assert_eq!(u64::from_le_bytes(buf[..8].try_into().unwrap()), offset, "wrong data at {offset}");
}

fn make_file(path: &Path) {
    let mut file = std::fs::File::create(path).unwrap();
    let mut block = vec![0u8; BLOCK];
    for b in 0..BLOCKS {
        let offset = b * BLOCK as u64;
        block[..8].copy_from_slice(&offset.to_le_bytes());
        for (i, byte) in block[8..].iter_mut().enumerate() {
            *byte = (b as usize + i) as u8;
        }
        file.write_all(&block).unwrap();
    }
    file.sync_all().unwrap();
}

/// Environment variables for a child process.
type Env<'a> = &'a [(&'a str, &'a str)];

struct Params {
    path: PathBuf,
    workers: usize,
    reads: usize,
}

/// Runs one variant in this process; returns the elapsed time of the reads.
fn run_variant(name: &str, p: &Params) -> Duration {
    match name {
        "myriad-uring" | "myriad-offload" => myriad_reads(p),
        "tokio-fs" => tokio_fs_reads(p),
        "tokio-spawn-blocking" => tokio_spawn_blocking_reads(p),
        "std-threads" => std_reads(p),
        other => panic!("unknown variant {other}"),
    }
}

fn myriad_reads(p: &Params) -> Duration {
    use myriad::fs::FileExt;
    let file = Arc::new(myriad::fs::File::open(&p.path).unwrap());
    let barrier = Arc::new(myriad::sync::Barrier::new(p.workers + 1));
    let handles: Vec<_> = (0..p.workers)
        .map(|w| {
            let (file, barrier, reads) = (file.clone(), barrier.clone(), p.reads);
            myriad::thread::spawn(move || {
                let mut buf = vec![0u8; BLOCK];
                barrier.wait();
                for offset in offsets(w, reads) {
                    file.read_exact_at(&mut buf, offset).unwrap();
                    check(&buf, offset);
                }
            })
        })
        .collect();
    barrier.wait();
    let start = Instant::now();
    handles.into_iter().for_each(|h| h.join().unwrap());
    let elapsed = start.elapsed();
    let expect_uring = std::env::var("MYRIAD_IO_URING").map_or(true, |v| v.trim() != "0");
    assert_eq!(myriad::fs::io_uring_active(), expect_uring, "the variant must use the path it names");
    elapsed
}

fn tokio_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap()
}

fn tokio_fs_reads(p: &Params) -> Duration {
    use tokio::io::{AsyncReadExt, AsyncSeekExt};
    let rt = tokio_runtime();
    rt.block_on(async {
        let barrier = Arc::new(tokio::sync::Barrier::new(p.workers + 1));
        let mut handles = Vec::new();
        for w in 0..p.workers {
            let (barrier, reads, path) = (barrier.clone(), p.reads, p.path.clone());
            handles.push(tokio::spawn(async move {
                let mut file = tokio::fs::File::open(&path).await.unwrap();
                let mut buf = vec![0u8; BLOCK];
                barrier.wait().await;
                for offset in offsets(w, reads) {
                    file.seek(SeekFrom::Start(offset)).await.unwrap();
                    file.read_exact(&mut buf).await.unwrap();
                    check(&buf, offset);
                }
            }));
        }
        barrier.wait().await;
        let start = Instant::now();
        for h in handles {
            h.await.unwrap();
        }
        start.elapsed()
    })
}

fn tokio_spawn_blocking_reads(p: &Params) -> Duration {
    let rt = tokio_runtime();
    let file = Arc::new(std::fs::File::open(&p.path).unwrap());
    rt.block_on(async {
        let barrier = Arc::new(tokio::sync::Barrier::new(p.workers + 1));
        let mut handles = Vec::new();
        for w in 0..p.workers {
            let (barrier, reads, file) = (barrier.clone(), p.reads, file.clone());
            handles.push(tokio::spawn(async move {
                let mut buf = vec![0u8; BLOCK];
                barrier.wait().await;
                for offset in offsets(w, reads) {
                    let file = file.clone();
                    buf = tokio::task::spawn_blocking(move || {
                        file.read_exact_at(&mut buf, offset).unwrap();
                        buf
                    })
                    .await
                    .unwrap();
                    check(&buf, offset);
                }
            }));
        }
        barrier.wait().await;
        let start = Instant::now();
        for h in handles {
            h.await.unwrap();
        }
        start.elapsed()
    })
}

fn std_reads(p: &Params) -> Duration {
    let file = Arc::new(std::fs::File::open(&p.path).unwrap());
    let barrier = Arc::new(std::sync::Barrier::new(p.workers + 1));
    let handles: Vec<_> = (0..p.workers)
        .map(|w| {
            let (file, barrier, reads) = (file.clone(), barrier.clone(), p.reads);
            std::thread::Builder::new()
                .stack_size(64 << 10)
                .spawn(move || {
                    let mut buf = vec![0u8; BLOCK];
                    barrier.wait();
                    for offset in offsets(w, reads) {
                        file.read_exact_at(&mut buf, offset).unwrap();
                        check(&buf, offset);
                    }
                })
                .unwrap()
        })
        .collect();
    barrier.wait();
    let start = Instant::now();
    handles.into_iter().for_each(|h| h.join().unwrap());
    start.elapsed()
}

/// Mean round trip of `myriad::blocking(|| ())` from one myriad thread,
/// and of tokio's `spawn_blocking(|| ()).await` from one task.
fn round_trips(n: usize) -> (Duration, Duration) {
    let myriad = myriad::thread::spawn(move || {
        for _ in 0..1000 {
            myriad::blocking(|| ()); // warm the pool
        }
        let start = Instant::now();
        for _ in 0..n {
            myriad::blocking(|| std::hint::black_box(()));
        }
        start.elapsed() / n as u32
    })
    .join()
    .unwrap();
    let rt = tokio_runtime();
    let tokio = rt.block_on(async move {
        tokio::spawn(async move {
            for _ in 0..1000 {
                tokio::task::spawn_blocking(|| ()).await.unwrap();
            }
            let start = Instant::now();
            for _ in 0..n {
                tokio::task::spawn_blocking(|| std::hint::black_box(())).await.unwrap();
            }
            start.elapsed() / n as u32
        })
        .await
        .unwrap()
    });
    (myriad, tokio)
}

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let workers = arg(&args, "--workers").map_or(1000, |v| v.parse().unwrap());
    let reads = arg(&args, "--reads").map_or(200, |v| v.parse().unwrap());
    if let Some(variant) = arg(&args, "--child") {
        let path = PathBuf::from(arg(&args, "--file").unwrap());
        let elapsed = if variant == "round-trips" {
            let (m, t) = round_trips(20_000);
            println!("RESULT {} {}", m.as_nanos(), t.as_nanos());
            return;
        } else {
            run_variant(&variant, &Params { path, workers, reads })
        };
        println!("RESULT {}", elapsed.as_nanos());
        return;
    }

    let path = std::env::temp_dir().join(format!("fs-bench-{}.dat", std::process::id()));
    eprintln!("writing {} MiB to {} ...", FILE_SIZE >> 20, path.display());
    make_file(&path);
    // Read it once so that every variant starts from a warm page cache.
    let mut sink = vec![0u8; 1 << 20];
    let mut f = std::fs::File::open(&path).unwrap();
    f.seek(SeekFrom::Start(0)).unwrap();
    while f.read(&mut sink).unwrap() > 0 {}

    let exe = std::env::current_exe().unwrap();
    let child = |variant: &str, env: &[(&str, &str)]| -> Vec<u128> {
        let mut cmd = Command::new(&exe);
        cmd.args(["--child", variant, "--file", path.to_str().unwrap()]);
        cmd.args(["--workers", &workers.to_string(), "--reads", &reads.to_string()]);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        assert!(out.status.success(), "{variant} failed: {}", String::from_utf8_lossy(&out.stderr));
        let text = String::from_utf8(out.stdout).unwrap();
        let line = text.lines().find(|l| l.starts_with("RESULT ")).expect("a RESULT line");
        line.split_whitespace().skip(1).map(|v| v.parse().unwrap()).collect()
    };

    let variants: [(&str, &str, Env); 5] = [
        ("myriad-uring", "myriad::fs, io_uring", &[]),
        ("myriad-offload", "myriad::fs, offload (MYRIAD_IO_URING=0)", &[("MYRIAD_IO_URING", "0")]),
        ("tokio-fs", "tokio::fs (seek + read_exact)", &[]),
        ("tokio-spawn-blocking", "tokio spawn_blocking(pread)", &[]),
        ("std-threads", "std threads (pread)", &[]),
    ];
    let total = (workers * reads) as f64;
    let mut results = Vec::new();
    for (variant, label, env) in variants {
        eprintln!("running {variant} ...");
        let ns = child(variant, env)[0] as f64;
        results.push((label, ns));
    }
    let tokio_ns = results.iter().find(|(l, _)| l.starts_with("tokio::fs")).unwrap().1;
    println!();
    println!("{workers} workers x {reads} random 4 KiB reads of a {} MiB file (page cache)", FILE_SIZE >> 20);
    println!("{:<42} {:>12} {:>14} {:>16}", "variant", "reads/s", "ns/read (wall)", "speed vs tokio::fs");
    for (label, ns) in &results {
        println!("{:<42} {:>12.0} {:>14.0} {:>15.2}x", label, total / (ns / 1e9), ns / total, tokio_ns / ns);
    }
    let rt = child("round-trips", &[]);
    println!();
    println!("round trip, mean of 20,000 sequential calls:");
    println!("{:<42} {:>10} ns", "myriad::blocking(|| ())", rt[0]);
    println!("{:<42} {:>10} ns", "tokio spawn_blocking(|| ()).await", rt[1]);
    println!("{:<42} {:>10.2}x", "tokio / myriad", rt[1] as f64 / rt[0] as f64);
    let _ = std::fs::remove_file(&path);
}

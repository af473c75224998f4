//! `myriad::io`'s standard streams, checked in a child process of this
//! test binary (re-run with `MYRIAD_TEST_CHILD` set) whose stdin, stdout
//! and stderr are pipes held by the test: a thread waiting for input parks
//! instead of blocking its worker, lines come through in order, and
//! output locks are reentrant and keep locked writes together.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

fn child_mode() -> Option<String> {
    std::env::var("MYRIAD_TEST_CHILD").ok()
}

/// The child: one worker and no stall monitor in reach, so a reader that
/// blocked the worker would keep every other thread from running.
fn child_echo() {
    use myriad::io::{self, BufRead as _, Write as _};
    let reader = myriad::thread::spawn(|| {
        let mut count = 0;
        let mut first = String::new();
        io::stdin().read_line(&mut first).unwrap();
        let mut out = io::stdout().lock();
        writeln!(out, "echo: {}", first.trim_end().to_uppercase()).unwrap();
        drop(out);
        count += 1;
        for line in io::stdin().lines() {
            let line = line.unwrap();
            let mut out = io::stdout().lock();
            // Reentrant: the holder may write through another handle.
            writeln!(io::stdout(), "echo: {}", line.to_uppercase()).unwrap();
            out.flush().unwrap();
            count += 1;
        }
        count
    });
    // Give the reader time to start waiting (not needed for correctness).
    std::thread::sleep(Duration::from_millis(100));
    // While the reader waits for input, other threads on the one worker run.
    let others: usize = (0..100).map(|i| myriad::thread::spawn(move || i)).map(|h| h.join().unwrap()).sum();
    myriad::thread::spawn(move || {
        let mut out = io::stdout().lock();
        writeln!(out, "ready {others}").unwrap();
        out.flush().unwrap();
        writeln!(io::stderr(), "to stderr").unwrap();
    })
    .join()
    .unwrap();
    let count = reader.join().unwrap();
    let mut out = io::stdout();
    writeln!(out, "lines: {count}").unwrap();
    out.flush().unwrap();
    let _ = io::stdin().lock().fill_buf().map(|b| assert!(b.is_empty(), "end of input"));
}

#[test]
fn stdin_and_stdout_park_the_thread_not_the_worker() {
    if child_mode().as_deref() == Some("echo") {
        child_echo();
        return;
    }
    let exe = std::env::current_exe().unwrap();
    let mut child = Command::new(exe)
        .args(["stdin_and_stdout_park_the_thread_not_the_worker", "--exact", "--nocapture", "--test-threads=1"])
        .env("MYRIAD_TEST_CHILD", "echo")
        .env("MYRIAD_WORKERS", "1")
        // No stall monitor rescue: a blocked worker would stay blocked.
        .env("MYRIAD_STALL_MS", "3600000")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let (lines_tx, lines) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let line = line.unwrap();
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    let next_line = || loop {
        // A bound so that a blocked worker fails the test instead of hanging it.
        let line = lines.recv_timeout(Duration::from_secs(60)).expect("the child should keep running");
        // The harness prints "test <name> ... " before the child's own output.
        let line = match line.split_once(" ... ") {
            Some((_, rest)) => rest.to_string(),
            None => line,
        };
        if !line.starts_with("running") && !line.is_empty() {
            return line;
        }
    };
    // No input yet: the reader is waiting, yet the others ran on the one worker.
    assert_eq!(next_line(), "ready 4950");
    writeln!(stdin, "first").unwrap();
    stdin.flush().unwrap();
    assert_eq!(next_line(), "echo: FIRST");
    for i in 0..1000 {
        writeln!(stdin, "line {i}").unwrap();
    }
    drop(stdin); // end of input
    for i in 0..1000 {
        assert_eq!(next_line(), format!("echo: LINE {i}"));
    }
    assert_eq!(next_line(), "lines: 1001");
    let status = child.wait().unwrap();
    let mut err = String::new();
    stderr.read_to_string(&mut err).unwrap();
    assert!(status.success(), "child failed: {err}");
    assert!(err.contains("to stderr"), "stderr: {err}");
    drop(lines);
    reader.join().unwrap();
}

#[test]
fn output_from_many_threads_keeps_locked_writes_together() {
    if child_mode().as_deref() == Some("many") {
        use myriad::io::Write as _;
        let handles: Vec<_> = (0..500)
            .map(|i| {
                myriad::thread::spawn(move || {
                    let mut out = myriad::io::stdout().lock();
                    write!(out, "<{i}").unwrap();
                    write!(out, "|").unwrap();
                    writeln!(out, "{i}>").unwrap();
                })
            })
            .collect();
        handles.into_iter().for_each(|h| h.join().unwrap());
        myriad::io::stdout().flush().unwrap();
        return;
    }
    let exe = std::env::current_exe().unwrap();
    let out = Command::new(exe)
        .args(["output_from_many_threads_keeps_locked_writes_together", "--exact", "--nocapture"])
        .env("MYRIAD_TEST_CHILD", "many")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let mut seen: Vec<u32> = text
        .lines()
        .filter(|l| l.starts_with('<'))
        .map(|l| {
            let (a, b) = l.trim_start_matches('<').trim_end_matches('>').split_once('|').unwrap();
            assert_eq!(a, b, "interleaved: {l}");
            a.parse().unwrap()
        })
        .collect();
    seen.sort_unstable();
    assert_eq!(seen, (0..500).collect::<Vec<_>>());
}

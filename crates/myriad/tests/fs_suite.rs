//! The `myriad::fs` suite, run on both paths of file data: every `case_*`
//! test runs in this process (io_uring, the default here) and again in a
//! child process of this same test binary with `MYRIAD_IO_URING=0` (the
//! offload-pool fallback), via `suite_passes_on_the_offload_fallback`.
//! Each case checks which path its data operations took. Every case works
//! in a fresh temporary directory of its own.

use std::collections::BTreeSet;
use std::io::{ErrorKind, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use myriad::fs::{self, File, FileExt, OpenOptions};

/// A fresh directory, removed (with its contents) when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let mode = if forced_off() { "fallback" } else { "uring" };
        let path = std::env::temp_dir().join(format!("myriad-fs-{}-{mode}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }

    fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn forced_off() -> bool {
    std::env::var("MYRIAD_IO_URING").is_ok_and(|v| v.trim() == "0")
}

/// Runs `f` on a myriad thread and returns its result.
fn on_myriad<R: Send + 'static>(f: impl FnOnce() -> R + Send + 'static) -> R {
    myriad::thread::spawn(f).join().unwrap()
}

/// Runs `f` on a myriad thread and checks that its data operations took
/// the path this process is meant to use.
fn data_on_myriad<R: Send + 'static>(f: impl FnOnce() -> R + Send + 'static) -> R {
    let before = fs::io_uring_operations();
    let result = on_myriad(f);
    let after = fs::io_uring_operations();
    if forced_off() {
        assert!(!fs::io_uring_active(), "MYRIAD_IO_URING=0 must turn io_uring off");
        assert_eq!(after, 0, "no operation may go through io_uring on the fallback");
    } else {
        assert!(fs::io_uring_active(), "io_uring should work on this machine (see docs/DESIGN.md)");
        assert!(after > before, "data operations should go through io_uring");
    }
    result
}

#[test]
fn case_errors_have_std_kinds() {
    let dir = TempDir::new("errors");
    let root = dir.0.clone();
    data_on_myriad(move || {
        let file = root.join("file");
        let sub = root.join("sub");
        fs::write(&file, "x").unwrap();
        fs::create_dir(&sub).unwrap();
        fs::write(sub.join("inside"), "y").unwrap();

        assert_eq!(File::open(root.join("missing")).unwrap_err().kind(), ErrorKind::NotFound);
        assert_eq!(fs::read(root.join("missing")).unwrap_err().kind(), ErrorKind::NotFound);
        assert_eq!(fs::metadata(root.join("missing")).unwrap_err().kind(), ErrorKind::NotFound);
        // A directory opens read-only, but reading it (a data operation) fails.
        let mut d = File::open(&sub).unwrap();
        assert_eq!(d.read(&mut [0; 8]).unwrap_err().kind(), ErrorKind::IsADirectory);
        assert_eq!(d.read_at(&mut [0; 8], 0).unwrap_err().kind(), ErrorKind::IsADirectory);
        assert_eq!(fs::read(&sub).unwrap_err().kind(), ErrorKind::IsADirectory);
        assert_eq!(File::create(&sub).unwrap_err().kind(), ErrorKind::IsADirectory);
        assert_eq!(fs::remove_file(&sub).unwrap_err().kind(), ErrorKind::IsADirectory);
        assert_eq!(File::create_new(&file).unwrap_err().kind(), ErrorKind::AlreadyExists);
        assert_eq!(fs::create_dir(&sub).unwrap_err().kind(), ErrorKind::AlreadyExists);
        assert_eq!(fs::remove_dir(&sub).unwrap_err().kind(), ErrorKind::DirectoryNotEmpty);
        assert_eq!(fs::read_dir(&file).unwrap_err().kind(), ErrorKind::NotADirectory);
        assert_eq!(fs::create_dir(file.join("below")).unwrap_err().kind(), ErrorKind::NotADirectory);
        assert_eq!(fs::read_link(&file).unwrap_err().kind(), ErrorKind::InvalidInput);
        assert_eq!(OpenOptions::new().open(&file).unwrap_err().kind(), ErrorKind::InvalidInput);
        // Writing through a read-only handle: EBADF, as with std.
        let ro = File::open(&file).unwrap();
        assert_eq!((&ro).write(b"no").unwrap_err().raw_os_error(), Some(libc::EBADF));
        assert_eq!(ro.write_at(b"no", 0).unwrap_err().raw_os_error(), Some(libc::EBADF));
        // Tests run as root, which passes every mode check; these refuse even root.
        assert_eq!(fs::remove_file("/proc/version").unwrap_err().kind(), ErrorKind::PermissionDenied);
        if Path::new("/sys/kernel/notes").exists() {
            let err = OpenOptions::new().write(true).open("/sys/kernel/notes").unwrap_err();
            assert_eq!(err.kind(), ErrorKind::PermissionDenied);
        }
        // Invalid UTF-8 is InvalidData, and no bytes are taken.
        fs::write(&file, [0xff, 0xfe]).unwrap();
        assert_eq!(fs::read_to_string(&file).unwrap_err().kind(), ErrorKind::InvalidData);
    });
}

#[test]
fn case_position_stays_consistent_across_read_write_seek() {
    let dir = TempDir::new("position");
    let path = dir.join("f");
    let p = path.clone();
    let mut file = data_on_myriad(move || {
        let mut f = OpenOptions::new().read(true).write(true).create(true).truncate(true).open(&p).unwrap();
        f.write_all(b"hello world").unwrap();
        assert_eq!(f.stream_position().unwrap(), 11);
        f.seek(SeekFrom::Start(6)).unwrap();
        let mut five = [0; 5];
        f.read_exact(&mut five).unwrap();
        assert_eq!(&five, b"world");
        assert_eq!(f.stream_position().unwrap(), 11);
        assert_eq!(f.read(&mut five).unwrap(), 0, "at the end");
        f.seek(SeekFrom::Current(-5)).unwrap();
        f.write_all(b"WORLD").unwrap();
        assert_eq!(f.seek(SeekFrom::End(0)).unwrap(), 11);
        // Positioned IO leaves the position alone.
        f.write_all_at(b"HE", 0).unwrap();
        let mut two = [0; 2];
        f.read_exact_at(&mut two, 0).unwrap();
        assert_eq!(&two, b"HE");
        assert_eq!(f.stream_position().unwrap(), 11);
        // A clone shares the position.
        let mut clone = f.try_clone().unwrap();
        clone.seek(SeekFrom::Start(0)).unwrap();
        let mut head = [0; 5];
        f.read_exact(&mut head).unwrap();
        assert_eq!(&head, b"HEllo");
        assert_eq!(clone.stream_position().unwrap(), 5);
        // Through `&File` too.
        (&f).write_all(b"_").unwrap();
        assert_eq!((&f).stream_position().unwrap(), 6);
        f
    });
    // The same handle from an OS thread continues where the myriad thread left off.
    let mut rest = String::new();
    file.read_to_string(&mut rest).unwrap();
    assert_eq!(rest, "WORLD");
    file.seek(SeekFrom::Start(0)).unwrap();
    let mut file = on_myriad(move || {
        let mut all = String::new();
        file.read_to_string(&mut all).unwrap();
        assert_eq!(all, "HEllo_WORLD");
        file
    });
    assert_eq!(file.stream_position().unwrap(), 11);
    assert_eq!(std::fs::read(&path).unwrap(), b"HEllo_WORLD");
}

#[test]
fn case_append_mode_writes_at_the_end() {
    let dir = TempDir::new("append");
    let path = dir.join("log");
    data_on_myriad(move || {
        fs::write(&path, "one\n").unwrap();
        let mut log = OpenOptions::new().append(true).open(&path).unwrap();
        log.write_all(b"two\n").unwrap();
        let mut other = OpenOptions::new().append(true).open(&path).unwrap();
        other.write_all(b"three\n").unwrap();
        log.write_all(b"four\n").unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "one\ntwo\nthree\nfour\n");
    });
}

#[test]
fn case_read_at_and_write_at() {
    let dir = TempDir::new("at");
    let path = dir.join("f");
    data_on_myriad(move || {
        let f = OpenOptions::new().read(true).write(true).create_new(true).open(&path).unwrap();
        // Writing past the end leaves a hole of zeros.
        f.write_all_at(b"tail", 8192).unwrap();
        assert_eq!(f.metadata().unwrap().len(), 8196);
        let mut buf = vec![1u8; 8196];
        f.read_exact_at(&mut buf, 0).unwrap();
        assert!(buf[..8192].iter().all(|&b| b == 0));
        assert_eq!(&buf[8192..], b"tail");
        assert_eq!(f.read_at(&mut buf, 8196).unwrap(), 0);
        let err = f.read_exact_at(&mut buf[..10], 8190).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::UnexpectedEof);
        // Many positioned writes from many threads land where they were aimed.
        let f = std::sync::Arc::new(f);
        let handles: Vec<_> = (0..64u64)
            .map(|i| {
                let f = f.clone();
                myriad::thread::spawn(move || f.write_all_at(&[i as u8; 128], i * 128).unwrap())
            })
            .collect();
        handles.into_iter().for_each(|h| h.join().unwrap());
        let mut all = vec![0u8; 64 * 128];
        f.read_exact_at(&mut all, 0).unwrap();
        for (i, chunk) in all.chunks(128).enumerate() {
            assert!(chunk.iter().all(|&b| b == i as u8), "chunk {i}");
        }
        assert_eq!((&*f).stream_position().unwrap(), 0);
    });
}

#[test]
fn case_set_len_sync_metadata_permissions() {
    let dir = TempDir::new("set-len");
    let path = dir.join("f");
    data_on_myriad(move || {
        let mut f = File::create(&path).unwrap();
        f.write_all(&[7u8; 1000]).unwrap();
        f.sync_all().unwrap();
        f.set_len(10).unwrap();
        assert_eq!(f.metadata().unwrap().len(), 10);
        assert_eq!(f.stream_position().unwrap(), 1000, "set_len leaves the position");
        f.set_len(100_000).unwrap();
        f.sync_data().unwrap();
        let meta = fs::metadata(&path).unwrap();
        assert_eq!(meta.len(), 100_000);
        assert!(meta.is_file() && !meta.is_dir());
        let bytes = fs::read(&path).unwrap();
        assert_eq!(&bytes[..10], &[7u8; 10]);
        assert!(bytes[10..].iter().all(|&b| b == 0));
        f.set_permissions(fs::Permissions::from_mode(0o604)).unwrap();
        assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o604);
        fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).unwrap();
        assert_eq!(f.metadata().unwrap().permissions().mode() & 0o777, 0o640);
        // std's File converts both ways.
        let std_file: std::fs::File = f.into();
        let back = File::from(std_file);
        assert_eq!(back.metadata().unwrap().len(), 100_000);
    });
}

#[test]
fn case_read_dir_lists_every_entry() {
    let dir = TempDir::new("read-dir");
    let root = dir.0.clone();
    data_on_myriad(move || {
        // More entries than one batch.
        let mut expected = BTreeSet::new();
        for i in 0..300 {
            let name = format!("file-{i:03}");
            fs::write(root.join(&name), name.as_bytes()).unwrap();
            expected.insert(name);
        }
        fs::create_dir(root.join("sub")).unwrap();
        expected.insert("sub".to_string());
        let mut seen = BTreeSet::new();
        for entry in fs::read_dir(&root).unwrap() {
            let entry = entry.unwrap();
            let name = entry.file_name().into_string().unwrap();
            assert_eq!(entry.file_type().unwrap().is_dir(), name == "sub");
            assert_eq!(entry.path(), root.join(&name));
            if name != "sub" {
                assert_eq!(fs::read_to_string(entry.path()).unwrap(), name);
            }
            assert!(seen.insert(name), "listed twice");
        }
        assert_eq!(seen, expected);
        assert_eq!(fs::read_dir(root.join("sub")).unwrap().count(), 0);
    });
}

#[test]
fn case_create_dir_all_and_remove_dir_all() {
    let dir = TempDir::new("tree");
    let root = dir.0.clone();
    data_on_myriad(move || {
        let deep = root.join("a/b/c/d");
        fs::create_dir_all(&deep).unwrap();
        fs::create_dir_all(&deep).unwrap(); // exists: fine
        fs::DirBuilder::new().recursive(true).create(root.join("a/x/y")).unwrap();
        fs::write(deep.join("f"), "deep").unwrap();
        fs::write(root.join("a/b/g"), "mid").unwrap();
        fs::symlink(root.join("a/b"), root.join("a/x/link")).unwrap();
        assert!(fs::metadata(&deep).unwrap().is_dir());
        assert!(fs::exists(deep.join("f")).unwrap());
        fs::remove_dir_all(root.join("a/x")).unwrap();
        // The link was removed, not followed.
        assert_eq!(fs::read_to_string(deep.join("f")).unwrap(), "deep");
        fs::remove_dir_all(root.join("a")).unwrap();
        assert!(!fs::exists(root.join("a")).unwrap());
        assert!(!fs::try_exists(root.join("a/b")).unwrap());
        assert_eq!(fs::remove_dir_all(root.join("a")).unwrap_err().kind(), ErrorKind::NotFound);
        assert_eq!(fs::read_dir(&root).unwrap().count(), 0);
    });
}

#[test]
fn case_copy_rename_and_links() {
    let dir = TempDir::new("copy");
    let root = dir.0.clone();
    data_on_myriad(move || {
        let a = root.join("a");
        let data: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
        fs::write(&a, &data).unwrap();
        fs::set_permissions(&a, fs::Permissions::from_mode(0o612)).unwrap();
        assert_eq!(fs::copy(&a, root.join("b")).unwrap(), data.len() as u64);
        assert_eq!(fs::read(root.join("b")).unwrap(), data);
        assert_eq!(fs::metadata(root.join("b")).unwrap().permissions().mode() & 0o777, 0o612);
        assert_eq!(fs::copy(root.join("missing"), root.join("c")).unwrap_err().kind(), ErrorKind::NotFound);

        fs::rename(root.join("b"), root.join("c")).unwrap();
        assert!(!fs::exists(root.join("b")).unwrap());
        fs::write(root.join("d"), "replaced").unwrap();
        fs::rename(root.join("c"), root.join("d")).unwrap(); // replaces d
        assert_eq!(fs::read(root.join("d")).unwrap(), data);
        assert_eq!(fs::rename(root.join("c"), root.join("e")).unwrap_err().kind(), ErrorKind::NotFound);

        fs::hard_link(&a, root.join("hard")).unwrap();
        assert_eq!(fs::read(root.join("hard")).unwrap(), data);
        fs::symlink("a", root.join("soft")).unwrap();
        assert_eq!(fs::read_link(root.join("soft")).unwrap(), Path::new("a"));
        assert!(fs::symlink_metadata(root.join("soft")).unwrap().file_type().is_symlink());
        assert!(fs::metadata(root.join("soft")).unwrap().is_file());
        assert_eq!(fs::canonicalize(root.join("soft")).unwrap(), fs::canonicalize(&a).unwrap());
        fs::symlink("nowhere", root.join("dangling")).unwrap();
        assert!(!fs::exists(root.join("dangling")).unwrap());
    });
}

#[test]
fn case_whole_file_functions_and_large_data() {
    let dir = TempDir::new("whole");
    let path = dir.join("big");
    data_on_myriad(move || {
        let data: Vec<u8> = (0..(3 << 20) + 17).map(|i: u32| (i % 253) as u8).collect();
        fs::write(&path, &data).unwrap();
        assert_eq!(fs::read(&path).unwrap(), data);
        let mut via_file = Vec::new();
        File::open(&path).unwrap().read_to_end(&mut via_file).unwrap();
        assert_eq!(via_file, data);
        // read_to_end appends, whatever the buffer's capacity.
        for capacity in [0, 10, data.len(), data.len() + 1] {
            let mut buf = Vec::with_capacity(capacity);
            buf.extend_from_slice(b"head");
            let mut f = File::open(&path).unwrap();
            assert_eq!(f.read_to_end(&mut buf).unwrap(), data.len());
            assert_eq!(&buf[..4], b"head");
            assert_eq!(&buf[4..], &data[..]);
        }
        // From the middle of the file, through `&File`.
        let f = File::open(&path).unwrap();
        (&f).seek(SeekFrom::Start(1000)).unwrap();
        let mut tail = Vec::new();
        (&f).read_to_end(&mut tail).unwrap();
        assert_eq!(tail, &data[1000..]);
        // Invalid UTF-8 leaves the string as it was.
        let mut text = String::from("kept");
        let err = File::open(&path).unwrap().read_to_string(&mut text).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidData);
        assert_eq!(text, "kept");
        fs::write(&path, "text ✓").unwrap();
        File::open(&path).unwrap().read_to_string(&mut text).unwrap();
        assert_eq!(text, "kepttext ✓");
        assert_eq!(fs::read_to_string(&path).unwrap(), "text ✓");
        fs::write(&path, "").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"");
    });
}

#[test]
fn case_os_threads_get_std_behaviour() {
    let dir = TempDir::new("os-thread");
    let path = dir.join("f");
    // No myriad thread involved: every call is std's own.
    let mut f = OpenOptions::new().read(true).write(true).create(true).truncate(true).open(&path).unwrap();
    f.write_all(b"from the OS thread").unwrap();
    f.sync_all().unwrap();
    f.rewind().unwrap();
    let mut s = String::new();
    f.read_to_string(&mut s).unwrap();
    assert_eq!(s, "from the OS thread");
    let mut four = [0; 4];
    f.read_exact_at(&mut four, 5).unwrap();
    assert_eq!(&four, b"the ");
    assert_eq!(fs::read_dir(&dir.0).unwrap().count(), 1);
    assert_eq!(File::open(dir.join("missing")).unwrap_err().kind(), ErrorKind::NotFound);
}

#[test]
fn case_ten_thousand_threads_read_and_write_their_own_files() {
    const THREADS: usize = 10_000;
    let dir = TempDir::new("ten-thousand");
    let root = std::sync::Arc::new(dir.0.clone());
    let before = fs::io_uring_operations();
    let handles: Vec<_> = (0..THREADS)
        .map(|i| {
            let root = root.clone();
            myriad::thread::spawn(move || {
                let path = root.join(format!("{i}"));
                let content: Vec<u8> = (0..1024 + i % 3000).map(|j| (i * 31 + j) as u8).collect();
                // Open, write, close; then read back: at most one descriptor per thread.
                {
                    let mut f = File::create(&path).unwrap();
                    f.write_all(&content).unwrap();
                }
                let mut f = File::open(&path).unwrap();
                let mut back = Vec::new();
                f.read_to_end(&mut back).unwrap();
                assert_eq!(back, content, "thread {i}");
                let mut piece = [0u8; 16];
                f.read_exact_at(&mut piece, 100).unwrap();
                assert_eq!(&piece, &content[100..116]);
                drop(f);
                fs::remove_file(&path).unwrap();
                content.len()
            })
        })
        .collect();
    let total: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();
    let expected: usize = (0..THREADS).map(|i| 1024 + i % 3000).sum();
    assert_eq!(total, expected);
    assert_eq!(fs::read_dir(&dir.0).unwrap().count(), 0);
    let after = fs::io_uring_operations();
    if forced_off() {
        assert_eq!(after, 0);
    } else {
        assert!(after >= before + 3 * THREADS as u64, "each thread's data went through io_uring");
    }
}

/// Runs every `case_*` test again in a child process on the fallback path.
#[test]
fn suite_passes_on_the_offload_fallback() {
    if forced_off() {
        return; // Already the child (or a fallback run of the whole file).
    }
    let exe = std::env::current_exe().unwrap();
    let out = Command::new(exe).args(["case_", "--test-threads=4"]).env("MYRIAD_IO_URING", "0").output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "fallback run failed:\n{stdout}\n{stderr}");
    let cases = 11;
    assert!(stdout.contains(&format!("test result: ok. {cases} passed")), "expected {cases} cases:\n{stdout}");
}

#!/usr/bin/env bash
# AddressSanitizer run of the core, sync, unwinding and soundness suites,
# with corosensei's stack-switch annotations (its `sanitizer` feature calls
# __sanitizer_start/finish_switch_fiber on every switch).
#
# -Zsanitizer is a nightly flag; the stable toolchain ships the ASan runtime
# (librustc-stable_rt.asan.a) but accepts -Z only with RUSTC_BOOTSTRAP=1,
# which is what this script uses: an unsupported escape hatch, so this is a
# manual check, not part of .ci/run. valgrind (scripts/valgrind.sh) is the
# supported memory check.
#
# Leak detection is off: LeakSanitizer does not scan the threads' stacks
# (mmap'd by rt/stack.rs), so anything only a parked thread refers to shows
# up as leaked (288 bytes in 3 blocks in soundness_probes, most likely what
# its echo server's accept loop, still parked at exit, holds; valgrind, which
# scans all memory, finds no definite leak there); valgrind checks leaks.
# `deep_recursion_fits_the_default_stack` is skipped: ASan's redzones make
# its frames several times larger and it overflows (reported correctly) the
# 256 KiB default stack.
set -euo pipefail
cd "$(dirname "$0")/.."

target=$(rustc -vV | sed -n 's/^host: //p')
export RUSTC_BOOTSTRAP=1 RUSTFLAGS="-Zsanitizer=address" CARGO_TARGET_DIR=target/asan
export ASAN_OPTIONS="detect_leaks=0:abort_on_error=1" RUST_BACKTRACE=0
cargo test -p myriad --features corosensei/sanitizer --target "$target" \
    --test thread --test sync_locks --test sync_channels --test unwinding --test soundness_probes \
    -- --skip deep_recursion_fits_the_default_stack

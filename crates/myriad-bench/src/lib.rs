//! myriad-bench: myriad against `std::thread`, tokio and may, in one run.
//!
//! The binary (`cargo run --release -p myriad-bench`) is a parent that
//! re-executes itself once per system, workload and size (`--child ...`),
//! so that each configuration gets a fresh process (cold rounds are really
//! cold, runtimes are configured before first use) and a peer that aborts
//! — std threads on the memory-mapping limit — only ends its own child.
//! The parent collects the children's lines, prints one table and writes
//! `results/`.

pub mod burst;
pub mod calib;
pub mod chart;
pub mod child;
pub mod machine;
pub mod parking;
pub mod report;
pub mod stats;
pub mod systems;

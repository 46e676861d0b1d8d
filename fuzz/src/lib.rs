//! Shared harness for the fuzz targets (also replayed by `tests/robustness.rs`).

pub mod harness;

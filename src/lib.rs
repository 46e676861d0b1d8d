//! aoftool: exact, fast, offline readers and tools for Redis and Valkey persistence files.
#![deny(missing_docs)]

pub mod aof;
pub mod check;
pub mod convert;
pub mod cursor;
pub mod dataset;
pub mod emit;
pub mod error;
pub mod file_sink;
pub mod filter;
pub mod glob;
pub mod input;
pub mod json;
pub mod json_reader;
pub mod keyspace;
pub mod parallel;
pub mod rdb;
pub mod rewrite;
pub mod safe_write;
pub mod vector_set;

pub use error::{Error, ErrorKind, Result};
pub use input::Input;

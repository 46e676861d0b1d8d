//! aoftool: exact, fast, offline readers and tools for Redis and Valkey persistence files.
#![deny(missing_docs)]

pub mod cursor;
pub mod error;
pub mod input;
pub mod rdb;

pub use error::{Error, ErrorKind, Result};
pub use input::Input;

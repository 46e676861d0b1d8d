//! Reading AOF files: RESP framing, annotations, multi-part manifests, and checking.
//!
//! Layouts follow Redis's and Valkey's `src/aof.c` (writing and loading) and
//! `src/redis-check-aof.c` (what the official checker accepts).

pub mod commands;
pub mod manifest;
pub mod reader;
pub mod resp;
pub mod scan;

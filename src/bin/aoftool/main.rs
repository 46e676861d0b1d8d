//! The `aoftool` command line.

mod cmd;
mod output;
mod progress;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Decoding allocates many small vectors from many threads; mimalloc handles that best.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Exact, fast, offline tools for Redis and Valkey RDB and AOF files.
#[derive(Parser)]
#[command(name = "aoftool", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check an AOF (file, multi-part directory or manifest) or an RDB file; repair with --fix.
    Check(cmd::check::Args),
    /// Convert an RDB file to JSON Lines, JSON, RDB or RESP; JSON back to RDB or RESP.
    Convert(cmd::convert::Args),
    /// Rewrite an AOF (or RDB file) to its minimal form, offline.
    Rewrite(cmd::rewrite::Args),
}

/// How a command ended, mapped to the exit status.
pub enum Outcome {
    /// Everything was fine (exit 0).
    Ok,
    /// The input has problems (exit 1).
    Problems,
}

/// mimalloc 3's option numbers (`mi_option_e` in its `mimalloc.h`).
mod mi_option {
    pub const ALLOW_LARGE_OS_PAGES: libmimalloc_sys::mi_option_t = 6;
    pub const PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;
}

/// By default mimalloc hands freed memory back to the OS after 10 ms and faults it in again
/// 4 KiB at a time when the heap grows again: most of the system time of building a large
/// keyspace went there. A batch tool keeps its memory until it exits, and asks for 2 MiB
/// pages where the kernel offers them (transparent huge pages).
fn tune_allocator() {
    // Address space only: pages are committed as they are touched. (mimalloc refuses an
    // arena of 16 GiB or more; arenas it reserves later have the options.)
    const RESERVE: usize = 8 << 30;
    let mut arena: libmimalloc_sys::mi_arena_id_t = std::ptr::null_mut();
    // SAFETY: called first thing in `main`, before any other thread exists (the option
    // setters are not thread-safe); the options only change when and how memory is committed,
    // and the reserved arena is mimalloc's own to allocate from (it is not exclusive).
    unsafe {
        libmimalloc_sys::mi_option_set(mi_option::PURGE_DELAY, -1);
        libmimalloc_sys::mi_option_set(mi_option::ALLOW_LARGE_OS_PAGES, 1);
        // The arena mimalloc reserved before `main` predates the options: reserve one that
        // has them. If the reservation fails, allocation goes on as before.
        libmimalloc_sys::mi_reserve_os_memory_ex(RESERVE, false, true, false, &mut arena);
    }
}

fn main() -> ExitCode {
    tune_allocator();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Check(args) => cmd::check::run(args),
        Command::Convert(args) => cmd::convert::run(args),
        Command::Rewrite(args) => cmd::rewrite::run(args),
    };
    match result {
        Ok(Outcome::Ok) => ExitCode::SUCCESS,
        Ok(Outcome::Problems) => ExitCode::from(1),
        Err(e) if output::is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("aoftool: {e:#}");
            ExitCode::from(error_status(&e))
        }
    }
}

/// Exit status for an error: 1 when the input is at fault, 2 for usage and I/O errors.
fn error_status(e: &anyhow::Error) -> u8 {
    if e.downcast_ref::<cmd::check::Unrepairable>().is_some() {
        return 1;
    }
    match e.downcast_ref::<aoftool::Error>() {
        Some(err) if !matches!(err.kind(), aoftool::ErrorKind::Io(_)) => 1,
        _ => 2,
    }
}

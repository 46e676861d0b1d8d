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

fn main() -> ExitCode {
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

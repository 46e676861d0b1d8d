//! `aoftool convert INPUT --to jsonl|json`: an RDB file as JSON.

use std::path::PathBuf;

use anyhow::{Context, bail};
use aoftool::Input;
use aoftool::convert::{ChecksumPolicy, ChecksumState, JsonFormat, JsonOptions, rdb_to_json};
use aoftool::filter::Filter;
use aoftool::rdb::Kind;
use clap::ValueEnum;

use crate::Outcome;
use crate::output::Output;

/// Output formats.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Format {
    /// One JSON object per line.
    Jsonl,
    /// One JSON array.
    Json,
}

/// Arguments of `convert`.
#[derive(clap::Args)]
pub struct Args {
    /// RDB file to read (`-` for standard input).
    input: PathBuf,
    /// Output format.
    #[arg(long = "to", value_enum)]
    to: Format,
    /// Output file (default: standard output). Written to a temporary file and renamed.
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// Keep only this database (repeatable).
    #[arg(long = "db")]
    dbs: Vec<u64>,
    /// Keep only keys matching this Redis glob (`*`, `?`, `[a-z]`, `\x`).
    #[arg(long)]
    key: Option<String>,
    /// Keep only keys matching this regular expression.
    #[arg(long)]
    key_regex: Option<String>,
    /// Keep only values of this type: string, list, set, zset, hash, stream, module (repeatable).
    #[arg(long = "type")]
    types: Vec<String>,
    /// Leave out keys already expired now, or at the given Unix time in milliseconds.
    #[arg(long, value_name = "UNIX_MS", num_args = 0..=1, default_missing_value = "now")]
    skip_expired: Option<String>,
    /// Write only keys: no header, aux fields, functions or module aux records.
    #[arg(long)]
    keys_only: bool,
    /// Report a checksum mismatch as a warning and keep the output.
    #[arg(long)]
    ignore_checksum: bool,
    /// Worker threads (default: all cores). Output is identical for any value.
    #[arg(long)]
    threads: Option<usize>,
}

/// Runs `convert`.
pub fn run(args: Args) -> anyhow::Result<Outcome> {
    let filter = build_filter(&args)?;
    let input = Input::open(&args.input).with_context(|| format!("opening {}", args.input.display()))?;
    let data = input.bytes();
    let options = JsonOptions {
        format: match args.to {
            Format::Jsonl => JsonFormat::Lines,
            Format::Json => JsonFormat::Document,
        },
        filter,
        include_meta: !args.keys_only,
        threads: args.threads.unwrap_or_else(rayon::current_num_threads).max(1),
        checksum: if args.ignore_checksum { ChecksumPolicy::Warn } else { ChecksumPolicy::Verify },
    };
    let mut out = Output::create(args.output.as_deref())?;
    let bar = crate::progress::bar(data.len() as u64);
    let summary = rdb_to_json(data, &options, &mut out, &|pos| bar.set_position(pos))
        .with_context(|| args.input.display().to_string())?;
    bar.finish_and_clear();
    out.finish()?;
    if let ChecksumState::Mismatch { stored, computed } = summary.checksum {
        eprintln!(
            "aoftool: warning: {}: CRC-64 mismatch: stored {stored:#018x}, computed {computed:#018x}",
            args.input.display()
        );
        return Ok(Outcome::Problems);
    }
    Ok(Outcome::Ok)
}

fn build_filter(args: &Args) -> anyhow::Result<Filter> {
    let kinds = args
        .types
        .iter()
        .map(|t| Kind::from_name(t).with_context(|| format!("unknown type {t:?}")))
        .collect::<anyhow::Result<_>>()?;
    let expired_at_ms = match args.skip_expired.as_deref() {
        None => None,
        Some("now") => Some(now_ms()),
        Some(ms) => {
            Some(ms.parse().with_context(|| format!("--skip-expired takes Unix milliseconds, not {ms:?}"))?)
        }
    };
    let key_regex = match &args.key_regex {
        Some(re) => Some(regex::bytes::Regex::new(re).context("--key-regex")?),
        None => None,
    };
    if args.threads == Some(0) {
        bail!("--threads must be at least 1");
    }
    Ok(Filter {
        dbs: args.dbs.clone(),
        key_glob: args.key.as_ref().map(|k| k.as_bytes().to_vec()),
        key_regex,
        kinds,
        expired_at_ms,
    })
}

fn now_ms() -> i64 {
    let since_epoch = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    i64::try_from(since_epoch.as_millis()).unwrap_or(i64::MAX)
}

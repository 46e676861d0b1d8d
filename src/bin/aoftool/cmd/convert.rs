//! `aoftool convert INPUT --to jsonl|json|rdb|resp`: an RDB file as JSON, as an RDB file of
//! another version, or as the commands that recreate it.

use std::path::PathBuf;

use anyhow::{Context, bail};
use aoftool::Input;
use aoftool::convert::{ChecksumPolicy, ChecksumState, JsonFormat, JsonOptions, rdb_to_json};
use aoftool::emit;
use aoftool::filter::Filter;
use aoftool::rdb::Kind;
use aoftool::rdb::write::{Adjustments, Lossy, Target, ValueWriter};
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
    /// An RDB file (version from --rdb-version).
    Rdb,
    /// RESP commands that recreate the dataset (for `redis-cli --pipe`).
    Resp,
}

/// Arguments of `convert`.
#[derive(clap::Args)]
pub struct Args {
    /// RDB file, or JSON Lines / JSON document as `--to jsonl|json` writes them (`-` for
    /// standard input).
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
    /// RDB format to write (rdb; and RESTORE payloads of resp): 9, 10, 11, 12, 13 or valkey80.
    /// Default: the input's version, moved into that range; 10 without one.
    #[arg(long, value_name = "VERSION")]
    rdb_version: Option<String>,
    /// resp: write every key as RESTORE with a DUMP payload instead of creating commands.
    #[arg(long)]
    restore: bool,
    /// Write hashes with field TTLs without them when the target has none (reported).
    #[arg(long)]
    drop_field_ttls: bool,
    /// Leave out function libraries when the target has none (RDB 9; reported).
    #[arg(long)]
    drop_functions: bool,
    /// Worker threads (default: all cores). Output is identical for any value.
    #[arg(long)]
    threads: Option<usize>,
}

/// Runs `convert`.
pub fn run(args: Args) -> anyhow::Result<Outcome> {
    let filter = build_filter(&args)?;
    let input = Input::open(&args.input).with_context(|| format!("opening {}", args.input.display()))?;
    let data = input.bytes();
    let threads = args.threads.unwrap_or_else(rayon::current_num_threads).max(1);
    let checksum = if args.ignore_checksum { ChecksumPolicy::Warn } else { ChecksumPolicy::Verify };
    let json_input = is_json(data);
    if matches!(args.to, Format::Rdb | Format::Resp) {
        return write_dataset(&args, data, json_input, filter, threads, checksum);
    }
    if json_input {
        bail!("{}: JSON input converts to rdb or resp, not to JSON again", args.input.display());
    }
    let options = JsonOptions {
        format: match args.to {
            Format::Jsonl => JsonFormat::Lines,
            _ => JsonFormat::Document,
        },
        filter,
        include_meta: !args.keys_only,
        threads,
        checksum,
    };
    let mut out = Output::create(args.output.as_deref())?;
    let bar = crate::progress::bar(data.len() as u64);
    let summary = rdb_to_json(data, &options, &mut out, &|pos| bar.set_position(pos))
        .with_context(|| args.input.display().to_string())?;
    bar.finish_and_clear();
    out.finish()?;
    Ok(checksum_outcome(&args, summary.checksum))
}

/// Warns about a checksum mismatch that `--ignore-checksum` let through.
fn checksum_outcome(args: &Args, checksum: ChecksumState) -> Outcome {
    if let ChecksumState::Mismatch { stored, computed } = checksum {
        eprintln!(
            "aoftool: warning: {}: CRC-64 mismatch: stored {stored:#018x}, computed {computed:#018x}",
            args.input.display()
        );
        return Outcome::Problems;
    }
    Outcome::Ok
}

/// `--to rdb|resp`.
fn write_dataset(
    args: &Args,
    data: &[u8],
    json_input: bool,
    filter: Filter,
    threads: usize,
    checksum: ChecksumPolicy,
) -> anyhow::Result<Outcome> {
    let header = if json_input {
        aoftool::json_reader::JsonReader::new(data).ok().and_then(|r| r.header())
    } else {
        aoftool::rdb::Reader::new(data).ok().map(|r| r.header())
    };
    let target = match &args.rdb_version {
        Some(v) => Target::parse(v).with_context(|| {
            format!("--rdb-version {v:?}: aoftool writes 9, 10, 11, 12, 13 (REDIS) and valkey80 (VALKEY080)")
        })?,
        None => Target::for_input(header),
    };
    let lossy = Lossy { field_ttls: args.drop_field_ttls, functions: args.drop_functions };
    let values = ValueWriter::new(target, lossy);
    let format = match args.to {
        Format::Rdb => emit::Format::Rdb(values),
        _ => emit::Format::Resp(emit::RespWriter::new(values, args.restore)),
    };
    let options = emit::Options { format, filter, threads, checksum };
    let mut out = Output::create(args.output.as_deref())?;
    let bar = crate::progress::bar(data.len() as u64);
    let progress = |pos| bar.set_position(pos);
    let summary = if json_input {
        emit::json_to(data, &options, &mut out, &progress)
    } else {
        emit::rdb_to(data, &options, &mut out, &progress)
    }
    .with_context(|| args.input.display().to_string())?;
    bar.finish_and_clear();
    out.finish()?;
    report(&summary, target, args.to);
    Ok(checksum_outcome(args, summary.checksum))
}

/// JSON input (the schema `--to jsonl|json` writes) starts with `{` or `[`; an RDB file
/// with its magic.
fn is_json(data: &[u8]) -> bool {
    matches!(data.iter().find(|b| !b.is_ascii_whitespace()), Some(b'{' | b'['))
}

/// The closing summary on standard error, with everything the output format changed.
fn report(summary: &emit::Summary, target: Target, to: Format) {
    let what = match to {
        Format::Rdb => format!("an RDB file, {target}"),
        _ => "RESP".to_string(),
    };
    eprintln!(
        "aoftool: wrote {} of {} keys as {what}: {} bytes",
        summary.keys_written, summary.keys_read, summary.bytes_written
    );
    print_adjustments(&summary.adjustments);
}

/// One note on standard error per kind of change the output format made.
pub fn print_adjustments(adj: &Adjustments) {
    let notes = [
        (adj.empty_keys_skipped, "empty keys left out (servers drop them on load)"),
        (adj.field_ttls_dropped, "hash field TTLs dropped (--drop-field-ttls)"),
        (adj.functions_dropped, "function libraries dropped (--drop-functions)"),
        (adj.function_descriptions_dropped, "descriptions of Redis 7.0 release-candidate functions dropped"),
        (adj.stream_metadata_dropped, "streams lost metadata this format has no place for"),
        (
            adj.pending_entries_dropped,
            "pending entries of deleted stream entries lost (XCLAIM cannot recreate them)",
        ),
        (
            adj.idempotent_ids_dropped,
            "idempotent ids of deleted stream entries lost (XIDMPRECORD cannot record them)",
        ),
        (
            adj.idempotent_counters_reset,
            "streams' counts of idempotent ids added and duplicates reset to what a replay counts",
        ),
        (
            adj.empty_vector_attributes_dropped,
            "vector-set elements' empty attributes dropped (the module's form has no place for them)",
        ),
    ];
    for (count, note) in notes.iter().filter(|(n, _)| *n > 0) {
        eprintln!("aoftool: note: {count} {note}");
    }
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

/// The current time in Unix milliseconds.
pub fn now_ms() -> i64 {
    let since_epoch = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    i64::try_from(since_epoch.as_millis()).unwrap_or(i64::MAX)
}

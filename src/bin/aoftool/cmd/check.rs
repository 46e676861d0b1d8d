//! `aoftool check PATH [--fix | --salvage | --truncate-to-timestamp T]`.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use aoftool::Input;
use aoftool::aof::commands::Dialect;
use aoftool::aof::resp::Parser;
use aoftool::check::repair::{Repair, salvage, timestamp_cut};
use aoftool::check::{FileKind, FileReport, check_file};
use aoftool::safe_write::{self, Snapshot};
use serde_json::json;

use crate::Outcome;
use crate::cmd::check_report::{file_json, print_file};

/// Command tables for `--strict`.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum StrictServer {
    /// Redis 7.0.
    Redis7,
    /// Redis 8.6 (with its vector-set commands).
    Redis8,
    /// Valkey 9.1.
    Valkey9,
    /// Any of them.
    Any,
}

impl StrictServer {
    fn dialect(self) -> Dialect {
        match self {
            StrictServer::Redis7 => Dialect::Redis7,
            StrictServer::Redis8 => Dialect::Redis8,
            StrictServer::Valkey9 => Dialect::Valkey9,
            StrictServer::Any => Dialect::Any,
        }
    }
}

/// Arguments of `check`.
#[derive(clap::Args)]
pub struct Args {
    /// An AOF file, an RDB file, or a multi-part AOF directory or manifest.
    path: PathBuf,
    /// Repair by truncating after the last complete command outside an unfinished MULTI.
    #[arg(long)]
    fix: bool,
    /// Repair by dropping only damaged byte ranges and keeping every valid command after them.
    #[arg(long, conflicts_with = "fix")]
    salvage: bool,
    /// Cut at the first `#TS:` annotation later than this Unix time (seconds).
    #[arg(long, value_name = "UNIX_SECONDS", conflicts_with = "salvage")]
    truncate_to_timestamp: Option<i64>,
    /// Report what a repair would change; change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Do not keep the original as `<file>.bak`.
    #[arg(long)]
    no_backup: bool,
    /// In a multi-part AOF, also repair a file that is not the last one, removing the later incr
    /// files from the manifest (they stay on disk).
    #[arg(long)]
    force: bool,
    /// Also flag well-formed commands that the server would reject (unknown command or
    /// subcommand, wrong number of arguments), by the command table of `redis7`, `redis8`,
    /// `valkey9`, or `any` (accepted by any of them).
    #[arg(long, value_name = "SERVER", num_args = 0..=1, default_missing_value = "any")]
    strict: Option<StrictServer>,
    /// Machine-readable report on standard output.
    #[arg(long)]
    json: bool,
    /// Worker threads (default: all cores). Results are identical for any value.
    #[arg(long)]
    threads: Option<usize>,
}

impl Args {
    fn repairs(&self) -> bool {
        self.fix || self.salvage || self.truncate_to_timestamp.is_some()
    }

    fn threads(&self) -> usize {
        self.threads.unwrap_or_else(rayon::current_num_threads).max(1)
    }
}

/// Runs `check`.
pub fn run(args: Args) -> anyhow::Result<Outcome> {
    if args.dry_run && !args.repairs() {
        bail!("--dry-run needs --fix, --salvage or --truncate-to-timestamp");
    }
    if args.path.is_dir() || args.path.extension().is_some_and(|e| e == "manifest") {
        return crate::cmd::check_multipart::run(&args.path, &Settings::from(&args));
    }
    check_single(&args)
}

/// The options shared by single-file and multi-part checks.
pub struct Settings {
    /// Repair requested, if any.
    pub repair: Option<RepairMode>,
    /// Report only.
    pub dry_run: bool,
    /// Keep backups of replaced files.
    pub backup: bool,
    /// Repair files that are not the last of a multi-part AOF.
    pub force: bool,
    /// JSON output.
    pub json: bool,
    /// Worker threads.
    pub threads: usize,
    /// Command table for `--strict`.
    pub strict: Option<Dialect>,
}

impl From<&Args> for Settings {
    fn from(a: &Args) -> Settings {
        Settings {
            repair: RepairMode::of(a),
            dry_run: a.dry_run,
            backup: !a.no_backup,
            force: a.force,
            json: a.json,
            threads: a.threads(),
            strict: a.strict.map(StrictServer::dialect),
        }
    }
}

/// How to repair.
#[derive(Clone, Copy, Debug)]
pub struct RepairMode {
    /// Drop only damaged ranges instead of truncating.
    pub salvage: bool,
    /// Also cut at the first annotation later than this time.
    pub until: Option<i64>,
}

impl RepairMode {
    fn of(a: &Args) -> Option<RepairMode> {
        a.repairs().then_some(RepairMode { salvage: a.salvage, until: a.truncate_to_timestamp })
    }
}

fn check_single(args: &Args) -> anyhow::Result<Outcome> {
    let path = &args.path;
    let snapshot = Snapshot::of(path).with_context(|| format!("reading {}", path.display()))?;
    let input = Input::open(path).with_context(|| format!("opening {}", path.display()))?;
    let data = input.bytes();
    let bar = crate::progress::bar(data.len() as u64);
    let report = check_file(data, args.threads(), args.strict.map(StrictServer::dialect), &|pos| {
        bar.set_position(pos)
    });
    bar.finish_and_clear();
    let planned = match RepairMode::of(args) {
        Some(mode) => plan_repair(data, &report, mode, args.threads()),
        None => Ok(None),
    };
    let repair = planned.as_ref().ok().and_then(Option::as_ref);
    if args.json {
        let mut out = file_json(path, &report);
        out["repair"] = repair_json(repair, args.dry_run);
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        print_file(path, &report);
        if let Some(r) = repair {
            print_repair(r, args.dry_run);
        } else if args.repairs() && !report.is_valid() {
            println!("  nothing to repair by truncation");
        }
    }
    // The report is out (also as JSON); now an unrepairable file ends the command.
    let Some(repair) = planned?.filter(|_| !args.dry_run) else {
        return Ok(if report.is_valid() { Outcome::Ok } else { Outcome::Problems });
    };
    apply(path, snapshot, data, &repair, !args.no_backup, args.json)
}

/// Damage that dropping bytes cannot repair (a damaged RDB part). The input is at fault, so the
/// exit status is 1, as for any invalid input (not 2, which is for usage and I/O errors).
#[derive(Debug)]
pub struct Unrepairable(pub String);

impl std::fmt::Display for Unrepairable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Unrepairable {}

/// Decides what to keep; `Ok(None)` when the file needs no change.
///
/// # Errors
/// [`Unrepairable`] when the damage cannot be repaired by dropping bytes (a damaged RDB part).
pub fn plan_repair(
    data: &[u8],
    report: &FileReport,
    mode: RepairMode,
    threads: usize,
) -> anyhow::Result<Option<Repair>> {
    let len = data.len() as u64;
    if let Some(problem) = report.problem.as_ref().filter(|p| p.cut.is_none()) {
        let why =
            format!("{} cannot be repaired by dropping bytes: {}", describe(report.kind), problem.error);
        return Err(Unrepairable(why).into());
    }
    let body_start = report.resp.as_ref().map(|r| r.start);
    let parser = body_start.map(|s| Parser::new(&data[s as usize..], s));
    let mut cut = report.problem.as_ref().and_then(|p| p.cut.as_ref()).map(|c| c.offset);
    if let (Some(until), Some(parser)) = (mode.until, &parser)
        && let Some(ts) = timestamp_cut(parser, until, threads)
    {
        cut = Some(cut.map_or(ts, |c| c.min(ts)));
    }
    if let Some(parser) = parser.as_ref().filter(|_| mode.salvage && report.problem.is_some()) {
        return Ok(salvage(parser));
    }
    Ok(cut.map(|c| Repair::truncate(len, c)).filter(|r| !r.is_noop()))
}

fn describe(kind: FileKind) -> &'static str {
    match kind {
        FileKind::Rdb => "an RDB file",
        FileKind::Preamble => "the RDB preamble of this AOF",
        FileKind::Resp | FileKind::Empty => "this AOF",
    }
}

fn print_repair(repair: &Repair, dry_run: bool) {
    let verb = if dry_run { "would drop" } else { "drops" };
    println!("  repair {verb} {} bytes:", repair.dropped_bytes());
    for r in &repair.dropped {
        println!("    [{}, {}) ({} bytes)", r.start, r.end, r.end - r.start);
    }
}

fn repair_json(repair: Option<&Repair>, dry_run: bool) -> serde_json::Value {
    match repair {
        None => serde_json::Value::Null,
        Some(r) => json!({
            "dry_run": dry_run,
            "dropped_bytes": r.dropped_bytes(),
            "dropped": r.dropped.iter().map(|x| json!([x.start, x.end])).collect::<Vec<_>>(),
        }),
    }
}

/// Writes the repaired file safely and checks the result.
pub fn apply(
    path: &Path,
    seen: Snapshot,
    data: &[u8],
    repair: &Repair,
    backup: bool,
    quiet: bool,
) -> anyhow::Result<Outcome> {
    let backup_path = safe_write::replace(path, seen, backup, |w| repair.write_to(data, w))
        .with_context(|| format!("writing the repaired {}", path.display()))?;
    let repaired = Input::open(path)?;
    let after = check_file(repaired.bytes(), 1, None, &|_| {});
    if !quiet {
        match &backup_path {
            Some(b) => println!("  repaired {} (original kept as {})", path.display(), b.display()),
            None => println!("  repaired {}", path.display()),
        }
    }
    if let Some(p) = after.problem {
        bail!("the repaired {} still has a problem: {}", path.display(), p.error);
    }
    Ok(Outcome::Ok)
}

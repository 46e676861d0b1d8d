//! `aoftool rewrite INPUT -o OUT [--format aof|rdb|preamble|multipart]`: an AOF (or RDB file)
//! in its minimal form, offline.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use aoftool::emit::RespWriter;
use aoftool::file_sink::FileSink;
use aoftool::keyspace::{Applier, Keyspace};
use aoftool::rdb::write::{FileOptions, Lossy, Target, ValueWriter};
use aoftool::rdb::{Reader, Vendor};
use aoftool::rewrite::{Inputs, Written, multipart_manifest, write_rdb, write_resp};
use clap::ValueEnum;

use crate::Outcome;
use crate::cmd::convert::{now_ms, print_adjustments};
use crate::output::Output;

/// Output forms.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Form {
    /// RESP commands: one creating command per key (at most 64 items each), absolute expiries.
    Aof,
    /// An RDB file.
    Rdb,
    /// An AOF with an RDB preamble and an empty RESP tail.
    Preamble,
    /// A directory usable as a server's appenddirname: base RDB, empty incr file, manifest.
    Multipart,
}

/// Arguments of `rewrite`.
#[derive(clap::Args)]
pub struct Args {
    /// AOF file (plain or with an RDB preamble), multi-part AOF directory or manifest, or RDB file.
    input: PathBuf,
    /// Output file (a directory for --format multipart, which must not exist yet).
    #[arg(short, long)]
    output: PathBuf,
    /// Output form.
    #[arg(long, value_enum, default_value = "aof")]
    format: Form,
    /// RDB format of rdb, preamble and multipart output (and of RESTORE payloads for module
    /// values in aof output): 9, 10, 11, 12, 13 or valkey80. Default: the input's, else 10.
    #[arg(long, value_name = "VERSION")]
    rdb_version: Option<String>,
    /// Leave out keys already expired now, or at the given Unix time in milliseconds.
    #[arg(long, value_name = "UNIX_MS", num_args = 0..=1, default_missing_value = "now")]
    drop_expired: Option<String>,
    /// Write hashes with field TTLs without them when the target has none (reported).
    #[arg(long)]
    drop_field_ttls: bool,
    /// Leave out function libraries when the target has none (RDB 9; reported).
    #[arg(long)]
    drop_functions: bool,
    /// File name prefix inside a multipart directory (the server's appendfilename).
    #[arg(long, default_value = "appendonly.aof")]
    aof_name: String,
    /// The server that wrote the input, for what servers load differently when the input's
    /// RDB preamble or base does not tell (an XCLAIM that claims nothing for a new consumer),
    /// and the default --rdb-version then: 10, 13 or valkey80.
    #[arg(long, value_enum, value_name = "SERVER")]
    written_by: Option<Server>,
}

/// A server whose loading behaviour `--written-by` names.
#[derive(Clone, Copy, clap::ValueEnum)]
enum Server {
    /// Redis 7.0 and older.
    Redis7,
    /// Redis 7.2 and newer (8.x).
    Redis8,
    /// Valkey (any version).
    Valkey9,
}

impl Server {
    /// The RDB format written for this server when the input names none.
    fn target(self) -> Target {
        let (vendor, version) = match self {
            Server::Redis7 => (Vendor::Redis, 10),
            Server::Redis8 => (Vendor::Redis, 13),
            Server::Valkey9 => (Vendor::Valkey, 80),
        };
        Target::new(vendor, version).unwrap_or(Target::DEFAULT)
    }
}

/// Runs `rewrite`.
pub fn run(args: Args) -> anyhow::Result<Outcome> {
    refuse_overwriting_input(&args)?;
    let inputs = Inputs::open(&args.input).with_context(|| args.input.display().to_string())?;
    let bar = crate::progress::bar(inputs.len());
    let mut keyspace = Keyspace::new();
    keyspace.claims_create_consumers = args.written_by.map(|s| !matches!(s, Server::Redis7));
    let mut applier = Applier::new(keyspace, 0);
    inputs
        .apply(&mut applier, 0, &|at| bar.set_position(at))
        .with_context(|| args.input.display().to_string())?;
    let commands = applier.applied();
    let keyspace = applier.finish();
    bar.finish_and_clear();
    let header = inputs.files.first().and_then(|(_, i)| Reader::new(i.bytes()).ok()).map(|r| r.header());
    let target = match &args.rdb_version {
        Some(v) => Target::parse(v)
            .with_context(|| format!("--rdb-version {v:?}: use 9, 10, 11, 12, 13 or valkey80"))?,
        None => match (header, args.written_by) {
            (None, Some(server)) => server.target(),
            _ => Target::for_input(header),
        },
    };
    let values =
        ValueWriter::new(target, Lossy { field_ttls: args.drop_field_ttls, functions: args.drop_functions });
    let drop_expired = match args.drop_expired.as_deref() {
        None => None,
        Some("now") => Some(now_ms()),
        Some(ms) => {
            Some(ms.parse().with_context(|| format!("--drop-expired takes Unix milliseconds, not {ms:?}"))?)
        }
    };
    let ctime_s = u64::try_from(now_ms() / 1000).unwrap_or(0);
    let rdb_options = |aof_base| FileOptions { ctime_s, aof_base };
    let hint = || {
        let why = match (&args.rdb_version, &header, args.written_by) {
            (Some(_), ..) => return format!("writing {target}"),
            (None, Some(_), _) => "the input's format; choose another",
            (None, None, Some(_)) => "the format of the server --written-by names; choose another",
            (None, None, None) => "the input does not name a format; choose one",
        };
        format!("writing {target} ({why} with --rdb-version)")
    };
    let written = match args.format {
        Form::Aof => {
            let mut out = Output::create(Some(&args.output))?;
            let w = write_resp(&keyspace, &RespWriter::new(values, false), drop_expired, &mut out)
                .with_context(hint)?;
            out.finish()?;
            w
        }
        Form::Rdb | Form::Preamble => {
            let mut out = Output::create(Some(&args.output))?;
            let options = rdb_options(args.format == Form::Preamble);
            let w = write_rdb(&keyspace, values, options, drop_expired, &mut out).with_context(hint)?;
            out.finish()?;
            w
        }
        Form::Multipart => {
            write_multipart(&args, &keyspace, values, rdb_options(true), drop_expired).with_context(hint)?
        }
    };
    eprintln!(
        "aoftool: read {} commands and {} bytes from {} file(s); wrote {} keys, {} bytes",
        commands,
        inputs.len(),
        inputs.files.len(),
        written.keys,
        written.bytes
    );
    print_adjustments(&written.adjustments);
    Ok(Outcome::Ok)
}

/// Refuses to replace the input with its rewrite: a mistake there would lose the original.
fn refuse_overwriting_input(args: &Args) -> anyhow::Result<()> {
    let same = |a: &Path, b: &Path| match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    if same(&args.input, &args.output) {
        bail!("{}: the output would replace the input; write it elsewhere", args.output.display());
    }
    Ok(())
}

/// Writes the directory in a temporary sibling, syncs it, and renames it into place.
fn write_multipart(
    args: &Args,
    keyspace: &Keyspace,
    values: ValueWriter,
    options: FileOptions,
    drop_expired: Option<i64>,
) -> anyhow::Result<Written> {
    let out = &args.output;
    if out.exists() {
        bail!("{}: already exists; multipart output creates a new directory", out.display());
    }
    let parent = out.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let tmp = tempfile::Builder::new().prefix(".aoftool-").tempdir_in(parent)?;
    let base = format!("{}.1.base.rdb", args.aof_name);
    let incr = format!("{}.1.incr.aof", args.aof_name);
    let manifest = format!("{}.manifest", args.aof_name);
    let mut base_file = FileSink::new(std::fs::File::create(tmp.path().join(&base))?)?;
    let written = write_rdb(keyspace, values, options, drop_expired, &mut base_file)?;
    base_file.finish()?;
    std::fs::File::create(tmp.path().join(&incr))?.sync_all()?;
    let manifest_bytes = multipart_manifest(&base, &incr);
    std::fs::write(tmp.path().join(&manifest), &manifest_bytes)?;
    std::fs::File::open(tmp.path().join(&manifest))?.sync_all()?;
    aoftool::safe_write::sync_dir(tmp.path())?;
    let kept = tmp.keep();
    std::fs::rename(&kept, out).with_context(|| format!("renaming the output into {}", out.display()))?;
    aoftool::safe_write::sync_dir(parent)?;
    Ok(Written { bytes: written.bytes + manifest_bytes.len() as u64, ..written })
}

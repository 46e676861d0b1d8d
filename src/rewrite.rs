//! `rewrite`: load an AOF (single file, RDB preamble, multi-part directory or manifest) or an
//! RDB file into the keyspace, and write its minimal form.

use std::ffi::OsStr;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use rayon::iter::ParallelIterator;
use rayon::slice::ParallelSlice;

use crate::aof::manifest::{FileType, Manifest, ManifestEntry, locate};
use crate::dataset::Item;
use crate::emit::RespWriter;
use crate::error::{Error, ErrorKind, Result};
use crate::input::Input;
use crate::keyspace::{Applier, Keyspace, Slot};
use crate::rdb::write::{Adjustments, FileOptions, RdbFile, ValueWriter};

/// The files of one input, in load order, with their names for messages.
pub struct Inputs {
    /// (path, mapped bytes) in load order.
    pub files: Vec<(PathBuf, Input)>,
}

impl Inputs {
    /// Opens `path`: a multi-part AOF directory or manifest (its base and incr files), or one
    /// file (RDB, or AOF with or without preamble).
    ///
    /// # Errors
    /// Unreadable files or manifest.
    pub fn open(path: &Path) -> Result<Inputs> {
        let io = |p: &Path, e: std::io::Error| {
            Error::new(ErrorKind::Io(std::io::Error::new(e.kind(), format!("{}: {e}", p.display()))), 0)
        };
        let Some((dir, manifest_path)) = locate(path).map_err(|e| io(path, e))? else {
            return Ok(Inputs {
                files: vec![(path.to_path_buf(), Input::open(path).map_err(|e| io(path, e))?)],
            });
        };
        let manifest = Manifest::parse(&std::fs::read(&manifest_path).map_err(|e| io(&manifest_path, e))?)?;
        let mut files = Vec::new();
        for entry in manifest.base().into_iter().chain(manifest.incrs()) {
            let file = dir.join(OsStr::from_bytes(&entry.name));
            let input = Input::open(&file).map_err(|e| io(&file, e))?;
            files.push((file, input));
        }
        Ok(Inputs { files })
    }

    /// Total input bytes.
    pub fn len(&self) -> u64 {
        self.files.iter().map(|(_, i)| i.bytes().len() as u64).sum()
    }

    /// True without bytes.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Applies every file, in order, to `applier` (as input `source`); `progress` is told the
    /// bytes done over all files.
    ///
    /// # Errors
    /// A damaged file or a command the keyspace cannot apply; with several files, the
    /// message names the file (offsets are in that file).
    pub fn apply<'a>(&'a self, applier: &mut Applier<'a>, source: u32, progress: &dyn Fn(u64)) -> Result<()> {
        applier.set_source(source);
        let several = self.files.len() > 1;
        let mut before = 0;
        for (index, (path, input)) in self.files.iter().enumerate() {
            applier
                .load_file(input.bytes(), index, &|at| progress(before + at))
                .map_err(|e| if several { name_file(e, path) } else { e })?;
            before += input.bytes().len() as u64;
        }
        Ok(())
    }
}

/// Names the file an error's offset belongs to.
fn name_file(e: Error, path: &Path) -> Error {
    let offset = e.offset();
    let file = path.display();
    let kind = match e.kind() {
        ErrorKind::Command { command, reason } => {
            ErrorKind::Command { command: command.clone(), reason: format!("{reason} (in {file})") }
        }
        other => ErrorKind::Invalid {
            what: "AOF file",
            expected: "a file that loads",
            found: format!("{file}: {other}"),
        },
    };
    Error::new(kind, offset)
}

/// An output form.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Form {
    /// RESP commands.
    Aof,
    /// An RDB file.
    Rdb,
    /// An RDB file marked as an AOF base, with an empty RESP tail.
    Preamble,
    /// A directory with a base RDB, an empty incr file and a manifest.
    Multipart,
}

/// What was written.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Written {
    /// Keys written.
    pub keys: u64,
    /// Bytes written.
    pub bytes: u64,
    /// What the output format changed.
    pub adjustments: Adjustments,
}

impl Written {
    /// Adds what another part wrote.
    pub fn add(&mut self, other: &Written) {
        self.keys += other.keys;
        self.bytes += other.bytes;
        self.adjustments.add(&other.adjustments);
    }
}

/// Writes the keyspace as RESP (SELECT only when the database changes), skipping
/// keys that expire at or before `drop_expired_at`.
///
/// # Errors
/// What RESP cannot hold, or a write failure.
pub fn write_resp(
    ks: &Keyspace,
    resp: &RespWriter,
    drop_expired_at: Option<i64>,
    mut out: impl Write + Send,
) -> Result<Written> {
    let mut written = Written::default();
    let mut text = Vec::new();
    for library in ks.libraries() {
        resp.put_item(&library, &mut text, &mut written.adjustments)?;
    }
    let mut formatted = vec![(text, Written::default())];
    written.bytes = formatted[0].0.len() as u64;
    let mut keys = ks.keys(drop_expired_at).map({
        let mut db = None;
        // Whether a SELECT goes before the key.
        move |(n, key, slot)| (db.replace(n) != Some(n), n, key, slot)
    });
    loop {
        // Keys are formatted in parallel parts of a batch while the batch before is written;
        // a large collection ends its batch and is written alone, piece by piece.
        let (batch, large) = next_batch(&mut keys);
        let (next, wrote) = rayon::join(
            || {
                batch
                    .par_chunks(WRITE_BATCH / 16)
                    .map(|keys| format_keys(resp, keys))
                    .collect::<Result<Vec<_>>>()
            },
            || write_parts(&formatted, &mut out),
        );
        wrote?;
        formatted = next?;
        formatted.iter().for_each(|(_, part)| written.add(part));
        if let Some(key) = large {
            write_parts(&std::mem::take(&mut formatted), &mut out)?;
            written.add(&write_in_pieces(resp, key, &mut out)?);
        }
        if batch.is_empty() && large.is_none() {
            break;
        }
    }
    write_parts(&formatted, &mut out)?;
    out.flush()?;
    Ok(written)
}

/// Up to [`WRITE_BATCH`] keys, ended early by a key with more than [`PIECE_ITEMS`] elements
/// or a vector set (whose elements are large), which comes apart.
fn next_batch<'k>(
    keys: &mut impl Iterator<Item = KeyToWrite<'k>>,
) -> (Vec<KeyToWrite<'k>>, Option<KeyToWrite<'k>>) {
    let mut batch = Vec::with_capacity(WRITE_BATCH);
    for key in keys {
        if key.3.val.elements() > PIECE_ITEMS || key.3.val.is_vector_set() {
            return (batch, Some(key));
        }
        batch.push(key);
        if batch.len() == WRITE_BATCH {
            break;
        }
    }
    (batch, None)
}

/// Writes formatted parts in order.
fn write_parts(parts: &[(Vec<u8>, Written)], out: &mut impl Write) -> Result<()> {
    parts.iter().try_for_each(|(text, _)| out.write_all(text)).map_err(Error::from)
}

/// Keys written per batch.
const WRITE_BATCH: usize = 1 << 14;

/// A key to write: whether a `SELECT` of its database goes first, the database, the key
/// and its slot.
type KeyToWrite<'k> = (bool, u64, &'k [u8], &'k Slot);

/// Elements per piece of a large collection written as RESP (a multiple of the 64 per
/// command, so pieces change nothing in the output).
const PIECE_ITEMS: usize = 64 * 256;

/// `keys` as RESP commands, and what was written.
fn format_keys(resp: &RespWriter, keys: &[KeyToWrite<'_>]) -> Result<(Vec<u8>, Written)> {
    let (mut text, mut part) = (Vec::new(), Written::default());
    for &(select, db, key, slot) in keys {
        if select {
            RespWriter::put_select(&mut text, db);
        }
        let item = Item::Key(slot.to_entry(db, key));
        part.keys += u64::from(resp.put_item(&item, &mut text, &mut part.adjustments)?);
    }
    part.bytes = text.len() as u64;
    Ok((text, part))
}

/// Writes one key in [`Val::pieces`](crate::keyspace::Val::pieces) (whole when written as
/// `RESTORE`), so that no text of all of it is ever held.
fn write_in_pieces(
    resp: &RespWriter,
    (select, db, key, slot): KeyToWrite<'_>,
    out: &mut impl Write,
) -> Result<Written> {
    let (mut text, mut written) = (Vec::new(), Written::default());
    if select {
        RespWriter::put_select(&mut text, db);
    }
    let piece_items = if resp.restores_all() { usize::MAX } else { PIECE_ITEMS };
    let mut wrote = false;
    for entry in slot.to_entries(db, key, piece_items) {
        wrote |= resp.put_item(&Item::Key(entry), &mut text, &mut written.adjustments)?;
        out.write_all(&text)?;
        written.bytes += text.len() as u64;
        text.clear();
    }
    written.keys = u64::from(wrote);
    Ok(written)
}

/// Writes the keyspace as an RDB file (the libraries with it).
///
/// # Errors
/// What the target cannot hold, or a write failure.
pub fn write_rdb(
    ks: &Keyspace,
    values: ValueWriter,
    options: FileOptions,
    drop_expired_at: Option<i64>,
    out: impl Write,
) -> Result<Written> {
    let mut file = RdbFile::new(out, values, options)?;
    ks.libraries().try_for_each(|library| file.write_item(&library))?;
    let mut keys = 0;
    for (db, key, slot) in ks.keys(drop_expired_at) {
        keys += 1;
        file.write_item(&Item::Key(slot.to_entry(db, key)))?;
    }
    let (_, bytes, adjustments) = file.finish()?;
    Ok(Written { keys, bytes, adjustments })
}

/// The files of a multi-part AOF whose base is `base_name` (an RDB) and whose incr file,
/// `incr_name`, is empty: the manifest text.
pub fn multipart_manifest(base_name: &str, incr_name: &str) -> Vec<u8> {
    let mut manifest = Manifest::default();
    manifest.entries.push(ManifestEntry::new(base_name, 1, FileType::Base));
    manifest.entries.push(ManifestEntry::new(incr_name, 1, FileType::Incr));
    manifest.to_bytes()
}

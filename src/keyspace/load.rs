//! Filling a keyspace from files: RDB records, then (for an AOF) the commands after them.

use super::{Applier, Keyspace, Slot, Stamp, Val};
use crate::aof::reader::{CommandReader, CommandRecord};
use crate::aof::resp::Parser;
use crate::dataset::Item;
use crate::error::{Error, ErrorKind, Result};
use crate::rdb::Reader;
use crate::rdb::reader::Record;

impl Keyspace {
    /// Adds one item of a dataset (an RDB record): keys replace what they name, libraries are
    /// kept by name; aux fields describe the file, not the data, and are not kept.
    ///
    /// # Errors
    /// Module aux data and slot imports, which the keyspace does not hold.
    pub fn load_item(&mut self, item: Item<'_>, stamp: Stamp) -> Result<()> {
        match item {
            Item::Key(entry) => {
                let slot = Slot::new(Val::from_value(entry.value), entry.expire_ms, stamp);
                self.db_mut(entry.db).insert(&entry.key.as_cow(), slot);
            }
            Item::Function { code } => self.load_library(code.to_vec()),
            Item::FunctionPreGa { name, engine, code, .. } => {
                self.load_library(crate::dataset::pre_ga_library_code(&name, &engine, &code));
            }
            Item::Aux { .. } => {}
            Item::ModuleAux { .. } | Item::SlotImport { .. } => {
                return Err(Error::new(
                    ErrorKind::Unrepresentable {
                        target: "The keyspace model".into(),
                        what: "module aux data or a slot import".into(),
                        hint: "; convert the file with `convert` instead",
                    },
                    0,
                ));
            }
        }
        Ok(())
    }

    /// Keeps a library under the name its `#!engine name=…` line gives.
    pub(super) fn load_library(&mut self, code: Vec<u8>) {
        self.functions.insert(library_name(&code).to_vec(), code);
    }
}

/// The `name=` of a library's first line (the whole line when it has none).
pub(super) fn library_name(code: &[u8]) -> &[u8] {
    let line = code.split(|&b| b == b'\n').next().unwrap_or_default();
    line.split(|&b| b == b' ').find_map(|w| w.strip_prefix(b"name=")).unwrap_or(line)
}

/// Commands parsed ahead per batch.
const BATCH: usize = 4096;

/// Batches parsed ahead and not yet applied.
const BATCHES_AHEAD: usize = 4;

/// Commands read ahead by the parsing thread, with their arguments split out.
#[derive(Default)]
struct Batch<'a> {
    records: Vec<CommandRecord<'a>>,
    /// Every record's arguments, one after the other.
    args: Vec<&'a [u8]>,
    /// Where each record's arguments end in `args`.
    ends: Vec<usize>,
    /// The error that stopped reading, after the records before it.
    error: Option<Error>,
}

/// Reads the commands of a RESP body in batches of [`BATCH`], handing each to `send` until it
/// refuses one or the body ends; stops after the first error.
fn read_ahead<'a>(reader: CommandReader<'a>, send: impl Fn(Batch<'a>) -> bool) {
    let mut batch = Batch::default();
    for record in reader {
        match record {
            Ok(record) => {
                batch.args.extend(record.command.args());
                batch.ends.push(batch.args.len());
                batch.records.push(record);
            }
            Err(e) => {
                batch.error = Some(e);
                break;
            }
        }
        if batch.records.len() == BATCH && !send(std::mem::take(&mut batch)) {
            return;
        }
    }
    send(batch);
}

impl<'a> Applier<'a> {
    /// Applies one file: an RDB file, or an AOF — RESP commands, after an RDB preamble when it
    /// has one. `file` numbers it in errors; `progress` is told the offset reached now and then.
    /// A second thread parses the commands ahead of the one applying them.
    ///
    /// # Errors
    /// A damaged file, or a command the model cannot apply.
    pub fn load_file(&mut self, data: &'a [u8], file: usize, progress: &dyn Fn(u64)) -> Result<()> {
        self.drop_open_transaction();
        let mut resp_start = 0;
        if crate::check::is_rdb(data) {
            let mut reader = Reader::new(data)?;
            let stamp = self.stamp();
            while let Some(record) = reader.next_record()? {
                if let Record::Eof(trailer) = &record {
                    resp_start =
                        usize::try_from(data.len() as u64 - trailer.trailing_bytes).unwrap_or(data.len());
                } else if let Some(item) = Item::from_record(&record)? {
                    self.keyspace_mut().load_item(item, stamp)?;
                }
            }
        }
        let body = &data[resp_start..];
        progress(resp_start as u64);
        let reader = CommandReader::new(Parser::new(body, resp_start as u64), file);
        std::thread::scope(|scope| {
            let (send, batches) = std::sync::mpsc::sync_channel(BATCHES_AHEAD);
            scope.spawn(move || read_ahead(reader, |batch| send.send(batch).is_ok()));
            for batch in batches {
                self.apply_batch(batch, progress)?;
            }
            Ok::<(), Error>(())
        })?;
        progress(data.len() as u64);
        self.drop_open_transaction();
        Ok(())
    }

    fn apply_batch(&mut self, batch: Batch<'a>, progress: &dyn Fn(u64)) -> Result<()> {
        if let Some(first) = batch.records.first() {
            progress(first.command.offset);
        }
        let mut start = 0;
        for (record, end) in batch.records.into_iter().zip(batch.ends) {
            self.apply_split(record, &batch.args[start..end])?;
            start = end;
        }
        batch.error.map_or(Ok(()), Err)
    }
}

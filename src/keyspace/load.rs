//! Filling a keyspace from files: RDB records, then (for an AOF) the commands after them.

use std::ops::Range;
use std::sync::Arc;
use std::sync::mpsc::sync_channel;

use super::apply::{Runner, first_key_only};
use super::db::half_of;
use super::halves::{self, Partner};
use super::{Applier, Keyspace, Slot, Stamp, Val};
use crate::aof::reader::{CommandReader, CommandRecord};
use crate::aof::resp::Parser;
use crate::dataset::Item;
use crate::error::{Error, ErrorKind, Result};
use crate::rdb::reader::Record;
use crate::rdb::{Reader, Vendor};

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

/// The fewest commands on one key each, in a row, that are applied on two threads (fewer are
/// not worth waking the second thread for).
const PARALLEL_RUN: usize = 256;

/// Runs the partner may be behind the applying thread.
const RUNS_AHEAD: usize = 4;

/// Batches parsed ahead and not yet applied.
const BATCHES_AHEAD: usize = 4;

/// Commands read ahead by the parsing thread, with their arguments split out.
#[derive(Default)]
pub(super) struct Batch<'a> {
    records: Vec<CommandRecord<'a>>,
    /// Every record's arguments, one after the other.
    args: Vec<&'a [u8]>,
    /// Where each record's arguments end in `args`.
    ends: Vec<usize>,
    /// For each record that changes only the key its first argument names, that key's hash
    /// half (so that the applier can apply runs of them on two threads).
    halves: Vec<Option<u8>>,
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
                let start = batch.args.len();
                batch.args.extend(record.command.args());
                let args = &batch.args[start..];
                let half = first_key_only(record.command.name, args.len()).then(|| half_of(args[1]) as u8);
                batch.halves.push(half);
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
    /// A second thread parses the commands ahead of the one applying them, and a third applies
    /// its share of runs of single-key commands ([`halves`]).
    ///
    /// # Errors
    /// A damaged file, or a command the model cannot apply.
    pub fn load_file(&mut self, data: &'a [u8], file: usize, progress: &dyn Fn(u64)) -> Result<()> {
        self.drop_open_transaction();
        let mut resp_start = 0;
        if crate::check::is_rdb(data) {
            let mut reader = Reader::new(data)?;
            let header = reader.header();
            // Redis 7.2 (RDB 11) made XCLAIM create its consumer first thing.
            self.keyspace_mut().claims_create_consumers =
                Some(header.vendor == Vendor::Valkey || header.version >= 11);
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
            let (send, batches) = sync_channel(BATCHES_AHEAD);
            scope.spawn(move || read_ahead(reader, |batch| send.send(batch).is_ok()));
            let (to_partner, messages) = sync_channel(RUNS_AHEAD);
            let (partner_done, done) = sync_channel(1);
            scope.spawn(move || halves::partner(&messages, &partner_done));
            let mut partner = Partner::new(to_partner, done);
            let mut applied = Ok(());
            for batch in batches {
                applied = self.apply_batch(batch, &mut partner, progress);
                if applied.is_err() {
                    break;
                }
            }
            partner.take_back(self, applied)
        })?;
        progress(data.len() as u64);
        self.drop_open_transaction();
        Ok(())
    }

    /// Applies a batch: runs of [`PARALLEL_RUN`] or more commands on one key each with the
    /// partner, the other commands on this thread once it has the whole keyspace back.
    fn apply_batch(
        &mut self,
        mut batch: Batch<'a>,
        partner: &mut Partner<'a>,
        progress: &dyn Fn(u64),
    ) -> Result<()> {
        if let Some(first) = batch.records.first() {
            progress(first.command.offset);
        }
        let error = batch.error.take();
        let batch = Arc::new(batch);
        let mut n = 0;
        while n < batch.records.len() {
            let run = batch.halves[n..].iter().take_while(|h| h.is_some()).count();
            if run >= PARALLEL_RUN && self.outside_transaction() {
                partner.apply_run(self, &batch, n..n + run)?;
                n += run;
                continue;
            }
            partner.take_back(self, Ok(()))?;
            for record in n..n + run.max(1) {
                self.apply_split(batch.records[record], batch.args(record))?;
            }
            n += run.max(1);
        }
        error.map_or(Ok(()), Err)
    }
}

impl<'a> Batch<'a> {
    /// The arguments of record `n`, the name first.
    fn args(&self, n: usize) -> &[&'a [u8]] {
        &self.args[n.checked_sub(1).map_or(0, |before| self.ends[before])..self.ends[n]]
    }

    /// Applies, in order, the records of `range` on keys of hash half `half`.
    pub(super) fn apply_half(
        &self,
        half: u8,
        range: Range<usize>,
        keyspace: &mut Keyspace,
        runner: &mut Runner,
        source: u32,
    ) -> Result<()> {
        range
            .filter(|&n| self.halves[n] == Some(half))
            .try_for_each(|n| runner.run(keyspace, source, &self.records[n], self.args(n), false))
    }
}

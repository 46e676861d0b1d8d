//! Filling a keyspace from files: RDB records, then (for an AOF) the commands after them.

use super::{Applier, Keyspace, Slot, Stamp, Val};
use crate::aof::reader::CommandReader;
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

/// Commands between two progress reports.
const PROGRESS_EVERY: usize = 1 << 16;

impl<'a> Applier<'a> {
    /// Applies one file: an RDB file, or an AOF — RESP commands, after an RDB preamble when it
    /// has one. `file` numbers it in errors; `progress` is told the offset reached now and then.
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
        for (n, record) in CommandReader::new(Parser::new(body, resp_start as u64), file).enumerate() {
            let record = record?;
            if n % PROGRESS_EVERY == 0 {
                progress(record.command.offset);
            }
            self.apply(record)?;
        }
        progress(data.len() as u64);
        self.drop_open_transaction();
        Ok(())
    }
}

//! The top-level record walk: opcodes, key framing and the trailer.
//!
//! [`Reader`] yields one [`Record`] per opcode or key without decoding values: a key carries its
//! raw value bytes, decoded on demand with [`KeyEntry::value`]. This is the sequential framing
//! pass that parallel consumers cut into batches.

use super::decode;
use super::encoding::{Encoding, Kind};
use super::module;
use super::string::{RdbStr, read_len};
use super::value::Value;
use super::{Header, Vendor};
use crate::cursor::Cursor;
use crate::error::{Error, ErrorKind, Result};

/// Redis Enterprise's per-key RAM LRU hint: one length, ignored (as librdb does).
const OP_ENTERPRISE_RAM_LRU: u8 = 107;
const OP_SLOT_IMPORT_OR_KEY_META: u8 = 243;
const OP_SLOT_INFO: u8 = 244;
const OP_FUNCTION2: u8 = 245;
const OP_FUNCTION_PRE_GA: u8 = 246;
const OP_MODULE_AUX: u8 = 247;
const OP_IDLE: u8 = 248;
const OP_FREQ: u8 = 249;
const OP_AUX: u8 = 250;
const OP_RESIZEDB: u8 = 251;
const OP_EXPIRETIME_MS: u8 = 252;
const OP_EXPIRETIME: u8 = 253;
const OP_SELECTDB: u8 = 254;
const OP_EOF: u8 = 255;

/// `when_opcode` that every module aux record carries (`RDB_MODULE_OPCODE_UINT`).
const MODULE_AUX_WHEN_OPCODE: u64 = 2;

/// One top-level item of an RDB file.
#[derive(Clone, Debug)]
pub enum Record<'a> {
    /// An auxiliary field (`redis-ver`, `ctime`, `aof-base`, …).
    Aux {
        /// Field name.
        name: RdbStr<'a>,
        /// Field value.
        value: RdbStr<'a>,
    },
    /// Switch to database `db`.
    SelectDb {
        /// Database number.
        db: u64,
    },
    /// Size hints for the current database.
    ResizeDb {
        /// Number of keys.
        db_size: u64,
        /// Number of keys with an expiry.
        expires_size: u64,
    },
    /// Cluster slot size hints (Redis 7.4+).
    SlotInfo {
        /// Slot number.
        slot: u64,
        /// Keys in the slot.
        size: u64,
        /// Keys with an expiry in the slot.
        expires_size: u64,
    },
    /// A function library (`FUNCTION2`): its source code, starting with `#!<engine> name=<lib>`.
    Function {
        /// The library source.
        code: RdbStr<'a>,
    },
    /// A function from a Redis 7.0 release candidate (`FUNCTION_PRE_GA`).
    FunctionPreGa {
        /// Function name.
        name: RdbStr<'a>,
        /// Engine name (`LUA`).
        engine: RdbStr<'a>,
        /// Description, when one was given.
        description: Option<RdbStr<'a>>,
        /// Function body.
        code: RdbStr<'a>,
    },
    /// Module aux data, kept opaque.
    ModuleAux {
        /// Module type id (name and encoding version).
        id: u64,
        /// When the data was saved (`REDISMODULE_AUX_BEFORE_RDB` = 1, `AFTER` = 2).
        when: u64,
        /// The module items, end marker included.
        payload: &'a [u8],
    },
    /// A key with its value (undecoded).
    Key(KeyEntry<'a>),
    /// The end of the file.
    Eof(Trailer),
}

/// Where a file ended and what its trailer holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Trailer {
    /// Offset of the `0xFF` EOF opcode.
    pub eof_offset: u64,
    /// The stored CRC-64, for versions that have one.
    pub stored_checksum: Option<u64>,
    /// Bytes after the trailer (ignored by servers).
    pub trailing_bytes: u64,
}

/// A key read from the file, with its value still encoded.
#[derive(Clone, Debug)]
pub struct KeyEntry<'a> {
    /// Database number.
    pub db: u64,
    /// The key name.
    pub key: RdbStr<'a>,
    /// How the value is stored.
    pub encoding: Encoding,
    /// Absolute expiry in Unix milliseconds.
    pub expire_ms: Option<i64>,
    /// LRU idle time in seconds.
    pub idle_s: Option<u64>,
    /// LFU frequency counter.
    pub freq: Option<u8>,
    /// The encoded value bytes.
    pub raw: &'a [u8],
    /// Absolute offset of the first byte of this record (its first opcode or the type byte).
    pub offset: u64,
    /// Absolute offset of `raw`.
    pub value_offset: u64,
}

impl<'a> KeyEntry<'a> {
    /// The logical type of the value.
    pub fn kind(&self) -> Kind {
        self.encoding.kind()
    }

    /// Decodes the value; errors carry the key name.
    pub fn value(&self) -> Result<Value<'a>> {
        let mut cur = Cursor::new(self.raw, self.value_offset);
        decode::decode(self.encoding, &mut cur).map_err(|e| self.annotate(e))
    }

    /// Adds this key's name to an error.
    pub fn annotate(&self, e: Error) -> Error {
        match self.key.decode() {
            Ok(k) => k.with_bytes(|k| e.with_key(k)),
            Err(_) => e,
        }
    }
}

/// Per-key metadata opcodes seen before the key's type byte.
#[derive(Default)]
struct KeyMeta {
    start: Option<u64>,
    expire_ms: Option<i64>,
    idle_s: Option<u64>,
    freq: Option<u8>,
}

/// Walks the records of an RDB file.
pub struct Reader<'a> {
    cur: Cursor<'a>,
    header: Header,
    db: u64,
    finished: bool,
}

impl<'a> Reader<'a> {
    /// Reads the header of `data` (an RDB file, or an RDB preamble followed by anything).
    pub fn new(data: &'a [u8]) -> Result<Reader<'a>> {
        Reader::at(data, 0)
    }

    /// Like [`Reader::new`] for a slice that starts at absolute offset `base`.
    pub fn at(data: &'a [u8], base: u64) -> Result<Reader<'a>> {
        let mut cur = Cursor::new(data, base);
        let header = Header::read(&mut cur)?;
        Ok(Reader {
            cur,
            header,
            db: 0,
            finished: false,
        })
    }

    /// The file's header.
    pub fn header(&self) -> Header {
        self.header
    }

    /// Absolute offset of the next record.
    pub fn offset(&self) -> u64 {
        self.cur.offset()
    }

    /// Reads the next record; `Ok(None)` after the EOF record.
    pub fn next_record(&mut self) -> Result<Option<Record<'a>>> {
        if self.finished {
            return Ok(None);
        }
        let result = self.read_record();
        if !matches!(result, Ok(Some(ref r)) if !matches!(r, Record::Eof(_))) {
            self.finished = true;
        }
        result
    }

    fn read_record(&mut self) -> Result<Option<Record<'a>>> {
        let mut meta = KeyMeta::default();
        loop {
            let at = self.cur.offset();
            let op = self.cur.u8("opcode or type")?;
            let record = match op {
                OP_EOF => Record::Eof(self.read_trailer(at)?),
                OP_SELECTDB => {
                    self.db = read_len(&mut self.cur)?;
                    Record::SelectDb { db: self.db }
                }
                OP_RESIZEDB => Record::ResizeDb {
                    db_size: read_len(&mut self.cur)?,
                    expires_size: read_len(&mut self.cur)?,
                },
                OP_AUX => Record::Aux {
                    name: RdbStr::read(&mut self.cur)?,
                    value: RdbStr::read(&mut self.cur)?,
                },
                OP_SLOT_INFO => Record::SlotInfo {
                    slot: read_len(&mut self.cur)?,
                    size: read_len(&mut self.cur)?,
                    expires_size: read_len(&mut self.cur)?,
                },
                OP_FUNCTION2 => Record::Function {
                    code: RdbStr::read(&mut self.cur)?,
                },
                OP_FUNCTION_PRE_GA => self.read_function_pre_ga()?,
                OP_MODULE_AUX => self.read_module_aux()?,
                OP_EXPIRETIME_MS => {
                    meta.start.get_or_insert(at);
                    meta.expire_ms = Some(self.cur.i64_le("expire time in ms")?);
                    continue;
                }
                OP_EXPIRETIME => {
                    meta.start.get_or_insert(at);
                    let secs = i32::from_le_bytes(self.cur.array("expire time in seconds")?);
                    meta.expire_ms = Some(i64::from(secs) * 1000);
                    continue;
                }
                OP_IDLE => {
                    meta.start.get_or_insert(at);
                    meta.idle_s = Some(read_len(&mut self.cur)?);
                    continue;
                }
                OP_ENTERPRISE_RAM_LRU if self.header.vendor == Vendor::Redis => {
                    meta.start.get_or_insert(at);
                    read_len(&mut self.cur)?;
                    continue;
                }
                OP_FREQ => {
                    meta.start.get_or_insert(at);
                    meta.freq = Some(self.cur.u8("LFU frequency")?);
                    continue;
                }
                OP_SLOT_IMPORT_OR_KEY_META => return Err(self.unsupported_243(at)),
                code => Record::Key(self.read_key(code, at, meta)?),
            };
            return Ok(Some(record));
        }
    }

    fn unsupported_243(&self, at: u64) -> Error {
        let reason = match self.header.vendor {
            Vendor::Redis => "opcode 243 (KEY_META, Redis 8.6+) is not supported yet",
            Vendor::Valkey => "opcode 243 (SLOT_IMPORT) is not supported yet",
        };
        Error::new(
            ErrorKind::UnsupportedType {
                code: OP_SLOT_IMPORT_OR_KEY_META,
                reason,
            },
            at,
        )
    }

    fn read_key(&mut self, code: u8, at: u64, meta: KeyMeta) -> Result<KeyEntry<'a>> {
        let Some(encoding) = Encoding::from_code(code, self.header.vendor) else {
            return Err(Error::new(
                ErrorKind::UnsupportedType {
                    code,
                    reason: "not a type or opcode this RDB version defines",
                },
                at,
            ));
        };
        let key = RdbStr::read(&mut self.cur)?;
        let value_start = self.cur.pos();
        let value_offset = self.cur.offset();
        let entry = KeyEntry {
            db: self.db,
            key,
            encoding,
            expire_ms: meta.expire_ms,
            idle_s: meta.idle_s,
            freq: meta.freq,
            raw: &[],
            offset: meta.start.unwrap_or(at),
            value_offset,
        };
        decode::skip(encoding, &mut self.cur).map_err(|e| entry.annotate(e))?;
        Ok(KeyEntry {
            raw: self.cur.since(value_start),
            ..entry
        })
    }

    fn read_function_pre_ga(&mut self) -> Result<Record<'a>> {
        let name = RdbStr::read(&mut self.cur)?;
        let engine = RdbStr::read(&mut self.cur)?;
        let has_description = read_len(&mut self.cur)? != 0;
        let description = if has_description {
            Some(RdbStr::read(&mut self.cur)?)
        } else {
            None
        };
        let code = RdbStr::read(&mut self.cur)?;
        Ok(Record::FunctionPreGa {
            name,
            engine,
            description,
            code,
        })
    }

    fn read_module_aux(&mut self) -> Result<Record<'a>> {
        let id = read_len(&mut self.cur)?;
        let at = self.cur.offset();
        let when_opcode = read_len(&mut self.cur)?;
        if when_opcode != MODULE_AUX_WHEN_OPCODE {
            return Err(self
                .cur
                .invalid_at(at, "module aux when-opcode", "2", when_opcode));
        }
        let when = read_len(&mut self.cur)?;
        let payload = module::walk_items(&mut self.cur)?;
        Ok(Record::ModuleAux { id, when, payload })
    }

    fn read_trailer(&mut self, eof_offset: u64) -> Result<Trailer> {
        let stored_checksum = if self.header.has_checksum() {
            Some(self.cur.u64_le("CRC-64 trailer")?)
        } else {
            None
        };
        Ok(Trailer {
            eof_offset,
            stored_checksum,
            trailing_bytes: self.cur.remaining() as u64,
        })
    }
}

impl<'a> Iterator for Reader<'a> {
    type Item = Result<Record<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_record().transpose()
    }
}

/// Verifies the CRC-64 of `data` (a whole file starting at offset 0) against its trailer.
///
/// Returns `Ok(false)` when the file has no checksum or the stored value is zero (checksums
/// disabled), `Ok(true)` when it matches.
pub fn verify_checksum(data: &[u8], trailer: &Trailer) -> Result<bool> {
    let Some(stored) = trailer.stored_checksum.filter(|&c| c != 0) else {
        return Ok(false);
    };
    let covered = usize::try_from(trailer.eof_offset + 1)
        .unwrap_or(usize::MAX)
        .min(data.len());
    let computed = super::crc::crc64(&data[..covered]);
    if computed != stored {
        return Err(Error::new(
            ErrorKind::ChecksumMismatch { stored, computed },
            trailer.eof_offset + 1,
        ));
    }
    Ok(true)
}

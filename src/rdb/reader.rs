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

/// Redis Enterprise opcodes that carry one length and mean nothing to open-source servers
/// (RAM LRU hint, slot number); skipped as librdb does.
const OP_ENTERPRISE_RAM_LRU: u8 = 107;
const OP_ENTERPRISE_SLOT_NUM: u8 = 121;
pub(crate) const OP_SLOT_IMPORT_OR_KEY_META: u8 = 243;
const OP_SLOT_INFO: u8 = 244;
pub(crate) const OP_FUNCTION2: u8 = 245;
const OP_FUNCTION_PRE_GA: u8 = 246;
pub(crate) const OP_MODULE_AUX: u8 = 247;
pub(crate) const OP_IDLE: u8 = 248;
pub(crate) const OP_FREQ: u8 = 249;
pub(crate) const OP_AUX: u8 = 250;
pub(crate) const OP_RESIZEDB: u8 = 251;
pub(crate) const OP_EXPIRETIME_MS: u8 = 252;
const OP_EXPIRETIME: u8 = 253;
pub(crate) const OP_SELECTDB: u8 = 254;
pub(crate) const OP_EOF: u8 = 255;

/// `when_opcode` that every module aux record carries (`RDB_MODULE_OPCODE_UINT`).
pub(crate) const MODULE_AUX_WHEN_OPCODE: u64 = 2;

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
    /// An unfinished cluster slot import (Valkey 9 `SLOT_IMPORT`).
    SlotImport {
        /// The import job's name.
        job: RdbStr<'a>,
        /// Slot ranges being imported, inclusive.
        ranges: Vec<(u64, u64)>,
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
    /// Module key metadata (Redis 8.6+ `KEY_META`), in file order.
    pub key_meta: Vec<KeyMetaClass<'a>>,
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

/// What [`Reader::next_item`] returns: a key (as its callback made it), or another record.
#[derive(Clone, Debug)]
pub enum Item<'a, K> {
    /// A key, handled by the callback.
    Key(K),
    /// Any other record.
    Other(Record<'a>),
}

/// Per-key metadata opcodes seen before the key's type byte.
#[derive(Default)]
struct KeyMeta<'a> {
    start: Option<u64>,
    expire_ms: Option<i64>,
    idle_s: Option<u64>,
    freq: Option<u8>,
    key_meta: Vec<KeyMetaClass<'a>>,
}

/// One class of module key metadata: a 4-byte class spec and the module's items.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyMetaClass<'a> {
    /// Class spec: 4-character name in bits 31..8, version in bits 7..3, flags in bits 2..0.
    pub spec: u32,
    /// The module items, end marker included.
    pub payload: std::borrow::Cow<'a, [u8]>,
}

/// Most metadata classes a key can carry (`KEY_META_MAX_NUM_MODULES`).
const MAX_KEY_META_CLASSES: u64 = 7;

/// Characters of class names, 6 bits each (note `_` before `-`, unlike module type names).
const KEY_META_CHARSET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";

impl KeyMetaClass<'_> {
    /// The class's 4-character name.
    pub fn name(&self) -> String {
        (0..4).map(|i| char::from(KEY_META_CHARSET[((self.spec >> (26 - 6 * i)) & 63) as usize])).collect()
    }

    /// The class's metadata version.
    pub fn version(&self) -> u32 {
        (self.spec >> 3) & 31
    }

    /// The class's flags (bit 0: may be ignored by servers without the module).
    pub fn flags(&self) -> u32 {
        self.spec & 7
    }
}

fn read_key_meta<'a>(cur: &mut Cursor<'a>) -> Result<Vec<KeyMetaClass<'a>>> {
    let at = cur.offset();
    let n = read_len(cur)?;
    if n > MAX_KEY_META_CLASSES {
        return Err(cur.invalid_at(at, "key metadata class count", "at most 7", n));
    }
    let mut classes = Vec::new();
    for _ in 0..n {
        let spec = cur.u32_le("key metadata class spec")?;
        classes.push(KeyMetaClass { spec, payload: module::walk_items(cur)?.into() });
    }
    Ok(classes)
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
        Ok(Reader { cur, header, db: 0, finished: false })
    }

    /// A reader of `data` (a whole file, read by a reader with this `header`) that resumes at
    /// relative position `pos`, a record boundary found by an earlier walk, in database `db`.
    pub fn resume(data: &'a [u8], header: Header, pos: usize, db: u64) -> Result<Reader<'a>> {
        let mut cur = Cursor::new(data, 0);
        cur.skip(pos as u64, "record")?;
        Ok(Reader { cur, header, db, finished: false })
    }

    /// The database of the records read last.
    pub fn db(&self) -> u64 {
        self.db
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
        Ok(self
            .next_item(&mut |entry: KeyEntry<'a>, cur: &mut Cursor<'a>| {
                let start = cur.pos();
                decode::skip(entry.encoding, cur).map_err(|e| entry.annotate(e))?;
                Ok(KeyEntry { raw: cur.since(start), ..entry })
            })?
            .map(|item| match item {
                Item::Key(entry) => Record::Key(entry),
                Item::Other(record) => record,
            }))
    }

    /// Like [`Reader::next_record`], but a key's value is first offered to `on_key` with the
    /// cursor at the value: it either reads the whole value and returns `true`, or reads nothing
    /// and returns `false` (the value is then skipped as usual). The returned key's `raw` covers
    /// the value either way. An error from `on_key` is returned as it is, and ends the walk.
    pub fn next_record_with<F>(&mut self, on_key: &mut F) -> Result<Option<Record<'a>>>
    where
        F: FnMut(&KeyEntry<'a>, &mut Cursor<'a>) -> Result<bool>,
    {
        Ok(self
            .next_item(&mut |entry: KeyEntry<'a>, cur: &mut Cursor<'a>| {
                let start = cur.pos();
                if !on_key(&entry, cur)? {
                    decode::skip(entry.encoding, cur).map_err(|e| entry.annotate(e))?;
                }
                Ok(KeyEntry { raw: cur.since(start), ..entry })
            })?
            .map(|item| match item {
                Item::Key(entry) => Record::Key(entry),
                Item::Other(record) => record,
            }))
    }

    /// The next record, where a key is handed to `on_key` (with its `raw` still empty) with the
    /// cursor at its value, which `on_key` must read whole; what it returns stands for the key.
    /// An error from `on_key` is returned as it is, and ends the walk. The cheapest walk: keys
    /// are neither copied nor returned.
    #[inline]
    pub fn next_item<K, F>(&mut self, on_key: &mut F) -> Result<Option<Item<'a, K>>>
    where
        F: FnMut(KeyEntry<'a>, &mut Cursor<'a>) -> Result<K>,
    {
        if self.finished {
            return Ok(None);
        }
        let result = self.read_record(on_key);
        if !matches!(result, Ok(Some(ref r)) if !matches!(r, Item::Other(Record::Eof(_)))) {
            self.finished = true;
        }
        result
    }

    #[inline]
    fn read_record<K, F>(&mut self, on_key: &mut F) -> Result<Option<Item<'a, K>>>
    where
        F: FnMut(KeyEntry<'a>, &mut Cursor<'a>) -> Result<K>,
    {
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
                OP_AUX => {
                    Record::Aux { name: RdbStr::read(&mut self.cur)?, value: RdbStr::read(&mut self.cur)? }
                }
                OP_SLOT_INFO => Record::SlotInfo {
                    slot: read_len(&mut self.cur)?,
                    size: read_len(&mut self.cur)?,
                    expires_size: read_len(&mut self.cur)?,
                },
                OP_FUNCTION2 => Record::Function { code: RdbStr::read(&mut self.cur)? },
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
                OP_ENTERPRISE_RAM_LRU | OP_ENTERPRISE_SLOT_NUM if self.header.vendor == Vendor::Redis => {
                    meta.start.get_or_insert(at);
                    read_len(&mut self.cur)?;
                    continue;
                }
                OP_FREQ => {
                    meta.start.get_or_insert(at);
                    meta.freq = Some(self.cur.u8("LFU frequency")?);
                    continue;
                }
                OP_SLOT_IMPORT_OR_KEY_META if self.header.vendor == Vendor::Redis => {
                    meta.start.get_or_insert(at);
                    meta.key_meta = read_key_meta(&mut self.cur)?;
                    continue;
                }
                OP_SLOT_IMPORT_OR_KEY_META => self.read_slot_import()?,
                code => return Ok(Some(Item::Key(self.read_key(code, at, meta, on_key)?))),
            };
            return Ok(Some(Item::Other(record)));
        }
    }

    fn read_slot_import(&mut self) -> Result<Record<'a>> {
        let job = RdbStr::read(&mut self.cur)?;
        let n = read_len(&mut self.cur)?;
        let mut ranges =
            Vec::with_capacity(usize::try_from(n).unwrap_or(usize::MAX).min(self.cur.remaining() / 2));
        for _ in 0..n {
            ranges.push((read_len(&mut self.cur)?, read_len(&mut self.cur)?));
        }
        Ok(Record::SlotImport { job, ranges })
    }

    #[inline]
    fn read_key<K, F>(&mut self, code: u8, at: u64, meta: KeyMeta<'a>, on_key: &mut F) -> Result<K>
    where
        F: FnMut(KeyEntry<'a>, &mut Cursor<'a>) -> Result<K>,
    {
        let Some(encoding) = Encoding::from_code(code, self.header.vendor) else {
            let reason = Encoding::unsupported_reason(code, self.header.vendor);
            return Err(Error::new(ErrorKind::UnsupportedType { code, reason }, at));
        };
        let key = RdbStr::read(&mut self.cur)?;
        let entry = KeyEntry {
            db: self.db,
            key,
            encoding,
            expire_ms: meta.expire_ms,
            idle_s: meta.idle_s,
            freq: meta.freq,
            key_meta: meta.key_meta,
            raw: &[],
            offset: meta.start.unwrap_or(at),
            value_offset: self.cur.offset(),
        };
        on_key(entry, &mut self.cur)
    }

    fn read_function_pre_ga(&mut self) -> Result<Record<'a>> {
        let name = RdbStr::read(&mut self.cur)?;
        let engine = RdbStr::read(&mut self.cur)?;
        let has_description = read_len(&mut self.cur)? != 0;
        let description = if has_description { Some(RdbStr::read(&mut self.cur)?) } else { None };
        let code = RdbStr::read(&mut self.cur)?;
        Ok(Record::FunctionPreGa { name, engine, description, code })
    }

    fn read_module_aux(&mut self) -> Result<Record<'a>> {
        let id = read_len(&mut self.cur)?;
        let at = self.cur.offset();
        let when_opcode = read_len(&mut self.cur)?;
        if when_opcode != MODULE_AUX_WHEN_OPCODE {
            return Err(self.cur.invalid_at(at, "module aux when-opcode", "2", when_opcode));
        }
        let when = read_len(&mut self.cur)?;
        let payload = module::walk_items(&mut self.cur)?;
        Ok(Record::ModuleAux { id, when, payload })
    }

    fn read_trailer(&mut self, eof_offset: u64) -> Result<Trailer> {
        let stored_checksum =
            if self.header.has_checksum() { Some(self.cur.u64_le("CRC-64 trailer")?) } else { None };
        Ok(Trailer { eof_offset, stored_checksum, trailing_bytes: self.cur.remaining() as u64 })
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
    let covered = usize::try_from(trailer.eof_offset + 1).unwrap_or(usize::MAX).min(data.len());
    let computed = super::crc::crc64(&data[..covered]);
    if computed != stored {
        return Err(Error::new(ErrorKind::ChecksumMismatch { stored, computed }, trailer.eof_offset + 1));
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rdb::crc::crc64;

    /// Appends the EOF opcode and a valid CRC-64 trailer.
    fn finish(mut file: Vec<u8>) -> Vec<u8> {
        file.push(OP_EOF);
        let crc = crc64(&file);
        file.extend_from_slice(&crc.to_le_bytes());
        file
    }

    fn records(file: &[u8]) -> Vec<Record<'_>> {
        Reader::new(file).unwrap().collect::<Result<_>>().unwrap()
    }

    #[test]
    fn reads_key_metadata_before_the_type_byte() {
        let mut file = b"REDIS0013".to_vec();
        file.extend_from_slice(&[OP_EXPIRETIME_MS, 0xe8, 3, 0, 0, 0, 0, 0, 0]);
        // One class "ABCD" (0, 1, 2, 3), version 1, flag 1; items: UINT 5, end.
        let spec: u32 = (1 << 20 | 2 << 14 | 3 << 8) | 1 << 3 | 1;
        file.extend_from_slice(&[OP_SLOT_IMPORT_OR_KEY_META, 1]);
        file.extend_from_slice(&spec.to_le_bytes());
        file.extend_from_slice(&[2, 5, 0]);
        file.extend_from_slice(&[0, 1, b'k', 1, b'v']);
        let file = finish(file);
        let recs = records(&file);
        let Record::Key(key) = &recs[0] else { panic!("expected a key, got {:?}", recs[0]) };
        assert_eq!(key.offset, 9);
        assert_eq!(key.expire_ms, Some(1000));
        assert_eq!(key.key_meta.len(), 1);
        let class = &key.key_meta[0];
        assert_eq!((class.name().as_str(), class.version(), class.flags()), ("ABCD", 1, 1));
        assert_eq!(*class.payload, [2, 5, 0]);
        assert_eq!(key.value().unwrap(), Value::String(crate::rdb::Bytes::Borrowed(b"v")));
        let Record::Eof(trailer) = recs[1] else { panic!("expected EOF") };
        assert!(verify_checksum(&file, &trailer).unwrap());
    }

    #[test]
    fn opcode_243_is_a_slot_import_in_valkey_files() {
        let mut file = b"VALKEY080".to_vec();
        file.push(OP_SLOT_IMPORT_OR_KEY_META);
        file.push(40);
        file.extend_from_slice(&[b'j'; 40]);
        file.extend_from_slice(&[1, 0, 0x40 | 0x3f, 0xff]);
        let file = finish(file);
        let recs = records(&file);
        let Record::SlotImport { job, ranges } = &recs[0] else { panic!("expected a slot import") };
        assert_eq!(*job, RdbStr::Raw(&[b'j'; 40]));
        assert_eq!(ranges, &[(0, 16383)]);
    }

    #[test]
    fn checksum_mismatch_names_both_values_and_zero_disables_it() {
        let file = finish(b"REDIS0009\xfe\x00".to_vec());
        let mut bad = file.clone();
        bad[10] = 1; // select db 1 instead of 0: same framing, different bytes
        let recs = records(&bad);
        let Record::Eof(trailer) = recs[1] else { panic!("expected EOF") };
        let err = verify_checksum(&bad, &trailer).unwrap_err();
        assert!(matches!(err.kind(), ErrorKind::ChecksumMismatch { .. }), "{err}");
        let mut zeroed = bad.clone();
        let n = zeroed.len();
        zeroed[n - 8..].fill(0);
        let Record::Eof(trailer) = records(&zeroed)[1] else { panic!("expected EOF") };
        assert!(!verify_checksum(&zeroed, &trailer).unwrap());
    }

    #[test]
    fn unknown_types_are_named() {
        let file = finish(b"REDIS0014\x1c\x01k".to_vec());
        let err = Reader::new(&file).unwrap().next_record().unwrap_err();
        assert!(err.to_string().contains("unsupported type 28: Redis 8.8 ARRAY"), "{err}");
        assert_eq!(err.offset(), 9);
    }
}

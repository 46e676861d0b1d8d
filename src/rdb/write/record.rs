//! The top-level records of an RDB file: header, aux fields, database switches, keys,
//! functions, module aux data and the trailer.

use super::Adjustments;
use super::primitive::{put_bytes, put_len, put_string};
use super::target::Target;
use super::value::{ValueWriter, unrepresentable};
use crate::dataset::{Entry, Item, pre_ga_library_code};
use crate::error::Result;
use crate::rdb::{Bytes, Value, Vendor};

// Opcodes as the reader knows them (243 is Valkey's `SLOT_IMPORT` in VALKEY files).
use crate::rdb::reader::{
    MODULE_AUX_WHEN_OPCODE, OP_AUX, OP_EOF, OP_EXPIRETIME_MS, OP_FREQ, OP_FUNCTION2, OP_IDLE, OP_MODULE_AUX,
    OP_RESIZEDB, OP_SELECTDB, OP_SLOT_IMPORT_OR_KEY_META as OP_SLOT_IMPORT,
};

/// Aux fields the writer sets itself, and those that describe a replication stream the new
/// file is not part of: an input's values for these are not copied.
const OWN_AUX: [&[u8]; 9] = [
    b"redis-ver",
    b"valkey-ver",
    b"redis-bits",
    b"ctime",
    b"used-mem",
    b"aof-base",
    b"repl-id",
    b"repl-offset",
    b"repl-stream-db",
];

/// Appends the header and the writer's own aux fields.
pub fn put_header(out: &mut Vec<u8>, target: Target, ctime_s: u64, aof_base: bool) {
    out.extend_from_slice(target.magic().as_bytes());
    put_aux(out, b"redis-ver", target.server_version().as_bytes());
    if target.vendor() == Vendor::Valkey {
        put_aux(out, b"valkey-ver", b"9.0.0");
    }
    put_aux(out, b"redis-bits", b"64");
    put_aux(out, b"ctime", itoa::Buffer::new().format(ctime_s).as_bytes());
    put_aux(out, b"used-mem", b"0");
    put_aux(out, b"aof-base", if aof_base { b"1" } else { b"0" });
}

/// Appends an aux field.
pub fn put_aux(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    out.push(OP_AUX);
    put_string(out, name);
    put_string(out, value);
}

/// Appends a database switch.
pub fn put_select(out: &mut Vec<u8>, db: u64) {
    out.push(OP_SELECTDB);
    put_len(out, db);
}

/// Appends the size hints of the current database.
pub fn put_resize(out: &mut Vec<u8>, keys: u64, expires: u64) {
    out.push(OP_RESIZEDB);
    put_len(out, keys);
    put_len(out, expires);
}

/// Appends the EOF opcode; the file's CRC-64 (of every byte up to and including it) follows.
pub fn put_eof(out: &mut Vec<u8>) {
    out.push(OP_EOF);
}

/// True when a server would drop this value on load (an empty list, set, sorted set or hash).
pub fn is_empty_collection(value: &Value<'_>) -> bool {
    match value {
        Value::List(v) | Value::Set(v) => v.is_empty(),
        Value::ZSet(v) => v.is_empty(),
        Value::Hash(v) => v.is_empty(),
        Value::VectorSet(v) => v.elements.is_empty(),
        Value::String(_) | Value::Stream(_) | Value::Module(_) => false,
    }
}

/// Appends one item (not its database switch); returns whether it wrote anything.
///
/// Aux fields the writer owns, and empty collections (counted), are skipped.
///
/// # Errors
/// What the target cannot hold (offset 0; callers place it).
pub fn put_item(vw: &ValueWriter, item: &Item<'_>, out: &mut Vec<u8>, adj: &mut Adjustments) -> Result<bool> {
    let target = vw.target();
    match item {
        Item::Key(entry) => return put_entry(vw, entry, out, adj),
        Item::Aux { name, value } => {
            let name = name.as_cow();
            if OWN_AUX.contains(&&*name) {
                return Ok(false);
            }
            out.push(OP_AUX);
            put_string(out, &name);
            put_bytes(out, value);
        }
        Item::Function { code } if target.has_functions() => {
            out.push(OP_FUNCTION2);
            put_bytes(out, code);
        }
        Item::Function { .. } if vw.lossy().functions => {
            adj.functions_dropped += 1;
            return Ok(false);
        }
        Item::Function { .. } => {
            return Err(unrepresentable(
                target,
                "function libraries (Redis 7.0+)".into(),
                "; --drop-functions leaves them out",
            ));
        }
        Item::FunctionPreGa { name, engine, description, code } => {
            let code = Bytes::Owned(pre_ga_library_code(name, engine, code));
            adj.function_descriptions_dropped += u64::from(description.is_some());
            return put_item(vw, &Item::Function { code }, out, adj);
        }
        Item::ModuleAux { id, when, payload } => {
            out.push(OP_MODULE_AUX);
            put_len(out, *id);
            put_len(out, MODULE_AUX_WHEN_OPCODE);
            put_len(out, *when);
            out.extend_from_slice(payload);
        }
        Item::SlotImport { job, ranges } if target.vendor() == Vendor::Valkey => {
            out.push(OP_SLOT_IMPORT);
            put_bytes(out, job);
            put_len(out, ranges.len() as u64);
            for (from, to) in ranges {
                put_len(out, *from);
                put_len(out, *to);
            }
        }
        Item::SlotImport { .. } => {
            return Err(unrepresentable(target, "a Valkey slot import".into(), ""));
        }
    }
    Ok(true)
}

/// Appends a key: expiry, LRU/LFU hints, type, name and value.
fn put_entry(vw: &ValueWriter, entry: &Entry<'_>, out: &mut Vec<u8>, adj: &mut Adjustments) -> Result<bool> {
    if is_empty_collection(&entry.value) {
        adj.empty_keys_skipped += 1;
        return Ok(false);
    }
    if !entry.key_meta.is_empty() {
        return Err(unrepresentable(vw.target(), "module key metadata (Redis 8.6+)".into(), ""));
    }
    if let Some(ms) = entry.expire_ms {
        out.push(OP_EXPIRETIME_MS);
        out.extend_from_slice(&ms.to_le_bytes());
    }
    if let Some(idle) = entry.idle_s {
        out.push(OP_IDLE);
        put_len(out, idle);
    }
    if let Some(freq) = entry.freq {
        out.extend_from_slice(&[OP_FREQ, freq]);
    }
    let type_at = out.len();
    out.push(0);
    put_bytes(out, &entry.key);
    let code = vw.put(&entry.value, out, adj)?;
    out[type_at] = code;
    Ok(true)
}

/// A DUMP payload of `value` for `RESTORE`: the value with its type byte, the format
/// version (2 bytes) and a CRC-64 of both (8 bytes), little-endian.
///
/// # Errors
/// What the target cannot hold.
pub fn dump_payload(vw: &ValueWriter, value: &Value<'_>, adj: &mut Adjustments) -> Result<Vec<u8>> {
    let mut out = vec![0];
    let code = vw.put(value, &mut out, adj)?;
    out[0] = code;
    out.extend_from_slice(&(vw.target().version() as u16).to_le_bytes());
    let crc = crate::rdb::crc::crc64(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    Ok(out)
}

//! JSON rendering of RDB records: the `convert --to jsonl|json` schema (see README).
//!
//! Byte strings that are valid UTF-8 become JSON strings; any other bytes become
//! `{"base64": "…"}` (standard alphabet, padded), so every byte is recoverable.

use base64::Engine;

use crate::error::Result;
use crate::rdb::decode::{Elem, Visitor};
use crate::rdb::encoding::Encoding;
use crate::rdb::module::module_name;
use crate::rdb::reader::{KeyEntry, Record};
use crate::rdb::stream::{Idmp, Stream, StreamId};
use crate::rdb::value::{Bytes, HashField, Value};
use crate::rdb::{Header, RdbStr};
use crate::vector_set::VectorSet;

/// Appends `bytes` as a JSON string, or as `{"base64": …}` when they are not UTF-8.
#[inline]
pub fn write_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    // The common case: nothing to escape, one copy between the quotes.
    let special = find_special(bytes, true);
    if special == bytes.len() {
        out.reserve(bytes.len() + 2);
        out.push(b'"');
        out.extend_from_slice(bytes);
        out.push(b'"');
    } else {
        write_bytes_from(out, bytes, special);
    }
}

/// [`write_bytes`] for strings with a byte to escape or a non-ASCII byte at `special`.
#[cold]
#[inline(never)]
fn write_bytes_from(out: &mut Vec<u8>, bytes: &[u8], first_special: usize) {
    let start = out.len();
    out.push(b'"');
    let mut pos = 0;
    let mut special = first_special;
    let mut utf8_checked = false;
    loop {
        out.extend_from_slice(&bytes[pos..special]);
        let Some(&b) = bytes.get(special) else { break };
        if b >= 0x80 {
            // The first non-ASCII byte: the rest must be UTF-8, or the string goes as base64.
            if std::str::from_utf8(&bytes[special..]).is_err() {
                out.truncate(start);
                return write_base64(out, bytes);
            }
            utf8_checked = true;
            pos = special;
        } else {
            write_escape(out, b);
            pos = special + 1;
        }
        special = pos + find_special(&bytes[pos..], !utf8_checked);
    }
    out.push(b'"');
}

fn write_base64(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(b"{\"base64\":\"");
    let start = out.len();
    out.resize(start + bytes.len().div_ceil(3) * 4, 0);
    let written = base64::engine::general_purpose::STANDARD.encode_slice(bytes, &mut out[start..]);
    // The buffer was sized for padded output, so encoding always fits.
    out.truncate(start + written.unwrap_or(0));
    out.extend_from_slice(b"\"}");
}

/// Appends a JSON string literal.
pub fn write_str(out: &mut Vec<u8>, text: &str) {
    write_bytes(out, text.as_bytes());
}

fn write_escape(out: &mut Vec<u8>, b: u8) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    match b {
        b'"' => out.extend_from_slice(b"\\\""),
        b'\\' => out.extend_from_slice(b"\\\\"),
        b'\n' => out.extend_from_slice(b"\\n"),
        b'\r' => out.extend_from_slice(b"\\r"),
        b'\t' => out.extend_from_slice(b"\\t"),
        _ => out.extend_from_slice(&[
            b'\\',
            b'u',
            b'0',
            b'0',
            HEX[usize::from(b >> 4)],
            HEX[usize::from(b & 15)],
        ]),
    }
}

/// Index of the first byte that JSON needs escaped (a control character, `"` or `\\`), or, with
/// `non_ascii`, that is not ASCII; the length when there is none. Eight bytes at a time, the
/// last eight (overlapping those already seen) included.
#[inline]
fn find_special(bytes: &[u8], non_ascii: bool) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // Flags (in each byte's high bit) bytes equal to `n`; the lowest flag is always exact, and
    // bytes that are not special never set a flag above them.
    let eq = |x: u64, n: u8| {
        let y = x ^ (ONES * u64::from(n));
        y.wrapping_sub(ONES) & !y
    };
    let ascii_mask = if non_ascii { HIGH } else { 0 };
    let flags = |x: u64| {
        let control = x.wrapping_sub(ONES * 0x20) & !x;
        (control | eq(x, b'"') | eq(x, b'\\')) & HIGH & !(x & HIGH) | (x & ascii_mask)
    };
    let n = bytes.len();
    if n < 8 {
        let special = |b: u8| b < 0x20 || b == b'"' || b == b'\\' || (non_ascii && b >= 0x80);
        return bytes.iter().position(|&b| special(b)).unwrap_or(n);
    }
    let word = |i: usize| u64::from_le_bytes(bytes[i..i + 8].try_into().unwrap_or_default());
    let mut i = 0;
    while i + 8 <= n {
        let f = flags(word(i));
        if f != 0 {
            return i + (f.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    if i < n {
        // The last eight bytes; those before `i` were seen already and are not special.
        let seen = i - (n - 8);
        let f = flags(word(n - 8)) & (u64::MAX << (8 * seen));
        if f != 0 {
            return n - 8 + (f.trailing_zeros() / 8) as usize;
        }
    }
    n
}

/// Appends an element as a JSON string (integers as their decimal text).
#[inline]
pub fn write_elem(out: &mut Vec<u8>, e: Elem<'_>) {
    match e {
        Elem::Bytes(b) => write_bytes(out, b),
        Elem::Int(i) => {
            let mut buf = itoa::Buffer::new();
            let text = buf.format(i).as_bytes();
            out.reserve(text.len() + 2);
            out.push(b'"');
            out.extend_from_slice(text);
            out.push(b'"');
        }
    }
}

fn write_value_bytes(out: &mut Vec<u8>, b: &Bytes<'_>) {
    write_elem(out, Elem::of(b));
}

fn write_int(out: &mut Vec<u8>, n: impl itoa::Integer) {
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

/// Appends a score: a JSON number when finite (shortest round-trip form), else
/// `"inf"`, `"-inf"` or `"nan"`.
pub fn write_score(out: &mut Vec<u8>, score: f64) {
    if score.fract() == 0.0 && score.abs() < 1e15 && score != 0.0 {
        // What ryu writes for a whole number of this size ("-12.0"), without its general path.
        out.extend_from_slice(itoa::Buffer::new().format(score as i64).as_bytes());
        out.extend_from_slice(b".0");
    } else if score.is_finite() {
        out.extend_from_slice(ryu::Buffer::new().format_finite(score).as_bytes());
    } else if score.is_nan() {
        out.extend_from_slice(b"\"nan\"");
    } else if score > 0.0 {
        out.extend_from_slice(b"\"inf\"");
    } else {
        out.extend_from_slice(b"\"-inf\"");
    }
}

fn write_id(out: &mut Vec<u8>, id: StreamId) {
    out.push(b'"');
    write_int(out, id.ms);
    out.push(b'-');
    write_int(out, id.seq);
    out.push(b'"');
}

/// Appends items separated by commas inside `[` `]`.
fn write_array<T>(
    out: &mut Vec<u8>,
    items: impl IntoIterator<Item = T>,
    mut item: impl FnMut(&mut Vec<u8>, T),
) {
    out.push(b'[');
    for (i, x) in items.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        item(out, x);
    }
    out.push(b']');
}

/// Writes `,"name":` before a member that is not an object's first (one copy of a constant).
macro_rules! member {
    ($out:expr, $name:literal) => {
        $out.extend_from_slice(concat!(",\"", $name, "\":").as_bytes())
    };
}

fn write_rdb_str(out: &mut Vec<u8>, s: RdbStr<'_>) -> Result<()> {
    s.decode()?.with_bytes(|b| write_bytes(out, b));
    Ok(())
}

/// Appends the members between a key's encoding and its value: expiry, LRU, LFU, metadata.
fn write_key_extras(out: &mut Vec<u8>, entry: &KeyEntry<'_>) {
    if let Some(ms) = entry.expire_ms {
        member!(out, "expire_ms");
        write_int(out, ms);
    }
    if let Some(idle) = entry.idle_s {
        member!(out, "idle_s");
        write_int(out, idle);
    }
    if let Some(freq) = entry.freq {
        member!(out, "freq");
        write_int(out, freq);
    }
    if !entry.key_meta.is_empty() {
        member!(out, "key_meta");
        write_array(out, &entry.key_meta, |out, class| {
            out.extend_from_slice(b"{\"class\":");
            write_str(out, &class.name());
            member!(out, "version");
            write_int(out, class.version());
            member!(out, "flags");
            write_int(out, class.flags());
            member!(out, "payload");
            write_bytes(out, &class.payload);
            out.push(b'}');
        });
    }
}

/// Appends one key as a JSON object (no trailing newline).
pub fn write_key(out: &mut Vec<u8>, entry: &KeyEntry<'_>, key: &Bytes<'_>, value: &Value<'_>) {
    out.extend_from_slice(b"{\"db\":");
    write_int(out, entry.db);
    member!(out, "key");
    key.with_bytes(|k| write_bytes(out, k));
    // Type and encoding names are plain ASCII: no escaping needed.
    member!(out, "type");
    out.push(b'"');
    out.extend_from_slice(entry.kind().name().as_bytes());
    out.extend_from_slice(b"\",\"encoding\":\"");
    out.extend_from_slice(entry.encoding.name().as_bytes());
    out.push(b'"');
    write_key_extras(out, entry);
    member!(out, "value");
    write_value(out, value);
    out.push(b'}');
}

/// Writes keys as [`write_key`] does, a part at a time, with the boilerplate of each database and
/// encoding built once: [`KeyWriter::head`] writes everything before the value, a
/// [`JsonValue`] visitor the value, [`KeyWriter::tail`] the closing brace.
#[derive(Default)]
pub struct KeyWriter {
    db: Option<u64>,
    /// `{"db":N,"key":` for the database `db`.
    db_prefix: Vec<u8>,
    /// Per encoding (by discriminant): `,"type":"…","encoding":"…"`, then `,"value":` from
    /// `type_len` on.
    pieces: Vec<(Vec<u8>, usize)>,
}

impl KeyWriter {
    /// A writer with nothing built yet.
    pub fn new() -> KeyWriter {
        KeyWriter::default()
    }

    /// Appends the key object up to and including `"value":` (the value comes next).
    #[inline]
    pub fn head(&mut self, out: &mut Vec<u8>, entry: &KeyEntry<'_>, key: Elem<'_>) {
        if self.db != Some(entry.db) {
            self.db = Some(entry.db);
            self.db_prefix.clear();
            self.db_prefix.extend_from_slice(b"{\"db\":");
            write_int(&mut self.db_prefix, entry.db);
            self.db_prefix.extend_from_slice(b",\"key\":");
        }
        out.extend_from_slice(&self.db_prefix);
        match key {
            // Integer keys are written as their text, like any other key.
            Elem::Int(i) => write_bytes(out, itoa::Buffer::new().format(i).as_bytes()),
            Elem::Bytes(b) => write_bytes(out, b),
        }
        let (piece, type_len) = self.piece(entry.encoding);
        if entry.expire_ms.is_none()
            && entry.idle_s.is_none()
            && entry.freq.is_none()
            && entry.key_meta.is_empty()
        {
            out.extend_from_slice(piece);
        } else {
            out.extend_from_slice(&piece[..type_len]);
            write_key_extras(out, entry);
            member!(out, "value");
        }
    }

    /// Closes the key object.
    #[inline]
    pub fn tail(&self, out: &mut Vec<u8>) {
        out.push(b'}');
    }

    #[inline]
    fn piece(&mut self, enc: Encoding) -> (&[u8], usize) {
        let i = enc as usize;
        if self.pieces.get(i).is_none_or(|p| p.0.is_empty()) {
            self.build_piece(enc);
        }
        match self.pieces.get(i) {
            Some((piece, type_len)) => (piece, *type_len),
            None => (&[], 0),
        }
    }

    #[cold]
    fn build_piece(&mut self, enc: Encoding) {
        let i = enc as usize;
        if self.pieces.len() <= i {
            self.pieces.resize(i + 1, (Vec::new(), 0));
        }
        let mut piece = Vec::new();
        member!(piece, "type");
        piece.push(b'"');
        piece.extend_from_slice(enc.kind().name().as_bytes());
        piece.extend_from_slice(b"\",\"encoding\":\"");
        piece.extend_from_slice(enc.name().as_bytes());
        piece.push(b'"');
        let type_len = piece.len();
        member!(piece, "value");
        self.pieces[i] = (piece, type_len);
    }
}

/// A [`Visitor`] that appends the value as [`write_key`] shows it.
pub struct JsonValue<'o> {
    out: &'o mut Vec<u8>,
    first: bool,
}

impl<'o> JsonValue<'o> {
    /// A visitor appending to `out`.
    pub fn new(out: &'o mut Vec<u8>) -> JsonValue<'o> {
        JsonValue { out, first: true }
    }

    #[inline]
    fn separate(&mut self) {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
    }
}

impl Visitor for JsonValue<'_> {
    #[inline]
    fn string(&mut self, s: Elem<'_>) {
        write_elem(self.out, s);
    }

    #[inline]
    fn begin(&mut self) {
        self.out.push(b'[');
        self.first = true;
    }

    #[inline]
    fn item(&mut self, e: Elem<'_>) {
        self.separate();
        write_elem(self.out, e);
    }

    #[inline]
    fn scored(&mut self, member: Elem<'_>, score: f64) {
        self.separate();
        self.out.push(b'[');
        write_elem(self.out, member);
        self.out.push(b',');
        write_score(self.out, score);
        self.out.push(b']');
    }

    #[inline]
    fn field(&mut self, field: Elem<'_>, value: Elem<'_>, expire_ms: Option<i64>) {
        self.separate();
        self.out.push(b'[');
        write_elem(self.out, field);
        self.out.push(b',');
        write_elem(self.out, value);
        if let Some(ms) = expire_ms {
            self.out.push(b',');
            write_int(self.out, ms);
        }
        self.out.push(b']');
    }

    #[inline]
    fn end(&mut self) {
        self.out.push(b']');
    }

    fn value(&mut self, value: &Value<'_>) {
        write_value(self.out, value);
    }
}

fn write_value(out: &mut Vec<u8>, value: &Value<'_>) {
    match value {
        Value::String(s) => write_value_bytes(out, s),
        Value::List(items) | Value::Set(items) => write_array(out, items, write_value_bytes),
        Value::ZSet(items) => write_array(out, items, |out, (m, s)| {
            out.push(b'[');
            write_value_bytes(out, m);
            out.push(b',');
            write_score(out, *s);
            out.push(b']');
        }),
        Value::Hash(fields) => write_array(out, fields, write_hash_field),
        Value::Stream(stream) => write_stream(out, stream),
        Value::Module(m) => {
            out.extend_from_slice(b"{\"module\":");
            write_str(out, &m.name());
            member!(out, "encver");
            write_int(out, m.encver());
            member!(out, "payload");
            write_bytes(out, &m.payload);
            out.push(b'}');
        }
        Value::VectorSet(v) => write_vector_set(out, v),
    }
}

/// `{"vectorset":{"dim":…,"reduce":…,"quantization":…,"m":…,"elements":[…]}}`, each element
/// `{"element":…,"vector":[…],"attributes":…}` with the vector as `VEMB` shows it (after any
/// projection, dequantized, scaled back by its length).
fn write_vector_set(out: &mut Vec<u8>, v: &VectorSet) {
    out.extend_from_slice(b"{\"vectorset\":{\"dim\":");
    write_int(out, v.dim);
    member!(out, "reduce");
    match v.reduce {
        Some(n) => write_int(out, n),
        None => out.extend_from_slice(b"null"),
    }
    member!(out, "quantization");
    write_bytes(out, v.quantization.option());
    member!(out, "m");
    write_int(out, v.m);
    member!(out, "elements");
    write_array(out, &v.elements, |out, (name, e)| {
        out.extend_from_slice(b"{\"element\":");
        write_bytes(out, name);
        member!(out, "vector");
        write_array(out, v.approximate(e), |out, c| write_score(out, f64::from(c)));
        member!(out, "attributes");
        match &e.attributes {
            Some(a) => write_bytes(out, a),
            None => out.extend_from_slice(b"null"),
        }
        out.push(b'}');
    });
    out.extend_from_slice(b"}}");
}

fn write_hash_field(out: &mut Vec<u8>, f: &HashField<'_>) {
    out.push(b'[');
    write_value_bytes(out, &f.field);
    out.push(b',');
    write_value_bytes(out, &f.value);
    if let Some(ms) = f.expire_ms {
        out.push(b',');
        write_int(out, ms);
    }
    out.push(b']');
}

fn write_stream(out: &mut Vec<u8>, s: &Stream<'_>) {
    out.extend_from_slice(b"{\"length\":");
    write_int(out, s.length);
    member!(out, "last_id");
    write_id(out, s.last_id);
    if let Some(id) = s.first_id {
        member!(out, "first_id");
        write_id(out, id);
    }
    if let Some(id) = s.max_deleted_id {
        member!(out, "max_deleted_id");
        write_id(out, id);
    }
    if let Some(n) = s.entries_added {
        member!(out, "entries_added");
        write_int(out, n);
    }
    member!(out, "entries");
    write_array(out, &s.entries, |out, e| {
        out.extend_from_slice(b"{\"id\":");
        write_id(out, e.id);
        member!(out, "fields");
        write_array(out, &e.fields, |out, (f, v)| {
            out.push(b'[');
            write_value_bytes(out, f);
            out.push(b',');
            write_value_bytes(out, v);
            out.push(b']');
        });
        out.push(b'}');
    });
    member!(out, "groups");
    write_array(out, &s.groups, |out, g| {
        out.extend_from_slice(b"{\"name\":");
        write_value_bytes(out, &g.name);
        member!(out, "last_id");
        write_id(out, g.last_id);
        match g.entries_read {
            Some(n) if n >= 0 => {
                member!(out, "entries_read");
                write_int(out, n);
            }
            // -1: the server did not know how many entries the group had read.
            Some(_) => {
                member!(out, "entries_read");
                out.extend_from_slice(b"null");
            }
            None => {}
        }
        member!(out, "pel");
        write_array(out, &g.pending, |out, p| {
            out.extend_from_slice(b"{\"id\":");
            write_id(out, p.id);
            member!(out, "consumer");
            match p.consumer.and_then(|c| g.consumers.get(c)) {
                Some(c) => write_value_bytes(out, &c.name),
                None => out.extend_from_slice(b"null"),
            }
            member!(out, "delivery_time_ms");
            write_int(out, p.delivery_time_ms);
            member!(out, "delivery_count");
            write_int(out, p.delivery_count);
            out.push(b'}');
        });
        member!(out, "consumers");
        write_array(out, &g.consumers, |out, c| {
            out.extend_from_slice(b"{\"name\":");
            write_value_bytes(out, &c.name);
            member!(out, "seen_time_ms");
            write_int(out, c.seen_time_ms);
            if let Some(t) = c.active_time_ms {
                member!(out, "active_time_ms");
                write_int(out, t);
            }
            member!(out, "pel");
            write_array(out, &c.pending, |out, id| write_id(out, *id));
            out.push(b'}');
        });
        if let Some(nacked) = &g.nacked {
            member!(out, "nacked");
            write_array(out, nacked, |out, id| write_id(out, *id));
        }
        out.push(b'}');
    });
    if let Some(idmp) = &s.idmp {
        member!(out, "idmp");
        write_idmp(out, idmp);
    }
    out.push(b'}');
}

fn write_idmp(out: &mut Vec<u8>, idmp: &Idmp<'_>) {
    out.extend_from_slice(b"{\"duration_s\":");
    write_int(out, idmp.duration_s);
    member!(out, "max_entries");
    write_int(out, idmp.max_entries);
    member!(out, "producers");
    write_array(out, &idmp.producers, |out, p| {
        out.extend_from_slice(b"{\"pid\":");
        write_value_bytes(out, &p.pid);
        member!(out, "entries");
        write_array(out, &p.entries, |out, (iid, id)| {
            out.push(b'[');
            write_value_bytes(out, iid);
            out.push(b',');
            write_id(out, *id);
            out.push(b']');
        });
        out.push(b'}');
    });
    member!(out, "iids_added");
    write_int(out, idmp.iids_added);
    member!(out, "iids_duplicates");
    write_int(out, idmp.iids_duplicates);
    out.push(b'}');
}

/// Appends the header line: `{"rdb":{"magic":…,"version":…}}`.
pub fn write_header(out: &mut Vec<u8>, header: &Header) {
    out.extend_from_slice(b"{\"rdb\":{\"magic\":");
    write_str(out, header.magic());
    out.extend_from_slice(b",\"version\":");
    write_int(out, header.version);
    out.extend_from_slice(b"}}");
}

/// Appends a non-key record worth showing (aux fields, functions, module aux); returns false
/// for records that JSON output leaves out (db switches, size hints, EOF, keys).
pub fn write_meta(out: &mut Vec<u8>, record: &Record<'_>) -> Result<bool> {
    match record {
        Record::Aux { name, value } => {
            out.extend_from_slice(b"{\"aux\":{\"name\":");
            write_rdb_str(out, *name)?;
            out.extend_from_slice(b",\"value\":");
            write_rdb_str(out, *value)?;
            out.extend_from_slice(b"}}");
        }
        Record::Function { code } => {
            out.extend_from_slice(b"{\"function\":{\"code\":");
            write_rdb_str(out, *code)?;
            out.extend_from_slice(b"}}");
        }
        Record::FunctionPreGa { name, engine, description, code } => {
            out.extend_from_slice(b"{\"function_pre_ga\":{\"name\":");
            write_rdb_str(out, *name)?;
            out.extend_from_slice(b",\"engine\":");
            write_rdb_str(out, *engine)?;
            if let Some(d) = description {
                out.extend_from_slice(b",\"description\":");
                write_rdb_str(out, *d)?;
            }
            out.extend_from_slice(b",\"code\":");
            write_rdb_str(out, *code)?;
            out.extend_from_slice(b"}}");
        }
        Record::ModuleAux { id, when, payload } => {
            out.extend_from_slice(b"{\"module_aux\":{\"module\":");
            write_str(out, &module_name(*id));
            out.extend_from_slice(b",\"encver\":");
            write_int(out, id & 1023);
            out.extend_from_slice(b",\"when\":");
            write_int(out, *when);
            out.extend_from_slice(b",\"payload\":");
            write_bytes(out, payload);
            out.extend_from_slice(b"}}");
        }
        Record::SlotImport { job, ranges } => {
            out.extend_from_slice(b"{\"slot_import\":{\"job\":");
            write_rdb_str(out, *job)?;
            out.extend_from_slice(b",\"ranges\":");
            write_array(out, ranges, |out, (from, to)| {
                out.push(b'[');
                write_int(out, *from);
                out.push(b',');
                write_int(out, *to);
                out.push(b']');
            });
            out.extend_from_slice(b"}}");
        }
        _ => return Ok(false),
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(f: impl FnOnce(&mut Vec<u8>)) -> String {
        let mut out = Vec::new();
        f(&mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn a_vector_set_shows_its_settings_and_each_vector_as_vemb_does() {
        use crate::vector_set::{Quantization, VectorElement};
        let mut set = VectorSet {
            dim: 2,
            reduce: Some(1),
            quantization: Quantization::None,
            m: 8,
            elements: Default::default(),
        };
        let (stored, l2, range) = set.store(&[0.1, -2.0]);
        let element = VectorElement { stored, l2, range, attributes: Some(b"{}"[..].into()) };
        set.elements.insert(b"e"[..].into(), element);
        let parsed: serde_json::Value = serde_json::from_str(&render(|o| {
            write_value(o, &Value::VectorSet(std::borrow::Cow::Owned(set)))
        }))
        .unwrap();
        // One component, (0.1 - 2) / √2, normalized to -1 and scaled back by its length.
        let projected = (0.1f32 * (1.0 / 2f64.sqrt()) as f32) + (-2.0f32 * (1.0 / 2f64.sqrt()) as f32);
        let want = serde_json::json!({"vectorset": {"dim": 2, "reduce": 1, "quantization": "NOQUANT", "m": 8,
            "elements": [{"element": "e", "vector": [f64::from(-projected.abs())], "attributes": "{}"}]}});
        assert_eq!(parsed, want);
    }

    #[test]
    fn strings_escape_and_binary_becomes_base64() {
        assert_eq!(render(|o| write_bytes(o, b"a\"b\\\n\x01")), r#""a\"b\\\n\u0001""#);
        assert_eq!(render(|o| write_bytes(o, "é".as_bytes())), "\"é\"");
        assert_eq!(render(|o| write_bytes(o, b"\x00\xff")), r#"{"base64":"AP8="}"#);
        assert_eq!(render(|o| write_bytes(o, b"")), r#""""#);
        let parsed: serde_json::Value =
            serde_json::from_str(&render(|o| write_bytes(o, b"\x00\x1f"))).unwrap();
        assert_eq!(parsed, serde_json::json!("\u{0}\u{1f}"));
    }

    #[test]
    fn the_fast_scan_agrees_with_a_byte_by_byte_one() {
        let naive = |b: &[u8], non_ascii: bool| {
            b.iter()
                .position(|&c| c < 0x20 || c == b'"' || c == b'\\' || (non_ascii && c >= 0x80))
                .unwrap_or(b.len())
        };
        let mut rng = 0x9e37_79b9_7f4a_7c15u64;
        for len in 0..64 {
            for _ in 0..200 {
                let bytes: Vec<u8> = (0..len)
                    .map(|_| {
                        rng ^= rng << 13;
                        rng ^= rng >> 7;
                        rng ^= rng << 17;
                        [b'a', b'"', b'\\', 0x1f, 0x20, 0x7f, 0x80, 0xff, 0x00, b'z'][(rng % 10) as usize]
                    })
                    .collect();
                for non_ascii in [true, false] {
                    assert_eq!(find_special(&bytes, non_ascii), naive(&bytes, non_ascii), "{bytes:?}");
                }
            }
        }
    }

    #[test]
    fn mixed_text_escapes_and_falls_back_to_base64_only_when_invalid() {
        let text = "ключ \"q\" \u{1}\t end".as_bytes();
        let rendered = render(|o| write_bytes(o, text));
        let back: String = serde_json::from_str(&rendered).unwrap();
        assert_eq!(back.as_bytes(), text);
        let mut bad = text.to_vec();
        bad.push(0xff);
        assert!(render(|o| write_bytes(o, &bad)).starts_with("{\"base64\""));
    }

    #[test]
    fn scores_round_trip() {
        for s in [0.0, -0.0, 1.5, -2.25, 1e300, 5e-324, 1.0 / 3.0] {
            let text = render(|o| write_score(o, s));
            let back: f64 = text.parse().unwrap();
            assert_eq!(back.to_bits(), s.to_bits(), "{text}");
        }
        assert_eq!(render(|o| write_score(o, f64::INFINITY)), "\"inf\"");
        // Whole numbers take a shortcut that must write what ryu writes.
        let mut x = 1u64;
        for i in 0..200_000i64 {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let magnitude = [1i64, 1000, 1 << 20, 1 << 40, 999_999_999_999_999][(i % 5) as usize];
            for s in [i as f64, -(i as f64), ((x >> 11) as i64 % magnitude) as f64, 1e15 - i as f64] {
                let want = ryu::Buffer::new().format_finite(s).to_string();
                assert_eq!(render(|o| write_score(o, s)), want);
            }
        }
        assert_eq!(render(|o| write_score(o, f64::NEG_INFINITY)), "\"-inf\"");
    }
}

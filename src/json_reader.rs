//! Reading the `convert --to jsonl|json` schema (README, "JSON schema") back into [`Item`]s: the
//! inverse of [`crate::json`], so that a dump converted to JSON, edited and converted back is
//! exact.
//!
//! The input is JSON Lines (one record per line, blank lines allowed) or one JSON array of the
//! same records, in any formatting. A parser driven by the schema reads each record straight into
//! owned values, with no JSON tree in between: members may come in any order, and unknown,
//! repeated or missing members, wrong JSON types, integers out of range and values that do not
//! match the key's `type` are errors at the record's offset (the start of its line, or its `{` in
//! an array), naming what was expected. Memory is bounded by one record in both forms: an array is
//! read element by element.
//!
//! Records must also be loadable the way an RDB file is: module payloads are whole module items,
//! a stream's members all belong to one stream version, and a PEL entry's `consumer` is the
//! consumer whose `pel` lists it (what the servers' loader derives), or `null` when none does.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt::Display;

use base64::Engine;

use crate::cursor::Cursor;
use crate::dataset::{Entry, Item};
use crate::error::{Error, ErrorKind, Result, escape_bytes};
use crate::rdb::module::{ModuleValue, module_id, walk_items};
use crate::rdb::reader::KeyMetaClass;
use crate::rdb::stream::{
    Consumer, ConsumerGroup, Idmp, IdmpProducer, PendingEntry, Stream, StreamEntry, StreamId,
};
use crate::rdb::{Bytes, HashField, Header, Kind, MAX_REDIS_VERSION, VALKEY_VERSIONS, Value, Vendor};

/// What one line of JSON Lines holds.
#[derive(Clone, Debug, PartialEq)]
pub enum Line {
    /// Only whitespace.
    Blank,
    /// The header record, `{"rdb":{"magic":…,"version":…}}`.
    Header(Header),
    /// Any other record.
    Item(Item<'static>),
}

/// Parses one line of JSON Lines (with or without its line end) that starts at absolute
/// `offset`; lines can be parsed in any order, in parallel.
///
/// # Errors
/// The line is not one record of the schema; the error is at `offset`.
pub fn parse_line(line: &[u8], offset: u64) -> Result<Line> {
    let mut p = Parser::new(line, offset, 0, "the end of the line");
    if p.peek().is_none() {
        return Ok(Line::Blank);
    }
    let record = p.record()?;
    if p.peek().is_some() {
        return Err(p.unexpected("the end of the line after the record"));
    }
    Ok(record)
}

/// Where a [`JsonReader`] is in its input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Framing {
    /// JSON Lines.
    Lines,
    /// Just after an array's `[`.
    ArrayStart,
    /// After a `,` between elements.
    ArrayNext,
    /// After the array's `]`.
    ArrayEnd,
}

/// Reads the records of JSON Lines or a JSON array (the whole input, e.g. a memory map) as
/// [`Item`]s in input order; the header record, when it comes first, is [`JsonReader::header`].
///
/// Iteration stops after the first error.
#[derive(Debug)]
pub struct JsonReader<'a> {
    data: &'a [u8],
    /// The next byte to read.
    pos: usize,
    framing: Framing,
    header: Option<Header>,
    /// The first record when it is not the header (read by [`JsonReader::new`]).
    first: Option<Item<'static>>,
    done: bool,
}

impl<'a> JsonReader<'a> {
    /// Detects the form of `data` (an array when its first non-blank byte is `[`, else JSON
    /// Lines) and reads the first record.
    ///
    /// # Errors
    /// The first record (or the array's opening) is invalid.
    pub fn new(data: &'a [u8]) -> Result<JsonReader<'a>> {
        let start = data.iter().position(|&b| !is_space(b)).unwrap_or(data.len());
        let (framing, pos) = if data.get(start) == Some(&b'[') {
            (Framing::ArrayStart, start + 1)
        } else {
            (Framing::Lines, 0)
        };
        let mut reader = JsonReader { data, pos, framing, header: None, first: None, done: false };
        match reader.read()? {
            Some((_, Line::Header(header))) => reader.header = Some(header),
            Some((_, Line::Item(item))) => reader.first = Some(item),
            Some((_, Line::Blank)) | None => {}
        }
        Ok(reader)
    }

    /// The header record, when the input starts with one.
    pub fn header(&self) -> Option<Header> {
        self.header
    }

    /// The next record (never [`Line::Blank`]) and its offset; `None` at the end.
    fn read(&mut self) -> Result<Option<(u64, Line)>> {
        if self.done {
            return Ok(None);
        }
        let result = match self.framing {
            Framing::Lines => self.read_line(),
            _ => self.read_element(),
        };
        if !matches!(result, Ok(Some(_))) {
            self.done = true;
        }
        result
    }

    fn read_line(&mut self) -> Result<Option<(u64, Line)>> {
        while let Some(rest) = self.data.get(self.pos..).filter(|r| !r.is_empty()) {
            let len = memchr::memchr(b'\n', rest).unwrap_or(rest.len());
            let offset = self.pos as u64;
            self.pos += len + 1;
            match parse_line(&rest[..len], offset)? {
                Line::Blank => {}
                line => return Ok(Some((offset, line))),
            }
        }
        Ok(None)
    }

    fn read_element(&mut self) -> Result<Option<(u64, Line)>> {
        let mut p = Parser::new(self.data, 0, self.pos, END_OF_INPUT);
        p.peek();
        p.start = p.pos;
        if self.framing == Framing::ArrayStart && p.eat(b']') {
            self.framing = Framing::ArrayEnd;
            p.start = p.pos;
        }
        if self.framing == Framing::ArrayEnd {
            return match p.peek() {
                Some(_) => Err(p.unexpected("nothing after the array")),
                None => Ok(None),
            };
        }
        let offset = p.start as u64;
        let line = p.record()?;
        p.peek();
        p.start = p.pos;
        self.framing = if p.eat(b']') {
            Framing::ArrayEnd
        } else if p.eat(b',') {
            Framing::ArrayNext
        } else {
            return Err(p.unexpected("',' or ']' after an array element"));
        };
        self.pos = p.pos;
        Ok(Some((offset, line)))
    }
}

impl Iterator for JsonReader<'_> {
    type Item = Result<Item<'static>>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(item) = self.first.take() {
            return Some(Ok(item));
        }
        match self.read() {
            Ok(None) => None,
            Ok(Some((_, Line::Item(item)))) => Some(Ok(item)),
            Ok(Some((offset, _))) => {
                self.done = true;
                let kind = ErrorKind::Invalid {
                    what: WHAT,
                    expected: "the header only as the first record",
                    found: "a header record later".into(),
                };
                Some(Err(Error::new(kind, offset)))
            }
            Err(e) => Some(Err(e)),
        }
    }
}

impl std::iter::FusedIterator for JsonReader<'_> {}

const WHAT: &str = "JSON record";
const END_OF_INPUT: &str = "the end of the input";
const BYTES: &str = "a byte string: a JSON string or {\"base64\": \"…\"}";
const BASE64: &str = "standard base64 with padding";
const STREAM_ID: &str = "a stream id \"<ms>-<seq>\"";
/// Deepest nesting accepted in a key's value read before its type is known (the schema needs 6).
const MAX_SKIP_DEPTH: u32 = 64;
/// Longest text quoted in an error message.
const MAX_QUOTE: usize = 64;

/// An `expected` text for an unsigned 64-bit member.
macro_rules! unsigned {
    ($name:literal) => {
        concat!("\"", $name, "\": an integer from 0 to 2^64-1")
    };
}

/// An `expected` text for a signed 64-bit member.
macro_rules! signed {
    ($name:literal) => {
        concat!("\"", $name, "\": an integer from -2^63 to 2^63-1")
    };
}

/// Reads an object (`expected` names it) whose members are each read at most once by their
/// reader into an `Option` local of the given name; other members are errors:
/// `members!(p, EXPECTED, { "name" => name: reader, … });`
macro_rules! members {
    ($p:expr, $expected:expr, { $($name:literal => $slot:ident : $read:expr),+ $(,)? }) => {
        $(let mut $slot = None;)+
        $p.object($expected, |p, name| match name {
            $(n if n == $name.as_bytes() => p.once(&mut $slot, $name, $read),)+
            _ => Err(p.unknown($expected, name)),
        })?;
    };
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

/// Bytes for an error message: escaped, and cut after [`MAX_QUOTE`] bytes.
fn quote(bytes: &[u8]) -> String {
    let more = if bytes.len() > MAX_QUOTE { "…" } else { "" };
    format!("\"{}\"{more}", escape_bytes(&bytes[..bytes.len().min(MAX_QUOTE)]))
}

/// A schema-driven JSON parser over one record (or, for arrays, the whole input).
struct Parser<'a> {
    data: &'a [u8],
    pos: usize,
    /// Where the current record starts in `data`: errors are reported there.
    start: usize,
    /// Absolute offset of `data[0]`.
    base: u64,
    /// How the end of `data` is called in messages.
    end: &'static str,
}

impl<'a> Parser<'a> {
    fn new(data: &'a [u8], base: u64, pos: usize, end: &'static str) -> Parser<'a> {
        Parser { data, pos, start: pos, base, end }
    }

    // ---- errors ----

    /// An error at the record's offset; `found` is located at `at` inside the record.
    fn error_at(&self, at: usize, expected: &'static str, found: impl Display) -> Error {
        let found = match at.checked_sub(self.start) {
            Some(n) if n > 0 => format!("{found} at byte {n} of the record"),
            _ => found.to_string(),
        };
        Error::new(ErrorKind::Invalid { what: WHAT, expected, found }, self.base + self.start as u64)
    }

    fn error(&self, expected: &'static str, found: impl Display) -> Error {
        self.error_at(self.pos, expected, found)
    }

    /// An error naming the JSON found at the current position.
    fn unexpected(&self, expected: &'static str) -> Error {
        let rest = self.data.get(self.pos..).unwrap_or_default();
        let found = match rest.first() {
            None => self.end.to_owned(),
            Some(b'"') => "a string".to_owned(),
            Some(b'{') => "an object".to_owned(),
            Some(b'[') => "an array".to_owned(),
            Some(b'-' | b'0'..=b'9') => "a number".to_owned(),
            _ if rest.starts_with(b"true") || rest.starts_with(b"false") => "a boolean".to_owned(),
            _ if rest.starts_with(b"null") => "null".to_owned(),
            Some(&b) => format!("'{}'", escape_bytes(&[b])),
        };
        self.error(expected, found)
    }

    fn unknown(&self, expected: &'static str, name: &[u8]) -> Error {
        self.error(expected, format_args!("member {}", quote(name)))
    }

    fn required<T>(&self, slot: Option<T>, expected: &'static str, name: &str) -> Result<T> {
        slot.ok_or_else(|| self.error(expected, format_args!("no \"{name}\"")))
    }

    // ---- JSON tokens ----

    /// Skips whitespace; the next byte.
    fn peek(&mut self) -> Option<u8> {
        while let Some(&b) = self.data.get(self.pos) {
            if !is_space(b) {
                return Some(b);
            }
            self.pos += 1;
        }
        None
    }

    fn eat(&mut self, b: u8) -> bool {
        let found = self.peek() == Some(b);
        self.pos += usize::from(found);
        found
    }

    fn eat_word(&mut self, word: &[u8]) -> bool {
        self.peek();
        let found = self.data.get(self.pos..).is_some_and(|rest| rest.starts_with(word));
        if found {
            self.pos += word.len();
        }
        found
    }

    fn expect(&mut self, b: u8, expected: &'static str) -> Result<()> {
        if self.eat(b) { Ok(()) } else { Err(self.unexpected(expected)) }
    }

    /// A JSON string's bytes, borrowed when it has no escapes.
    fn string(&mut self, expected: &'static str) -> Result<Cow<'a, [u8]>> {
        if self.peek() != Some(b'"') {
            return Err(self.unexpected(expected));
        }
        let data = self.data;
        self.pos += 1;
        let mut owned: Option<Vec<u8>> = None;
        loop {
            let rest = data.get(self.pos..).unwrap_or_default();
            let Some(len) = memchr::memchr2(b'"', b'\\', rest) else {
                self.pos = data.len();
                return Err(self.error("a string closed by '\"'", self.end));
            };
            let text = &rest[..len];
            if let Some(i) = text.iter().position(|&b| b < 0x20) {
                return Err(self.error_at(self.pos + i, "a control character escaped", "a raw one"));
            }
            if let Err(e) = std::str::from_utf8(text) {
                return Err(self.error_at(self.pos + e.valid_up_to(), "UTF-8 text", "an invalid byte"));
            }
            self.pos += len + 1;
            if rest[len] == b'"' {
                return Ok(match owned {
                    None => Cow::Borrowed(text),
                    Some(mut buf) => {
                        buf.extend_from_slice(text);
                        Cow::Owned(buf)
                    }
                });
            }
            let buf = owned.get_or_insert_with(Vec::new);
            buf.extend_from_slice(text);
            self.escape(buf)?;
        }
    }

    /// Appends the character of the escape after a `\`.
    fn escape(&mut self, out: &mut Vec<u8>) -> Result<()> {
        const E: &str = "an escape: \\\" \\\\ \\/ \\b \\f \\n \\r \\t or \\uXXXX";
        let at = self.pos - 1;
        let byte = match self.data.get(self.pos) {
            Some(b'"') => b'"',
            Some(b'\\') => b'\\',
            Some(b'/') => b'/',
            Some(b'b') => 8,
            Some(b'f') => 12,
            Some(b'n') => b'\n',
            Some(b'r') => b'\r',
            Some(b't') => b'\t',
            Some(b'u') => {
                self.pos += 1;
                let c = self.unicode_escape().ok_or_else(|| {
                    self.error_at(at, "a \\uXXXX escape of a character (surrogates in pairs)", "another")
                })?;
                out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
                return Ok(());
            }
            _ => return Err(self.error_at(at, E, "another")),
        };
        self.pos += 1;
        out.push(byte);
        Ok(())
    }

    /// The character of a `\u` escape (its `\u` read), joining a surrogate pair.
    fn unicode_escape(&mut self) -> Option<char> {
        let high = self.hex4()?;
        if !(0xd800..0xdc00).contains(&high) {
            return char::from_u32(high);
        }
        if !self.data.get(self.pos..)?.starts_with(b"\\u") {
            return None;
        }
        self.pos += 2;
        let low = self.hex4().filter(|low| (0xdc00..0xe000).contains(low))?;
        char::from_u32(0x10000 + ((high - 0xd800) << 10) + (low - 0xdc00))
    }

    fn hex4(&mut self) -> Option<u32> {
        let digits = self.data.get(self.pos..self.pos + 4)?;
        let value = digits.iter().try_fold(0, |v, &d| Some(v << 4 | char::from(d).to_digit(16)?))?;
        self.pos += 4;
        Some(value)
    }

    /// A JSON number's text, and whether it is an integer (no fraction or exponent).
    fn number(&mut self, expected: &'static str) -> Result<(&'a str, bool)> {
        self.peek();
        let data = self.data;
        let start = self.pos;
        let digits =
            |i: usize| data.get(i..).map_or(0, |r| r.iter().take_while(|b| b.is_ascii_digit()).count());
        let mut i = start + usize::from(data.get(start) == Some(&b'-'));
        match data.get(i) {
            Some(b'0') => i += 1,
            Some(b'1'..=b'9') => i += digits(i),
            _ => return Err(self.unexpected(expected)),
        }
        let mut integer = true;
        if data.get(i) == Some(&b'.') {
            integer = false;
            match digits(i + 1) {
                0 => return Err(self.error_at(i + 1, "digits after '.'", "none")),
                n => i += 1 + n,
            }
        }
        if let Some(b'e' | b'E') = data.get(i) {
            integer = false;
            i += 1 + usize::from(matches!(data.get(i + 1), Some(b'+' | b'-')));
            match digits(i) {
                0 => return Err(self.error_at(i, "digits in an exponent", "none")),
                n => i += n,
            }
        }
        self.pos = i;
        // Only ASCII was accepted above.
        Ok((std::str::from_utf8(&data[start..i]).unwrap_or_default(), integer))
    }

    /// An integer that fits `T`.
    fn int<T: TryFrom<i128>>(&mut self, expected: &'static str) -> Result<T> {
        self.peek();
        let at = self.pos;
        let (text, integer) = self.number(expected)?;
        let value = text.parse::<i128>().ok().filter(|_| integer).and_then(|v| T::try_from(v).ok());
        value.ok_or_else(|| self.error_at(at, expected, quote(text.as_bytes())))
    }

    /// An unsigned integer of at most `max`.
    fn int_upto(&mut self, max: u64, expected: &'static str) -> Result<u64> {
        self.peek();
        let at = self.pos;
        let value = self.int(expected)?;
        if value > max {
            return Err(self.error_at(at, expected, value));
        }
        Ok(value)
    }

    /// Reads an object, calling `member` with each member's name to read its value.
    fn object(
        &mut self,
        expected: &'static str,
        mut member: impl FnMut(&mut Self, &[u8]) -> Result<()>,
    ) -> Result<()> {
        self.expect(b'{', expected)?;
        if self.eat(b'}') {
            return Ok(());
        }
        loop {
            let name = self.string("a member name")?;
            self.expect(b':', "':' after a member name")?;
            member(self, &name)?;
            if self.eat(b'}') {
                return Ok(());
            }
            self.expect(b',', "',' or '}' after an object member")?;
        }
    }

    /// Reads a member's value into `slot` unless it was already read.
    fn once<T>(
        &mut self,
        slot: &mut Option<T>,
        name: &str,
        read: impl FnOnce(&mut Self) -> Result<T>,
    ) -> Result<()> {
        if slot.is_some() {
            return Err(self.error("each member at most once", format_args!("a second \"{name}\"")));
        }
        *slot = Some(read(self)?);
        Ok(())
    }

    /// Reads an array whose elements `item` reads.
    fn list<T>(
        &mut self,
        expected: &'static str,
        mut item: impl FnMut(&mut Self) -> Result<T>,
    ) -> Result<Vec<T>> {
        self.expect(b'[', expected)?;
        let mut out = Vec::new();
        if self.eat(b']') {
            return Ok(out);
        }
        loop {
            out.push(item(self)?);
            if self.eat(b']') {
                return Ok(out);
            }
            self.expect(b',', "',' or ']' after an array element")?;
        }
    }

    /// Reads a two-element array.
    fn pair<A, B>(
        &mut self,
        expected: &'static str,
        first: impl FnOnce(&mut Self) -> Result<A>,
        second: impl FnOnce(&mut Self) -> Result<B>,
    ) -> Result<(A, B)> {
        self.expect(b'[', expected)?;
        let a = first(self)?;
        self.expect(b',', expected)?;
        let b = second(self)?;
        self.expect(b']', expected)?;
        Ok((a, b))
    }

    /// Skips one JSON value of any shape nested at most `depth` deep.
    fn skip_value(&mut self, depth: u32) -> Result<()> {
        const E: &str = "a JSON value (nested at most 64 deep)";
        match self.peek() {
            Some(b'{') if depth > 0 => self.object(E, |p, _| p.skip_value(depth - 1)),
            Some(b'[') if depth > 0 => self.list(E, |p| p.skip_value(depth - 1)).map(drop),
            Some(b'"') => self.string(E).map(drop),
            _ if self.eat_word(b"true") || self.eat_word(b"false") || self.eat_word(b"null") => Ok(()),
            _ => self.number(E).map(drop),
        }
    }

    // ---- schema values ----

    fn byte_vec(&mut self) -> Result<Vec<u8>> {
        if self.peek() != Some(b'{') {
            return self.string(BYTES).map(Cow::into_owned);
        }
        members!(self, BYTES, {
            "base64" => base64: |p| {
                p.peek();
                let at = p.pos;
                let text = p.string(BASE64)?;
                let decoded = base64::engine::general_purpose::STANDARD.decode(&*text);
                decoded.map_err(|e| p.error_at(at, BASE64, e))
            },
        });
        self.required(base64, BYTES, "base64")
    }

    fn bytes(&mut self) -> Result<Bytes<'static>> {
        self.byte_vec().map(Bytes::Owned)
    }

    fn score(&mut self) -> Result<f64> {
        const E: &str = "a score: a JSON number, \"inf\", \"-inf\" or \"nan\"";
        self.peek();
        let at = self.pos;
        if self.peek() == Some(b'"') {
            return match &*self.string(E)? {
                b"inf" => Ok(f64::INFINITY),
                b"-inf" => Ok(f64::NEG_INFINITY),
                b"nan" => Ok(f64::NAN),
                other => Err(self.error_at(at, E, quote(other))),
            };
        }
        let (text, _) = self.number(E)?;
        text.parse::<f64>()
            .ok()
            .filter(|s| s.is_finite())
            .ok_or_else(|| self.error_at(at, "a score within the range of a double", text))
    }

    fn stream_id(&mut self) -> Result<StreamId> {
        self.peek();
        let at = self.pos;
        let text = self.string(STREAM_ID)?;
        let part = |digits: &[u8]| {
            let digits =
                std::str::from_utf8(digits).ok().filter(|d| d.bytes().all(|b| b.is_ascii_digit()))?;
            digits.parse::<u64>().ok()
        };
        let id = text
            .iter()
            .position(|&b| b == b'-')
            .and_then(|dash| Some(StreamId { ms: part(&text[..dash])?, seq: part(&text[dash + 1..])? }));
        id.ok_or_else(|| self.error_at(at, STREAM_ID, quote(&text)))
    }

    /// A module type id from its name and encoding version.
    fn module_id(&self, name: &[u8], encver: u64) -> Result<u64> {
        let id = std::str::from_utf8(name).ok().and_then(|name| module_id(name, encver));
        id.ok_or_else(|| {
            self.error("a module name of 9 characters A-Z a-z 0-9 - _", format_args!("{}", quote(name)))
        })
    }

    /// Checks that `payload` is module items up to their end marker, as the RDB format has them.
    fn module_items(&self, payload: &[u8]) -> Result<()> {
        const E: &str = "a \"payload\" of module items ending with their end marker";
        let mut cur = Cursor::new(payload, 0);
        match walk_items(&mut cur) {
            Ok(_) if cur.is_empty() => Ok(()),
            Ok(_) => Err(self.error(E, format_args!("{} bytes after the end marker", cur.remaining()))),
            Err(e) => Err(self.error(E, format_args!("at payload byte {}: {}", e.offset(), e.kind()))),
        }
    }

    // ---- records ----

    /// One record: an object at the current position.
    fn record(&mut self) -> Result<Line> {
        const E: &str = "a JSON object: a key record, or {\"rdb\"|\"aux\"|\"function\"|\
                         \"function_pre_ga\"|\"module_aux\"|\"slot_import\": {…}}";
        let open = self.pos;
        self.expect(b'{', E)?;
        let first = if self.peek() == Some(b'"') { Some(self.string(E)?) } else { None };
        self.pos = open;
        Ok(match first.as_deref() {
            Some(b"rdb") => Line::Header(self.single(Self::header)?),
            Some(b"aux") => Line::Item(self.single(Self::aux)?),
            Some(b"function") => Line::Item(self.single(Self::function)?),
            Some(b"function_pre_ga") => Line::Item(self.single(Self::function_pre_ga)?),
            Some(b"module_aux") => Line::Item(self.single(Self::module_aux)?),
            Some(b"slot_import") => Line::Item(self.single(Self::slot_import)?),
            _ => Line::Item(Item::Key(self.key_record()?)),
        })
    }

    /// Reads `{"<name>": …}` whose one member `read` reads (the name is already known).
    fn single<T>(&mut self, read: impl FnOnce(&mut Self) -> Result<T>) -> Result<T> {
        self.expect(b'{', "'{'")?;
        self.string("a member name")?;
        self.expect(b':', "':' after a member name")?;
        let value = read(self)?;
        self.expect(b'}', "'}': a record other than a key has one member")?;
        Ok(value)
    }

    fn header(&mut self) -> Result<Header> {
        const E: &str = "a header {\"magic\": \"REDIS\" or \"VALKEY\", \"version\": n}";
        members!(self, E, {
            "magic" => magic: |p| {
                p.peek();
                let at = p.pos;
                match &*p.string(E)? {
                    b"REDIS" => Ok(Vendor::Redis),
                    b"VALKEY" => Ok(Vendor::Valkey),
                    other => Err(p.error_at(at, E, quote(other))),
                }
            },
            "version" => version: |p| p.int(E),
        });
        let header = Header {
            vendor: self.required(magic, E, "magic")?,
            version: self.required(version, E, "version")?,
        };
        let known = match header.vendor {
            Vendor::Redis => (1..=MAX_REDIS_VERSION).contains(&header.version),
            Vendor::Valkey => VALKEY_VERSIONS.contains(&header.version),
        };
        if !known {
            let kind = ErrorKind::UnsupportedVersion { magic: header.magic(), version: header.version };
            return Err(Error::new(kind, self.base + self.start as u64));
        }
        Ok(header)
    }

    fn aux(&mut self) -> Result<Item<'static>> {
        const E: &str = "an aux record {\"name\": bytes, \"value\": bytes}";
        members!(self, E, { "name" => name: Self::bytes, "value" => value: Self::bytes });
        Ok(Item::Aux { name: self.required(name, E, "name")?, value: self.required(value, E, "value")? })
    }

    fn function(&mut self) -> Result<Item<'static>> {
        const E: &str = "a function record {\"code\": bytes}";
        members!(self, E, { "code" => code: Self::bytes });
        Ok(Item::Function { code: self.required(code, E, "code")? })
    }

    fn function_pre_ga(&mut self) -> Result<Item<'static>> {
        const E: &str = "a function_pre_ga record {\"name\", \"engine\", \"code\": bytes, optionally \"description\": bytes}";
        members!(self, E, {
            "name" => name: Self::bytes,
            "engine" => engine: Self::bytes,
            "description" => description: Self::bytes,
            "code" => code: Self::bytes,
        });
        Ok(Item::FunctionPreGa {
            name: self.required(name, E, "name")?,
            engine: self.required(engine, E, "engine")?,
            description,
            code: self.required(code, E, "code")?,
        })
    }

    fn module_aux(&mut self) -> Result<Item<'static>> {
        const E: &str =
            "a module_aux record {\"module\": name, \"encver\": 0 to 1023, \"when\": n, \"payload\": bytes}";
        members!(self, E, {
            "module" => module: |p| p.string(E),
            "encver" => encver: |p| p.int_upto(1023, E),
            "when" => when: |p| p.int(unsigned!("when")),
            "payload" => payload: Self::byte_vec,
        });
        let id = self.module_id(&self.required(module, E, "module")?, self.required(encver, E, "encver")?)?;
        let payload = self.required(payload, E, "payload")?;
        self.module_items(&payload)?;
        Ok(Item::ModuleAux { id, when: self.required(when, E, "when")?, payload: Cow::Owned(payload) })
    }

    fn slot_import(&mut self) -> Result<Item<'static>> {
        const E: &str = "a slot_import record {\"job\": bytes, \"ranges\": [[from, to], …]}";
        const RANGE: &str = "a slot range [from, to] of integers from 0 to 2^64-1";
        members!(self, E, {
            "job" => job: Self::bytes,
            "ranges" => ranges: |p| p.list(E, |p| p.pair(RANGE, |p| p.int(RANGE), |p| p.int(RANGE))),
        });
        Ok(Item::SlotImport {
            job: self.required(job, E, "job")?,
            ranges: self.required(ranges, E, "ranges")?,
        })
    }

    fn key_record(&mut self) -> Result<Entry<'static>> {
        const E: &str = "a key record {\"db\", \"key\", \"type\", \"value\", optionally \"encoding\", \
                         \"expire_ms\", \"idle_s\", \"freq\", \"key_meta\"}";
        const ENCODING: &str = "\"encoding\": a string";
        const KEY_META: &str = "\"key_meta\": an array of classes";
        let (mut db, mut key, mut kind, mut encoding) = (None, None, None, None);
        let (mut expire_ms, mut idle_s, mut freq, mut key_meta) = (None, None, None, None);
        // The value, or where it starts when it comes before "type".
        let mut value: Option<Result<Value<'static>, usize>> = None;
        self.object(E, |p, name| match name {
            b"db" => p.once(&mut db, "db", |p| p.int(unsigned!("db"))),
            b"key" => p.once(&mut key, "key", Self::bytes),
            b"type" => p.once(&mut kind, "type", Self::kind),
            b"encoding" => p.once(&mut encoding, "encoding", |p| p.string(ENCODING).map(drop)),
            b"expire_ms" => p.once(&mut expire_ms, "expire_ms", |p| p.int(signed!("expire_ms"))),
            b"idle_s" => p.once(&mut idle_s, "idle_s", |p| p.int(unsigned!("idle_s"))),
            b"freq" => p.once(&mut freq, "freq", |p| p.int("\"freq\": an integer from 0 to 255")),
            b"key_meta" => p.once(&mut key_meta, "key_meta", |p| p.list(KEY_META, Self::key_meta_class)),
            b"value" => {
                let kind = kind;
                p.once(&mut value, "value", |p| match kind {
                    Some(kind) => p.value(kind).map(Ok),
                    None => {
                        p.peek();
                        let at = p.pos;
                        p.skip_value(MAX_SKIP_DEPTH).map(|()| Err(at))
                    }
                })
            }
            _ => Err(p.unknown(E, name)),
        })?;
        let kind = self.required(kind, E, "type")?;
        let value = match self.required(value, E, "value")? {
            Ok(value) => value,
            Err(at) => {
                let end = self.pos;
                self.pos = at;
                let value = self.value(kind)?;
                self.pos = end;
                value
            }
        };
        Ok(Entry {
            db: self.required(db, E, "db")?,
            key: self.required(key, E, "key")?,
            expire_ms,
            idle_s,
            freq,
            key_meta: key_meta.unwrap_or_default(),
            value,
        })
    }

    fn kind(&mut self) -> Result<Kind> {
        const E: &str =
            "\"type\": \"string\", \"list\", \"set\", \"zset\", \"hash\", \"stream\" or \"module\"";
        self.peek();
        let at = self.pos;
        let name = self.string(E)?;
        let kind = std::str::from_utf8(&name).ok().and_then(Kind::from_name);
        kind.ok_or_else(|| self.error_at(at, E, quote(&name)))
    }

    fn key_meta_class(&mut self) -> Result<KeyMetaClass<'static>> {
        const E: &str = "a key_meta class {\"class\": 4 characters A-Z a-z 0-9 _ -, \"version\": 0 to 31, \
                         \"flags\": 0 to 7, \"payload\": bytes}";
        members!(self, E, {
            "class" => class: |p| p.string(E),
            "version" => version: |p| p.int_upto(31, E),
            "flags" => flags: |p| p.int_upto(7, E),
            "payload" => payload: Self::byte_vec,
        });
        let class = self.required(class, E, "class")?;
        let bits = key_meta_name_bits(&class).ok_or_else(|| self.error(E, quote(&class)))?;
        let (version, flags) = (self.required(version, E, "version")?, self.required(flags, E, "flags")?);
        let payload = self.required(payload, E, "payload")?;
        self.module_items(&payload)?;
        // In range: 24 name bits, 5 version bits and 3 flag bits.
        let spec = bits << 8 | (version as u32) << 3 | flags as u32;
        Ok(KeyMetaClass { spec, payload: Cow::Owned(payload) })
    }

    fn value(&mut self, kind: Kind) -> Result<Value<'static>> {
        const LIST: &str = "a \"list\" value: an array of byte strings";
        const SET: &str = "a \"set\" value: an array of byte strings";
        const ZSET: &str = "a \"zset\" value: an array of [member, score] pairs";
        const HASH: &str = "a \"hash\" value: an array of [field, value] or [field, value, expire_ms]";
        Ok(match kind {
            Kind::String => Value::String(self.bytes()?),
            Kind::List => Value::List(self.list(LIST, Self::bytes)?),
            Kind::Set => Value::Set(self.list(SET, Self::bytes)?),
            Kind::ZSet => Value::ZSet(self.list(ZSET, |p| p.pair(ZSET, Self::bytes, Self::score))?),
            Kind::Hash => Value::Hash(self.list(HASH, |p| p.hash_field(HASH))?),
            Kind::Stream => Value::Stream(Box::new(self.stream()?)),
            Kind::Module => Value::Module(self.module_value()?),
        })
    }

    fn hash_field(&mut self, expected: &'static str) -> Result<HashField<'static>> {
        self.expect(b'[', expected)?;
        let field = self.bytes()?;
        self.expect(b',', expected)?;
        let value = self.bytes()?;
        let expire_ms = if self.eat(b',') { Some(self.int(signed!("expire_ms"))?) } else { None };
        self.expect(b']', expected)?;
        Ok(HashField { field, value, expire_ms })
    }

    fn module_value(&mut self) -> Result<ModuleValue<'static>> {
        const E: &str = "a \"module\" value {\"module\": name, \"encver\": 0 to 1023, \"payload\": bytes}";
        members!(self, E, {
            "module" => module: |p| p.string(E),
            "encver" => encver: |p| p.int_upto(1023, E),
            "payload" => payload: Self::byte_vec,
        });
        let id = self.module_id(&self.required(module, E, "module")?, self.required(encver, E, "encver")?)?;
        let payload = self.required(payload, E, "payload")?;
        self.module_items(&payload)?;
        Ok(ModuleValue { id, payload: Cow::Owned(payload) })
    }

    fn stream(&mut self) -> Result<Stream<'static>> {
        const E: &str = "a \"stream\" value {\"length\", \"last_id\", \"entries\", \"groups\", and by \
                         version \"first_id\", \"max_deleted_id\", \"entries_added\", \"idmp\"}";
        const ENTRIES: &str = "\"entries\": an array of {\"id\", \"fields\"}";
        const GROUPS: &str = "\"groups\": an array of consumer groups";
        members!(self, E, {
            "length" => length: |p| p.int(unsigned!("length")),
            "last_id" => last_id: Self::stream_id,
            "first_id" => first_id: Self::stream_id,
            "max_deleted_id" => max_deleted_id: Self::stream_id,
            "entries_added" => entries_added: |p| p.int(unsigned!("entries_added")),
            "entries" => entries: |p| p.list(ENTRIES, Self::stream_entry),
            "groups" => groups: |p| p.list(GROUPS, Self::group),
            "idmp" => idmp: Self::idmp,
        });
        let stream = Stream {
            entries: self.required(entries, E, "entries")?,
            length: self.required(length, E, "length")?,
            last_id: self.required(last_id, E, "last_id")?,
            first_id,
            max_deleted_id,
            entries_added,
            groups: self.required(groups, E, "groups")?,
            idmp,
            nodes: None,
        };
        self.check_stream_version(&stream)?;
        Ok(stream)
    }

    /// Checks that the stream's optional members are those of one stream version.
    fn check_stream_version(&self, s: &Stream<'_>) -> Result<()> {
        const E: &str = "the members of one stream version (2 adds first_id, max_deleted_id, \
                         entries_added and each group's entries_read; 3 each consumer's active_time_ms; \
                         4 idmp; 5 each group's nacked)";
        let members: Vec<(&str, u8, bool)> = [
            ("first_id", 2, s.first_id.is_some()),
            ("max_deleted_id", 2, s.max_deleted_id.is_some()),
            ("entries_added", 2, s.entries_added.is_some()),
            ("idmp", 4, s.idmp.is_some()),
        ]
        .into_iter()
        .chain(s.groups.iter().map(|g| ("entries_read", 2, g.entries_read.is_some())))
        .chain(
            s.groups
                .iter()
                .flat_map(|g| &g.consumers)
                .map(|c| ("active_time_ms", 3, c.active_time_ms.is_some())),
        )
        .chain(s.groups.iter().map(|g| ("nacked", 5, g.nacked.is_some())))
        .collect();
        let version = members.iter().filter(|m| m.2).map(|m| m.1).max().unwrap_or(1);
        match members.iter().find(|&&(_, level, present)| !present && version >= level) {
            Some((name, ..)) => {
                Err(self.error(E, format_args!("a version {version} stream without \"{name}\"")))
            }
            None => Ok(()),
        }
    }

    fn stream_entry(&mut self) -> Result<StreamEntry<'static>> {
        const E: &str = "a stream entry {\"id\", \"fields\": [[field, value], …]}";
        const FIELD: &str = "a stream entry field [field, value]";
        members!(self, E, {
            "id" => id: Self::stream_id,
            "fields" => fields: |p| p.list(E, |p| p.pair(FIELD, Self::bytes, Self::bytes)),
        });
        Ok(StreamEntry { id: self.required(id, E, "id")?, fields: self.required(fields, E, "fields")? })
    }

    fn group(&mut self) -> Result<ConsumerGroup<'static>> {
        const E: &str = "a consumer group {\"name\", \"last_id\", \"pel\", \"consumers\", and by version \
                         \"entries_read\", \"nacked\"}";
        const PEL: &str = "\"pel\": an array of pending entries";
        const CONSUMERS: &str = "\"consumers\": an array of consumers";
        const NACKED: &str = "\"nacked\": an array of stream ids";
        members!(self, E, {
            "name" => name: Self::bytes,
            "last_id" => last_id: Self::stream_id,
            // null: the server did not know (stored as -1).
            "entries_read" => entries_read: |p| {
                if p.eat_word(b"null") { Ok(-1) } else { p.int(signed!("entries_read")) }
            },
            "pel" => pel: |p| p.list(PEL, Self::pending_entry),
            "consumers" => consumers: |p| p.list(CONSUMERS, Self::consumer),
            "nacked" => nacked: |p| p.list(NACKED, Self::stream_id),
        });
        let (mut pending, owners): (Vec<PendingEntry>, Vec<Option<Bytes<'static>>>) =
            self.required(pel, E, "pel")?.into_iter().unzip();
        let consumers = self.required(consumers, E, "consumers")?;
        // Owners as the loader derives them: the last consumer listing an id owns the group's
        // last PEL entry of that id.
        let index: HashMap<StreamId, usize> =
            pending.iter().enumerate().map(|(slot, e)| (e.id, slot)).collect();
        for (c, consumer) in consumers.iter().enumerate() {
            for id in &consumer.pending {
                let slot = index.get(id).ok_or_else(|| {
                    self.error("each id of a consumer's \"pel\" in its group's \"pel\"", format_args!("{id}"))
                })?;
                pending[*slot].consumer = Some(c);
            }
        }
        for (entry, owner) in pending.iter().zip(&owners) {
            let derived = entry.consumer.and_then(|c| consumers.get(c)).map(|c| &c.name);
            if derived != owner.as_ref() {
                let named = owner.as_ref().map_or_else(|| "null".to_owned(), |n| n.with_bytes(quote));
                return Err(self.error(
                    "a pending entry's \"consumer\": the consumer whose \"pel\" lists its id, or null",
                    format_args!("{named} for {}", entry.id),
                ));
            }
        }
        for id in nacked.iter().flatten() {
            if index.get(id).is_none_or(|&slot| pending[slot].consumer.is_some()) {
                return Err(self.error(
                    "\"nacked\" ids in the group's \"pel\" that no consumer owns",
                    format_args!("{id}"),
                ));
            }
        }
        Ok(ConsumerGroup {
            name: self.required(name, E, "name")?,
            last_id: self.required(last_id, E, "last_id")?,
            entries_read,
            pending,
            consumers,
            nacked,
        })
    }

    /// A PEL entry (its owner not yet derived) and the name its `consumer` gives.
    fn pending_entry(&mut self) -> Result<(PendingEntry, Option<Bytes<'static>>)> {
        const E: &str = "a pending entry {\"id\", \"consumer\": bytes or null, \"delivery_time_ms\", \
                         \"delivery_count\"}";
        members!(self, E, {
            "id" => id: Self::stream_id,
            "consumer" => consumer: |p| if p.eat_word(b"null") { Ok(None) } else { p.bytes().map(Some) },
            "delivery_time_ms" => delivery_time_ms: |p| p.int(signed!("delivery_time_ms")),
            "delivery_count" => delivery_count: |p| p.int(unsigned!("delivery_count")),
        });
        let entry = PendingEntry {
            id: self.required(id, E, "id")?,
            delivery_time_ms: self.required(delivery_time_ms, E, "delivery_time_ms")?,
            delivery_count: self.required(delivery_count, E, "delivery_count")?,
            consumer: None,
        };
        Ok((entry, self.required(consumer, E, "consumer")?))
    }

    fn consumer(&mut self) -> Result<Consumer<'static>> {
        const E: &str =
            "a consumer {\"name\", \"seen_time_ms\", \"pel\", and from version 3 \"active_time_ms\"}";
        const PEL: &str = "a consumer's \"pel\": an array of stream ids";
        members!(self, E, {
            "name" => name: Self::bytes,
            "seen_time_ms" => seen_time_ms: |p| p.int(signed!("seen_time_ms")),
            "active_time_ms" => active_time_ms: |p| p.int(signed!("active_time_ms")),
            "pel" => pel: |p| p.list(PEL, Self::stream_id),
        });
        Ok(Consumer {
            name: self.required(name, E, "name")?,
            seen_time_ms: self.required(seen_time_ms, E, "seen_time_ms")?,
            active_time_ms,
            pending: self.required(pel, E, "pel")?,
        })
    }

    fn idmp(&mut self) -> Result<Idmp<'static>> {
        const E: &str = "\"idmp\": {\"duration_s\", \"max_entries\", \"producers\", \"iids_added\", \
                         \"iids_duplicates\"}";
        const PRODUCERS: &str = "\"producers\": an array of {\"pid\", \"entries\"}";
        members!(self, E, {
            "duration_s" => duration_s: |p| p.int(unsigned!("duration_s")),
            "max_entries" => max_entries: |p| p.int(unsigned!("max_entries")),
            "producers" => producers: |p| p.list(PRODUCERS, Self::idmp_producer),
            "iids_added" => iids_added: |p| p.int(unsigned!("iids_added")),
            "iids_duplicates" => iids_duplicates: |p| p.int(unsigned!("iids_duplicates")),
        });
        Ok(Idmp {
            duration_s: self.required(duration_s, E, "duration_s")?,
            max_entries: self.required(max_entries, E, "max_entries")?,
            producers: self.required(producers, E, "producers")?,
            iids_added: self.required(iids_added, E, "iids_added")?,
            iids_duplicates: self.required(iids_duplicates, E, "iids_duplicates")?,
        })
    }

    fn idmp_producer(&mut self) -> Result<IdmpProducer<'static>> {
        const E: &str = "an idmp producer {\"pid\": bytes, \"entries\": [[iid, id], …]}";
        const ENTRY: &str = "an idmp entry [iid, \"<ms>-<seq>\"]";
        members!(self, E, {
            "pid" => pid: Self::bytes,
            "entries" => entries: |p| p.list(E, |p| p.pair(ENTRY, Self::bytes, Self::stream_id)),
        });
        Ok(IdmpProducer {
            pid: self.required(pid, E, "pid")?,
            entries: self.required(entries, E, "entries")?,
        })
    }
}

/// The 24 name bits of a 4-character key metadata class name. The character set is taken from
/// [`KeyMetaClass::name`], so that it is defined in one place.
fn key_meta_name_bits(name: &[u8]) -> Option<u32> {
    if name.len() != 4 {
        return None;
    }
    let char_bits = |c: u8| {
        (0..64u32).find(|&v| {
            KeyMetaClass { spec: v << 26, payload: Cow::Borrowed(&[]) }.name().bytes().next() == Some(c)
        })
    };
    name.iter().try_fold(0, |bits, &c| Some(bits << 6 | char_bits(c)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(json: &str) -> Line {
        parse_line(json.as_bytes(), 0).unwrap_or_else(|e| panic!("{json}: {e}"))
    }

    fn item(json: &str) -> Item<'static> {
        match line(json) {
            Line::Item(item) => item,
            other => panic!("{json}: not an item: {other:?}"),
        }
    }

    fn value(json: &str) -> Value<'static> {
        match item(json) {
            Item::Key(entry) => entry.value,
            other => panic!("{json}: not a key: {other:?}"),
        }
    }

    /// The error of a line at offset 100: its offset and message.
    fn error(json: &str) -> (u64, String) {
        let e = parse_line(json.as_bytes(), 100).expect_err(json);
        (e.offset(), e.to_string())
    }

    fn assert_error(json: &str, needle: &str) {
        let (offset, message) = error(json);
        assert_eq!(offset, 100, "{message}");
        assert!(message.contains(needle), "{json}: {message:?} lacks {needle:?}");
    }

    fn owned(b: &[u8]) -> Bytes<'static> {
        Bytes::Owned(b.to_vec())
    }

    fn read_all(input: &str) -> Result<(Option<Header>, Vec<Item<'static>>)> {
        let reader = JsonReader::new(input.as_bytes())?;
        let header = reader.header();
        Ok((header, reader.collect::<Result<_>>()?))
    }

    #[test]
    fn strings_escapes_and_base64() {
        let entry = match item(
            r#"{"db":3,"key":"a\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00\u0000é","type":"string","value":{"base64":"AP8="}}"#,
        ) {
            Item::Key(entry) => entry,
            other => panic!("{other:?}"),
        };
        assert_eq!(entry.db, 3);
        assert_eq!(entry.key, owned("a\"\\/\u{8}\u{c}\n\r\té😀\0é".as_bytes()));
        assert_eq!(entry.value, Value::String(owned(&[0, 0xff])));
        assert_eq!((entry.expire_ms, entry.idle_s, entry.freq), (None, None, None));
        assert!(matches!(entry.key, Bytes::Owned(_)));
        assert_error(r#"{"db":0,"key":"\ud83d","type":"string","value":""}"#, "surrogates in pairs");
        assert_error(r#"{"db":0,"key":"\ude00x","type":"string","value":""}"#, "surrogates in pairs");
        assert_error(r#"{"db":0,"key":"\u12g4","type":"string","value":""}"#, "\\uXXXX");
        assert_error(r#"{"db":0,"key":"\x","type":"string","value":""}"#, "an escape");
        assert_error(
            "{\"db\":0,\"key\":\"a\tb\",\"type\":\"string\",\"value\":\"\"}",
            "control character escaped",
        );
        assert_error(r#"{"db":0,"key":"ab"#, "closed by");
        let Item::Key(entry) = item("{\"db\":0,\"key\":\"a\u{e9}\",\"type\":\"string\",\"value\":\"\"}")
        else {
            panic!("not a key")
        };
        assert_eq!(entry.key, owned("aé".as_bytes()));
        let bad_utf8 = parse_line(b"{\"db\":0,\"key\":\"a\xff\",\"type\":\"string\",\"value\":\"\"}", 7);
        let e = bad_utf8.unwrap_err();
        assert!(e.to_string().contains("UTF-8 text, found an invalid byte at byte 16"), "{e}");
        assert_eq!(e.offset(), 7);
        for bad in [r#""AP8""#, r#""AP8=x""#, r#""AP9=""#, r#""****""#, "1"] {
            let json = format!(r#"{{"db":0,"key":"k","type":"string","value":{{"base64":{bad}}}}}"#);
            assert_error(&json, "base64");
        }
        assert_error(r#"{"db":0,"key":"k","type":"string","value":{"base64":"","x":1}}"#, "member \"x\"");
        assert_error(r#"{"db":0,"key":"k","type":"string","value":{}}"#, "no \"base64\"");
        assert_error(r#"{"db":0,"key":7,"type":"string","value":""}"#, "a byte string");
    }

    #[test]
    fn scores_keep_their_bits() {
        let json = r#"{"db":0,"key":"z","type":"zset","value":[["a",-0.0],["b","inf"],["c","-inf"],
            ["d","nan"],["e",1e300],["f",5e-324],["g",-0],["h",0.1],["i",12]]}"#;
        let Value::ZSet(pairs) = value(&json.replace('\n', "")) else { panic!("not a zset") };
        let bits: Vec<u64> = pairs.iter().map(|(_, s)| s.to_bits()).collect();
        let want = [-0.0, f64::INFINITY, f64::NEG_INFINITY, f64::NAN, 1e300, 5e-324, -0.0, 0.1, 12.0];
        assert_eq!(bits, want.map(f64::to_bits));
        assert_eq!(pairs[3].0, owned(b"d"));
        for bad in [r#""INF""#, "1e400", r#""1.5""#, "null", "1.", "-", "1e", "01"] {
            let json = format!(r#"{{"db":0,"key":"z","type":"zset","value":[["a",{bad}]]}}"#);
            let (offset, message) = error(&json);
            assert_eq!(offset, 100);
            assert!(
                message.contains("score") || message.contains("digits") || message.contains("zset"),
                "{message}"
            );
        }
        assert_error(
            r#"{"db":0,"key":"z","type":"zset","value":["a"]}"#,
            "[member, score] pairs, found a string",
        );
        assert_error(
            r#"{"db":0,"key":"z","type":"zset","value":[["a",1,2]]}"#,
            "[member, score] pairs, found ','",
        );
    }

    #[test]
    fn every_key_type_and_member_order() {
        assert_eq!(
            value(r#"{"type":"list","value":["a",{"base64":"/w=="},""],"key":"l","db":0}"#),
            Value::List(vec![owned(b"a"), owned(&[0xff]), owned(b"")])
        );
        // The value before "type" is read once the type is known.
        assert_eq!(
            value(
                r#"{"value":[["f","v"],["g","w",-5]],"db":0,"key":"h","encoding":"whatever","type":"hash"}"#
            ),
            Value::Hash(vec![
                HashField { field: owned(b"f"), value: owned(b"v"), expire_ms: None },
                HashField { field: owned(b"g"), value: owned(b"w"), expire_ms: Some(-5) },
            ])
        );
        assert_eq!(value(r#"{"db":0,"key":"s","type":"set","value":[]}"#), Value::Set(vec![]));
        let module = value(
            r#"{"db":0,"key":"m","type":"module","value":{"module":"hellotype","encver":3,"payload":{"base64":"AgUA"}}}"#,
        );
        assert_eq!(
            module,
            Value::Module(ModuleValue {
                id: module_id("hellotype", 3).unwrap(),
                payload: Cow::Owned(vec![2, 5, 0])
            })
        );
        let Item::Key(entry) = item(
            r#"{"db":18446744073709551615,"key":"k","type":"string","expire_ms":-9223372036854775808,
                "idle_s":7,"freq":255,"key_meta":[{"class":"ABC_","version":31,"flags":7,"payload":{"base64":"AgUA"}}],
                "value":"v"}"#,
        ) else {
            panic!("not a key")
        };
        assert_eq!(
            (entry.db, entry.expire_ms, entry.idle_s, entry.freq),
            (u64::MAX, Some(i64::MIN), Some(7), Some(255))
        );
        let class = &entry.key_meta[0];
        assert_eq!((class.name().as_str(), class.version(), class.flags()), ("ABC_", 31, 7));
        assert_eq!(*class.payload, [2, 5, 0]);
    }

    #[test]
    fn meta_records() {
        assert_eq!(
            line(r#" {"rdb":{"magic":"VALKEY","version":80}} "#),
            Line::Header(Header { vendor: Vendor::Valkey, version: 80 })
        );
        assert_eq!(line(" \t\r"), Line::Blank);
        assert_eq!(line(""), Line::Blank);
        assert_eq!(
            item(r#"{"aux":{"value":{"base64":"AA=="},"name":"redis-ver"}}"#),
            Item::Aux { name: owned(b"redis-ver"), value: owned(&[0]) }
        );
        assert_eq!(
            item(r##"{"function":{"code":"#!lua name=x"}}"##),
            Item::Function { code: owned(b"#!lua name=x") }
        );
        assert_eq!(
            item(r#"{"function_pre_ga":{"name":"f","engine":"LUA","code":"return 1"}}"#),
            Item::FunctionPreGa {
                name: owned(b"f"),
                engine: owned(b"LUA"),
                description: None,
                code: owned(b"return 1")
            }
        );
        assert_eq!(
            item(r#"{"function_pre_ga":{"name":"f","engine":"LUA","description":"d","code":""}}"#),
            Item::FunctionPreGa {
                name: owned(b"f"),
                engine: owned(b"LUA"),
                description: Some(owned(b"d")),
                code: owned(b"")
            }
        );
        assert_eq!(
            item(
                r#"{"module_aux":{"module":"ReJSON-RL","encver":1023,"when":2,"payload":{"base64":"AA=="}}}"#
            ),
            Item::ModuleAux {
                id: module_id("ReJSON-RL", 1023).unwrap(),
                when: 2,
                payload: Cow::Owned(vec![0])
            }
        );
        assert_eq!(
            item(r#"{"slot_import":{"job":"j","ranges":[[0,16383],[5,5]]}}"#),
            Item::SlotImport { job: owned(b"j"), ranges: vec![(0, 16383), (5, 5)] }
        );
        assert_error(r#"{"aux":{"name":"a","value":"b"},"db":0}"#, "has one member");
        assert_error(r#"{"rdb":{"magic":"REDIS","version":99}}"#, "unsupported RDB version 99");
        assert_error(r#"{"rdb":{"magic":"KEYDB","version":9}}"#, "\"KEYDB\"");
        assert_error(
            r#"{"module_aux":{"module":"hello","encver":0,"when":1,"payload":"\u0000"}}"#,
            "9 characters",
        );
        assert_error(
            r#"{"module_aux":{"module":"hellotype","encver":1024,"when":1,"payload":""}}"#,
            "0 to 1023",
        );
        assert_error(
            r#"{"module_aux":{"module":"hellotype","encver":0,"when":1,"payload":""}}"#,
            "module items",
        );
        assert_error(
            r#"{"module_aux":{"module":"hellotype","encver":0,"when":1,"payload":{"base64":"AAAA"}}}"#,
            "2 bytes after the end marker",
        );
        assert_error(r#"{"slot_import":{"job":"j","ranges":[[0]]}}"#, "slot range");
    }

    #[test]
    fn members_are_checked() {
        let key = |rest: &str| format!(r#"{{"db":0,"key":"k","type":"string",{rest}}}"#);
        assert_error(&key(r#""value":"v","extra":1"#), "member \"extra\"");
        assert_error(&key(r#""value":"v","db":1"#), "a second \"db\"");
        assert_error(&key(r#""value":"v","value":"w""#), "a second \"value\"");
        assert_error(&key(r#""expire_ms":1"#), "no \"value\"");
        assert_error(r#"{"db":0,"key":"k","value":"v"}"#, "no \"type\"");
        assert_error(r#"{"key":"k","type":"string","value":"v"}"#, "no \"db\"");
        assert_error(r#"{}"#, "no \"type\"");
        assert_error(&key(r#""value":"v","freq":256"#), "\"freq\": an integer from 0 to 255, found \"256\"");
        assert_error(&key(r#""value":"v","idle_s":-1"#), "\"idle_s\": an integer from 0 to 2^64-1");
        assert_error(&key(r#""value":"v","idle_s":1.0"#), "found \"1.0\"");
        assert_error(&key(r#""value":"v","idle_s":1e2"#), "found \"1e2\"");
        assert_error(&key(r#""value":"v","expire_ms":9223372036854775808"#), "\"expire_ms\"");
        assert_error(&key(r#""value":"v","expire_ms":"1""#), "found a string");
        assert_error(
            &key(r#""value":"v","idle_s":999999999999999999999999999999999999999999"#),
            "\"idle_s\"",
        );
        assert_error(&key(r#""value":"v","encoding":1"#), "\"encoding\": a string");
        assert_error(&key(r#""value":["v"]"#), "a byte string");
        assert_error(r#"{"db":0,"key":"k","type":"list","value":"v"}"#, "\"list\" value: an array");
        assert_error(r#"{"db":0,"key":"k","type":"list","value":["v",]}"#, "a byte string");
        assert_error(r#"{"db":0,"key":"k","type":"hash","value":[["f"]]}"#, "\"hash\" value");
        assert_error(r#"{"db":0,"key":"k","type":"hash","value":[["f","v","1"]]}"#, "\"expire_ms\"");
        assert_error(r#"{"db":0,"key":"k","type":"hyperloglog","value":""}"#, "\"type\": \"string\"");
        assert_error(r#"{"value":[[1]],"db":0,"key":"k","type":"zset"}"#, "a byte string");
        assert_error(r#"{"value":[[[[[[[[1]]]]]]]],"db":0,"key":"k","type":"zset"}"#, "a byte string");
        let deep = format!(r#"{{"value":{}{},"db":0}}"#, "[".repeat(100), "]".repeat(100));
        assert_error(&deep, "nested at most 64 deep");
        assert_error(r#"{"value":[tru],"db":0}"#, "a JSON value");
        assert_error(r#"{"db":0,"key":"k","type":"string","value":"v"} x"#, "after the record, found 'x'");
        assert_error(r#"{"db":0,"key":"k","type":"string","value":"v""#, "found the end of the line at byte");
        assert_error(r#"{"db":0,"key":"k","type":"string","value":"v" "x":1}"#, "',' or '}'");
        assert_error(r#"{"db":0,"key":"k","type":"string","value" "v"}"#, "':' after a member name");
        assert_error("[]", "a JSON object");
        assert_error("nul", "a JSON object");
        let (offset, message) = error(r#"{"db":0,"key":"k","type":"string","value":"v","freq":300}"#);
        assert_eq!(offset, 100);
        assert!(
            message.starts_with("offset 100 (0x64): invalid JSON record: expected \"freq\""),
            "{message}"
        );
        assert!(message.ends_with("found \"300\" at byte 53 of the record"), "{message}");
    }

    const STREAM_V5: &str = r#"{"length":1,"last_id":"6-0","first_id":"5-0","max_deleted_id":"6-0",
        "entries_added":2,"entries":[{"id":"5-0","fields":[["g","v"]]}],
        "groups":[{"name":"g1","last_id":"6-0","entries_read":null,
            "pel":[{"id":"5-0","consumer":"c1","delivery_time_ms":1000,"delivery_count":1},
                   {"id":"6-0","consumer":null,"delivery_time_ms":2000,"delivery_count":3}],
            "consumers":[{"name":"c1","seen_time_ms":7,"active_time_ms":8,"pel":["5-0"]}],"nacked":["6-0"]}],
        "idmp":{"duration_s":60,"max_entries":10,"producers":[{"pid":"p1","entries":[["i1","5-0"]]}],
            "iids_added":1,"iids_duplicates":0}}"#;

    fn stream(json: &str) -> Result<Value<'static>> {
        let record = format!(r#"{{"db":0,"key":"s","type":"stream","value":{json}}}"#).replace('\n', " ");
        match parse_line(record.as_bytes(), 100)? {
            Line::Item(Item::Key(entry)) => Ok(entry.value),
            other => panic!("not a key: {other:?}"),
        }
    }

    fn stream_error(json: &str, needle: &str) {
        let e = stream(json).expect_err(json);
        assert_eq!(e.offset(), 100);
        assert!(e.to_string().contains(needle), "{e} lacks {needle:?}");
    }

    #[test]
    fn streams_of_every_version() {
        let Value::Stream(s) = stream(STREAM_V5).unwrap() else { panic!("not a stream") };
        let id = |ms, seq| StreamId { ms, seq };
        assert_eq!(
            (s.length, s.last_id, s.first_id, s.max_deleted_id),
            (1, id(6, 0), Some(id(5, 0)), Some(id(6, 0)))
        );
        assert_eq!(s.entries, vec![StreamEntry { id: id(5, 0), fields: vec![(owned(b"g"), owned(b"v"))] }]);
        let g = &s.groups[0];
        assert_eq!(g.entries_read, Some(-1));
        assert_eq!(
            g.pending[0],
            PendingEntry { id: id(5, 0), delivery_time_ms: 1000, delivery_count: 1, consumer: Some(0) }
        );
        assert_eq!(g.pending[1].consumer, None);
        assert_eq!(g.consumers[0].active_time_ms, Some(8));
        assert_eq!(g.nacked, Some(vec![id(6, 0)]));
        let idmp = s.idmp.as_ref().unwrap();
        assert_eq!(idmp.producers[0].entries, vec![(owned(b"i1"), id(5, 0))]);
        // Version 1: none of the later members.
        let v1 = r#"{"length":0,"last_id":"18446744073709551615-18446744073709551615","entries":[],
            "groups":[{"name":"g","last_id":"0-0","pel":[],"consumers":[{"name":"c","seen_time_ms":-1,"pel":[]}]}]}"#;
        let Value::Stream(s) = stream(v1).unwrap() else { panic!("not a stream") };
        assert_eq!(s.last_id, id(u64::MAX, u64::MAX));
        assert_eq!(
            (s.first_id, s.groups[0].entries_read, s.groups[0].consumers[0].active_time_ms),
            (None, None, None)
        );
    }

    #[test]
    fn stream_errors() {
        stream_error(
            &STREAM_V5.replace(r#""nacked":["6-0"]"#, r#""nacked":["5-0"]"#),
            "that no consumer owns",
        );
        stream_error(
            &STREAM_V5.replace(r#""nacked":["6-0"]"#, r#""nacked":["7-0"]"#),
            "that no consumer owns",
        );
        stream_error(&STREAM_V5.replace(r#""consumer":"c1""#, r#""consumer":"c2""#), "\"c2\" for 5-0");
        stream_error(&STREAM_V5.replace(r#""consumer":null"#, r#""consumer":"c1""#), "\"c1\" for 6-0");
        stream_error(&STREAM_V5.replace(r#""pel":["5-0"]"#, r#""pel":["9-0"]"#), "found 9-0");
        // Without "nacked" the stream is of version 4; with a group that has none, it is mixed.
        assert!(stream(&STREAM_V5.replace(r#","nacked":["6-0"]"#, "")).is_ok());
        let g2 = r#"{"name":"g2","last_id":"0-0","entries_read":0,"pel":[],"consumers":[]}"#;
        let two_groups = STREAM_V5.replace(r#""nacked":["6-0"]}]"#, &format!(r#""nacked":["6-0"]}},{g2}]"#));
        stream_error(&two_groups, "a version 5 stream without \"nacked\"");
        stream_error(&STREAM_V5.replace(r#""active_time_ms":8,"#, ""), "without \"active_time_ms\"");
        stream_error(&STREAM_V5.replace(r#""entries_read":null,"#, ""), "without \"entries_read\"");
        stream_error(&STREAM_V5.replace(r#""entries_added":2,"#, ""), "without \"entries_added\"");
        stream_error(&STREAM_V5.replace(r#""last_id":"6-0","first"#, r#""first"#), "no \"last_id\"");
        for bad in ["6", "6-", "-0", "6-0-1", "+6-0", "6 -0", "18446744073709551616-0"] {
            stream_error(
                &STREAM_V5.replace(r#""last_id":"6-0","f"#, &format!(r#""last_id":"{bad}","f"#)),
                "stream id",
            );
        }
        stream_error(&STREAM_V5.replace(r#""iids_added":1,"#, ""), "no \"iids_added\"");
        stream_error(
            &STREAM_V5.replace(r#""delivery_count":3"#, r#""delivery_count":-3"#),
            "\"delivery_count\"",
        );
    }

    #[test]
    fn readers_of_lines_and_arrays() {
        let header = Header { vendor: Vendor::Redis, version: 10 };
        let key = r#"{"db":0,"key":"k","type":"string","value":"v"}"#;
        let aux = r#"{"aux":{"name":"a","value":"b"}}"#;
        let (h, items) =
            read_all(&format!("\n{{\"rdb\":{{\"magic\":\"REDIS\",\"version\":10}}}}\r\n\n{aux}\n  \n{key}"))
                .unwrap();
        assert_eq!(h, Some(header));
        assert_eq!(items.len(), 2);
        assert_eq!(items[0], Item::Aux { name: owned(b"a"), value: owned(b"b") });
        let (h, items) = read_all(&format!("{key}\n{aux}\n")).unwrap();
        assert_eq!((h, items.len()), (None, 2));
        // Our writer's array, and one pretty-printed by jq.
        let compact = format!("[\n{{\"rdb\":{{\"magic\":\"REDIS\",\"version\":10}}}}\n,{aux}\n,{key}\n]\n");
        let pretty = format!(
            "[\n  {{\n    \"rdb\": {{\n      \"magic\": \"REDIS\",\n      \"version\": 10\n    }}\n  }},\n  {aux},\n  {}\n]",
            key.replace(',', ",\n    ")
        );
        for doc in [compact, pretty] {
            let (h, got) = read_all(&doc).unwrap();
            assert_eq!((h, &got), (Some(header), &items.iter().rev().cloned().collect::<Vec<_>>()), "{doc}");
        }
        assert_eq!(read_all("").unwrap(), (None, vec![]));
        assert_eq!(read_all(" [ ] \n").unwrap(), (None, vec![]));
        assert_eq!(read_all("\n\n").unwrap(), (None, vec![]));
    }

    #[test]
    fn reader_errors_are_at_their_record() {
        let key = r#"{"db":0,"key":"k","type":"string","value":"v"}"#;
        let at = |input: &str| {
            let result = JsonReader::new(input.as_bytes()).and_then(|r| r.collect::<Result<Vec<_>>>());
            let e = result.expect_err(input);
            (e.offset(), e.to_string())
        };
        let header = r#"{"rdb":{"magic":"REDIS","version":10}}"#;
        let (offset, message) = at(&format!("{key}\n{header}\n"));
        assert_eq!(offset, key.len() as u64 + 1);
        assert!(message.contains("the header only as the first record"), "{message}");
        assert_eq!(at(&format!("{key}\n\n{key}x\n")).0, key.len() as u64 + 2);
        assert_eq!(at(&format!("[{key},\n {key} {key}]")).0, 2 * key.len() as u64 + 5);
        assert_eq!(at(&format!("[{key},{key},]")).0, 2 * key.len() as u64 + 3);
        assert_eq!(at(&format!("[{key}] x")).0, key.len() as u64 + 3);
        assert_eq!(at(&format!("[{key}")).0, key.len() as u64 + 1);
        assert_eq!(at(&format!("[{key},{}]", key.replace("\"v\"", "1"))).0, key.len() as u64 + 2);
        assert_eq!(at("x").0, 0);
        assert_eq!(at("\n  \"x\"").0, 1);
        assert!(at("\n  \"x\"").1.contains("expected a JSON object"));
        assert!(at(&format!("[{key}, {header}]")).1.contains("the header only as the first record"));
        // The first record's error comes from `new`; iteration stops after an error.
        assert!(JsonReader::new(b"{\"db\":x}\n").is_err());
        let bad = format!("{key}\n{{}}\n{key}\n");
        let results: Vec<_> = JsonReader::new(bad.as_bytes()).unwrap().collect();
        assert_eq!(results.len(), 2);
        assert!(results[1].is_err());
    }
}

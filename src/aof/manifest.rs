//! Multi-part AOF manifests (Redis 7.0+, Valkey): reading, validating and writing
//! `<appendfilename>.manifest`.
//!
//! A manifest lists the files of a multi-part AOF, one per line:
//!
//! ```text
//! file appendonly.aof.3.base.rdb seq 3 type b
//! file appendonly.aof.2.incr.aof seq 2 type h
//! file appendonly.aof.3.incr.aof seq 3 type i
//! ```
//!
//! `b` is the base file (an RDB or AOF snapshot), `h` a history file (left over from before
//! the last rewrite, no longer loaded) and `i` an incremental AOF, loaded after the base in
//! the order listed. File names are relative to the directory that holds the manifest.
//!
//! # What a server accepts
//!
//! [`Manifest::parse`] accepts what `aofLoadManifestFromFile` in Redis's `src/aof.c` accepts
//! (the function is the same from Redis 7.0.0 to 7.4 and in Valkey), with the two exceptions
//! listed at the end:
//!
//! - Lines are read with `fgets` into a 1025-byte buffer, so a line holds at most 1023 bytes
//!   before its newline. Every line, the last included, must end in a newline, and may not
//!   contain a NUL byte (both fail `strchr(buf, '\n')`, which Redis reports as a too long
//!   line). An empty file is refused.
//! - A line whose first byte is `#` is a comment, skipped before any other check (so it may be
//!   longer, lack its newline or hold NUL bytes). A comment longer than 1024 bytes is read in
//!   1024-byte pieces and only the first piece is skipped: the rest is read as a line of its
//!   own, as Redis does.
//! - Any other line is trimmed of spaces, tabs, CRs and LFs at both ends (`sdstrim`) and must
//!   not then be empty: a blank line is an error, not skipped.
//! - The line is split into tokens as `sdssplitargs` splits it: tokens are separated by C
//!   whitespace (vertical tab and form feed included); a bare token ends at a space, tab, CR
//!   or LF; a token may contain, at its end, one `"double-quoted"` part (escapes `\n`, `\r`,
//!   `\t`, `\b`, `\a`, `\xHH`, and `\` before any other byte stands for that byte) or one
//!   `'single-quoted'` part (only `\'` is an escape). A closing quote must be followed by
//!   whitespace or the end of the line, and every quote must be closed.
//! - There must be an even number of tokens, at least six: key/value pairs. Keys are matched
//!   without regard to case; `file`, `seq` and `type` must each appear (a later pair of the
//!   same key wins), in any order; other keys are ignored (for forward compatibility). Keys and
//!   values end at an embedded NUL (`"\x00"`), as C strings do.
//! - Every `file` value must be a bare name, without `/` or `\` (`pathIsBaseName`).
//! - `seq` is read with `atoll`: leading whitespace, an optional sign and decimal digits, any
//!   rest ignored, too large a value clamped to `i64::MAX`. A result of 0 (including a value
//!   that is not a number) counts as a missing `seq`.
//! - `type` is the first byte of its value (`type incr` is an incr file); an empty value counts
//!   as missing; other than `b`, `h` and `i` it is an unknown type.
//! - At most one base file; incr files' `seq`s must strictly increase in file order. Nothing
//!   else is checked: lines may come in any order, names may repeat, history `seq`s are free,
//!   and a manifest of only comments is valid (and lists no files).
//!
//! The exceptions:
//!
//! - A negative `seq` on a base or history line, which Redis accepts, is refused here because
//!   sequence numbers are unsigned ([`ManifestEntry::seq`]); no server writes one.
//! - Valkey 9 (since valkey-io/valkey#2098, checked against 9.1.2) splits lines shell-style:
//!   after a closing quote the token goes on until a space, tab, CR or LF, so it reads
//!   `"a"b'c'` as `abc` and `"a"\vb` as one token. Redis 7 and Valkey 8 refuse the first and
//!   read the second as two tokens; this parser does as they do. Neither server writes either.
//!
//! # Writing
//!
//! [`Manifest::to_bytes`] writes lines as `aofInfoFormat` and `getAofManifestAsString` do:
//! the base file first, then history files, then incr files, names quoted with `sdscatrepr`'s
//! escapes when `sdsneedsrepr` asks for it. It also quotes names that contain `'` or are
//! empty, which Redis writes bare and then cannot read back, and writes a manifest without
//! entries as a comment line rather than an empty file, which no server reads.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use nom::branch::alt;
use nom::bytes::{tag, take_while, take_while_m_n, take_while1};
use nom::character::complete::digit0;
use nom::combinator::{cut, eof, map, map_opt, not, opt, value};
use nom::error::{ContextError, ErrorKind as NomErrorKind, ParseError, context};
use nom::multi::{fold_many0, many0};
use nom::number::complete::be_u8;
use nom::sequence::{pair, preceded, terminated};
use nom::{IResult, Parser};

use crate::error::{Error, ErrorKind, Result, escape_bytes};

/// The suffix of a manifest's file name (`MANIFEST_NAME_SUFFIX`).
pub const MANIFEST_SUFFIX: &str = ".manifest";

/// The prefix of the temporary manifest Redis writes before renaming it into place
/// (`TEMP_FILE_NAME_PREFIX`).
const TEMP_PREFIX: &str = "temp-";

/// `fgets`'s buffer holds this many bytes of a line, its newline included (`MANIFEST_MAX_LINE`).
pub const MAX_LINE: usize = 1024;

/// What [`Manifest::to_bytes`] writes for a manifest without entries.
const EMPTY_MANIFEST: &[u8] = b"# no AOF files\n";

/// What incr lines' `seq`s must do.
const INCR_SEQ_EXPECTED: &str = "incr file seqs increasing from each incr line to the next";

/// Most bytes of a line quoted in an error message.
const EXCERPT_MAX: usize = 100;

/// The role of a file listed in a manifest.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FileType {
    /// `b`: the base file, an RDB or AOF snapshot loaded first.
    Base,
    /// `h`: a history file, replaced by a rewrite and no longer loaded.
    History,
    /// `i`: an incremental AOF, loaded after the base in manifest order.
    Incr,
}

impl FileType {
    /// The byte that names this type in a manifest: `b`, `h` or `i`.
    pub fn code(self) -> u8 {
        match self {
            FileType::Base => b'b',
            FileType::History => b'h',
            FileType::Incr => b'i',
        }
    }

    /// The type a manifest's type byte names; `None` for any byte but `b`, `h` and `i`.
    pub fn from_code(code: u8) -> Option<FileType> {
        match code {
            b'b' => Some(FileType::Base),
            b'h' => Some(FileType::History),
            b'i' => Some(FileType::Incr),
            _ => None,
        }
    }
}

/// One line of a manifest: a file, its sequence number and its role.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ManifestEntry {
    /// The file's name, relative to the manifest's directory, as raw bytes (unquoted).
    pub name: Vec<u8>,
    /// The sequence number (`seq`); Redis numbers base and incr files from 1 upwards.
    pub seq: u64,
    /// The file's role.
    pub file_type: FileType,
    /// The 1-based line number of the entry in the manifest it was read from (0 if built).
    pub line: usize,
    /// The absolute byte offset where the entry's line starts (0 if built).
    pub offset: u64,
}

impl ManifestEntry {
    /// An entry not read from a file (`line` and `offset` 0), for [`Manifest::to_bytes`].
    pub fn new(name: impl Into<Vec<u8>>, seq: u64, file_type: FileType) -> ManifestEntry {
        ManifestEntry { name: name.into(), seq, file_type, line: 0, offset: 0 }
    }
}

/// A parsed manifest: its entries in file order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Manifest {
    /// Every entry, in the order of the lines that list them.
    pub entries: Vec<ManifestEntry>,
}

impl Manifest {
    /// Parses and validates a manifest's bytes, accepting what Redis accepts (see the
    /// [module documentation](self)).
    ///
    /// Errors are [`ErrorKind::Invalid`] at the offset where the offending line starts, with
    /// the line number and an excerpt of the line in `found`.
    pub fn parse(text: &[u8]) -> Result<Manifest> {
        if text.is_empty() {
            return Err(invalid(0, "AOF manifest", "at least one line", "an empty file".to_string()));
        }
        let mut state = Validator::default();
        let mut pos = 0;
        let mut line_no = 1;
        let mut line_start = 0;
        while pos < text.len() {
            // One `fgets` call: up to and including the next newline, at most MAX_LINE bytes.
            let window = &text[pos..text.len().min(pos + MAX_LINE)];
            let chunk = match memchr::memchr(b'\n', window) {
                Some(i) => &window[..=i],
                None => window,
            };
            let here = Place { line: line_no, line_start, start: pos };
            pos += chunk.len();
            if chunk.ends_with(b"\n") {
                line_no += 1;
                line_start = pos;
            }
            if chunk.first() == Some(&b'#') {
                continue;
            }
            state.add(parse_line(text, chunk, &here)?)?;
        }
        Ok(Manifest { entries: state.entries })
    }

    /// The base file, if the manifest lists one.
    pub fn base(&self) -> Option<&ManifestEntry> {
        self.entries.iter().find(|e| e.file_type == FileType::Base)
    }

    /// The incr files, in the order they are loaded (file order, which is increasing `seq`).
    pub fn incrs(&self) -> impl Iterator<Item = &ManifestEntry> {
        self.of_type(FileType::Incr)
    }

    /// The history files, in file order.
    pub fn history(&self) -> impl Iterator<Item = &ManifestEntry> {
        self.of_type(FileType::History)
    }

    fn of_type(&self, file_type: FileType) -> impl Iterator<Item = &ManifestEntry> {
        self.entries.iter().filter(move |e| e.file_type == file_type)
    }

    /// The manifest as Redis writes it: the base first, then history files, then incr files
    /// (each group in `entries` order), one `file <name> seq <n> type <t>` line each.
    ///
    /// Names are quoted as Redis quotes them (`sdscatrepr`, when `sdsneedsrepr` asks for it),
    /// and also when they are empty or contain `'`, which Redis would write unreadably.
    ///
    /// A manifest without entries is written as one comment line, since a server refuses an
    /// empty file (Redis would write nothing).
    ///
    /// The bytes are written as given, not validated: [`Manifest::parse`] (and a server)
    /// rejects them when two entries are base files, incr `seq`s do not increase, a `seq` is 0,
    /// a name contains `/` or `\`, or a line exceeds 1023 bytes (a name of at most 246 bytes
    /// always fits); `seq`s above `i64::MAX` read back as `i64::MAX`, names cut at a NUL byte.
    /// For entries free of those, `parse(to_bytes(m))` lists the same files in the order
    /// written, and equals `m` when `m` is itself the result of a parse of such bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        if self.entries.is_empty() {
            return EMPTY_MANIFEST.to_vec();
        }
        let mut out = Vec::new();
        for file_type in [FileType::Base, FileType::History, FileType::Incr] {
            for entry in self.of_type(file_type) {
                out.extend_from_slice(b"file ");
                write_name(&mut out, &entry.name);
                out.extend_from_slice(b" seq ");
                out.extend_from_slice(itoa::Buffer::new().format(entry.seq).as_bytes());
                out.extend_from_slice(b" type ");
                out.push(entry.file_type.code());
                out.push(b'\n');
            }
        }
        out
    }
}

/// Resolves a path given by the user to a multi-part AOF: `(directory, manifest path)`.
///
/// - A directory: the one file in it whose name ends in `.manifest` (a leftover
///   `temp-X.manifest` beside `X.manifest` is ignored); `None` when there is none, an
///   [`io::ErrorKind::InvalidInput`] error naming them when there are several.
/// - A file whose name ends in `.manifest`: that file, in its parent directory.
/// - Any other file: `None` (not a multi-part AOF).
///
/// Errors also come from reading the path's metadata or the directory.
pub fn locate(path: &Path) -> io::Result<Option<(PathBuf, PathBuf)>> {
    let meta = fs::metadata(path)?;
    if !meta.is_dir() {
        if !is_manifest_name(path.file_name().map(|n| n.as_encoded_bytes())) {
            return Ok(None);
        }
        let dir = match path.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
            _ => PathBuf::from("."),
        };
        return Ok(Some((dir, path.to_path_buf())));
    }

    let mut names = Vec::new();
    for dirent in fs::read_dir(path)? {
        let dirent = dirent?;
        let name = dirent.file_name();
        if is_manifest_name(Some(name.as_encoded_bytes())) && dirent.path().is_file() {
            names.push(name);
        }
    }
    names.sort();
    let temp = TEMP_PREFIX.as_bytes();
    let leftover = |name: &std::ffi::OsString| {
        let bytes = name.as_encoded_bytes();
        bytes.starts_with(temp) && names.iter().any(|other| other.as_encoded_bytes() == &bytes[temp.len()..])
    };
    let kept: Vec<_> = names.iter().filter(|n| !leftover(n)).collect();
    match kept.as_slice() {
        [] => Ok(None),
        [one] => Ok(Some((path.to_path_buf(), path.join(one)))),
        several => {
            let list: Vec<_> = several.iter().map(|n| n.to_string_lossy()).collect();
            Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{} holds several manifests ({}); name one of them", path.display(), list.join(", ")),
            ))
        }
    }
}

fn is_manifest_name(name: Option<&[u8]>) -> bool {
    name.is_some_and(|n| n.ends_with(MANIFEST_SUFFIX.as_bytes()))
}

/// Where an `fgets` piece starts: a whole line, or the rest of a comment longer than
/// [`MAX_LINE`] bytes.
struct Place {
    /// 1-based line number.
    line: usize,
    /// Offset where the line starts.
    line_start: usize,
    /// Offset where the piece starts.
    start: usize,
}

impl Place {
    /// Absolute offset of the piece.
    fn offset(&self) -> u64 {
        self.start as u64
    }

    /// Bytes of the line before the piece.
    fn before_piece(&self) -> usize {
        self.start - self.line_start
    }

    /// `line N` (and where in the line, for the rest of a long comment), then `detail`.
    fn describe(&self, detail: impl std::fmt::Display) -> String {
        match self.before_piece() {
            0 => format!("line {}: {detail}", self.line),
            into => format!(
                "line {} from byte {into} (Redis reads the rest of a comment longer than {MAX_LINE} bytes \
                 as a line): {detail}",
                self.line
            ),
        }
    }
}

fn invalid(offset: u64, what: &'static str, expected: &'static str, found: String) -> Error {
    Error::new(ErrorKind::Invalid { what, expected, found }, offset)
}

/// The escaped start of `line`, for messages.
fn excerpt(line: &[u8]) -> String {
    match line.get(..EXCERPT_MAX) {
        Some(head) if head.len() < line.len() => format!("\"{}\"...", escape_bytes(head)),
        _ => format!("\"{}\"", escape_bytes(line)),
    }
}

/// `bytes` up to its first NUL, as C code sees a string.
fn c_str(bytes: &[u8]) -> &[u8] {
    match memchr::memchr(0, bytes) {
        Some(end) => &bytes[..end],
        None => bytes,
    }
}

/// `isspace` in the C locale.
fn is_c_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// Parses one `fgets` piece that is not a comment: the checks `aofLoadManifestFromFile` makes
/// within a line.
fn parse_line(text: &[u8], chunk: &[u8], here: &Place) -> Result<ManifestEntry> {
    let line_err = |expected: &'static str, detail: String| {
        Err(invalid(here.offset(), "AOF manifest line", expected, here.describe(detail)))
    };
    if let Some(col) = memchr::memchr(0, chunk) {
        let detail = format!("a NUL byte at byte {}: {}", here.before_piece() + col + 1, excerpt(chunk));
        return line_err("text without NUL bytes", detail);
    }
    if !chunk.ends_with(b"\n") {
        if chunk.len() < MAX_LINE {
            let detail = format!("the last line has no newline: {}", excerpt(chunk));
            return line_err("a newline at the end of every line", detail);
        }
        let rest = text.get(here.line_start..).unwrap_or_default();
        let len = memchr::memchr(b'\n', rest).unwrap_or(rest.len());
        let detail = format!("{len} bytes: {}", excerpt(chunk));
        return line_err("at most 1023 bytes before the newline", detail);
    }

    let lead = chunk.iter().take_while(|&&b| matches!(b, b' ' | b'\t' | b'\r' | b'\n')).count();
    let trail = chunk.iter().rev().take_while(|&&b| matches!(b, b' ' | b'\t' | b'\r' | b'\n')).count();
    let line = chunk.get(lead..chunk.len().saturating_sub(trail)).unwrap_or_default();
    if line.is_empty() {
        return line_err("`file <name> seq <n> type <b|h|i>`", "a blank line".to_string());
    }

    let tokens = match split_args(line) {
        Ok(tokens) => tokens,
        Err(e) => {
            let col = here.before_piece() + lead + line.len().saturating_sub(e.rest.len()) + 1;
            let reason = e.reason.unwrap_or("unreadable tokens");
            let detail = format!("{reason} at byte {col}: {}", excerpt(line));
            return line_err(
                "tokens separated by spaces, each quote closed and followed by a space or the line's end",
                detail,
            );
        }
    };
    if tokens.len() < 6 || tokens.len() % 2 != 0 {
        let detail = format!("{} tokens: {}", tokens.len(), excerpt(line));
        return line_err("an even number of tokens, at least 6: `file <name> seq <n> type <b|h|i>`", detail);
    }

    let mut name = None;
    let mut seq = None;
    let mut code = None;
    for pair in tokens.chunks_exact(2) {
        let [key, val] = pair else { continue };
        let key = c_str(key);
        if key.eq_ignore_ascii_case(b"file") {
            let file = c_str(val);
            if file.contains(&b'/') || file.contains(&b'\\') {
                return Err(invalid(
                    here.offset(),
                    "AOF manifest file name",
                    "a bare file name, without '/' or '\\'",
                    here.describe(format!("\"{}\"", escape_bytes(file))),
                ));
            }
            name = Some(file);
        } else if key.eq_ignore_ascii_case(b"seq") {
            seq = Some((atoll(val), val));
        } else if key.eq_ignore_ascii_case(b"type") {
            code = Some(val);
        }
    }

    let Some(name) = name else {
        return line_err("keys file, seq and type", format!("no `file` key: {}", excerpt(line)));
    };
    let Some((seq, seq_text)) = seq else {
        return line_err("keys file, seq and type", format!("no `seq` key: {}", excerpt(line)));
    };
    let seq_err = |expected: &'static str, detail: String| {
        Err(invalid(here.offset(), "AOF manifest sequence number", expected, here.describe(detail)))
    };
    if seq == 0 {
        let detail = format!("\"{}\" reads as 0", escape_bytes(seq_text));
        return seq_err("a positive decimal number", detail);
    }
    let Some(code) = code else {
        return line_err("keys file, seq and type", format!("no `type` key: {}", excerpt(line)));
    };
    let file_type = match code.first().copied().unwrap_or(0) {
        0 => return line_err("keys file, seq and type", format!("an empty `type`: {}", excerpt(line))),
        first => match FileType::from_code(first) {
            Some(t) => t,
            None => {
                return Err(invalid(
                    here.offset(),
                    "AOF manifest file type",
                    "b (base), h (history) or i (incr)",
                    here.describe(format!("\"{}\"", escape_bytes(code))),
                ));
            }
        },
    };
    let Ok(seq) = u64::try_from(seq) else {
        let detail = format!("\"{}\" reads as {seq}", escape_bytes(seq_text));
        // Redis takes a negative base or history seq (see the module documentation); a
        // negative incr seq fails its monotonic check, as not above the 0 it starts from.
        return match file_type {
            FileType::Incr => seq_err(INCR_SEQ_EXPECTED, detail),
            _ => seq_err("a positive decimal number", detail),
        };
    };
    Ok(ManifestEntry { name: name.to_vec(), seq, file_type, line: here.line, offset: here.offset() })
}

/// The checks that span lines.
#[derive(Default)]
struct Validator {
    entries: Vec<ManifestEntry>,
    base_line: Option<usize>,
    last_incr: Option<(u64, usize)>,
}

impl Validator {
    fn add(&mut self, entry: ManifestEntry) -> Result<()> {
        let start = usize::try_from(entry.offset).unwrap_or(usize::MAX);
        let place = Place { line: entry.line, line_start: start, start };
        match entry.file_type {
            FileType::Base => {
                if let Some(first) = self.base_line {
                    return Err(invalid(
                        entry.offset,
                        "AOF manifest",
                        "at most one base file",
                        place.describe(format!(
                            "a second base file \"{}\" (the first is on line {first})",
                            escape_bytes(&entry.name)
                        )),
                    ));
                }
                self.base_line = Some(entry.line);
            }
            FileType::History => {}
            FileType::Incr => {
                if let Some((max, max_line)) = self.last_incr
                    && entry.seq <= max
                {
                    return Err(invalid(
                        entry.offset,
                        "AOF manifest sequence number",
                        INCR_SEQ_EXPECTED,
                        place.describe(format!(
                            "incr seq {} after incr seq {max} on line {max_line}",
                            entry.seq
                        )),
                    ));
                }
                self.last_incr = Some((entry.seq, entry.line));
            }
        }
        self.entries.push(entry);
        Ok(())
    }
}

/// Appends `name` as `aofInfoFormat` would, quoted when a bare name would not read back.
fn write_name(out: &mut Vec<u8>, name: &[u8]) {
    // `sdsneedsrepr`: any byte outside printable ASCII, a space, `\` or `"`. Redis leaves `'`
    // and the empty name bare; `sdssplitargs` then fails on them or loses a token.
    let needs_quotes = name.is_empty()
        || name.iter().any(|&b| !(0x21..=0x7e).contains(&b) || matches!(b, b'\\' | b'"' | b'\''));
    if !needs_quotes {
        out.extend_from_slice(name);
        return;
    }
    // `sdscatrepr`.
    out.push(b'"');
    for &b in name {
        match b {
            b'\\' | b'"' => out.extend_from_slice(&[b'\\', b]),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x07 => out.extend_from_slice(b"\\a"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x20..=0x7e => out.push(b),
            _ => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.extend_from_slice(&[b'\\', b'x', HEX[usize::from(b >> 4)], HEX[usize::from(b & 0xf)]]);
            }
        }
    }
    out.push(b'"');
}

/// Why `sdssplitargs` gave up, and the unread rest of the line where it did.
#[derive(Debug)]
struct SplitError<'a> {
    rest: &'a [u8],
    reason: Option<&'static str>,
}

impl<'a> ParseError<&'a [u8]> for SplitError<'a> {
    fn from_error_kind(input: &'a [u8], _kind: NomErrorKind) -> Self {
        SplitError { rest: input, reason: None }
    }

    fn append(_input: &'a [u8], _kind: NomErrorKind, other: Self) -> Self {
        other
    }
}

impl<'a> ContextError<&'a [u8]> for SplitError<'a> {
    /// Keeps the innermost context and where it failed.
    fn add_context(input: &'a [u8], ctx: &'static str, other: Self) -> Self {
        match other.reason {
            Some(_) => other,
            None => SplitError { rest: input, reason: Some(ctx) },
        }
    }
}

type Parsed<'a, O> = IResult<&'a [u8], O, SplitError<'a>>;

/// A piece of a quoted token: one unescaped byte or a run copied as is.
#[derive(Clone)]
enum Piece<'a> {
    Byte(u8),
    Run(&'a [u8]),
}

fn push_piece(mut acc: Vec<u8>, piece: Piece<'_>) -> Vec<u8> {
    match piece {
        Piece::Byte(b) => acc.push(b),
        Piece::Run(run) => acc.extend_from_slice(run),
    }
    acc
}

/// After a closing quote: whitespace or the end of the line must follow.
fn quote_end(input: &[u8]) -> Parsed<'_, ()> {
    context(
        "a closing quote followed by something other than a space (only Valkey 9 accepts that)",
        cut(not(take_while_m_n(1, 1, |b: u8| !is_c_space(b)))),
    )
    .parse_complete(input)
}

fn hex_digit(input: &[u8]) -> Parsed<'_, u8> {
    map_opt(be_u8, |b: u8| char::from(b).to_digit(16).and_then(|d| u8::try_from(d).ok()))
        .parse_complete(input)
}

/// A `"..."` part: `\xHH`, `\n`, `\r`, `\t`, `\b`, `\a`, and `\` before any other byte.
fn double_quoted(input: &[u8]) -> Parsed<'_, Vec<u8>> {
    let hex = map(preceded(tag("\\x"), pair(hex_digit, hex_digit)), |(hi, lo)| Piece::Byte((hi << 4) | lo));
    let escape = map(preceded(tag("\\"), be_u8), |b| {
        Piece::Byte(match b {
            b'n' => b'\n',
            b'r' => b'\r',
            b't' => b'\t',
            b'b' => 0x08,
            b'a' => 0x07,
            other => other,
        })
    });
    let run = map(take_while1(|b: u8| b != b'"' && b != b'\\'), Piece::Run);
    let body = fold_many0(alt((hex, escape, run)), Vec::new, push_piece);
    let quoted = preceded(tag("\""), cut(terminated(body, tag("\""))));
    terminated(context("an unterminated double quote", quoted), quote_end).parse_complete(input)
}

/// A `'...'` part: only `\'` is an escape.
fn single_quoted(input: &[u8]) -> Parsed<'_, Vec<u8>> {
    let quote = value(Piece::Byte(b'\''), tag("\\'"));
    let run = map(take_while1(|b: u8| b != b'\'' && b != b'\\'), Piece::Run);
    let backslash = map(tag("\\"), Piece::Run);
    let body = fold_many0(alt((quote, run, backslash)), Vec::new, push_piece);
    let quoted = preceded(tag("'"), cut(terminated(body, tag("'"))));
    terminated(context("an unterminated single quote", quoted), quote_end).parse_complete(input)
}

/// One token: bare bytes, then optionally one quoted part that ends it.
fn token(input: &[u8]) -> Parsed<'_, Vec<u8>> {
    let bare = take_while(|b: u8| !matches!(b, b' ' | b'\n' | b'\r' | b'\t' | b'"' | b'\''));
    map(pair(bare, opt(alt((double_quoted, single_quoted)))), |(bare, quoted): (&[u8], _)| {
        let mut tok = bare.to_vec();
        tok.extend(quoted.unwrap_or_default());
        tok
    })
    .parse_complete(input)
}

/// `sdssplitargs` on a line without NUL bytes.
fn split_args(line: &[u8]) -> std::result::Result<Vec<Vec<u8>>, SplitError<'_>> {
    let blanks = || take_while(is_c_space);
    let mut parser = terminated(many0(preceded(blanks(), preceded(not(eof), token))), pair(blanks(), eof));
    match parser.parse_complete(line) {
        Ok((_, tokens)) => Ok(tokens),
        Err(nom::Err::Error(e) | nom::Err::Failure(e)) => Err(e),
        Err(nom::Err::Incomplete(_)) => Err(SplitError { rest: line, reason: None }),
    }
}

/// `atoll` with glibc's behaviour: leading whitespace, an optional sign, decimal digits, the
/// rest ignored, overflow clamped to `i64::MIN`/`i64::MAX`, 0 when no digits.
fn atoll(text: &[u8]) -> i64 {
    let sign = opt(alt((tag("+"), tag("-"))));
    let parsed: Parsed<'_, _> = preceded(take_while(is_c_space), pair(sign, digit0)).parse_complete(text);
    let Ok((_, (sign, digits))) = parsed else {
        return 0;
    };
    let negative = sign == Some(&b"-"[..]);
    let limit = if negative { i64::MIN.unsigned_abs() } else { i64::MAX.unsigned_abs() };
    let mut magnitude: u64 = 0;
    for &d in digits {
        magnitude = magnitude.saturating_mul(10).saturating_add(u64::from(d - b'0')).min(limit);
    }
    if negative {
        0i64.saturating_sub_unsigned(magnitude)
    } else {
        i64::try_from(magnitude).unwrap_or(i64::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Written by Redis 7.0.15 (`--appendonly yes`, two `BGREWRITEAOF`s).
    const REDIS_70: &[u8] = b"file appendonly.aof.3.base.rdb seq 3 type b\n\
                              file appendonly.aof.3.incr.aof seq 3 type i\n";

    /// Written by Redis 7.0.15 with `--aof-disable-auto-gc yes`: history files stay listed.
    const REDIS_70_HISTORY: &[u8] = b"file appendonly.aof.3.base.rdb seq 3 type b\n\
                                      file appendonly.aof.2.incr.aof seq 2 type h\n\
                                      file appendonly.aof.2.base.rdb seq 2 type h\n\
                                      file appendonly.aof.1.incr.aof seq 1 type h\n\
                                      file appendonly.aof.1.base.rdb seq 1 type h\n\
                                      file appendonly.aof.3.incr.aof seq 3 type i\n";

    /// Written by Redis 7.0.15 after two rewrites whose children were killed: each failed
    /// rewrite leaves a new incr file.
    const REDIS_70_INCRS: &[u8] = b"file appendonly.aof.1.base.rdb seq 1 type b\n\
                                    file appendonly.aof.1.incr.aof seq 1 type i\n\
                                    file appendonly.aof.2.incr.aof seq 2 type i\n\
                                    file appendonly.aof.3.incr.aof seq 3 type i\n";

    /// Written by Redis 7.0.15 with `--appendfilename 'my file"x.aof'`.
    const REDIS_70_QUOTED: &[u8] = b"file \"my file\\\"x.aof.3.base.rdb\" seq 3 type b\n\
                                     file \"my file\\\"x.aof.3.incr.aof\" seq 3 type i\n";

    /// Written by Redis 7.0.15 with `--appendfilename "it's.aof"`; the same server then refused
    /// to start from it ("Invalid AOF manifest file format" at line 1).
    const REDIS_70_APOSTROPHE: &[u8] = b"file it's.aof.3.base.rdb seq 3 type b\n\
                                         file it's.aof.3.incr.aof seq 3 type i\n";

    /// Written by Valkey 9.1.2 with `--aof-disable-auto-gc yes`: the same bytes as Redis's.
    const VALKEY_91_HISTORY: &[u8] = REDIS_70_HISTORY;

    /// Written by Valkey 9.1.2 after two killed rewrites: the same bytes as Redis's.
    const VALKEY_91_INCRS: &[u8] = REDIS_70_INCRS;

    /// Written by Valkey 9.1.2 with `--appendfilename $'caf\xc3\xa9 \t.aof'`.
    const VALKEY_91_QUOTED: &[u8] = b"file \"caf\\xc3\\xa9 \\t.aof.3.base.rdb\" seq 3 type b\n\
                                      file \"caf\\xc3\\xa9 \\t.aof.3.incr.aof\" seq 3 type i\n";

    fn triples(m: &Manifest) -> Vec<(Vec<u8>, u64, FileType)> {
        m.entries.iter().map(|e| (e.name.clone(), e.seq, e.file_type)).collect()
    }

    fn names<'a>(entries: impl Iterator<Item = &'a ManifestEntry>) -> Vec<&'a [u8]> {
        entries.map(|e| e.name.as_slice()).collect()
    }

    fn ok(text: &[u8]) -> Manifest {
        Manifest::parse(text).unwrap_or_else(|e| panic!("{:?}: {e}", text.escape_ascii().to_string()))
    }

    /// One entry's name, for the quoting tests.
    fn only_name(text: &[u8]) -> Vec<u8> {
        let m = ok(text);
        assert_eq!(m.entries.len(), 1);
        m.entries[0].name.clone()
    }

    /// The parse error's offset, `what`, `expected` and `found`.
    fn err(text: &[u8]) -> (u64, &'static str, &'static str, String) {
        let e = Manifest::parse(text).expect_err(&text.escape_ascii().to_string());
        match e.kind() {
            ErrorKind::Invalid { what, expected, found } => (e.offset(), *what, *expected, found.clone()),
            other => panic!("not Invalid: {other}"),
        }
    }

    #[test]
    fn redis_70_manifests_read_and_rewrite_byte_for_byte() {
        for text in [REDIS_70, REDIS_70_HISTORY, REDIS_70_INCRS, REDIS_70_QUOTED, VALKEY_91_QUOTED] {
            assert_eq!(ok(text).to_bytes(), text, "{}", text.escape_ascii());
        }

        let m = ok(REDIS_70);
        let base = m.base().unwrap();
        assert_eq!(base.name, b"appendonly.aof.3.base.rdb");
        assert_eq!((base.seq, base.file_type, base.line, base.offset), (3, FileType::Base, 1, 0));
        let incrs: Vec<_> = m.incrs().collect();
        assert_eq!(incrs.len(), 1);
        assert_eq!(incrs[0].name, b"appendonly.aof.3.incr.aof");
        assert_eq!((incrs[0].seq, incrs[0].line, incrs[0].offset), (3, 2, 44));
        assert_eq!(m.history().count(), 0);

        let m = ok(REDIS_70_HISTORY);
        assert_eq!(m.base().unwrap().seq, 3);
        assert_eq!(
            names(m.history()),
            [
                &b"appendonly.aof.2.incr.aof"[..],
                b"appendonly.aof.2.base.rdb",
                b"appendonly.aof.1.incr.aof",
                b"appendonly.aof.1.base.rdb"
            ]
        );
        assert_eq!(m.history().map(|e| e.seq).collect::<Vec<_>>(), [2, 2, 1, 1]);
        assert_eq!(names(m.incrs()), [b"appendonly.aof.3.incr.aof"]);
        assert_eq!(m.incrs().next().unwrap().line, 6);

        let m = ok(REDIS_70_INCRS);
        assert_eq!(m.incrs().map(|e| e.seq).collect::<Vec<_>>(), [1, 2, 3]);
        assert_eq!(m.incrs().map(|e| e.line).collect::<Vec<_>>(), [2, 3, 4]);

        let m = ok(REDIS_70_QUOTED);
        assert_eq!(m.base().unwrap().name, b"my file\"x.aof.3.base.rdb");
        assert_eq!(names(m.incrs()), [b"my file\"x.aof.3.incr.aof"]);
    }

    #[test]
    fn valkey_91_manifests_read_and_rewrite_byte_for_byte() {
        for text in [VALKEY_91_HISTORY, VALKEY_91_INCRS, VALKEY_91_QUOTED] {
            assert_eq!(ok(text).to_bytes(), text);
        }
        let m = ok(VALKEY_91_QUOTED);
        assert_eq!(m.base().unwrap().name, "café \t.aof.3.base.rdb".as_bytes());
        assert_eq!(names(m.incrs()), ["café \t.aof.3.incr.aof".as_bytes()]);
        assert_eq!(ok(VALKEY_91_HISTORY).history().count(), 4);
    }

    #[test]
    fn a_bare_apostrophe_is_refused_as_redis_refuses_it_and_written_quoted() {
        let (offset, what, _, found) = err(REDIS_70_APOSTROPHE);
        assert_eq!((offset, what), (0, "AOF manifest line"));
        assert!(found.starts_with("line 1: an unterminated single quote at byte 8"), "{found}");

        let m = Manifest {
            entries: vec![
                ManifestEntry::new("it's.aof.3.base.rdb", 3, FileType::Base),
                ManifestEntry::new("it's.aof.3.incr.aof", 3, FileType::Incr),
            ],
        };
        let bytes = m.to_bytes();
        assert_eq!(
            bytes,
            b"file \"it's.aof.3.base.rdb\" seq 3 type b\nfile \"it's.aof.3.incr.aof\" seq 3 type i\n"
        );
        assert_eq!(triples(&ok(&bytes)), triples(&m));
    }

    #[test]
    fn quotes_closed_inside_a_token_are_read_as_redis_reads_them() {
        // Redis 7.0.15 refuses this line; Valkey 9.1.2 loads a base file named "ab".
        let (_, _, _, found) = err(b"file \"a\"b seq 1 type b\n");
        assert!(found.starts_with("line 1: a closing quote followed by something other"), "{found}");
        // Redis 7.0.15 loads a base file named "a"; Valkey 9.1.2 looks for one named "a\x0b".
        assert_eq!(only_name(b"file \"a\"\x0b seq 1 type b\n"), b"a");
    }

    #[test]
    fn names_are_quoted_exactly_when_redis_quotes_them() {
        let line = |name: &[u8]| {
            let m = Manifest { entries: vec![ManifestEntry::new(name, 1, FileType::Incr)] };
            String::from_utf8(m.to_bytes()).unwrap()
        };
        assert_eq!(
            line(b"plain.aof-1_~!@#$%^&*()[]{}<>?,.;:`|=+"),
            "file plain.aof-1_~!@#$%^&*()[]{}<>?,.;:`|=+ seq 1 type i\n"
        );
        assert_eq!(line(b"a b"), "file \"a b\" seq 1 type i\n");
        assert_eq!(line(b"q\"b\\s"), "file \"q\\\"b\\\\s\" seq 1 type i\n");
        assert_eq!(line(b"\n\r\t\x07\x08"), "file \"\\n\\r\\t\\a\\b\" seq 1 type i\n");
        assert_eq!(
            line(b"\x0b\x0c\x01\x7f\x80\xff"),
            "file \"\\x0b\\x0c\\x01\\x7f\\x80\\xff\" seq 1 type i\n"
        );
        assert_eq!(line(b"'"), "file \"'\" seq 1 type i\n");
        assert_eq!(line(b""), "file \"\" seq 1 type i\n");
        assert_eq!(line(b"\x00"), "file \"\\x00\" seq 1 type i\n");
    }

    #[test]
    fn quoted_tokens_follow_sdssplitargs() {
        assert_eq!(only_name(b"file \"my file\" seq 1 type b\n"), b"my file");
        assert_eq!(
            only_name(b"file \"a\\x41\\x4g\\n\\r\\t\\b\\a\\q\\\"\" seq 1 type b\n"),
            b"aAx4g\n\r\t\x08\x07q\""
        );
        assert_eq!(only_name(b"file \"\\xfF\\xC3\\xa9\" seq 1 type b\n"), b"\xff\xc3\xa9");
        assert_eq!(only_name(b"file 'it\\'s \"x\"' seq 1 type b\n"), b"it's \"x\"");
        // Outside `\'`, a backslash stays, and a name with one is refused.
        let (_, what, _, found) = err(b"file 'a\\b' seq 1 type b\n");
        assert_eq!((what, found.as_str()), ("AOF manifest file name", r#"line 1: "a\\b""#));
        // A quote may open inside a token; it then ends the token.
        assert_eq!(only_name(b"file ab\"cd ef\" seq 1 type b\n"), b"abcd ef");
        assert_eq!(only_name(b"file ab'cd' seq 1 type b\n"), b"abcd");
        assert_eq!(only_name(b"file \"\" seq 1 type b\n"), b"");
        assert_eq!(only_name(b"file '' seq 1 type b\n"), b"");
        // Vertical tab and form feed separate tokens only where `isspace` is asked: before a
        // token and after a closing quote, not inside a bare token.
        assert_eq!(only_name(b"file \"a\"\x0bseq 1 type b\n"), b"a");
        assert_eq!(only_name(b"\x0c\x0bfile a\x0c seq 1 type b\n"), b"a\x0c");
        let (_, _, _, found) = err(b"file\x0b a seq 1 type b\n");
        assert!(found.starts_with("line 1: no `file` key"), "{found}");
    }

    #[test]
    fn accepts_what_redis_accepts() {
        // Keys in any case and order, unknown keys ignored, a later pair of a key wins.
        let m = ok(b"SEQ 4 Type i FILE a.aof\nfile x seq 5 type i future yes\nfile y file z seq 1 seq 6 type h type i\n");
        assert_eq!(triples(&m)[0], (b"a.aof".to_vec(), 4, FileType::Incr));
        assert_eq!(triples(&m)[2], (b"z".to_vec(), 6, FileType::Incr));
        // `type` is its value's first byte; `seq` is read by `atoll`.
        let m = ok(b"file a seq 12abc type base\nfile b seq +7 type incr\nfile c seq \" \\t8\" type hist\n");
        assert_eq!(
            m.entries.iter().map(|e| (e.seq, e.file_type)).collect::<Vec<_>>(),
            [(12, FileType::Base), (7, FileType::Incr), (8, FileType::History)]
        );
        let m = ok(b"file a seq 99999999999999999999999 type b\n");
        assert_eq!(m.entries[0].seq, i64::MAX as u64);
        // Comments (even with NUL bytes, or unterminated at the end), CRLF, surrounding blanks.
        let m = ok(b"# made by hand\n#\x00\n  file a seq 1 type b \t\r\n\tfile b seq 1 type i\r\n# the end");
        assert_eq!(m.entries.iter().map(|e| (e.line, e.offset)).collect::<Vec<_>>(), [(3, 18), (4, 43)]);
        // Lines in any order; repeated names and history seqs are not checked.
        let m = ok(b"file i seq 2 type i\nfile h seq 9 type h\nfile h seq 9 type h\nfile b seq 1 type b\n");
        assert_eq!(m.base().unwrap().line, 4);
        assert_eq!(
            m.to_bytes(),
            b"file b seq 1 type b\nfile h seq 9 type h\nfile h seq 9 type h\nfile i seq 2 type i\n"
        );
        // Keys and values end at an embedded NUL, as C strings do.
        assert_eq!(
            triples(&ok(b"\"file\\x00x\" \"a\\x00/b\" seq 1 type \"b\\x00\"\n"))[0],
            (b"a".to_vec(), 1, FileType::Base)
        );
        // A manifest of comments lists no files; it is written back as a comment.
        let m = ok(b"# nothing\n");
        assert!(m.entries.is_empty() && m.base().is_none() && m.incrs().next().is_none());
        assert_eq!(ok(&m.to_bytes()), m);
        // Lines up to 1023 bytes before the newline.
        let long = [&b"file "[..], &[b'a'; 1005], b" seq 1 type b\n"].concat();
        assert_eq!(long.len(), MAX_LINE);
        assert_eq!(ok(&long).entries[0].name.len(), 1005);
    }

    #[test]
    fn a_comment_longer_than_1024_bytes_goes_on_as_a_line() {
        let comment = [&b"#"[..], &[b'c'; 1023]].concat();
        let m = ok(&[&comment[..], b"file z seq 1 type b\n"].concat());
        assert_eq!((m.entries[0].line, m.entries[0].offset), (1, 1024));
        let m = ok(&[&comment[..], b"#more\nfile z seq 1 type b\n"].concat());
        assert_eq!((m.entries[0].line, m.entries[0].offset), (2, 1030));
        let (offset, what, _, found) = err(&[&comment[..], b"cc\n"].concat());
        assert_eq!((offset, what), (1024, "AOF manifest line"));
        assert!(found.starts_with("line 1 from byte 1024 (Redis reads the rest"), "{found}");
        assert!(found.ends_with("1 tokens: \"cc\""), "{found}");
    }

    #[test]
    fn refuses_what_redis_refuses_at_the_bad_line() {
        let line2 = |bad: &[u8]| err(&[&b"file a seq 1 type b\n"[..], bad].concat());
        let cases: &[(&[u8], &str, &str)] = &[
            // Redis: "The AOF manifest file contains too long line".
            (
                b"file b seq 1 type i",
                "AOF manifest line",
                "line 2: the last line has no newline: \"file b seq 1 type i\"",
            ),
            (b"file b\x00 seq 1 type i\n", "AOF manifest line", "line 2: a NUL byte at byte 7: "),
            // Redis: "Invalid AOF manifest file format".
            (b"\n", "AOF manifest line", "line 2: a blank line"),
            (b" \t\r\n", "AOF manifest line", "line 2: a blank line"),
            (b"  # indented\n", "AOF manifest line", "line 2: 2 tokens: \"# indented\""),
            (b"file b seq 1 type\n", "AOF manifest line", "line 2: 5 tokens"),
            (b"file b seq 1\n", "AOF manifest line", "line 2: 4 tokens"),
            (b"file b seq 1 type i x\n", "AOF manifest line", "line 2: 7 tokens"),
            (
                b"file \"b seq 1 type i\n",
                "AOF manifest line",
                "line 2: an unterminated double quote at byte 6",
            ),
            (
                b"file 'b seq 1 type i\n",
                "AOF manifest line",
                "line 2: an unterminated single quote at byte 6",
            ),
            (b"file \"b\\\" seq 1 type i\n", "AOF manifest line", "line 2: an unterminated double quote"),
            (
                b"file \"b\"x seq 1 type i\n",
                "AOF manifest line",
                "line 2: a closing quote followed by something other than a space (only Valkey 9 accepts that) at byte 9",
            ),
            (b"file 'b'\"x\" seq 1 type i\n", "AOF manifest line", "line 2: a closing quote followed by"),
            (b"name b seq 1 type i\n", "AOF manifest line", "line 2: no `file` key"),
            (b"file b sequence 1 type i\n", "AOF manifest line", "line 2: no `seq` key"),
            (b"file b seq 1 kind i\n", "AOF manifest line", "line 2: no `type` key"),
            (b"file b seq 1 type ''\n", "AOF manifest line", "line 2: an empty `type`"),
            (b"file b seq 0 type i\n", "AOF manifest sequence number", "line 2: \"0\" reads as 0"),
            (b"file b seq two type i\n", "AOF manifest sequence number", "line 2: \"two\" reads as 0"),
            (b"file b seq 2 type i seq 0\n", "AOF manifest sequence number", "line 2: \"0\" reads as 0"),
            // Redis accepts a negative base or history seq; aoftool's are unsigned.
            (b"file b seq -2 type h\n", "AOF manifest sequence number", "line 2: \"-2\" reads as -2"),
            // Redis: "File can't be a path, just a filename" (even if a later `file` wins).
            (b"file d/b seq 1 type i\n", "AOF manifest file name", "line 2: \"d/b\""),
            (b"file \"..\\\\b\" seq 1 type i\n", "AOF manifest file name", "line 2: \"..\\\\b\""),
            (b"file /b file b seq 1 type i\n", "AOF manifest file name", "line 2: \"/b\""),
            // Redis: "Found duplicate base file information".
            (
                b"file b seq 2 type b\n",
                "AOF manifest",
                "line 2: a second base file \"b\" (the first is on line 1)",
            ),
            // Redis: "Unknown AOF file type".
            (b"file b seq 1 type B\n", "AOF manifest file type", "line 2: \"B\""),
            (b"file b seq 1 type xi\n", "AOF manifest file type", "line 2: \"xi\""),
        ];
        for &(bad, what, found) in cases {
            let (offset, got_what, _, got_found) = line2(bad);
            assert_eq!((offset, got_what), (20, what), "{}", bad.escape_ascii());
            assert!(got_found.starts_with(found), "{}: {got_found}", bad.escape_ascii());
        }

        // Redis: "Found a non-monotonic sequence number".
        for (text, found) in [
            (
                &b"file a seq 5 type i\nfile b seq 5 type i\n"[..],
                "line 2: incr seq 5 after incr seq 5 on line 1",
            ),
            (
                b"file a seq 5 type i\nfile h seq 9 type h\nfile b seq 4 type i\n",
                "line 3: incr seq 4 after incr seq 5 on line 1",
            ),
            (b"file a seq -1 type i\n", "line 1: \"-1\" reads as -1"),
        ] {
            let (_, what, expected, got) = err(text);
            assert_eq!((what, expected), ("AOF manifest sequence number", INCR_SEQ_EXPECTED));
            assert!(got.starts_with(found), "{got}");
        }

        // Redis: "Found an empty AOF manifest"; too long lines.
        assert_eq!(err(b""), (0, "AOF manifest", "at least one line", "an empty file".to_string()));
        let long = [&b"file "[..], &[b'a'; 1006], b" seq 1 type b\n"].concat();
        let (offset, _, expected, found) = err(&[&b"# c\n"[..], &long].concat());
        assert_eq!((offset, expected), (4, "at most 1023 bytes before the newline"));
        assert!(found.starts_with("line 2: 1024 bytes: \"file aaa"), "{found}");
        assert!(found.ends_with("aaa\"..."), "{found}");
    }

    #[test]
    fn writes_base_then_history_then_incrs() {
        let m = Manifest {
            entries: vec![
                ManifestEntry::new("i1", 1, FileType::Incr),
                ManifestEntry::new("h1", 1, FileType::History),
                ManifestEntry::new("i2", 2, FileType::Incr),
                ManifestEntry::new("b", 2, FileType::Base),
                ManifestEntry::new("h2", 2, FileType::History),
            ],
        };
        let bytes = m.to_bytes();
        assert_eq!(
            bytes,
            b"file b seq 2 type b\nfile h1 seq 1 type h\nfile h2 seq 2 type h\nfile i1 seq 1 type i\nfile i2 seq 2 type i\n"
        );
        let again = ok(&bytes);
        assert_eq!(again.to_bytes(), bytes);
        assert_eq!(ok(&again.to_bytes()), again);
        assert_eq!(Manifest::default().to_bytes(), EMPTY_MANIFEST);
    }

    #[test]
    fn the_longest_name_that_always_fits_on_a_line() {
        let m = Manifest { entries: vec![ManifestEntry::new(vec![0xff; 246], u64::MAX, FileType::Base)] };
        let bytes = m.to_bytes();
        assert_eq!(bytes.len(), MAX_LINE);
        assert_eq!(ok(&bytes).entries[0].name, vec![0xff; 246]);
    }

    #[test]
    fn file_type_codes() {
        for t in [FileType::Base, FileType::History, FileType::Incr] {
            assert_eq!(FileType::from_code(t.code()), Some(t));
        }
        assert_eq!(FileType::from_code(b'B'), None);
    }

    #[test]
    fn locate_finds_the_manifest() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        assert!(locate(&d.join("missing")).is_err());
        assert_eq!(locate(d).unwrap(), None);

        fs::write(d.join("appendonly.aof.1.base.rdb"), b"").unwrap();
        assert_eq!(locate(&d.join("appendonly.aof.1.base.rdb")).unwrap(), None);
        fs::create_dir(d.join("sub.manifest")).unwrap();
        assert_eq!(locate(d).unwrap(), None, "a directory is not a manifest");

        let manifest = d.join("appendonly.aof.manifest");
        fs::write(&manifest, REDIS_70).unwrap();
        assert_eq!(locate(d).unwrap(), Some((d.to_path_buf(), manifest.clone())));
        assert_eq!(locate(&manifest).unwrap(), Some((d.to_path_buf(), manifest.clone())));
        fs::write(d.join("temp-appendonly.aof.manifest"), REDIS_70).unwrap();
        assert_eq!(locate(d).unwrap(), Some((d.to_path_buf(), manifest.clone())), "leftover temp file");

        fs::write(d.join("other.aof.manifest"), REDIS_70).unwrap();
        let e = locate(d).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        assert!(
            e.to_string().contains("several manifests (appendonly.aof.manifest, other.aof.manifest)"),
            "{e}"
        );

        assert_eq!(
            locate(Path::new("x.manifest")).map_err(|e| e.kind()),
            Err(io::ErrorKind::NotFound),
            "relative paths are resolved by the OS"
        );
    }

    /// Entries as a server could list them: at most one base, any history files, incr files
    /// with increasing seqs; names without NUL, '/' or '\', short enough for a line.
    fn valid_entries() -> impl Strategy<Value = Vec<ManifestEntry>> {
        // Any byte, with the ones that need quoting made common.
        let byte = (any::<u8>(), 0..8u8).prop_map(|(b, pick)| match pick {
            0 => b' ',
            1 => b'"',
            2 => b'\'',
            _ => b,
        });
        let name = move || {
            proptest::collection::vec(byte.clone(), 0..=246).prop_map(|mut n| {
                n.retain(|b| !matches!(b, 0 | b'/' | b'\\'));
                n
            })
        };
        let seq = 1..=i64::MAX as u64;
        let base = proptest::option::of((name(), seq.clone()));
        let history = proptest::collection::vec((name(), seq.clone()), 0..4);
        let incrs = proptest::collection::btree_map(seq, name(), 0..4);
        (base, history, incrs).prop_map(|(base, history, incrs)| {
            let base = base.map(|(n, s)| ManifestEntry::new(n, s, FileType::Base));
            let history = history.into_iter().map(|(n, s)| ManifestEntry::new(n, s, FileType::History));
            let incrs = incrs.into_iter().map(|(s, n)| ManifestEntry::new(n, s, FileType::Incr));
            base.into_iter().chain(history).chain(incrs).collect()
        })
    }

    /// Pieces of manifest lines, right and wrong.
    const SOUP: &[&[u8]] = &[
        b"file",
        b"seq",
        b"type",
        b"b",
        b"h",
        b"i",
        b"1",
        b"2",
        b"-1",
        b"\"a b\"",
        b"'c'",
        b"\"\\x41\"",
        b"\n",
        b"#",
        b" ",
        b"\"",
        b"d/e",
        b"\x0b",
    ];

    proptest! {
        #[test]
        fn written_manifests_read_back(entries in valid_entries()) {
            let m = Manifest { entries };
            let bytes = m.to_bytes();
            let again = Manifest::parse(&bytes).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(triples(&again), triples(&m));
            prop_assert_eq!(again.to_bytes(), bytes.clone());
            prop_assert_eq!(Manifest::parse(&again.to_bytes()).ok(), Some(again.clone()));
            for (i, e) in again.entries.iter().enumerate() {
                prop_assert_eq!(e.line, i + 1);
                prop_assert_eq!(bytes.get(usize::try_from(e.offset).unwrap()..).map(|r| r.starts_with(b"file ")), Some(true));
            }
        }

        #[test]
        fn any_bytes_parse_without_panicking(text in proptest::collection::vec(
            (any::<u8>(), 0..12usize).prop_map(|(b, pick)| b" \n\"'\\x#".get(pick).copied().unwrap_or(b)),
            0..300,
        )) {
            match Manifest::parse(&text) {
                Ok(m) => {
                    // Written back, it lists the same files, base first, then history, then
                    // incrs, unless quoting made a line too long.
                    let bytes = m.to_bytes();
                    match Manifest::parse(&bytes) {
                        Ok(again) => {
                            let mut want = triples(&m);
                            want.sort_by_key(|t| t.2 as u8);
                            prop_assert_eq!(triples(&again), want);
                        }
                        Err(e) => prop_assert!(bytes.split(|&b| b == b'\n').any(|l| l.len() >= MAX_LINE), "{}", e),
                    }
                }
                Err(e) => prop_assert!(e.offset() < text.len().max(1) as u64),
            }
        }

        #[test]
        fn token_soup_parses_without_panicking(tokens in proptest::collection::vec(
            proptest::sample::select(SOUP),
            0..40,
        )) {
            let text = tokens.join(&b' ');
            if let Err(e) = Manifest::parse(&text) {
                prop_assert!(e.offset() < text.len().max(1) as u64);
            }
        }
    }
}

//! RESP framing of AOF files: `*<argc>` arrays of `$<len>` bulk strings, and `#` annotations.
//!
//! Parsing is canonical: counts and lengths are plain decimal digits, every line ends in CRLF, a
//! command has at least one argument. This is what servers write; anything else is reported with
//! the byte offset and what was expected there.

use crate::error::{Error, ErrorKind, Result};

/// Longest annotation line the servers read, CRLF included (`AOF_ANNOTATION_LINE_MAX_LEN`).
pub const ANNOTATION_MAX_LEN: usize = 1024;

/// Longest count or length line accepted: a sign-free 64-bit number has at most 20 digits.
const MAX_DIGITS: usize = 20;

/// One top-level item of a RESP AOF.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Item<'a> {
    /// A command.
    Command(Command<'a>),
    /// An annotation line (`#…`); `text` excludes the `#` and the CRLF.
    Annotation {
        /// Absolute offset of the `#`.
        offset: u64,
        /// The text after `#`.
        text: &'a [u8],
    },
}

/// A complete command, borrowed from the input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Command<'a> {
    /// Absolute offset of the `*`.
    pub offset: u64,
    /// The command's bytes, from `*` to the final CRLF.
    pub raw: &'a [u8],
    /// Number of arguments, the name included.
    pub argc: usize,
    /// The first argument: the command name as written (any case).
    pub name: &'a [u8],
}

impl<'a> Command<'a> {
    /// The arguments, the command name first.
    pub fn args(&self) -> Args<'a> {
        let header_end = memchr::memchr(b'\n', self.raw).map_or(self.raw.len(), |i| i + 1);
        Args { rest: &self.raw[header_end..], left: self.argc }
    }

    /// True when the name equals `name` ignoring ASCII case.
    pub fn is(&self, name: &str) -> bool {
        self.name.eq_ignore_ascii_case(name.as_bytes())
    }

    /// Absolute offset just past the command.
    pub fn end(&self) -> u64 {
        self.offset + self.raw.len() as u64
    }
}

/// Iterator over a validated command's arguments.
#[derive(Clone, Debug)]
pub struct Args<'a> {
    rest: &'a [u8],
    left: usize,
}

impl<'a> Iterator for Args<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        if self.left == 0 {
            return None;
        }
        // The command was validated when parsed, so each argument is `$<len>\r\n<bytes>\r\n`.
        let nl = memchr::memchr(b'\n', self.rest)?;
        let len = parse_digits(self.rest.get(1..nl.checked_sub(1)?)?)?;
        let start = nl + 1;
        let arg = self.rest.get(start..start.checked_add(len)?)?;
        self.rest = self.rest.get(start + len + 2..).unwrap_or_default();
        self.left -= 1;
        Some(arg)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl ExactSizeIterator for Args<'_> {}

/// Parses canonical decimal digits (no sign, no spaces, at most 20 digits) into a usize.
pub fn parse_digits(digits: &[u8]) -> Option<usize> {
    if digits.is_empty() || digits.len() > MAX_DIGITS {
        return None;
    }
    digits.iter().try_fold(0usize, |n, &d| {
        if d.is_ascii_digit() { n.checked_mul(10)?.checked_add(usize::from(d - b'0')) } else { None }
    })
}

/// A parse position over a whole RESP body; offsets are absolute (`base` + index).
#[derive(Clone, Copy, Debug)]
pub struct Parser<'a> {
    data: &'a [u8],
    base: u64,
}

impl<'a> Parser<'a> {
    /// A parser over `data`, which starts at absolute offset `base` in its file.
    pub fn new(data: &'a [u8], base: u64) -> Parser<'a> {
        Parser { data, base }
    }

    /// The bytes parsed.
    pub fn data(&self) -> &'a [u8] {
        self.data
    }

    /// Absolute offset of index `pos`.
    pub fn offset(&self, pos: usize) -> u64 {
        self.base + pos as u64
    }

    /// Parses the item starting at index `pos`; returns it and the index just past it.
    ///
    /// # Errors
    /// [`ErrorKind::Truncated`] when the data ends inside the item, [`ErrorKind::Invalid`] for any
    /// other deviation, both at the offset of the offending byte.
    pub fn item(&self, pos: usize) -> Result<(Item<'a>, usize)> {
        match self.data.get(pos) {
            Some(b'*') => self.command(pos).map(|(c, end)| (Item::Command(c), end)),
            Some(b'#') => self.annotation(pos),
            Some(&other) => {
                Err(self.invalid(pos, "AOF item", "'*' (a command) or '#' (an annotation)", other))
            }
            None => Err(self.truncated(pos, "AOF item", 1)),
        }
    }

    /// An annotation runs to the end of its line (servers read it with `fgets`, so a bare LF
    /// ends it too). An annotation without a line end at the end of the data is reported as
    /// truncated: servers accept it, but the next command appended to the file would be read as
    /// part of it.
    fn annotation(&self, pos: usize) -> Result<(Item<'a>, usize)> {
        let window = &self.data[pos..self.data.len().min(pos + ANNOTATION_MAX_LEN)];
        let Some(nl) = memchr::memchr(b'\n', window) else {
            return if pos + window.len() == self.data.len() {
                Err(self.truncated(self.data.len(), "annotation line end", 1))
            } else {
                Err(self.invalid(pos, "annotation line", "a line of at most 1024 bytes", "a longer line"))
            };
        };
        let line = &window[1..nl];
        let text = line.strip_suffix(b"\r").unwrap_or(line);
        Ok((Item::Annotation { offset: self.offset(pos), text }, pos + nl + 1))
    }

    fn command(&self, start: usize) -> Result<(Command<'a>, usize)> {
        let (argc, mut pos) = self.number(start, b'*', "argument count")?;
        if argc == 0 {
            return Err(self.invalid(start + 1, "argument count", "at least 1", 0));
        }
        let mut name: &[u8] = &[];
        for i in 0..argc {
            let (len, data_start) = self.number(pos, b'$', "bulk string length")?;
            let Some(data_end) = data_start.checked_add(len).filter(|&e| e <= self.data.len()) else {
                let available = self.data.len() - data_start;
                return Err(Error::new(
                    ErrorKind::Truncated {
                        what: "bulk string",
                        needed: len as u64 + 2,
                        available: available as u64,
                    },
                    self.offset(data_start),
                ));
            };
            match self.data.get(data_end..data_end + 2) {
                Some(b"\r\n") => {
                    if i == 0 {
                        name = &self.data[data_start..data_end];
                    }
                    pos = data_end + 2;
                }
                Some(other) => {
                    return Err(self.invalid(
                        data_end,
                        "bulk string end",
                        "CRLF after the declared length",
                        escape(other),
                    ));
                }
                None => return Err(self.truncated(data_end, "bulk string end", 2)),
            }
        }
        Ok((Command { offset: self.offset(start), raw: &self.data[start..pos], argc, name }, pos))
    }

    /// Parses `<prefix><digits>\r\n` at `pos`; returns the number and the index after the CRLF.
    #[inline]
    fn number(&self, pos: usize, prefix: u8, what: &'static str) -> Result<(usize, usize)> {
        // Fast path: up to 18 digits (no overflow possible) and CRLF; anything else, errors
        // included, takes the careful path below.
        const FAST_DIGITS: usize = 18;
        let data = self.data;
        if data.get(pos) == Some(&prefix) {
            let start = pos + 1;
            let limit = data.len().min(start + FAST_DIGITS);
            let mut i = start;
            let mut value = 0usize;
            while i < limit {
                let digit = data[i].wrapping_sub(b'0');
                if digit > 9 {
                    break;
                }
                value = value * 10 + usize::from(digit);
                i += 1;
            }
            if i > start && data.get(i..i + 2) == Some(b"\r\n") {
                return Ok((value, i + 2));
            }
        }
        self.number_slow(pos, prefix, what)
    }

    #[cold]
    fn number_slow(&self, pos: usize, prefix: u8, what: &'static str) -> Result<(usize, usize)> {
        match self.data.get(pos) {
            Some(&b) if b == prefix => {}
            Some(&other) => {
                let expected = if prefix == b'*' { "'*'" } else { "'$'" };
                return Err(self.invalid(pos, what, expected, escape(&[other])));
            }
            None => return Err(self.truncated(pos, what, 1)),
        }
        let digits_start = pos + 1;
        let window = &self.data[digits_start..self.data.len().min(digits_start + MAX_DIGITS + 2)];
        let Some(cr) = window.iter().position(|&b| !b.is_ascii_digit()) else {
            return if window.len() == MAX_DIGITS + 2 {
                Err(self.invalid(digits_start, what, "at most 20 digits", "more"))
            } else {
                Err(self.truncated(self.data.len(), what, 1))
            };
        };
        let value = parse_digits(&window[..cr]).ok_or_else(|| {
            self.invalid(digits_start, what, "decimal digits", escape(&window[..cr.max(1).min(window.len())]))
        })?;
        match window.get(cr..cr + 2) {
            Some(b"\r\n") => Ok((value, digits_start + cr + 2)),
            Some([b'\r']) | None if digits_start + cr + 2 > self.data.len() => {
                Err(self.truncated(self.data.len(), what, 1))
            }
            _ => Err(self.invalid(
                digits_start + cr,
                what,
                "digits then CRLF",
                escape(&window[cr..window.len().min(cr + 2)]),
            )),
        }
    }

    fn invalid(
        &self,
        pos: usize,
        what: &'static str,
        expected: &'static str,
        found: impl std::fmt::Display,
    ) -> Error {
        let found = found.to_string();
        Error::new(ErrorKind::Invalid { what, expected, found }, self.offset(pos))
    }

    fn truncated(&self, pos: usize, what: &'static str, needed: u64) -> Error {
        Error::new(ErrorKind::Truncated { what, needed, available: 0 }, self.offset(pos))
    }
}

/// Shows a byte or bytes found in the input: printable ASCII as is, others escaped.
fn escape(bytes: &[u8]) -> String {
    format!("\"{}\"", bytes.escape_ascii())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(data: &[u8]) -> Result<Vec<Item<'_>>> {
        let p = Parser::new(data, 0);
        let mut pos = 0;
        let mut out = Vec::new();
        while pos < data.len() {
            let (item, next) = p.item(pos)?;
            out.push(item);
            pos = next;
        }
        Ok(out)
    }

    #[test]
    fn parses_commands_and_annotations() {
        let data = b"#TS:1700000000\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n*1\r\n$5\r\nMULTI\r\n";
        let got = items(data).unwrap();
        assert_eq!(got.len(), 3);
        assert_eq!(got[0], Item::Annotation { offset: 0, text: b"TS:1700000000" });
        let Item::Command(set) = got[1] else { panic!("expected a command") };
        assert_eq!(set.offset, 16);
        assert_eq!(set.args().collect::<Vec<_>>(), vec![&b"SET"[..], b"k", b""]);
        assert!(set.is("set"));
        let Item::Command(multi) = got[2] else { panic!("expected a command") };
        assert_eq!(multi.end(), data.len() as u64);
    }

    #[test]
    fn binary_arguments_may_hold_crlf_and_star() {
        let data = b"*2\r\n$3\r\nGET\r\n$4\r\n\r\n*1\r\n";
        let got = items(data).unwrap();
        let Item::Command(c) = got[0] else { panic!("expected a command") };
        assert_eq!(c.args().nth(1), Some(&b"\r\n*1"[..]));
    }

    fn error_at(data: &[u8]) -> (u64, bool) {
        let err = items(data).unwrap_err();
        (err.offset(), matches!(err.kind(), ErrorKind::Truncated { .. }))
    }

    #[test]
    fn every_truncation_is_reported_as_truncation() {
        let data = b"*2\r\n$3\r\nGET\r\n$10\r\n0123456789\r\n";
        for cut in 1..data.len() {
            let (_, truncated) = error_at(&data[..cut]);
            assert!(truncated, "cut at {cut} should be a truncation");
        }
    }

    #[test]
    fn format_errors_name_the_offset() {
        assert_eq!(error_at(b"*1\r\n$3\r\nGET\r\nxyz"), (13, false));
        assert_eq!(error_at(b"*0\r\n"), (1, false));
        assert_eq!(error_at(b"*-1\r\n"), (1, false));
        assert_eq!(error_at(b"*1\r\n$3\r\nGETX\r\n"), (11, false));
        assert_eq!(error_at(b"*1\r\n$3x\r\nGET\r\n"), (6, false));
        assert_eq!(error_at(b"*1\r\n%3\r\nGET\r\n"), (4, false));
        assert_eq!(error_at(&[b"#".as_slice(), &[b'a'; 2000]].concat()), (0, false));
        assert_eq!(error_at(b"*99999999999999999999999\r\n"), (1, false));
    }

    #[test]
    fn annotations_end_at_any_newline_and_an_unended_last_one_is_truncated() {
        let got = items(b"#TS:1\n#TS:2\r\n").unwrap();
        assert_eq!(got[0], Item::Annotation { offset: 0, text: b"TS:1" });
        assert_eq!(got[1], Item::Annotation { offset: 6, text: b"TS:2" });
        assert_eq!(error_at(b"#TS:1\n#TS:2"), (11, true));
    }

    #[test]
    fn digits_are_canonical() {
        assert_eq!(parse_digits(b"0"), Some(0));
        assert_eq!(parse_digits(b"123"), Some(123));
        assert_eq!(parse_digits(b""), None);
        assert_eq!(parse_digits(b"+1"), None);
        assert_eq!(parse_digits(b"99999999999999999999"), None);
    }
}

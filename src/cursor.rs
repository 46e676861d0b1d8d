//! A bounds-checked reader over a byte slice that knows its absolute file offset.
//!
//! Every parser reads through a [`Cursor`]; none of its methods can panic, and every failure is
//! an [`Error`] carrying the absolute offset where it happened.

use crate::error::{Error, ErrorKind, Result};

/// A position in a borrowed byte slice; `base` is the slice's absolute offset in its file.
#[derive(Clone, Debug)]
pub struct Cursor<'a> {
    data: &'a [u8],
    pos: usize,
    base: u64,
}

impl<'a> Cursor<'a> {
    /// A cursor at the start of `data`, which begins at absolute offset `base`.
    #[inline]
    pub fn new(data: &'a [u8], base: u64) -> Cursor<'a> {
        Cursor { data, pos: 0, base }
    }

    /// Absolute offset of the next byte.
    #[inline]
    pub fn offset(&self) -> u64 {
        self.base + self.pos as u64
    }

    /// Position relative to the start of the slice.
    #[inline]
    pub fn pos(&self) -> usize {
        self.pos
    }

    /// Bytes not yet read.
    #[inline]
    pub fn remaining(&self) -> usize {
        self.data.len() - self.pos
    }

    /// True when every byte has been read.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.pos == self.data.len()
    }

    /// The unread bytes.
    #[inline]
    pub fn rest(&self) -> &'a [u8] {
        &self.data[self.pos..]
    }

    /// The bytes from relative position `start` up to the current position.
    #[inline]
    pub fn since(&self, start: usize) -> &'a [u8] {
        &self.data[start.min(self.pos)..self.pos]
    }

    /// The whole underlying slice.
    #[inline]
    pub fn data(&self) -> &'a [u8] {
        self.data
    }

    /// An error of `kind` at the current offset.
    #[cold]
    pub fn error(&self, kind: ErrorKind) -> Error {
        Error::new(kind, self.offset())
    }

    /// An [`ErrorKind::Invalid`] error at absolute offset `offset`.
    #[cold]
    pub fn invalid_at(
        &self,
        offset: u64,
        what: &'static str,
        expected: &'static str,
        found: impl ToString,
    ) -> Error {
        Error::new(ErrorKind::Invalid { what, expected, found: found.to_string() }, offset)
    }

    /// An [`ErrorKind::Invalid`] error at the current offset.
    #[cold]
    pub fn invalid(&self, what: &'static str, expected: &'static str, found: impl ToString) -> Error {
        self.invalid_at(self.offset(), what, expected, found)
    }

    #[cold]
    #[inline(never)]
    fn truncated(&self, what: &'static str, needed: u64) -> Error {
        self.error(ErrorKind::Truncated { what, needed, available: self.remaining() as u64 })
    }

    /// Reads `n` bytes.
    #[inline]
    pub fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8]> {
        if n > self.remaining() {
            return Err(self.truncated(what, n as u64));
        }
        let bytes = &self.data[self.pos..self.pos + n];
        self.pos += n;
        Ok(bytes)
    }

    /// Reads a length taken from the file: fails before allocating or overflowing when fewer
    /// than `n` bytes remain.
    #[inline]
    pub fn take_len(&mut self, n: u64, what: &'static str) -> Result<&'a [u8]> {
        match usize::try_from(n) {
            Ok(n) if n <= self.remaining() => self.take(n, what),
            _ => Err(self.truncated(what, n)),
        }
    }

    /// Moves past `n` bytes of [`Cursor::rest`] (no further than its end).
    #[inline]
    pub fn advance(&mut self, n: usize) {
        self.pos += n.min(self.remaining());
    }

    /// Skips `n` bytes.
    #[inline]
    pub fn skip(&mut self, n: u64, what: &'static str) -> Result<()> {
        self.take_len(n, what).map(|_| ())
    }

    /// Reads a fixed-size array.
    #[inline]
    pub fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N]> {
        let bytes = self.take(N, what)?;
        let mut out = [0u8; N];
        out.copy_from_slice(bytes);
        Ok(out)
    }

    /// The next byte, without consuming it.
    #[inline]
    pub fn peek(&self) -> Option<u8> {
        self.data.get(self.pos).copied()
    }

    /// Reads one byte.
    #[inline]
    pub fn u8(&mut self, what: &'static str) -> Result<u8> {
        Ok(self.array::<1>(what)?[0])
    }

    /// Reads a little-endian u16.
    #[inline]
    pub fn u16_le(&mut self, what: &'static str) -> Result<u16> {
        self.array(what).map(u16::from_le_bytes)
    }

    /// Reads a little-endian u32.
    #[inline]
    pub fn u32_le(&mut self, what: &'static str) -> Result<u32> {
        self.array(what).map(u32::from_le_bytes)
    }

    /// Reads a big-endian u32.
    #[inline]
    pub fn u32_be(&mut self, what: &'static str) -> Result<u32> {
        self.array(what).map(u32::from_be_bytes)
    }

    /// Reads a little-endian u64.
    #[inline]
    pub fn u64_le(&mut self, what: &'static str) -> Result<u64> {
        self.array(what).map(u64::from_le_bytes)
    }

    /// Reads a big-endian u64.
    #[inline]
    pub fn u64_be(&mut self, what: &'static str) -> Result<u64> {
        self.array(what).map(u64::from_be_bytes)
    }

    /// Reads a little-endian i64.
    #[inline]
    pub fn i64_le(&mut self, what: &'static str) -> Result<i64> {
        self.array(what).map(i64::from_le_bytes)
    }

    /// Reads a little-endian IEEE-754 double.
    #[inline]
    pub fn f64_le(&mut self, what: &'static str) -> Result<f64> {
        self.array(what).map(f64::from_le_bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_are_bounds_checked_and_report_absolute_offsets() {
        let mut cur = Cursor::new(&[1, 2, 3], 100);
        assert_eq!(cur.u16_le("x").unwrap(), 0x0201);
        let err = cur.u16_le("pair").unwrap_err();
        assert_eq!(err.offset(), 102);
        assert!(err.to_string().contains("needed 2 bytes, 1 left"), "{err}");
        assert!(cur.take_len(u64::MAX, "huge").is_err());
        assert_eq!(cur.u8("last").unwrap(), 3);
        assert!(cur.is_empty());
    }
}

//! Byte strings sized for a keyspace that holds millions of them: up to 22 bytes inline, longer
//! ones in one allocation of exactly their length, and strings that commands grow in place
//! (`APPEND`, `SETRANGE`, `SETBIT`) in a vector with spare capacity. Always 24 bytes, with a
//! niche, so a [`super::Val`] holding one is 24 bytes too.

use std::borrow::Borrow;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;

/// Bytes up to this length are stored inline.
const INLINE: usize = 22;

/// An owned byte string (see the module documentation).
#[derive(Clone)]
pub struct SmallBytes(Repr);

#[derive(Clone)]
enum Repr {
    Inline {
        len: u8,
        bytes: [u8; INLINE],
    },
    Exact(Box<[u8]>),
    // Boxed so that the whole stays 24 bytes: growable strings are the rare case.
    #[allow(clippy::box_collection)]
    Growing(Box<Vec<u8>>),
}

impl SmallBytes {
    /// The empty string.
    pub const fn new() -> SmallBytes {
        SmallBytes(Repr::Inline { len: 0, bytes: [0; INLINE] })
    }

    /// The bytes.
    pub fn as_slice(&self) -> &[u8] {
        match &self.0 {
            Repr::Inline { len, bytes } => &bytes[..usize::from(*len)],
            Repr::Exact(b) => b,
            Repr::Growing(v) => v,
        }
    }

    /// The bytes as a vector to change in place; later growth is amortized.
    pub fn make_mut(&mut self) -> &mut Vec<u8> {
        if !matches!(self.0, Repr::Growing(_)) {
            self.0 = Repr::Growing(Box::new(self.as_slice().to_vec()));
        }
        match &mut self.0 {
            Repr::Growing(v) => v,
            _ => unreachable!("converted just above"),
        }
    }

    /// The bytes as an owned vector.
    pub fn into_vec(self) -> Vec<u8> {
        match self.0 {
            Repr::Growing(v) => *v,
            Repr::Exact(b) => b.into_vec(),
            Repr::Inline { .. } => self.as_slice().to_vec(),
        }
    }
}

impl Default for SmallBytes {
    fn default() -> SmallBytes {
        SmallBytes::new()
    }
}

impl From<&[u8]> for SmallBytes {
    fn from(b: &[u8]) -> SmallBytes {
        if b.len() <= INLINE {
            let mut bytes = [0; INLINE];
            bytes[..b.len()].copy_from_slice(b);
            SmallBytes(Repr::Inline { len: b.len() as u8, bytes })
        } else {
            SmallBytes(Repr::Exact(b.into()))
        }
    }
}

impl From<Vec<u8>> for SmallBytes {
    fn from(v: Vec<u8>) -> SmallBytes {
        if v.len() <= INLINE { SmallBytes::from(v.as_slice()) } else { SmallBytes(Repr::Exact(v.into())) }
    }
}

impl Deref for SmallBytes {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl Borrow<[u8]> for SmallBytes {
    fn borrow(&self) -> &[u8] {
        self.as_slice()
    }
}

impl AsRef<[u8]> for SmallBytes {
    fn as_ref(&self) -> &[u8] {
        self.as_slice()
    }
}

/// Hashes as the bytes do, so maps keyed by `SmallBytes` are searched with `&[u8]`.
impl Hash for SmallBytes {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_slice().hash(state);
    }
}

impl PartialEq for SmallBytes {
    fn eq(&self, other: &SmallBytes) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl Eq for SmallBytes {}

impl PartialEq<[u8]> for SmallBytes {
    fn eq(&self, other: &[u8]) -> bool {
        self.as_slice() == other
    }
}

impl PartialOrd for SmallBytes {
    fn partial_cmp(&self, other: &SmallBytes) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for SmallBytes {
    fn cmp(&self, other: &SmallBytes) -> std::cmp::Ordering {
        self.as_slice().cmp(other.as_slice())
    }
}

impl fmt::Debug for SmallBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{}\"", crate::error::escape_bytes(self.as_slice()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn every_form_holds_the_same_bytes() {
        for len in [0, 1, INLINE, INLINE + 1, 300] {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 7) as u8).collect();
            let from_slice = SmallBytes::from(bytes.as_slice());
            let from_vec = SmallBytes::from(bytes.clone());
            let mut grown = from_slice.clone();
            grown.make_mut();
            for s in [&from_slice, &from_vec, &grown] {
                assert_eq!(s.as_slice(), bytes.as_slice());
                assert_eq!(s, &from_slice);
            }
            assert_eq!(grown.into_vec(), bytes);
        }
    }

    #[test]
    fn growing_in_place_keeps_what_was_there() {
        let mut s = SmallBytes::from(&b"counter"[..]);
        s.make_mut().extend_from_slice(&[b'x'; 40]);
        s.make_mut().truncate(8);
        assert_eq!(s.as_slice(), b"counterx");
    }

    #[test]
    fn maps_keyed_by_small_bytes_are_searched_by_slices() {
        let set: HashSet<SmallBytes> =
            [&b"a"[..], &[b'z'; 40][..]].into_iter().map(SmallBytes::from).collect();
        assert!(set.contains(&b"a"[..]) && set.contains(&[b'z'; 40][..]) && !set.contains(&b"b"[..]));
    }

    #[test]
    fn stays_24_bytes_with_a_niche() {
        assert_eq!(size_of::<SmallBytes>(), 24);
        assert_eq!(size_of::<Option<SmallBytes>>(), 24);
    }
}

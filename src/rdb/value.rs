//! Decoded values: what a key holds, with strings borrowed from the file where possible.

use std::borrow::Cow;

use super::encoding::Kind;
use super::module::ModuleValue;
use super::stream::Stream;
use crate::vector_set::VectorSet;

/// One string of a value: borrowed from the input, owned (decompressed), or an integer whose
/// string form is its decimal text.
#[derive(Clone, Debug)]
pub enum Bytes<'a> {
    /// Bytes borrowed from the input.
    Borrowed(&'a [u8]),
    /// Bytes that had to be produced (LZF-decompressed data).
    Owned(Vec<u8>),
    /// An integer-encoded string.
    Int(i64),
}

impl Bytes<'_> {
    /// The string's bytes (integers as decimal text).
    pub fn as_cow(&self) -> Cow<'_, [u8]> {
        match self {
            Bytes::Borrowed(b) => Cow::Borrowed(b),
            Bytes::Owned(b) => Cow::Borrowed(b),
            Bytes::Int(i) => Cow::Owned(itoa::Buffer::new().format(*i).as_bytes().to_vec()),
        }
    }

    /// The string's bytes as an owned vector.
    pub fn to_vec(&self) -> Vec<u8> {
        self.as_cow().into_owned()
    }

    /// Calls `f` with the string's bytes, without allocating for integers.
    pub fn with_bytes<R>(&self, f: impl FnOnce(&[u8]) -> R) -> R {
        match self {
            Bytes::Borrowed(b) => f(b),
            Bytes::Owned(b) => f(b),
            Bytes::Int(i) => f(itoa::Buffer::new().format(*i).as_bytes()),
        }
    }

    /// Length of the string form in bytes.
    pub fn len(&self) -> usize {
        self.with_bytes(<[u8]>::len)
    }

    /// True for the empty string.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A copy that borrows nothing.
    pub fn into_owned(self) -> Bytes<'static> {
        match self {
            Bytes::Borrowed(b) => Bytes::Owned(b.to_vec()),
            Bytes::Owned(b) => Bytes::Owned(b),
            Bytes::Int(i) => Bytes::Int(i),
        }
    }
}

impl PartialEq for Bytes<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.as_cow() == other.as_cow()
    }
}

impl Eq for Bytes<'_> {}

/// One hash field with its value and optional absolute expiry (Unix ms).
#[derive(Clone, Debug, PartialEq)]
pub struct HashField<'a> {
    /// Field name.
    pub field: Bytes<'a>,
    /// Field value.
    pub value: Bytes<'a>,
    /// Absolute expiry of this field in Unix milliseconds, when it has one.
    pub expire_ms: Option<i64>,
}

impl HashField<'_> {
    /// A copy that borrows nothing.
    pub fn into_owned(self) -> HashField<'static> {
        HashField {
            field: self.field.into_owned(),
            value: self.value.into_owned(),
            expire_ms: self.expire_ms,
        }
    }
}

/// A decoded value.
#[derive(Clone, Debug, PartialEq)]
pub enum Value<'a> {
    /// A string.
    String(Bytes<'a>),
    /// List elements, head first.
    List(Vec<Bytes<'a>>),
    /// Set members, in file order.
    Set(Vec<Bytes<'a>>),
    /// Sorted-set members with scores, in file order.
    ZSet(Vec<(Bytes<'a>, f64)>),
    /// Hash fields, in file order.
    Hash(Vec<HashField<'a>>),
    /// A stream with its consumer groups.
    Stream(Box<Stream<'a>>),
    /// A module value, kept opaque.
    Module(ModuleValue<'a>),
    /// A vector set built by commands (never read from a file, which holds vector sets as
    /// module values).
    VectorSet(Cow<'a, VectorSet>),
}

impl Value<'_> {
    /// A copy that borrows nothing.
    pub fn into_owned(self) -> Value<'static> {
        let all = |v: Vec<Bytes<'_>>| v.into_iter().map(Bytes::into_owned).collect();
        match self {
            Value::String(s) => Value::String(s.into_owned()),
            Value::List(v) => Value::List(all(v)),
            Value::Set(v) => Value::Set(all(v)),
            Value::ZSet(v) => Value::ZSet(v.into_iter().map(|(m, s)| (m.into_owned(), s)).collect()),
            Value::Hash(v) => Value::Hash(v.into_iter().map(HashField::into_owned).collect()),
            Value::Stream(s) => Value::Stream(Box::new(s.into_owned())),
            Value::Module(m) => Value::Module(m.into_owned()),
            Value::VectorSet(v) => Value::VectorSet(Cow::Owned(v.into_owned())),
        }
    }

    /// The logical type.
    pub fn kind(&self) -> Kind {
        match self {
            Value::String(_) => Kind::String,
            Value::List(_) => Kind::List,
            Value::Set(_) => Kind::Set,
            Value::ZSet(_) => Kind::ZSet,
            Value::Hash(_) => Kind::Hash,
            Value::Stream(_) => Kind::Stream,
            Value::Module(_) | Value::VectorSet(_) => Kind::Module,
        }
    }
}

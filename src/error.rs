//! The crate's one error type: what went wrong, at which absolute byte offset, and while
//! reading which key.

use std::fmt;

/// Result alias used across the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A parse or I/O failure with the absolute byte offset where it was detected.
///
/// Boxed so that `Result<T>` stays one word wide on the hot paths.
pub struct Error {
    inner: Box<Inner>,
}

struct Inner {
    kind: ErrorKind,
    offset: u64,
    key: Option<Vec<u8>>,
}

/// What went wrong. Variants carry the evidence: the value found and what was expected.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ErrorKind {
    /// Reading or mapping a file failed.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// The input ended inside a structure.
    #[error("unexpected end of input reading {what}: needed {needed} bytes, {available} left")]
    Truncated {
        /// The structure being read.
        what: &'static str,
        /// Bytes the structure declares or needs.
        needed: u64,
        /// Bytes left in the enclosing input.
        available: u64,
    },
    /// A structure holds a value that is not allowed there.
    #[error("invalid {what}: expected {expected}, found {found}")]
    Invalid {
        /// The structure being read.
        what: &'static str,
        /// What a valid file holds here.
        expected: &'static str,
        /// What this file holds here.
        found: String,
    },
    /// The first bytes are not an RDB header.
    #[error("not an RDB file: expected magic REDIS or VALKEY, found {found:?}")]
    BadMagic {
        /// The first bytes, escaped.
        found: String,
    },
    /// The header names a version this build does not know.
    #[error(
        "unsupported RDB version {version} ({magic}); aoftool reads REDIS0001..REDIS0014 and VALKEY080..VALKEY081"
    )]
    UnsupportedVersion {
        /// `REDIS` or `VALKEY`.
        magic: &'static str,
        /// The version number in the header.
        version: u32,
    },
    /// A type code or opcode that no supported server writes in a file of this version.
    #[error("unsupported type {code}: {reason}")]
    UnsupportedType {
        /// The type byte.
        code: u8,
        /// Why it cannot be read.
        reason: &'static str,
    },
    /// The output format cannot hold something in the input (a writer refused it).
    #[error("{target} cannot hold {what}{hint}")]
    Unrepresentable {
        /// The output being written (`RDB 10 (Redis 7.0)`, `RESP`).
        target: String,
        /// What it cannot hold.
        what: String,
        /// How to proceed, starting with "; " (or empty).
        hint: &'static str,
    },
    /// A logged command the keyspace model cannot apply: unknown to it, or one a server would
    /// have rejected at this point (so the log and the model disagree).
    #[error("cannot apply {command}: {reason}")]
    Command {
        /// The command name as logged.
        command: String,
        /// Why (and in which file of several).
        reason: String,
    },
    /// The CRC-64 trailer does not match the file's contents.
    #[error("CRC-64 mismatch: stored {stored:#018x}, computed {computed:#018x}")]
    ChecksumMismatch {
        /// The checksum in the file's trailer.
        stored: u64,
        /// The checksum of the bytes read.
        computed: u64,
    },
}

impl Error {
    /// An error of `kind` detected at absolute byte `offset`.
    pub fn new(kind: ErrorKind, offset: u64) -> Error {
        Error { inner: Box::new(Inner { kind, offset, key: None }) }
    }

    /// Attaches the key being read when the error occurred (kept if one is already set).
    pub fn with_key(mut self, key: &[u8]) -> Error {
        if self.inner.key.is_none() {
            self.inner.key = Some(key.to_vec());
        }
        self
    }

    /// Moves the error to absolute `offset`: for errors found in decompressed data, whose
    /// positions are not offsets in the file.
    pub fn at(mut self, offset: u64) -> Error {
        self.inner.offset = offset;
        self
    }

    /// What went wrong.
    pub fn kind(&self) -> &ErrorKind {
        &self.inner.kind
    }

    /// Absolute byte offset in the input where the problem was detected.
    pub fn offset(&self) -> u64 {
        self.inner.offset
    }

    /// The key being read, when known.
    pub fn key(&self) -> Option<&[u8]> {
        self.inner.key.as_deref()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A writer's refusal of a record that has no position in its input names no offset.
        if matches!(self.inner.kind, ErrorKind::Unrepresentable { .. }) && self.inner.offset == 0 {
            write!(f, "{}", self.inner.kind)?;
        } else {
            write!(f, "offset {} ({:#x}): {}", self.inner.offset, self.inner.offset, self.inner.kind)?;
        }
        if let Some(key) = &self.inner.key {
            write!(f, " (while reading key \"{}\")", escape_bytes(key))?;
        }
        Ok(())
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.inner.kind {
            ErrorKind::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Error {
        Error::new(ErrorKind::Io(e), 0)
    }
}

/// Renders bytes for a message: printable ASCII as is, everything else as `\xNN`.
pub fn escape_bytes(bytes: &[u8]) -> String {
    bytes.escape_ascii().to_string()
}

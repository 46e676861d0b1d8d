//! Reading RDB files: header, top-level records, and lazily decoded values.
//!
//! Covers `REDIS0001`..`REDIS0014` (Redis 1.x to 8.8) and `VALKEY080`/`VALKEY081` (Valkey 9).
//! The layout follows `rdbLoadRioWithLoadingCtx` and `rdbLoadObject` in Redis's and Valkey's
//! `src/rdb.c`. Codes whose meaning depends on the vendor (types 22 and 23, opcode 243) are
//! resolved from the magic.

pub mod batch;
pub mod crc;
pub mod decode;
pub mod encoding;
pub mod intset;
pub mod listpack;
pub mod lzf;
pub mod module;
pub mod reader;
pub mod stream;
pub mod string;
pub mod value;
pub mod write;
pub mod ziplist;
pub mod zipmap;

pub use encoding::{Encoding, Kind};
pub use reader::{KeyEntry, Reader, Record};
pub use string::RdbStr;
pub use value::{Bytes, HashField, Value};

use crate::cursor::Cursor;
use crate::error::{ErrorKind, Result};

/// Which server family wrote the file; decides the meaning of vendor-specific codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Vendor {
    /// `REDIS` magic (also written by Valkey 7.2 and 8.x).
    Redis,
    /// `VALKEY` magic (Valkey 9.0 and later).
    Valkey,
}

/// The 9-byte file header: magic and format version.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// Server family named by the magic.
    pub vendor: Vendor,
    /// Format version (`REDIS0011` is 11, `VALKEY080` is 80).
    pub version: u32,
}

/// Highest `REDIS` version this build reads.
pub const MAX_REDIS_VERSION: u32 = 14;
/// Lowest and highest `VALKEY` versions this build reads.
pub const VALKEY_VERSIONS: std::ops::RangeInclusive<u32> = 80..=81;

/// Length of the header at the start of every RDB file.
pub const HEADER_LEN: usize = 9;

impl Header {
    /// Parses and validates the header at the cursor.
    pub fn read(cur: &mut Cursor<'_>) -> Result<Header> {
        let start = cur.offset();
        let Some(magic) = cur.rest().get(..HEADER_LEN) else {
            let rest = cur.rest();
            let is_prefix = |m: &[u8]| rest.starts_with(m) || m.starts_with(rest);
            if !rest.is_empty() && (is_prefix(b"REDIS") || is_prefix(b"VALKEY")) {
                let available = rest.len() as u64;
                return Err(cur.error(ErrorKind::Truncated { what: "RDB header", needed: 9, available }));
            }
            return Err(cur.error(ErrorKind::BadMagic { found: crate::error::escape_bytes(rest) }));
        };
        if magic.starts_with(b"VKCS") {
            return Err(cur.error(ErrorKind::UnsupportedType {
                code: magic[0],
                reason: "Valkey's LZ4-compressed RDB envelope (VKCS) is not supported yet",
            }));
        }
        let (vendor, digits, name) = if let Some(d) = magic.strip_prefix(b"REDIS") {
            (Vendor::Redis, d, "REDIS")
        } else if let Some(d) = magic.strip_prefix(b"VALKEY") {
            (Vendor::Valkey, d, "VALKEY")
        } else {
            return Err(cur.error(ErrorKind::BadMagic { found: crate::error::escape_bytes(magic) }));
        };
        let version = std::str::from_utf8(digits)
            .ok()
            .filter(|d| d.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|d| d.parse::<u32>().ok())
            .ok_or_else(|| {
                cur.invalid("RDB version", "decimal digits", crate::error::escape_bytes(digits))
            })?;
        let known = match vendor {
            Vendor::Redis => (1..=MAX_REDIS_VERSION).contains(&version),
            Vendor::Valkey => VALKEY_VERSIONS.contains(&version),
        };
        if !known {
            return Err(crate::error::Error::new(
                ErrorKind::UnsupportedVersion { magic: name, version },
                start,
            ));
        }
        cur.skip(HEADER_LEN as u64, "header")?;
        Ok(Header { vendor, version })
    }

    /// The magic as written: `REDIS` or `VALKEY`.
    pub fn magic(&self) -> &'static str {
        match self.vendor {
            Vendor::Redis => "REDIS",
            Vendor::Valkey => "VALKEY",
        }
    }

    /// The header as written: `REDIS0011`, `VALKEY080`.
    pub fn magic_and_version(&self) -> String {
        match self.vendor {
            Vendor::Redis => format!("REDIS{:04}", self.version),
            Vendor::Valkey => format!("VALKEY{:03}", self.version),
        }
    }

    /// True when the file ends with a CRC-64 trailer (RDB 5 and later).
    pub fn has_checksum(&self) -> bool {
        self.vendor == Vendor::Valkey || self.version >= 5
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(bytes: &[u8]) -> Result<Header> {
        Header::read(&mut Cursor::new(bytes, 0))
    }

    #[test]
    fn reads_every_known_magic() {
        assert_eq!(header(b"REDIS0001").unwrap().version, 1);
        assert_eq!(header(b"REDIS0014").unwrap().version, 14);
        let v = header(b"VALKEY080").unwrap();
        assert_eq!((v.vendor, v.version), (Vendor::Valkey, 80));
    }

    #[test]
    fn future_and_foreign_versions_are_named() {
        let err = header(b"REDIS0099").unwrap_err();
        assert!(err.to_string().contains("unsupported RDB version 99 (REDIS)"), "{err}");
        assert!(header(b"VALKEY079").is_err());
        assert!(header(b"REDIS00x1").is_err());
        assert!(matches!(header(b"RED").unwrap_err().kind(), ErrorKind::Truncated { .. }));
        assert!(matches!(header(b"REDIS001").unwrap_err().kind(), ErrorKind::Truncated { .. }));
        assert!(matches!(header(b"*1\r\n").unwrap_err().kind(), ErrorKind::BadMagic { .. }));
    }
}

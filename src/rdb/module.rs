//! Module values (type 7, `MODULE_2`) and module aux data, walked without the module.
//!
//! A module value is a 64-bit module id (9-character name and 10-bit encoding version), then
//! self-describing items until an end marker (`rdbLoadCheckModuleValue`).

use super::string::{RdbStr, read_len};
use crate::cursor::Cursor;
use crate::error::Result;

const OPCODE_EOF: u64 = 0;
const OPCODE_SINT: u64 = 1;
const OPCODE_UINT: u64 = 2;
const OPCODE_FLOAT: u64 = 3;
const OPCODE_DOUBLE: u64 = 4;
const OPCODE_STRING: u64 = 5;

const NAME_CHARSET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// A module value kept opaque: the module's name and encoding version, and the serialized
/// items (including their end marker) as bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModuleValue<'a> {
    /// The 64-bit module type id as stored.
    pub id: u64,
    /// The module-defined items, exactly as stored, end marker included.
    pub payload: &'a [u8],
}

impl<'a> ModuleValue<'a> {
    /// Reads a module id and walks the items after it.
    pub fn read(cur: &mut Cursor<'a>) -> Result<ModuleValue<'a>> {
        let id = read_len(cur)?;
        let payload = walk_items(cur)?;
        Ok(ModuleValue { id, payload })
    }

    /// The module type name (9 characters).
    pub fn name(&self) -> String {
        module_name(self.id)
    }

    /// The module's encoding version.
    pub fn encver(&self) -> u64 {
        self.id & 1023
    }
}

/// Decodes the 9-character module type name packed in the high 54 bits of `id`.
pub fn module_name(id: u64) -> String {
    (0..9).map(|i| char::from(NAME_CHARSET[((id >> (64 - 6 * (i + 1))) & 63) as usize])).collect()
}

/// Walks module items up to and including the end marker; returns the bytes walked.
pub fn walk_items<'a>(cur: &mut Cursor<'a>) -> Result<&'a [u8]> {
    let start = cur.pos();
    loop {
        let at = cur.offset();
        match read_len(cur)? {
            OPCODE_EOF => return Ok(cur.since(start)),
            OPCODE_SINT | OPCODE_UINT => {
                read_len(cur)?;
            }
            OPCODE_FLOAT => cur.skip(4, "module float")?,
            OPCODE_DOUBLE => cur.skip(8, "module double")?,
            OPCODE_STRING => RdbStr::skip(cur)?,
            other => return Err(cur.invalid_at(at, "module item opcode", "0 to 5", other)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_items() {
        // "hellotype" with encver 0, as module ids are built: 6 bits per character.
        let id = b"hellotype"
            .iter()
            .fold(0u64, |acc, c| acc << 6 | NAME_CHARSET.iter().position(|x| x == c).unwrap() as u64)
            << 10;
        assert_eq!(module_name(id), "hellotype");
        let items = [2u8, 5, 5, 1, b'x', 4, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f, 3, 0, 0, 0x80, 0x3f, 0];
        let mut cur = Cursor::new(&items, 0);
        assert_eq!(walk_items(&mut cur).unwrap().len(), items.len());
        assert!(walk_items(&mut Cursor::new(&[9], 0)).is_err());
        assert!(walk_items(&mut Cursor::new(&[2, 5], 0)).is_err());
    }
}

//! Module values (type 7, `MODULE_2`) and module aux data, walked without the module.
//!
//! A module value is a 64-bit module id (9-character name and 10-bit encoding version), then
//! self-describing items until an end marker (`rdbLoadCheckModuleValue`).

use std::borrow::Cow;

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
    pub payload: Cow<'a, [u8]>,
}

impl<'a> ModuleValue<'a> {
    /// Reads a module id and walks the items after it.
    pub fn read(cur: &mut Cursor<'a>) -> Result<ModuleValue<'a>> {
        let id = read_len(cur)?;
        let payload = walk_items(cur)?;
        Ok(ModuleValue { id, payload: Cow::Borrowed(payload) })
    }

    /// A copy that borrows nothing.
    pub fn into_owned(self) -> ModuleValue<'static> {
        ModuleValue { id: self.id, payload: Cow::Owned(self.payload.into_owned()) }
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

/// The 64-bit module type id of a 9-character `name` (characters `A-Za-z0-9-_`) and encoding
/// version `encver` (0 to 1023): the inverse of [`module_name`] and [`ModuleValue::encver`].
/// `None` when the name or version does not fit.
pub fn module_id(name: &str, encver: u64) -> Option<u64> {
    if name.len() != 9 || encver > 1023 {
        return None;
    }
    let name_bits = name
        .bytes()
        .try_fold(0u64, |bits, c| Some(bits << 6 | NAME_CHARSET.iter().position(|&x| x == c)? as u64))?;
    Some(name_bits << 10 | encver)
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

    #[test]
    fn module_id_inverts_name_and_encver() {
        assert_eq!(module_id("AAAAAAAAA", 5), Some(5));
        assert_eq!(module_id("BAAAAAAAA", 0), Some(1 << 58));
        assert_eq!(module_id("AAAAAAAA-", 1), Some(62 << 10 | 1));
        assert_eq!(module_id("_________", 1023), Some(u64::MAX));
        for id in [0, u64::MAX, 0x0123_4567_89ab_cdef, 0xfedc_ba98_7654_3210] {
            assert_eq!(module_id(&module_name(id), id & 1023), Some(id));
        }
        assert_eq!(module_id("hellotype", 1024), None);
        assert_eq!(module_id("hellotyp", 0), None);
        assert_eq!(module_id("hellotypes", 0), None);
        assert_eq!(module_id("hello typ", 0), None);
        assert_eq!(module_id("hellot\u{e9}p", 0), None);
    }
}

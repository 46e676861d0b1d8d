//! CRC-64 as Redis computes it (`crc64(0, …)`, Jones polynomial, reflected), via crc-fast.

use crc_fast::{CrcAlgorithm, Digest};

/// CRC-64/REDIS of `bytes`.
pub fn crc64(bytes: &[u8]) -> u64 {
    crc_fast::checksum(CrcAlgorithm::Crc64Redis, bytes)
}

/// An incremental CRC-64/REDIS, for output written piece by piece.
pub struct Crc64(Digest);

impl Default for Crc64 {
    fn default() -> Self {
        Crc64(Digest::new(CrcAlgorithm::Crc64Redis))
    }
}

impl Crc64 {
    /// Adds bytes to the checksum.
    pub fn update(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    /// The checksum of every byte added so far.
    pub fn value(&self) -> u64 {
        self.0.finalize()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_redis_test_vector() {
        assert_eq!(crc64(b"123456789"), 0xe9c6d914c4b8d9ca);
        let mut inc = Crc64::default();
        inc.update(b"1234");
        inc.update(b"56789");
        assert_eq!(inc.value(), 0xe9c6d914c4b8d9ca);
    }
}

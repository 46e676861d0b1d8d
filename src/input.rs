//! Opening inputs: a memory-mapped file, or standard input read into memory.
//!
//! This is the crate's only `unsafe` code.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use memmap2::Mmap;

/// The bytes of one input file, borrowed by every parser.
pub enum Input {
    /// A read-only memory map of a file.
    Map(Mmap),
    /// Bytes held on the heap (standard input, or files that cannot be mapped).
    Heap(Vec<u8>),
}

impl Input {
    /// Opens `path`, or standard input when `path` is `-`.
    ///
    /// Regular files are memory-mapped. The file must not be truncated by another process while
    /// the map is alive: the operating system would then deliver SIGBUS on access. Empty files
    /// and files that cannot be mapped (pipes, some special files) are read into memory.
    pub fn open(path: &Path) -> io::Result<Input> {
        if path.as_os_str() == "-" {
            return Input::read_all(io::stdin().lock());
        }
        let file = File::open(path)?;
        let meta = file.metadata()?;
        if !meta.is_file() || meta.len() == 0 {
            return Input::read_all(file);
        }
        // SAFETY: the map is read-only and private to this process. The documented contract
        // (the file is not truncated while mapped) is what every mmap-based reader relies on;
        // commands that rewrite files never modify a file that is mapped, they write a new one.
        let map = unsafe { Mmap::map(&file)? };
        #[cfg(unix)]
        let _ = map.advise(memmap2::Advice::Sequential);
        Ok(Input::Map(map))
    }

    /// Reads a whole stream into memory.
    pub fn read_all(mut reader: impl Read) -> io::Result<Input> {
        let mut bytes = Vec::new();
        reader.read_to_end(&mut bytes)?;
        Ok(Input::Heap(bytes))
    }

    /// The input's bytes.
    pub fn bytes(&self) -> &[u8] {
        match self {
            Input::Map(map) => map,
            Input::Heap(bytes) => bytes,
        }
    }
}

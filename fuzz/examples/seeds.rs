//! Builds seed corpora for every fuzz target from real RDB files.
//!
//! `cargo run --release --example seeds -- <corpus dir> <file or dir>...`
//!
//! Writes `<corpus dir>/rdb/` (the files themselves) and, for the blob decoders, every
//! listpack, ziplist, intset and zipmap found in their values, and every LZF string as the
//! `lzf` target reads it (8-byte little-endian length, then the compressed bytes); and
//! `<corpus dir>/manifest/` from every `*.manifest` file. Files are named by a hash of their
//! contents, so running it twice adds nothing.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use aoftool::cursor::Cursor;
use aoftool::rdb::string::read_len;
use aoftool::rdb::{Encoding, RdbStr, Reader, Record};

struct Seeds {
    dir: PathBuf,
    written: std::collections::BTreeMap<&'static str, usize>,
}

impl Seeds {
    fn add(&mut self, target: &'static str, bytes: &[u8]) {
        let mut h = DefaultHasher::new();
        bytes.hash(&mut h);
        let dir = self.dir.join(target);
        std::fs::create_dir_all(&dir).expect("creating a corpus directory");
        let path = dir.join(format!("{:016x}", h.finish()));
        if !path.exists() {
            std::fs::write(&path, bytes).expect("writing a seed");
            *self.written.entry(target).or_default() += 1;
        }
    }

    /// Adds `s` to the `lzf` corpus when compressed; returns its bytes when raw.
    fn string<'a>(&mut self, s: RdbStr<'a>) -> Option<&'a [u8]> {
        match s {
            RdbStr::Raw(b) => Some(b),
            RdbStr::Int(_) => None,
            RdbStr::Lzf { compressed, len, .. } => {
                let mut seed = len.to_le_bytes().to_vec();
                seed.extend_from_slice(compressed);
                self.add("lzf", &seed);
                None
            }
        }
    }

    /// Reads one string at `cur` and files it under `target` (when not LZF-compressed).
    fn blob(&mut self, cur: &mut Cursor<'_>, target: &'static str) -> Option<()> {
        let s = RdbStr::read(cur).ok()?;
        if let RdbStr::Lzf { .. } = s {
            // Compressed blobs are seeds for the blob decoder too, once decompressed.
            if let Ok(b) = s.decode() {
                self.add(target, &b.to_vec());
            }
        }
        if let Some(b) = self.string(s) {
            self.add(target, b);
        }
        Some(())
    }

    fn value(&mut self, enc: Encoding, raw: &[u8]) -> Option<()> {
        use Encoding::*;
        let mut cur = Cursor::new(raw, 0);
        match enc {
            String => {
                self.string(RdbStr::read(&mut cur).ok()?);
            }
            HashZipmap => self.blob(&mut cur, "zipmap")?,
            ListZiplist | ZSetZiplist | HashZiplist => self.blob(&mut cur, "ziplist")?,
            SetIntset => self.blob(&mut cur, "intset")?,
            HashListpack | ZSetListpack | SetListpack | HashListpackExPreGa => {
                self.blob(&mut cur, "listpack")?
            }
            HashListpackEx => {
                cur.skip(8, "minimum expiry").ok()?;
                self.blob(&mut cur, "listpack")?
            }
            ListQuicklist => {
                for _ in 0..read_len(&mut cur).ok()? {
                    self.blob(&mut cur, "ziplist")?;
                }
            }
            ListQuicklist2 => {
                for _ in 0..read_len(&mut cur).ok()? {
                    match read_len(&mut cur).ok()? {
                        2 => self.blob(&mut cur, "listpack")?,
                        _ => {
                            self.string(RdbStr::read(&mut cur).ok()?);
                        }
                    }
                }
            }
            StreamListpacks | StreamListpacks2 | StreamListpacks3 | StreamListpacks4 | StreamListpacks5 => {
                for _ in 0..read_len(&mut cur).ok()? {
                    RdbStr::read(&mut cur).ok()?;
                    self.blob(&mut cur, "listpack")?;
                }
            }
            _ => {}
        }
        Some(())
    }

    fn file(&mut self, path: &Path) {
        let Ok(data) = std::fs::read(path) else { return };
        if path.extension().is_some_and(|e| e == "manifest") {
            self.add("manifest", &data);
            return;
        }
        self.add("rdb", &data);
        let Ok(reader) = Reader::new(&data) else { return };
        for record in reader {
            match record {
                Ok(Record::Key(entry)) => {
                    self.string(entry.key);
                    self.value(entry.encoding, entry.raw);
                }
                Ok(_) => {}
                Err(_) => break,
            }
        }
    }
}

fn input_files(path: &Path, out: &mut Vec<PathBuf>) {
    if path.is_dir() {
        let mut entries: Vec<_> =
            std::fs::read_dir(path).into_iter().flatten().flatten().map(|e| e.path()).collect();
        entries.sort();
        for entry in entries {
            input_files(&entry, out);
        }
    } else if path.extension().is_some_and(|e| e == "rdb" || e == "manifest") {
        out.push(path.to_path_buf());
    }
}

fn main() {
    let mut args = std::env::args_os().skip(1);
    let Some(dir) = args.next() else {
        eprintln!("usage: seeds <corpus dir> <file or dir>...");
        std::process::exit(2);
    };
    let mut files = Vec::new();
    for arg in args {
        input_files(Path::new(&arg), &mut files);
    }
    let mut seeds = Seeds { dir: dir.into(), written: Default::default() };
    for file in &files {
        seeds.file(file);
    }
    eprintln!("{} files read; new seeds: {:?}", files.len(), seeds.written);
}

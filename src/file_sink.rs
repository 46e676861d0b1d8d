//! Writing a large file on a thread of its own, past the page cache where the filesystem allows.
//!
//! A [`FileSink`] copies what it is given into a few recycled chunk buffers aligned for direct
//! I/O and hands each full chunk to a writer thread, so that formatting and the write system
//! calls overlap. On Linux the file is switched to `O_DIRECT`: chunks go from those buffers to
//! the device without being copied into the page cache (for a gigabyte of output that copy,
//! into freshly allocated cache pages, costs seconds of system time). Where the filesystem
//! refuses direct I/O (tmpfs on older kernels, some network filesystems) the sink falls back to
//! ordinary writes at the same offset and nothing changes but the speed. The unaligned tail is
//! written without `O_DIRECT` by [`FileSink::finish`], which then syncs the file.

use std::fs::File;
use std::io::{self, Write};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

/// Bytes per chunk handed to the writer thread (a multiple of [`ALIGN`]).
const CHUNK: usize = 4 << 20;

/// Alignment of buffers, offsets and lengths for direct I/O: the largest logical block size in
/// common use.
const ALIGN: usize = 4096;

/// Chunk buffers in circulation: one being filled, one being written, one queued.
const BUFFERS: usize = 3;

/// A [`CHUNK`]-byte buffer whose start is [`ALIGN`]-aligned.
struct AlignedChunk {
    storage: Vec<u8>,
    start: usize,
}

impl AlignedChunk {
    fn new() -> AlignedChunk {
        let storage = vec![0; CHUNK + ALIGN];
        let start = storage.as_ptr().align_offset(ALIGN);
        AlignedChunk { storage, start }
    }

    fn bytes(&self) -> &[u8] {
        &self.storage[self.start..self.start + CHUNK]
    }

    fn bytes_mut(&mut self) -> &mut [u8] {
        &mut self.storage[self.start..self.start + CHUNK]
    }
}

/// A chunk and how many of its bytes to write.
struct Filled {
    chunk: AlignedChunk,
    len: usize,
}

/// A file written through a writer thread (see the module documentation).
///
/// Dropping a sink without [`FileSink::finish`] stops the writer and leaves the file partly
/// written; callers write to temporary files that are discarded then.
pub struct FileSink {
    current: AlignedChunk,
    filled: usize,
    to_writer: Option<SyncSender<Filled>>,
    free: Receiver<AlignedChunk>,
    writer: Option<JoinHandle<io::Result<File>>>,
}

impl FileSink {
    /// A sink writing `file` from its current position, which must be 0 or a multiple of 4096
    /// for direct I/O to be used (it is then tried; ordinary writes otherwise).
    ///
    /// # Errors
    /// The writer thread could not be started.
    pub fn new(file: File) -> io::Result<FileSink> {
        let (to_writer, queued) = sync_channel::<Filled>(1);
        let (recycle, free) = sync_channel(BUFFERS);
        for _ in 1..BUFFERS {
            recycle.send(AlignedChunk::new()).expect("the receiver is alive");
        }
        let writer = std::thread::Builder::new()
            .name("aoftool-writer".into())
            .spawn(move || write_chunks(file, &queued, &recycle))?;
        Ok(FileSink {
            current: AlignedChunk::new(),
            filled: 0,
            to_writer: Some(to_writer),
            free,
            writer: Some(writer),
        })
    }

    /// Writes everything still buffered, waits for the writer, and syncs the file to disk.
    ///
    /// # Errors
    /// The first write or sync failure.
    pub fn finish(mut self) -> io::Result<File> {
        let tail = std::mem::replace(&mut self.current, AlignedChunk { storage: Vec::new(), start: 0 });
        let len = std::mem::take(&mut self.filled);
        if len > 0 {
            self.hand_over(Filled { chunk: tail, len })?;
        }
        self.to_writer = None;
        let file = self.join_writer()?;
        file.sync_all()?;
        Ok(file)
    }

    /// Queues a chunk for the writer; a writer that has stopped reports its error.
    fn hand_over(&mut self, filled: Filled) -> io::Result<()> {
        let sent = self.to_writer.as_ref().map(|to_writer| to_writer.send(filled).is_ok());
        if sent == Some(true) { Ok(()) } else { Err(self.writer_failure()) }
    }

    /// The writer's result, once it has stopped.
    fn join_writer(&mut self) -> io::Result<File> {
        match self.writer.take().map(JoinHandle::join) {
            Some(Ok(result)) => result,
            Some(Err(_)) => Err(io::Error::other("the writer thread panicked")),
            None => Err(io::Error::other("the output was already finished or failed")),
        }
    }

    /// Why the writer stopped early.
    fn writer_failure(&mut self) -> io::Error {
        self.to_writer = None;
        match self.join_writer() {
            Err(e) => e,
            Ok(_) => io::Error::other("the writer thread stopped early"),
        }
    }
}

impl Write for FileSink {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let n = data.len().min(CHUNK - self.filled);
        self.current.bytes_mut()[self.filled..self.filled + n].copy_from_slice(&data[..n]);
        self.filled += n;
        if self.filled == CHUNK {
            let next = match self.free.recv() {
                Ok(chunk) => chunk,
                Err(_) => return Err(self.writer_failure()),
            };
            let full = std::mem::replace(&mut self.current, next);
            self.filled = 0;
            self.hand_over(Filled { chunk: full, len: CHUNK })?;
        }
        Ok(n)
    }

    /// Does nothing: the partial chunk can only be written as the file's tail, by
    /// [`FileSink::finish`].
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The writer thread: writes queued chunks in order and returns them for reuse, until the sink
/// hangs up or a write fails.
fn write_chunks(
    mut file: File,
    queued: &Receiver<Filled>,
    recycle: &SyncSender<AlignedChunk>,
) -> io::Result<File> {
    let mut direct = direct_io::enable(&file);
    for Filled { chunk, len } in queued {
        let bytes = &chunk.bytes()[..len];
        let aligned = if direct { len - len % ALIGN } else { len };
        write_all(&mut file, &bytes[..aligned], &mut direct)?;
        if aligned < len {
            direct_io::disable(&file)?;
            direct = false;
            file.write_all(&bytes[aligned..])?;
        }
        // The sink stops taking buffers only when it is done.
        recycle.send(chunk).ok();
    }
    Ok(file)
}

/// `write_all`, leaving direct I/O for ordinary writes if the filesystem refuses it.
fn write_all(file: &mut File, mut bytes: &[u8], direct: &mut bool) -> io::Result<()> {
    while !bytes.is_empty() {
        match file.write(bytes) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => bytes = &bytes[n..],
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if *direct && direct_io::refused(&e) => {
                direct_io::disable(file)?;
                *direct = false;
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(target_os = "linux")]
mod direct_io {
    use std::fs::File;
    use std::io;

    use rustix::fs::{OFlags, fcntl_getfl, fcntl_setfl};

    /// Switches `file` to direct I/O; false where that is refused.
    pub fn enable(file: &File) -> bool {
        fcntl_getfl(file).and_then(|flags| fcntl_setfl(file, flags | OFlags::DIRECT)).is_ok()
    }

    /// Switches `file` back to ordinary writes.
    pub fn disable(file: &File) -> io::Result<()> {
        Ok(fcntl_setfl(file, fcntl_getfl(file)? - OFlags::DIRECT)?)
    }

    /// Whether a write failed because the filesystem does not take direct I/O here.
    pub fn refused(e: &io::Error) -> bool {
        e.raw_os_error() == Some(rustix::io::Errno::INVAL.raw_os_error())
    }
}

#[cfg(not(target_os = "linux"))]
mod direct_io {
    use std::fs::File;
    use std::io;

    pub fn enable(_: &File) -> bool {
        false
    }

    pub fn disable(_: &File) -> io::Result<()> {
        Ok(())
    }

    pub fn refused(_: &io::Error) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Seek};

    /// Bytes whose every position differs from its neighbours in a chunk-sized window.
    fn pattern(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i % 251) as u8 ^ (i / 4099) as u8).collect()
    }

    fn round_trip(len: usize, piece: usize) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out");
        let data = pattern(len);
        let mut sink = FileSink::new(File::create(&path).unwrap()).unwrap();
        for part in data.chunks(piece) {
            sink.write_all(part).unwrap();
        }
        let mut file = sink.finish().unwrap();
        assert_eq!(file.stream_position().unwrap(), len as u64);
        let mut back = Vec::new();
        File::open(&path).unwrap().read_to_end(&mut back).unwrap();
        assert!(back == data, "{len} bytes in pieces of {piece} came back different");
    }

    #[test]
    fn writes_every_length_around_chunk_and_block_edges() {
        for len in [0, 1, ALIGN - 1, ALIGN, ALIGN + 1, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK + ALIGN + 7] {
            round_trip(len, 1 << 16);
        }
        round_trip(CHUNK + 3, 7919);
        round_trip(3 * CHUNK + 5, 3 * CHUNK + 5);
    }

    /// Whether the filesystem of `dir` takes an aligned direct write.
    #[cfg(target_os = "linux")]
    fn takes_direct_writes(dir: &std::path::Path) -> bool {
        let Ok(mut probe) = File::create(dir.join("probe")) else { return false };
        let chunk = AlignedChunk::new();
        direct_io::enable(&probe) && probe.write_all(&chunk.bytes()[..ALIGN]).is_ok()
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn writes_whole_chunks_past_the_page_cache_where_the_filesystem_allows() {
        let dir = tempfile::tempdir().unwrap();
        if !takes_direct_writes(dir.path()) {
            eprintln!("skipping: {} takes no direct writes", dir.path().display());
            return;
        }
        let mut sink = FileSink::new(File::create(dir.path().join("out")).unwrap()).unwrap();
        sink.write_all(&pattern(2 * CHUNK)).unwrap();
        // Whole chunks leave no tail to write without O_DIRECT, so the flag is still on.
        let file = sink.finish().unwrap();
        assert!(rustix::fs::fcntl_getfl(&file).unwrap().contains(rustix::fs::OFlags::DIRECT));
    }

    #[test]
    fn reports_a_write_failure() {
        let dir = tempfile::tempdir().unwrap();
        let read_only =
            File::create(dir.path().join("f")).and_then(|_| File::open(dir.path().join("f"))).unwrap();
        let mut sink = FileSink::new(read_only).unwrap();
        let mut result = Ok(());
        for _ in 0..BUFFERS + 2 {
            result = result.and_then(|()| sink.write_all(&vec![1; CHUNK]));
        }
        let err = result.and_then(|()| sink.finish().map(drop)).unwrap_err();
        assert!(err.raw_os_error().is_some(), "the system's error comes through: {err}");
    }

    #[test]
    fn falls_back_to_ordinary_writes_at_an_unaligned_offset() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"abc").unwrap();
        let mut file = std::fs::OpenOptions::new().append(true).open(&path).unwrap();
        file.seek(std::io::SeekFrom::End(0)).unwrap();
        let mut sink = FileSink::new(file).unwrap();
        let data = pattern(2 * CHUNK + 11);
        sink.write_all(&data).unwrap();
        sink.finish().unwrap();
        let back = std::fs::read(&path).unwrap();
        assert!(back[..3] == *b"abc" && back[3..] == data[..]);
    }
}

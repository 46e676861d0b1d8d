//! Where command output goes: standard output, or a file replaced atomically.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use aoftool::file_sink::FileSink;
use tempfile::NamedTempFile;

/// Standard output's buffer size. Rendered batches are usually larger and then bypass the
/// buffer, so that output is not copied a second time; small writes (headers, reports) are
/// still gathered.
const BUFFER: usize = 1 << 20;

/// A destination that becomes visible only when complete.
pub enum Output {
    /// Standard output.
    Stdout(BufWriter<io::Stdout>),
    /// A temporary file next to `path`, written through a [`FileSink`] and renamed over `path`
    /// by [`Output::finish`].
    File { sink: FileSink, tmp: NamedTempFile, path: PathBuf },
}

impl Output {
    /// Standard output for `None` or `-`, else a new file at `path` (written atomically).
    pub fn create(path: Option<&Path>) -> anyhow::Result<Output> {
        match path {
            None => Ok(Output::Stdout(BufWriter::with_capacity(BUFFER, io::stdout()))),
            Some(p) if p.as_os_str() == "-" => Output::create(None),
            Some(p) => {
                let dir = p.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
                let tmp =
                    new_file_in(dir).with_context(|| format!("creating a file in {}", dir.display()))?;
                let sink = FileSink::new(tmp.reopen()?)?;
                Ok(Output::File { sink, tmp, path: p.to_path_buf() })
            }
        }
    }

    /// Flushes, syncs and (for files) renames the output into place.
    pub fn finish(self) -> anyhow::Result<()> {
        match self {
            Output::Stdout(mut w) => Ok(w.flush()?),
            Output::File { sink, tmp, path } => {
                sink.finish()?;
                tmp.persist(&path).with_context(|| format!("renaming output into {}", path.display()))?;
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    File::open(dir)?.sync_all()?;
                }
                Ok(())
            }
        }
    }
}

impl Write for Output {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Output::Stdout(w) => w.write(buf),
            Output::File { sink, .. } => sink.write(buf),
        }
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        match self {
            Output::Stdout(w) => w.write_all(buf),
            Output::File { sink, .. } => sink.write_all(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Output::Stdout(w) => w.flush(),
            Output::File { sink, .. } => sink.flush(),
        }
    }
}

/// A temporary file in `dir` created with mode 0666 less the umask, like any new file (temporary
/// files default to 0600, which would hide the output from other users).
fn new_file_in(dir: &Path) -> io::Result<NamedTempFile> {
    let mut builder = tempfile::Builder::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o666));
    }
    builder.prefix(".aoftool-").suffix(".tmp").tempfile_in(dir)
}

/// True when the error chain holds a broken pipe (the reader went away: not a failure).
pub fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<io::Error>().is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
            || c.downcast_ref::<aoftool::Error>().is_some_and(|err| {
                matches!(err.kind(), aoftool::ErrorKind::Io(io) if io.kind() == io::ErrorKind::BrokenPipe)
            })
    })
}

//! Replacing a file without ever leaving a mix of old and new content.
//!
//! The new content goes to a temporary file in the same directory, is synced, and is renamed over
//! the original; then the directory is synced. A backup of the original is kept as a hard link
//! (no copy) unless disabled. If the original changed since it was read, nothing is replaced.

use std::fs::{self, File, Metadata};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::file_sink::FileSink;

/// The identity of a file's content as seen when it was read: size and modification time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Snapshot {
    len: u64,
    modified: Option<SystemTime>,
}

impl Snapshot {
    /// The snapshot of `path` now.
    pub fn of(path: &Path) -> io::Result<Snapshot> {
        Ok(Snapshot::from_metadata(&fs::metadata(path)?))
    }

    fn from_metadata(meta: &Metadata) -> Snapshot {
        Snapshot { len: meta.len(), modified: meta.modified().ok() }
    }
}

/// Replaces `path` with the bytes `write` produces.
///
/// `seen` is the snapshot taken when the original was read; if the file differs now (a server
/// still appending, say), nothing is replaced and an error says so. With `backup`, the original
/// stays reachable at the returned path (`<name>.bak`, or `<name>.bak.N` if that exists).
pub fn replace(
    path: &Path,
    seen: Snapshot,
    backup: bool,
    write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> io::Result<Option<PathBuf>> {
    let dir = parent(path);
    let tmp = tempfile::Builder::new().prefix(".aoftool-").suffix(".tmp").tempfile_in(dir)?;
    keep_access(path, tmp.as_file())?;
    let mut out = FileSink::new(tmp.reopen()?)?;
    write(&mut out)?;
    out.finish()?;
    if Snapshot::of(path)? != seen {
        return Err(io::Error::other(format!(
            "{} changed while it was being repaired (is a server still writing it?); left untouched",
            path.display()
        )));
    }
    let backup_path = if backup { Some(link_backup(path)?) } else { None };
    tmp.persist(path).map_err(|e| e.error)?;
    sync_dir(dir)?;
    Ok(backup_path)
}

/// Gives `new` the permissions of the file at `path` (a temporary file is created 0600) and, where
/// allowed, its owner and group: a server running as another user must still read and append
/// the replaced file.
fn keep_access(path: &Path, new: &File) -> io::Result<()> {
    let meta = fs::metadata(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        // Only root may give a file away; anyone else already owns it, or cannot (ignored).
        std::os::unix::fs::fchown(new, Some(meta.uid()), Some(meta.gid())).ok();
    }
    new.set_permissions(meta.permissions())
}

fn parent(path: &Path) -> &Path {
    path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."))
}

/// Hard-links `path` to the first free `<path>.bak[.N]` name.
fn link_backup(path: &Path) -> io::Result<PathBuf> {
    let base = path.as_os_str().to_owned();
    for n in 0..1000 {
        let mut name = base.clone();
        name.push(if n == 0 { ".bak".to_string() } else { format!(".bak.{n}") });
        let candidate = PathBuf::from(name);
        match fs::hard_link(path, &candidate) {
            Ok(()) => return Ok(candidate),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::other(format!("no free backup name next to {}", path.display())))
}

/// Syncs a directory so that a rename in it is durable.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_keeps_a_backup_and_refuses_changed_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("appendonly.aof");
        fs::write(&path, b"old content").unwrap();
        let seen = Snapshot::of(&path).unwrap();
        let backup = replace(&path, seen, true, |w| w.write_all(b"new")).unwrap().unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"new");
        assert_eq!(fs::read(&backup).unwrap(), b"old content");
        let seen = Snapshot::of(&path).unwrap();
        let second = replace(&path, seen, true, |w| w.write_all(b"newer")).unwrap().unwrap();
        assert_ne!(second, backup);
        let seen = Snapshot::of(&path).unwrap();
        fs::write(&path, b"appended by a server").unwrap();
        let err = replace(&path, seen, false, |w| w.write_all(b"x")).unwrap_err();
        assert!(err.to_string().contains("changed while"), "{err}");
        assert_eq!(fs::read(&path).unwrap(), b"appended by a server");
        let leftovers = fs::read_dir(dir.path())
            .unwrap()
            .filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().starts_with(".aoftool-"));
        assert_eq!(leftovers.count(), 0);
    }
}

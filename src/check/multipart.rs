//! Checking a Redis 7+ multi-part AOF: the manifest, then the base and incr files in load order.

use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use super::{FileReport, check_file};
use crate::aof::commands::Dialect;
use crate::aof::manifest::{FileType, Manifest, ManifestEntry};
use crate::error::{Error, ErrorKind};
use crate::input::Input;
use crate::safe_write::Snapshot;

/// One file the manifest lists for loading, with its findings.
pub struct Part {
    /// The manifest line.
    pub entry: ManifestEntry,
    /// Where the file is.
    pub path: PathBuf,
    /// Its size and time when it was read.
    pub snapshot: Snapshot,
    /// Its bytes.
    pub input: Input,
    /// What the check found.
    pub report: FileReport,
}

/// The findings for a multi-part AOF.
pub struct MultipartReport {
    /// The manifest file.
    pub manifest_path: PathBuf,
    /// The manifest's size and time when it was read.
    pub manifest_snapshot: Snapshot,
    /// The parsed manifest.
    pub manifest: Manifest,
    /// The base file (if any), then the incr files, in load order.
    pub parts: Vec<Part>,
    /// History files listed (servers do not load them; they are not checked).
    pub history: Vec<PathBuf>,
}

impl MultipartReport {
    /// Index of the first part with a problem.
    pub fn first_damaged(&self) -> Option<usize> {
        self.parts.iter().position(|p| !p.report.is_valid())
    }

    /// True when every part is valid.
    pub fn is_valid(&self) -> bool {
        self.first_damaged().is_none()
    }

    /// The manifest without the incr files after part `index`: what the manifest must say
    /// once that part is cut, since later files build on the commands the cut drops.
    pub fn manifest_ending_at(&self, index: usize) -> Manifest {
        let kept: Vec<&ManifestEntry> = self.parts[..=index].iter().map(|p| &p.entry).collect();
        let mut manifest = self.manifest.clone();
        manifest.entries.retain(|e| e.file_type != FileType::Incr || kept.contains(&e));
        manifest
    }
}

/// Reads the manifest at `manifest_path` and checks every file it lists for loading.
///
/// # Errors
/// A manifest that does not parse (with its line), a listed file that is missing or unreadable.
pub fn check_multipart(
    dir: &Path,
    manifest_path: &Path,
    threads: usize,
    strict: Option<Dialect>,
) -> crate::Result<MultipartReport> {
    let manifest_snapshot = Snapshot::of(manifest_path).map_err(|e| io_error(manifest_path, e))?;
    let text = std::fs::read(manifest_path).map_err(|e| io_error(manifest_path, e))?;
    let manifest = Manifest::parse(&text)?;
    let to_path = |e: &ManifestEntry| dir.join(std::ffi::OsStr::from_bytes(&e.name));
    let mut parts = Vec::new();
    for entry in manifest.base().into_iter().chain(manifest.incrs()) {
        let path = to_path(entry);
        let snapshot = Snapshot::of(&path).map_err(|e| io_error(&path, e))?;
        let input = Input::open(&path).map_err(|e| io_error(&path, e))?;
        let report = check_file(input.bytes(), threads, strict, &|_| {});
        parts.push(Part { entry: entry.clone(), path, snapshot, input, report });
    }
    let history = manifest.history().map(to_path).collect();
    Ok(MultipartReport {
        manifest_path: manifest_path.to_path_buf(),
        manifest_snapshot,
        manifest,
        parts,
        history,
    })
}

fn io_error(path: &Path, e: std::io::Error) -> Error {
    let message = std::io::Error::new(e.kind(), format!("{}: {e}", path.display()));
    Error::new(ErrorKind::Io(message), 0)
}

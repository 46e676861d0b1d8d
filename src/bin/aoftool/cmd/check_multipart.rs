//! `aoftool check DIR|MANIFEST`: a multi-part AOF, and repairs that keep the manifest consistent.

use std::path::Path;

use anyhow::Context;
use aoftool::aof::manifest::locate;
use aoftool::aof::resp::Parser;
use aoftool::check::multipart::{MultipartReport, check_multipart};
use aoftool::check::repair::timestamp_cut;
use aoftool::safe_write;
use serde_json::json;

use crate::Outcome;
use crate::cmd::check::{RepairMode, Settings, apply, plan_repair};
use crate::cmd::check_report::{file_json, print_file};

/// Runs `check` on a multi-part AOF directory or manifest.
pub fn run(path: &Path, settings: &Settings) -> anyhow::Result<Outcome> {
    let (dir, manifest) =
        locate(path).with_context(|| format!("reading {}", path.display()))?.with_context(|| {
            format!("{} holds no .manifest file: not a multi-part AOF directory", path.display())
        })?;
    let report = match check_multipart(&dir, &manifest, settings.threads, settings.strict) {
        Ok(r) => r,
        Err(e) => {
            // A manifest that does not parse or lists a missing file makes the AOF invalid.
            println!("{}: INVALID multi-part AOF: {e}", manifest.display());
            return Ok(Outcome::Problems);
        }
    };
    let target = match settings.repair {
        Some(mode) => repair_target(&report, mode, settings.threads),
        None => None,
    };
    if settings.json {
        print_json(&report)?;
    } else {
        print_text(&report);
    }
    let Some((index, mode)) = target else {
        return Ok(if report.is_valid() { Outcome::Ok } else { Outcome::Problems });
    };
    repair(&report, index, mode, settings)
}

/// The part to repair: the first damaged one, or the first holding a `#TS:` later than the
/// requested time, whichever comes first.
fn repair_target(report: &MultipartReport, mode: RepairMode, threads: usize) -> Option<(usize, RepairMode)> {
    let damaged = report.first_damaged();
    let by_time = mode.until.and_then(|t| {
        report.parts.iter().position(|p| {
            p.report.resp.as_ref().is_some_and(|r| {
                let data = p.input.bytes();
                timestamp_cut(&Parser::new(&data[r.start as usize..], r.start), t, threads).is_some()
            })
        })
    });
    let index = match (damaged, by_time) {
        (Some(a), Some(b)) => a.min(b),
        (a, b) => a.or(b)?,
    };
    Some((index, mode))
}

fn repair(
    report: &MultipartReport,
    index: usize,
    mode: RepairMode,
    settings: &Settings,
) -> anyhow::Result<Outcome> {
    let part = &report.parts[index];
    let data = part.input.bytes();
    let plan = plan_repair(data, &part.report, mode, settings.threads)?;
    let later: Vec<&Path> = report.parts[index + 1..].iter().map(|p| p.path.as_path()).collect();
    let verb = if settings.dry_run { "would drop" } else { "drops" };
    if let Some(plan) = &plan {
        println!("  repair of {} {verb} {} bytes", part.path.display(), plan.dropped_bytes());
    }
    if !later.is_empty() {
        let names: Vec<String> = later.iter().map(|p| p.display().to_string()).collect();
        println!(
            "  it is not the last file: the repair also {verb} the later incr files from the manifest: {}",
            names.join(", ")
        );
        if !settings.force {
            println!("  refusing without --force (later files build on the commands the repair drops)");
            return Ok(Outcome::Problems);
        }
    }
    if settings.dry_run {
        return Ok(Outcome::Problems);
    }
    if !later.is_empty() {
        // The manifest goes first: if interrupted here, the damaged file is the last one listed,
        // which the server itself truncates on load.
        let manifest = report.manifest_ending_at(index).to_bytes();
        safe_write::replace(&report.manifest_path, report.manifest_snapshot, settings.backup, |w| {
            w.write_all(&manifest)
        })
        .with_context(|| format!("writing {}", report.manifest_path.display()))?;
        println!("  manifest {} updated", report.manifest_path.display());
    }
    match plan {
        Some(plan) => apply(&part.path, part.snapshot, data, &plan, settings.backup, settings.json),
        None => Ok(Outcome::Ok),
    }
}

fn print_text(report: &MultipartReport) {
    println!("{}: multi-part AOF, {} files to load", report.manifest_path.display(), report.parts.len());
    for part in &report.parts {
        print_file(&part.path, &part.report);
    }
    if !report.history.is_empty() {
        println!("  {} history files (not loaded by servers, not checked)", report.history.len());
    }
    println!("{}", if report.is_valid() { "All AOF files and the manifest are valid" } else { "INVALID" });
}

fn print_json(report: &MultipartReport) -> anyhow::Result<()> {
    let out = json!({
        "manifest": report.manifest_path.display().to_string(),
        "valid": report.is_valid(),
        "files": report.parts.iter().map(|p| file_json(&p.path, &p.report)).collect::<Vec<_>>(),
        "history": report.history.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
    });
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(())
}

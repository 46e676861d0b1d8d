//! A progress bar on standard error for large inputs when it is a terminal.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressStyle};

/// Inputs smaller than this finish too fast to need a bar.
const MIN_BYTES: u64 = 64 << 20;

/// A bar over `total` bytes, hidden when stderr is not a terminal or the input is small.
pub fn bar(total: u64) -> ProgressBar {
    if total < MIN_BYTES || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {binary_bytes_per_sec} eta {eta}")
            .expect("the template is valid"),
    );
    bar
}

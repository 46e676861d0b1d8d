//! One module per subcommand.

pub mod check;
pub mod check_multipart;
pub mod check_report;
pub mod convert;
pub mod rewrite;

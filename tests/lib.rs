//! Integration tests: one binary, a module per area.

mod check_oracle;
mod cli;
mod corpus;
mod corpus_write;
mod fixtures;
mod json_reader;
mod robustness;
mod support;
mod write_oracle;

//! Integration tests: one binary, a module per area.

mod corpus;
mod fixtures;
mod robustness;

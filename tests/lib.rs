//! Integration tests: one binary, a module per area.

mod check_oracle;
mod cli;
mod corpus;
mod corpus_write;
mod fixtures;
mod json_reader;
mod keyspace_bitfield;
mod keyspace_collections;
mod keyspace_hash_stream;
mod keyspace_hll;
mod keyspace_oracle;
mod keyspace_redis8;
mod keyspace_sort_geo;
mod rewrite_oracle;
mod robustness;
mod support;
mod write_oracle;

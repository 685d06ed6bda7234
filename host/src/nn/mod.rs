//! Networks: the TOML description ([`spec`]) and the trainable burn network ([`net`]).

pub mod net;
pub mod spec;

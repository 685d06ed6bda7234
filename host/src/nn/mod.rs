//! Networks: the TOML description ([`spec`]), the trainable burn network ([`net`]), and a
//! trained network as a simulator driver ([`driver`]).

pub mod driver;
pub mod fast;
pub mod net;
pub mod spec;

//! Measurements behind `pilot bench`: each returns typed numbers, the command prints them.

pub mod data;

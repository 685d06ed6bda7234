//! Links the QEMU application and the on-target tests at the mps2 boards' addresses, and
//! makes the on-target test vectors.
//!
//! 1. `memory.x`: QEMU's mps2 boards map their memories at 0x0 and 0x2000_0000, not at the
//!    STM32's addresses, but the sizes are the reference chip's (`../lib/build/memory.rs`), so
//!    the link fails exactly when the real chip would not fit. (The `firmware` library's build
//!    script embeds the model and checks that its arena fits.)
//! 2. `vectors.rs`: the on-target test vectors, computed here on the host by the very same
//!    `common` reference code (`build/vectors.rs`).

#[path = "../lib/build/memory.rs"]
mod memory;
#[path = "build/vectors.rs"]
mod vectors;

use std::path::PathBuf;
use std::{env, fs};

fn main() {
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=build");
    println!("cargo:rerun-if-changed=../lib/build/memory.rs");

    fs::write(out.join("memory.x"), memory::memory_x("mps2", 0x0000_0000, 0x2000_0000)).expect("write memory.x");
    fs::write(out.join("vectors.rs"), vectors::generate()).expect("write vectors.rs");
    println!("cargo:rustc-link-search={}", out.display());
}

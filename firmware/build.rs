//! Sizes the firmware from the model it embeds, before anything is compiled.
//!
//! 1. Reads the model blob named by `PILOT_MODEL` (default: the PilotNet test vector), parses
//!    it with `common` and writes `model.rs` into `OUT_DIR`: the blob (`include_bytes!`), the
//!    exact arena size from `common`'s row-band memory plan (preprocessing's row buffers
//!    included) and the sizes of those buffers.
//! 2. Writes `memory.x` with the reference chip's flash and RAM, and fails the build with the
//!    number of missing bytes when arena + buffers + a minimum stack exceed the chip's RAM (the
//!    linker then also refuses a flash or RAM overflow, naming the bytes it lacks).
//! 3. Writes the on-target test vectors (`vectors.rs`), computed here on the host by the very
//!    same `common` reference code.

#[path = "build/chip.rs"]
mod chip;
#[path = "build/vectors.rs"]
mod vectors;

use std::path::{Path, PathBuf};
use std::{env, fs};

use common::plan::BandPlan;
use common::preprocess::RowStream;
use common::Model;

/// The driving model the firmware embeds when `PILOT_MODEL` is unset: the shipped PilotNet.
const DEFAULT_MODEL: &str = "../models/pilotnet/pilotnet.pnn8";

fn main() {
    let manifest = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=build");
    println!("cargo:rerun-if-env-changed=PILOT_MODEL");
    println!("cargo:rerun-if-env-changed=PILOT_MODEL_UNCHECKED");

    let model_path = match env::var_os("PILOT_MODEL") {
        Some(p) => manifest.join(p), // a relative path is taken from firmware/
        None => manifest.join(DEFAULT_MODEL),
    };
    println!("cargo:rerun-if-changed={}", model_path.display());
    let blob = fs::read(&model_path)
        .unwrap_or_else(|e| fail(&format!("cannot read the model blob {}: {e}", model_path.display())));
    let sizes = match Model::parse(&blob) {
        Ok(model) => Sizes::of(&model),
        // Only for proving the firmware's own start-up check: a blob that fails to parse is
        // embedded anyway and the firmware must report it and exit non-zero.
        Err(e) if env::var_os("PILOT_MODEL_UNCHECKED").is_some() => {
            println!("cargo:warning=PILOT_MODEL_UNCHECKED: embedding an invalid model blob ({e})");
            Sizes::default()
        }
        Err(e) => fail(&format!(
            "{} is not a valid model blob: {e} (set PILOT_MODEL to a blob written by `pilot`)",
            model_path.display()
        )),
    };

    chip::check_fit(&sizes, blob.len()).unwrap_or_else(|msg| fail(&msg));
    fs::write(out.join("memory.x"), chip::memory_x()).expect("write memory.x");
    fs::write(out.join("model.rs"), model_rs(&model_path, &sizes)).expect("write model.rs");
    fs::write(out.join("vectors.rs"), vectors::generate()).expect("write vectors.rs");
    println!("cargo:rustc-link-search={}", out.display());
}

/// Static buffers the firmware needs for the embedded model, in bytes.
#[derive(Debug, Default)]
pub struct Sizes {
    /// The activation arena of `common`'s row-band plan, preprocessing's row buffers included.
    pub arena: usize,
    /// The whole-tensor plan's arena (input and largest activation held at once), for comparison.
    pub whole_arena: usize,
    /// Preprocessing's row buffers (`RowStream::buffer_bytes`), in the arena while a frame
    /// streams in (layout in `src/model.rs`).
    pub scratch: usize,
    /// One camera row as it arrives.
    pub frame_row: usize,
    /// `RowStream`'s two interpolated rows, in u16s.
    pub interp_u16s: usize,
    /// `RowStream`'s output row, in bytes.
    pub out_row: usize,
}

impl Sizes {
    fn of(model: &Model<'_>) -> Sizes {
        let input = model.input().shape;
        let (interp_u16s, out_row, frame_row, scratch) = match model.def().input.preprocess {
            Some(pp) => {
                let (rows, out) = RowStream::scratch_len(input.w, input.c);
                (rows, out, pp.row_bytes(), RowStream::buffer_bytes(&pp, input))
            }
            None => (0, 0, 0, 0),
        };
        Sizes {
            arena: BandPlan::new(model, scratch).arena_bytes(),
            whole_arena: model.plan().arena_bytes(),
            scratch,
            frame_row,
            interp_u16s,
            out_row,
        }
    }
}

fn model_rs(path: &Path, s: &Sizes) -> String {
    let path = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
    format!(
        "/// Where the embedded blob came from (`PILOT_MODEL` at build time).\n\
         pub const MODEL_PATH: &str = {path:?};\n\
         /// The model blob, in flash.\n\
         pub static BLOB: &[u8] = include_bytes!({path:?});\n\
         /// The arena of `common`'s row-band plan (`BandPlan::new(model, SCRATCH_BYTES)`).\n\
         pub const ARENA_BYTES: usize = {};\n\
         /// The arena the whole-tensor plan would need, for comparison.\n\
         pub const WHOLE_ARENA_BYTES: usize = {};\n\
         /// Bytes of preprocessing's row buffers, in the arena while a frame streams in.\n\
         pub const SCRATCH_BYTES: usize = {};\n\
         /// Bytes in one camera row (0: the model has no preprocessing).\n\
         pub const FRAME_ROW_BYTES: usize = {};\n\
         /// u16s in `RowStream`'s two interpolated rows.\n\
         pub const INTERP_U16S: usize = {};\n\
         /// Bytes in `RowStream`'s output row.\n\
         pub const OUT_ROW_BYTES: usize = {};\n",
        s.arena,
        s.whole_arena,
        s.scratch,
        s.frame_row,
        s.interp_u16s,
        s.out_row
    )
}

/// Stops the build with a message cargo shows as the error.
fn fail(msg: &str) -> ! {
    eprintln!("error: {msg}");
    std::process::exit(1)
}

//! Sizes the firmware from the model it embeds, before anything is compiled.
//!
//! Reads the model blob named by `PILOT_MODEL` (default: the shipped PilotNet), parses it with
//! `common` and writes `model.rs` into `OUT_DIR`: the blob (`include_bytes!`) and the exact
//! arena of `common`'s camera plan (`common::plan::CameraPlan`: the row-band plan with
//! preprocessing's row buffers). Fails the build with the number of missing bytes when the
//! arena and a minimum stack exceed the reference chip's RAM, or the blob its flash. Each
//! binary's own build script writes its `memory.x` (the same chip sizes, at its addresses).

#[path = "build/fit.rs"]
mod fit;

use std::path::{Path, PathBuf};
use std::{env, fs};

use common::plan::CameraPlan;
use common::Model;

/// The driving model the firmware embeds when `PILOT_MODEL` is unset: the shipped PilotNet.
const DEFAULT_MODEL: &str = "../../models/pilotnet/pilotnet.pnn8";

fn main() {
    let manifest = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=build");
    println!("cargo:rerun-if-env-changed=PILOT_MODEL");
    println!("cargo:rerun-if-env-changed=PILOT_MODEL_UNCHECKED");

    let model_path = match env::var_os("PILOT_MODEL") {
        // A relative path is taken from this package's folder, `firmware/lib/`: the binaries'
        // folders (`firmware/qemu/`, `firmware/blackpill/`) are at the same depth, so
        // `../../models/...` means the same from where they are built.
        Some(p) => manifest.join(p),
        None => manifest.join(DEFAULT_MODEL),
    };
    println!("cargo:rerun-if-changed={}", model_path.display());
    let blob = fs::read(&model_path).unwrap_or_else(|e| fail(&format!("cannot read the model blob {}: {e}", model_path.display())));
    let sizes = match Model::parse(&blob) {
        Ok(model) => Sizes::of(&model),
        // Only for proving the firmware's own start-up check: a blob that fails to parse is
        // embedded anyway and the firmware must report it and exit non-zero.
        Err(e) if env::var_os("PILOT_MODEL_UNCHECKED").is_some() => {
            println!("cargo:warning=PILOT_MODEL_UNCHECKED: embedding an invalid model blob ({e})");
            Sizes::default()
        }
        Err(e) => fail(&format!("{} is not a valid model blob: {e} (set PILOT_MODEL to a blob written by `pilot`)", model_path.display())),
    };

    fit::check_fit(&sizes, blob.len()).unwrap_or_else(|msg| fail(&msg));
    fs::write(out.join("model.rs"), model_rs(&model_path, &sizes)).expect("write model.rs");
}

/// Static buffers the firmware needs for the embedded model, in bytes.
#[derive(Debug, Default)]
pub struct Sizes {
    /// The activation arena of `common`'s camera plan, preprocessing's row buffers included.
    pub arena: usize,
    /// The whole-tensor plan's arena (input and largest activation held at once), for comparison.
    pub whole_arena: usize,
    /// Preprocessing's row buffers, in the arena while a frame streams in.
    pub scratch: usize,
    /// One camera row as it arrives.
    pub frame_row: usize,
}

impl Sizes {
    fn of(model: &Model<'_>) -> Sizes {
        let plan = CameraPlan::of(model);
        Sizes { arena: plan.arena_bytes(), whole_arena: model.plan().arena_bytes(), scratch: plan.rows.bytes(), frame_row: plan.rows.frame_row }
    }
}

fn model_rs(path: &Path, s: &Sizes) -> String {
    let path = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
    format!(
        "/// Where the embedded blob came from (`PILOT_MODEL` at build time).\n\
         pub const MODEL_PATH: &str = {path:?};\n\
         /// The model blob, in flash.\n\
         pub static BLOB: &[u8] = include_bytes!({path:?});\n\
         /// The arena of `common`'s camera plan (`CameraPlan::of(model).arena_bytes()`).\n\
         pub const ARENA_BYTES: usize = {};\n\
         /// The arena the whole-tensor plan would need, for comparison.\n\
         pub const WHOLE_ARENA_BYTES: usize = {};\n\
         /// Bytes of preprocessing's row buffers, in the arena while a frame streams in.\n\
         pub const SCRATCH_BYTES: usize = {};\n\
         /// Bytes in one camera row of the model's frames (0: the model has no preprocessing).\n\
         pub const FRAME_ROW_BYTES: usize = {};\n",
        s.arena, s.whole_arena, s.scratch, s.frame_row
    )
}

/// Stops the build with a message cargo shows as the error.
fn fail(msg: &str) -> ! {
    eprintln!("error: {msg}");
    std::process::exit(1)
}

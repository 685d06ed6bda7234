//! Helpers of the end-to-end tests: build the firmware for a model blob, run it in QEMU, and
//! make deterministic camera frames.
//!
//! The firmware is its own cargo workspace (`firmware/`, target thumbv7em-none-eabihf); it is
//! built with `cargo build --release` there, with `PILOT_MODEL` naming the blob, and run
//! through its cargo runner `firmware/qemu-run.sh` (QEMU + defmt-print). Needs
//! `qemu-system-arm`, `flip-link` and `defmt-print` on the PATH.

pub mod frames;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Mutex;

/// The firmware's cargo workspace.
pub fn firmware_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../firmware")
}

/// Builds share one target directory and one ELF path: one at a time.
static BUILD: Mutex<()> = Mutex::new(());

/// `cargo build --release` of the firmware with `PILOT_MODEL=blob` (and, with `unchecked`,
/// `PILOT_MODEL_UNCHECKED=1`, which embeds a blob that does not parse). On success the ELF
/// is copied to `dest` (later builds overwrite the original).
pub fn build_firmware(blob: &Path, unchecked: bool, dest: &Path) -> Result<PathBuf, Output> {
    let _guard = BUILD.lock().unwrap_or_else(|e| e.into_inner());
    let dir = firmware_dir();
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.current_dir(&dir).args(["build", "--release", "--bin", "qemu"]).env("PILOT_MODEL", blob);
    if unchecked {
        cmd.env("PILOT_MODEL_UNCHECKED", "1");
    } else {
        cmd.env_remove("PILOT_MODEL_UNCHECKED");
    }
    let out = cmd.output().expect("cannot run cargo");
    if !out.status.success() {
        return Err(out);
    }
    let elf = dir.join("../target/thumbv7em-none-eabihf/release/qemu");
    std::fs::copy(&elf, dest).unwrap_or_else(|e| panic!("cannot copy {}: {e}", elf.display()));
    Ok(dest.to_path_buf())
}

/// Runs `elf` in QEMU (`qemu-run.sh ELF ARGS...`) in `cwd`; returns its exit status and the
/// decoded defmt log.
pub fn run_firmware(elf: &Path, cwd: &Path, args: &[&str]) -> Output {
    Command::new(firmware_dir().join("qemu-run.sh"))
        .current_dir(cwd)
        .arg(elf)
        .args(args)
        .output()
        .expect("cannot run firmware/qemu-run.sh")
}

/// A blob of `models/testvectors/` (RANDOM weights; see its README).
pub fn test_vector(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/testvectors").join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// Frame count from an environment variable, or `default`.
pub fn frames_from_env(var: &str, default: usize) -> usize {
    match std::env::var(var) {
        Ok(v) => v.parse().unwrap_or_else(|_| panic!("{var}={v} is not a frame count")),
        Err(_) => default,
    }
}

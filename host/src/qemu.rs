//! The firmware in QEMU, driven from the host: build it for a model blob, send camera frames
//! through it, read back its outputs and its cost log. Needs `cargo` with the
//! thumbv7em-none-eabihf target, `flip-link`, `qemu-system-arm` and `defmt-print`.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

/// The firmware's cargo workspace (next to this crate in the repository).
pub fn firmware_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../firmware")
}

/// What is missing to build and run the firmware, as install instructions (empty: ready).
pub fn missing_tools() -> Vec<&'static str> {
    let on_path = |tool: &str| Command::new("sh").args(["-c", &format!("command -v {tool}")]).output().is_ok_and(|o| o.status.success());
    let mut missing = Vec::new();
    if !on_path("qemu-system-arm") {
        missing.push("apt-get install qemu-system-arm");
    }
    if !on_path("flip-link") {
        missing.push("cargo install flip-link --locked");
    }
    if !on_path("defmt-print") {
        missing.push("cargo install defmt-print --locked");
    }
    let target = Command::new("rustup").args(["target", "list", "--installed"]).output();
    if !target.is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("thumbv7em-none-eabihf")) {
        missing.push("rustup target add thumbv7em-none-eabihf");
    }
    if !firmware_dir().join("Cargo.toml").exists() {
        missing.push("the firmware sources (run from a clone of the repository)");
    }
    missing
}

/// Builds the QEMU firmware with `blob` embedded and copies the ELF to `dest`.
pub fn build(blob: &Path, dest: &Path) -> Result<PathBuf> {
    build_elf(blob, &["--bin", "qemu"], "qemu", dest)
}

/// Builds the Black Pill board binary (camera, servo, the network) with `blob` embedded and
/// copies the ELF to `dest`. It runs on the board only; this is for its flash and RAM use.
pub fn build_board(blob: &Path, dest: &Path) -> Result<PathBuf> {
    build_elf(blob, &["-p", "blackpill"], "blackpill", dest)
}

/// `cargo build --release SELECT` in the firmware workspace with `blob` embedded; copies the
/// binary `name` to `dest`.
fn build_elf(blob: &Path, select: &[&str], name: &str, dest: &Path) -> Result<PathBuf> {
    let dir = firmware_dir();
    let blob = std::fs::canonicalize(blob).with_context(|| format!("cannot find {}", blob.display()))?;
    let out = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .current_dir(&dir)
        .args(["build", "--release"])
        .args(select)
        .env("PILOT_MODEL", &blob)
        .env_remove("PILOT_MODEL_UNCHECKED")
        .output()
        .context("cannot run cargo")?;
    if !out.status.success() {
        bail!("the firmware build failed:\n{}", String::from_utf8_lossy(&out.stderr));
    }
    let elf = dir.join("../target/thumbv7em-none-eabihf/release").join(name);
    std::fs::copy(&elf, dest).with_context(|| format!("cannot copy {}", elf.display()))?;
    Ok(dest.to_path_buf())
}

/// What one run of the firmware gave.
pub struct FirmwareRun {
    /// The int8 outputs of every frame, back to back.
    pub outputs: Vec<u8>,
    /// The decoded defmt log.
    pub log: String,
}

impl FirmwareRun {
    /// Instructions per inference from the log's summary line.
    pub fn instructions_per_inference(&self) -> Option<u64> {
        let line = self.log.lines().find(|l| l.contains("total:"))?;
        line.split("total:").nth(1)?.split_whitespace().next()?.parse().ok()
    }

    /// Preprocessing instructions of the last frame (not reading its rows), from its
    /// `frame N: ... preprocessing P (+ reading rows R)` line.
    pub fn preprocess_instructions(&self) -> Option<u64> {
        let line = self.log.lines().rev().find(|l| l.contains("frame ") && l.contains("preprocessing "))?;
        line.split("preprocessing ").nth(1)?.split_whitespace().next()?.parse().ok()
    }

    /// The log's summary line.
    pub fn summary(&self) -> Option<&str> {
        self.log.lines().find(|l| l.contains("total:"))
    }
}

/// Runs `elf` without frames (it makes one synthetic frame on the chip) on `machine`
/// (`mps2-an386` or `mps2-an500`) and returns the decoded log.
pub fn run_synthetic(elf: &Path, machine: &str) -> Result<String> {
    let out = Command::new(firmware_dir().join("qemu-run.sh"))
        .arg(std::fs::canonicalize(elf)?)
        .env("PILOT_QEMU_MACHINE", machine)
        .output()
        .context("cannot run firmware/qemu-run.sh")?;
    let log = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    if !out.status.success() {
        bail!("the firmware failed on {machine} ({}):\n{log}", out.status);
    }
    Ok(log)
}

/// Section sizes of an ELF (`llvm-size -A` from rustup's llvm-tools), by section name.
pub fn section_sizes(elf: &Path) -> Result<Vec<(String, u64)>> {
    let sysroot = Command::new("rustc").args(["--print", "sysroot"]).output().context("cannot run rustc")?;
    let sysroot = String::from_utf8_lossy(&sysroot.stdout).trim().to_string();
    let tool = Path::new(&sysroot).join("lib/rustlib/x86_64-unknown-linux-gnu/bin/llvm-size");
    let out = Command::new(&tool).arg("-A").arg(elf).output().with_context(|| format!("cannot run {} (rustup component add llvm-tools)", tool.display()))?;
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let (name, size) = (f.next()?, f.next()?.parse().ok()?);
            name.starts_with('.').then(|| (name.to_string(), size))
        })
        .collect())
}

/// Runs `elf` in QEMU on `frames` (raw frames back to back, the model's frame format), in a
/// scratch folder `work`.
pub fn run(elf: &Path, frames: &[u8], work: &Path) -> Result<FirmwareRun> {
    std::fs::create_dir_all(work)?;
    std::fs::write(work.join("frames.raw"), frames).context("cannot write the frames file")?;
    let _ = std::fs::remove_file(work.join("outputs.i8"));
    let out = Command::new(firmware_dir().join("qemu-run.sh"))
        .current_dir(work)
        .arg(std::fs::canonicalize(elf)?)
        .args(["frames.raw", "outputs.i8"])
        .output()
        .context("cannot run firmware/qemu-run.sh")?;
    let log = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    if !out.status.success() {
        bail!("the firmware failed ({}):\n{log}", out.status);
    }
    let outputs = std::fs::read(work.join("outputs.i8")).context("the firmware wrote no outputs")?;
    Ok(FirmwareRun { outputs, log })
}

/// The firmware itself as a simulator driver: every frame goes through the firmware in QEMU
/// (one run per frame, so each steering command comes from the chip's own preprocessing and
/// kernels) and the int8 output is dequantized exactly as the int8 reference driver does.
pub struct FirmwareDriver {
    elf: PathBuf,
    work: PathBuf,
    quant: common::format::QParams,
    /// Instructions per inference reported by the last run.
    pub last_instructions: Option<u64>,
    /// Preprocessing instructions of the last run's frame.
    pub last_preprocess_instructions: Option<u64>,
}

impl FirmwareDriver {
    /// Builds the firmware for `blob` (a steering model taking RGB888 frames) in `work`.
    pub fn new(blob_path: &Path, work: &Path) -> Result<FirmwareDriver> {
        let missing = missing_tools();
        if !missing.is_empty() {
            bail!("the firmware driver needs: {}", missing.join("; "));
        }
        let bytes = std::fs::read(blob_path).with_context(|| format!("cannot read {}", blob_path.display()))?;
        let model = common::Model::parse(&bytes).with_context(|| format!("{} is not a valid model blob", blob_path.display()))?;
        let pp = model.def().input.preprocess.context("the model has no camera preprocessing")?;
        anyhow::ensure!(pp.format == common::preprocess::PixelFormat::Rgb888, "the firmware driver sends RGB888 frames; this model takes {:?}", pp.format);
        anyhow::ensure!(model.output().shape.len() == 1, "not a steering model (it has {} outputs)", model.output().shape.len());
        std::fs::create_dir_all(work)?;
        let elf = build(blob_path, &work.join("firmware.elf"))?;
        Ok(FirmwareDriver { elf, work: work.to_path_buf(), quant: model.output().quant, last_instructions: None, last_preprocess_instructions: None })
    }
}

impl crate::sim::drive::Driver for FirmwareDriver {
    fn steer(&mut self, frame: &crate::sim::render::Frame) -> Result<f32> {
        let run = run(&self.elf, frame.rgb(), &self.work)?;
        self.last_instructions = run.instructions_per_inference();
        self.last_preprocess_instructions = run.preprocess_instructions();
        let q = *run.outputs.first().context("the firmware returned no output")? as i8;
        Ok((q as i32 - self.quant.zero_point as i32) as f32 * 2f32.powi(self.quant.scale_exp as i32))
    }

    fn counted(&self) -> Option<crate::sim::clock::Counted> {
        Some(crate::sim::clock::Counted { network: self.last_instructions?, preprocess: self.last_preprocess_instructions? })
    }
}

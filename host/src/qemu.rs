//! The firmware in QEMU, driven from the host: build it for a model blob, send camera frames
//! through it, read back its outputs and its cost records. Needs `cargo` with the
//! thumbv7em-none-eabihf target, `flip-link`, `qemu-system-arm` and `defmt-print`.
//!
//! The QEMU application (`firmware/qemu/`) and the Black Pill board (`firmware/blackpill/`)
//! are cargo workspaces of their own, built from their folders into the repository's target
//! directory. The end-to-end tests use these helpers too.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
use std::sync::Mutex;

use anyhow::{bail, Context, Result};
use common::report::CostRecord;

/// The repository (this crate's parent folder).
pub fn repo_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The QEMU application's package: the application, its runner and its on-target tests.
pub fn firmware_dir() -> PathBuf {
    repo_dir().join("firmware/qemu")
}

/// The Black Pill board binary's package.
pub fn board_dir() -> PathBuf {
    repo_dir().join("firmware/blackpill")
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

/// Firmware builds share the target directory and each binary's ELF path: one at a time.
static BUILD: Mutex<()> = Mutex::new(());

/// Builds the QEMU application with `blob` embedded and copies the ELF to `dest`.
pub fn build(blob: &Path, dest: &Path) -> Result<PathBuf> {
    build_elf(&firmware_dir(), "qemu", blob, false, dest)
}

/// Builds the QEMU application with a blob that need not parse (`PILOT_MODEL_UNCHECKED`): only
/// to test the firmware's own start-up check, which must reject it.
pub fn build_unchecked(blob: &Path, dest: &Path) -> Result<PathBuf> {
    build_elf(&firmware_dir(), "qemu", blob, true, dest)
}

/// Builds the Black Pill board binary (camera, servo, the network) with `blob` embedded and
/// copies the ELF to `dest`. It runs on the board only; this is for its flash and RAM use.
pub fn build_board(blob: &Path, dest: &Path) -> Result<PathBuf> {
    build_elf(&board_dir(), "blackpill", blob, false, dest)
}

/// `cargo build --release --bin NAME` in the package `dir` with `blob` embedded; copies the
/// ELF to `dest`. A failed build's error holds cargo's output (the build script's message
/// when the model does not fit the chip).
fn build_elf(dir: &Path, name: &str, blob: &Path, unchecked: bool, dest: &Path) -> Result<PathBuf> {
    let blob = std::fs::canonicalize(blob).with_context(|| format!("cannot find {}", blob.display()))?;
    let _guard = BUILD.lock().unwrap_or_else(|e| e.into_inner());
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.current_dir(dir).args(["build", "--release", "--bin", name]).env("PILOT_MODEL", &blob);
    if unchecked {
        cmd.env("PILOT_MODEL_UNCHECKED", "1");
    } else {
        cmd.env_remove("PILOT_MODEL_UNCHECKED");
    }
    let out = cmd.output().context("cannot run cargo")?;
    if !out.status.success() {
        bail!("the firmware build failed:\n{}", String::from_utf8_lossy(&out.stderr));
    }
    let elf = elf_dir(dir).join(name);
    std::fs::copy(&elf, dest).with_context(|| format!("cannot copy {}", elf.display()))?;
    Ok(dest.to_path_buf())
}

/// Where cargo puts the release binaries of the package in `dir`: the repository's target
/// directory (every `.cargo/config.toml` names it), or `CARGO_TARGET_DIR` (relative: to `dir`).
fn elf_dir(dir: &Path) -> PathBuf {
    let target = match std::env::var_os("CARGO_TARGET_DIR") {
        Some(t) => dir.join(t),
        None => repo_dir().join("target"),
    };
    target.join("thumbv7em-none-eabihf/release")
}

/// How a run in QEMU ended: the program's exit status and its decoded defmt log.
pub struct Exit {
    pub status: ExitStatus,
    pub log: String,
}

/// Runs `elf` in QEMU through the application's runner (`firmware/qemu/qemu-run.sh ELF
/// ARGS...`) in `cwd`, on `machine` (`mps2-an386`, the default, or `mps2-an500`). Fails only
/// when the runner cannot start; the exit status says how the program ended.
pub fn launch(elf: &Path, cwd: &Path, args: &[&str], machine: Option<&str>) -> Result<Exit> {
    let elf = std::fs::canonicalize(elf).with_context(|| format!("cannot find {}", elf.display()))?;
    let mut cmd = Command::new(firmware_dir().join("qemu-run.sh"));
    cmd.current_dir(cwd).arg(elf).args(args);
    if let Some(m) = machine {
        cmd.env("PILOT_QEMU_MACHINE", m);
    }
    let out = cmd.output().context("cannot run firmware/qemu/qemu-run.sh")?;
    let log = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    Ok(Exit { status: out.status, log })
}

/// What one run of the firmware gave.
pub struct FirmwareRun {
    /// The int8 outputs of every frame, back to back.
    pub outputs: Vec<u8>,
    /// The cost of every frame, as the firmware measured it.
    pub costs: Vec<CostRecord>,
    /// The decoded defmt log.
    pub log: String,
}

impl FirmwareRun {
    /// Instructions per inference (the network), averaged over the frames as the firmware's
    /// log does.
    pub fn instructions_per_inference(&self) -> Option<u64> {
        let n = self.costs.len() as u64;
        (n > 0).then(|| self.costs.iter().map(|c| c.network).sum::<u64>() / n)
    }

    /// One line with the run's costs.
    pub fn summary(&self) -> Option<String> {
        let last = self.costs.last()?;
        let n = self.costs.len() as u64;
        let mean = |f: fn(&CostRecord) -> u64| self.costs.iter().map(f).sum::<u64>() / n;
        Some(format!(
            "{} instructions per inference over {n} frames (preprocessing {}, reading rows {}); arena {} B; stack high-water {} B of {} B",
            mean(|c| c.network),
            mean(|c| c.preprocess),
            mean(|c| c.read_rows),
            last.arena_bytes,
            last.stack_high_water,
            last.stack_bytes
        ))
    }

    /// Preprocessing instructions of the last frame (not reading its rows).
    pub fn preprocess_instructions(&self) -> Option<u64> {
        self.costs.last().map(|c| c.preprocess)
    }
}

/// Runs `elf` in QEMU on `frames` (raw frames back to back, the model's frame format), in a
/// scratch folder `work`.
pub fn run(elf: &Path, frames: &[u8], work: &Path) -> Result<FirmwareRun> {
    std::fs::create_dir_all(work)?;
    std::fs::write(work.join("frames.raw"), frames).context("cannot write the frames file")?;
    run_in(elf, work, &["frames.raw", "outputs.i8", "costs.postcard"], None)
}

/// Runs `elf` without frames (it makes one synthetic frame on the chip) on `machine`
/// (`mps2-an386` or `mps2-an500`).
pub fn run_synthetic(elf: &Path, machine: &str) -> Result<FirmwareRun> {
    let work = tempfile::tempdir()?;
    run_in(elf, work.path(), &["-", "outputs.i8", "costs.postcard"], Some(machine))
}

/// Runs `elf` in `work` with `args` (FRAMES, then outputs.i8 and costs.postcard there) and
/// reads back what it wrote.
fn run_in(elf: &Path, work: &Path, args: &[&str; 3], machine: Option<&str>) -> Result<FirmwareRun> {
    let (outputs, costs) = (work.join(args[1]), work.join(args[2]));
    for stale in [&outputs, &costs] {
        let _ = std::fs::remove_file(stale);
    }
    let exit = launch(elf, work, args, machine)?;
    if !exit.status.success() {
        bail!("the firmware failed{} ({}):\n{}", machine.map(|m| format!(" on {m}")).unwrap_or_default(), exit.status, exit.log);
    }
    let outputs = std::fs::read(&outputs).context("the firmware wrote no outputs")?;
    let bytes = std::fs::read(&costs).context("the firmware wrote no cost records")?;
    let costs = CostRecord::decode_all(&bytes).with_context(|| format!("{}", costs.display()))?;
    Ok(FirmwareRun { outputs, costs, log: exit.log })
}

/// Section sizes of an ELF (`llvm-size -A` from rustup's llvm-tools), by section name.
pub fn section_sizes(elf: &Path) -> Result<Vec<(String, u64)>> {
    let rustc = |arg: &str| -> Result<String> {
        let out = Command::new("rustc").arg(arg).output().context("cannot run rustc")?;
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    };
    let sysroot = rustc("--print=sysroot")?.trim().to_string();
    let version = rustc("-vV")?;
    let host = version.lines().find_map(|l| l.strip_prefix("host: ")).context("rustc -vV names no host")?;
    let tool = Path::new(&sysroot).join("lib/rustlib").join(host).join("bin/llvm-size");
    let out = Command::new(&tool)
        .arg("-A")
        .arg(elf)
        .output()
        .with_context(|| format!("cannot run {} (rustup component add llvm-tools, or ./test.sh, which installs it)", tool.display()))?;
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let (name, size) = (f.next()?, f.next()?.parse().ok()?);
            name.starts_with('.').then(|| (name.to_string(), size))
        })
        .collect())
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
        Ok(self.quant.dequantize(q))
    }

    fn counted(&self) -> Option<crate::sim::clock::Counted> {
        Some(crate::sim::clock::Counted { network: self.last_instructions?, preprocess: self.last_preprocess_instructions? })
    }
}

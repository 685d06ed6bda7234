//! `pilot bench firmware`: the firmware's cost in QEMU for each shipped model: instructions per
//! inference, per layer and per MAC (SysTick under `-icount shift=0`, from the cost records the
//! firmware writes), arena, stack high-water, flash and RAM, on the Cortex-M4F (mps2-an386) and
//! Cortex-M7 (mps2-an500) machines; and the flash and RAM of the Black Pill board binary built
//! for the same model.

use std::path::{Path, PathBuf};

use anyhow::{ensure, Context, Result};
use clap::Args;
use common::plan::CameraPlan;
use common::report::CostRecord;
use common::Model;

use crate::cli::report::CHIPS;
use crate::qemu;

#[derive(Args, Debug)]
#[command(after_help = "Example:\n  pilot bench firmware\n  pilot bench firmware --models models/testvectors/pilotnet-random.pnn8")]
pub struct FirmwareBenchArgs {
    /// Model blobs (default: the shipped PilotNet, fast steering network and sign CNN).
    #[arg(long, num_args = 1..)]
    pub models: Vec<PathBuf>,
    /// QEMU machines.
    #[arg(long, num_args = 1.., default_values_t = ["mps2-an386".to_string(), "mps2-an500".to_string()])]
    pub machines: Vec<String>,
}

/// The per-layer table of a run's last frame: name, op, MACs, instructions, instructions/MAC.
fn print_layers(model: &Model<'_>, cost: &CostRecord) {
    println!("  {:<12} {:<8} {:>12} {:>12} {:>9}", "layer", "op", "MACs", "instructions", "per MAC");
    for (i, node) in model.layers().iter().enumerate() {
        let macs = node.layer.macs(model.tensor(i).shape, model.tensor(i + 1).shape);
        let instr = cost.layers.get(i).copied().unwrap_or(0);
        println!("  {:<12} {:<8} {macs:>12} {instr:>12} {:>9}", node.name, node.layer.op_name(), per_mac(instr as u64, macs));
    }
}

/// `instructions / macs` with three decimals, or `-` for a layer without MACs.
fn per_mac(instructions: u64, macs: u64) -> String {
    if macs == 0 {
        "-".into()
    } else {
        format!("{:.3}", instructions as f64 / macs as f64)
    }
}

/// Prints an ELF's flash and static RAM use, and the stack that leaves on the reference chip
/// (the STM32F411CEUx, the first of `pilot report`'s chips).
fn print_memory(what: &str, elf: &Path, blob_bytes: usize) -> Result<()> {
    let ram = CHIPS[0].ram as u64;
    let sections = qemu::section_sizes(elf)?;
    let size = |names: &[&str]| -> u64 { sections.iter().filter(|(n, _)| names.contains(&n.as_str())).map(|(_, s)| s).sum() };
    let (text, rodata, data, bss) = (size(&[".vector_table", ".text"]), size(&[".rodata"]), size(&[".data"]), size(&[".bss", ".uninit"]));
    println!(
        "{what}: flash {} B (code {} B, read-only data {} B of which the blob {blob_bytes} B, data {} B); static RAM {} B (arena and buffers), leaving {} B of the {} B RAM for the stack",
        text + rodata + data,
        text,
        rodata,
        data,
        data + bss,
        ram.saturating_sub(data + bss),
        ram
    );
    Ok(())
}

pub fn run(args: FirmwareBenchArgs) -> Result<()> {
    let missing = qemu::missing_tools();
    ensure!(missing.is_empty(), "the firmware benchmark needs: {}", missing.join("; "));
    let root = std::fs::canonicalize(qemu::repo_dir())?;
    let models = if args.models.is_empty() {
        ["pilotnet/pilotnet.pnn8", "fastnet/fastnet.pnn8", "sign/sign.pnn8"].iter().map(|m| root.join("models").join(m)).collect()
    } else {
        args.models.clone()
    };
    let work = tempfile::tempdir()?;
    for path in &models {
        let blob = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        let model = Model::parse(&blob).with_context(|| format!("{} is not a valid model blob", path.display()))?;
        let bands = CameraPlan::of(&model).bands;
        println!(
            "\n{} ({}): {} MACs, blob {} B, arena {} B (row bands over the first {} layers, {} B of preprocessing row buffers included; whole tensors {} B)",
            model.name(),
            path.display(),
            model.macs(),
            blob.len(),
            bands.arena_bytes(),
            bands.banded_layers(),
            bands.scratch().len,
            model.plan().arena_bytes()
        );
        let elf = qemu::build(path, &work.path().join(format!("{}.elf", model.name())))?;
        print_memory("QEMU application", &elf, blob.len())?;
        if model.output().shape.len() == 1 {
            let board = qemu::build_board(path, &work.path().join(format!("{}-blackpill.elf", model.name())))?;
            print_memory("Black Pill binary (with camera, servo and HAL)", &board, blob.len())?;
        } else {
            println!("Black Pill binary: not built (it steers with one-output models)");
        }
        for (i, machine) in args.machines.iter().enumerate() {
            let run = qemu::run_synthetic(&elf, machine)?;
            let cost = run.costs.last().with_context(|| format!("the firmware on {machine} wrote no cost record"))?;
            if i == 0 {
                println!("per layer on {machine}, one synthetic frame:");
                print_layers(&model, cost);
            }
            println!(
                "{machine}: {} instructions per inference ({} per MAC); preprocessing {} (+ reading rows {}); arena {} B; stack high-water {} B of {} B; model blob {} B",
                cost.network,
                per_mac(cost.network, model.macs()),
                cost.preprocess,
                cost.read_rows,
                cost.arena_bytes,
                cost.stack_high_water,
                cost.stack_bytes,
                blob.len()
            );
        }
    }
    println!("\nAnchor (TensorFlow Lite Micro + CMSIS-NN on mps2-an386, from the issue): PilotNet 55.3 M instructions, sign CNN 9.9 M.");
    Ok(())
}

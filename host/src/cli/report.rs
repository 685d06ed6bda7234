//! `pilot report`: what a model blob contains and what it costs on a chip.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use common::format::Layer;
use common::plan::BandPlan;
use common::Model;

#[derive(Args, Debug)]
#[command(after_help = "Example:\n  pilot report --blob models/pilotnet.pnn8")]
pub struct ReportArgs {
    /// Model blob written by `pilot export` (or `pilot demo`).
    #[arg(long)]
    pub blob: PathBuf,
}

/// A microcontroller's memory, for the fit check.
pub struct Chip {
    pub name: &'static str,
    pub flash: usize,
    /// Largest contiguous RAM region usable for the arena.
    pub ram: usize,
}

pub const CHIPS: &[Chip] = &[
    Chip { name: "STM32F411CEUx", flash: 512 * 1024, ram: 128 * 1024 },
    Chip { name: "STM32F746NGHx", flash: 1024 * 1024, ram: 320 * 1024 },
    Chip { name: "STM32H743ZITx", flash: 2048 * 1024, ram: 512 * 1024 },
];

pub fn run(args: ReportArgs) -> anyhow::Result<()> {
    let bytes = std::fs::read(&args.blob).with_context(|| format!("cannot read {}", args.blob.display()))?;
    let model = Model::parse(&bytes).with_context(|| format!("{} is not a valid model blob", args.blob.display()))?;
    print!("{}", describe(&model, bytes.len()));
    Ok(())
}

/// The report as text: one row per tensor, then totals, the two memory plans and the chip fit.
pub fn describe(model: &Model<'_>, blob_bytes: usize) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let input = model.input();
    let _ = writeln!(s, "model {:?}: input {}x{}x{} (scale 2^{}, zero point {})", model.name(), input.shape.h, input.shape.w, input.shape.c, input.quant.scale_exp, input.quant.zero_point);
    let _ = writeln!(s, "{:<10} {:<8} {:>14} {:>9} {:>12} {:>18} {:>24}", "layer", "op", "output", "params", "MACs", "whole-tensor slot", "row-band slot");
    let (plan, bands) = (model.plan(), band_plan(model));
    let slots = |i: usize| {
        let (whole, band) = (plan.slot(i), bands.slot(i));
        let mut banded = format!("{}..{}", band.offset, band.end());
        if bands.is_window(i) {
            let t = model.tensor(i).shape;
            let _ = write!(banded, " ({} rows)", band.len as usize / (t.w as usize * t.c as usize));
        }
        (format!("{}..{}", whole.offset, whole.end()), banded)
    };
    let shape = |i: usize| {
        let t = model.tensor(i).shape;
        format!("{}x{}x{}", t.h, t.w, t.c)
    };
    let (whole, band) = slots(0);
    let _ = writeln!(s, "{:<10} {:<8} {:>14} {:>9} {:>12} {whole:>18} {band:>24}", "(input)", "", shape(0), "", "");
    for (i, node) in model.layers().iter().enumerate() {
        let params = match node.layer {
            Layer::Conv2d(c) => c.weights.len() + c.bias.len() / 4,
            Layer::Dense(d) => d.weights.len() + d.bias.len() / 4,
            _ => 0,
        };
        let (whole, band) = slots(i + 1);
        let macs = node.layer.macs(model.tensor(i).shape, model.tensor(i + 1).shape);
        let _ = writeln!(s, "{:<10} {:<8} {:>14} {:>9} {:>12} {whole:>18} {band:>24}", node.name, node.layer.op_name(), shape(i + 1), params, macs);
    }
    let _ = writeln!(s, "parameters {}   MACs {}   blob (flash for weights and tables) {} bytes", model.parameters(), model.macs(), blob_bytes);
    let _ = writeln!(
        s,
        "arena, whole tensors: {} bytes (naive ping-pong {} bytes, {:.0}% of it)",
        plan.arena_bytes(),
        plan.naive_ping_pong_bytes(),
        100.0 * plan.arena_bytes() as f64 / plan.naive_ping_pong_bytes() as f64
    );
    let scratch = bands.scratch();
    let banded = match bands.banded_layers() {
        0 => "no layer in row bands (whole tensors are smallest)".to_string(),
        k => format!("{}..{} computed row by row", model.layers()[0].name, model.layers()[k - 1].name),
    };
    let _ = writeln!(
        s,
        "arena, row bands (what the firmware uses): {} bytes ({:.0}% of whole tensors): {banded}; preprocessing row buffers {} bytes at {}..{} while rows stream in",
        bands.arena_bytes(),
        100.0 * bands.arena_bytes() as f64 / plan.arena_bytes() as f64,
        scratch.len,
        scratch.offset,
        scratch.end()
    );
    for chip in CHIPS {
        let fits = blob_bytes <= chip.flash && bands.arena_bytes() <= chip.ram;
        let _ = writeln!(
            s,
            "  {:<14} flash {:>4} KB, RAM {:>4} KB: {} (weights {:.0}% of flash, row-band arena {:.0}% of RAM; code and stack not included)",
            chip.name,
            chip.flash / 1024,
            chip.ram / 1024,
            if fits { "fits" } else { "DOES NOT FIT" },
            100.0 * blob_bytes as f64 / chip.flash as f64,
            100.0 * bands.arena_bytes() as f64 / chip.ram as f64
        );
    }
    s
}

/// The row-band plan the firmware builds for `model` (`BandPlan::for_camera`).
pub fn band_plan(model: &Model<'_>) -> BandPlan {
    BandPlan::for_camera(model)
}

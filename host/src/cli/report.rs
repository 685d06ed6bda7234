//! `pilot report`: what a model blob contains and what it costs on a chip: per layer its
//! parameters, MACs, memory and the firmware's instructions (pooling and the stream's copies
//! included); per board (`common::board`) the frame rate, the latency from the camera's frame
//! to the servo command and whether the model fits.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use common::board::cost::FrameCost;
use common::board::timing::{FrameTiming, Pipeline};
use common::board::{Board, BLACKPILL, BOARDS, F746, H743, MIN_STACK_BYTES};
use common::format::Layer;
use common::plan::CameraPlan;
use common::Model;

#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  pilot report --blob models/pilotnet/pilotnet.pnn8\n  pilot report --blob models/sign/sign.pnn8\n  pilot report --onnx bvlcalexnet-12.onnx          the nodes a transfer can cut at, with their output shapes\n  pilot report --onnx keras-model.onnx --input-size 224x224\n\nInstructions are the firmware's (DSP kernels, row-band stream) as `pilot bench firmware` measures them in QEMU; time on a board uses its conservative cycles per instruction, the camera's frame period and readout (see common/src/board/)."
)]
pub struct ReportArgs {
    /// Model blob written by `pilot export` (or `pilot demo`).
    #[arg(long, required_unless_present = "onnx", conflicts_with = "onnx")]
    pub blob: Option<PathBuf>,
    /// Any ONNX image network (e.g. from the ONNX model zoo): its input and every node with
    /// its output shape for one image, i.e. where `--cut` can take features.
    #[arg(long)]
    pub onnx: Option<PathBuf>,
    /// --onnx: the input size (HxW) where the graph leaves it open.
    #[arg(long, value_parser = super::train::parse_size, requires = "onnx")]
    pub input_size: Option<(u16, u16)>,
    /// --onnx: the input layout where the graph does not make it clear.
    #[arg(long, value_enum, requires = "onnx")]
    pub layout: Option<crate::onnx::foreign::Layout>,
}

/// A microcontroller's memory, for the fit check.
pub struct Chip {
    pub name: &'static str,
    pub flash: usize,
    /// Largest contiguous RAM region usable for the arena.
    pub ram: usize,
}

/// The boards' chips (`common::board`), the reference chip first.
pub const CHIPS: &[Chip] = &[chip(&BLACKPILL), chip(&F746), chip(&H743)];

const fn chip(b: &Board) -> Chip {
    Chip { name: b.chip, flash: b.flash_bytes as usize, ram: b.ram_bytes as usize }
}

pub fn run(args: ReportArgs) -> anyhow::Result<()> {
    if let Some(path) = &args.onnx {
        let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        let hints = crate::onnx::foreign::InputHints { size: args.input_size, layout: args.layout };
        let graph = crate::onnx::foreign::ForeignGraph::read(&bytes, &path.display().to_string(), hints)?;
        print!("{}", graph.describe());
        return Ok(());
    }
    let blob = args.blob.as_ref().context("give --blob or --onnx")?;
    let bytes = std::fs::read(blob).with_context(|| format!("cannot read {}", blob.display()))?;
    let model = Model::parse(&bytes).with_context(|| format!("{} is not a valid model blob", blob.display()))?;
    print!("{}", describe(&model, bytes.len()));
    Ok(())
}

/// The report as text: one row per tensor, then totals, the two memory plans and the chip fit.
pub fn describe(model: &Model<'_>, blob_bytes: usize) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let input = model.input();
    let _ = writeln!(
        s,
        "model {:?}: input {}x{}x{} (scale 2^{}, zero point {})",
        model.name(),
        input.shape.h,
        input.shape.w,
        input.shape.c,
        input.quant.scale_exp,
        input.quant.zero_point
    );
    let cost = FrameCost::of(model, None);
    let _ = writeln!(
        s,
        "{:<10} {:<8} {:>14} {:>9} {:>12} {:>18} {:>24} {:>13} {:>8}",
        "layer", "op", "output", "params", "MACs", "whole-tensor slot", "row-band slot", "instructions", "per MAC"
    );
    let (plan, bands) = (model.plan(), CameraPlan::of(model).bands);
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
        let instr = cost.layer(i).total();
        let per_mac = if macs == 0 { "-".to_string() } else { format!("{:.2}", instr as f64 / macs as f64) };
        let _ = writeln!(
            s,
            "{:<10} {:<8} {:>14} {:>9} {:>12} {whole:>18} {band:>24} {instr:>13} {per_mac:>8}",
            node.name,
            node.layer.op_name(),
            shape(i + 1),
            params,
            macs
        );
    }
    let _ = writeln!(s, "parameters {}   MACs {}   blob (flash for weights and tables) {} bytes", model.parameters(), model.macs(), blob_bytes);
    let pre = match model.def().input.preprocess {
        Some(pp) => format!("preprocessing {} ({}x{} {:?} frames)", cost.preprocess.total(), pp.frame_w, pp.frame_h, pp.format),
        None => "no preprocessing spec".to_string(),
    };
    let _ = writeln!(
        s,
        "firmware instructions per frame: network {} ({} in the row bands and the stream, {} after them), {pre}",
        cost.network().total(),
        cost.network_streamed().total(),
        cost.network_tail().total()
    );
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
    s.push_str(&boards(model, blob_bytes));
    s
}

/// Milliseconds, for the report.
fn ms(ns: u64) -> String {
    format!("{:.1} ms", ns as f64 / 1e6)
}

/// Per board: the fit, then the frame rate and the latency and where the time goes.
fn boards(model: &Model<'_>, blob_bytes: usize) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "boards (flash: blob + {} KB of code; RAM: arena + statics + {} KB of stack; time at each board's conservative cycles per instruction, latency from the start of the camera's frame to the servo command):",
        common::board::CODE_BYTES / 1024,
        MIN_STACK_BYTES / 1024
    );
    for b in BOARDS {
        let fit = b.fit(model, blob_bytes);
        let _ = writeln!(
            s,
            "  {:<9} {} {} at {} MHz: flash {:.1} of {} KB, RAM {:.1} of {} KB: {}",
            b.name,
            b.chip,
            b.core.name(),
            b.clock_hz / 1_000_000,
            fit.flash_needed as f64 / 1024.0,
            fit.flash / 1024,
            fit.ram_needed as f64 / 1024.0,
            fit.ram / 1024,
            if fit.fits() { "fits" } else { "DOES NOT FIT" }
        );
        let Some(fe) = b.front_end(model) else {
            let cost = FrameCost::of(model, None);
            let why = if model.def().input.preprocess.is_some() {
                "no sensor mode holds the model's crop at its input size"
            } else {
                "the model has no preprocessing spec"
            };
            let _ = writeln!(
                s,
                "            no camera timing ({why}); the network alone: {:.1} ms ({} instructions)",
                b.nanos(b.cpi.cycles(&cost.network())) as f64 / 1e6,
                cost.network().total()
            );
            continue;
        };
        let (setup, pp) = (fe.setup, fe.frames);
        let w = setup.window;
        let camera = format!(
            "{}, {} mode ({:.0} frames/s), window {}x{} at ({}, {}) scaled to {}x{} RGB565",
            b.camera.name,
            setup.mode.name,
            1e9 / fe.camera.frame_ns as f64,
            w.w,
            w.h,
            w.x,
            w.y,
            setup.out_w,
            setup.out_h
        );
        let cost = FrameCost::of(model, Some(&pp));
        let instr = cost.network().total() + cost.preprocess.total();
        let cycles = b.cpi.cycles(&cost.network()) + b.cpi.cycles(&cost.preprocess);
        let best = b.cpi.best_cycles(&cost.network()) + b.cpi.best_cycles(&cost.preprocess);
        let _ = writeln!(
            s,
            "            camera: {camera}; {} instructions a frame ({:.0} ms at {:.2}-{:.2} cycles per instruction)",
            instr,
            b.nanos(cycles) as f64 / 1e6,
            best as f64 / instr.max(1) as f64,
            cycles as f64 / instr.max(1) as f64
        );
        for pipeline in [Pipeline::Sequential, Pipeline::Overlapped] {
            if let Some(t) = b.frame_timing(model, pipeline) {
                let _ = writeln!(s, "            {}", timing_line(&t));
            }
        }
    }
    s
}

fn timing_line(t: &FrameTiming) -> String {
    let readout = if t.work.readout_ns > 0 { format!(", readout {}", ms(t.work.readout_ns)) } else { String::new() };
    format!(
        "{:<10} {:>5.2} decisions/s (every {}), latency {} = camera {} (frame {}, start delay {}{readout}) + preprocessing {} + network {}; capture request waits {} for the frame",
        t.pipeline.name(),
        t.decisions_per_second(),
        ms(t.period_ns),
        ms(t.latency_ns),
        ms(t.camera_latency_ns()),
        ms(t.sensor_ns),
        ms(t.notice_ns),
        ms(t.work.preprocess_ns),
        ms(t.work.network_ns()),
        ms(t.capture_wait_ns)
    )
}

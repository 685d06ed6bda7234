//! The QEMU application: camera frames in, steering (or class scores) out, cost measured.
//!
//! `qemu FRAMES OUTPUTS` (semihosting arguments; `cargo run --release -- FRAMES OUTPUTS`):
//! FRAMES holds raw camera frames back to back in the model's pixel format (RGB888 320x160
//! for PilotNet). Each frame is read one row per semihosting call, as a camera delivers it,
//! and preprocessed on the fly (`common`'s `RowStream`) into the arena's input slot; the
//! network runs and its int8 outputs are appended to OUTPUTS. Without arguments it runs one
//! synthetic road frame made on the chip, to show the cost profile.
//!
//! For each inference it logs the instructions per layer and in total (SysTick under
//! `-icount shift=0`), the stack high-water mark and the arena bytes; at the end a per-layer
//! table with instructions per MAC. Exit status: 0 done, 1 reported error (bad model blob, bad
//! file), 101 panic or fault.
#![no_std]
#![no_main]

use common::format::MAX_LAYERS;
use common::interp::run_with;
use common::preprocess::{Preprocess, RowStream};
use common::{Model, Shape};
use cortex_m_rt::entry;
use firmware::cost::{Clock, INSTRUCTIONS_PER_TICK};
use firmware::hostio::{self, Read, Write};
use firmware::{exit, kernels, model, stack};
use semihosting::fs::File;

/// An error already reported through defmt.
struct Reported;

#[entry]
fn main() -> ! {
    match run() {
        Ok(()) => exit::exit(exit::SUCCESS),
        Err(Reported) => exit::exit(exit::FAILURE),
    }
}

/// Where frames come from.
enum Source {
    File { file: File, frames: u32 },
    Synthetic,
}

fn run() -> Result<(), Reported> {
    let Some(p) = cortex_m::Peripherals::take() else {
        defmt::error!("core peripherals already taken");
        return Err(Reported);
    };
    let clock = Clock::start(p.SYST);

    defmt::info!("model blob {=str} ({=usize} B in flash)", model::MODEL_PATH, model::BLOB.len());
    let t = clock.now();
    let model = model::parse().map_err(|e| {
        defmt::error!("model blob rejected by the parser: {}", e);
        Reported
    })?;
    defmt::info!(
        "model {=str}: {=usize} layers, {=u64} MACs, arena {=usize} B, parsed and validated in {=u64} instructions",
        model.name(),
        model.layers().len(),
        model.macs(),
        model::ARENA_BYTES,
        clock.instructions_since(t)
    );
    let Some(pp) = model.def().input.preprocess else {
        defmt::error!("the model has no preprocessing spec: this application takes camera frames");
        return Err(Reported);
    };
    let Some(arena) = model::arena() else {
        defmt::error!("the arena is already taken");
        return Err(Reported);
    };
    if model.plan().slot(0).offset != 0 || model.input().shape.len() != model::INPUT_BYTES {
        defmt::error!("the model input is not where build.rs planned it");
        return Err(Reported);
    }

    let args = hostio::args().map_err(|e| {
        defmt::error!("{=str}", e);
        Reported
    })?;
    let mut source = match &args.input {
        Some(path) => open_frames(path, &pp)?,
        None => {
            defmt::info!("no FRAMES argument: running one synthetic frame made on the chip");
            Source::Synthetic
        }
    };
    let mut sink = match &args.output {
        Some(path) => Some((
            hostio::create(path).map_err(|e| {
                hostio::report("cannot create", path, e);
                Reported
            })?,
            path,
        )),
        None => None,
    };

    let frames = match source {
        Source::File { frames, .. } => frames,
        Source::Synthetic => 1,
    };
    let mut kernels = kernels::active();
    let mut layer_instr = [0u32; MAX_LAYERS];
    let mut total = 0u64;
    for frame in 0..frames {
        let t0 = clock.now();
        let pre_ticks = load_frame(&pp, model.input().shape, &mut source, arena, &clock)?;
        let t1 = clock.now();
        let mut last = t1;
        let out = run_with(&model, &mut kernels, arena, |i, _| {
            let now = clock.now();
            layer_instr[i] = ((now - last) * INSTRUCTIONS_PER_TICK) as u32;
            last = now;
        })
        .map_err(|e| {
            defmt::error!("inference failed: {}", e);
            Reported
        })?;
        let inference = clock.instructions_since(t1);
        total += inference;
        if let Some((file, path)) = sink.as_mut() {
            file.write_all(common::i8_as_bytes(out)).map_err(|e| {
                hostio::report("cannot write", path, e);
                Reported
            })?;
        }
        defmt::info!(
            "frame {=u32}: inference {=u64} instructions, preprocessing {=u64} (+ reading rows {=u64}), stack high-water {=usize} B, arena {=usize} B, per layer {}, output {}",
            frame,
            inference,
            pre_ticks * INSTRUCTIONS_PER_TICK,
            (t1 - t0 - pre_ticks) * INSTRUCTIONS_PER_TICK,
            stack::high_water(),
            model::ARENA_BYTES,
            &layer_instr[..model.layers().len()],
            &out[..out.len().min(8)]
        );
    }
    summary(&model, &layer_instr, total, frames);
    Ok(())
}

fn open_frames(path: &hostio::Path, pp: &Preprocess) -> Result<Source, Reported> {
    let (file, len) = hostio::open(path).map_err(|e| {
        hostio::report("cannot open", path, e);
        Reported
    })?;
    let frame_bytes = pp.frame_bytes() as u64;
    if len % frame_bytes != 0 {
        defmt::error!(
            "{=str}: {=u64} B is not a whole number of {=u16}x{=u16} {} frames ({=u64} B each)",
            path.as_str(), len, pp.frame_w, pp.frame_h, pp.format, frame_bytes
        );
        return Err(Reported);
    }
    defmt::info!("{=str}: {=u64} frames", path.as_str(), len / frame_bytes);
    Ok(Source::File { file, frames: (len / frame_bytes) as u32 })
}

/// Takes one frame row by row into the arena's input slot; returns the ticks spent
/// preprocessing (reading the rows excluded).
fn load_frame(pp: &Preprocess, shape: Shape, source: &mut Source, arena: &mut [i8], clock: &Clock) -> Result<u64, Reported> {
    let Some(b) = model::FrameBuffers::split(arena) else {
        defmt::error!("the arena is smaller than build.rs planned");
        return Err(Reported);
    };
    let mut stream = RowStream::new(*pp, shape, b.interp, b.out_row).map_err(|e| {
        defmt::error!("preprocessing: {}", e);
        Reported
    })?;
    let (input, row) = (b.input, &mut b.frame_row[..pp.row_bytes()]);
    let row_len = shape.w as usize * shape.c as usize;
    let mut ticks = 0;
    for y in 0..pp.frame_h {
        match source {
            Source::File { file, .. } => file.read_exact(row).map_err(|_| {
                defmt::error!("cannot read frame row {=u16}", y);
                Reported
            })?,
            Source::Synthetic => synthetic_row(pp, y, row),
        }
        let t = clock.now();
        stream
            .push_row(row, |oy, out| input[oy as usize * row_len..][..row_len].copy_from_slice(out))
            .map_err(|e| {
                defmt::error!("preprocessing: {}", e);
                Reported
            })?;
        ticks += clock.now() - t;
    }
    Ok(ticks)
}

/// Row `y` of a road-like frame: sky, then a grey road widening towards the bottom between
/// green verges, with a texture so that the resize sees edges.
fn synthetic_row(pp: &Preprocess, y: u16, row: &mut [u8]) {
    let (w, h) = (pp.frame_w as u32, pp.frame_h as u32);
    let (y, horizon) = (y as u32, h * 2 / 5);
    let half_road = if y < horizon { 0 } else { w / 16 + (y - horizon) * w / (2 * (h - horizon)) };
    for x in 0..w {
        let dx = x.abs_diff(w / 2);
        let rgb = if y < horizon {
            [120 + (y * 80 / horizon) as u8, 170, 230]
        } else if dx < half_road {
            [105, 105, 110]
        } else {
            [40 + ((x * 7 + y * 13) % 30) as u8, 120, 40]
        };
        let px = common::preprocess::to_rgb565(rgb).to_be_bytes();
        match pp.format {
            common::preprocess::PixelFormat::Rgb888 => row[3 * x as usize..][..3].copy_from_slice(&rgb),
            common::preprocess::PixelFormat::Rgb565Be => row[2 * x as usize..][..2].copy_from_slice(&px),
            common::preprocess::PixelFormat::Rgb565Le => {
                row[2 * x as usize..][..2].copy_from_slice(&[px[1], px[0]])
            }
        }
    }
}

/// Per-layer cost of the last inference, and the totals.
fn summary(model: &Model<'_>, layer_instr: &[u32; MAX_LAYERS], total: u64, frames: u32) {
    defmt::info!("per layer (last frame): name op MACs instructions instructions/MAC");
    for (i, node) in model.layers().iter().enumerate() {
        let macs = node.layer.macs(model.tensor(i).shape, model.tensor(i + 1).shape);
        let per_mac = if macs == 0 { 0.0 } else { layer_instr[i] as f32 / macs as f32 };
        defmt::info!(
            "{=str} {=str} {=u64} {=u32} {=f32}",
            node.name, node.layer.op_name(), macs, layer_instr[i], per_mac
        );
    }
    let per_frame = total / frames.max(1) as u64;
    defmt::info!(
        "total: {=u64} instructions per inference ({=f32} per MAC) over {=u32} frames; arena {=usize} B; stack high-water {=usize} B of {=usize} B; model blob {=usize} B",
        per_frame,
        per_frame as f32 / model.macs().max(1) as f32,
        frames,
        model::ARENA_BYTES,
        stack::high_water(),
        stack::size(),
        model::BLOB.len()
    );
}

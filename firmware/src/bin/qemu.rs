//! The QEMU application: camera frames in, steering (or class scores) out, cost measured.
//!
//! `qemu FRAMES OUTPUTS` (semihosting arguments; `cargo run --release -- FRAMES OUTPUTS`):
//! FRAMES holds raw camera frames back to back in the model's pixel format (RGB888 320x160
//! for PilotNet). Each frame is read one row per semihosting call, as a camera delivers it,
//! and preprocessed on the fly (`common`'s `RowStream`); every model-input row goes straight
//! into the first layers, which run in row bands (`common::interp::Stream`), so neither the
//! input nor the early activations are ever held whole. After the last row the rest of the
//! network runs and its int8 outputs are appended to OUTPUTS. Without arguments it runs one
//! synthetic road frame made on the chip, to show the cost profile.
//!
//! For each inference it logs the instructions per layer (a banded layer's rows summed) and
//! in total (SysTick under `-icount shift=0`), the stack high-water mark and the arena bytes;
//! at the end a per-layer table with instructions per MAC. Exit status: 0 done, 1 reported
//! error (bad model blob, bad file), 101 panic or fault.
#![no_std]
#![no_main]

use common::format::MAX_LAYERS;
use common::interp::{Kernels, Stream};
use common::preprocess::{Preprocess, RowStream};
use common::Model;
use cortex_m_rt::entry;
use firmware::cost::{Clock, INSTRUCTIONS_PER_TICK};
use firmware::hostio::{self, Read, Write};
use firmware::{exit, kernels, model, stack};
use semihosting::fs::File;

firmware::qemu_runtime!();

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
    // Borrowed where `parse` returned it: moving the ~2.3 KB model out would take a second copy.
    let parsed = model::parse();
    let model = parsed.as_ref().map_err(|e| {
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
    serve(model, &clock)
}

/// Streams every frame through the parsed model.
// Never inlined: its locals (the stream, the file handles, the per-layer table) are then not on
// the stack while `model::parse` runs, so the high-water mark is the larger of the two, not
// their sum.
#[inline(never)]
fn serve(model: &Model<'_>, clock: &Clock) -> Result<(), Reported> {
    let Some(pp) = model.def().input.preprocess else {
        defmt::error!("the model has no preprocessing spec: this application takes camera frames");
        return Err(Reported);
    };
    let Some(arena) = model::arena() else {
        defmt::error!("the arena is already taken");
        return Err(Reported);
    };
    let mut stream = Stream::new(model, model::SCRATCH_BYTES);
    let plan = *stream.plan();
    if plan.arena_bytes() > arena.len() || plan.scratch().len as usize != model::SCRATCH_BYTES {
        defmt::error!("the memory plan differs from the one build.rs sized the arena for");
        return Err(Reported);
    }
    defmt::info!(
        "row bands: the first {=usize} layers row by row; arena {=usize} B with {=usize} B of preprocessing row buffers (whole tensors: {=usize} B)",
        plan.banded_layers(),
        plan.arena_bytes(),
        model::SCRATCH_BYTES,
        model::WHOLE_ARENA_BYTES
    );

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
        layer_instr.fill(0);
        let (out, ticks) = infer_frame(&pp, model, &mut stream, &mut kernels, &mut source, arena, clock, &mut layer_instr)?;
        let inference = ticks.network * INSTRUCTIONS_PER_TICK;
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
            (ticks.total - ticks.read - ticks.network) * INSTRUCTIONS_PER_TICK,
            ticks.read * INSTRUCTIONS_PER_TICK,
            stack::high_water(),
            model::ARENA_BYTES,
            &layer_instr[..model.layers().len()],
            &out[..out.len().min(8)]
        );
    }
    summary(model, &layer_instr, total, frames);
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

/// Ticks of one frame.
struct FrameTicks {
    /// Reading the camera rows (semihosting).
    read: u64,
    /// The network: row bands and the layers after them.
    network: u64,
    /// Everything, preprocessing included.
    total: u64,
}

/// Streams one frame: reads each camera row, preprocesses it (`RowStream`) and pushes every
/// model-input row it completes into the row bands at once; after the last row runs the rest
/// of the network. Adds each layer's instructions to `layer_instr` and returns the output.
#[allow(clippy::too_many_arguments)]
fn infer_frame<'a, K: Kernels>(
    pp: &Preprocess,
    model: &Model<'_>,
    stream: &mut Stream<'_, '_>,
    kernels: &mut K,
    source: &mut Source,
    arena: &'a mut [i8],
    clock: &Clock,
    layer_instr: &mut [u32; MAX_LAYERS],
) -> Result<(&'a [i8], FrameTicks), Reported> {
    let t0 = clock.now();
    let scratch = stream.plan().scratch();
    let buffers = arena.split_at_mut_checked(scratch.offset as usize).and_then(|(bands, rest)| {
        let b = model::FrameBuffers::split(rest.get_mut(..scratch.len as usize)?)?;
        Some((bands, b))
    });
    let Some((bands, b)) = buffers else {
        defmt::error!("the arena is smaller than build.rs planned");
        return Err(Reported);
    };
    let mut rows = RowStream::new(*pp, model.input().shape, b.interp, b.out_row).map_err(|e| {
        defmt::error!("preprocessing: {}", e);
        Reported
    })?;
    let row = &mut b.frame_row[..pp.row_bytes()];
    let (mut read, mut network, mut failed) = (0, 0, None);
    for y in 0..pp.frame_h {
        let t = clock.now();
        match source {
            Source::File { file, .. } => file.read_exact(row).map_err(|_| {
                defmt::error!("cannot read frame row {=u16}", y);
                Reported
            })?,
            Source::Synthetic => synthetic_row(pp, y, row),
        }
        read += clock.now() - t;
        rows.push_row(row, |_, input_row| {
            let start = clock.now();
            // A layer is charged from the previous layer's row (or this input row) to its own.
            let mut last = start;
            let pushed = stream.push_row(kernels, bands, input_row, |i, _, _| {
                let now = clock.now();
                layer_instr[i] += ((now - last) * INSTRUCTIONS_PER_TICK) as u32;
                last = now;
            });
            if let Err(e) = pushed {
                failed.get_or_insert(e);
            }
            network += clock.now() - start;
        })
        .map_err(|e| {
            defmt::error!("preprocessing: {}", e);
            Reported
        })?;
        if let Some(e) = failed {
            defmt::error!("inference failed: {}", e);
            return Err(Reported);
        }
    }
    let start = clock.now();
    let mut last = start;
    let out = stream
        .finish(kernels, arena, |i, _, _| {
            let now = clock.now();
            layer_instr[i] += ((now - last) * INSTRUCTIONS_PER_TICK) as u32;
            last = now;
        })
        .map_err(|e| {
            defmt::error!("inference failed: {}", e);
            Reported
        })?;
    let end = clock.now();
    Ok((out, FrameTicks { read, network: network + end - start, total: end - t0 }))
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
        defmt::info!(
            "{=str} {=str} {=u64} {=u32} {=f32}",
            node.name, node.layer.op_name(), macs, layer_instr[i], per_mac(layer_instr[i] as u64, macs)
        );
    }
    let per_frame = total / frames.max(1) as u64;
    defmt::info!(
        "total: {=u64} instructions per inference ({=f32} per MAC) over {=u32} frames; arena {=usize} B; stack high-water {=usize} B of {=usize} B; model blob {=usize} B",
        per_frame,
        per_mac(per_frame, model.macs()),
        frames,
        model::ARENA_BYTES,
        stack::high_water(),
        stack::size(),
        model::BLOB.len()
    );
}

/// `instructions / macs` for the log (0 for a layer without MACs). Through u32, saturating (a
/// layer of 4 G MACs would take minutes on the chip): its conversion to f32 is one instruction,
/// u64's a library function.
fn per_mac(instructions: u64, macs: u64) -> f32 {
    let f = |v: u64| u32::try_from(v).unwrap_or(u32::MAX) as f32;
    if macs == 0 {
        0.0
    } else {
        f(instructions) / f(macs)
    }
}

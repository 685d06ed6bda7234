//! The QEMU application: camera frames in, steering (or class scores) out, cost measured.
//!
//! `qemu [FRAMES [OUTPUTS [COSTS]]]` (semihosting arguments; `cargo run --release -- FRAMES
//! OUTPUTS COSTS`; `-` for none): FRAMES holds raw camera frames back to back in the model's
//! pixel format (RGB888 320x160 for PilotNet); without it the application runs one synthetic
//! road frame made on the chip, to show the cost profile. Each frame is read one row per
//! semihosting call, as a camera delivers it, and goes through the camera pipeline
//! (`firmware::pipeline`: preprocessing row by row, the first layers in row bands, the rest
//! after the last row). The int8 outputs are appended to OUTPUTS, and one cost record per frame
//! (`common::report::CostRecord`, postcard) to COSTS.
//!
//! For each inference it also logs the instructions per layer (a banded layer's rows summed)
//! and in total (SysTick under `-icount shift=0`), the stack high-water mark and the arena; at
//! the end a per-layer table with instructions per MAC. Exit status: 0 done, 1 reported error
//! (bad model blob, bad file), 101 panic or fault.
#![no_std]
#![no_main]

use common::format::MAX_LAYERS;
use common::preprocess::Preprocess;
use common::report::{CostRecord, MAX_ENCODED_BYTES};
use common::Model;
use cortex_m_rt::entry;
use firmware::pipeline::{FrameError, Pipeline, Probe};
use firmware::{kernels, model, stack};
use qemu::cost::{Clock, INSTRUCTIONS_PER_TICK};
use qemu::exit;
use qemu::hostio::{self, Read, Write};
use semihosting::fs::File;

qemu::runtime!();

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
// Never inlined: its locals (the pipeline, the file handles, the per-layer table) are then not
// on the stack while `model::parse` runs, so the high-water mark is the larger of the two, not
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
    let mut pipeline = Pipeline::new(model, pp, arena).map_err(|e| {
        defmt::error!("the camera pipeline cannot run the model: {}", e);
        Reported
    })?;
    let plan = pipeline.plan();
    defmt::info!(
        "row bands: the first {=usize} layers row by row; arena {=usize} B with {=u32} B of preprocessing row buffers (whole tensors: {=usize} B)",
        plan.banded_layers(),
        plan.arena_bytes(),
        plan.scratch().len,
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
    let mut outputs = create(args.output.as_ref())?;
    let mut costs = create(args.costs.as_ref())?;

    let frames = match source {
        Source::File { frames, .. } => frames,
        Source::Synthetic => 1,
    };
    let mut kernels = kernels::active();
    let mut cost = CostRecord::default();
    let mut total = 0u64;
    for frame in 0..frames {
        let mut timer = LayerTimer::new(clock);
        let mut read = 0;
        let t0 = clock.now();
        let out = pipeline
            .run(&mut kernels, &mut timer, |row, rows| {
                for y in 0..pp.frame_h {
                    let t = clock.now();
                    match &mut source {
                        Source::File { file, .. } => file.read_exact(row).map_err(|_| y)?,
                        Source::Synthetic => synthetic_row(&pp, y, row),
                    }
                    read += clock.now() - t;
                    rows.push(row);
                }
                Ok(())
            })
            .map_err(|e| {
                match e {
                    FrameError::Read(y) => defmt::error!("cannot read frame row {=u16}", y),
                    FrameError::Preprocess(e) => defmt::error!("preprocessing: {}", e),
                    FrameError::Network(e) => defmt::error!("inference failed: {}", e),
                }
                Reported
            })?;
        let ticks = clock.now() - t0;
        cost = CostRecord {
            network: timer.network * INSTRUCTIONS_PER_TICK,
            preprocess: (ticks - read - timer.network) * INSTRUCTIONS_PER_TICK,
            read_rows: read * INSTRUCTIONS_PER_TICK,
            layers: timer.layer_instr[..model.layers().len()].iter().copied().collect(),
            stack_high_water: stack::high_water() as u32,
            stack_bytes: stack::size() as u32,
            arena_bytes: model::ARENA_BYTES as u32,
        };
        total += cost.network;
        if let Some((file, path)) = outputs.as_mut() {
            write(file, path, common::i8_as_bytes(out))?;
        }
        defmt::info!(
            "frame {=u32}: inference {=u64} instructions, preprocessing {=u64} (+ reading rows {=u64}), stack high-water {=u32} B, arena {=u32} B, per layer {}, output {}",
            frame,
            cost.network,
            cost.preprocess,
            cost.read_rows,
            cost.stack_high_water,
            cost.arena_bytes,
            &cost.layers[..],
            &out[..out.len().min(8)]
        );
        if let Some((file, path)) = costs.as_mut() {
            write(file, path, cost.encode(&mut [0; MAX_ENCODED_BYTES]))?;
        }
    }
    summary(model, &cost, total, frames);
    Ok(())
}

/// Times the network and each layer: a layer is charged from the previous layer's row (or
/// the start of the network's turn) to its own.
struct LayerTimer<'c> {
    clock: &'c Clock,
    /// Ticks of the network so far in this frame.
    network: u64,
    /// When the network's current turn started, and when the last layer finished.
    start: u64,
    last: u64,
    /// Instructions of each layer so far in this frame.
    layer_instr: [u32; MAX_LAYERS],
}

impl<'c> LayerTimer<'c> {
    fn new(clock: &'c Clock) -> Self {
        LayerTimer { clock, network: 0, start: 0, last: 0, layer_instr: [0; MAX_LAYERS] }
    }
}

impl Probe for LayerTimer<'_> {
    fn network_start(&mut self) {
        self.start = self.clock.now();
        self.last = self.start;
    }

    fn layer_done(&mut self, layer: usize) {
        let now = self.clock.now();
        self.layer_instr[layer] += ((now - self.last) * INSTRUCTIONS_PER_TICK) as u32;
        self.last = now;
    }

    fn network_end(&mut self) {
        self.network += self.clock.now() - self.start;
    }
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
            path.as_str(),
            len,
            pp.frame_w,
            pp.frame_h,
            pp.format,
            frame_bytes
        );
        return Err(Reported);
    }
    defmt::info!("{=str}: {=u64} frames", path.as_str(), len / frame_bytes);
    Ok(Source::File { file, frames: (len / frame_bytes) as u32 })
}

/// Creates the file at `path`, if there is one.
fn create(path: Option<&hostio::Path>) -> Result<Option<(File, &hostio::Path)>, Reported> {
    let Some(path) = path else { return Ok(None) };
    match hostio::create(path) {
        Ok(file) => Ok(Some((file, path))),
        Err(e) => {
            hostio::report("cannot create", path, e);
            Err(Reported)
        }
    }
}

fn write(file: &mut File, path: &hostio::Path, bytes: &[u8]) -> Result<(), Reported> {
    file.write_all(bytes).map_err(|e| {
        hostio::report("cannot write", path, e);
        Reported
    })
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
            common::preprocess::PixelFormat::Rgb565Le => row[2 * x as usize..][..2].copy_from_slice(&[px[1], px[0]]),
        }
    }
}

/// Per-layer cost of the last inference, and the totals.
fn summary(model: &Model<'_>, last: &CostRecord, total: u64, frames: u32) {
    defmt::info!("per layer (last frame): name op MACs instructions instructions/MAC");
    for (i, node) in model.layers().iter().enumerate() {
        let macs = node.layer.macs(model.tensor(i).shape, model.tensor(i + 1).shape);
        let instr = last.layers.get(i).copied().unwrap_or(0);
        defmt::info!("{=str} {=str} {=u64} {=u32} {=f32}", node.name, node.layer.op_name(), macs, instr, per_mac(instr as u64, macs));
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

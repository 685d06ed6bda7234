//! The boards the firmware runs on, each described once: clock, memory, the cycles per
//! instruction of our kernels, the camera. Everything that reports time (`pilot report`, the
//! simulator's closed loop) takes its figures from here.
//!
//! - [`cost`]: the instructions one frame costs the firmware, per layer and per kind of code
//!   (the same counts the firmware logs in QEMU under `-icount shift=0`).
//! - [`cpi`]: cycles per instruction of each kind of code on each core and memory system,
//!   derived from the disassembly of the kernels and the cores' cycle timings.
//! - [`camera`]: the sensor's frame period and the readout.
//! - [`timing`]: how they combine into decisions per second and latency.
//!
//! `no_std`, no allocation: the host, build scripts and the firmware can all use it.

pub mod camera;
pub mod cost;
pub mod cpi;
pub mod front_end;
pub mod timing;

use crate::format::Model;
use crate::plan::BandPlan;
use crate::preprocess::Preprocess;

use camera::{Camera, Link, Nanos};
use cost::FrameCost;
use cpi::CpiTable;
use front_end::FrontEnd;
use timing::{FrameTiming, Pipeline, Work};

/// The processor core.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Core {
    CortexM4F,
    CortexM7,
}

impl Core {
    pub fn name(self) -> &'static str {
        match self {
            Core::CortexM4F => "Cortex-M4F",
            Core::CortexM7 => "Cortex-M7",
        }
    }
}

/// One board: its chip, clock, memory, the cycles per instruction of our code on it, its camera.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Board {
    /// Short name, as the command line takes it (`blackpill`, `f746`, `h743`).
    pub name: &'static str,
    /// The board, in words.
    pub description: &'static str,
    /// The chip, as probe-rs names it.
    pub chip: &'static str,
    pub core: Core,
    pub clock_hz: u32,
    pub flash_bytes: u32,
    /// The largest contiguous RAM region: the arena, the other statics and the stack live there.
    pub ram_bytes: u32,
    pub cpi: &'static CpiTable,
    pub camera: Camera,
}

/// Stack the firmware needs besides its static buffers: the figure `firmware/build/chip.rs`
/// checks the build against (measured high-water mark 10.8 KB, set while parsing the model).
pub const MIN_STACK_BYTES: u32 = 12 * 1024;
/// Statics other than the model's buffers (logger state, flags), as `firmware/build/chip.rs`
/// counts them.
pub const OTHER_STATICS_BYTES: u32 = 256;
/// Flash the board firmware needs besides the model blob: the Black Pill binary's code and
/// read-only data with the camera, servo and HAL (`pilot bench firmware` measures it: 46.6 KB
/// built for PilotNet, against 32.0 KB for the QEMU application); rounded up.
pub const CODE_BYTES: u32 = 48 * 1024;

/// The camera every board here uses: 320x240 RGB565 out of an OV2640 in UXGA mode with a 24 MHz
/// input clock (see [`camera`]).
const OV2640_XCLK_HZ: u32 = 24_000_000;

/// The M7 boards' camera (assumed): an OV2640 on the DCMI port, DMA into RAM.
const OV2640_ON_DCMI: Camera = Camera {
    name: "OV2640 on DCMI, DMA into RAM",
    width: 320,
    height: 240,
    format: crate::preprocess::PixelFormat::Rgb565Be,
    xclk_hz: OV2640_XCLK_HZ,
    frame_ns: camera::OV2640_UXGA.frame_ns(OV2640_XCLK_HZ),
    link: Link::DcmiDma,
};

/// STM32F411CEU6 "Black Pill": Cortex-M4F at 100 MHz (its maximum, from the 25 MHz crystal,
/// `firmware/blackpill/src/board.rs`), 512 KB flash, 128 KB RAM, ArduCAM Mini 2MP Plus on
/// SPI1 at 6.25 MHz.
pub const BLACKPILL: Board = Board {
    name: "blackpill",
    description: "STM32F411CEU6 \"Black Pill\", ArduCAM Mini 2MP Plus (OV2640) on SPI at 6.25 MHz",
    chip: "STM32F411CEUx",
    core: Core::CortexM4F,
    clock_hz: 100_000_000,
    flash_bytes: 512 * 1024,
    ram_bytes: 128 * 1024,
    cpi: &cpi::STM32F411_100MHZ,
    camera: Camera {
        name: "ArduCAM Mini 2MP Plus (OV2640), SPI 6.25 MHz",
        width: 320,
        height: 240,
        format: crate::preprocess::PixelFormat::Rgb565Be,
        xclk_hz: OV2640_XCLK_HZ,
        frame_ns: camera::OV2640_UXGA.frame_ns(OV2640_XCLK_HZ),
        link: Link::SpiFifo {
            spi_hz: 6_250_000,
            byte_gap_cycles: cpi::STM32F411_SPI_BYTE_GAP_CYCLES,
            burst_cycles: cpi::STM32F411_SPI_BURST_CYCLES,
            setup_bytes: 2 * 7,
            poll_ns: 1_000_000,
        },
    },
};

/// STM32F746NG (the STM32F746G-DISCO board, which has a DCMI camera connector): Cortex-M7 at
/// 216 MHz, 1 MB flash, 320 KB RAM (DTCM, SRAM1 and SRAM2 are contiguous), an OV2640 assumed
/// on DCMI with DMA into RAM.
pub const F746: Board = Board {
    name: "f746",
    description: "STM32F746NG (STM32F746G-DISCO), OV2640 on DCMI + DMA (assumed)",
    chip: "STM32F746NGHx",
    core: Core::CortexM7,
    clock_hz: 216_000_000,
    flash_bytes: 1024 * 1024,
    ram_bytes: 320 * 1024,
    cpi: &cpi::STM32F746_216MHZ,
    camera: OV2640_ON_DCMI,
};

/// STM32H743ZI (Nucleo-H743ZI2): Cortex-M7 at 480 MHz (revision V), 2 MB flash, 512 KB AXI
/// SRAM (its largest contiguous RAM), an OV2640 assumed on DCMI with DMA into RAM.
pub const H743: Board = Board {
    name: "h743",
    description: "STM32H743ZI (Nucleo-H743ZI2), OV2640 on DCMI + DMA (assumed)",
    chip: "STM32H743ZITx",
    core: Core::CortexM7,
    clock_hz: 480_000_000,
    flash_bytes: 2048 * 1024,
    ram_bytes: 512 * 1024,
    cpi: &cpi::STM32H743_480MHZ,
    camera: OV2640_ON_DCMI,
};

/// Every board, the reference board (the Black Pill) first.
pub const BOARDS: &[Board] = &[BLACKPILL, F746, H743];

/// The board called `name` (case-insensitive).
pub fn by_name(name: &str) -> Option<&'static Board> {
    BOARDS.iter().find(|b| b.name.eq_ignore_ascii_case(name))
}

/// Whether a model fits a board.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fit {
    /// Blob and code.
    pub flash_needed: u32,
    pub flash: u32,
    /// Arena, other statics and the minimum stack.
    pub ram_needed: u32,
    pub ram: u32,
    /// The arena alone (row-band plan, preprocessing's row buffers included).
    pub arena: u32,
}

impl Fit {
    pub fn fits(&self) -> bool {
        self.flash_needed <= self.flash && self.ram_needed <= self.ram
    }
}

impl Board {
    /// The board's camera set up for `model` (`front_end`: the model's crop at the network's
    /// input size, in the fastest sensor mode that holds it), with the firmware's
    /// preprocessing of its frames; `None` when the model takes no camera frames or no sensor
    /// mode holds its crop.
    pub fn front_end(&self, model: &Model<'_>) -> Option<FrontEnd> {
        let pp = model.def().input.preprocess?;
        front_end::front_end(&self.camera, &pp, model.input().shape)
    }

    /// The row-band plan the board firmware builds for `model` (the firmware sizes its row
    /// buffers for the model's own frames, which hold the camera's).
    pub fn band_plan(&self, model: &Model<'_>) -> BandPlan {
        crate::plan::CameraPlan::of(model).bands
    }

    /// Flash and RAM the firmware needs for `model` (a blob of `blob_bytes`) on this board.
    pub fn fit(&self, model: &Model<'_>, blob_bytes: usize) -> Fit {
        let arena = self.band_plan(model).arena_bytes() as u32;
        Fit {
            flash_needed: (blob_bytes as u32).saturating_add(CODE_BYTES),
            flash: self.flash_bytes,
            ram_needed: arena.saturating_add(OTHER_STATICS_BYTES + MIN_STACK_BYTES),
            ram: self.ram_bytes,
            arena,
        }
    }

    /// Nanoseconds of `cycles` core cycles.
    pub fn nanos(&self, cycles: u64) -> Nanos {
        (cycles as u128 * 1_000_000_000 / self.clock_hz as u128).min(Nanos::MAX as u128) as Nanos
    }

    /// The core's work on one frame costing `cost` (conservative cycles per instruction),
    /// its rows read off the camera in frames of `frames`.
    pub fn work(&self, cost: &FrameCost, frames: &Preprocess) -> Work {
        Work {
            readout_ns: self.camera.readout_of_ns(frames.frame_bytes() as u32, frames.frame_h, self.clock_hz),
            preprocess_ns: self.nanos(self.cpi.cycles(&cost.preprocess)),
            network_streamed_ns: self.nanos(self.cpi.cycles(&cost.network_streamed())),
            network_tail_ns: self.nanos(self.cpi.cycles(&cost.network_tail())),
        }
    }

    /// [`Board::work`] with the instruction counts the firmware itself measured for a frame
    /// (the QEMU application's log: `network` and `preprocess` instructions): each part's
    /// cycles scaled from the cost model's by measured over predicted, so the mix of code, and
    /// with it the cycles per instruction, stays the model's.
    pub fn work_measured(&self, cost: &FrameCost, frames: &Preprocess, network: u64, preprocess: u64) -> Work {
        let w = self.work(cost, frames);
        let scale = |ns: Nanos, measured: u64, predicted: u64| {
            if predicted == 0 {
                ns
            } else {
                (ns as u128 * measured as u128 / predicted as u128) as Nanos
            }
        };
        let net = cost.network().total();
        Work {
            readout_ns: w.readout_ns,
            preprocess_ns: scale(w.preprocess_ns, preprocess, cost.preprocess.total()),
            network_streamed_ns: scale(w.network_streamed_ns, network, net),
            network_tail_ns: scale(w.network_tail_ns, network, net),
        }
    }

    /// The frame timing of `model` on this board: its instructions on the frames of its front
    /// end ([`Board::front_end`], [`FrameCost::of`]) at the conservative cycles per
    /// instruction, with that camera set-up; `None` when the model takes no camera frames.
    pub fn frame_timing(&self, model: &Model<'_>, pipeline: Pipeline) -> Option<FrameTiming> {
        let fe = self.front_end(model)?;
        let cost = FrameCost::of(model, Some(&fe.frames));
        Some(timing::frame_timing(&fe.camera, self.work(&cost, &fe.frames), pipeline))
    }
}

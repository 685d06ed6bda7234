//! The camera path of a board: how long the sensor takes to deliver a frame, and how long the
//! microcontroller then spends getting it.
//!
//! Every board here has an OV2640. A [`Camera`] is the sensor in one set-up: its output size
//! (RGB565, high byte first) and the frame period of its sensor mode. A board's own `camera`
//! is the set-up without a model (UXGA, the whole 1600x1200 array, scaled to 320x240);
//! `super::front_end` sets it up for a model (the model's crop at the network's input size,
//! in the fastest mode that holds it). The sensor runs freely: a frame starts at every VSYNC,
//! one frame period after the last.
//!
//! The frame periods are the OV2640 datasheet's rates with a 24 MHz input clock (XVCLK): UXGA
//! 15 frames per second, SVGA (the array sub-sampled to 800x600) 30, CIF (400x296) 60; the
//! sensor's timing scales with that clock, so a module clocked at `xclk_hz` has a period of
//! `period_at_24MHz * 24 MHz / xclk_hz`. The DSP's window and scaling do not change the
//! array's timing.
//!
//! Two ways the frame reaches the core:
//! - [`Link::SpiFifo`] (the ArduCAM Mini 2MP Plus on the Black Pill, `firmware/drivers/src/
//!   arducam.rs`): a capture request makes the module's ArduChip wait for the next VSYNC and
//!   write that one frame into its frame buffer; only when the whole frame is in can it be read,
//!   over SPI, one burst per row, by the core itself (the HAL polls the SPI registers: the core
//!   does nothing else meanwhile). Readout = `bytes * 8 / SPI clock` plus the core's gap
//!   between bytes and each burst's command and chip select.
//! - [`Link::DcmiDma`] (the STM32F746 and STM32H743 boards): assumed, as no firmware for them
//!   exists yet: the same OV2640 on the chip's parallel camera interface (DCMI), whose DMA
//!   writes the frame into RAM while the sensor sends it (a 320x240 RGB565 frame, 153,600 B,
//!   fits both chips' RAM next to the arena). The core spends no time on the transfer; the
//!   rows are then read from RAM by the preprocessing.

use crate::preprocess::PixelFormat;

/// Nanoseconds.
pub type Nanos = u64;

/// How the frame gets from the sensor to the core.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Link {
    /// A module with a one-frame buffer, read by the core over SPI, one burst per row.
    SpiFifo {
        /// SPI clock.
        spi_hz: u32,
        /// Core cycles between the end of one byte on the bus and the start of the next: the
        /// HAL's polling loop (wait for the received byte, read it, write the next dummy byte).
        byte_gap_cycles: u32,
        /// Core cycles of one row's burst besides its bytes: chip select, the burst command
        /// byte, the HAL's transaction set-up.
        burst_cycles: u32,
        /// Bytes the driver sends per capture to start it and read the FIFO size (register
        /// accesses of two bytes each, `arducam.rs::capture`), besides the status polls.
        setup_bytes: u32,
        /// How often the driver polls the capture-done flag.
        poll_ns: Nanos,
    },
    /// A parallel camera interface with DMA into RAM: no core time for the transfer.
    DcmiDma,
}

/// The camera of a board.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Camera {
    /// What it is, for reports.
    pub name: &'static str,
    pub width: u16,
    pub height: u16,
    pub format: PixelFormat,
    /// The sensor's input clock.
    pub xclk_hz: u32,
    /// The sensor's frame period at [`Camera::xclk_hz`].
    pub frame_ns: Nanos,
    pub link: Link,
}

/// One of the OV2640's sensor modes: the array read out whole (UXGA) or sub-sampled, the size
/// of the image its DSP receives, and its frame period with a 24 MHz input clock (the
/// datasheet's 15, 30 and 60 frames per second).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SensorMode {
    pub name: &'static str,
    pub width: u16,
    pub height: u16,
    pub frame_ns_at_24mhz: Nanos,
}

impl SensorMode {
    /// The frame period with an input clock of `xclk_hz` (the sensor's timing scales with it).
    pub const fn frame_ns(&self, xclk_hz: u32) -> Nanos {
        self.frame_ns_at_24mhz * 24_000_000 / xclk_hz as u64
    }
}

pub const OV2640_CIF: SensorMode = SensorMode { name: "CIF", width: 400, height: 296, frame_ns_at_24mhz: 1_000_000_000 / 60 };
pub const OV2640_SVGA: SensorMode = SensorMode { name: "SVGA", width: 800, height: 600, frame_ns_at_24mhz: 1_000_000_000 / 30 };
pub const OV2640_UXGA: SensorMode = SensorMode { name: "UXGA", width: 1600, height: 1200, frame_ns_at_24mhz: 1_000_000_000 / 15 };

/// The sensor's modes, fastest first.
pub const OV2640_MODES: [SensorMode; 3] = [OV2640_CIF, OV2640_SVGA, OV2640_UXGA];

impl Camera {
    /// This camera set up to send `setup`'s frames (`super::front_end`): their size, the
    /// frame period of their sensor mode.
    pub const fn sending(&self, setup: &super::front_end::SensorSetup) -> Camera {
        Camera { width: setup.out_w, height: setup.out_h, frame_ns: setup.mode.frame_ns(self.xclk_hz), ..*self }
    }

    /// Bytes in one frame.
    pub const fn frame_bytes(&self) -> u32 {
        self.width as u32 * self.height as u32 * self.format.bytes_per_pixel() as u32
    }

    /// Bytes in one row.
    pub const fn row_bytes(&self) -> u32 {
        self.width as u32 * self.format.bytes_per_pixel() as u32
    }

    /// Time the core spends getting one whole frame once the sensor has delivered it (0 for
    /// DMA), on a core clocked at `core_hz`.
    pub fn readout_ns(&self, core_hz: u32) -> Nanos {
        self.readout_of_ns(self.frame_bytes(), self.height, core_hz)
    }

    /// The same for a frame of `bytes` in `rows` rows (the camera windowed to another size).
    pub fn readout_of_ns(&self, bytes: u32, rows: u16, core_hz: u32) -> Nanos {
        match self.link {
            Link::SpiFifo { spi_hz, byte_gap_cycles, burst_cycles, setup_bytes, .. } => {
                // Each burst sends its command byte before the row's bytes.
                let bytes = bytes as u64 + rows as u64 + setup_bytes as u64;
                let wire = bytes * 8 * 1_000_000_000 / spi_hz as u64;
                let cycles = bytes * byte_gap_cycles as u64 + rows as u64 * burst_cycles as u64;
                wire + cycles * 1_000_000_000 / core_hz as u64
            }
            Link::DcmiDma => 0,
        }
    }

    /// Extra time between the frame being complete and the core noticing it: the driver
    /// polls a done flag every [`Link::SpiFifo::poll_ns`] (conservative: a whole interval); a
    /// DMA transfer-complete interrupt is immediate.
    pub fn notice_ns(&self) -> Nanos {
        match self.link {
            Link::SpiFifo { poll_ns, .. } => poll_ns,
            Link::DcmiDma => 0,
        }
    }

    /// True when the core itself moves the frame's bytes (it can do nothing else meanwhile).
    pub fn core_reads(&self) -> bool {
        matches!(self.link, Link::SpiFifo { .. })
    }
}

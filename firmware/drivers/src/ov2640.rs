//! The OmniVision OV2640 image sensor, over SCCB (OmniVision's I2C dialect) at 7-bit address
//! 0x30, set up to send a [`Geometry`]: a window of one sensor mode's image, scaled, RGB565.
//!
//! The chip has two register banks behind one address space, chosen by writing register 0xFF:
//! bank 1 is the sensor (array readout, window, exposure), bank 0 the DSP (image pipeline,
//! scaler, output format). The setup below is deliberately minimal and uses only registers
//! whose meaning the datasheet documents:
//!
//! - The sensor bank stays in its reset state after a soft reset (automatic exposure, gain and
//!   white balance on) except for the readout resolution in COM7: UXGA (the whole array,
//!   1600x1200, 15 frames/s at a 24 MHz clock), SVGA (sub-sampled to 800x600, 30 frames/s) or
//!   CIF (400x296, 60 frames/s). The sensor bank's window registers keep their reset values.
//! - The DSP takes that image, crops the geometry's window, halves it in both directions (its
//!   down-sampler, DCW) when the window is at least twice the output, scales the result to
//!   the output size with its zoom engine and sends RGB565 on the parallel port, high byte
//!   first (what `common`'s `PixelFormat::Rgb565Be` reads).
//!
//! `common::board::front_end` chooses the geometry for a model (its crop, at the network's
//! input size, in the fastest mode that holds it); [`Geometry::FULL`] is the set-up without a
//! model (the whole array at 320x240).
//!
//! Vendor start-up tables add many undocumented tuning registers (analogue timing, lens and
//! colour corrections); none of them is written here, so colours may be flatter than with
//! those tables. Untested on hardware so far: see the README's "Flashing a board".

use embedded_hal::delay::DelayNs;
use embedded_hal::i2c::I2c;

/// The sensor's 7-bit SCCB address.
pub const ADDRESS: u8 = 0x30;
/// The product ID high byte (PIDH) of an OV2640. The low byte (PIDL) is a revision: 0x42 on
/// most parts, 0x41 on some; both are OV2640s.
pub const PRODUCT_ID_HIGH: u8 = 0x26;
/// The widest output frame this driver sets up, in pixels (row buffers are sized for it).
pub const MAX_WIDTH: u16 = 320;

/// Register 0xFF selects the bank the other addresses refer to.
const BANK_SEL: u8 = 0xFF;
const BANK_DSP: u8 = 0x00;
const BANK_SENSOR: u8 = 0x01;

/// Sensor bank registers.
mod sensor {
    /// Common control 7: bit 7 soft reset; bits 6:4 readout resolution (0 = UXGA, 0x20 CIF,
    /// 0x40 SVGA).
    pub const COM7: u8 = 0x12;
    pub const COM7_SRST: u8 = 0x80;
    pub const COM7_CIF: u8 = 0x20;
    pub const COM7_SVGA: u8 = 0x40;
    /// Product ID, high and low byte.
    pub const PIDH: u8 = 0x0A;
    pub const PIDL: u8 = 0x0B;
}

/// DSP bank registers.
mod dsp {
    /// Bit 0 set: bypass the DSP (raw sensor data out).
    pub const R_BYPASS: u8 = 0x05;
    /// Block resets; bit 2 holds the parallel (DVP) output in reset.
    pub const RESET: u8 = 0xE0;
    pub const RESET_DVP: u8 = 0x04;
    /// Size of the image entering the DSP: width and height in units of 8 pixels, their low
    /// 3 bits (and width bit 11) in SIZEL.
    pub const HSIZE8: u8 = 0xC0;
    pub const VSIZE8: u8 = 0xC1;
    pub const SIZEL: u8 = 0x8C;
    /// Module enables; bit 1 turns on the RGB output path.
    pub const CTRL0: u8 = 0xC2;
    pub const CTRL0_RGB_EN: u8 = 0x02;
    /// Module enables; bit 5 turns on the down-sampler (DCW) that CTRLI's dividers drive.
    pub const CTRL2: u8 = 0x86;
    pub const CTRL2_DCW_EN: u8 = 0x20;
    /// Down-sampler: bits 5:3 vertical divider, bits 2:0 horizontal; 1 halves that axis.
    pub const CTRLI: u8 = 0x50;
    pub const CTRLI_DIVIDERS: u8 = 0x3F;
    /// The processing window inside the image, in units of 4 pixels: width and height low
    /// bytes, x and y offsets low bytes, and VHYX with the high bits
    /// (bit 7 height bit 8, bits 6:4 y offset bits 10:8, bit 3 width bit 8, bits 2:0 x
    /// offset bits 10:8); width bit 9 is bit 7 of TEST.
    pub const HSIZE: u8 = 0x51;
    pub const VSIZE: u8 = 0x52;
    pub const XOFFL: u8 = 0x53;
    pub const YOFFL: u8 = 0x54;
    pub const VHYX: u8 = 0x55;
    pub const TEST: u8 = 0x57;
    /// Zoom engine output, in units of 4 pixels: width and height low bytes, and ZMHH with
    /// height bit 8 (bit 2) and width bits 9:8 (bits 1:0).
    pub const ZMOW: u8 = 0x5A;
    pub const ZMOH: u8 = 0x5B;
    pub const ZMHH: u8 = 0x5C;
    /// Output format: bits 3:2 = 10 RGB565; bit 0 would send the low byte first.
    pub const IMAGE_MODE: u8 = 0xDA;
    pub const IMAGE_MODE_RGB565: u8 = 0x08;
}

/// The sensor's readout resolution.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// The whole array, 1600x1200.
    Uxga,
    /// Sub-sampled to 800x600.
    Svga,
    /// Sub-sampled to 400x296.
    Cif,
}

impl Mode {
    /// The size of the image the DSP receives.
    pub const fn size(self) -> (u16, u16) {
        match self {
            Mode::Uxga => (1600, 1200),
            Mode::Svga => (800, 600),
            Mode::Cif => (400, 296),
        }
    }

    const fn com7(self) -> u8 {
        match self {
            Mode::Uxga => 0,
            Mode::Svga => sensor::COM7_SVGA,
            Mode::Cif => sensor::COM7_CIF,
        }
    }
}

/// What the sensor sends: the window `w x h` at `(x, y)` of the mode's image (multiples of 4),
/// scaled to `out_w x out_h` (multiples of 4, no larger than the window).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Geometry {
    pub mode: Mode,
    pub x: u16,
    pub y: u16,
    pub w: u16,
    pub h: u16,
    pub out_w: u16,
    pub out_h: u16,
}

impl Geometry {
    /// The whole UXGA array at 320x240.
    pub const FULL: Geometry = Geometry { mode: Mode::Uxga, x: 0, y: 0, w: 1600, h: 1200, out_w: 320, out_h: 240 };

    /// Whether the registers can hold it: sizes in multiples of 4 inside the mode's image,
    /// an output no larger than the window and at most [`MAX_WIDTH`] wide.
    pub const fn is_valid(&self) -> bool {
        let (mw, mh) = self.mode.size();
        let fours = self.x % 4 == 0 && self.y % 4 == 0 && self.w % 4 == 0 && self.h % 4 == 0 && self.out_w % 4 == 0 && self.out_h % 4 == 0;
        let inside = self.x as u32 + self.w as u32 <= mw as u32 && self.y as u32 + self.h as u32 <= mh as u32;
        let scaled = self.out_w > 0 && self.out_h > 0 && self.out_w <= self.w && self.out_h <= self.h;
        fours && inside && scaled && self.out_w <= MAX_WIDTH
    }

    /// Bytes in one output row (RGB565).
    pub const fn row_bytes(&self) -> usize {
        self.out_w as usize * 2
    }

    /// Bytes in one output frame.
    pub const fn frame_bytes(&self) -> u32 {
        self.row_bytes() as u32 * self.out_h as u32
    }

    /// Whether the down-sampler halves the window before the zoom.
    const fn halves(&self) -> bool {
        self.w >= 2 * self.out_w && self.h >= 2 * self.out_h
    }

    /// DSP register writes, in order. (CTRL0, CTRL2 and CTRLI are changed bit-wise, not here.)
    fn dsp_writes(&self) -> [(u8, u8); 12] {
        let (mw, mh) = self.mode.size();
        let (win_w, win_h, x, y) = (self.w / 4, self.h / 4, self.x / 4, self.y / 4);
        let (out_w, out_h) = (self.out_w / 4, self.out_h / 4);
        [
            (dsp::HSIZE8, (mw >> 3) as u8),
            (dsp::VSIZE8, (mh >> 3) as u8),
            (dsp::SIZEL, (((mw >> 11) & 1) << 6 | (mw & 7) << 3 | (mh & 7)) as u8),
            (dsp::HSIZE, (win_w & 0xFF) as u8),
            (dsp::VSIZE, (win_h & 0xFF) as u8),
            (dsp::XOFFL, (x & 0xFF) as u8),
            (dsp::YOFFL, (y & 0xFF) as u8),
            (dsp::VHYX, (((win_h >> 8) & 1) << 7 | ((y >> 8) & 7) << 4 | ((win_w >> 8) & 1) << 3 | ((x >> 8) & 7)) as u8),
            (dsp::TEST, (((win_w >> 9) & 1) << 7) as u8),
            (dsp::ZMOW, (out_w & 0xFF) as u8),
            (dsp::ZMOH, (out_h & 0xFF) as u8),
            (dsp::ZMHH, (((out_h >> 8) & 1) << 2 | ((out_w >> 8) & 3)) as u8),
        ]
    }
}

/// An OV2640 on an I2C bus.
pub struct Ov2640<I2C> {
    i2c: I2C,
}

impl<I2C: I2c> Ov2640<I2C> {
    pub fn new(i2c: I2C) -> Self {
        Ov2640 { i2c }
    }

    /// Gives the bus back.
    pub fn release(self) -> I2C {
        self.i2c
    }

    /// Reads the product ID, PIDH then PIDL (an OV2640's high byte is [`PRODUCT_ID_HIGH`]).
    pub fn product_id(&mut self) -> Result<u16, I2C::Error> {
        self.write(BANK_SEL, BANK_SENSOR)?;
        let high = self.read(sensor::PIDH)?;
        let low = self.read(sensor::PIDL)?;
        Ok(u16::from_be_bytes([high, low]))
    }

    /// Soft-resets the chip and sets it up to send `geometry` in RGB565 (module docs; the
    /// caller checks [`Geometry::is_valid`]).
    pub fn configure(&mut self, geometry: &Geometry, delay: &mut impl DelayNs) -> Result<(), I2C::Error> {
        self.write(BANK_SEL, BANK_SENSOR)?;
        self.write(sensor::COM7, sensor::COM7_SRST)?;
        // The datasheet asks for 1 ms after a reset before the next SCCB access; margin.
        delay.delay_ms(10);
        if geometry.mode != Mode::Uxga {
            self.write(sensor::COM7, geometry.mode.com7())?;
        }

        self.write(BANK_SEL, BANK_DSP)?;
        // Hold the output while the geometry changes, so no half-configured frame goes out.
        self.write(dsp::RESET, dsp::RESET_DVP)?;
        self.write(dsp::R_BYPASS, 0)?;
        for (reg, value) in geometry.dsp_writes() {
            self.write(reg, value)?;
        }
        let halve = geometry.halves() as u8;
        self.modify(dsp::CTRL2, |v| if halve == 1 { v | dsp::CTRL2_DCW_EN } else { v & !dsp::CTRL2_DCW_EN })?;
        self.modify(dsp::CTRLI, |v| (v & !dsp::CTRLI_DIVIDERS) | halve << 3 | halve)?;
        self.modify(dsp::CTRL0, |v| v | dsp::CTRL0_RGB_EN)?;
        self.write(dsp::IMAGE_MODE, dsp::IMAGE_MODE_RGB565)?;
        self.write(dsp::RESET, 0)
    }

    fn write(&mut self, reg: u8, value: u8) -> Result<(), I2C::Error> {
        self.i2c.write(ADDRESS, &[reg, value])
    }

    /// SCCB has no repeated start: the register address goes in its own write, then a
    /// separate read (an I2C `write_read` is not understood by the sensor).
    fn read(&mut self, reg: u8) -> Result<u8, I2C::Error> {
        let mut value = [0];
        self.i2c.write(ADDRESS, &[reg])?;
        self.i2c.read(ADDRESS, &mut value)?;
        Ok(value[0])
    }

    /// Changes some bits of a register, keeping the ones the datasheet leaves undocumented.
    fn modify(&mut self, reg: u8, f: impl FnOnce(u8) -> u8) -> Result<(), I2C::Error> {
        let value = self.read(reg)?;
        self.write(reg, f(value))
    }
}

//! The OmniVision OV2640 image sensor, over SCCB (OmniVision's I2C dialect) at 7-bit address
//! 0x30, set up for 320x240 RGB565.
//!
//! The chip has two register banks behind one address space, chosen by writing register 0xFF:
//! bank 1 is the sensor (array readout, window, exposure), bank 0 the DSP (image pipeline,
//! scaler, output format). The setup below is deliberately minimal and uses only registers
//! whose meaning the datasheet documents:
//!
//! - The sensor bank stays in its reset state after a soft reset: full UXGA readout,
//!   1600x1200, with automatic exposure, gain and white balance on.
//! - The DSP takes the 1600x1200 image, halves it in both directions (its down-sampler, DCW),
//!   scales the 800x600 result to 320x240 with its zoom engine and sends RGB565 on the
//!   parallel port, high byte first (what `common`'s `PixelFormat::Rgb565Be` reads).
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
/// The output frame, in pixels.
pub const WIDTH: u16 = 320;
pub const HEIGHT: u16 = 240;

/// Register 0xFF selects the bank the other addresses refer to.
const BANK_SEL: u8 = 0xFF;
const BANK_DSP: u8 = 0x00;
const BANK_SENSOR: u8 = 0x01;

/// Sensor bank registers.
mod sensor {
    /// Common control 7: bit 7 soft reset; bits 6:4 readout resolution (0 = UXGA).
    pub const COM7: u8 = 0x12;
    pub const COM7_SRST: u8 = 0x80;
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

/// The sensor's readout after a reset (UXGA).
const SENSOR_W: u16 = 1600;
const SENSOR_H: u16 = 1200;

/// DSP register writes for 320x240 RGB565, in order, computed from the geometry so that each
/// value shows where it comes from. (CTRL0, CTRL2 and CTRLI are changed bit-wise, not here.)
const DSP_GEOMETRY: [(u8, u8); 12] = {
    let (win_w, win_h) = (SENSOR_W / 4, SENSOR_H / 4); // the window: the whole image
    let (out_w, out_h) = (WIDTH / 4, HEIGHT / 4);
    [
        (dsp::HSIZE8, (SENSOR_W >> 3) as u8),
        (dsp::VSIZE8, (SENSOR_H >> 3) as u8),
        (dsp::SIZEL, (((SENSOR_W >> 11) & 1) << 6 | (SENSOR_W & 7) << 3 | (SENSOR_H & 7)) as u8),
        (dsp::HSIZE, (win_w & 0xFF) as u8),
        (dsp::VSIZE, (win_h & 0xFF) as u8),
        (dsp::XOFFL, 0),
        (dsp::YOFFL, 0),
        (dsp::VHYX, (((win_h >> 8) & 1) << 7 | ((win_w >> 8) & 1) << 3) as u8),
        (dsp::TEST, (((win_w >> 9) & 1) << 7) as u8),
        (dsp::ZMOW, (out_w & 0xFF) as u8),
        (dsp::ZMOH, (out_h & 0xFF) as u8),
        (dsp::ZMHH, (((out_h >> 8) & 1) << 2 | ((out_w >> 8) & 3)) as u8),
    ]
};

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

    /// Soft-resets the chip and sets it up for 320x240 RGB565 (module docs).
    pub fn configure(&mut self, delay: &mut impl DelayNs) -> Result<(), I2C::Error> {
        self.write(BANK_SEL, BANK_SENSOR)?;
        self.write(sensor::COM7, sensor::COM7_SRST)?;
        // The datasheet asks for 1 ms after a reset before the next SCCB access; margin.
        delay.delay_ms(10);

        self.write(BANK_SEL, BANK_DSP)?;
        // Hold the output while the geometry changes, so no half-configured frame goes out.
        self.write(dsp::RESET, dsp::RESET_DVP)?;
        self.write(dsp::R_BYPASS, 0)?;
        for (reg, value) in DSP_GEOMETRY {
            self.write(reg, value)?;
        }
        self.modify(dsp::CTRL2, |v| v | dsp::CTRL2_DCW_EN)?;
        self.modify(dsp::CTRLI, |v| (v & !dsp::CTRLI_DIVIDERS) | 1 << 3 | 1)?;
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

//! The ArduCAM Mini 2MP Plus: an OV2640 sensor ([`crate::ov2640`], on I2C) whose frames land
//! in the module's own frame buffer, a FIFO behind the "ArduChip" (on SPI, mode 0, up to
//! 8 MHz). The microcontroller starts a capture, waits for the done flag and reads the FIFO
//! out at its own pace, row by row: no frame is ever held in its RAM.
//!
//! ArduChip SPI protocol: a register write is one transaction of two bytes, the address with
//! bit 7 set and the value; a read sends the address with bit 7 clear and reads one byte. A
//! burst read (command 0x3C) reads FIFO bytes for as long as chip select stays low, from the
//! FIFO's read pointer, which persists between transactions; [`Frame::read_rows`] therefore
//! reads one transaction per row.

use embedded_hal::delay::DelayNs;
use embedded_hal::i2c::I2c;
use embedded_hal::spi::{Operation, SpiDevice};

use crate::ov2640::{self, Geometry, Ov2640};

/// Bytes per pixel: RGB565, high byte first.
pub const BYTES_PER_PIXEL: usize = 2;
/// Bytes in the longest frame row (the row buffer [`Frame::read_rows`] takes).
pub const MAX_ROW_BYTES: usize = ov2640::MAX_WIDTH as usize * BYTES_PER_PIXEL;
/// The longest wait for a frame. The sensor delivers several frames a second, and a capture
/// waits at most for the end of the frame in progress and one whole frame.
pub const CAPTURE_TIMEOUT_MS: u32 = 1000;

/// ArduChip registers.
mod reg {
    /// Test register: reads back what was written (a wiring check).
    pub const TEST: u8 = 0x00;
    /// Frames per capture, minus one.
    pub const CAPTURE_CTRL: u8 = 0x01;
    /// FIFO control; the bits below act when written as 1.
    pub const FIFO: u8 = 0x04;
    pub const FIFO_CLEAR_DONE: u8 = 0x01;
    pub const FIFO_START: u8 = 0x02;
    pub const FIFO_RESET_WRITE: u8 = 0x10;
    pub const FIFO_RESET_READ: u8 = 0x20;
    /// Bit 7 holds the ArduChip in reset.
    pub const RESET: u8 = 0x07;
    pub const RESET_CHIP: u8 = 0x80;
    /// Burst FIFO read command.
    pub const BURST_READ: u8 = 0x3C;
    /// Status; bit 3: the capture is done.
    pub const STATUS: u8 = 0x41;
    pub const STATUS_DONE: u8 = 0x08;
    /// Bytes in the FIFO, 23 bits, low byte first.
    pub const FIFO_SIZE: [u8; 3] = [0x42, 0x43, 0x44];
    /// Marks a register access as a write.
    pub const WRITE: u8 = 0x80;
}

/// What went wrong with the camera.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error<SpiE, I2cE> {
    /// The SPI bus failed.
    Spi(SpiE),
    /// The I2C bus failed (for instance no acknowledge: the sensor is not powered or wired).
    I2c(I2cE),
    /// The ArduChip's test register did not read back what was written: MISO, MOSI, SCK,
    /// chip select or the module's power are not connected as they should be.
    SpiTest { wrote: u8, read: u8 },
    /// The sensor on the I2C bus is not an OV2640 (its product ID's high byte is not
    /// [`ov2640::PRODUCT_ID_HIGH`]).
    ChipId { id: u16 },
    /// No frame within [`CAPTURE_TIMEOUT_MS`].
    CaptureTimeout,
    /// The FIFO does not hold one frame of the set-up's size (`expected` bytes): the sensor
    /// sends another size or format, or the capture was cut short.
    FifoLength { bytes: u32, expected: u32 },
    /// The geometry asked for is not one the sensor's registers can hold
    /// ([`Geometry::is_valid`]).
    Geometry,
    /// The buffer given to [`Frame::read_rows`] is shorter than one row.
    RowBuffer { bytes: usize, needed: usize },
}

/// The camera module: the ArduChip on `SPI`, the sensor on `I2C`.
pub struct ArduCam<SPI, I2C> {
    spi: SPI,
    sensor: Ov2640<I2C>,
    /// What the sensor sends (set by [`ArduCam::init`]).
    geometry: Geometry,
}

impl<SPI: SpiDevice, I2C: I2c> ArduCam<SPI, I2C> {
    pub fn new(spi: SPI, i2c: I2C) -> Self {
        ArduCam { spi, sensor: Ov2640::new(i2c), geometry: Geometry::FULL }
    }

    /// Gives the buses back.
    pub fn release(self) -> (SPI, I2C) {
        (self.spi, self.sensor.release())
    }

    /// Resets the module, checks the SPI wiring and the sensor's identity, and sets the sensor
    /// up to send `geometry` in RGB565. Safe to call again after any error.
    pub fn init(&mut self, geometry: &Geometry, delay: &mut impl DelayNs) -> Result<(), Error<SPI::Error, I2C::Error>> {
        if !geometry.is_valid() {
            return Err(Error::Geometry);
        }
        self.write(reg::RESET, reg::RESET_CHIP)?;
        delay.delay_ms(100);
        self.write(reg::RESET, 0)?;
        delay.delay_ms(100);
        // Both patterns: every data bit seen as 0 and as 1, so a line stuck either way shows.
        for wrote in [0x55, 0xAA] {
            self.write(reg::TEST, wrote)?;
            let read = self.read(reg::TEST)?;
            if read != wrote {
                return Err(Error::SpiTest { wrote, read });
            }
        }
        let id = self.sensor.product_id().map_err(Error::I2c)?;
        if id >> 8 != ov2640::PRODUCT_ID_HIGH as u16 {
            return Err(Error::ChipId { id });
        }
        self.sensor.configure(geometry, delay).map_err(Error::I2c)?;
        self.geometry = *geometry;
        self.write(reg::CAPTURE_CTRL, 0)
    }

    /// Captures one frame into the module's FIFO and checks its length; the frame is then
    /// read with [`Frame::read_rows`].
    pub fn capture(&mut self, delay: &mut impl DelayNs) -> Result<Frame<'_, SPI, I2C>, Error<SPI::Error, I2C::Error>> {
        self.write(reg::FIFO, reg::FIFO_CLEAR_DONE)?;
        self.write(reg::FIFO, reg::FIFO_RESET_WRITE | reg::FIFO_RESET_READ)?;
        self.write(reg::FIFO, reg::FIFO_START)?;
        let mut waited_ms = 0;
        while self.read(reg::STATUS)? & reg::STATUS_DONE == 0 {
            if waited_ms == CAPTURE_TIMEOUT_MS {
                return Err(Error::CaptureTimeout);
            }
            delay.delay_ms(1);
            waited_ms += 1;
        }
        let mut size = [0; 4];
        for (byte, r) in size.iter_mut().zip(reg::FIFO_SIZE) {
            *byte = self.read(r)?;
        }
        let bytes = u32::from_le_bytes(size) & 0x7F_FFFF;
        // The ArduChip may count a few bytes past the last pixel; anything beyond one extra
        // row is another frame size.
        let expected = self.geometry.frame_bytes();
        if !(expected..=expected + self.geometry.row_bytes() as u32).contains(&bytes) {
            return Err(Error::FifoLength { bytes, expected });
        }
        Ok(Frame { cam: self })
    }

    fn write(&mut self, reg: u8, value: u8) -> Result<(), Error<SPI::Error, I2C::Error>> {
        self.spi.write(&[reg | reg::WRITE, value]).map_err(Error::Spi)
    }

    fn read(&mut self, reg: u8) -> Result<u8, Error<SPI::Error, I2C::Error>> {
        let mut value = [0];
        self.spi.transaction(&mut [Operation::Write(&[reg & !reg::WRITE]), Operation::Read(&mut value)]).map_err(Error::Spi)?;
        Ok(value[0])
    }
}

/// A captured frame waiting in the module's FIFO.
pub struct Frame<'a, SPI, I2C> {
    cam: &'a mut ArduCam<SPI, I2C>,
}

impl<SPI: SpiDevice, I2C: I2c> Frame<'_, SPI, I2C> {
    /// Reads the frame top to bottom into `row` (at least one row long: [`MAX_ROW_BYTES`]
    /// always is), one row at a time, and calls `f(y, row)` for each of the geometry's `out_h`
    /// rows (`out_w` RGB565 pixels, high byte first).
    pub fn read_rows(self, row: &mut [u8], mut f: impl FnMut(u16, &[u8])) -> Result<(), Error<SPI::Error, I2C::Error>> {
        let g = self.cam.geometry;
        let Some(row) = row.get_mut(..g.row_bytes()) else {
            return Err(Error::RowBuffer { bytes: row.len(), needed: g.row_bytes() });
        };
        for y in 0..g.out_h {
            self.cam.spi.transaction(&mut [Operation::Write(&[reg::BURST_READ]), Operation::Read(row)]).map_err(Error::Spi)?;
            f(y, row);
        }
        self.cam.write(reg::FIFO, reg::FIFO_CLEAR_DONE)
    }
}

#[cfg(feature = "defmt")]
impl<SpiE: embedded_hal::spi::Error, I2cE: embedded_hal::i2c::Error> defmt::Format for Error<SpiE, I2cE> {
    fn format(&self, f: defmt::Formatter<'_>) {
        match self {
            Error::Spi(e) => defmt::write!(f, "SPI bus error ({})", defmt::Debug2Format(&e.kind())),
            Error::I2c(e) => defmt::write!(f, "I2C bus error ({})", defmt::Debug2Format(&e.kind())),
            Error::SpiTest { wrote, read } => defmt::write!(
                f,
                "SPI test register read back {=u8:#04x} after writing {=u8:#04x}: check the SPI wires, chip select and the camera's power",
                read,
                wrote
            ),
            Error::ChipId { id } => {
                defmt::write!(f, "the I2C sensor's product ID is {=u16:#06x}, not an OV2640's (0x26..)", id)
            }
            Error::CaptureTimeout => defmt::write!(f, "no frame within {=u32} ms", CAPTURE_TIMEOUT_MS),
            Error::FifoLength { bytes, expected } => {
                defmt::write!(f, "the FIFO holds {=u32} B, not one frame of the set-up ({=u32} B)", bytes, expected)
            }
            Error::Geometry => defmt::write!(f, "the camera geometry is not one the OV2640's registers hold"),
            Error::RowBuffer { bytes, needed } => {
                defmt::write!(f, "a {=usize} B row buffer for camera rows of {=usize} B", bytes, needed)
            }
        }
    }
}

//! Hand-written fakes of the camera module's two chips and of a PWM channel, behind the
//! embedded-hal traits the drivers use.

#![allow(dead_code)] // each test file uses a different part

use embedded_hal::delay::DelayNs;
use embedded_hal::{i2c, pwm, spi};

/// The one bus error every fake returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BusError;

impl spi::Error for BusError {
    fn kind(&self) -> spi::ErrorKind {
        spi::ErrorKind::Other
    }
}

impl i2c::Error for BusError {
    fn kind(&self) -> i2c::ErrorKind {
        i2c::ErrorKind::NoAcknowledge(i2c::NoAcknowledgeSource::Address)
    }
}

impl pwm::Error for BusError {
    fn kind(&self) -> pwm::ErrorKind {
        pwm::ErrorKind::Other
    }
}

/// The ArduChip: registers, a FIFO with a read pointer, the capture-done flag.
pub struct ArduChip {
    pub regs: [u8; 0x80],
    /// What the sensor delivered into the FIFO at the last capture.
    pub frame: Vec<u8>,
    /// Bytes the FIFO holds after a capture (the length registers).
    pub fifo_len: usize,
    read_ptr: usize,
    captured: bool,
    /// The flag polls that read "not done" after a capture starts; `None`: never done.
    pub polls_until_done: Option<u32>,
    polls: u32,
    /// A broken MISO line: every byte read is this.
    pub miso_stuck: Option<u8>,
    /// Register writes in order, `(register, value)`.
    pub writes: Vec<(u8, u8)>,
    /// Burst-read transactions.
    pub bursts: usize,
}

impl ArduChip {
    pub fn with_frame(frame: Vec<u8>) -> Self {
        ArduChip {
            regs: [0; 0x80],
            fifo_len: frame.len(),
            frame,
            read_ptr: 0,
            captured: false,
            polls_until_done: Some(3),
            polls: 0,
            miso_stuck: None,
            writes: Vec::new(),
            bursts: 0,
        }
    }

    fn write_reg(&mut self, reg: u8, value: u8) {
        self.writes.push((reg, value));
        self.regs[reg as usize] = value;
        if reg == 0x04 {
            if value & 0x01 != 0 {
                self.captured = false;
            }
            if value & 0x20 != 0 {
                self.read_ptr = 0;
            }
            if value & 0x02 != 0 {
                self.polls = 0;
                self.captured = true;
            }
        }
    }

    fn read_reg(&mut self, reg: u8) -> u8 {
        let len = if self.captured { self.fifo_len } else { 0 };
        match reg {
            0x41 => {
                let done = self.captured && self.polls_until_done.is_some_and(|n| self.polls >= n);
                self.polls += 1;
                if done {
                    0x08
                } else {
                    0
                }
            }
            0x42 => len as u8,
            0x43 => (len >> 8) as u8,
            0x44 => (len >> 16) as u8 & 0x7F,
            r => self.regs[r as usize],
        }
    }
}

impl spi::ErrorType for ArduChip {
    type Error = BusError;
}

impl spi::SpiDevice for ArduChip {
    fn transaction(&mut self, ops: &mut [spi::Operation<'_, u8>]) -> Result<(), BusError> {
        match ops {
            [spi::Operation::Write(&[addr, value])] if addr & 0x80 != 0 => self.write_reg(addr & 0x7F, value),
            [spi::Operation::Write(&[0x3C]), spi::Operation::Read(buf)] => {
                self.bursts += 1;
                let n = buf.len().min(self.frame.len().saturating_sub(self.read_ptr));
                buf[..n].copy_from_slice(&self.frame[self.read_ptr..self.read_ptr + n]);
                buf[n..].fill(0);
                self.read_ptr += buf.len();
            }
            [spi::Operation::Write(&[addr]), spi::Operation::Read(buf)] if addr & 0x80 == 0 && buf.len() == 1 => {
                buf[0] = self.read_reg(addr);
            }
            _ => panic!("the ArduChip does not understand this transaction"),
        }
        if let Some(stuck) = self.miso_stuck {
            for op in ops.iter_mut() {
                if let spi::Operation::Read(buf) = op {
                    buf.fill(stuck);
                }
            }
        }
        Ok(())
    }
}

/// The OV2640 on SCCB: two register banks, 0xFF selects; reads take the address from the
/// previous write, as SCCB does.
pub struct Sensor {
    pub banks: [[u8; 256]; 2],
    bank: usize,
    addr: u8,
    /// `false`: the sensor does not acknowledge (unpowered, unwired).
    pub present: bool,
    /// Register writes in order, `(bank, register, value)` (bank selects excluded).
    pub writes: Vec<(usize, u8, u8)>,
}

impl Sensor {
    pub fn with_id(id: u16) -> Self {
        let mut banks = [[0; 256]; 2];
        [banks[1][0x0A], banks[1][0x0B]] = id.to_be_bytes();
        // A few reset values with undocumented bits set, which the driver must keep.
        banks[0][0x86] = 0x0D; // CTRL2
        banks[0][0x50] = 0x80; // CTRLI
        banks[0][0xC2] = 0x0C; // CTRL0
        Sensor { banks, bank: 0, addr: 0, present: true, writes: Vec::new() }
    }

    /// A register as it stands now.
    pub fn reg(&self, bank: usize, reg: u8) -> u8 {
        self.banks[bank][reg as usize]
    }
}

impl i2c::ErrorType for Sensor {
    type Error = BusError;
}

impl i2c::I2c for Sensor {
    fn transaction(&mut self, address: u8, ops: &mut [i2c::Operation<'_>]) -> Result<(), BusError> {
        if address != 0x30 || !self.present {
            return Err(BusError);
        }
        match ops {
            [i2c::Operation::Write(&[0xFF, bank])] => self.bank = bank as usize,
            [i2c::Operation::Write(&[reg, value])] => {
                self.writes.push((self.bank, reg, value));
                self.banks[self.bank][reg as usize] = value;
            }
            [i2c::Operation::Write(&[reg])] => self.addr = reg,
            [i2c::Operation::Read(buf)] if buf.len() == 1 => buf[0] = self.banks[self.bank][self.addr as usize],
            // SCCB has no repeated start: a write-read in one transaction is not understood.
            _ => panic!("the sensor does not understand this transaction"),
        }
        Ok(())
    }
}

/// A delay that only counts.
#[derive(Default)]
pub struct Delay {
    pub total_ns: u64,
}

impl DelayNs for Delay {
    fn delay_ns(&mut self, ns: u32) {
        self.total_ns += ns as u64;
    }
}

/// A PWM channel with `max` steps per period; remembers the last duty.
pub struct Pwm {
    pub max: u16,
    pub duty: Option<u16>,
}

impl pwm::ErrorType for Pwm {
    type Error = BusError;
}

impl pwm::SetDutyCycle for Pwm {
    fn max_duty_cycle(&self) -> u16 {
        self.max
    }

    fn set_duty_cycle(&mut self, duty: u16) -> Result<(), BusError> {
        assert!(duty <= self.max, "duty {duty} above the maximum {}", self.max);
        self.duty = Some(duty);
        Ok(())
    }
}

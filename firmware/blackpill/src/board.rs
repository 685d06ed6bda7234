//! The Black Pill (STM32F411CEU6, 25 MHz crystal) and its wiring, in one place. The README's
//! wiring table says the same:
//!
//! | signal                     | pin  | peripheral                    |
//! |----------------------------|------|-------------------------------|
//! | camera SPI SCK             | PA5  | SPI1, mode 0, 6.25 MHz        |
//! | camera SPI MISO            | PA6  | SPI1                          |
//! | camera SPI MOSI            | PA7  | SPI1                          |
//! | camera SPI CS              | PA4  | output, active low            |
//! | camera I2C SCL             | PB6  | I2C1, 100 kHz                 |
//! | camera I2C SDA             | PB7  | I2C1                          |
//! | servo signal               | PB4  | TIM3 channel 1, 50 Hz, 1 us steps |
//!
//! PA0 (the KEY button) and PC13 (the LED) stay free; PA13/PA14 are the probe's SWD lines.

use embedded_hal_bus::spi::{ExclusiveDevice, NoDelay};
use stm32f4xx_hal::dwt::DwtExt;
use stm32f4xx_hal::gpio::{Output, Pin, PinState, Speed};
use stm32f4xx_hal::i2c::{self, I2c};
use stm32f4xx_hal::pac;
use stm32f4xx_hal::prelude::*;
use stm32f4xx_hal::rcc::Config;
use stm32f4xx_hal::spi::{self, Spi};
use stm32f4xx_hal::timer::PwmChannel;

/// The camera's SPI bus with its chip select.
pub type CameraSpi = ExclusiveDevice<Spi<pac::SPI1>, Pin<'A', 4, Output>, NoDelay>;
/// The camera's I2C bus.
pub type CameraI2c = I2c<pac::I2C1>;
/// The servo's PWM channel: TIM3 channel 1.
pub type ServoPwm = PwmChannel<pac::TIM3, 0>;
/// Delays, counted on the core's cycle counter.
pub type Delay = stm32f4xx_hal::dwt::Delay;

/// The core clock: the F411's maximum, from the 25 MHz crystal.
pub const CORE_HZ: u32 = 100_000_000;

/// Everything the application drives.
pub struct Board {
    pub camera_spi: CameraSpi,
    pub camera_i2c: CameraI2c,
    pub servo: ServoPwm,
    pub delay: Delay,
}

impl Board {
    /// Sets up clocks, pins and peripherals. `None` if the peripherals were already taken.
    pub fn take() -> Option<Board> {
        let dp = pac::Peripherals::take()?;
        let cp = cortex_m::Peripherals::take()?;
        let mut rcc = dp.RCC.freeze(Config::hse(25.MHz()).sysclk(CORE_HZ.Hz()));
        let gpioa = dp.GPIOA.split(&mut rcc);
        let gpiob = dp.GPIOB.split(&mut rcc);

        // The ArduChip takes up to 8 MHz; SPI1 divides its 100 MHz bus clock by powers of
        // two, so this gives 6.25 MHz. Fast edges for the SPI pins at that rate.
        let spi = Spi::new(
            dp.SPI1,
            (
                Some(gpioa.pa5.into_alternate().speed(Speed::VeryHigh)),
                Some(gpioa.pa6.into_alternate().speed(Speed::VeryHigh)),
                Some(gpioa.pa7.into_alternate().speed(Speed::VeryHigh)),
            ),
            spi::Mode { polarity: spi::Polarity::IdleLow, phase: spi::Phase::CaptureOnFirstTransition },
            8.MHz(),
            &mut rcc,
        );
        let cs = gpioa.pa4.into_push_pull_output_in_state(PinState::High);
        let camera_spi = ExclusiveDevice::new_no_delay(spi, cs).ok()?;
        let camera_i2c = I2c::new(dp.I2C1, (gpiob.pb6, gpiob.pb7), i2c::Mode::standard(100.kHz()), &mut rcc);

        // A 1 MHz timer with a 20 ms period: 50 Hz, and one duty step per microsecond.
        let (_, (ch1, ..)) = dp.TIM3.pwm_us(drivers::servo::PERIOD_US.micros(), &mut rcc);
        let mut servo = ch1.with(gpiob.pb4.into_alternate());
        servo.enable();

        let dwt = cp.DWT.constrain(cp.DCB, &rcc.clocks);
        Some(Board { camera_spi, camera_i2c, servo, delay: dwt.delay() })
    }
}

/// Writes the servo channel's compare register directly: for the panic and fault handlers,
/// which cannot reach the [`ServoPwm`] the application owns.
pub fn force_servo_duty(duty: u16) {
    // SAFETY: a single write of TIM3's channel-1 compare value, which any value leaves a
    // valid PWM duty; the handlers calling this never return to code that holds the channel.
    unsafe { (*pac::TIM3::ptr()).ccr1().write(|w| w.ccr().set(duty)) };
}

//! Links the board binary at the STM32F411's own addresses and takes the servo settings.
//!
//! The model is embedded, its arena sized and checked against the chip by the `firmware`
//! library's build script, exactly as for the QEMU application. This one writes `memory.x`
//! with the same chip sizes (`../lib/build/memory.rs`) at the real chip's addresses (flash at
//! 0x0800_0000), and `config.rs` with the servo trim and range from the environment.

#[path = "../lib/build/memory.rs"]
mod memory;

use std::path::PathBuf;
use std::{env, fs};

/// The STM32F4's flash and SRAM addresses.
const FLASH_ORIGIN: u32 = 0x0800_0000;
const RAM_ORIGIN: u32 = 0x2000_0000;

fn main() {
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=../lib/build/memory.rs");

    fs::write(out.join("memory.x"), memory::memory_x("STM32F411", FLASH_ORIGIN, RAM_ORIGIN)).expect("write memory.x");
    println!("cargo:rustc-link-search={}", out.display());

    let trim = servo_us("PILOT_SERVO_TRIM_US", 0);
    let range = servo_us("PILOT_SERVO_RANGE_US", 500);
    fs::write(
        out.join("config.rs"),
        format!(
            "/// The servo's trim and range (`PILOT_SERVO_TRIM_US`, `PILOT_SERVO_RANGE_US` at build time).\n\
             pub const SERVO: drivers::servo::Config = drivers::servo::Config {{ trim_us: {trim}, range_us: {range} }};\n"
        ),
    )
    .expect("write config.rs");
}

/// A servo setting in microseconds from `var` (at most 500 either way: half the servo's
/// 1000..2000 us travel), or `default`.
fn servo_us(var: &str, default: i16) -> i16 {
    println!("cargo:rerun-if-env-changed={var}");
    let Some(value) = env::var_os(var) else { return default };
    let value = value.to_string_lossy();
    match value.trim().parse::<i16>() {
        Ok(us) if (-500..=500).contains(&us) => us,
        _ => {
            eprintln!("error: {var}={value:?}: expected whole microseconds from -500 to 500");
            std::process::exit(1)
        }
    }
}

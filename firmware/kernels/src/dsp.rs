//! The ARMv7E-M DSP instructions the kernels use, one function each.
//!
//! On the chip (`target_arch = "arm"`) each function is exactly one instruction through `asm!`;
//! elsewhere it is a plain-Rust emulation of the instruction's definition in the ARMv7-M
//! Architecture Reference Manual. The kernels are written once against these functions, so the
//! host property tests exercise the same algorithm (blocking, data layout, rounding) that the
//! chip runs; only the innermost loops have a hand-scheduled `asm!` body on the chip (the dot
//! products of [`crate::conv`], which dense layers share as 1x1 convolutions, and of
//! [`crate::depthwise`], and the requantization loops in [`crate::requant`]), and those have
//! portable twins built from these functions.
//!
//! Halfword packing: a `u32` holding two i16 lanes has lane 0 in bits 0..16 and lane 1 in bits
//! 16..32.

/// Packs two i16 lanes into one word (lane 0 low).
#[inline(always)]
pub const fn pack16(lo: i16, hi: i16) -> u32 {
    (lo as u16 as u32) | ((hi as u16 as u32) << 16)
}

/// Lane 0 (bits 0..16) of a packed word.
#[inline(always)]
pub const fn lane0(x: u32) -> i16 {
    x as i16
}

/// Lane 1 (bits 16..32) of a packed word.
#[inline(always)]
pub const fn lane1(x: u32) -> i16 {
    (x >> 16) as i16
}

/// `SXTB16 d, x`: sign-extends bytes 0 and 2 of `x` into the two halfword lanes.
#[inline(always)]
pub fn sxtb16(x: u32) -> u32 {
    #[cfg(target_arch = "arm")]
    {
        let d: u32;
        // SAFETY: a register-to-register instruction: no memory access, no flags, no stack.
        unsafe { core::arch::asm!("sxtb16 {d}, {x}", d = lateout(reg) d, x = in(reg) x, options(pure, nomem, nostack, preserves_flags)) };
        d
    }
    #[cfg(not(target_arch = "arm"))]
    {
        pack16(x as u8 as i8 as i16, (x >> 16) as u8 as i8 as i16)
    }
}

/// `SXTB16 d, x, ROR #8`: sign-extends bytes 1 and 3 of `x` into the two halfword lanes.
#[inline(always)]
pub fn sxtb16_ror8(x: u32) -> u32 {
    #[cfg(target_arch = "arm")]
    {
        let d: u32;
        // SAFETY: a register-to-register instruction: no memory access, no flags, no stack.
        unsafe { core::arch::asm!("sxtb16 {d}, {x}, ror #8", d = lateout(reg) d, x = in(reg) x, options(pure, nomem, nostack, preserves_flags)) };
        d
    }
    #[cfg(not(target_arch = "arm"))]
    {
        sxtb16(x.rotate_right(8))
    }
}

/// `SXTAB16 d, a, x`: sign-extends bytes 0 and 2 of `x` and adds them to the two halfword lanes
/// of `a` (wrapping). With `a` holding `-zp` in both lanes this widens two int8 values and
/// subtracts their zero point in one instruction.
#[inline(always)]
pub fn sxtab16(a: u32, x: u32) -> u32 {
    #[cfg(target_arch = "arm")]
    {
        let d: u32;
        // SAFETY: a register-to-register instruction: no memory access, no flags, no stack.
        unsafe { core::arch::asm!("sxtab16 {d}, {a}, {x}", d = lateout(reg) d, a = in(reg) a, x = in(reg) x, options(pure, nomem, nostack, preserves_flags)) };
        d
    }
    #[cfg(not(target_arch = "arm"))]
    {
        let x = sxtb16(x);
        pack16(lane0(a).wrapping_add(lane0(x)), lane1(a).wrapping_add(lane1(x)))
    }
}

/// `SXTAB16 d, a, x, ROR #8`: the same for bytes 1 and 3 of `x`.
#[inline(always)]
pub fn sxtab16_ror8(a: u32, x: u32) -> u32 {
    #[cfg(target_arch = "arm")]
    {
        let d: u32;
        // SAFETY: a register-to-register instruction: no memory access, no flags, no stack.
        unsafe {
            core::arch::asm!("sxtab16 {d}, {a}, {x}, ror #8", d = lateout(reg) d, a = in(reg) a, x = in(reg) x, options(pure, nomem, nostack, preserves_flags))
        };
        d
    }
    #[cfg(not(target_arch = "arm"))]
    {
        sxtab16(a, x.rotate_right(8))
    }
}

/// `SMLAD d, a, b, acc`: `acc + a.lane0 * b.lane0 + a.lane1 * b.lane1`, wrapping (the Q flag
/// it may set is unused; the kernels' accumulators never overflow, see `common`'s `MAX_K`).
#[inline(always)]
pub fn smlad(a: u32, b: u32, acc: i32) -> i32 {
    #[cfg(target_arch = "arm")]
    {
        let d: i32;
        // SAFETY: register-to-register; may set the sticky Q bit, which no Rust code reads.
        unsafe {
            core::arch::asm!("smlad {d}, {a}, {b}, {c}", d = lateout(reg) d, a = in(reg) a, b = in(reg) b, c = in(reg) acc, options(pure, nomem, nostack))
        };
        d
    }
    #[cfg(not(target_arch = "arm"))]
    {
        let p0 = lane0(a) as i32 * lane0(b) as i32;
        let p1 = lane1(a) as i32 * lane1(b) as i32;
        acc.wrapping_add(p0).wrapping_add(p1)
    }
}

/// `SMLABB d, a, b, acc`: `acc + a.lane0 * b.lane0`, wrapping (Q flag unused, as for
/// [`smlad`]).
#[inline(always)]
pub fn smlabb(a: u32, b: u32, acc: i32) -> i32 {
    #[cfg(target_arch = "arm")]
    {
        let d: i32;
        // SAFETY: register-to-register; may set the sticky Q bit, which no Rust code reads.
        unsafe {
            core::arch::asm!("smlabb {d}, {a}, {b}, {c}", d = lateout(reg) d, a = in(reg) a, b = in(reg) b, c = in(reg) acc, options(pure, nomem, nostack))
        };
        d
    }
    #[cfg(not(target_arch = "arm"))]
    {
        acc.wrapping_add(lane0(a) as i32 * lane0(b) as i32)
    }
}

/// `SMLATT d, a, b, acc`: `acc + a.lane1 * b.lane1`, wrapping.
#[inline(always)]
pub fn smlatt(a: u32, b: u32, acc: i32) -> i32 {
    #[cfg(target_arch = "arm")]
    {
        let d: i32;
        // SAFETY: register-to-register; may set the sticky Q bit, which no Rust code reads.
        unsafe {
            core::arch::asm!("smlatt {d}, {a}, {b}, {c}", d = lateout(reg) d, a = in(reg) a, b = in(reg) b, c = in(reg) acc, options(pure, nomem, nostack))
        };
        d
    }
    #[cfg(not(target_arch = "arm"))]
    {
        acc.wrapping_add(lane1(a) as i32 * lane1(b) as i32)
    }
}

/// `SSAT d, #bits, x`: saturates a signed value to `bits` bits (1..=32).
#[inline(always)]
pub fn ssat<const BITS: u32>(x: i32) -> i32 {
    #[cfg(target_arch = "arm")]
    {
        let d: i32;
        // SAFETY: register-to-register; may set the sticky Q bit, which no Rust code reads.
        unsafe { core::arch::asm!("ssat {d}, #{b}, {x}", d = lateout(reg) d, b = const BITS, x = in(reg) x, options(pure, nomem, nostack)) };
        d
    }
    #[cfg(not(target_arch = "arm"))]
    {
        let max = (1i64 << (BITS - 1)) - 1;
        (x as i64).clamp(-max - 1, max) as i32
    }
}

/// Byte-wise signed maximum of two words of four i8 lanes: `SSUB8` (sets the GE flag of every
/// lane where `a >= b`) then `SEL` (takes `a` where GE is set, else `b`).
#[inline(always)]
pub fn smax8(a: u32, b: u32) -> u32 {
    #[cfg(target_arch = "arm")]
    {
        let d: u32;
        // SAFETY: register-to-register, no memory or stack access; the GE bits it writes are
        // consumed by the SEL in the same block; the flags are not claimed preserved.
        unsafe {
            core::arch::asm!(
                "ssub8 {d}, {a}, {b}",
                "sel {d}, {a}, {b}",
                d = out(reg) d,
                a = in(reg) a,
                b = in(reg) b,
                options(pure, nomem, nostack),
            )
        };
        d
    }
    #[cfg(not(target_arch = "arm"))]
    {
        let (a, b) = (a.to_le_bytes(), b.to_le_bytes());
        u32::from_le_bytes(core::array::from_fn(|i| (a[i] as i8).max(b[i] as i8) as u8))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emulations_follow_the_manual() {
        assert_eq!(sxtb16(0x80_7F_01_FF), pack16(-1, 127));
        assert_eq!(sxtb16_ror8(0x80_7F_01_FF), pack16(1, -128));
        assert_eq!(sxtab16(pack16(128, -1), 0x80_7F_01_FF), pack16(127, 126));
        assert_eq!(sxtab16_ror8(pack16(128, i16::MIN), 0x80_7F_01_FF), pack16(129, 32640));
        assert_eq!(smlad(pack16(-128, 127), pack16(255, -255), 7), 7 - 128 * 255 - 127 * 255);
        assert_eq!(smlabb(pack16(-128, 127), pack16(255, -255), 7), 7 - 128 * 255);
        assert_eq!(smlatt(pack16(-128, 127), pack16(255, -255), 7), 7 - 127 * 255);
        assert_eq!(ssat::<9>(1000), 255);
        assert_eq!(ssat::<9>(-1000), -256);
        assert_eq!(ssat::<16>(i32::MIN), -32768);
        assert_eq!(smax8(0x80_7F_01_FF, 0x7F_80_FF_00), 0x7F_7F_01_00);
    }
}

//! The instructions of `compiler_builtins`' `memcpy` and `memset` (through `__aeabi_memcpy` and
//! `__aeabi_memset`), which the kernels and the stream call for their row copies and fills,
//! counted from their disassembly: below 16 bytes a byte loop; otherwise bytes until the
//! destination is word-aligned, then words (four per pass of an unrolled loop), then the last
//! bytes. A `memcpy` whose source is not word-aligned after that shifts pairs of words: that
//! path is fitted ([`Event::MemcpyMisaligned`], [`Event::MemcpyMisalignedWord`]).

use super::{Event, Ledger};

/// Instructions of the unrolled word loops for `words` words: per pass of four, then the
/// pass that stops early (`per4`, and the costs of stopping after 1 and after 2 or 3 words).
fn word_loop(words: usize, per4: u64, after1: u64, after3: u64) -> u64 {
    per4 * (words / 4) as u64 + [0, after1, after3, after3][words % 4]
}

/// The shared tail of both functions: the last `bytes` (`low` = `bytes mod 4` of them one by
/// one, the rest four per pass).
fn tail(bytes: usize, low_first: u64, low_second: u64, zero: u64, check: u64, group_entry: u64, group: u64) -> u64 {
    let low = bytes % 4;
    let mut n = match low {
        0 => zero,
        1 => low_first,
        _ => low_first + low_second,
    } + check;
    if bytes >= 4 {
        n += group_entry + group * (bytes / 4) as u64;
    }
    n
}

/// A `memcpy` of `len` bytes from address `src` to `dst` (their residues mod 4 matter).
pub fn memcpy(t: &mut impl Ledger, len: usize, dst: usize, src: usize) {
    // `__aeabi_memcpy` (4), the prologue and length test (6), the epilogue (3).
    let mut n = 4 + 6 + 3;
    let rest = if len < 16 {
        n += 4;
        len
    } else {
        n += 5;
        let head = dst.wrapping_neg() % 4;
        n += [0, 13, 20, 21][head];
        n += 6;
        let words = (len - head) / 4;
        if !(src + head).is_multiple_of(4) {
            t.add(Event::MemcpyMisaligned, 1);
            t.add(Event::MemcpyMisalignedWord, words as u64);
            t.add(Event::MemoryInstruction, n);
            return;
        }
        n += 2;
        if words > 0 {
            n += 1 + word_loop(words, 17, 4, 12);
        }
        n += 5;
        (len - head) % 4
    };
    if rest > 0 {
        // One byte (6), a second (4) and a third (2 more), the group test (2), groups of
        // four bytes (2, then 11 each).
        let low = rest % 4;
        n += 3 + match low {
            0 => 2,
            1 => 6,
            2 => 6 + 4 + 4,
            _ => 6 + 4 + 6,
        };
        n += if low == 1 || low == 0 { 2 } else { 0 };
        if rest >= 4 {
            n += 2 + 11 * (rest / 4) as u64;
        } else if low >= 2 {
            n += 1;
        }
    } else if len < 16 {
        n += 1;
    }
    t.add(Event::MemoryInstruction, n);
}

/// A `memset` of `len` bytes at address `dst`.
pub fn memset(t: &mut impl Ledger, len: usize, dst: usize) {
    t.add(Event::MemoryInstruction, memset_instructions(len, dst));
}

/// Instructions of a `memset` of `len` bytes at address `dst`.
pub fn memset_instructions(len: usize, dst: usize) -> u64 {
    // Prologue and length test.
    let mut n = 4;
    let rest = if len < 16 {
        len
    } else {
        n += 5;
        let head = dst.wrapping_neg() % 4;
        n += [0, 10, 16, 16][head];
        n += 5;
        let words = (len - head) / 4;
        if words > 0 {
            n += 3 + word_loop(words, 12, 3, 9);
        }
        n += 1;
        (len - head) % 4
    };
    // The last bytes: the test (3); none: the return (1); else the low bytes (3, then 4, 7
    // more for a second and third or 1 for none), the return test (3) and groups of four
    // (1, 7 each, the return).
    n += 3;
    if rest == 0 {
        n += 1;
    } else {
        n += 3 + tail(rest, 4, 7, 1, 3, 2, 7);
    }
    n
}

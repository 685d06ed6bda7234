//! On-target test of the instruction clock (`qemu::cost::Clock`): over many SysTick wraps it
//! never goes back and never jumps, whatever phase the reads fall on.
#![no_std]
#![no_main]

qemu::runtime!(); // logger, panic handler, exit on fault

#[defmt_test::tests]
mod tests {
    use qemu::cost::Clock;

    #[init]
    fn init() -> Clock {
        let p = defmt::unwrap!(cortex_m::Peripherals::take());
        Clock::start(p.SYST)
    }

    #[test]
    fn reads_back_to_back_step_forward_a_tick_or_two_across_wraps(clock: &mut Clock) {
        // SysTick wraps every 65536 ticks; a read takes well under a tick (40 instructions)
        // plus, now and then, the wrap's exception.
        let start = clock.now();
        let (mut last, mut reads, mut largest_step) = (start, 0u32, 0u64);
        while last - start < 5 * 65536 {
            let now = clock.now();
            defmt::assert!(now >= last, "the clock went back from {=u64} to {=u64} after {=u32} reads", last, now, reads);
            largest_step = largest_step.max(now - last);
            last = now;
            reads += 1;
        }
        defmt::assert!(largest_step <= 4, "a step of {=u64} ticks between two reads", largest_step);
        defmt::info!("{=u32} reads over 5 wraps, largest step {=u64} ticks", reads, largest_step);
    }
}

//! Ending the program with a status the host sees: QEMU exits with the semihosting exit code,
//! and the runner (qemu-run.sh) returns it.

use cortex_m_rt::ExceptionFrame;

/// Exit status of a run that worked.
pub const SUCCESS: i32 = 0;
/// A reported error: bad model blob, missing or malformed host file.
pub const FAILURE: i32 = 1;
/// A panic or a fault: a bug, never an expected error.
pub const FAULT: i32 = 101;

/// Ends the program with `code` as the emulator's exit status.
pub fn exit(code: i32) -> ! {
    semihosting::process::exit(code)
}

/// What the HardFault handler of [`crate::runtime!`] does. panic-probe ends a panic in a
/// HardFault (after printing it through defmt); a real fault ends here too. Either way the run
/// must fail visibly instead of hanging until the timeout.
pub fn hard_fault(frame: &ExceptionFrame) -> ! {
    defmt::error!("HardFault at pc {=u32:#010x}", frame.pc());
    exit(FAULT)
}

/// Links what a program running in QEMU needs: the defmt logger over semihosting, the panic
/// handler (panic-probe) and a HardFault handler that exits with [`FAULT`]. Invoke it once in
/// the application and in each on-target test (the handlers must be linked exactly once per
/// program, so they live in the programs, not in this library).
#[macro_export]
macro_rules! runtime {
    () => {
        use defmt_semihosting as _;
        use panic_probe as _;

        #[cortex_m_rt::exception]
        unsafe fn HardFault(frame: &cortex_m_rt::ExceptionFrame) -> ! {
            $crate::exit::hard_fault(frame)
        }
    };
}

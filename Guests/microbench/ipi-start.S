// Entry points and exception vectors of the IPI round-trip guest (ipibench.elf; EL1h, MMU off).
// The boot CPU enters at _start; the second one at ipibench_secondary_entry through PSCI CPU_ON,
// with x0 = the context argument (its stack top). IRQs stay masked on both: they wait with WFI,
// which wakes on a pending interrupt whatever PSTATE.I says, and take SGIs with ICC_IAR1_EL1.

#include "el1-boot.inc"
    EL1_START ipibench_vectors, ipibench_main

    .text
    .global ipibench_secondary_entry
ipibench_secondary_entry:
    msr     daifset, #0xf
    mov     sp, x0
    ldr     x1, =ipibench_vectors
    msr     vbar_el1, x1
    isb
    bl      ipibench_secondary_main
1:  wfi
    b       1b

// Every vector calls  uint64_t ipibench_exception(kind, esr, elr) -> ELR to return to.
// Nothing here should fault; the handler reports what did and skips it.
    EL1_VECTORS ipibench_vectors, ipibench_exception

// uint64_t ipibench_hvc(function, a1, a2, a3): SMCCC call through HVC #0 (PSCI).
    .global ipibench_hvc
ipibench_hvc:
    hvc     #0
    ret

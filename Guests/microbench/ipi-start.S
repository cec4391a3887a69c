// Entry points and exception vectors of the IPI round-trip guest (ipibench.elf; EL1h, MMU off).
// The boot CPU enters at _start; the second one at ipibench_secondary_entry through PSCI CPU_ON,
// with x0 = the context argument (its stack top). IRQs stay masked on both: they wait with WFI,
// which wakes on a pending interrupt whatever PSTATE.I says, and take SGIs with ICC_IAR1_EL1.

    .section .text.boot, "ax"
    .global _start
_start:
    msr     daifset, #0xf
    ldr     x1, =__stack_top
    mov     sp, x1
    ldr     x1, =ipibench_vectors
    msr     vbar_el1, x1
    isb
    ldr     x1, =__bss_start
    ldr     x2, =__bss_end
1:  cmp     x1, x2
    b.hs    2f
    str     xzr, [x1], #8
    b       1b
2:  bl      ipibench_main
3:  wfi
    b       3b

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
#include "el1-vectors.inc"
    EL1_VECTORS ipibench_vectors, ipibench_exception

// uint64_t ipibench_hvc(function, a1, a2, a3): SMCCC call through HVC #0 (PSCI).
    .global ipibench_hvc
ipibench_hvc:
    hvc     #0
    ret

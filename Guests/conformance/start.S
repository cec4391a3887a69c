// Entry and vectors of the conformance guest (EL1h, MMU off).
#include "el1-boot.inc"
    EL1_START conformance_vectors, conformance_main
    EL1_VECTORS conformance_vectors, conformance_exception

// PSCI CPU_ON entry of vCPU 1: the lower half of the stack, the same vectors.
    .text
    .global conformance_secondary
conformance_secondary:
    msr     daifset, #0xf
    ldr     x1, =__stack_top
    sub     x1, x1, #0x2000
    mov     sp, x1
    ldr     x1, =conformance_vectors
    msr     vbar_el1, x1
    isb
    bl      conformance_secondary_main
1:  wfi
    b       1b

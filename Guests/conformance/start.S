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

// The FP/SIMD probe's register file (the C code is built with -mgeneral-regs-only and never
// touches it). fp_fill(seed): q<n> = {seed + n, ~(seed + n)}, FPCR.RMode = seed bits [1:0],
// FPSR = seed bits [4:0] as cumulative flags. fp_check(seed): how many of q0..q31, FPCR and
// FPSR no longer hold that pattern.
    .arch_extension fp
    .arch_extension simd
    .global fp_fill
fp_fill:
    .irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    add     x2, x0, #\n
    mvn     x3, x2
    fmov    d\n, x2
    mov     v\n\().d[1], x3
    .endr
    and     x2, x0, #3
    lsl     x2, x2, #22
    msr     fpcr, x2
    and     x2, x0, #0x1f
    msr     fpsr, x2
    ret

    .global fp_check
fp_check:
    mov     x4, #0
    .irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    add     x2, x0, #\n
    mvn     x3, x2
    fmov    x5, d\n
    mov     x6, v\n\().d[1]
    cmp     x5, x2
    ccmp    x6, x3, #0, eq
    cinc    x4, x4, ne
    .endr
    mrs     x5, fpcr
    and     x2, x0, #3
    cmp     x2, x5, lsr #22
    cinc    x4, x4, ne
    mrs     x5, fpsr
    and     x2, x0, #0x1f
    cmp     x2, x5
    cinc    x4, x4, ne
    mov     x0, x4
    ret

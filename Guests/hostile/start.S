// Entry and exception vectors of the hostile guest (EL1h, MMU off).

#include "el1-boot.inc"
    EL1_START hostile_vectors, hostile_main

// Target of the CPU_ON probe: it names a CPU that does not exist, so nothing should ever
// run this; if something does, it stays here.
    .global hostile_secondary_park
hostile_secondary_park:
    wfe
    b       hostile_secondary_park

// Every vector saves the caller-saved registers plus ELR/SPSR (the C handler may itself
// fault while printing, which would overwrite them), calls
//   uint64_t hostile_exception(kind, esr, far, elr)  -> ELR to return to
// and returns there. kind: bits [1:0] sync/irq/fiq/serror, bits [3:2] vector group.
// Asynchronous kinds come back with that exception masked in SPSR, so a level that
// stays asserted cannot livelock the guest.
    .macro  vector kind
    .balign 0x80
    sub     sp, sp, #192
    stp     x0, x1, [sp, #0]
    mov     x0, #\kind
    b       exception_common
    .endm

    .text
    .balign 0x800
    .global hostile_vectors
hostile_vectors:
    vector 0
    vector 1
    vector 2
    vector 3
    vector 4
    vector 5
    vector 6
    vector 7
    vector 8
    vector 9
    vector 10
    vector 11
    vector 12
    vector 13
    vector 14
    vector 15

exception_common:
    stp     x2, x3, [sp, #16]
    stp     x4, x5, [sp, #32]
    stp     x6, x7, [sp, #48]
    stp     x8, x9, [sp, #64]
    stp     x10, x11, [sp, #80]
    stp     x12, x13, [sp, #96]
    stp     x14, x15, [sp, #112]
    stp     x16, x17, [sp, #128]
    stp     x18, x30, [sp, #144]
    mrs     x2, elr_el1
    mrs     x3, spsr_el1
    stp     x2, x3, [sp, #160]
    str     x0, [sp, #176]          // kind
    mrs     x1, esr_el1
    mrs     x2, far_el1
    ldr     x3, [sp, #160]
    bl      hostile_exception
    msr     elr_el1, x0
    ldr     x3, [sp, #168]          // SPSR
    ldr     x0, [sp, #176]
    and     x0, x0, #3
    cbz     x0, 1f                  // synchronous: nothing to mask
    cmp     x0, #1
    b.ne    2f
    orr     x3, x3, #(1 << 7)       // IRQ -> PSTATE.I
    b       1f
2:  cmp     x0, #2
    b.ne    3f
    orr     x3, x3, #(1 << 6)       // FIQ -> PSTATE.F
    b       1f
3:  orr     x3, x3, #(1 << 8)       // SError -> PSTATE.A
1:  msr     spsr_el1, x3
    ldp     x0, x1, [sp, #0]
    ldp     x2, x3, [sp, #16]
    ldp     x4, x5, [sp, #32]
    ldp     x6, x7, [sp, #48]
    ldp     x8, x9, [sp, #64]
    ldp     x10, x11, [sp, #80]
    ldp     x12, x13, [sp, #96]
    ldp     x14, x15, [sp, #112]
    ldp     x16, x17, [sp, #128]
    ldp     x18, x30, [sp, #144]
    add     sp, sp, #192
    eret

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
    .macro  vector kind
    .balign 0x80
    sub     sp, sp, #192
    stp     x0, x1, [sp, #0]
    mov     x0, #\kind
    b       exception_common
    .endm

    .balign 0x800
ipibench_vectors:
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
    mrs     x2, spsr_el1
    str     x2, [sp, #168]
    mrs     x1, esr_el1
    mrs     x2, elr_el1
    bl      ipibench_exception
    msr     elr_el1, x0
    ldr     x3, [sp, #168]
    orr     x3, x3, #(0xf << 6)     // an asynchronous exception must not come straight back
    msr     spsr_el1, x3
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

// uint64_t ipibench_hvc(function, a1, a2, a3): SMCCC call through HVC #0 (PSCI).
    .global ipibench_hvc
ipibench_hvc:
    hvc     #0
    ret

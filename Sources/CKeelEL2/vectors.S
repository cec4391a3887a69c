// EL2 exception vectors. A trap from a guest saves the vCPU's GPRs and FP/SIMD state into the
// context TPIDR_EL2 names (struct keel_vcpu_context), calls keel_trap(kind) in Swift, then
// restores whatever context TPIDR_EL2 names by then (it may be another vCPU) and ERETs.
// FP/SIMD is saved on every trap because the compiler uses q registers in hypervisor code.
#if defined(KEEL_EL2) && defined(__aarch64__)

    .text
// Entry: x0/x1 of the guest are on the stack, x1 = trap kind.
keel_guest_trap:
    mrs     x0, tpidr_el2
    ldr     x0, [x0]
    stp     x2, x3, [x0, #16]
    stp     x4, x5, [x0, #32]
    stp     x6, x7, [x0, #48]
    stp     x8, x9, [x0, #64]
    stp     x10, x11, [x0, #80]
    stp     x12, x13, [x0, #96]
    stp     x14, x15, [x0, #112]
    stp     x16, x17, [x0, #128]
    stp     x18, x19, [x0, #144]
    stp     x20, x21, [x0, #160]
    stp     x22, x23, [x0, #176]
    stp     x24, x25, [x0, #192]
    stp     x26, x27, [x0, #208]
    stp     x28, x29, [x0, #224]
    str     x30, [x0, #240]
    ldp     x2, x3, [sp], #16
    stp     x2, x3, [x0, #0]
    mrs     x2, elr_el2
    mrs     x3, spsr_el2
    stp     x2, x3, [x0, #248]
    add     x4, x0, #272
    stp     q0, q1, [x4, #0]
    stp     q2, q3, [x4, #32]
    stp     q4, q5, [x4, #64]
    stp     q6, q7, [x4, #96]
    stp     q8, q9, [x4, #128]
    stp     q10, q11, [x4, #160]
    stp     q12, q13, [x4, #192]
    stp     q14, q15, [x4, #224]
    stp     q16, q17, [x4, #256]
    stp     q18, q19, [x4, #288]
    stp     q20, q21, [x4, #320]
    stp     q22, q23, [x4, #352]
    stp     q24, q25, [x4, #384]
    stp     q26, q27, [x4, #416]
    stp     q28, q29, [x4, #448]
    stp     q30, q31, [x4, #480]
    mrs     x2, fpsr
    mrs     x3, fpcr
    add     x4, x4, #512
    stp     x2, x3, [x4]
    mov     x0, x1
    bl      keel_trap
    b       keel_return_to_guest


.macro GUEST_VECTOR kind
    .balign 0x80
    stp     x0, x1, [sp, #-16]!
    mov     x1, #\kind
    b       keel_guest_trap
.endm

.macro HYP_VECTOR kind
    .balign 0x80
    mov     x0, #\kind
    bl      keel_hypervisor_fault
1:  wfe
    b       1b
.endm

    .balign 0x800
    .global keel_vectors
keel_vectors:
    // Current EL with SP_EL0: never used by Keel.
    HYP_VECTOR 0
    HYP_VECTOR 1
    HYP_VECTOR 2
    HYP_VECTOR 3
    // Current EL with SP_EL2: a fault in the hypervisor itself.
    HYP_VECTOR 0
    HYP_VECTOR 1
    HYP_VECTOR 2
    HYP_VECTOR 3
    // Lower EL, AArch64: the guest.
    GUEST_VECTOR 0
    GUEST_VECTOR 1
    GUEST_VECTOR 2
    GUEST_VECTOR 3
    // Lower EL, AArch32: Keel runs no AArch32 guests (HCR_EL2.RW=1); treat as guest traps.
    GUEST_VECTOR 0
    GUEST_VECTOR 1
    GUEST_VECTOR 2
    GUEST_VECTOR 3

    .global keel_return_to_guest
keel_return_to_guest:
    mrs     x0, tpidr_el2
    ldr     x0, [x0]
    add     x1, x0, #272
    ldp     q0, q1, [x1, #0]
    ldp     q2, q3, [x1, #32]
    ldp     q4, q5, [x1, #64]
    ldp     q6, q7, [x1, #96]
    ldp     q8, q9, [x1, #128]
    ldp     q10, q11, [x1, #160]
    ldp     q12, q13, [x1, #192]
    ldp     q14, q15, [x1, #224]
    ldp     q16, q17, [x1, #256]
    ldp     q18, q19, [x1, #288]
    ldp     q20, q21, [x1, #320]
    ldp     q22, q23, [x1, #352]
    ldp     q24, q25, [x1, #384]
    ldp     q26, q27, [x1, #416]
    ldp     q28, q29, [x1, #448]
    ldp     q30, q31, [x1, #480]
    add     x1, x1, #512
    ldp     x2, x3, [x1]
    msr     fpsr, x2
    msr     fpcr, x3
    ldp     x2, x3, [x0, #248]
    msr     elr_el2, x2
    msr     spsr_el2, x3
    ldp     x2, x3, [x0, #16]
    ldp     x4, x5, [x0, #32]
    ldp     x6, x7, [x0, #48]
    ldp     x8, x9, [x0, #64]
    ldp     x10, x11, [x0, #80]
    ldp     x12, x13, [x0, #96]
    ldp     x14, x15, [x0, #112]
    ldp     x16, x17, [x0, #128]
    ldp     x18, x19, [x0, #144]
    ldp     x20, x21, [x0, #160]
    ldp     x22, x23, [x0, #176]
    ldp     x24, x25, [x0, #192]
    ldp     x26, x27, [x0, #208]
    ldp     x28, x29, [x0, #224]
    ldr     x30, [x0, #240]
    ldp     x0, x1, [x0, #0]
    // Every return to a guest clears the local exclusive monitor, so a guest's LDXR/STXR pair
    // that straddles a trap always fails the STXR and retries (allowed by the architecture:
    // an exception return may clear the monitor). Keel's own locks use exclusives on the same
    // CPU, so leaving it open would make the outcome depend on what the trap path did.
    clrex
    eret
    dsb     nsh
    isb

    .global keel_enter_guest
keel_enter_guest:
    mrs     x0, tpidr_el2
    ldr     x1, [x0, #24]
    mov     sp, x1
    b       keel_return_to_guest
#endif

// EL2 exception vectors. A trap from a guest saves the vCPU's general registers into the
// context TPIDR_EL2 names (struct keel_vcpu_context), calls keel_trap(kind) in Swift, then
// restores whatever context TPIDR_EL2 names by then (it may be another vCPU) and ERETs.
// FP/SIMD is not touched on a trap: Keel's C and Swift are built with -mgeneral-regs-only, so
// the guest's q registers stay in the hardware until its vCPU leaves the CPU
// (keel_fp_save/keel_fp_load, called from Scheduling.swift).
#if defined(KEEL_EL2) && defined(__aarch64__)
    .arch_extension fp
    .arch_extension simd

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

// FP/SIMD state of a vCPU, x0 = its keel_vcpu_context: saved when it leaves a CPU, loaded when
// it arrives.
    .global keel_fp_save
keel_fp_save:
    add     x0, x0, #272
    stp     q0, q1, [x0, #0]
    stp     q2, q3, [x0, #32]
    stp     q4, q5, [x0, #64]
    stp     q6, q7, [x0, #96]
    stp     q8, q9, [x0, #128]
    stp     q10, q11, [x0, #160]
    stp     q12, q13, [x0, #192]
    stp     q14, q15, [x0, #224]
    stp     q16, q17, [x0, #256]
    stp     q18, q19, [x0, #288]
    stp     q20, q21, [x0, #320]
    stp     q22, q23, [x0, #352]
    stp     q24, q25, [x0, #384]
    stp     q26, q27, [x0, #416]
    stp     q28, q29, [x0, #448]
    stp     q30, q31, [x0, #480]
    mrs     x1, fpsr
    mrs     x2, fpcr
    add     x0, x0, #512
    stp     x1, x2, [x0]
    ret

    .global keel_fp_load
keel_fp_load:
    add     x0, x0, #272
    ldp     q0, q1, [x0, #0]
    ldp     q2, q3, [x0, #32]
    ldp     q4, q5, [x0, #64]
    ldp     q6, q7, [x0, #96]
    ldp     q8, q9, [x0, #128]
    ldp     q10, q11, [x0, #160]
    ldp     q12, q13, [x0, #192]
    ldp     q14, q15, [x0, #224]
    ldp     q16, q17, [x0, #256]
    ldp     q18, q19, [x0, #288]
    ldp     q20, q21, [x0, #320]
    ldp     q22, q23, [x0, #352]
    ldp     q24, q25, [x0, #384]
    ldp     q26, q27, [x0, #416]
    ldp     q28, q29, [x0, #448]
    ldp     q30, q31, [x0, #480]
    add     x0, x0, #512
    ldp     x1, x2, [x0]
    msr     fpsr, x1
    msr     fpcr, x2
    ret

// Swift's prebuilt Unicode tables (libswiftUnicodeDataTables.a, not built by Keel) count bits
// with v0, and a trap may compare or normalise a guest's string: their entry points are
// wrapped (--wrap in Support/toolset-el2.json) so the guest's q0 survives.
.macro PRESERVE_Q0 name
    .global __wrap_\name
__wrap_\name:
    stp     x29, x30, [sp, #-32]!
    mov     x29, sp
    str     q0, [sp, #16]
    bl      __real_\name
    ldr     q0, [sp, #16]
    ldp     x29, x30, [sp], #32
    ret
.endm
    PRESERVE_Q0 _swift_stdlib_getComposition
    PRESERVE_Q0 _swift_stdlib_getDecompositionEntry
    PRESERVE_Q0 _swift_stdlib_getNormData
    PRESERVE_Q0 _swift_stdlib_isExtendedPictographic
    PRESERVE_Q0 _swift_stdlib_isInCB_Consonant

    .global keel_enter_guest
keel_enter_guest:
    mrs     x0, tpidr_el2
    ldr     x1, [x0, #24]
    mov     sp, x1
    b       keel_return_to_guest
#endif

// Entry, exception vectors and timed loops of the microbench guest (EL1h, MMU off).

#include "el1-boot.inc"
    EL1_START microbench_vectors, microbench_main

// Every vector calls  uint64_t microbench_exception(kind, esr, elr) -> ELR to return to.
// Only the probes that decide whether an operation exists may fault (bare QEMU has no EL2, so
// HVC #0x86 is undefined there); the handler counts the exception and skips the instruction.
    EL1_VECTORS microbench_vectors, microbench_exception

// Timed loops:  uint64_t mb_<name>(uint64_t iterations)  -> CNTVCT_EL0 ticks for all of them.
// Loop state lives in callee-saved x19/x20, because the calls may clobber x0-x17 (SMCCC) and
// the backdoor rewrites x0-x5. Each loop body is the operation plus SUBS/B.NE; the CNTVCT
// baseline loop has the same overhead, so differences between rows are the operations' costs.
    .macro  bench_begin name
    .global mb_\name
    .balign 64
mb_\name:
    stp     x19, x20, [sp, #-16]!
    mov     x19, x0
    isb
    mrs     x20, cntvct_el0
1:
    .endm

    .macro  bench_end
    subs    x19, x19, #1
    b.ne    1b
    isb
    mrs     x0, cntvct_el0
    sub     x0, x0, x20
    ldp     x19, x20, [sp], #16
    ret
    .endm

    // GETVERSION (low-bandwidth IN, command 10) arguments.
    .macro  getversion_args
    movz    x0, #0x5868
    movk    x0, #0x564d, lsl #16    // BDOOR_MAGIC
    mov     x1, #0
    mov     x2, #10                 // BDOOR_CMD_GETVERSION
    mov     x3, #0x5658             // BDOOR_PORT
    mov     x7, #0xe                // IN, with DX, 4 bytes
    movk    x7, #0x86, lsl #32      // X86_IO_MAGIC marker for the MRS form
    .endm

bench_begin empty
bench_end

bench_begin cntvct
    mrs     x0, cntvct_el0
bench_end

bench_begin cntpct
    mrs     x0, cntpct_el0
bench_end

// PSCI_VERSION: a real SMCCC call on every platform (Keel's PSCI, or QEMU's own PSCI on bare
// QEMU), so both columns time the same thing.
bench_begin psci_version
    mov     x0, #0x84000000
    hvc     #0
bench_end

// HVC with an immediate Keel does not define: the cheapest possible exit (no SMCCC dispatch).
bench_begin hvc_unknown_imm
    mov     x0, #0x86000000
    hvc     #1
bench_end

// The null hypercall: HVC #0 with a function ID nobody defines (SMCCC answers NOT_SUPPORTED).
bench_begin hvc0_unknown
    mov     x0, #0x86000000
    hvc     #0
bench_end

// An emulated device register read: the PL011's flag register (UARTFR) at 0x0900_0018.
bench_begin pl011_fr
    mov     x0, #0x09000000
    ldr     w0, [x0, #0x18]
bench_end

bench_begin bd_hvc
    getversion_args
    hvc     #0x86
bench_end

bench_begin bd_mrs
    getversion_args
    mrs     xzr, mdccsr_el0
bench_end

// One GETVERSION, for the availability probe: returns W1 (BDOOR_MAGIC when a backdoor answered).
    .global mb_getversion_hvc_once
mb_getversion_hvc_once:
    getversion_args
    hvc     #0x86
    mov     x0, x1
    ret

    .global mb_getversion_mrs_once
mb_getversion_mrs_once:
    getversion_args
    mrs     xzr, mdccsr_el0
    mov     x0, x1
    ret

    .global mb_hvc_unknown_imm_once
mb_hvc_unknown_imm_once:
    mov     x0, #0x86000000
    hvc     #1
    ret

    .global mb_psci
mb_psci:
    hvc     #0
    ret

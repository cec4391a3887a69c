// EL2 entry for the boot CPU (_start) and for secondaries (keel_secondary_entry, x0 = slot).
// Before any Swift or C runs: mask interrupts, give the CPU its stack, untrap FP/SIMD (the
// compiler uses q registers freely), and turn on the EL2 MMU with caches, because Swift's
// refcounting uses exclusives, which need Normal memory.
#if defined(KEEL_EL2) && defined(__aarch64__)
    .section .text.boot, "ax"
    .global _start
_start:
    mov     x19, x0
    mov     x20, #0
    b       1f

    .global keel_secondary_entry
keel_secondary_entry:
    mov     x19, #0
    mov     x20, x0
1:  msr     daifset, #0xf
    adrp    x1, __stacks_start
    add     x1, x1, :lo12:__stacks_start
    add     x2, x20, #1
    lsl     x2, x2, #16
    add     sp, x1, x2
    mov     x1, #0x33ff
    msr     cptr_el2, x1
    isb
    cbnz    x20, 3f

    // Boot CPU: clear BSS, then build the identity map: 1 GiB blocks, the first GiB
    // Device-nGnRnE and execute-never, everything above Normal write-back.
    adrp    x1, __bss_start
    add     x1, x1, :lo12:__bss_start
    adrp    x2, __bss_end
    add     x2, x2, :lo12:__bss_end
2:  cmp     x1, x2
    b.hs    2f
    str     xzr, [x1], #8
    b       2b
2:  adrp    x1, keel_boot_dtb
    str     x19, [x1, :lo12:keel_boot_dtb]
    adrp    x1, __el2_pt_start
    add     x1, x1, :lo12:__el2_pt_start
    mov     x2, #0x401
    movk    x2, #0x0040, lsl #48
    str     x2, [x1]
    mov     x3, #1
2:  lsl     x4, x3, #30
    mov     x5, #0x705
    orr     x4, x4, x5
    str     x4, [x1, x3, lsl #3]
    add     x3, x3, #1
    cmp     x3, #512
    b.lo    2b
    dsb     ish

3:  mov     x1, #0xff00
    msr     mair_el2, x1
    ldr     x1, =0x80823519
    msr     tcr_el2, x1
    adrp    x1, __el2_pt_start
    add     x1, x1, :lo12:__el2_pt_start
    msr     ttbr0_el2, x1
    isb
    tlbi    alle2
    dsb     ish
    isb
    ldr     x1, =0x30c5183d
    msr     sctlr_el2, x1
    isb
    adrp    x1, keel_vectors
    add     x1, x1, :lo12:keel_vectors
    msr     vbar_el2, x1
    isb
    cbnz    x20, 4f
    mov     x0, #0
    mov     x1, #0
    bl      main
    b       5f
4:  mov     x0, x20
    bl      keel_secondary_main
5:  wfe
    b       5b
#endif

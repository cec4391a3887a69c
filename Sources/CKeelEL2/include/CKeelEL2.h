// The EL2 hardware shell: system-register access, barriers and the trap frame layout shared
// with vectors.S. Everything is compiled only for the embedded image; on the host this header
// is empty so the host build never sees EL2 instructions.
#ifndef CKEEL_EL2_H
#define CKEEL_EL2_H
#if defined(KEEL_EL2) && defined(__aarch64__)
#include <stdint.h>
#include <stddef.h>

/// A vCPU's register file as the vectors save it. Offsets are fixed: vectors.S uses them.
struct keel_vcpu_context {
  uint64_t x[31];     // 0
  uint64_t elr;       // 248
  uint64_t spsr;      // 256
  uint64_t pad;       // 264
  __uint128_t q[32];  // 272
  uint64_t fpsr;      // 784
  uint64_t fpcr;      // 792
};

/// What TPIDR_EL2 points at. `context` must stay first: the vectors load it with one LDR.
struct keel_percpu {
  struct keel_vcpu_context *context;  // 0
  uint64_t index;                     // 8
  void *owner;                        // 16: the Swift per-CPU object
  uint64_t stack_top;                 // 24
};

#define KEEL_SYSREG(name, enc) \
  static inline __attribute__((always_inline)) uint64_t keel_read_##name(void) { \
    uint64_t v; __asm__ volatile("mrs %0, " #enc : "=r"(v)); return v; } \
  static inline __attribute__((always_inline)) void keel_write_##name(uint64_t v) { \
    __asm__ volatile("msr " #enc ", %0" :: "r"(v) : "memory"); }

KEEL_SYSREG(esr_el2, esr_el2)
KEEL_SYSREG(elr_el2, elr_el2)
KEEL_SYSREG(far_el2, far_el2)
KEEL_SYSREG(hpfar_el2, hpfar_el2)
KEEL_SYSREG(hcr_el2, hcr_el2)
KEEL_SYSREG(vttbr_el2, vttbr_el2)
KEEL_SYSREG(vtcr_el2, vtcr_el2)
KEEL_SYSREG(vmpidr_el2, vmpidr_el2)
KEEL_SYSREG(vpidr_el2, vpidr_el2)
KEEL_SYSREG(cntvoff_el2, cntvoff_el2)
KEEL_SYSREG(cnthctl_el2, cnthctl_el2)
KEEL_SYSREG(cptr_el2, cptr_el2)
KEEL_SYSREG(mdcr_el2, mdcr_el2)
KEEL_SYSREG(tpidr_el2, tpidr_el2)
KEEL_SYSREG(sctlr_el1, sctlr_el1)
KEEL_SYSREG(tcr_el1, tcr_el1)
KEEL_SYSREG(ttbr0_el1, ttbr0_el1)
KEEL_SYSREG(ttbr1_el1, ttbr1_el1)
KEEL_SYSREG(mair_el1, mair_el1)
KEEL_SYSREG(amair_el1, amair_el1)
KEEL_SYSREG(vbar_el1, vbar_el1)
KEEL_SYSREG(contextidr_el1, contextidr_el1)
KEEL_SYSREG(tpidr_el0, tpidr_el0)
KEEL_SYSREG(tpidrro_el0, tpidrro_el0)
KEEL_SYSREG(tpidr_el1, tpidr_el1)
KEEL_SYSREG(sp_el0, sp_el0)
KEEL_SYSREG(sp_el1, sp_el1)
KEEL_SYSREG(elr_el1, elr_el1)
KEEL_SYSREG(spsr_el1, spsr_el1)
KEEL_SYSREG(esr_el1, esr_el1)
KEEL_SYSREG(far_el1, far_el1)
KEEL_SYSREG(afsr0_el1, afsr0_el1)
KEEL_SYSREG(afsr1_el1, afsr1_el1)
KEEL_SYSREG(par_el1, par_el1)
KEEL_SYSREG(cpacr_el1, cpacr_el1)
KEEL_SYSREG(cntkctl_el1, cntkctl_el1)
KEEL_SYSREG(cntv_ctl_el0, cntv_ctl_el0)
KEEL_SYSREG(cntv_cval_el0, cntv_cval_el0)
KEEL_SYSREG(csselr_el1, csselr_el1)
KEEL_SYSREG(mdscr_el1, mdscr_el1)
KEEL_SYSREG(cntp_ctl_el0, cntp_ctl_el0)
KEEL_SYSREG(cntp_cval_el0, cntp_cval_el0)
KEEL_SYSREG(pmcr_el0, pmcr_el0)
// The rest of the PMU a guest programs directly (switched per vCPU, Scheduling.swift).
KEEL_SYSREG(pmcntenset_el0, pmcntenset_el0)
KEEL_SYSREG(pmcntenclr_el0, pmcntenclr_el0)
KEEL_SYSREG(pmintenset_el1, pmintenset_el1)
KEEL_SYSREG(pmintenclr_el1, pmintenclr_el1)
KEEL_SYSREG(pmovsset_el0, pmovsset_el0)
KEEL_SYSREG(pmovsclr_el0, pmovsclr_el0)
KEEL_SYSREG(pmselr_el0, pmselr_el0)
KEEL_SYSREG(pmuserenr_el0, pmuserenr_el0)
KEEL_SYSREG(pmccntr_el0, pmccntr_el0)
KEEL_SYSREG(pmccfiltr_el0, pmccfiltr_el0)
KEEL_SYSREG(pmxevtyper_el0, pmxevtyper_el0)
KEEL_SYSREG(pmxevcntr_el0, pmxevcntr_el0)
KEEL_SYSREG(id_aa64dfr0_el1, id_aa64dfr0_el1)
KEEL_SYSREG(dczid_el0, dczid_el0)
KEEL_SYSREG(actlr_el1, actlr_el1)
KEEL_SYSREG(mpidr_el1, mpidr_el1)
KEEL_SYSREG(midr_el1, midr_el1)
KEEL_SYSREG(cntpct_el0, cntpct_el0)
KEEL_SYSREG(cntfrq_el0, cntfrq_el0)
KEEL_SYSREG(id_aa64mmfr0_el1, id_aa64mmfr0_el1)
KEEL_SYSREG(id_aa64pfr0_el1, id_aa64pfr0_el1)
// GICv3 CPU interface and its virtualization control, by encoding so any assembler takes them.
KEEL_SYSREG(icc_sre_el2, S3_4_C12_C9_5)
KEEL_SYSREG(icc_pmr_el1, S3_0_C4_C6_0)
KEEL_SYSREG(icc_iar1_el1, S3_0_C12_C12_0)
KEEL_SYSREG(icc_eoir1_el1, S3_0_C12_C12_1)
KEEL_SYSREG(icc_dir_el1, S3_0_C12_C11_1)
KEEL_SYSREG(icc_ctlr_el1, S3_0_C12_C12_4)
KEEL_SYSREG(icc_bpr1_el1, S3_0_C12_C12_3)
KEEL_SYSREG(icc_igrpen1_el1, S3_0_C12_C12_7)
KEEL_SYSREG(icc_sgi1r_el1, S3_0_C12_C11_5)
KEEL_SYSREG(ich_hcr_el2, S3_4_C12_C11_0)
KEEL_SYSREG(ich_vtr_el2, S3_4_C12_C11_1)
KEEL_SYSREG(ich_misr_el2, S3_4_C12_C11_2)
KEEL_SYSREG(ich_eisr_el2, S3_4_C12_C11_3)
KEEL_SYSREG(ich_elrsr_el2, S3_4_C12_C11_5)
KEEL_SYSREG(ich_vmcr_el2, S3_4_C12_C11_7)
// The EL2 physical timer: Keel's own scheduling timer (time slices, vCPU wake-ups).
KEEL_SYSREG(cnthp_ctl_el2, S3_4_C14_C2_1)
KEEL_SYSREG(cnthp_cval_el2, S3_4_C14_C2_2)

/// DBGBVR/DBGBCR/DBGWVR/DBGWCR<n>_EL1 by kind (op2: 4, 5, 6, 7) and index, as the guest
/// wrote them (DebugRegisterFile). Only writes: the vCPU's own copy is what it reads back.
#define KEEL_DBG_CASE(n) \
  case n: switch (op2) { \
    case 4: __asm__ volatile("msr dbgbvr" #n "_el1, %0" :: "r"(v)); break; \
    case 5: __asm__ volatile("msr dbgbcr" #n "_el1, %0" :: "r"(v)); break; \
    case 6: __asm__ volatile("msr dbgwvr" #n "_el1, %0" :: "r"(v)); break; \
    case 7: __asm__ volatile("msr dbgwcr" #n "_el1, %0" :: "r"(v)); break; } break;
static inline void keel_write_debug_register(unsigned op2, unsigned n, uint64_t v) {
  switch (n) {
    KEEL_DBG_CASE(0) KEEL_DBG_CASE(1) KEEL_DBG_CASE(2) KEEL_DBG_CASE(3)
    KEEL_DBG_CASE(4) KEEL_DBG_CASE(5) KEEL_DBG_CASE(6) KEEL_DBG_CASE(7)
    KEEL_DBG_CASE(8) KEEL_DBG_CASE(9) KEEL_DBG_CASE(10) KEEL_DBG_CASE(11)
    KEEL_DBG_CASE(12) KEEL_DBG_CASE(13) KEEL_DBG_CASE(14) KEEL_DBG_CASE(15)
  }
}

/// ICH_AP0R<n>_EL2 / ICH_AP1R<n>_EL2: the virtual CPU interface's active priorities, part of
/// a vCPU's state when it leaves a host CPU.
static inline uint64_t keel_read_ich_apr(unsigned group, unsigned n) {
  uint64_t v = 0;
  switch (group * 4 + n) {
  case 0: __asm__ volatile("mrs %0, S3_4_C12_C8_0" : "=r"(v)); break;
  case 1: __asm__ volatile("mrs %0, S3_4_C12_C8_1" : "=r"(v)); break;
  case 2: __asm__ volatile("mrs %0, S3_4_C12_C8_2" : "=r"(v)); break;
  case 3: __asm__ volatile("mrs %0, S3_4_C12_C8_3" : "=r"(v)); break;
  case 4: __asm__ volatile("mrs %0, S3_4_C12_C9_0" : "=r"(v)); break;
  case 5: __asm__ volatile("mrs %0, S3_4_C12_C9_1" : "=r"(v)); break;
  case 6: __asm__ volatile("mrs %0, S3_4_C12_C9_2" : "=r"(v)); break;
  case 7: __asm__ volatile("mrs %0, S3_4_C12_C9_3" : "=r"(v)); break;
  }
  return v;
}

static inline void keel_write_ich_apr(unsigned group, unsigned n, uint64_t v) {
  switch (group * 4 + n) {
  case 0: __asm__ volatile("msr S3_4_C12_C8_0, %0" :: "r"(v)); break;
  case 1: __asm__ volatile("msr S3_4_C12_C8_1, %0" :: "r"(v)); break;
  case 2: __asm__ volatile("msr S3_4_C12_C8_2, %0" :: "r"(v)); break;
  case 3: __asm__ volatile("msr S3_4_C12_C8_3, %0" :: "r"(v)); break;
  case 4: __asm__ volatile("msr S3_4_C12_C9_0, %0" :: "r"(v)); break;
  case 5: __asm__ volatile("msr S3_4_C12_C9_1, %0" :: "r"(v)); break;
  case 6: __asm__ volatile("msr S3_4_C12_C9_2, %0" :: "r"(v)); break;
  case 7: __asm__ volatile("msr S3_4_C12_C9_3, %0" :: "r"(v)); break;
  }
}

static inline uint64_t keel_read_ich_lr(unsigned n) {
  uint64_t v = 0;
  switch (n) {
  case 0: __asm__ volatile("mrs %0, S3_4_C12_C12_0" : "=r"(v)); break;
  case 1: __asm__ volatile("mrs %0, S3_4_C12_C12_1" : "=r"(v)); break;
  case 2: __asm__ volatile("mrs %0, S3_4_C12_C12_2" : "=r"(v)); break;
  case 3: __asm__ volatile("mrs %0, S3_4_C12_C12_3" : "=r"(v)); break;
  case 4: __asm__ volatile("mrs %0, S3_4_C12_C12_4" : "=r"(v)); break;
  case 5: __asm__ volatile("mrs %0, S3_4_C12_C12_5" : "=r"(v)); break;
  case 6: __asm__ volatile("mrs %0, S3_4_C12_C12_6" : "=r"(v)); break;
  case 7: __asm__ volatile("mrs %0, S3_4_C12_C12_7" : "=r"(v)); break;
  case 8: __asm__ volatile("mrs %0, S3_4_C12_C13_0" : "=r"(v)); break;
  case 9: __asm__ volatile("mrs %0, S3_4_C12_C13_1" : "=r"(v)); break;
  case 10: __asm__ volatile("mrs %0, S3_4_C12_C13_2" : "=r"(v)); break;
  case 11: __asm__ volatile("mrs %0, S3_4_C12_C13_3" : "=r"(v)); break;
  case 12: __asm__ volatile("mrs %0, S3_4_C12_C13_4" : "=r"(v)); break;
  case 13: __asm__ volatile("mrs %0, S3_4_C12_C13_5" : "=r"(v)); break;
  case 14: __asm__ volatile("mrs %0, S3_4_C12_C13_6" : "=r"(v)); break;
  case 15: __asm__ volatile("mrs %0, S3_4_C12_C13_7" : "=r"(v)); break;
  }
  return v;
}

static inline void keel_write_ich_lr(unsigned n, uint64_t v) {
  switch (n) {
  case 0: __asm__ volatile("msr S3_4_C12_C12_0, %0" :: "r"(v)); break;
  case 1: __asm__ volatile("msr S3_4_C12_C12_1, %0" :: "r"(v)); break;
  case 2: __asm__ volatile("msr S3_4_C12_C12_2, %0" :: "r"(v)); break;
  case 3: __asm__ volatile("msr S3_4_C12_C12_3, %0" :: "r"(v)); break;
  case 4: __asm__ volatile("msr S3_4_C12_C12_4, %0" :: "r"(v)); break;
  case 5: __asm__ volatile("msr S3_4_C12_C12_5, %0" :: "r"(v)); break;
  case 6: __asm__ volatile("msr S3_4_C12_C12_6, %0" :: "r"(v)); break;
  case 7: __asm__ volatile("msr S3_4_C12_C12_7, %0" :: "r"(v)); break;
  case 8: __asm__ volatile("msr S3_4_C12_C13_0, %0" :: "r"(v)); break;
  case 9: __asm__ volatile("msr S3_4_C12_C13_1, %0" :: "r"(v)); break;
  case 10: __asm__ volatile("msr S3_4_C12_C13_2, %0" :: "r"(v)); break;
  case 11: __asm__ volatile("msr S3_4_C12_C13_3, %0" :: "r"(v)); break;
  case 12: __asm__ volatile("msr S3_4_C12_C13_4, %0" :: "r"(v)); break;
  case 13: __asm__ volatile("msr S3_4_C12_C13_5, %0" :: "r"(v)); break;
  case 14: __asm__ volatile("msr S3_4_C12_C13_6, %0" :: "r"(v)); break;
  case 15: __asm__ volatile("msr S3_4_C12_C13_7, %0" :: "r"(v)); break;
  }
}

static inline __attribute__((always_inline)) void keel_isb(void) { __asm__ volatile("isb" ::: "memory"); }
static inline __attribute__((always_inline)) void keel_dsb_ish(void) { __asm__ volatile("dsb ish" ::: "memory"); }
static inline __attribute__((always_inline)) void keel_dsb_sy(void) { __asm__ volatile("dsb sy" ::: "memory"); }
static inline __attribute__((always_inline)) void keel_wfi(void) { __asm__ volatile("dsb sy\n\twfi" ::: "memory"); }
static inline __attribute__((always_inline)) void keel_wfe(void) { __asm__ volatile("wfe" ::: "memory"); }
static inline __attribute__((always_inline)) void keel_sev(void) { __asm__ volatile("dsb ish\n\tsev" ::: "memory"); }
static inline __attribute__((always_inline)) void keel_yield(void) { __asm__ volatile("yield" ::: "memory"); }
static inline __attribute__((always_inline)) void keel_tlbi_vmalls12e1is(void) {
  __asm__ volatile("dsb ishst\n\ttlbi vmalls12e1is\n\tdsb ish\n\tisb" ::: "memory");
}
/// Local invalidation of the current VMID's stage-1 and stage-2 TLB entries and the I-cache:
/// another vCPU of the same VM ran on this CPU last, and its local maintenance may not cover us.
static inline __attribute__((always_inline)) void keel_flush_local_guest_context(void) {
  __asm__ volatile("dsb nshst\n\ttlbi vmalls12e1\n\tic iallu\n\tdsb nsh\n\tisb" ::: "memory");
}
/// Clean a range to the point of coherency and invalidate the I-cache, after copying code a
/// guest will execute with its MMU (and so its caches' view) off.
static inline void keel_sync_code(uint64_t start, uint64_t size) {
  for (uint64_t a = start & ~63ull; a < start + size; a += 64) __asm__ volatile("dc cvac, %0" :: "r"(a) : "memory");
  __asm__ volatile("dsb ish\n\tic ialluis\n\tdsb ish\n\tisb" ::: "memory");
}

/// Stage 1+2 translation of a guest virtual address for a write, as the guest's EL0 or EL1
/// would see it; returns PAR_EL1 (bit 0 set: the translation faulted).
static inline uint64_t keel_translate_guest_write(uint64_t va, int el0) {
  uint64_t saved, par;
  __asm__ volatile("mrs %0, par_el1" : "=r"(saved));
  if (el0) __asm__ volatile("at s12e0w, %0" :: "r"(va) : "memory");
  else __asm__ volatile("at s12e1w, %0" :: "r"(va) : "memory");
  __asm__ volatile("isb\n\tmrs %0, par_el1" : "=r"(par) :: "memory");
  __asm__ volatile("msr par_el1, %0" :: "r"(saved));
  return par;
}
static inline void keel_dc_zva(uint64_t pa) { __asm__ volatile("dc zva, %0" :: "r"(pa) : "memory"); }

/// SMCCC call to the firmware (QEMU's PSCI) through SMC or HVC.
static inline uint64_t keel_smc(uint64_t x0, uint64_t x1, uint64_t x2, uint64_t x3) {
  register uint64_t r0 __asm__("x0") = x0, r1 __asm__("x1") = x1, r2 __asm__("x2") = x2, r3 __asm__("x3") = x3;
  __asm__ volatile("smc #0" : "+r"(r0), "+r"(r1), "+r"(r2), "+r"(r3) :: "memory");
  return r0;
}
static inline uint64_t keel_hvc(uint64_t x0, uint64_t x1, uint64_t x2, uint64_t x3) {
  register uint64_t r0 __asm__("x0") = x0, r1 __asm__("x1") = x1, r2 __asm__("x2") = x2, r3 __asm__("x3") = x3;
  __asm__ volatile("hvc #0" : "+r"(r0), "+r"(r1), "+r"(r2), "+r"(r3) :: "memory");
  return r0;
}

/// Leave Swift for good: reset this CPU's stack and ERET into the vCPU TPIDR_EL2 names.
void keel_enter_guest(void) __attribute__((noreturn));
/// FP/SIMD registers and FPSR/FPCR of a vCPU to and from its context (vectors.S).
void keel_fp_save(struct keel_vcpu_context *context);
void keel_fp_load(const struct keel_vcpu_context *context);
/// Where secondaries start (PSCI CPU_ON entry point), with x0 = CPU slot.
static inline uint64_t keel_secondary_entry_address(void) { extern char keel_secondary_entry[]; return (uint64_t)keel_secondary_entry; }
static inline uint64_t keel_stacks_start(void) { extern char __stacks_start[]; return (uint64_t)__stacks_start; }
static inline uint64_t keel_heap_end(void) { extern char __heap_end[]; return (uint64_t)__heap_end; }
/// The DTB address the boot loader handed over (0 when QEMU boots an ELF; it then sits at RAM start).
uint64_t keel_boot_dtb_address(void);
/// Base of the PL011 used by putchar (set from the device tree).
void keel_set_console_base(uint64_t base);
uint64_t keel_heap_used(void);
int keel_backtrace(uint64_t *out, int max);
int putchar(int c);
int posix_memalign(void **out, size_t align, size_t size);
/// Copy whole 64-bit words; the guest-image copy is the only large copy Keel makes.
void keel_copy_words(void *dst, const void *src, uint64_t bytes);
#endif
#endif

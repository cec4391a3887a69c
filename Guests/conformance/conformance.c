// Conformance guest: exercises what a guest may rely on from the architecture (timers, the
// GIC's active state, DC ZVA, the RTC, the command line) and prints what it observed, one
// line per observation, with nothing that differs between two correct runs (no times, no
// addresses of the hypervisor). A system test runs it on bare QEMU and under Keel and
// expects the same lines. See README.md.
#include <stdint.h>
#include "el1-console.h"

#define GICD            0x08000000ull
#define GICC            0x08010000ull   // GICv2 CPU interface
#define GICR_BASE       0x080A0000ull   // GICv3 redistributors, 128 KiB per CPU
#define RTC             0x09010000ull   // PL031 on QEMU virt
#define RAM_BASE        0x40000000ull

#define VTIMER_INTID    27
#define PTIMER_INTID    30
#define PMU_INTID       23

#define SYSREG_READ(name) ({ uint64_t v_; __asm__ volatile("mrs %0, " #name : "=r"(v_)); v_; })
#define SYSREG_WRITE(name, v) __asm__ volatile("msr " #name ", %0\n\tisb" :: "r"((uint64_t)(v)) : "memory")

static int gic3;

static uint64_t cpu_index(void) { return SYSREG_READ(mpidr_el1) & 0xFF; }
static uint64_t gicr(void) { return GICR_BASE + 0x20000 * cpu_index(); }
static uint64_t gicr_sgi(void) { return gicr() + 0x10000; }
static volatile uint64_t sync_count, sync_esr, sync_far;

static uint64_t cpu_index(void);
static void line(const char *probe, const char *what) {
  puts_raw(cpu_index() ? "conformance: cpu1: " : "conformance: ");
  puts_raw(probe); puts_raw(": "); puts_raw(what);
}
static void hex(uint64_t v) { puthex_digits(v, 0); }
static void end(void) { puts_raw("\n"); }

// Self-hosted debug exceptions (probe_debug): each disarms what raised it and returns to the
// instruction it stopped at, which then runs normally.
static volatile uint64_t debug_hits, debug_ec, debug_elr, debug_far;
static volatile int armed_breakpoint = -1;
static void write_bcr(int n, uint64_t v);
#define MDSCR_SS  (1ull << 0)
#define MDSCR_KDE (1ull << 13)
#define MDSCR_MDE (1ull << 15)

uint64_t conformance_exception(uint64_t kind, uint64_t esr, uint64_t elr) {
  uint64_t ec = esr >> 26 & 0x3F;
  if ((kind & 3) == 0 && ec >= 0x30 && ec <= 0x35) {
    debug_hits++;
    debug_ec = ec;
    debug_elr = elr;
    debug_far = SYSREG_READ(far_el1);
    if (ec <= 0x31) {
      if (armed_breakpoint >= 0) write_bcr(armed_breakpoint, 0);
      else for (int n = 0; n < 6; n++) write_bcr(n, 0);
    }
    if (ec >= 0x34) SYSREG_WRITE(dbgwcr0_el1, 0);
    if (ec == 0x32 || ec == 0x33) SYSREG_WRITE(mdscr_el1, SYSREG_READ(mdscr_el1) & ~MDSCR_SS);
    return elr;
  }
  if ((kind & 3) == 0) {
    sync_count++;
    sync_esr = esr;
    sync_far = SYSREG_READ(far_el1);
    return elr + 4;
  }
  puts_raw("conformance: UNEXPECTED asynchronous exception\n");
  return elr;
}

// ---------------------------------------------------------------------------------------
// GIC, with interrupts masked at the CPU (PSTATE.I): a pending interrupt shows in ISR_EL1.I
// and is taken by reading the acknowledge register.

static void gic_init(void) {
  gic3 = ((SYSREG_READ(id_aa64pfr0_el1) >> 24) & 0xF) != 0;
  if (gic3) {
    if (cpu_index() == 0) mmio_write32(GICD, 1u << 4 | 1u << 1); // ARE, EnableGrp1
    mmio_write32(gicr() + 0x14, mmio_read32(gicr() + 0x14) & ~2u);  // WAKER.ProcessorSleep
    for (int i = 0; i < 1000000 && (mmio_read32(gicr() + 0x14) & 4); i++) {}
    mmio_write32(gicr_sgi() + 0x80, 0xFFFFFFFF);                  // all private ones group 1
    SYSREG_WRITE(S3_0_C12_C12_5, SYSREG_READ(S3_0_C12_C12_5) | 1);  // ICC_SRE_EL1.SRE
    SYSREG_WRITE(S3_0_C4_C6_0, 0xFF);                             // ICC_PMR_EL1
    SYSREG_WRITE(S3_0_C12_C12_7, 1);                              // ICC_IGRPEN1_EL1
  } else {
    if (cpu_index() == 0) mmio_write32(GICD, 1);
    mmio_write32(GICC + 0x4, 0xFF);                               // GICC_PMR
    mmio_write32(GICC, 1);                                        // GICC_CTLR
  }
}

static uint64_t private_base(void) { return gic3 ? gicr_sgi() : GICD; }

static void enable_private(int intid) {
  uint64_t b = private_base();
  uint32_t shift = 8 * (intid & 3), prio = mmio_read32(b + 0x400 + (intid & ~3));
  mmio_write32(b + 0x400 + (intid & ~3), (prio & ~(0xFFu << shift)) | 0xA0u << shift);
  mmio_write32(b + 0x100, 1u << intid);
}

static uint32_t private_bits(uint64_t offset, int intid) { return mmio_read32(private_base() + offset) >> intid & 1; }
static void private_write(uint64_t offset, int intid) { mmio_write32(private_base() + offset, 1u << intid); }

static uint32_t acknowledge(void) {
  return gic3 ? (uint32_t)SYSREG_READ(S3_0_C12_C12_0) & 0xFFFFFF : mmio_read32(GICC + 0xC);
}

static void end_of_interrupt(uint32_t iar) {
  if (gic3) SYSREG_WRITE(S3_0_C12_C12_1, iar); else mmio_write32(GICC + 0x10, iar);
}

static void clear_active_priorities(void) {
  if (gic3) SYSREG_WRITE(S3_0_C12_C9_0, 0);                       // ICC_AP1R0_EL1
  else mmio_write32(GICC + 0xD0, 0);                              // GICC_APR0
}

static int irq_pending_at_cpu(void) { return (SYSREG_READ(isr_el1) >> 7) & 1; }

/// Waits up to 50 ms (of the virtual counter) for an IRQ at the CPU interface.
static int wait_irq(void) {
  uint64_t hz = SYSREG_READ(cntfrq_el0), start = read_cntvct();
  while (read_cntvct() - start < hz / 20) if (irq_pending_at_cpu()) return 1;
  return 0;
}

static void print_intid(uint32_t iar) {
  uint32_t id = gic3 ? iar : iar & 0x3FF;
  if (id >= 1020) puts_raw("spurious"); else putdec(id);
}

// ---------------------------------------------------------------------------------------
// Probes

static void vtimer_fire(uint64_t ctl) {
  SYSREG_WRITE(cntv_cval_el0, read_cntvct());
  SYSREG_WRITE(cntv_ctl_el0, ctl);
}

static void ptimer_fire(uint64_t ctl) {
  SYSREG_WRITE(cntp_cval_el0, SYSREG_READ(cntpct_el0));
  SYSREG_WRITE(cntp_ctl_el0, ctl);
}

static void probe_physical_timer(void) {
  sync_count = 0;
  line("ptimer", "ctl at reset "); hex(SYSREG_READ(cntp_ctl_el0) & 3); end();
  SYSREG_WRITE(cntp_cval_el0, 0x123456789abcull);
  line("ptimer", "cval reads back "); hex(SYSREG_READ(cntp_cval_el0)); end();
  SYSREG_WRITE(cntp_tval_el0, 0x7FFFFFFF);
  uint64_t tval = SYSREG_READ(cntp_tval_el0) & 0xFFFFFFFF;
  line("ptimer", tval > 0x7F000000 && tval <= 0x7FFFFFFF ? "tval counts down from what was written" : "tval wrong"); end();
  enable_private(PTIMER_INTID);
  ptimer_fire(1);
  int fired = wait_irq();
  line("ptimer", fired ? "fired, ctl " : "did not fire, ctl "); hex(SYSREG_READ(cntp_ctl_el0) & 7);
  if (fired) {
    uint32_t iar = acknowledge();
    puts_raw(", intid "); print_intid(iar);
    SYSREG_WRITE(cntp_ctl_el0, 0);
    end_of_interrupt(iar);
  }
  end();
  // Masked: ISTATUS still says the condition is met, but nothing is signalled.
  ptimer_fire(3);
  line("ptimer", "masked: ctl "); hex(SYSREG_READ(cntp_ctl_el0) & 7);
  puts_raw(wait_irq() ? ", interrupt signalled" : ", nothing signalled"); end();
  SYSREG_WRITE(cntp_ctl_el0, 0);
  line("ptimer", "exceptions taken "); putdec(sync_count); end();
}

/// The virtual timer fires while the CPU masks IRQs; then the guest disables (or masks) it.
/// The interrupt's pending state follows the timer's output, which is now low.
static void probe_vtimer_retract(const char *how, uint64_t ctl_after) {
  enable_private(VTIMER_INTID);
  vtimer_fire(1);
  int fired = wait_irq();
  line("vtimer-retract", how); puts_raw(fired ? ": fired, pending " : ": did not fire, pending ");
  putdec(private_bits(0x200, VTIMER_INTID));
  SYSREG_WRITE(cntv_ctl_el0, ctl_after);
  puts_raw(", after: pending "); putdec(private_bits(0x200, VTIMER_INTID));
  puts_raw(", at cpu "); putdec(irq_pending_at_cpu());
  uint32_t iar = acknowledge();
  puts_raw(", acknowledge "); print_intid(iar);
  if ((gic3 ? iar : iar & 0x3FF) < 1020) end_of_interrupt(iar);
  end();
  SYSREG_WRITE(cntv_ctl_el0, 0);
}

/// Linux's gic_cpu_config() after kexec: an interrupt left active is cleared with ICACTIVER
/// and the active priorities zeroed, with no EOI. It must be able to fire again.
static void probe_clear_active(void) {
  enable_private(VTIMER_INTID);
  vtimer_fire(1);
  wait_irq();
  uint32_t iar = acknowledge();
  line("clear-active", "acknowledged "); print_intid(iar);
  puts_raw(", active "); putdec(private_bits(0x300, VTIMER_INTID));
  SYSREG_WRITE(cntv_ctl_el0, 0);
  private_write(0x380, VTIMER_INTID);
  clear_active_priorities();
  puts_raw(", after ICACTIVER: active "); putdec(private_bits(0x300, VTIMER_INTID));
  vtimer_fire(1);
  int fired = wait_irq();
  puts_raw(fired ? ", fires again as " : ", never fires again");
  if (fired) {
    iar = acknowledge();
    print_intid(iar);
    SYSREG_WRITE(cntv_ctl_el0, 0);
    end_of_interrupt(iar);
  }
  end();
  SYSREG_WRITE(cntv_ctl_el0, 0);
}

/// ISACTIVER makes an interrupt active without acknowledging it: it is not signalled again
/// until ICACTIVER clears the active state.
static void probe_set_active(void) {
  enable_private(VTIMER_INTID);
  private_write(0x300, VTIMER_INTID);
  line("set-active", "active "); putdec(private_bits(0x300, VTIMER_INTID));
  vtimer_fire(1);
  puts_raw(wait_irq() ? ", signalled while active" : ", held while active");
  puts_raw(", pending "); putdec(private_bits(0x200, VTIMER_INTID));
  private_write(0x380, VTIMER_INTID);
  int fired = wait_irq();
  puts_raw(fired ? ", after ICACTIVER fires as " : ", after ICACTIVER never fires");
  if (fired) {
    uint32_t iar = acknowledge();
    print_intid(iar);
    SYSREG_WRITE(cntv_ctl_el0, 0);
    end_of_interrupt(iar);
  }
  end();
  SYSREG_WRITE(cntv_ctl_el0, 0);
}

/// DC ZVA on Device memory (every data access is Device with the MMU off) is an alignment
/// fault; the block must stay as it was.
static uint64_t zva_block[64] __attribute__((aligned(256)));

static void probe_dc_zva(void) {
  uint64_t dczid = SYSREG_READ(dczid_el0);
  for (int i = 0; i < 64; i++) zva_block[i] = 0x1111111111111111ull;
  sync_count = 0;
  __asm__ volatile("dc zva, %0" :: "r"(zva_block) : "memory");
  line("dc-zva", "mmu off: ");
  if (sync_count) {
    puts_raw("EC "); hex(sync_esr >> 26 & 0x3F); puts_raw(" DFSC "); hex(sync_esr & 0x3F);
    puts_raw(" WnR "); putdec(sync_esr >> 6 & 1);
    puts_raw(sync_far == (uint64_t)zva_block ? " FAR is the address" : " FAR differs");
  } else {
    puts_raw("no exception");
  }
  puts_raw(zva_block[0] == 0x1111111111111111ull ? ", block kept" : ", block zeroed");
  (void)dczid;
  end();
}

static void probe_frequency(void) {
  line("cntfrq", ""); putdec(SYSREG_READ(cntfrq_el0)); end();
}

/// The PL031 RTC: a running wall clock, after 2025 (the guest's world is not 1970).
static void probe_rtc(void) {
  sync_count = 0;
  uint32_t id = 0;
  for (int i = 0; i < 4; i++) id |= (mmio_read32(RTC + 0xFE0 + 4 * i) & 0xFF) << 8 * i;
  uint32_t cell = 0;
  for (int i = 0; i < 4; i++) cell |= (mmio_read32(RTC + 0xFF0 + 4 * i) & 0xFF) << 8 * i;
  uint32_t seconds = mmio_read32(RTC);
  line("rtc", ""); 
  if (sync_count) { puts_raw("absent (data abort)"); end(); return; }
  puts_raw("periph id "); hex(id); puts_raw(" cell id "); hex(cell);
  puts_raw(seconds > 1735689600u ? ", date after 2025" : ", date before 2025");
  uint64_t hz = SYSREG_READ(cntfrq_el0), start = read_cntvct();
  uint32_t later = seconds;
  while (later == seconds && read_cntvct() - start < 3 * hz) later = mmio_read32(RTC);
  puts_raw(later == seconds + 1 ? ", ticks" : ", does not tick");
  end();
}

// ---------------------------------------------------------------------------------------
// The command line, from /chosen/bootargs of the DTB.

static uint32_t be32(const uint8_t *p) { return (uint32_t)p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3]; }

static int streq(const char *a, const char *b) { while (*a && *a == *b) { a++; b++; } return *a == *b; }

static const char *find_bootargs(const uint8_t *dtb) {
  if (be32(dtb) != 0xD00DFEED) return 0;
  const uint8_t *structs = dtb + be32(dtb + 8);
  const char *strings = (const char *)dtb + be32(dtb + 12);
  int depth = 0, in_chosen = 0;
  for (const uint8_t *p = structs; p < structs + be32(dtb + 36);) {
    uint32_t token = be32(p); p += 4;
    if (token == 1) {
      const char *name = (const char *)p;
      depth++;
      if (depth == 2) in_chosen = streq(name, "chosen");
      while (*p) p++;
      p = (const uint8_t *)(((uint64_t)p + 4) & ~3ull);
    } else if (token == 2) {
      if (depth == 2) in_chosen = 0;
      depth--;
    } else if (token == 3) {
      uint32_t len = be32(p), name = be32(p + 4);
      p += 8;
      if (in_chosen && streq(strings + name, "bootargs")) return (const char *)p;
      p += (len + 3) & ~3u;
    } else if (token == 9) {
      break;
    }
  }
  return 0;
}

static void probe_command_line(uint64_t x0) {
  const uint8_t *dtb = (const uint8_t *)(x0 ? x0 : RAM_BASE);
  const char *args = find_bootargs(dtb);
  line("cmdline", args ? "\"" : "none");
  if (args) { puts_raw(args); puts_raw("\""); }
  end();
}

static uint64_t psci(uint64_t fn, uint64_t a1, uint64_t a2, uint64_t a3) {
  register uint64_t x0 __asm__("x0") = fn;
  register uint64_t x1 __asm__("x1") = a1;
  register uint64_t x2 __asm__("x2") = a2;
  register uint64_t x3 __asm__("x3") = a3;
  __asm__ volatile("hvc #0" : "+r"(x0), "+r"(x1), "+r"(x2), "+r"(x3) :: "memory");
  return x0;
}

static void system_off(void) { psci(0x84000008, 0, 0, 0); }

/// The PMU: the counters a guest may use, the cycle and event counters count, and a cycle
/// counter overflow raises PPI 23 (QEMU virt's PMU interrupt).
static void probe_pmu(void) {
  uint64_t pmcr = SYSREG_READ(pmcr_el0);
  line("pmu", "event counters "); putdec(pmcr >> 11 & 0x1F);
  SYSREG_WRITE(pmselr_el0, 0);
  SYSREG_WRITE(pmxevtyper_el0, 0x08);                 // INST_RETIRED
  SYSREG_WRITE(pmxevcntr_el0, 0);
  SYSREG_WRITE(pmccntr_el0, 0);
  SYSREG_WRITE(pmcntenset_el0, 1ull << 31 | 1);
  SYSREG_WRITE(pmcr_el0, (pmcr & ~0xFFull) | 1);      // E
  for (volatile int i = 0; i < 1000; i++) {}
  SYSREG_WRITE(pmcr_el0, pmcr & ~1ull);
  uint64_t cycles = SYSREG_READ(pmccntr_el0), insns = SYSREG_READ(pmxevcntr_el0);
  puts_raw(cycles > 1000 ? ", cycles count" : ", cycles do not count");
  puts_raw(insns > 1000 ? ", instructions count" : ", instructions do not count");
  end();
  // Overflow of the 32-bit cycle counter (PMCR.LC = 0) 256 cycles from now.
  enable_private(PMU_INTID);
  SYSREG_WRITE(pmccntr_el0, 0xFFFFFF00ull);
  SYSREG_WRITE(pmintenset_el1, 1ull << 31);
  SYSREG_WRITE(pmcr_el0, (pmcr & ~0xFFull) | 1);
  int fired = wait_irq();
  SYSREG_WRITE(pmcr_el0, pmcr & ~1ull);
  line("pmu", fired ? "overflow interrupt " : "no overflow interrupt");
  if (fired) {
    uint32_t iar = acknowledge();
    print_intid(iar);
    puts_raw((SYSREG_READ(pmovsset_el0) >> 31) & 1 ? ", overflow flag set" : ", overflow flag clear");
    SYSREG_WRITE(pmovsclr_el0, 1ull << 31);
    end_of_interrupt(iar);
  }
  end();
  SYSREG_WRITE(pmintenclr_el1, ~0ull);
  SYSREG_WRITE(pmcntenclr_el0, ~0ull);
}

#define BCR_CASE(n) case n: SYSREG_WRITE(dbgbcr##n##_el1, v); break;
#define BVR_CASE(n) case n: SYSREG_WRITE(dbgbvr##n##_el1, v); break;
static void write_bcr(int n, uint64_t v) {
  switch (n) { BCR_CASE(0) BCR_CASE(1) BCR_CASE(2) BCR_CASE(3) BCR_CASE(4) BCR_CASE(5) }
}
static void write_bvr(int n, uint64_t v) {
  switch (n) { BVR_CASE(0) BVR_CASE(1) BVR_CASE(2) BVR_CASE(3) BVR_CASE(4) BVR_CASE(5) }
}

__attribute__((noinline)) static uint64_t breakpoint_target(uint64_t x) {
  __asm__ volatile("" : "+r"(x));
  return x + 1;
}
static volatile uint64_t watched[2] __attribute__((aligned(16)));

/// Hardware breakpoints (every one the CPU has, up to 6), a watchpoint and a software step,
/// taken at EL1 by the guest's own handler (MDSCR_EL1.MDE/KDE, PSTATE.D clear, OS lock open).
static void probe_debug(void) {
  uint64_t dfr0 = SYSREG_READ(id_aa64dfr0_el1);
  int breakpoints = (int)(dfr0 >> 12 & 0xF) + 1;
  if (breakpoints > 6) breakpoints = 6;
  uint64_t mdscr = SYSREG_READ(mdscr_el1);
  SYSREG_WRITE(oslar_el1, 0);
  SYSREG_WRITE(mdscr_el1, mdscr | MDSCR_MDE | MDSCR_KDE);

  int fired = 0;
  for (int n = 0; n < breakpoints; n++) {
    debug_hits = 0;
    armed_breakpoint = n;
    write_bvr(n, (uint64_t)breakpoint_target);
    write_bcr(n, 1 | 0b11 << 1 | 0xF << 5);           // E, EL1 and EL0, all four bytes
    // The shared vectors return with DAIF masked: unmask debug exceptions before each trigger.
    __asm__ volatile("msr daifclr, #8" ::: "memory");
    uint64_t r = breakpoint_target(n);
    write_bcr(n, 0);
    if (debug_hits == 1 && debug_ec == 0x31 && debug_elr == (uint64_t)breakpoint_target && r == (uint64_t)n + 1) fired++;
  }
  armed_breakpoint = -1;
  line("debug", "breakpoints fired "); putdec(fired); puts_raw(" of "); putdec(breakpoints); end();

  debug_hits = 0;
  SYSREG_WRITE(dbgwvr0_el1, (uint64_t)&watched[0]);
  SYSREG_WRITE(dbgwcr0_el1, 1 | 0b11 << 1 | 0b10 << 3 | 0xFF << 5);  // E, EL1 and EL0, stores, 8 bytes
  uint64_t before = watched[0];
  __asm__ volatile("msr daifclr, #8" ::: "memory");
  watched[0] = before + 7;
  SYSREG_WRITE(dbgwcr0_el1, 0);
  line("debug", debug_hits == 1 && debug_ec == 0x35 ? "watchpoint fired" : "watchpoint did not fire");
  puts_raw(debug_far == (uint64_t)&watched[0] ? ", FAR is the address" : ", FAR differs");
  puts_raw(watched[0] == before + 7 ? ", store done" : ", store lost"); end();

  // Step one instruction: ERET to it with SPSR.SS set; the step exception comes before the next.
  debug_hits = 0;
  SYSREG_WRITE(mdscr_el1, mdscr | MDSCR_MDE | MDSCR_KDE | MDSCR_SS);
  uint64_t counter = 0, second;
  __asm__ volatile(
    "adr x9, 1f\n\t"
    "msr elr_el1, x9\n\t"
    "mov x9, #0x1c5\n\t"                // EL1h, A, I, F masked, D clear
    "orr x9, x9, #(1 << 21)\n\t"        // SS: step the instruction at ELR
    "msr spsr_el1, x9\n\t"
    "isb\n\t"
    "eret\n"
    "1: add %0, %0, #1\n"
    "2: add %0, %0, #1\n\t"
    "adr %1, 2b\n\t"
    : "+r"(counter), "=r"(second) :: "x9", "memory");
  line("debug", debug_hits == 1 && debug_ec == 0x33 ? "software step fired" : "software step did not fire");
  puts_raw(debug_elr == second ? " after one instruction" : " elsewhere");
  puts_raw(counter == 2 ? ", both instructions ran" : ", instructions lost"); end();

  __asm__ volatile("msr daifset, #8" ::: "memory");
  SYSREG_WRITE(mdscr_el1, mdscr);
}

/// The physical counter ticks at the frequency CNTFRQ_EL0 states, measured against the RTC.
static void probe_counter_rate(void) {
  uint32_t s = mmio_read32(RTC);
  uint64_t hz = SYSREG_READ(cntfrq_el0), guard = read_cntvct();
  while (mmio_read32(RTC) == s && read_cntvct() - guard < 3 * hz) {}
  uint64_t start = SYSREG_READ(cntpct_el0);
  s = mmio_read32(RTC);
  while (mmio_read32(RTC) == s && read_cntvct() - guard < 6 * hz) {}
  uint64_t ticks = SYSREG_READ(cntpct_el0) - start;
  line("counter-rate", ticks > hz - hz / 20 && ticks < hz + hz / 20 ? "physical counter runs at cntfrq" : "physical counter does not run at cntfrq");
  end();
}

/// A vCPU's FP/SIMD registers, FPCR and FPSR survive its exits (hypervisor calls, emulated
/// MMIO, a timer interrupt taken in WFI) untouched.
void fp_fill(uint64_t seed);
uint64_t fp_check(uint64_t seed);
static void enable_fpsimd(void) { SYSREG_WRITE(cpacr_el1, SYSREG_READ(cpacr_el1) | 3ull << 20); }
static uint64_t fp_seed(void) { return 0x1000 * (cpu_index() + 1) + 0x15; }
static void probe_fpsimd(void) {
  enable_fpsimd();
  fp_fill(fp_seed());
  for (int i = 0; i < 20; i++) { (void)psci(0x84000000, 0, 0, 0); (void)mmio_read32(RTC); }
  // Sleep in WFI until the virtual timer (1 ms) wakes the vCPU.
  enable_private(VTIMER_INTID);
  uint64_t hz = SYSREG_READ(cntfrq_el0), start = read_cntvct();
  SYSREG_WRITE(cntv_tval_el0, hz / 1000);
  SYSREG_WRITE(cntv_ctl_el0, 1);
  while (!irq_pending_at_cpu() && read_cntvct() - start < hz / 10) __asm__ volatile("wfi");
  if (irq_pending_at_cpu()) {
    uint32_t iar = acknowledge();
    SYSREG_WRITE(cntv_ctl_el0, 0);
    end_of_interrupt(iar);
  }
  SYSREG_WRITE(cntv_ctl_el0, 0);
  uint64_t lost = fp_check(fp_seed());
  line("fpsimd", lost ? "registers changed across exits: " : "registers kept across exits");
  if (lost) putdec(lost);
  end();
}

// ---------------------------------------------------------------------------------------
// Two vCPUs: each has its own timers. vCPU 0 leaves its physical timer armed far in the
// future while vCPU 1 runs the timer probes (sharing one host CPU under Keel), then checks it.

extern char conformance_secondary[];

/// vCPU 0's own breakpoint, armed while vCPU 1 runs: vCPU 1 must not hit it, vCPU 0 must.
__attribute__((noinline)) static void cpu0_breakpoint_target(void) { __asm__ volatile("nop"); }

/// Calls the target with debug exceptions enabled; whether a breakpoint fired.
static int hits_breakpoint(void) {
  uint64_t mdscr = SYSREG_READ(mdscr_el1);
  SYSREG_WRITE(mdscr_el1, mdscr | MDSCR_MDE | MDSCR_KDE);
  debug_hits = 0;
  __asm__ volatile("msr daifclr, #8" ::: "memory");
  cpu0_breakpoint_target();
  __asm__ volatile("msr daifset, #8" ::: "memory");
  SYSREG_WRITE(mdscr_el1, mdscr);
  return debug_hits != 0;
}
static volatile int secondary_done;
#define FAR_DEADLINE 0x0000111100000000ull

void conformance_secondary_main(void) {
  gic_init();
  puts_raw("conformance: cpu1: up\n");
  probe_fpsimd();
  probe_pmu();
  probe_debug();
  probe_physical_timer();
  probe_vtimer_retract("disable", 0);
  probe_clear_active();
  armed_breakpoint = -1;
  line("debug", hits_breakpoint() ? "vCPU 0's breakpoint fired here" : "vCPU 0's breakpoint not seen here"); end();
  secondary_done = 1;
  __asm__ volatile("dsb sy\n\tsev" ::: "memory");
  for (;;) __asm__ volatile("wfi");
}

static void probe_second_cpu(void) {
  SYSREG_WRITE(cntp_cval_el0, FAR_DEADLINE);
  SYSREG_WRITE(cntp_ctl_el0, 1);
  // vCPU 0's PMU keeps counting CPU cycles on event counter 1 while vCPU 1 uses its own.
  uint64_t pmcr = SYSREG_READ(pmcr_el0);
  SYSREG_WRITE(pmselr_el0, 1);
  SYSREG_WRITE(pmxevtyper_el0, 0x11);                 // CPU_CYCLES
  SYSREG_WRITE(pmxevcntr_el0, 0);
  SYSREG_WRITE(pmcntenset_el0, 2);
  SYSREG_WRITE(pmcr_el0, (pmcr & ~0xFFull) | 1);
  write_bvr(5, (uint64_t)cpu0_breakpoint_target);
  write_bcr(5, 1 | 0b11 << 1 | 0xF << 5);
  // vCPU 0's FP/SIMD registers hold their pattern while vCPU 1 fills its own with another.
  fp_fill(fp_seed());
  uint64_t r = psci(0xC4000003, 1, (uint64_t)conformance_secondary, 0);
  if (r != 0) { line("cpu1", "absent"); end(); SYSREG_WRITE(cntp_ctl_el0, 0); write_bcr(5, 0); return; }
  uint64_t hz = SYSREG_READ(cntfrq_el0), start = read_cntvct();
  while (!secondary_done && read_cntvct() - start < 20 * hz) __asm__ volatile("wfe");
  uint64_t fp_lost = fp_check(fp_seed());
  line("cpu1", secondary_done ? "done" : "never finished"); end();
  line("cpu0", fp_lost ? "fpsimd lost while vCPU 1 ran" : "fpsimd kept while vCPU 1 ran"); end();
  line("cpu0", "ptimer kept: cval "); hex(SYSREG_READ(cntp_cval_el0));
  puts_raw(", ctl "); hex(SYSREG_READ(cntp_ctl_el0) & 7); end();
  SYSREG_WRITE(cntp_ctl_el0, 0);
  SYSREG_WRITE(pmselr_el0, 1);
  uint64_t type = SYSREG_READ(pmxevtyper_el0) & 0xFFFF, count = SYSREG_READ(pmxevcntr_el0);
  line("cpu0", "pmu kept: event "); hex(type); puts_raw(count > 1000 ? ", counting" : ", not counting");
  puts_raw((SYSREG_READ(pmcntenset_el0) & 2) ? ", enabled" : ", disabled"); end();
  SYSREG_WRITE(pmcr_el0, pmcr & ~1ull);
  SYSREG_WRITE(pmcntenclr_el0, ~0ull);
  armed_breakpoint = 5;
  line("cpu0", hits_breakpoint() ? "breakpoint kept: fired" : "breakpoint lost"); end();
  armed_breakpoint = -1;
}

void conformance_main(uint64_t dtb) {
  puts_raw("conformance: start\n");
  probe_command_line(dtb);
  gic_init();
  // Before the GIC probes: QEMU's GICv2 keeps a running priority they leave behind, which
  // would stop the timer interrupt this one sleeps for.
  probe_fpsimd();
  probe_frequency();
  probe_physical_timer();
  probe_vtimer_retract("disable", 0);
  probe_vtimer_retract("mask", 3);
  probe_clear_active();
  probe_set_active();
  probe_dc_zva();
  probe_rtc();
  probe_counter_rate();
  probe_pmu();
  probe_debug();
  probe_second_cpu();
  puts_raw("conformance: done\n");
  system_off();
}

// Microbench guest: times the exits a guest can cause (see README.md) with CNTVCT_EL0 and
// prints one line per operation, then powers off with PSCI SYSTEM_OFF.
#include <stdint.h>
#include "el1-console.h"

#ifndef MICROBENCH_ITERATIONS
#define MICROBENCH_ITERATIONS 10000
#endif
#define WARMUP_ITERATIONS 1000

#define PSCI_VERSION    0x84000000ull
#define PSCI_SYSTEM_OFF 0x84000008ull
#define BDOOR_MAGIC     0x564D5868u

// start.S
uint64_t mb_empty(uint64_t iterations);
uint64_t mb_cntvct(uint64_t iterations);
uint64_t mb_cntpct(uint64_t iterations);
uint64_t mb_psci_version(uint64_t iterations);
uint64_t mb_hvc_unknown_imm(uint64_t iterations);
uint64_t mb_hvc0_unknown(uint64_t iterations);
uint64_t mb_pl011_fr(uint64_t iterations);
uint64_t mb_bd_hvc(uint64_t iterations);
uint64_t mb_bd_mrs(uint64_t iterations);
uint64_t mb_getversion_hvc_once(void);
uint64_t mb_getversion_mrs_once(void);
uint64_t mb_hvc_unknown_imm_once(void);
uint64_t mb_psci(uint64_t function);

// ---------------------------------------------------------------------------------------
// Output

static void puthex(uint64_t v) { puthex_digits(v, 0); }

// A fixed-point value with one decimal (no FP: CPACR_EL1 traps FP/SIMD and nothing enables it).
static void putdec_tenths(uint64_t tenths) {
  putdec(tenths / 10);
  putc_raw('.');
  putc_raw((char)('0' + tenths % 10));
}

// ---------------------------------------------------------------------------------------
// Exceptions: only the availability probes may fault; anything else is reported.

static volatile uint64_t exception_count;
static volatile uint64_t last_esr;
static volatile int probing;

uint64_t microbench_exception(uint64_t kind, uint64_t esr, uint64_t elr) {
  exception_count++;
  last_esr = esr;
  int synchronous = (kind & 3) == 0;
  if (!probing) {
    puts_raw("microbench: unexpected exception kind ");
    putdec(kind);
    puts_raw(" ESR=");
    puthex(esr);
    puts_raw(" ELR=");
    puthex(elr);
    puts_raw("\n");
  }
  return synchronous ? elr + 4 : elr;
}

// ---------------------------------------------------------------------------------------

static uint64_t frequency;

// Tenths of a nanosecond per iteration. Under -icount shift=0 a run takes well under 2^64/1e10
// ticks, but fall back to whole-ns precision before the product could overflow.
static uint64_t tenths_ns_per_iteration(uint64_t ticks, uint64_t iterations) {
  if (frequency == 0 || iterations == 0) return 0;
  if (ticks < 1000000000ull) return ticks * 10000000000ull / frequency / iterations;
  return ticks * 1000000000ull / frequency * 10 / iterations;
}

static void report(const char *name, uint64_t ticks, uint64_t iterations) {
  puts_raw("microbench: ");
  puts_raw(name);
  puts_raw(" ns=");
  putdec_tenths(tenths_ns_per_iteration(ticks, iterations));
  puts_raw(" ticks=");
  putdec(ticks);
  puts_raw(" iterations=");
  putdec(iterations);
  puts_raw("\n");
}

static void skipped(const char *name, const char *why) {
  puts_raw("microbench: ");
  puts_raw(name);
  puts_raw(" skipped (");
  puts_raw(why);
  puts_raw(")\n");
}

typedef uint64_t (*bench_fn)(uint64_t);

static uint64_t run(const char *name, bench_fn fn) {
  (void)fn(WARMUP_ITERATIONS);
  uint64_t ticks = fn(MICROBENCH_ITERATIONS);
  report(name, ticks, MICROBENCH_ITERATIONS);
  return ticks;
}

// Whether one call of `probe` completed without an exception and returned `expected`.
static int answers(uint64_t (*probe)(void), uint64_t mask, uint64_t expected, uint64_t *got) {
  uint64_t before = exception_count;
  probing = 1;
  uint64_t value = probe();
  probing = 0;
  *got = value;
  return exception_count == before && (value & mask) == expected;
}

static uint64_t read_cntpct(void) {
  uint64_t v;
  __asm__ volatile("isb\n\tmrs %0, cntpct_el0" : "=r"(v));
  return v;
}

static void system_off(void) {
  uint64_t result = mb_psci(PSCI_SYSTEM_OFF);
  puts_raw("microbench: SYSTEM_OFF returned ");
  puthex(result);
  puts_raw(", parking\n");
  for (;;) __asm__ volatile("wfi");
}

void microbench_main(void) {
  uint64_t el;
  __asm__ volatile("mrs %0, CurrentEL" : "=r"(el));
  __asm__ volatile("mrs %0, cntfrq_el0" : "=r"(frequency));
  puts_raw("\nmicrobench: starting at EL");
  putdec((el >> 2) & 3);
  puts_raw(", CNTFRQ_EL0 ");
  putdec(frequency);
  puts_raw(" Hz, ");
  putdec(MICROBENCH_ITERATIONS);
  puts_raw(" iterations per operation after ");
  putdec(WARMUP_ITERATIONS);
  puts_raw(" warm-up\n");

  uint64_t psci_version = mb_psci(PSCI_VERSION);
  puts_raw("microbench: PSCI_VERSION ");
  puthex(psci_version);
  puts_raw("\n");

  run("loop-empty", mb_empty);
  uint64_t cntvct_ticks = run("cntvct", mb_cntvct);

  // CNTPCT: the guest clock advances at the configured trapped-time frequency, the virtual
  // counter at the host's; the ratio of their deltas across the loop shows which one answered.
  uint64_t vct0 = read_cntvct(), pct0 = read_cntpct();
  uint64_t cntpct_ticks = run("cntpct", mb_cntpct);
  uint64_t pct1 = read_cntpct(), vct1 = read_cntvct();
  uint64_t vct_delta = vct1 - vct0, pct_delta = pct1 - pct0;
  // Per thousand virtual-counter ticks: in a trapped-time VM CNTFRQ_EL0 gives the physical
  // counter's (scaled) rate, while the virtual counter keeps the host's.
  uint64_t pct_per_mille = vct_delta ? pct_delta * 1000 / vct_delta : 0;
  // A trap costs hundreds of instructions, a native read a handful.
  uint64_t ratio_tenths = cntvct_ticks ? cntpct_ticks * 10 / cntvct_ticks : 0;
  puts_raw("microbench: cntpct trapped=");
  puts_raw(ratio_tenths >= 40 ? "yes" : "no");
  puts_raw(" (");
  putdec_tenths(ratio_tenths);
  puts_raw("x a cntvct read; CNTPCT_EL0 advanced ~");
  putdec(pct_per_mille);
  puts_raw(" per 1000 CNTVCT_EL0 ticks; CNTFRQ_EL0 ");
  putdec(frequency);
  puts_raw(")\n");

  run("null-hvc", mb_psci_version);     // HVC #0, x0 = PSCI_VERSION
  run("hvc0-unknown", mb_hvc0_unknown); // HVC #0, x0 = an undefined function ID
  run("pl011-fr", mb_pl011_fr);         // LDR of the PL011's UARTFR (an emulated MMIO read)

  uint64_t got;
  // Keel answers HVC #1 with NOT_SUPPORTED (-1) without any dispatch; QEMU's own PSCI (bare
  // QEMU) answers any SMCCC function ID it does not know the same way.
  if (answers(mb_hvc_unknown_imm_once, ~0ull, ~0ull, &got)) run("hvc-imm1", mb_hvc_unknown_imm);
  else skipped("hvc-imm1", "HVC #1 not answered with NOT_SUPPORTED");

  if (answers(mb_getversion_hvc_once, 0xffffffffull, BDOOR_MAGIC, &got)) {
    run("bd-getversion-hvc", mb_bd_hvc);
  } else {
    skipped("bd-getversion-hvc", "backdoor unavailable");
    puts_raw("microbench: backdoor unavailable via HVC #0x86\n");
  }

  if (answers(mb_getversion_mrs_once, 0xffffffffull, BDOOR_MAGIC, &got)) {
    run("bd-getversion-mrs", mb_bd_mrs);
  } else {
    skipped("bd-getversion-mrs", "backdoor unavailable");
    puts_raw("microbench: backdoor unavailable via MRS MDCCSR_EL0\n");
  }

  puts_raw("microbench: done\n");
  system_off();
}

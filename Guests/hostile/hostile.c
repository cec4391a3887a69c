// Hostile bare-metal guest: pokes the hypervisor where it is easiest to get wrong and
// reports, one line per probe, what came back. See README.md.
#include <stdint.h>
#include "el1-console.h"

#ifndef HOSTILE_DEFAULT_RAM_MIB
#define HOSTILE_DEFAULT_RAM_MIB 64
#endif

#define RAM_BASE        0x40000000ull
#define GICD_BASE       0x08000000ull
#define GICD_SIZE       0x10000ull
#define GICR_BASE       0x080A0000ull
#define GICR_SIZE       0x20000ull
#define UNMAPPED_IPA    0x0A000000ull

#define PSCI_CPU_ON     0xC4000003ull
#define PSCI_SYSTEM_OFF 0x84000008ull

#define EC_UNKNOWN      0x00
#define EC_DABT_CUR     0x25

// ---------------------------------------------------------------------------------------
// Output

static void puthex(uint64_t v, int digits) { puthex_digits(v, digits); }
static void puthex_min(uint64_t v) { puthex_digits(v, 0); }

static void putsdec(int64_t v) {
  if (v < 0) { putc_raw('-'); putdec((uint64_t)0 - (uint64_t)v); } else putdec((uint64_t)v);
}

// ---------------------------------------------------------------------------------------
// Exceptions

static volatile uint64_t exc_count;      // every exception taken
static volatile uint64_t exc_esr, exc_far;
static volatile int expecting;           // a probe is running and expects it may fault
static volatile int quiet;               // burst probes count aborts instead of printing
static volatile int depth;
static volatile uint64_t unexpected_count;

static const char *const kind_names[4] = {"sync", "irq", "fiq", "serror"};
static const char *const group_names[4] = {"EL1t", "EL1h", "EL0/64", "EL0/32"};

static void system_off(void);
extern char hostile_secondary_park[];

uint64_t hostile_exception(uint64_t kind, uint64_t esr, uint64_t far, uint64_t elr) {
  int synchronous = (kind & 3) == 0;
  uint64_t resume = synchronous ? elr + 4 : elr;   // skip the faulting instruction
  exc_count++;
  exc_esr = esr;
  exc_far = far;
  // A fault inside this handler (say, while printing) must not recurse into printing.
  if (depth > 0) return resume;
  depth++;
  if (!expecting || !synchronous) {
    unexpected_count++;
    puts_raw("hostile: UNEXPECTED ");
    puts_raw(kind_names[kind & 3]);
    puts_raw(" exception from ");
    puts_raw(group_names[(kind >> 2) & 3]);
    puts_raw(" EC=");
    puthex((esr >> 26) & 0x3f, 2);
    puts_raw(" ESR=");
    puthex_min(esr);
    puts_raw(" FAR=");
    puthex_min(far);
    puts_raw(" ELR=");
    puthex_min(elr);
    puts_raw(" (continuing)\n");
    if (unexpected_count > 16) {
      puts_raw("hostile: too many unexpected exceptions, giving up\n");
      system_off();
    }
  } else if (!quiet && (kind >> 2) != 1) {
    puts_raw("hostile: note: exception taken from an unexpected vector group ");
    puts_raw(group_names[(kind >> 2) & 3]);
    puts_raw("\n");
  }
  depth--;
  return resume;
}

// Runs before each probe; afterwards exc_count tells whether it faulted.
static uint64_t arm(void) {
  expecting = 1;
  return exc_count;
}

// Prints " -> <what happened>" for a probe that may fault, then ends the line.
static void report(uint64_t before, int have_value, uint64_t value) {
  expecting = 0;
  uint64_t taken = exc_count - before;
  if (taken == 0) {
    puts_raw(" -> no exception");
    if (have_value) { puts_raw(", value "); puthex_min(value); }
  } else {
    uint32_t ec = (uint32_t)(exc_esr >> 26) & 0x3f;
    if (ec == EC_DABT_CUR) puts_raw(" -> data abort");
    else if (ec == EC_UNKNOWN) puts_raw(" -> undefined instruction");
    else puts_raw(" -> exception");
    puts_raw(" EC=");
    puthex(ec, 2);
    if (ec == EC_DABT_CUR) {
      puts_raw(" FAR=");
      puthex(exc_far, 8);
      puts_raw(" DFSC=");
      puthex(exc_esr & 0x3f, 2);
    }
    if (taken > 1) { puts_raw(" (x"); putdec(taken); puts_raw(")"); }
  }
  puts_raw("\n");
}

// ---------------------------------------------------------------------------------------
// Probes. The destination registers start with a sentinel, since a skipped load leaves
// them untouched.

#define SENTINEL 0x5EE5EE5Eull

static uint64_t load32(uint64_t addr) {
  uint64_t v = SENTINEL;
  __asm__ volatile("ldr %w0, [%1]" : "+r"(v) : "r"(addr) : "memory");
  return v;
}

static void store32(uint64_t addr, uint32_t value) {
  __asm__ volatile("str %w0, [%1]" : : "r"(value), "r"(addr) : "memory");
}

static void probe_load(const char *what, uint64_t addr) {
  puts_raw("hostile: ");
  puts_raw(what);
  puts_raw(" load ");
  puthex(addr, 8);
  uint64_t before = arm();
  uint64_t v = load32(addr);
  report(before, 1, v);
}

static void probe_store(const char *what, uint64_t addr) {
  puts_raw("hostile: ");
  puts_raw(what);
  puts_raw(" store ");
  puthex(addr, 8);
  uint64_t before = arm();
  store32(addr, 0xA5A5A5A5u);
  report(before, 0, 0);
}

// LDP is never reported with a valid instruction syndrome (ISV=0), so a trap-and-emulate
// hypervisor cannot decode it.
static void probe_ldp(const char *what, uint64_t addr) {
  puts_raw("hostile: ldp ");
  puts_raw(what);
  puts_raw(" ");
  puthex(addr, 8);
  uint64_t a = SENTINEL, b = SENTINEL;
  uint64_t before = arm();
  __asm__ volatile("ldp %w0, %w1, [%2]" : "+r"(a), "+r"(b) : "r"(addr) : "memory");
  report(before, 1, (b << 32) | (a & 0xffffffffu));
}

#define PROBE_MRS(name)                                                 \
  do {                                                                  \
    puts_raw("hostile: mrs " #name);                                    \
    uint64_t v = SENTINEL;                                              \
    uint64_t before = arm();                                            \
    __asm__ volatile("mrs %0, " #name : "+r"(v) : : "memory");          \
    report(before, 1, v);                                               \
  } while (0)

#define PROBE_MSR(name, value)                                          \
  do {                                                                  \
    puts_raw("hostile: msr " #name ", " #value);                        \
    uint64_t before = arm();                                            \
    __asm__ volatile("msr " #name ", %0\n\tisb" : : "r"((uint64_t)(value)) : "memory"); \
    report(before, 0, 0);                                               \
  } while (0)

// SMCCC call: function ID and three arguments in, x0 out. x1-x17 may be clobbered by an
// SMCCC v1.0 implementation.
#define SMCCC(insn, fid, a1, a2, a3, result, before)                                   \
  do {                                                                                 \
    register uint64_t x0 __asm__("x0") = (fid);                                        \
    register uint64_t x1 __asm__("x1") = (a1);                                         \
    register uint64_t x2 __asm__("x2") = (a2);                                         \
    register uint64_t x3 __asm__("x3") = (a3);                                         \
    (before) = arm();                                                                  \
    __asm__ volatile(insn " #0"                                                        \
                     : "+r"(x0), "+r"(x1), "+r"(x2), "+r"(x3)                          \
                     :                                                                 \
                     : "x4", "x5", "x6", "x7", "x8", "x9", "x10", "x11", "x12", "x13", \
                       "x14", "x15", "x16", "x17", "memory");                          \
    (result) = x0;                                                                     \
  } while (0)

static void report_call(const char *insn, uint64_t fid, uint64_t result, uint64_t before) {
  expecting = 0;
  puts_raw("hostile: ");
  puts_raw(insn);
  puts_raw(" fid ");
  puthex(fid, 8);
  if (exc_count != before) {
    puts_raw(" -> exception EC=");
    puthex((exc_esr >> 26) & 0x3f, 2);
    puts_raw(exc_esr >> 26 == EC_UNKNOWN ? " (undefined instruction)" : "");
    puts_raw(", x0 ");
  } else {
    puts_raw(" -> x0 ");
  }
  puthex_min(result);
  puts_raw(" (");
  putsdec((int64_t)(int32_t)(uint32_t)result);
  puts_raw(")\n");
}

static void hvc_call(uint64_t fid, uint64_t a1, uint64_t a2, uint64_t a3) {
  uint64_t result, before;
  SMCCC("hvc", fid, a1, a2, a3, result, before);
  report_call("hvc", fid, result, before);
}

static void smc_call(uint64_t fid) {
  uint64_t result, before;
  SMCCC("smc", fid, 0, 0, 0, result, before);
  report_call("smc", fid, result, before);
}

static void system_off(void) {
  uint64_t result, before;
  SMCCC("hvc", PSCI_SYSTEM_OFF, 0, 0, 0, result, before);
  expecting = 0;
  (void)before;
  puts_raw("hostile: SYSTEM_OFF returned ");
  puthex(result, 8);
  puts_raw(", parking\n");
  for (;;) __asm__ volatile("wfi");
}

// xorshift64: a fixed seed, so a failing run can be replayed exactly.
static uint64_t rng_state = 0x6B656C6C686F7374ull;
static uint64_t rng(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return rng_state;
}

static void burst(const char *what, uint64_t base, uint64_t size, int operations) {
  puts_raw("hostile: ");
  puts_raw(what);
  puts_raw(" burst ");
  putdec((uint64_t)operations);
  puts_raw(" random 32-bit accesses in ");
  puthex(base, 8);
  puts_raw("-");
  puthex(base + size - 1, 8);
  quiet = 1;
  uint64_t before = arm();
  uint64_t reads = 0, writes = 0;
  for (int i = 0; i < operations; i++) {
    uint64_t r = rng();
    uint64_t addr = base + ((r >> 8) % size & ~3ull);
    if (r & 1) { store32(addr, (uint32_t)(r >> 32)); writes++; }
    else { (void)load32(addr); reads++; }
  }
  expecting = 0;
  quiet = 0;
  puts_raw(" -> ");
  putdec(writes);
  puts_raw(" writes, ");
  putdec(reads);
  puts_raw(" reads, ");
  putdec(exc_count - before);
  puts_raw(" aborts\n");
}

// ---------------------------------------------------------------------------------------
// RAM size from the DTB's /memory node (#address-cells = #size-cells = 2 assumed, as on
// QEMU virt), or the build-time default.

static uint32_t be32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int str_eq(const char *a, const char *b) {
  while (*a && *a == *b) { a++; b++; }
  return *a == *b;
}

static int starts_with(const char *s, const char *prefix) {
  while (*prefix && *s == *prefix) { s++; prefix++; }
  return *prefix == 0;
}

static uint64_t dtb_memory_size(uint64_t dtb) {
  // Only believe an aligned pointer into the first 1 GiB of RAM.
  if (dtb < RAM_BASE || dtb >= RAM_BASE + (1ull << 30) || (dtb & 7)) return 0;
  const uint8_t *b = (const uint8_t *)dtb;
  if (be32(b) != 0xD00DFEED) return 0;
  uint32_t total = be32(b + 4), off_struct = be32(b + 8), off_strings = be32(b + 12);
  if (total > (2u << 20) || off_struct >= total || off_strings >= total) return 0;
  const uint8_t *p = b + off_struct, *end = b + total;
  int level = 0, in_memory = 0;
  while (p + 4 <= end) {
    uint32_t token = be32(p);
    p += 4;
    if (token == 1) {                       // FDT_BEGIN_NODE
      const char *name = (const char *)p;
      level++;
      in_memory = level == 2 && starts_with(name, "memory");
      while (p < end && *p) p++;
      p = b + (((p + 1 - b) + 3) & ~3);
    } else if (token == 2) {                // FDT_END_NODE
      level--;
      in_memory = 0;
    } else if (token == 3) {                // FDT_PROP
      if (p + 8 > end) return 0;
      uint32_t len = be32(p), nameoff = be32(p + 4);
      const uint8_t *value = p + 8;
      if (off_strings + nameoff >= total || value + len > end) return 0;
      if (in_memory && len >= 16 && str_eq((const char *)(b + off_strings + nameoff), "reg")) {
        uint64_t base = (uint64_t)be32(value) << 32 | be32(value + 4);
        uint64_t size = (uint64_t)be32(value + 8) << 32 | be32(value + 12);
        return base == RAM_BASE ? size : 0;
      }
      p = b + (((value + len - b) + 3) & ~3);
    } else if (token == 4) {                // FDT_NOP
    } else {                                // FDT_END or garbage
      return 0;
    }
  }
  return 0;
}

// ---------------------------------------------------------------------------------------
// Virtualization detector (Guests/detect/README.md), EL1 flavour: reading ACTLR_EL1 is native
// on bare hardware, and traps to EL2 under a hypervisor that sets HCR_EL2.TACR (Keel does).
// The trap runs hypervisor code between LDXR and STXR, which clears the exclusive monitor.

#define DETECT_TRIALS 16

static volatile uint64_t detect_word __attribute__((aligned(64)));

static int detect_store_exclusive_failed(void) {
  register uint64_t value __asm__("x1");
  register uint64_t status __asm__("x2");
  __asm__ volatile(
      "ldxr x1, [%[word]]\n\t"
      "mrs x3, actlr_el1\n\t"
      "stxr w2, x1, [%[word]]"
      : "=&r"(value), "=&r"(status)
      : [word] "r"(&detect_word)
      : "x3", "memory");
  (void)value;
  return (status & 1) != 0;
}

static void probe_detector(void) {
  uint64_t failures = 0;
  for (int i = 0; i < DETECT_TRIALS; i++) failures += (uint64_t)detect_store_exclusive_failed();
  puts_raw(failures * 2 > DETECT_TRIALS ? "hostile: detector says hypervisor present (" : "hostile: detector says hypervisor absent (");
  putdec(failures);
  puts_raw("/");
  putdec(DETECT_TRIALS);
  puts_raw(")\n");
}

// ---------------------------------------------------------------------------------------

void hostile_main(uint64_t dtb) {
  puts_raw("\nhostile: starting at EL");
  uint64_t el;
  __asm__ volatile("mrs %0, CurrentEL" : "=r"(el));
  putdec((el >> 2) & 3);
  puts_raw(", DTB ");
  puthex(dtb, 8);
  puts_raw("\n");

  uint64_t ram_size = dtb_memory_size(dtb);
  puts_raw("hostile: RAM ");
  puthex(RAM_BASE, 8);
  puts_raw(" size ");
  if (ram_size) {
    puthex_min(ram_size);
    puts_raw(" (from DTB /memory)\n");
  } else {
    ram_size = (uint64_t)HOSTILE_DEFAULT_RAM_MIB << 20;
    puthex_min(ram_size);
    puts_raw(" (build default, no usable DTB)\n");
  }
  uint64_t ram_end = RAM_BASE + ram_size;

  // 1. Unmapped IPA.
  probe_load("unmapped", UNMAPPED_IPA);

  // 2. Just past the end of RAM, and the last word of RAM as a control.
  probe_load("last RAM word", ram_end - 4);
  probe_load("past RAM end", ram_end);
  probe_store("past RAM end", ram_end);

  // 3. Loads without an instruction syndrome from emulated devices.
  probe_ldp("PL011", UART_BASE);
  probe_ldp("GICD", GICD_BASE);

  // 4. IMPLEMENTATION DEFINED, debug and PMU system registers.
  PROBE_MRS(S3_0_C15_C0_0);
  PROBE_MRS(S3_1_C15_C2_0);
  PROBE_MSR(S3_0_C15_C0_0, 0);
  PROBE_MRS(dbgbvr0_el1);
  PROBE_MRS(mdscr_el1);
  PROBE_MRS(pmcr_el0);
  PROBE_MSR(oslar_el1, 0);

  // 5. Unknown SMCCC function IDs.
  hvc_call(0xC6000000, 0, 0, 0);
  smc_call(0x82000011);

  // 6. Random register traffic to the GIC distributor and redistributors.
  burst("GICD", GICD_BASE, GICD_SIZE, 1024);
  burst("GICR", GICR_BASE, GICR_SIZE, 1024);

  // 7. PSCI CPU_ON for an MPIDR that does not exist.
  // A buggy hypervisor that does start a CPU sends it to a wfe loop, not into this code.
  hvc_call(PSCI_CPU_ON, 0xFF00FF, (uint64_t)&hostile_secondary_park, 0);

  // 8. The WFE/exclusive-monitor virtualization detector, last so it cannot disturb the others.
  probe_detector();

  puts_raw("hostile: ");
  putdec(unexpected_count);
  puts_raw(" unexpected exceptions\n");
  puts_raw("hostile: survived all probes\n");
  system_off();
}

// IPI round-trip guest (ipibench.elf, see README.md): the boot CPU starts a second one with PSCI
// CPU_ON, both set up the GICv3 CPU interface and their redistributor as Linux does, then the
// boot CPU sends SGI 1, the other answers each with SGI 2, and the boot CPU times the round trips
// with CNTVCT_EL0. Both wait in WFI with IRQs masked and take the SGI with ICC_IAR1_EL1.
#include <stdint.h>
#include "el1-console.h"

#ifndef IPIBENCH_ITERATIONS
#define IPIBENCH_ITERATIONS 2000
#endif
#define WARMUP_ITERATIONS 100

#define PSCI_VERSION    0x84000000ull
#define PSCI_CPU_ON     0xC4000003ull
#define PSCI_SYSTEM_OFF 0x84000008ull
#define SECONDARY_MPIDR 1ull

#define SGI_PING 1
#define SGI_PONG 2

#define GICD_BASE       0x08000000ull
#define GICD_CTLR       0x0000
#define GICD_CTLR_RWP   (1u << 31)
#define GICD_CTLR_ENABLE_G1  (1u << 0)
#define GICD_CTLR_ENABLE_G1A (1u << 1)
#define GICD_CTLR_ARE_NS     (1u << 4)
#define GICR_BASE       0x080A0000ull
#define GICR_FRAME      0x20000ull
#define GICR_CTLR       0x0000
#define GICR_CTLR_RWP   (1u << 3)
#define GICR_TYPER      0x0008
#define GICR_TYPER_LAST (1ull << 4)
#define GICR_WAKER      0x0014
#define GICR_WAKER_PROCESSOR_SLEEP (1u << 1)
#define GICR_WAKER_CHILDREN_ASLEEP (1u << 2)
#define GICR_SGI        0x10000ull
#define GICR_IGROUPR0   0x0080
#define GICR_ISENABLER0 0x0100
#define GICR_ICENABLER0 0x0180
#define GICR_ICACTIVER0 0x0380
#define GICR_IPRIORITYR 0x0400
#define GIC_DEFAULT_PRIORITY_X4 0xa0a0a0a0u   // Linux: GICD_INT_DEF_PRI_X4
#define GIC_DEFAULT_PMR 0xf0u                 // Linux: DEFAULT_PMR_VALUE
#define GIC_MAX_REDISTRIBUTORS 8

// ipi-start.S
void ipibench_secondary_entry(uint64_t stack_top);
uint64_t ipibench_hvc(uint64_t function, uint64_t a1, uint64_t a2, uint64_t a3);

static uint8_t secondary_stack[16384] __attribute__((aligned(16)));

// Set once by each CPU before it sends anything; MMU off, so all of this is Device memory and
// coherent between the two CPUs without barriers beyond program order.
static volatile uint64_t boot_mpidr;
static volatile uint64_t secondary_unexpected;

static void puthex(uint64_t v) { puthex_digits(v, 0); }

static void putdec_tenths(uint64_t tenths) {
  putdec(tenths / 10);
  putc_raw('.');
  putc_raw((char)('0' + tenths % 10));
}

static uint64_t exception_count;

uint64_t ipibench_exception(uint64_t kind, uint64_t esr, uint64_t elr) {
  exception_count++;
  puts_raw("microbench: unexpected exception kind ");
  putdec(kind);
  puts_raw(" ESR=");
  puthex(esr);
  puts_raw(" ELR=");
  puthex(elr);
  puts_raw("\n");
  return (kind & 3) == 0 ? elr + 4 : elr;
}

static void system_off(void) {
  uint64_t result = ipibench_hvc(PSCI_SYSTEM_OFF, 0, 0, 0);
  puts_raw("microbench: SYSTEM_OFF returned ");
  puthex(result);
  puts_raw(", parking\n");
  for (;;) __asm__ volatile("wfi");
}

static uint64_t read_mpidr(void) {
  uint64_t v;
  __asm__ volatile("mrs %0, mpidr_el1" : "=r"(v));
  return v;
}

static uint32_t affinity32(uint64_t mpidr) {   // Aff3.Aff2.Aff1.Aff0, as in GICR_TYPER[63:32]
  return (uint32_t)((mpidr >> 32 & 0xff) << 24 | (mpidr & 0xffffff));
}

// ---------------------------------------------------------------------------------------
// GICv3, following Linux's drivers/irqchip/irq-gic-v3.c (gic_dist_init, gic_cpu_init,
// gic_cpu_sys_reg_init), cut down to what SGIs need.

static void wait_clear(uint64_t addr, uint32_t bit, const char *what) {
  for (uint64_t spins = 0; mmio_read32(addr) & bit; spins++) {
    if (spins == 1000000) {
      puts_raw("microbench: ipi-roundtrip still waiting for ");
      puts_raw(what);
      puts_raw("\n");
    }
  }
}

static void distributor_init(void) {
  mmio_write32(GICD_BASE + GICD_CTLR, 0);
  wait_clear(GICD_BASE + GICD_CTLR, GICD_CTLR_RWP, "GICD_CTLR.RWP");
  mmio_write32(GICD_BASE + GICD_CTLR, GICD_CTLR_ARE_NS | GICD_CTLR_ENABLE_G1A | GICD_CTLR_ENABLE_G1);
  wait_clear(GICD_BASE + GICD_CTLR, GICD_CTLR_RWP, "GICD_CTLR.RWP");
}

// This CPU's redistributor: the frame whose GICR_TYPER affinity matches MPIDR_EL1, or 0.
static uint64_t find_redistributor(void) {
  uint32_t affinity = affinity32(read_mpidr());
  for (int i = 0; i < GIC_MAX_REDISTRIBUTORS; i++) {
    uint64_t rd = GICR_BASE + (uint64_t)i * GICR_FRAME;
    uint64_t typer = *(volatile uint64_t *)(rd + GICR_TYPER);
    if ((uint32_t)(typer >> 32) == affinity) return rd;
    if (typer & GICR_TYPER_LAST) break;
  }
  return 0;
}

// Redistributor wake-up, SGI/PPI configuration, then the system-register CPU interface.
// Returns 0 on success.
static int cpu_interface_init(const char *who) {
  uint64_t rd = find_redistributor();
  if (rd == 0) {
    puts_raw("microbench: ipi-roundtrip ");
    puts_raw(who);
    puts_raw(": no redistributor for MPIDR ");
    puthex(read_mpidr());
    puts_raw("\n");
    return 1;
  }
  mmio_write32(rd + GICR_WAKER, mmio_read32(rd + GICR_WAKER) & ~GICR_WAKER_PROCESSOR_SLEEP);
  wait_clear(rd + GICR_WAKER, GICR_WAKER_CHILDREN_ASLEEP, "GICR_WAKER.ChildrenAsleep");

  uint64_t sgi = rd + GICR_SGI;
  mmio_write32(sgi + GICR_IGROUPR0, ~0u);                 // everything private in group 1
  mmio_write32(sgi + GICR_ICACTIVER0, ~0u);
  mmio_write32(sgi + GICR_ICENABLER0, ~0u);
  for (int i = 0; i < 32; i += 4) mmio_write32(sgi + GICR_IPRIORITYR + (uint64_t)i, GIC_DEFAULT_PRIORITY_X4);
  wait_clear(rd + GICR_CTLR, GICR_CTLR_RWP, "GICR_CTLR.RWP");
  mmio_write32(sgi + GICR_ISENABLER0, 1u << SGI_PING | 1u << SGI_PONG);

  uint64_t sre;
  __asm__ volatile("mrs %0, icc_sre_el1" : "=r"(sre));
  __asm__ volatile("msr icc_sre_el1, %0\n\tisb" :: "r"(sre | 1));
  __asm__ volatile("mrs %0, icc_sre_el1" : "=r"(sre));
  if (!(sre & 1)) {
    puts_raw("microbench: ipi-roundtrip ");
    puts_raw(who);
    puts_raw(": ICC_SRE_EL1.SRE stays 0 (no GICv3 system register interface)\n");
    return 1;
  }
  __asm__ volatile("msr icc_pmr_el1, %0" :: "r"((uint64_t)GIC_DEFAULT_PMR));
  __asm__ volatile("msr icc_bpr1_el1, xzr");
  __asm__ volatile("msr icc_ctlr_el1, xzr");              // EOImode 0: EOIR also deactivates
  __asm__ volatile("msr icc_igrpen1_el1, %0\n\tisb" :: "r"(1ull));
  return 0;
}

static void send_sgi(int intid, uint64_t mpidr) {
  uint64_t aff0 = mpidr & 0xff;
  uint64_t value = (mpidr >> 32 & 0xff) << 48 | (mpidr >> 16 & 0xff) << 32 | (mpidr >> 8 & 0xff) << 16
                 | (aff0 >> 4) << 44 | (uint64_t)intid << 24 | 1ull << (aff0 & 0xf);
  __asm__ volatile("msr icc_sgi1r_el1, %0\n\tisb" :: "r"(value));
}

// Waits in WFI until an interrupt can be acknowledged, acknowledges and completes it; returns
// its INTID. Reading IAR before WFI means an SGI that arrived early is not slept through.
static uint32_t take_interrupt(void) {
  for (;;) {
    uint64_t iar;
    __asm__ volatile("mrs %0, icc_iar1_el1" : "=r"(iar));
    uint32_t intid = (uint32_t)(iar & 0xffffff);
    if (intid < 1020) {
      __asm__ volatile("msr icc_eoir1_el1, %0\n\tisb" :: "r"(iar));
      return intid;
    }
    __asm__ volatile("dsb sy\n\twfi" ::: "memory");
  }
}

static void wait_for(uint32_t wanted, volatile uint64_t *unexpected) {
  while (take_interrupt() != wanted) (*unexpected)++;
}

// ---------------------------------------------------------------------------------------

void ipibench_secondary_main(void) {
  if (cpu_interface_init("vCPU 1") != 0) {
    for (;;) __asm__ volatile("wfi");
  }
  send_sgi(SGI_PONG, boot_mpidr);            // ready
  for (;;) {
    wait_for(SGI_PING, &secondary_unexpected);
    send_sgi(SGI_PONG, boot_mpidr);
  }
}

static volatile uint64_t boot_unexpected;

static uint64_t round_trips(uint64_t n) {
  uint64_t start = read_cntvct();
  for (uint64_t i = 0; i < n; i++) {
    send_sgi(SGI_PING, SECONDARY_MPIDR);
    wait_for(SGI_PONG, &boot_unexpected);
  }
  return read_cntvct() - start;
}

void ipibench_main(void) {
  uint64_t frequency, el;
  __asm__ volatile("mrs %0, CurrentEL" : "=r"(el));
  __asm__ volatile("mrs %0, cntfrq_el0" : "=r"(frequency));
  boot_mpidr = read_mpidr();
  puts_raw("\nmicrobench: ipi-roundtrip starting at EL");
  putdec((el >> 2) & 3);
  puts_raw(", CNTFRQ_EL0 ");
  putdec(frequency);
  puts_raw(" Hz, ");
  putdec(IPIBENCH_ITERATIONS);
  puts_raw(" round trips after ");
  putdec(WARMUP_ITERATIONS);
  puts_raw(" warm-up, PSCI_VERSION ");
  puthex(ipibench_hvc(PSCI_VERSION, 0, 0, 0));
  puts_raw("\n");

  distributor_init();
  if (cpu_interface_init("vCPU 0") != 0) system_off();

  uint64_t status = ipibench_hvc(PSCI_CPU_ON, SECONDARY_MPIDR, (uint64_t)&ipibench_secondary_entry,
                                 (uint64_t)(secondary_stack + sizeof secondary_stack));
  if (status != 0) {
    puts_raw("microbench: ipi-roundtrip failed: PSCI CPU_ON(MPIDR 1) returned ");
    puthex(status);
    puts_raw(" (needs 2 CPUs)\n");
    system_off();
  }
  wait_for(SGI_PONG, &boot_unexpected);      // vCPU 1 is up and listening

  (void)round_trips(WARMUP_ITERATIONS);
  uint64_t ticks = round_trips(IPIBENCH_ITERATIONS);

  // Tenths of a ns per round trip; whole-ns precision before the product could overflow.
  uint64_t tenths = ticks < 1000000000ull ? ticks * 10000000000ull / frequency / IPIBENCH_ITERATIONS
                                          : ticks * 1000000000ull / frequency * 10 / IPIBENCH_ITERATIONS;
  puts_raw("microbench: ipi-roundtrip ns=");
  putdec_tenths(tenths);
  puts_raw(" ticks=");
  putdec(ticks);
  puts_raw(" iterations=");
  putdec(IPIBENCH_ITERATIONS);
  puts_raw("\n");
  if (boot_unexpected || secondary_unexpected || exception_count) {
    puts_raw("microbench: ipi-roundtrip unexpected interrupts: vCPU 0 ");
    putdec(boot_unexpected);
    puts_raw(", vCPU 1 ");
    putdec(secondary_unexpected);
    puts_raw("\n");
  }
  puts_raw("microbench: done\n");
  system_off();
}

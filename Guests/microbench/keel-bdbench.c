/* keel-bdbench: the guest-visible cost of one VMware backdoor round trip from user space (EL0).
 * Runs GETVERSION through `MRS XZR, MDCCSR_EL0` in a loop, timed with CNTVCT_EL0, and prints
 *   keel-bdbench: getversion-mrs ns=<per call> ticks=<total> iterations=<n> (version <W0>)
 *   keel-bdbench: cntvct ns=<per read> ticks=<total> iterations=<n>
 * Usage: keel-bdbench [iterations]   (default 10000, after 1000 warm-up calls)
 * Exit status 0, or 1 with "keel-bdbench: backdoor unavailable" when nothing answers: without a
 * hypervisor that implements the backdoor, Linux (MDSCR_EL1.TDCC) turns the MRS into SIGILL.
 * Freestanding (raw syscalls, no libc), like keel-detect. */

#include "keel-user.h"

#define DEFAULT_ITERATIONS 10000
#define WARMUP_ITERATIONS 1000
#define BDOOR_MAGIC 0x564D5868ul

#define NR_RT_SIGACTION 134
#define NR_RT_SIGRETURN 139
#define SIGILL 4
#define SA_RESTORER 0x04000000ul

/* One decimal, in integers (a freestanding program has no printf). */
static char *append_tenths(char *out, u64 tenths) {
  out = append_decimal(out, tenths / 10);
  *out++ = '.';
  *out++ = (char)('0' + tenths % 10);
  return out;
}

/* The kernel's struct sigaction on arm64 (include/uapi/asm-generic/signal.h with SA_RESTORER). */
struct kernel_sigaction {
  void (*handler)(int);
  u64 flags;
  void (*restorer)(void);
  u64 mask;
};

void keel_bdbench_restorer(void);
__asm__(
    ".text\n"
    ".global keel_bdbench_restorer\n"
    "keel_bdbench_restorer:\n"
    "  mov x8, #139\n" /* __NR_rt_sigreturn */
    "  svc #0\n");

static void unavailable(void) {
  static const char message[] = "keel-bdbench: backdoor unavailable\n";
  sys_write(1, message, sizeof message - 1);
  sys_exit(1);
}

/* The MRS raised SIGILL: nothing implements the backdoor. Never returns to the MRS. */
static void on_sigill(int signal) {
  (void)signal;
  unavailable();
}

static u64 read_cntvct(void) {
  u64 v;
  __asm__ volatile("isb\n\tmrs %0, cntvct_el0" : "=r"(v));
  return v;
}

/* One low-bandwidth GETVERSION (`in eax, dx`, as open-vm-tools' Backdoor_InOut). Returns W0;
 * *bx receives W1, BDOOR_MAGIC when a backdoor answered. */
static u64 getversion(u64 *bx) {
  register u64 x0 __asm__("x0") = BDOOR_MAGIC;
  register u64 x1 __asm__("x1") = 0;
  register u64 x2 __asm__("x2") = 10;      /* BDOOR_CMD_GETVERSION */
  register u64 x3 __asm__("x3") = 0x5658;  /* BDOOR_PORT */
  register u64 x4 __asm__("x4") = 0;
  register u64 x5 __asm__("x5") = 0;
  register u64 x7 __asm__("x7") = 0x860000000Eul; /* X86_IO_MAGIC << 32 | IN, with DX, 4 bytes */
  __asm__ volatile("mrs xzr, mdccsr_el0"
                   : "+r"(x0), "+r"(x1), "+r"(x2), "+r"(x3), "+r"(x4), "+r"(x5)
                   : "r"(x7)
                   : "memory");
  *bx = x1;
  return x0;
}

/* CNTVCT ticks for `iterations` calls; the loop keeps its state in callee-saved registers
 * because the backdoor may rewrite x0-x5. */
static u64 time_getversion(u64 iterations) {
  u64 ticks;
  __asm__ volatile(
      "isb\n\t"
      "mrs x20, cntvct_el0\n\t"
      "mov x19, %[n]\n"
      "1:\n\t"
      "movz x0, #0x5868\n\t"
      "movk x0, #0x564d, lsl #16\n\t"
      "mov x1, #0\n\t"
      "mov x2, #10\n\t"
      "mov x3, #0x5658\n\t"
      "mov x7, #0xe\n\t"
      "movk x7, #0x86, lsl #32\n\t"
      "mrs xzr, mdccsr_el0\n\t"
      "subs x19, x19, #1\n\t"
      "b.ne 1b\n\t"
      "isb\n\t"
      "mrs %[ticks], cntvct_el0\n\t"
      "sub %[ticks], %[ticks], x20"
      : [ticks] "=&r"(ticks)
      : [n] "r"(iterations)
      : "x0", "x1", "x2", "x3", "x4", "x5", "x7", "x19", "x20", "cc", "memory");
  return ticks;
}

static u64 time_cntvct(u64 iterations) {
  u64 ticks;
  __asm__ volatile(
      "isb\n\t"
      "mrs x20, cntvct_el0\n\t"
      "mov x19, %[n]\n"
      "1:\n\t"
      "mrs x0, cntvct_el0\n\t"
      "subs x19, x19, #1\n\t"
      "b.ne 1b\n\t"
      "isb\n\t"
      "mrs %[ticks], cntvct_el0\n\t"
      "sub %[ticks], %[ticks], x20"
      : [ticks] "=&r"(ticks)
      : [n] "r"(iterations)
      : "x0", "x19", "x20", "cc", "memory");
  return ticks;
}

static u64 tenths_ns_per_iteration(u64 ticks, u64 frequency, u64 iterations) {
  if (frequency == 0 || iterations == 0) return 0;
  if (ticks < 1000000000ul) return ticks * 10000000000ul / frequency / iterations;
  return ticks * 1000000000ul / frequency * 10 / iterations;
}

static void report(const char *name, u64 ticks, u64 frequency, u64 iterations, const char *suffix) {
  char line[160];
  char *p = append_text(line, "keel-bdbench: ");
  p = append_text(p, name);
  p = append_text(p, " ns=");
  p = append_tenths(p, tenths_ns_per_iteration(ticks, frequency, iterations));
  p = append_text(p, " ticks=");
  p = append_decimal(p, ticks);
  p = append_text(p, " iterations=");
  p = append_decimal(p, iterations);
  p = append_text(p, suffix);
  *p++ = '\n';
  sys_write(1, line, (u64)(p - line));
}

static u64 parse_count(const char *text) {
  u64 value = 0;
  for (; *text >= '0' && *text <= '9'; text++) value = value * 10 + (u64)(*text - '0');
  return *text == 0 ? value : 0;
}

void __attribute__((noreturn, used)) keel_bdbench_main(u64 *stack) {
  u64 argc = stack[0];
  const char **argv = (const char **)(stack + 1);
  u64 iterations = DEFAULT_ITERATIONS;
  if (argc > 1) {
    iterations = parse_count(argv[1]);
    if (iterations == 0) {
      static const char usage[] = "usage: keel-bdbench [iterations]\n";
      sys_write(1, usage, sizeof usage - 1);
      sys_exit(2);
    }
  }

  struct kernel_sigaction action = {on_sigill, SA_RESTORER, keel_bdbench_restorer, 0};
  if (syscall4(NR_RT_SIGACTION, SIGILL, (long)&action, 0, sizeof action.mask) != 0) {
    static const char failed[] = "keel-bdbench: rt_sigaction failed\n";
    sys_write(1, failed, sizeof failed - 1);
    sys_exit(2);
  }

  u64 bx = 0;
  u64 version = getversion(&bx);
  if ((bx & 0xffffffffu) != BDOOR_MAGIC) unavailable();

  u64 frequency;
  __asm__ volatile("mrs %0, cntfrq_el0" : "=r"(frequency));
  (void)read_cntvct();

  (void)time_getversion(WARMUP_ITERATIONS);
  u64 ticks = time_getversion(iterations);
  char suffix[40];
  char *p = append_text(suffix, " (version ");
  p = append_decimal(p, version & 0xffffffffu);
  p = append_text(p, ")");
  *p = 0;
  report("getversion-mrs", ticks, frequency, iterations, suffix);

  (void)time_cntvct(WARMUP_ITERATIONS);
  report("cntvct", time_cntvct(iterations), frequency, iterations, "");
  sys_exit(0);
}

/* The kernel enters with sp at argc, argv[], NULL, envp[]. */
__asm__(
    ".text\n"
    ".global _start\n"
    "_start:\n"
    "  mov x0, sp\n"
    "  bl keel_bdbench_main\n");

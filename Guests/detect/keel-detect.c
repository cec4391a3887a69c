/* keel-detect: tells whether a hypervisor traps DC ZVA, from EL0, without any privileged access.
 * Prints one line and exits 0 when a hypervisor is detected, 1 when not (like vmware-checkvm):
 *   keel-detect: hypervisor present (F/16 store-exclusive failures)
 * Freestanding (raw syscalls, no libc) so the binary is the same everywhere. See README.md. */

#include "keel-user.h"

#define TRIALS 16

static volatile u64 exclusive_word __attribute__((aligned(64)));
/* DC ZVA zeroes a whole block (up to 2 KiB); it gets its own, away from the exclusive word. */
static volatile unsigned char zero_block[4096] __attribute__((aligned(2048)));

/* One trial: 1 when the store-exclusive failed. Linux lets EL0 execute DC ZVA natively
 * (SCTLR_EL1.DZE), and zeroing another cache line leaves the exclusive monitor alone. A
 * hypervisor that traps DC ZVA (HCR_EL2.TDZ; Keel does) runs its own code and an exception
 * return between LDXR and STXR, which clears the monitor, so the STXR fails. (WFE would be the
 * textbook instruction, but a WFE with the event register set never traps, and QEMU 7.2 never
 * traps WFE at all.) */
static int store_exclusive_failed(void) {
  register u64 value __asm__("x1");
  register u64 status __asm__("x2");
  __asm__ volatile(
      "ldxr x1, [%[word]]\n\t"
      "dc zva, %[block]\n\t"
      "stxr w2, x1, [%[word]]"
      : "=&r"(value), "=&r"(status)
      : [word] "r"(&exclusive_word), [block] "r"(zero_block)
      : "memory");
  (void)value;
  return (status & 1) != 0;
}

void __attribute__((noreturn)) _start(void) {
  u64 failures = 0;
  /* The first store to a fresh .bss page faults (copy-on-write of the zero page), and that
   * exception return alone would fail a trial; write it once before measuring. */
  exclusive_word = 1;
  zero_block[0] = 1;
  for (int i = 0; i < TRIALS; i++) failures += (u64)store_exclusive_failed();
  int present = failures * 2 > TRIALS;
  char line[96];
  char *p = append_text(line, present ? "keel-detect: hypervisor present (" : "keel-detect: hypervisor absent (");
  p = append_decimal(p, failures);
  p = append_text(p, "/");
  p = append_decimal(p, TRIALS);
  p = append_text(p, " store-exclusive failures)\n");
  sys_write(1, line, (u64)(p - line));
  sys_exit(present ? 0 : 1);
}

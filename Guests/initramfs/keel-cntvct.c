/* Prints the guest's virtual counter and its frequency, as early in userspace as possible:
 *   cntvct=<CNTVCT_EL0> cntfrq=<CNTFRQ_EL0>
 * Freestanding on purpose: no libc start-up work runs before the counter is read. */

#include "keel-user.h"

void __attribute__((noreturn)) _start(void) {
  u64 count, frequency;
  __asm__ volatile("isb; mrs %0, cntvct_el0" : "=r"(count));
  __asm__ volatile("mrs %0, cntfrq_el0" : "=r"(frequency));
  char line[64];
  char *p = append_text(line, "cntvct=");
  p = append_decimal(p, count);
  p = append_text(p, " cntfrq=");
  p = append_decimal(p, frequency);
  *p++ = '\n';
  sys_write(1, line, (u64)(p - line));
  sys_exit(0);
}

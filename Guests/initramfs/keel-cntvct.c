/* Prints the guest's virtual counter and its frequency, as early in userspace as possible:
 *   cntvct=<CNTVCT_EL0> cntfrq=<CNTFRQ_EL0>
 * Freestanding on purpose: no libc start-up work runs before the counter is read. */

typedef unsigned long u64;

static long sys_write(int fd, const char *buf, u64 len) {
  register long x0 __asm__("x0") = fd;
  register const char *x1 __asm__("x1") = buf;
  register u64 x2 __asm__("x2") = len;
  register long x8 __asm__("x8") = 64; /* __NR_write */
  __asm__ volatile("svc #0" : "+r"(x0) : "r"(x1), "r"(x2), "r"(x8) : "memory");
  return x0;
}

static void __attribute__((noreturn)) sys_exit(int code) {
  register long x0 __asm__("x0") = code;
  register long x8 __asm__("x8") = 93; /* __NR_exit */
  __asm__ volatile("svc #0" : : "r"(x0), "r"(x8) : "memory");
  for (;;) {
  }
}

static char *append_text(char *out, const char *text) {
  while (*text) *out++ = *text++;
  return out;
}

static char *append_decimal(char *out, u64 value) {
  char digits[20];
  int n = 0;
  do {
    digits[n++] = (char)('0' + value % 10);
    value /= 10;
  } while (value != 0);
  while (n > 0) *out++ = digits[--n];
  return out;
}

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

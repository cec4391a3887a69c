/* What Keel's freestanding guest programs share (keel-cntvct, keel-detect, keel-bdbench,
 * keel-powerkey): raw Linux arm64 system calls and integer formatting, so they run before, and
 * without, any libc. */
#ifndef KEEL_USER_H
#define KEEL_USER_H

typedef unsigned long u64;

#define NR_WRITE 64
#define NR_EXIT_GROUP 94

static inline long syscall4(long nr, long a0, long a1, long a2, long a3) {
  register long x0 __asm__("x0") = a0;
  register long x1 __asm__("x1") = a1;
  register long x2 __asm__("x2") = a2;
  register long x3 __asm__("x3") = a3;
  register long x8 __asm__("x8") = nr;
  __asm__ volatile("svc #0" : "+r"(x0) : "r"(x1), "r"(x2), "r"(x3), "r"(x8) : "memory");
  return x0;
}

static inline long sys_write(int fd, const char *buf, u64 len) { return syscall4(NR_WRITE, fd, (long)buf, (long)len, 0); }

static inline void __attribute__((noreturn)) sys_exit(int code) {
  syscall4(NR_EXIT_GROUP, code, 0, 0, 0);
  for (;;) {
  }
}

static inline char *append_text(char *out, const char *text) {
  while (*text) *out++ = *text++;
  return out;
}

static inline char *append_decimal(char *out, u64 value) {
  char digits[20];
  int n = 0;
  do {
    digits[n++] = (char)('0' + value % 10);
    value /= 10;
  } while (value != 0);
  while (n > 0) *out++ = digits[--n];
  return out;
}

#endif

// Console output (and the counter) for Keel's bare-metal EL1 test guests (hostile, microbench, ipibench): polled writes to
// the PL011 at 0x09000000, the address Keel's virtual UART and QEMU virt's real one share.
// Integer formatting only: the guests run with FP/SIMD trapped (CPACR_EL1 reset value).
#ifndef KEEL_EL1_CONSOLE_H
#define KEEL_EL1_CONSOLE_H
#include <stdint.h>

#define UART_BASE 0x09000000ull
#define UART_DR (UART_BASE + 0x00)
#define UART_FR (UART_BASE + 0x18)
#define UART_FR_TXFF (1u << 5)

/// The virtual counter, after an ISB so the read is not hoisted out of a timed loop.
static inline uint64_t read_cntvct(void) {
  uint64_t v;
  __asm__ volatile("isb\n\tmrs %0, cntvct_el0" : "=r"(v));
  return v;
}

static inline uint32_t mmio_read32(uint64_t addr) { return *(volatile uint32_t *)addr; }
static inline void mmio_write32(uint64_t addr, uint32_t v) { *(volatile uint32_t *)addr = v; }

static inline void putc_raw(char c) {
  while (mmio_read32(UART_FR) & UART_FR_TXFF) {}
  mmio_write32(UART_DR, (uint8_t)c);
}

static inline void puts_raw(const char *s) {
  for (; *s; s++) {
    if (*s == '\n') putc_raw('\r');
    putc_raw(*s);
  }
}

static inline void putdec(uint64_t v) {
  char buf[21];
  int i = 20;
  buf[i] = 0;
  do { buf[--i] = (char)('0' + v % 10); v /= 10; } while (v);
  puts_raw(&buf[i]);
}

// Hexadecimal with a 0x prefix: `digits` digits, or as few as the value needs when 0.
static inline void puthex_digits(uint64_t v, int digits) {
  if (digits == 0) {
    digits = 1;
    while (digits < 16 && (v >> (4 * digits)) != 0) digits++;
  }
  puts_raw("0x");
  for (int i = digits - 1; i >= 0; i--) putc_raw("0123456789abcdef"[(v >> (4 * i)) & 0xf]);
}

#endif

// The few C-library symbols the Embedded Swift runtime and clang-generated code need at EL2.
#if defined(KEEL_EL2) && defined(__aarch64__)
#include <stddef.h>
#include <stdint.h>
#include "CKeelEL2.h"

uint64_t keel_boot_dtb;
static volatile uint64_t keel_console_base = 0x09000000;
uint64_t keel_boot_dtb_address(void) { return keel_boot_dtb; }
void keel_set_console_base(uint64_t base) { keel_console_base = base; }

__attribute__((no_builtin)) void *memset(void *d, int c, size_t n) {
  unsigned char *p = d;
  while (n && ((uintptr_t)p & 7)) { *p++ = (unsigned char)c; n--; }
  uint64_t w = (unsigned char)c; w |= w << 8; w |= w << 16; w |= w << 32;
  for (; n >= 8; n -= 8, p += 8) *(volatile uint64_t *)p = w;
  while (n--) *p++ = (unsigned char)c;
  return d;
}

__attribute__((no_builtin)) void *memcpy(void *d, const void *s, size_t n) {
  unsigned char *dp = d; const unsigned char *sp = s;
  if ((((uintptr_t)dp | (uintptr_t)sp) & 7) == 0) {
    // Swift copies structs of a few hundred bytes through here on hot paths (no SIMD at EL2):
    // 32 bytes per iteration in register pairs. Inline assembly, because the compiler would
    // turn a plain loop back into a call to memcpy.
    for (; n >= 32; n -= 32, dp += 32, sp += 32) {
      uint64_t a, b, c, e;
      __asm__ volatile("ldp %0, %1, [%4]\n\tldp %2, %3, [%4, #16]\n\t"
                       "stp %0, %1, [%5]\n\tstp %2, %3, [%5, #16]"
                       : "=&r"(a), "=&r"(b), "=&r"(c), "=&r"(e) : "r"(sp), "r"(dp) : "memory");
    }
    for (; n >= 8; n -= 8, dp += 8, sp += 8) *(volatile uint64_t *)dp = *(const uint64_t *)sp;
  }
  while (n--) *dp++ = *sp++;
  return d;
}

__attribute__((no_builtin)) void *memmove(void *d, const void *s, size_t n) {
  unsigned char *dp = d; const unsigned char *sp = s;
  if (dp == sp || n == 0) return d;
  if (dp < sp || dp >= sp + n) return memcpy(d, s, n);
  while (n--) dp[n] = sp[n];
  return d;
}

__attribute__((no_builtin)) int memcmp(const void *a, const void *b, size_t n) {
  const unsigned char *x = a, *y = b;
  for (; n; n--, x++, y++) if (*x != *y) return *x - *y;
  return 0;
}

__attribute__((no_builtin)) size_t strlen(const char *s) { size_t n = 0; while (s[n]) n++; return n; }

void keel_copy_words(void *dst, const void *src, uint64_t bytes) {
  volatile uint64_t *d = dst; const uint64_t *s = src;
  for (uint64_t i = 0; i < bytes / 8; i++) d[i] = s[i];
  unsigned char *db = (unsigned char *)dst + (bytes & ~7ull); const unsigned char *sb = (const unsigned char *)src + (bytes & ~7ull);
  for (uint64_t i = 0; i < (bytes & 7); i++) db[i] = sb[i];
}

// Heap: size-class free lists (16 B .. 32 KiB) over a bump region. Allocation happens at boot
// and on slow paths; the trap path allocates nothing, but strings for log lines do, and they
// must come back.
extern char __heap_start[], __heap_end[];
static uint64_t heap_next;
static void *free_lists[12];
static volatile uint32_t heap_lock;

static void lock(volatile uint32_t *l) {
  while (__atomic_exchange_n(l, 1, __ATOMIC_ACQUIRE)) { while (*l) __asm__ volatile("wfe"); }
}
static void unlock(volatile uint32_t *l) { __atomic_store_n(l, 0, __ATOMIC_RELEASE); __asm__ volatile("sev"); }

static void *bump(size_t size, size_t align) {
  if (!heap_next) heap_next = (uint64_t)__heap_start;
  uint64_t p = (heap_next + align - 1) & ~(uint64_t)(align - 1);
  if (p + size > (uint64_t)__heap_end) return NULL;
  heap_next = p + size;
  return (void *)p;
}

// Every block carries its class in the 16 bytes before it; class 0xFF is a never-freed large block.
int posix_memalign(void **out, size_t align, size_t size) {
  if (align < 16) align = 16;
  if (size == 0) size = 1;
  lock(&heap_lock);
  void *r = NULL;
  if (align == 16 && size <= 32768) {
    unsigned cls = 0; while ((16u << cls) < size) cls++;
    if (free_lists[cls]) { r = free_lists[cls]; free_lists[cls] = *(void **)r; }
    else {
      uint8_t *b = bump((16u << cls) + 16, 16);
      if (b) { b[0] = (uint8_t)cls; r = b + 16; }
    }
  } else {
    uint8_t *b = bump(size + align, align);
    if (b) { r = b + align; r = (uint8_t *)r; ((uint8_t *)r)[-16] = 0xFF; }
  }
  unlock(&heap_lock);
  if (!r) return 12;
  *out = r;
  return 0;
}

void free(void *p) {
  if (!p) return;
  uint8_t cls = ((uint8_t *)p)[-16];
  if (cls >= 12) return;
  lock(&heap_lock);
  *(void **)p = free_lists[cls];
  free_lists[cls] = p;
  unlock(&heap_lock);
}

void *malloc(size_t n) { void *p; return posix_memalign(&p, 16, n) ? NULL : p; }

uint64_t keel_heap_used(void) { return heap_next ? heap_next - (uint64_t)__heap_start : 0; }

int putchar(int c) {
  volatile uint32_t *uart = (volatile uint32_t *)keel_console_base;
  while (uart[0x18 / 4] & (1u << 5)) __asm__ volatile("yield");
  uart[0] = (uint32_t)(unsigned char)c;
  return c;
}

void arc4random_buf(void *buf, size_t n) {
  // Only seeds Swift's hashing; not a source of randomness.
  static uint64_t x = 0x9E3779B97F4A7C15ull;
  unsigned char *b = buf;
  for (size_t i = 0; i < n; i++) { x ^= x << 13; x ^= x >> 7; x ^= x << 17; b[i] = (unsigned char)x; }
}

void __stack_chk_fail(void) { for (;;) __asm__ volatile("wfe"); }
uintptr_t __stack_chk_guard = 0x595e9fbd94fda766ull;
#endif

#if defined(KEEL_EL2) && defined(__aarch64__)
// Return addresses up the frame-pointer chain, for fault reports.
int keel_backtrace(uint64_t *out, int max) {
  uint64_t *fp = __builtin_frame_address(0);
  int n = 0;
  while (fp && n < max && (uint64_t)fp >= 0x40000000 && ((uint64_t)fp & 7) == 0) {
    out[n++] = fp[1];
    fp = (uint64_t *)fp[0];
  }
  return n;
}
#endif

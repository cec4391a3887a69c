/* Waits for the virtual power button (gpio-keys KEY_POWER on the PL061, as on QEMU virt) and
 * shuts the guest down:
 *   keel-guest: power button pressed
 * It watches every /dev/input/event* present when it starts (init loads gpio_keys and evdev
 * first) and sleeps in ppoll, so an idle guest pays no wakeups for it. Exits quietly when there
 * is no input device (a kernel without the button).
 *
 * Plain `poweroff` only signals PID 1, and the default guest's PID 1 is a shell script that
 * would ignore it; so this does what busybox init would: SIGTERM everyone else, give them a
 * moment, then `poweroff -f` (sync and PSCI SYSTEM_OFF through the kernel's clean power-off). */

#include "keel-user.h"

#define NR_OPENAT 56
#define NR_CLOSE 57
#define NR_GETDENTS64 61
#define NR_READ 63
#define NR_PPOLL 73
#define NR_NANOSLEEP 101
#define NR_KILL 129
#define NR_EXECVE 221

#define AT_FDCWD (-100)
#define O_RDONLY 0
#define O_DIRECTORY 040000
#define O_CLOEXEC 02000000
#define POLLIN 1
#define POLLERR 8
#define POLLHUP 16
#define POLLNVAL 32
#define SIGTERM 15

#define EV_KEY 1
#define KEY_POWER 116
#define MAX_DEVICES 16

struct pollfd {
  int fd;
  short events, revents;
};

/* struct input_event on arm64: a 16-byte timeval, then type, code, value. */
struct input_event {
  long sec, usec;
  unsigned short type, code;
  int value;
};

struct timespec {
  long sec, nsec;
};

static long open_at(const char *path, long flags) { return syscall4(NR_OPENAT, AT_FDCWD, (long)path, flags, 0); }

static void say(const char *text) {
  u64 n = 0;
  while (text[n]) n++;
  sys_write(1, text, n);
}

static void __attribute__((noreturn)) power_off(void) {
  say("keel-guest: power button pressed\n");
  syscall4(NR_KILL, -1, SIGTERM, 0, 0);
  struct timespec pause = {0, 500000000};
  syscall4(NR_NANOSLEEP, (long)&pause, 0, 0, 0);
  char *argv[] = {"poweroff", "-f", 0};
  char *envp[] = {"PATH=/bin:/sbin:/usr/bin:/usr/sbin", 0};
  syscall4(NR_EXECVE, (long)"/bin/busybox", (long)argv, (long)envp, 0);
  say("keel-guest: power button: cannot run poweroff\n");
  sys_exit(1);
}

/* Opens /dev/input/event* into fds; returns how many. */
static int open_event_devices(struct pollfd *fds) {
  long dir = open_at("/dev/input", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0) return 0;
  int count = 0;
  static char entries[4096] __attribute__((aligned(8)));
  long size;
  while ((size = syscall4(NR_GETDENTS64, dir, (long)entries, sizeof entries, 0)) > 0) {
    for (long at = 0; at < size;) {
      /* linux_dirent64: u64 ino, s64 off, u16 reclen, u8 type, char name[]. */
      unsigned short reclen = *(unsigned short *)(entries + at + 16);
      const char *name = entries + at + 19;
      at += reclen;
      if (count == MAX_DEVICES || name[0] != 'e' || name[1] != 'v' || name[2] != 'e' || name[3] != 'n' ||
          name[4] != 't')
        continue;
      char path[64];
      char *p = append_text(path, "/dev/input/");
      for (int i = 0; name[i] && i < 32; i++) *p++ = name[i];
      *p = 0;
      long fd = open_at(path, O_RDONLY | O_CLOEXEC);
      if (fd >= 0) fds[count++] = (struct pollfd){(int)fd, POLLIN, 0};
    }
  }
  syscall4(NR_CLOSE, dir, 0, 0, 0);
  return count;
}

void __attribute__((noreturn)) _start(void) {
  struct pollfd fds[MAX_DEVICES];
  int count = open_event_devices(fds);
  if (count == 0) sys_exit(1);
  for (;;) {
    if (syscall4(NR_PPOLL, (long)fds, count, 0, 0) < 0) continue;
    for (int i = 0; i < count; i++) {
      /* A vanished device would wake ppoll for ever: stop watching it (negative fds are skipped). */
      if (fds[i].revents & (POLLERR | POLLHUP | POLLNVAL)) fds[i].fd = -1;
      if (!(fds[i].revents & POLLIN)) continue;
      struct input_event events[16];
      long n = syscall4(NR_READ, fds[i].fd, (long)events, sizeof events, 0);
      for (long e = 0; e < n / (long)sizeof events[0]; e++) {
        if (events[e].type == EV_KEY && events[e].code == KEY_POWER && events[e].value == 1) power_off();
      }
    }
  }
}

// Preloaded into linux.uml (Debian's user-mode-linux 6.1): lets it run on hosts whose
// XSAVE area is larger than the one it was built for, such as CPUs with AMX.
//
// UML saves and restores its processes' FPU/vector registers with
// ptrace(PTRACE_GETREGSET / PTRACE_SETREGSET, NT_X86_XSTATE) and a buffer of a size fixed
// when it was compiled (2696 bytes: x87, SSE, AVX, AVX-512, PKRU). The host kernel hands
// out a truncated copy on GET, but refuses a SET whose buffer is not exactly its own
// XSAVE size (EFAULT): on a host with AMX (8 KB of tile data more) every return to a UML
// process fails and the first one, init, dies with "Attempted to kill init!".
//
// Here a short SET is completed to the host's size: the target's current state is read
// in full, UML's bytes are laid over its beginning, and the whole is written back. The
// components past UML's buffer (AMX tiles, which UML's processes never enable) keep the
// values they have. Nothing else changes: every other request goes to libc unchanged.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/types.h>
#include <sys/uio.h>

typedef long (*ptrace_fn)(int, pid_t, void *, void *);

// The host's XSAVE size, as large as any x86 CPU's so far (AMX: ~11 KB).
#define MAX_XSTATE (64 * 1024)
static unsigned char spare[MAX_XSTATE] __attribute__((aligned(64)));
static int spare_busy;

static ptrace_fn real_ptrace(void) {
  static ptrace_fn fn;
  if (!fn) fn = (ptrace_fn)dlsym(RTLD_NEXT, "ptrace");
  return fn;
}

static long complete_set(ptrace_fn real, pid_t pid, struct iovec *short_iov) {
  // UML runs one CPU's worth of work at a time; the buffer is shared, and a nested call
  // (from a signal handler) gets a mapping of its own.
  unsigned char *buf = spare;
  int own = __atomic_exchange_n(&spare_busy, 1, __ATOMIC_ACQUIRE) == 0;
  if (!own) {
    buf = mmap(NULL, MAX_XSTATE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (buf == MAP_FAILED) return -1;
  }
  struct iovec full = {.iov_base = buf, .iov_len = MAX_XSTATE};
  long r = real(PTRACE_GETREGSET, pid, (void *)NT_X86_XSTATE, &full);
  if (r == 0 && full.iov_len > short_iov->iov_len) {
    memcpy(buf, short_iov->iov_base, short_iov->iov_len);
    r = real(PTRACE_SETREGSET, pid, (void *)NT_X86_XSTATE, &full);
  } else if (r == 0) {
    r = real(PTRACE_SETREGSET, pid, (void *)NT_X86_XSTATE, short_iov);
  }
  int saved = errno;
  if (own)
    __atomic_store_n(&spare_busy, 0, __ATOMIC_RELEASE);
  else
    munmap(buf, MAX_XSTATE);
  errno = saved;
  return r;
}

long ptrace(enum __ptrace_request request, ...) {
  va_list ap;
  va_start(ap, request);
  pid_t pid = va_arg(ap, pid_t);
  void *addr = va_arg(ap, void *);
  void *data = va_arg(ap, void *);
  va_end(ap);
  ptrace_fn real = real_ptrace();
  if (request == PTRACE_SETREGSET && (long)addr == NT_X86_XSTATE && data) {
    long r = real(request, pid, addr, data);
    if (r == 0 || errno != EFAULT) return r;
    return complete_set(real, pid, (struct iovec *)data);
  }
  return real(request, pid, addr, data);
}

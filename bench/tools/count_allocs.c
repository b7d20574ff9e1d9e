// LD_PRELOAD shim that counts heap allocations, for "allocations per request" in bench/README.md.
//   gcc -O2 -shared -fPIC -o count_allocs.so bench/tools/count_allocs.c -ldl
//   LD_PRELOAD=./count_allocs.so mls serve ...   then   kill -USR2 PID   prints the running totals
// (malloc, calloc, realloc, aligned allocations and operator new all end in these symbols).
#define _GNU_SOURCE
#include <dlfcn.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static atomic_ulong allocations;
static atomic_ulong bytes;
static void* (*real_malloc)(size_t);
static void* (*real_calloc)(size_t, size_t);
static void* (*real_realloc)(void*, size_t);
static int (*real_posix_memalign)(void**, size_t, size_t);
static void* (*real_aligned_alloc)(size_t, size_t);

// dlsym itself may calloc before real_calloc is known: serve that from a static arena.
static char bootstrap[4096];
static size_t bootstrap_used;

static void report(int sig) {
  (void)sig;
  char line[128];
  int n = snprintf(line, sizeof line, "count_allocs: allocations=%lu bytes=%lu\n",
                   atomic_load(&allocations), atomic_load(&bytes));
  if (n > 0) write(2, line, (size_t)n);
}

__attribute__((constructor)) static void init(void) {
  real_malloc = dlsym(RTLD_NEXT, "malloc");
  real_calloc = dlsym(RTLD_NEXT, "calloc");
  real_realloc = dlsym(RTLD_NEXT, "realloc");
  real_posix_memalign = dlsym(RTLD_NEXT, "posix_memalign");
  real_aligned_alloc = dlsym(RTLD_NEXT, "aligned_alloc");
  signal(SIGUSR2, report);
}

static void count(size_t size) {
  atomic_fetch_add_explicit(&allocations, 1, memory_order_relaxed);
  atomic_fetch_add_explicit(&bytes, size, memory_order_relaxed);
}

void* malloc(size_t size) {
  if (!real_malloc) init();
  count(size);
  return real_malloc(size);
}

void* calloc(size_t n, size_t size) {
  if (!real_calloc) {
    size_t need = (n * size + 15) & ~(size_t)15;
    if (bootstrap_used + need > sizeof bootstrap) return NULL;
    void* p = bootstrap + bootstrap_used;
    bootstrap_used += need;
    memset(p, 0, need);
    return p;
  }
  count(n * size);
  return real_calloc(n, size);
}

void* realloc(void* p, size_t size) {
  if (!real_realloc) init();
  count(size);
  return real_realloc(p, size);
}

int posix_memalign(void** out, size_t alignment, size_t size) {
  if (!real_posix_memalign) init();
  count(size);
  return real_posix_memalign(out, alignment, size);
}

void* aligned_alloc(size_t alignment, size_t size) {
  if (!real_aligned_alloc) init();
  count(size);
  return real_aligned_alloc(alignment, size);
}

void free(void* p) {
  static void (*real_free)(void*);
  if ((char*)p >= bootstrap && (char*)p < bootstrap + sizeof bootstrap) return;
  if (!real_free) real_free = dlsym(RTLD_NEXT, "free");
  real_free(p);
}

/* guard.c — surviving a VMM that shrinks a file under our mapping.
 *
 * A file that is not sealed with F_SEAL_SHRINK can be truncated by the VMM at any
 * time; the next touch of a page past the new end raises SIGBUS, which would kill
 * the daemon and every device it serves. Checking the size before each access
 * cannot close the race, so the touch itself is made survivable: a process-wide
 * SIGBUS handler looks the faulting address up among the guarded mappings and, if
 * it is one of ours, maps a private zero page over the lost page (mmap is a plain
 * system call, safe in a handler) and marks the mapping lost. The faulting
 * instruction then runs again on zeroes; the transport sees vdev_mem_lost() and
 * fails the device. A SIGBUS at any other address goes to the handler that was
 * there before ours, or kills the process as it would have.
 *
 * The table is read in signal context, so it is a fixed array of slots whose
 * fields are published with atomics, never a structure that is reallocated. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>

#include "vdev/log.h"
#include "mem_internal.h"

/* Guarded mappings alive at once, process-wide. One mapping serves every region
 * of a file, so this bounds distinct unsealed files, not regions. */
#define GUARD_SLOTS 16384

struct guard_slot {
    uintptr_t start;      /* atomic; 0 when the slot is free */
    uintptr_t end;        /* atomic */
    uintptr_t granule;    /* atomic; page size of the mapping */
    int prot;             /* atomic */
    int lost;             /* atomic */
};

static struct guard_slot slots[GUARD_SLOTS];
static unsigned slots_used;            /* atomic high-water mark */
static pthread_mutex_t slots_lock = PTHREAD_MUTEX_INITIALIZER;
static struct sigaction previous;

static bool guard_catch(uintptr_t addr)
{
    unsigned n = __atomic_load_n(&slots_used, __ATOMIC_ACQUIRE);

    for (unsigned i = 0; i < n; i++) {
        struct guard_slot *s = &slots[i];
        uintptr_t start = __atomic_load_n(&s->start, __ATOMIC_ACQUIRE);
        uintptr_t end = __atomic_load_n(&s->end, __ATOMIC_RELAXED);
        uintptr_t granule, page;
        void *p;

        if (!start || addr < start || addr >= end)
            continue;
        granule = __atomic_load_n(&s->granule, __ATOMIC_RELAXED);
        page = addr & ~(granule - 1);
        p = mmap((void *)page, granule, __atomic_load_n(&s->prot, __ATOMIC_RELAXED),
                 MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED)
            return false;
        __atomic_store_n(&s->lost, 1, __ATOMIC_RELEASE);
        return true;
    }
    return false;
}

static void guard_sigbus(int sig, siginfo_t *si, void *uctx)
{
    int saved_errno = errno;

    if (guard_catch((uintptr_t)si->si_addr)) {
        errno = saved_errno;
        return;
    }
    errno = saved_errno;
    if ((previous.sa_flags & SA_SIGINFO) && previous.sa_sigaction) {
        previous.sa_sigaction(sig, si, uctx);
    } else if (previous.sa_handler != SIG_DFL && previous.sa_handler != SIG_IGN) {
        previous.sa_handler(sig);
    } else {
        /* Not ours: put the default back and return; the access faults again and
         * the process dies of SIGBUS as it would have without us. */
        signal(SIGBUS, SIG_DFL);
    }
}

/* Puts our handler in place unless it already is, chaining to what was there. A
 * program that installs its own SIGBUS handler after mapping guest memory takes
 * the guard away until the next guarded mapping is made; see docs/memory.md.
 * Called with slots_lock held. */
static int guard_install(void)
{
    struct sigaction sa, cur;

    if (sigaction(SIGBUS, NULL, &cur) < 0)
        return -errno;
    if ((cur.sa_flags & SA_SIGINFO) && cur.sa_sigaction == guard_sigbus)
        return 0;
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = guard_sigbus;
    sa.sa_flags = SA_SIGINFO | SA_RESTART | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    previous = cur;
    if (sigaction(SIGBUS, &sa, NULL) < 0)
        return -errno;
    return 0;
}

int mem_guard_add(void *base, uint64_t len, uint64_t granule, int prot)
{
    int slot = -ENOSPC;

    pthread_mutex_lock(&slots_lock);
    slot = guard_install();
    if (slot < 0) {
        pthread_mutex_unlock(&slots_lock);
        return slot;
    }
    slot = -ENOSPC;
    for (unsigned i = 0; i < GUARD_SLOTS; i++) {
        if (__atomic_load_n(&slots[i].start, __ATOMIC_RELAXED))
            continue;
        struct guard_slot *s = &slots[i];
        __atomic_store_n(&s->end, (uintptr_t)base + len, __ATOMIC_RELAXED);
        __atomic_store_n(&s->granule, (uintptr_t)granule, __ATOMIC_RELAXED);
        __atomic_store_n(&s->prot, prot, __ATOMIC_RELAXED);
        __atomic_store_n(&s->lost, 0, __ATOMIC_RELAXED);
        __atomic_store_n(&s->start, (uintptr_t)base, __ATOMIC_RELEASE);
        if (i >= __atomic_load_n(&slots_used, __ATOMIC_RELAXED))
            __atomic_store_n(&slots_used, i + 1, __ATOMIC_RELEASE);
        slot = (int)i;
        break;
    }
    pthread_mutex_unlock(&slots_lock);
    if (slot < 0)
        vdev_err("mem: more than %d unsealed files mapped at once", GUARD_SLOTS);
    return slot;
}

void mem_guard_remove(int slot)
{
    pthread_mutex_lock(&slots_lock);
    __atomic_store_n(&slots[slot].start, 0, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&slots_lock);
}

bool mem_guard_lost(int slot)
{
    return __atomic_load_n(&slots[slot].lost, __ATOMIC_ACQUIRE);
}

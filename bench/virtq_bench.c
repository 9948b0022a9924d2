/* virtq_bench.c — requests per second through one virtqueue, device completing
 * at once: on one thread (driver and device take turns), and on two threads
 * polling. The peer, measured in the same run, is a bare single-producer,
 * single-consumer ring of request ids: what moving a request between two
 * threads costs with no descriptors, no translation and no checks at all.
 *
 *   vdev-bench-virtq [seconds per case, default 1]
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "vdev/mem.h"
#include "vdev/virtq.h"
#include "vdev/virtq_driver.h"

#define QSIZE   256
#define BATCH   32
#define MEMSIZE (4u << 20)
#define BUF_GPA 0x100000u

static double seconds = 1.0;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct rig {
    int fd;
    struct vdev_mem *mem;
    struct vdev_vq *vq;
    struct vdev_vqd *drv;
    volatile int stop;
    uint64_t done;
};

static void rig_init(struct rig *r, bool packed, bool event_idx)
{
    struct vdev_mem_region reg = { .gpa = 0, .size = MEMSIZE, .access = VDEV_MEM_RW };
    struct vdev_vq_config c = { .size = QSIZE, .packed = packed, .event_idx = event_idx,
                                .desc_gpa = 0x0, .driver_gpa = 0x10000,
                                .device_gpa = 0x20000, .call_fd = -1,
                                .base = packed ? 0x80008000u : 0 };
    struct vdev_vqd_config dc = { .size = QSIZE, .packed = packed, .event_idx = event_idx,
                                  .desc_gpa = 0x0, .driver_gpa = 0x10000,
                                  .device_gpa = 0x20000, .kick_fd = -1 };

    memset(r, 0, sizeof(*r));
    r->fd = memfd_create("bench", MFD_CLOEXEC);
    if (r->fd < 0 || ftruncate(r->fd, MEMSIZE) < 0)
        abort();
    reg.fd = r->fd;
    if (vdev_mem_new(&r->mem) || vdev_mem_add(r->mem, &reg))
        abort();
    c.mem = dc.mem = r->mem;
    if (vdev_vqd_new(&dc, &r->drv) || vdev_vq_new(&r->vq) || vdev_vq_start(r->vq, &c))
        abort();
}

static void rig_fini(struct rig *r)
{
    vdev_vq_stop(r->vq);
    vdev_vq_free(r->vq);
    vdev_vqd_free(r->drv);
    vdev_mem_free(r->mem);
    close(r->fd);
}

/* One request: a 16-byte header the device reads, a 1-byte status it writes. */
static int driver_add(struct vdev_vqd *d, unsigned i)
{
    struct vdev_vqd_buf out = { BUF_GPA + (i % QSIZE) * 64, 16 };
    struct vdev_vqd_buf in = { BUF_GPA + (i % QSIZE) * 64 + 32, 1 };
    uint16_t id;
    return vdev_vqd_add(d, &out, 1, &in, 1, false, &id);
}

static unsigned device_serve(struct vdev_vq *vq)
{
    struct iovec iov[4];
    uint64_t gpa[4];
    struct vdev_vq_req req = { .iov = iov, .iov_gpa = gpa, .iov_cap = 4 };
    unsigned n = 0;

    while (vdev_vq_pop(vq, &req) == 1) {
        *(volatile uint8_t *)iov[req.n_out].iov_base = 0;
        vdev_vq_push(vq, &req, 1);
        n++;
    }
    vdev_vq_notify(vq);
    return n;
}

static unsigned driver_reap(struct vdev_vqd *d)
{
    uint16_t id;
    uint32_t len;
    unsigned n = 0;

    while (vdev_vqd_get_used(d, &id, &len) == 1)
        n++;
    return n;
}

static double one_thread(bool packed)
{
    struct rig r;
    uint64_t done = 0;
    unsigned i = 0;
    double t0, t;

    rig_init(&r, packed, true);
    t0 = now();
    do {
        for (int round = 0; round < 256; round++) {
            for (int b = 0; b < BATCH; b++)
                if (driver_add(r.drv, i++) < 0)
                    abort();
            vdev_vqd_kick_prepare(r.drv);
            device_serve(r.vq);
            done += driver_reap(r.drv);
        }
        t = now() - t0;
    } while (t < seconds);
    rig_fini(&r);
    return (double)done / t;
}

static void *device_thread(void *arg)
{
    struct rig *r = arg;

    vdev_vq_set_notification(r->vq, false);
    while (!__atomic_load_n(&r->stop, __ATOMIC_RELAXED))
        device_serve(r->vq);
    return NULL;
}

static double two_threads(bool packed)
{
    struct rig r;
    pthread_t t;
    uint64_t done = 0;
    unsigned i = 0;
    double t0, el;

    rig_init(&r, packed, true);
    vdev_vqd_set_interrupts(r.drv, false);
    pthread_create(&t, NULL, device_thread, &r);
    t0 = now();
    do {
        for (int round = 0; round < 1024; round++) {
            for (int b = 0; b < BATCH && vdev_vqd_free_count(r.drv) >= 2; b++)
                if (driver_add(r.drv, i++) < 0)
                    abort();
            vdev_vqd_kick_prepare(r.drv);
            done += driver_reap(r.drv);
        }
        el = now() - t0;
    } while (el < seconds);
    __atomic_store_n(&r.stop, 1, __ATOMIC_RELAXED);
    pthread_join(t, NULL);
    rig_fini(&r);
    return (double)done / el;
}

/* The peer: ids through a bare SPSC ring and back through a second one. */
struct spsc {
    uint16_t slot[QSIZE];
    uint32_t head __attribute__((aligned(64)));   /* producer */
    uint32_t tail __attribute__((aligned(64)));   /* consumer */
};

static bool spsc_put(struct spsc *q, uint16_t v)
{
    uint32_t h = q->head;
    if (h - __atomic_load_n(&q->tail, __ATOMIC_ACQUIRE) == QSIZE)
        return false;
    q->slot[h % QSIZE] = v;
    __atomic_store_n(&q->head, h + 1, __ATOMIC_RELEASE);
    return true;
}

static bool spsc_get(struct spsc *q, uint16_t *v)
{
    uint32_t t = q->tail;
    if (t == __atomic_load_n(&q->head, __ATOMIC_ACQUIRE))
        return false;
    *v = q->slot[t % QSIZE];
    __atomic_store_n(&q->tail, t + 1, __ATOMIC_RELEASE);
    return true;
}

struct spsc_pair {
    struct spsc sq, cq;
    volatile int stop;
};

static void *spsc_device(void *arg)
{
    struct spsc_pair *p = arg;
    uint16_t v;

    while (!__atomic_load_n(&p->stop, __ATOMIC_RELAXED))
        while (spsc_get(&p->sq, &v))
            while (!spsc_put(&p->cq, v))
                ;
    return NULL;
}

static double spsc_rate(bool threaded)
{
    static struct spsc_pair p;
    uint64_t done = 0, inflight = 0;
    uint16_t v, i = 0;
    pthread_t t;
    double t0, el;

    memset(&p, 0, sizeof(p));
    if (threaded)
        pthread_create(&t, NULL, spsc_device, &p);
    t0 = now();
    do {
        for (int round = 0; round < 1024; round++) {
            for (int b = 0; b < BATCH && inflight < QSIZE; b++, inflight++)
                spsc_put(&p.sq, i++);
            if (!threaded)
                while (spsc_get(&p.sq, &v))
                    spsc_put(&p.cq, v);
            while (spsc_get(&p.cq, &v)) {
                done++;
                inflight--;
            }
        }
        el = now() - t0;
    } while (el < seconds);
    if (threaded) {
        __atomic_store_n(&p.stop, 1, __ATOMIC_RELAXED);
        pthread_join(t, NULL);
    }
    return (double)done / el;
}

static void report(const char *name, double rate, double peer)
{
    printf("%-28s %8.2f Mreq/s %8.1f ns/req   bare ring %8.2f Mreq/s   ratio %.3f\n",
           name, rate / 1e6, 1e9 / rate, peer / 1e6, rate / peer);
}

int main(int argc, char **argv)
{
    double peer1, peer2;

    if (argc > 1)
        seconds = atof(argv[1]);
    printf("virtqueue, queue size %d, batch %d, device completes at once\n", QSIZE, BATCH);
    peer1 = spsc_rate(false);
    peer2 = spsc_rate(true);
    report("split, one thread", one_thread(false), peer1);
    report("packed, one thread", one_thread(true), peer1);
    report("split, two threads polling", two_threads(false), peer2);
    report("packed, two threads polling", two_threads(true), peer2);
    return 0;
}

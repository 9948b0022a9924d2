/* job.c — drives a virtio-blk device over a transport (transport.h): set-up,
 * the request loop, results. */
#include <endian.h>
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>

#include "blk_req.h"
#include "job.h"
#include "pattern.h"
#include "transport.h"
#include "verify.h"

#define NS_PER_S      1000000000ull
#define STALL_NS      (10 * NS_PER_S)   /* no completion this long: the back-end hangs */
#define WAIT_MS       100               /* a sleep's longest, to see the clock and stop */
#define DESCS_PER_REQ 3                 /* header, data, status */
#define MAX_MEM       (4ull << 30)
#define BIT(n)        (1ull << (n))

struct job_queue {
    uint16_t index;
    struct bench_slot *slots;       /* iodepth of them */
    uint32_t *by_id;                /* request id -> slot; queue-size entries */
    unsigned inflight;
    bool need_kick;
};

enum job_phase {
    PHASE_TIMED,        /* the measured I/O */
    PHASE_READBACK,     /* verify: read back what was written and not yet checked */
    PHASE_DRAIN,        /* nothing new: wait for what is in flight */
};

struct job {
    const struct bench_options *o;
    struct bench_result *r;
    struct bench_transport *t;
    struct job_queue q[BENCH_MAX_QUEUES];
    uint16_t qsize;
    uint64_t nblocks;
    uint64_t seq;                   /* read, write: the next block */
    uint64_t rnd;                   /* xorshift64* state */
    struct bench_verify verify;
    enum job_phase phase;
    unsigned inflight;
    uint64_t t0, last_done;
    struct bench_hist interval;     /* since the last progress call */
    int err;                        /* the first error of a request */
};

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}

static uint64_t rnd_next(uint64_t *s)
{
    uint64_t x = *s;

    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545f4914f6cdd1dull;
}

/* A uniform block number below n, without a division. */
static uint64_t rnd_below(uint64_t *s, uint64_t n)
{
    return (uint64_t)(((unsigned __int128)rnd_next(s) * n) >> 64);
}

static bool rw_writes(enum bench_rw rw)
{
    return rw == BENCH_RANDWRITE || rw == BENCH_WRITE || rw == BENCH_VERIFY;
}

/* ---- set-up ------------------------------------------------------------------ */

static uint64_t wanted_features(const struct bench_options *o)
{
    uint64_t f = BIT(VIRTIO_F_VERSION_1) | BIT(VIRTIO_RING_F_EVENT_IDX) |
                 BIT(VIRTIO_BLK_F_BLK_SIZE) | BIT(VIRTIO_BLK_F_SEG_MAX) |
                 BIT(VIRTIO_BLK_F_FLUSH) | BIT(VIRTIO_BLK_F_RO) | BIT(VIRTIO_BLK_F_MQ);

    if (o->packed)
        f |= BIT(VIRTIO_F_RING_PACKED);
    if (o->indirect)
        f |= BIT(VIRTIO_RING_F_INDIRECT_DESC);
    return f;
}

static int setup_fail(int err, const char *what)
{
    fprintf(stderr, "vdev-bench: %s: %s\n", what, vdev_strerror(err));
    return err;
}

static int negotiate(struct job *j)
{
    const struct bench_options *o = j->o;
    uint64_t acked, nq;
    int ret;

    if (o->transport == BENCH_VFIO_USER)
        ret = bench_vfu_open(o, wanted_features(o), &j->t);
    else
        ret = bench_vhost_open(o, wanted_features(o), &j->t);
    if (ret < 0)
        return ret;
    acked = j->r->features = j->t->features;
    nq = j->t->queue_num;
    if (!(acked & BIT(VIRTIO_F_VERSION_1)))
        return setup_fail(-EINVAL, "the device offers no VIRTIO_F_VERSION_1");
    if (o->packed && !(acked & BIT(VIRTIO_F_RING_PACKED)))
        return setup_fail(-EINVAL, "--packed: the device offers no packed rings");
    if (o->indirect && !(acked & BIT(VIRTIO_RING_F_INDIRECT_DESC)))
        return setup_fail(-EINVAL, "--indirect: the device offers no indirect tables");
    if (rw_writes(o->rw) && (acked & BIT(VIRTIO_BLK_F_RO)))
        return setup_fail(-EROFS, "the disk is read-only");
    if (o->queues > 1 && (!(acked & BIT(VIRTIO_BLK_F_MQ)) || nq < o->queues)) {
        fprintf(stderr, "vdev-bench: --queues %u: the device serves %" PRIu64 "\n",
                o->queues, nq ? nq : 1);
        return -EINVAL;
    }
    return 0;
}

/* The disk's size and logical block from its configuration space (5.2.4), and
 * the span of it the job uses. */
static int read_geometry(struct job *j)
{
    const struct bench_options *o = j->o;
    struct virtio_blk_config cfg;
    uint32_t len = offsetof(struct virtio_blk_config, blk_size) + sizeof(cfg.blk_size);
    uint32_t blk_size = 512;
    uint64_t span;
    int ret;

    memset(&cfg, 0, sizeof(cfg));
    ret = j->t->ops->read_config(j->t, 0, &cfg, len);
    if (ret < 0 && ret != -EOPNOTSUPP)
        return setup_fail(ret, "reading the configuration space");
    if (ret == 0) {
        j->r->capacity = le64toh(cfg.capacity) * 512;
        if (j->r->features & BIT(VIRTIO_BLK_F_BLK_SIZE))
            blk_size = le32toh(cfg.blk_size);
    }
    if (!j->r->capacity && !o->size)
        return setup_fail(-EINVAL, "the disk's size is unknown: give --size");
    if (blk_size == 0 || o->bs % blk_size) {
        fprintf(stderr, "vdev-bench: --bs %u is not a multiple of the disk's block "
                "size %u\n", o->bs, blk_size);
        return -EINVAL;
    }
    span = o->size ? o->size : j->r->capacity;
    if (j->r->capacity && span > j->r->capacity) {
        fprintf(stderr, "vdev-bench: --size %" PRIu64 " is past the disk's end (%"
                PRIu64 " bytes)\n", span, j->r->capacity);
        return -EINVAL;
    }
    j->nblocks = span / o->bs;
    j->r->span = j->nblocks * o->bs;
    if (j->nblocks == 0)
        return setup_fail(-EINVAL, "the disk is smaller than --bs");
    return 0;
}

static uint16_t queue_size_for(const struct bench_options *o)
{
    uint32_t need = o->iodepth * (o->indirect ? 1 : DESCS_PER_REQ), size = 256;

    if (o->queue_size)
        return o->queue_size;
    while (size < need && size < 32768)
        size *= 2;
    return (uint16_t)size;
}

/* Guest memory for the rings (with room for indirect tables) and the slots. */
static uint64_t memory_for(const struct bench_options *o, uint16_t qsize)
{
    uint64_t slot = ((uint64_t)o->bs + 4095) / 4096 * 4096 + 4096;
    uint64_t ring = (uint64_t)qsize * 16 * (2 + 16) + 16384;
    uint64_t total = o->queues * (o->iodepth * slot + ring) + (1u << 20);

    return (total + (2u << 20) - 1) / (2u << 20) * (2u << 20);
}

static int setup_queues(struct job *j)
{
    const struct bench_options *o = j->o;
    unsigned per_req = o->indirect ? 1 : DESCS_PER_REQ;
    uint64_t mem;
    int ret;

    j->qsize = j->r->queue_size = queue_size_for(o);
    if ((uint32_t)o->iodepth * per_req > j->qsize) {
        fprintf(stderr, "vdev-bench: --iodepth %u needs a ring of %u entries; "
                "--queue-size is %u\n", o->iodepth, o->iodepth * per_req, j->qsize);
        return -EINVAL;
    }
    mem = memory_for(o, j->qsize);
    if (mem > MAX_MEM)
        return setup_fail(-E2BIG, "more than 4 GiB of buffers asked for");
    ret = j->t->ops->setup(j->t, mem, j->qsize, o->queues);
    if (ret < 0)
        return ret;
    for (unsigned i = 0; i < o->queues; i++) {
        struct job_queue *q = &j->q[i];

        q->index = (uint16_t)i;
        q->slots = calloc(o->iodepth, sizeof(*q->slots));
        q->by_id = calloc(j->qsize, sizeof(*q->by_id));
        if (!q->slots || !q->by_id)
            return -ENOMEM;
        for (unsigned s = 0; s < o->iodepth; s++) {
            ret = bench_slot_alloc(j->t, o->bs, &q->slots[s]);
            if (ret < 0)
                return setup_fail(ret, "allocating request buffers");
            /* Plain writes carry data that is not all zeroes, once for all. */
            bench_pattern_fill(q->slots[s].data, o->bs, 0, s);
        }
    }
    return 0;
}

/* ---- requests ------------------------------------------------------------------ */

/* The next request of the job into slot si of q, made available: 1, 0 when
 * there is nothing to do now (the timed phase is over), or -errno. */
static int issue(struct job *j, struct job_queue *q, unsigned si, uint64_t now)
{
    const struct bench_options *o = j->o;
    struct bench_slot *s = &q->slots[si];
    bool write = o->rw == BENCH_RANDWRITE || o->rw == BENCH_WRITE;
    uint32_t gen = 0;
    uint64_t block;
    uint16_t id;
    int ret;

    if (j->phase == PHASE_DRAIN)
        return 0;
    if (j->phase == PHASE_READBACK) {
        if (!bench_verify_next_unchecked(&j->verify, &block, &gen))
            return 0;
        write = false;
    } else if (o->rw == BENCH_VERIFY) {
        bench_verify_next(&j->verify, rnd_next(&j->rnd), &block, &write, &gen);
    } else if (o->rw == BENCH_READ || o->rw == BENCH_WRITE) {
        block = j->seq;
        j->seq = j->seq + 1 == j->nblocks ? 0 : j->seq + 1;
    } else {
        block = rnd_below(&j->rnd, j->nblocks);
    }

    bench_slot_prepare(s, write, block * o->bs);
    s->gen = gen;
    if (o->rw == BENCH_VERIFY && write)
        bench_pattern_fill(s->data, o->bs, s->offset, gen);
    s->t_submit = now;
    ret = bench_slot_submit(j->t, q->index, s, o->indirect, &id);
    if (ret == 0 && id >= j->qsize)
        ret = -EPROTO;                  /* ids are below the ring's size */
    if (ret < 0) {
        if (o->rw == BENCH_VERIFY)
            bench_verify_abort(&j->verify, block);
        fprintf(stderr, "vdev-bench: submit on queue %u: %s\n", q->index,
                vdev_strerror(ret));
        return ret;
    }
    q->by_id[id] = si;
    q->inflight++;
    j->inflight++;
    q->need_kick = true;
    return 1;
}

/* Accounts for the used element (id, len) of q: the slot it frees, or -EIO,
 * -EILSEQ (the slot is free all the same), -EPROTO (no such request). */
static int complete(struct job *j, struct job_queue *q, uint16_t id, uint32_t len,
                    uint64_t now, unsigned *si)
{
    const struct bench_options *o = j->o;
    struct bench_result *r = j->r;
    struct bench_slot *s;
    uint64_t lat;
    int ret;

    if (id >= j->qsize)
        return -EPROTO;
    *si = q->by_id[id];
    s = &q->slots[*si];
    q->inflight--;
    j->inflight--;
    j->last_done = now;
    lat = now > s->t_submit ? now - s->t_submit : 0;
    bench_hist_add(&r->lat, lat);
    bench_hist_add(&j->interval, lat);
    r->ios++;
    r->bytes += o->bs;
    if (s->write)
        r->writes++;
    else
        r->reads++;

    ret = bench_slot_result(s, len);
    if (ret < 0) {
        if (r->io_errors++ < 5)
            fprintf(stderr, "vdev-bench: %s at offset %" PRIu64 " failed: status %u, "
                    "used length %u\n", s->write ? "write" : "read", s->offset,
                    *s->status, len);
        if (o->rw == BENCH_VERIFY)
            bench_verify_abort(&j->verify, s->offset / o->bs);
        return ret;
    }
    if (o->rw != BENCH_VERIFY)
        return 0;
    if (s->write) {
        bench_verify_written(&j->verify, s->offset / o->bs, s->gen);
        return 0;
    }
    ret = bench_verify_read(&j->verify, s->offset / o->bs, s->gen, s->data);
    r->mismatches = j->verify.mismatches;
    return ret;
}

/* Ends the timed phase: verify goes on to read back, the others drain. */
static void end_timed(struct job *j)
{
    if (j->phase == PHASE_TIMED)
        j->phase = j->o->rw == BENCH_VERIFY ? PHASE_READBACK : PHASE_DRAIN;
}

/* A request failed: keep the first error, make nothing new. */
static void request_failed(struct job *j, int err)
{
    if (!j->err)
        j->err = err;
    j->phase = PHASE_DRAIN;
}

/* Reaps everything q has used and reissues the freed slots. The number reaped,
 * or -EPROTO (the used ring cannot be trusted any more). */
static int reap_queue(struct job *j, struct job_queue *q)
{
    uint64_t now = 0;
    uint16_t id;
    uint32_t len;
    unsigned si;
    int n = 0, ret;

    while ((ret = j->t->ops->reap(j->t, q->index, &id, &len)) == 1) {
        if (!now)
            now = now_ns();     /* once a sweep: every element here is done by now */
        n++;
        ret = complete(j, q, id, len, now, &si);
        if (ret == -EPROTO)
            return ret;
        if (ret < 0)
            request_failed(j, ret);
        ret = issue(j, q, si, now);
        if (ret < 0)
            request_failed(j, ret);
    }
    if (ret < 0) {
        fprintf(stderr, "vdev-bench: queue %u: bad used element: %s\n", q->index,
                vdev_strerror(ret));
        return ret;
    }
    if (q->need_kick) {
        q->need_kick = false;
        ret = j->t->ops->kick(j->t, q->index);
        if (ret < 0)
            return ret;
    }
    return n;
}

/* Sleeps until a queue with requests in flight may have used buffers (or
 * WAIT_MS passed); the transport re-arms before it sleeps. */
static int wait_calls(struct job *j)
{
    bool busy[BENCH_MAX_QUEUES];

    for (unsigned i = 0; i < j->o->queues; i++)
        busy[i] = j->q[i].inflight > 0;
    return j->t->ops->wait(j->t, busy, j->o->queues, WAIT_MS);
}

static void report_progress(struct job *j, uint64_t now, uint64_t *last,
                            bench_progress_fn fn, void *opaque)
{
    struct bench_progress p = {
        .elapsed = (double)(now - j->t0) / NS_PER_S,
        .interval = (double)(now - *last) / NS_PER_S,
        .ios = j->interval.count,
        .lat = &j->interval,
    };

    fn(opaque, &p);
    bench_hist_init(&j->interval);
    *last = now;
}

static int run_loop(struct job *j, bench_progress_fn progress, void *opaque,
                    volatile sig_atomic_t *stop)
{
    const struct bench_options *o = j->o;
    uint64_t deadline, last_progress;
    int ret;

    j->t0 = j->last_done = last_progress = now_ns();
    deadline = j->t0 + (uint64_t)(o->seconds * NS_PER_S);
    for (unsigned i = 0; i < o->queues && !j->err; i++) {
        for (unsigned s = 0; s < o->iodepth && !j->err; s++) {
            ret = issue(j, &j->q[i], s, now_ns());
            if (ret < 0)
                request_failed(j, ret);
        }
        if (j->t->ops->kick(j->t, j->q[i].index) < 0)
            request_failed(j, -EPIPE);
        j->q[i].need_kick = false;
    }

    while (j->inflight) {
        uint64_t now = now_ns();
        int done = 0;

        if (now >= deadline || (stop && *stop))
            end_timed(j);
        if (stop && *stop > 1)
            j->phase = PHASE_DRAIN;     /* asked twice: skip verify's read-back */
        if (progress && now - last_progress >= NS_PER_S)
            report_progress(j, now, &last_progress, progress, opaque);
        for (unsigned i = 0; i < o->queues; i++) {
            ret = reap_queue(j, &j->q[i]);
            if (ret < 0)
                return ret;
            done += ret;
        }
        if (done)
            continue;
        if (now - j->last_done > STALL_NS) {
            fprintf(stderr, "vdev-bench: no completion for %llu s with %u requests "
                    "in flight\n", STALL_NS / NS_PER_S, j->inflight);
            return -ETIMEDOUT;
        }
        if (!o->poll) {
            ret = wait_calls(j);
            if (ret < 0)
                return ret;
        }
    }
    return j->err;
}

static void job_free(struct job *j)
{
    if (j->t)
        j->t->ops->close(j->t);
    for (unsigned i = 0; i < BENCH_MAX_QUEUES; i++) {
        free(j->q[i].slots);
        free(j->q[i].by_id);
    }
    bench_verify_fini(&j->verify);
}

int bench_run(const struct bench_options *o, struct bench_result *r,
              bench_progress_fn progress, void *opaque, volatile sig_atomic_t *stop)
{
    struct job *j = calloc(1, sizeof(*j));
    int ret;

    memset(r, 0, sizeof(*r));
    bench_hist_init(&r->lat);
    if (!j)
        return -ENOMEM;
    j->o = o;
    j->r = r;
    j->rnd = 0x9e3779b97f4a7c15ull * (o->seed + 1) | 1;
    bench_hist_init(&j->interval);
    ret = negotiate(j);
    if (ret == 0)
        ret = read_geometry(j);
    if (ret == 0 && o->rw == BENCH_VERIFY) {
        if (j->nblocks <= (uint64_t)o->iodepth * o->queues)
            ret = setup_fail(-EINVAL, "verify: the disk (or --size) holds fewer "
                             "blocks of --bs than requests in flight");
        else if ((ret = bench_verify_init(&j->verify, j->nblocks, o->bs)) < 0)
            setup_fail(ret, "verify: at most 2^28 blocks of --bs");
    }
    if (ret == 0)
        ret = setup_queues(j);
    if (ret == 0) {
        ret = run_loop(j, progress, opaque, stop);
        r->seconds = (double)(j->last_done - j->t0) / NS_PER_S;
        r->bytes_written = j->verify.bytes_written;
        r->bytes_verified = j->verify.bytes_verified;
        r->mismatches = j->verify.mismatches;
    }
    job_free(j);
    free(j);
    return ret;
}

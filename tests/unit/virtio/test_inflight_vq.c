/* A virtqueue with inflight records (vhost-user INFLIGHT_FD): a backend that
 * crashes at any point of a request's life and is started again, on the same
 * guest memory and the same inflight memory, hands out exactly the requests it
 * had not finished, oldest fetch first, with the same buffers, then the new
 * ones; the driver sees every request completed once. Records or rings that
 * lie make the queue refuse to start or break, never crash. Also the packed
 * ring's 32-bit base.
 *
 * A crash is the queue dropped without a stop (vdev_vq_free()) and its records
 * freed, with whatever the backend had written left in memory. A crash at the
 * store that publishes a batch is a child process killed by that store (the
 * page made read-only); a crash between that store and the commit is the
 * commit's writes undone by hand. */
#include <endian.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vdev/inflight.h"
#include "vq_fixture.h"

#define QS 16                      /* ring size of the crash tests */

struct saved {                     /* a request as the device got it */
    struct vdev_vq_req req;
    struct iovec iov[FX_IOV];
    uint64_t gpa[FX_IOV];
};

struct ifx {
    struct fx *f;                  /* guest memory, rings, driver; queue 0 */
    int fd;
    uint64_t size;
    uint8_t *area;                 /* the inflight memory (SET_INFLIGHT_FD) */
    struct vdev_inflight_layout l;
    struct vdev_inflight *rec;     /* the running backend's records */
};

static struct ifx *ifx_new(bool packed, uint16_t size)
{
    struct ifx *x = calloc(1, sizeof(*x));

    assert_non_null(x);
    x->f = fx_new(size, packed, false, true);
    x->l = (struct vdev_inflight_layout){ 1, size, packed };
    assert_int_equal(vdev_inflight_mmap_size(&x->l, &x->size), 0);
    x->fd = test_memfd("vq-inflight", x->size);
    x->area = mmap(NULL, x->size, PROT_READ | PROT_WRITE, MAP_SHARED, x->fd, 0);
    assert_true(x->area != MAP_FAILED);
    return x;
}

static void ifx_free(struct ifx *x)
{
    vdev_vq_stop(x->f->q[0].vq);   /* it uses the records */
    vdev_inflight_free(x->rec);
    munmap(x->area, x->size);
    close(x->fd);
    fx_free(x->f);                 /* checks no fd leaked */
    free(x);
}

static struct vdev_vq *vq(struct ifx *x)
{
    return x->f->q[0].vq;
}

/* The backend comes up: records of the area (fresh: zeroed, as GET_INFLIGHT_FD
 * hands it out; else as they are), and queue 0 started on them at base. */
static int backend_try_start(struct ifx *x, bool fresh, uint32_t base)
{
    struct vdev_vq_config c = x->f->q[0].cfg;
    int ret = fresh ? vdev_inflight_init(&x->rec, x->area, x->size, &x->l, 0)
                    : vdev_inflight_attach(&x->rec, x->area, x->size, &x->l, 0);

    assert_int_equal(ret, 0);
    c.inflight = x->rec;
    c.base = base;
    return vdev_vq_start(vq(x), &c);
}

static void backend_start(struct ifx *x, bool fresh, uint32_t base)
{
    assert_int_equal(backend_try_start(x, fresh, base), 0);
}

/* The backend dies: nothing more is written, neither to the rings nor to the
 * records. */
static void backend_crash(struct ifx *x)
{
    vdev_vq_free(x->f->q[0].vq);
    assert_int_equal(vdev_vq_new(&x->f->q[0].vq), 0);
    vdev_inflight_free(x->rec);
    x->rec = NULL;
}

static uint32_t fresh_base(const struct ifx *x)
{
    return x->f->packed ? 0x80008000u : 0;
}

/* What QEMU sends after a crash: split, used->idx; packed, the base it had
 * (here the fresh one: stale). */
static uint32_t crash_base(struct ifx *x)
{
    return x->f->packed ? 0x80008000u : le16toh(fx_split_used(x->f, 0)->idx);
}

static void save(struct fx *f, struct saved *s)
{
    s->req = f->req;
    memcpy(s->iov, f->iov, sizeof(s->iov));
    memcpy(s->gpa, f->iov_gpa, sizeof(s->gpa));
    s->req.iov = s->iov;
    s->req.iov_gpa = s->gpa;
}

/* The request just popped is s again: same id, same buffers, same lengths. */
static void assert_same(struct fx *f, const struct saved *s)
{
    const struct vdev_vq_req *r = &f->req;

    assert_int_equal(r->id, s->req.id);
    assert_int_equal(r->ndesc, s->req.ndesc);
    assert_int_equal(r->n_out, s->req.n_out);
    assert_int_equal(r->n_in, s->req.n_in);
    assert_int_equal(r->out_len, s->req.out_len);
    assert_int_equal(r->in_len, s->req.in_len);
    for (uint32_t i = 0; i < r->n_out + r->n_in; i++) {
        assert_int_equal(f->iov_gpa[i], s->gpa[i]);
        assert_int_equal(f->iov[i].iov_len, s->iov[i].iov_len);
        assert_ptr_equal(f->iov[i].iov_base, s->iov[i].iov_base);
    }
}

static void push(struct ifx *x, const struct vdev_vq_req *r)
{
    assert_int_equal(vdev_vq_push(vq(x), r, r->in_len), 0);
}

/* The driver collects every used element: each of ids[0..n) exactly once,
 * nothing else, and every descriptor is free again. */
static void driver_sees_each_once(struct ifx *x, const uint16_t *ids, unsigned n)
{
    unsigned seen[QS] = { 0 };
    uint16_t id;
    uint32_t len;
    int ret;

    while ((ret = vdev_vqd_get_used(x->f->q[0].drv, &id, &len)) == 1) {
        unsigned k = 0;

        while (k < n && ids[k] != id)
            k++;
        assert_true(k < n);
        assert_int_equal(seen[k]++, 0);
    }
    assert_int_equal(ret, 0);
    for (unsigned k = 0; k < n; k++)
        assert_int_equal(seen[k], 1);
    assert_int_equal(vdev_vqd_free_count(x->f->q[0].drv), x->f->size);
}

/* --- the region by hand ------------------------------------------------------ */

static struct vdev_inflight_region_split *rs(uint8_t *base)
{
    return (void *)base;
}

static struct vdev_inflight_region_packed *rp(uint8_t *base)
{
    return (void *)base;
}

/* Undoes the commit of the last flush, given the region before the flush: what
 * a crash between the publishing store and the commit leaves. The commit's
 * fields are the only ones put back; the complete step's stay. */
static void undo_commit(struct ifx *x, uint8_t *before)
{
    if (x->f->packed) {
        struct vdev_inflight_region_packed *now = rp(x->area), *was = rp(before);

        assert_true(now->old_used_idx != was->old_used_idx);    /* it committed */
        for (uint16_t i = 0; i < x->l.queue_size; i++)
            now->desc[i].inflight = was->desc[i].inflight;
        now->old_free_head = was->old_free_head;
        now->old_used_idx = was->old_used_idx;
        now->old_used_wrap_counter = was->old_used_wrap_counter;
        assert_true(now->used_idx != now->old_used_idx);        /* recovery ahead */
    } else {
        struct vdev_inflight_region_split *now = rs(x->area), *was = rs(before);

        assert_true(now->used_idx != was->used_idx);
        for (uint16_t i = 0; i < x->l.queue_size; i++)
            now->desc[i].inflight = was->desc[i].inflight;
        now->used_idx = was->used_idx;
    }
}

/* Flushes in a child whose store that publishes the batch faults: the child
 * dies exactly there, with the batch recorded complete and not published. */
static void flush_dies_at_publish(struct ifx *x)
{
    struct fx *f = x->f;
    uint64_t gpa = f->packed ? f->q[0].desc_gpa : f->q[0].device_gpa, len = 16;
    uint8_t *host = vdev_mem_translate(f->mem, gpa, &len, VDEV_MEM_WRITE);
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    pid_t pid;
    int st;

    assert_non_null(host);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* Neither cmocka's handler (it would run the next tests here) nor a
         * sanitizer's: the default, death. */
        signal(SIGSEGV, SIG_DFL);
        if (mprotect((void *)((uintptr_t)host & ~(page - 1)), page, PROT_READ) == 0)
            vdev_vq_flush(f->q[0].vq);
        _exit(0);
    }
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFSIGNALED(st));
    assert_int_equal(WTERMSIG(st), SIGSEGV);
}

/* --- crash and restart ------------------------------------------------------- */

enum crash_at {
    AFTER_POP,                     /* five popped, nothing pushed */
    AFTER_PUSH,                    /* two pushed out of order, not flushed */
    AFTER_FLUSH,                   /* those two flushed, a third pushed */
    AT_PUBLISH,                    /* dead at the store that publishes the two */
    BEFORE_COMMIT,                 /* dead after that store, before the commit */
};

/* Five requests of different shapes (one indirect), popped; requests 3 and 1
 * completed in that order, depending on where the crash comes; two new
 * requests made available while the backend is down. The new backend hands
 * out the unfinished ones first, in fetch order and with the same buffers, then
 * the new ones, at the positions the records give, whatever base QEMU sends. */
static void crash_and_restart(bool packed, enum crash_at at)
{
    static const unsigned shape[5][3] = {      /* readable, writable, indirect */
        { 1, 1, 0 }, { 2, 1, 0 }, { 0, 1, 0 }, { 1, 2, 1 }, { 1, 1, 0 },
    };
    struct ifx *x = ifx_new(packed, QS);
    struct fx *f = x->f;
    struct saved got[5];
    bool done[5] = { false };
    uint16_t ids[7];
    uint8_t before[4096];
    uint32_t want;

    assert_true(x->size <= sizeof(before));
    backend_start(x, true, fresh_base(x));
    for (unsigned k = 0; k < 5; k++)
        ids[k] = fx_add(f, 0, shape[k][0], shape[k][1], 64, shape[k][2]);
    for (unsigned k = 0; k < 5; k++) {
        assert_int_equal(fx_pop(f, 0), 1);
        assert_int_equal(f->req.id, ids[k]);
        save(f, &got[k]);
    }
    if (at != AFTER_POP) {
        push(x, &got[3].req);
        push(x, &got[1].req);
    }
    switch (at) {
    case AFTER_POP:
    case AFTER_PUSH:
        break;
    case AFTER_FLUSH:
        assert_int_equal(vdev_vq_notify(vq(x)), 1);
        done[3] = done[1] = true;
        push(x, &got[4].req);
        break;
    case AT_PUBLISH:
        flush_dies_at_publish(x);
        if (packed)        /* the child got as far as recording the used position */
            assert_true(rp(x->area)->used_idx != rp(x->area)->old_used_idx);
        else               /* and the batch list */
            assert_int_equal(rs(x->area)->last_batch_head, got[1].req.id);
        break;
    case BEFORE_COMMIT:
        memcpy(before, x->area, x->size);
        vdev_vq_flush(vq(x));
        undo_commit(x, before);
        done[3] = done[1] = true;
        break;
    }
    backend_crash(x);

    ids[5] = fx_add(f, 0, 1, 1, 32, false);
    ids[6] = fx_add(f, 0, 0, 2, 32, false);
    backend_start(x, false, crash_base(x));
    if (packed)        /* used side after what was published; 5 or 9 slots in flight */
        want = done[1] ? 0x80048009u : 0x80008009u;
    else               /* used->idx + in flight */
        want = 5;
    assert_int_equal(vdev_vq_get_base(vq(x)), want);

    for (unsigned k = 0; k < 5; k++) {
        if (done[k])
            continue;
        assert_int_equal(fx_pop(f, 0), 1);
        assert_same(f, &got[k]);
        push(x, &f->req);
    }
    for (unsigned k = 5; k < 7; k++) {
        assert_int_equal(fx_pop(f, 0), 1);
        assert_int_equal(f->req.id, ids[k]);
        push(x, &f->req);
    }
    assert_int_equal(fx_pop(f, 0), 0);
    assert_int_equal(vdev_vq_notify(vq(x)), 1);
    driver_sees_each_once(x, ids, 7);
    ifx_free(x);
}

static void test_split_crash_after_pop(void **state)
{
    crash_and_restart(false, AFTER_POP);
}

static void test_split_crash_after_push(void **state)
{
    crash_and_restart(false, AFTER_PUSH);
}

static void test_split_crash_after_flush(void **state)
{
    crash_and_restart(false, AFTER_FLUSH);
}

static void test_split_crash_at_publish(void **state)
{
    crash_and_restart(false, AT_PUBLISH);
}

static void test_split_crash_before_commit(void **state)
{
    crash_and_restart(false, BEFORE_COMMIT);
}

static void test_packed_crash_after_pop(void **state)
{
    crash_and_restart(true, AFTER_POP);
}

static void test_packed_crash_after_push(void **state)
{
    crash_and_restart(true, AFTER_PUSH);
}

static void test_packed_crash_after_flush(void **state)
{
    crash_and_restart(true, AFTER_FLUSH);
}

static void test_packed_crash_at_publish(void **state)
{
    crash_and_restart(true, AT_PUBLISH);
}

static void test_packed_crash_before_commit(void **state)
{
    crash_and_restart(true, BEFORE_COMMIT);
}

/* Two crashes in a row, the second before anything was handed out again: the
 * requests are still in flight, in the same order. */
static void check_crash_twice(bool packed)
{
    struct ifx *x = ifx_new(packed, QS);
    struct fx *f = x->f;
    struct saved got[3];
    uint16_t ids[3];

    backend_start(x, true, fresh_base(x));
    for (unsigned k = 0; k < 3; k++)
        ids[k] = fx_add(f, 0, 1, 1, 16, false);
    for (unsigned k = 0; k < 3; k++) {
        assert_int_equal(fx_pop(f, 0), 1);
        save(f, &got[k]);
    }
    push(x, &got[0].req);
    assert_int_equal(vdev_vq_notify(vq(x)), 1);
    backend_crash(x);
    backend_start(x, false, crash_base(x));
    backend_crash(x);
    backend_start(x, false, crash_base(x));
    for (unsigned k = 1; k < 3; k++) {
        assert_int_equal(fx_pop(f, 0), 1);
        assert_same(f, &got[k]);
        push(x, &f->req);
    }
    assert_int_equal(fx_pop(f, 0), 0);
    vdev_vq_notify(vq(x));
    driver_sees_each_once(x, ids, 3);
    ifx_free(x);
}

static void test_split_crash_twice(void **state)
{
    check_crash_twice(false);
}

static void test_packed_crash_twice(void **state)
{
    check_crash_twice(true);
}

/* A clean stop and start on the same records (GET_VRING_BASE, SET_VRING_BASE
 * with what it returned): what was popped and not pushed comes back first, and
 * the base agrees with the records. */
static void check_stop_start(bool packed)
{
    struct ifx *x = ifx_new(packed, QS);
    struct fx *f = x->f;
    struct vdev_vq_config c = f->q[0].cfg;
    struct saved got[3];
    uint16_t ids[4];
    uint32_t base;

    backend_start(x, true, fresh_base(x));
    for (unsigned k = 0; k < 3; k++)
        ids[k] = fx_add(f, 0, 1, 1, 16, false);
    for (unsigned k = 0; k < 3; k++) {
        assert_int_equal(fx_pop(f, 0), 1);
        save(f, &got[k]);
    }
    push(x, &got[1].req);
    vdev_vq_stop(vq(x));
    base = vdev_vq_get_base(vq(x));
    assert_int_equal(base, packed ? 0x80028006u : 3);

    ids[3] = fx_add(f, 0, 1, 1, 16, false);
    c.inflight = x->rec;
    c.base = base;
    assert_int_equal(vdev_vq_start(vq(x), &c), 0);
    assert_int_equal(vdev_vq_get_base(vq(x)), base);
    assert_int_equal(fx_pop(f, 0), 1);
    assert_same(f, &got[0]);
    push(x, &f->req);
    assert_int_equal(fx_pop(f, 0), 1);
    assert_same(f, &got[2]);
    push(x, &f->req);
    assert_int_equal(fx_pop(f, 0), 1);
    assert_int_equal(f->req.id, ids[3]);
    push(x, &f->req);
    assert_int_equal(fx_pop(f, 0), 0);
    vdev_vq_notify(vq(x));
    driver_sees_each_once(x, ids, 4);
    ifx_free(x);
}

static void test_split_stop_start(void **state)
{
    check_stop_start(false);
}

static void test_packed_stop_start(void **state)
{
    check_stop_start(true);
}

/* Split: whatever base the transport sends, the next available index is
 * used->idx + the requests in flight. */
static void test_split_records_win_over_base(void **state)
{
    struct ifx *x = ifx_new(false, QS);
    struct fx *f = x->f;

    backend_start(x, true, 0);
    for (unsigned k = 0; k < 3; k++)
        fx_add(f, 0, 1, 1, 16, false);
    for (unsigned k = 0; k < 3; k++)
        assert_int_equal(fx_pop(f, 0), 1);
    push(x, &f->req);
    vdev_vq_notify(vq(x));
    backend_crash(x);
    backend_start(x, false, 9);                /* past used->idx 1 + 2 in flight */
    assert_int_equal(vdev_vq_get_base(vq(x)), 3);
    backend_crash(x);
    backend_start(x, false, 0);                /* behind used->idx */
    assert_int_equal(vdev_vq_get_base(vq(x)), 3);
    assert_int_equal(fx_pop(f, 0), 1);
    assert_int_equal(fx_pop(f, 0), 1);
    assert_int_equal(fx_pop(f, 0), 0);
    ifx_free(x);
}

/* A request handed out again needs as many iovecs as the first time: too few
 * is -ENOBUFS and consumes nothing. */
static void check_again_enobufs(bool packed)
{
    struct ifx *x = ifx_new(packed, QS);
    struct fx *f = x->f;
    struct saved got;

    backend_start(x, true, fresh_base(x));
    fx_add(f, 0, 1, 2, 16, false);
    fx_add(f, 0, 1, 1, 16, false);
    assert_int_equal(fx_pop(f, 0), 1);
    save(f, &got);
    backend_crash(x);
    backend_start(x, false, crash_base(x));
    f->req.iov_cap = 2;
    assert_int_equal(fx_pop(f, 0), -ENOBUFS);
    assert_false(vdev_vq_broken(vq(x)));
    f->req.iov_cap = FX_IOV;
    assert_int_equal(fx_pop(f, 0), 1);
    assert_same(f, &got);
    assert_int_equal(fx_pop(f, 0), 1);
    assert_int_equal(fx_pop(f, 0), 0);
    ifx_free(x);
}

static void test_split_again_enobufs(void **state)
{
    check_again_enobufs(false);
}

static void test_packed_again_enobufs(void **state)
{
    check_again_enobufs(true);
}

/* --- what the device may not do ----------------------------------------------- */

/* A push of a request that is not out (pushed already, or still waiting to be
 * handed out again), or with another ndesc than it was popped with, is -EINVAL
 * and changes nothing. */
static void check_push_checks(bool packed)
{
    struct ifx *x = ifx_new(packed, QS);
    struct fx *f = x->f;
    struct saved a, b;
    uint16_t ids[2];

    backend_start(x, true, fresh_base(x));
    ids[0] = fx_add(f, 0, 1, 1, 16, false);
    ids[1] = fx_add(f, 0, 1, 1, 16, false);
    assert_int_equal(fx_pop(f, 0), 1);
    save(f, &a);
    assert_int_equal(fx_pop(f, 0), 1);
    save(f, &b);
    push(x, &a.req);
    assert_int_equal(vdev_vq_push(vq(x), &a.req, 0), -EINVAL);      /* twice */
    if (packed) {
        b.req.ndesc = 1;
        assert_int_equal(vdev_vq_push(vq(x), &b.req, 0), -EINVAL);
        b.req.ndesc = 2;
    }
    vdev_vq_notify(vq(x));
    assert_int_equal(vdev_vq_push(vq(x), &a.req, 0), -EINVAL);      /* and after */
    backend_crash(x);
    backend_start(x, false, crash_base(x));
    assert_int_equal(vdev_vq_push(vq(x), &b.req, 0), -EINVAL);      /* not out yet */
    assert_false(vdev_vq_broken(vq(x)));
    assert_int_equal(fx_pop(f, 0), 1);
    assert_same(f, &b);
    push(x, &f->req);
    vdev_vq_notify(vq(x));
    driver_sees_each_once(x, ids, 2);
    ifx_free(x);
}

static void test_split_push_checks(void **state)
{
    check_push_checks(false);
}

static void test_packed_push_checks(void **state)
{
    check_push_checks(true);
}

/* A stopped queue, with records or without, hands out nothing and takes nothing
 * back; started again, it goes on. */
static void check_stopped(bool packed, bool records)
{
    struct ifx *x = ifx_new(packed, QS);
    struct fx *f = x->f;
    struct saved a;

    if (records)
        backend_start(x, true, fresh_base(x));
    else
        fx_start(f, 0);
    fx_add(f, 0, 1, 1, 16, false);
    fx_add(f, 0, 1, 1, 16, false);
    assert_int_equal(fx_pop(f, 0), 1);
    save(f, &a);
    vdev_vq_stop(vq(x));
    assert_int_equal(fx_pop(f, 0), -EINVAL);
    assert_int_equal(vdev_vq_push(vq(x), &a.req, 0), -EINVAL);
    f->q[0].cfg.base = vdev_vq_get_base(vq(x));
    f->q[0].cfg.inflight = x->rec;
    fx_start(f, 0);
    f->q[0].cfg.inflight = NULL;
    assert_int_equal(fx_pop(f, 0), 1);
    if (records)                               /* the first one, again */
        assert_same(f, &a);
    ifx_free(x);
}

static void test_stopped_queue(void **state)
{
    check_stopped(false, false);
    check_stopped(true, false);
    check_stopped(false, true);
    check_stopped(true, true);
}

/* --- what the guest and the frontend may not do ------------------------------- */

/* The driver makes a head available that is in flight: -EEXIST, broken. */
static void test_split_head_twice(void **state)
{
    struct ifx *x = ifx_new(false, QS);
    struct fx *f = x->f;

    backend_start(x, true, 0);
    fx_add(f, 0, 1, 1, 16, false);
    assert_int_equal(fx_pop(f, 0), 1);
    fx_split_offer(f, 0, f->req.id);
    assert_int_equal(fx_pop(f, 0), -EEXIST);
    assert_true(vdev_vq_broken(vq(x)));
    assert_int_equal(fx_pop(f, 0), -EEXIST);
    ifx_free(x);
}

/* The driver makes a buffer available with the id of one in flight: -EEXIST. */
static void test_packed_id_twice(void **state)
{
    struct ifx *x = ifx_new(true, QS);
    struct fx *f = x->f;
    uint16_t id;

    backend_start(x, true, 0x80008000u);
    id = fx_add(f, 0, 0, 1, 16, false);
    assert_int_equal(fx_pop(f, 0), 1);
    fx_packed_put(f, 0, 1, fx_buf(f, 9), 16, id, VRING_DESC_F_WRITE, true);
    assert_int_equal(fx_pop(f, 0), -EEXIST);
    assert_true(vdev_vq_broken(vq(x)));
    ifx_free(x);
}

/* Split: the records hold heads whose chains the ring no longer has (the guest
 * rewrote a descriptor; a head claimed in flight that is no chain at all):
 * the queue starts, hands out what is valid, and breaks at what is not. */
static void test_split_record_not_a_chain(void **state)
{
    struct ifx *x = ifx_new(false, QS);
    struct fx *f = x->f;
    struct vdev_inflight_region_split *r = rs(x->area);
    uint16_t h;

    backend_start(x, true, 0);
    fx_add(f, 0, 1, 1, 16, false);
    fx_add(f, 0, 1, 1, 16, false);
    assert_int_equal(fx_pop(f, 0), 1);
    h = f->req.id;
    assert_int_equal(fx_pop(f, 0), 1);
    backend_crash(x);

    /* Head 12 in flight, fetched last: a chain whose next leaves the ring. */
    fx_split_set_desc(f, 0, 12, fx_buf(f, 40), 16, VRING_DESC_F_NEXT, 200);
    r->desc[12].counter = 100;
    r->desc[12].inflight = 1;
    backend_start(x, false, crash_base(x));
    assert_int_equal(fx_pop(f, 0), 1);
    assert_int_equal(f->req.id, h);
    assert_int_equal(fx_pop(f, 0), 1);
    assert_int_equal(fx_pop(f, 0), -ERANGE);
    assert_true(vdev_vq_broken(vq(x)));
    backend_crash(x);

    /* The first head's buffer moved outside memory. */
    fx_split_set_desc(f, 0, h, FX_HOLE_GPA, 16, 0, 0);
    backend_start(x, false, crash_base(x));
    assert_int_equal(fx_pop(f, 0), -EFAULT);
    assert_true(vdev_vq_broken(vq(x)));
    ifx_free(x);
}

/* Packed: the recorded descriptors are what is handed out again, checked as the
 * ring's: a buffer outside memory, NEXT flags that disagree with the chain's
 * length, an indirect descriptor behind a chain break the queue. */
static void test_packed_record_not_a_chain(void **state)
{
    static const struct {
        unsigned entry;            /* of the recorded chain: 0 head, 1 last */
        uint64_t addr;
        uint16_t set, clear;       /* flags */
        int err;
    } bad[] = {
        { 0, FX_HOLE_GPA, 0, 0, -EFAULT },
        { 1, 0, VRING_DESC_F_NEXT, 0, -EINVAL },
        { 0, 0, 0, VRING_DESC_F_NEXT, -EINVAL },
        { 0, 0, VRING_DESC_F_INDIRECT, 0, -EINVAL },
    };

    for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct ifx *x = ifx_new(true, QS);
        struct fx *f = x->f;
        struct vdev_inflight_desc_packed *d;

        backend_start(x, true, 0x80008000u);
        fx_add(f, 0, 1, 1, 16, false);                 /* two descriptors */
        assert_int_equal(fx_pop(f, 0), 1);
        backend_crash(x);
        /* A fresh region records the chain in entries 0 and 1. */
        d = &rp(x->area)->desc[bad[i].entry];
        assert_int_equal(rp(x->area)->desc[0].num, 2);
        if (bad[i].addr)
            d->addr = bad[i].addr;
        d->flags = (uint16_t)((d->flags | bad[i].set) & ~bad[i].clear);
        backend_start(x, false, 0x80008000u);
        assert_int_equal(fx_pop(f, 0), bad[i].err);
        assert_true(vdev_vq_broken(vq(x)));
        ifx_free(x);
    }
}

/* Records that do not fit the ring (a region of a larger queue: a head or
 * buffer id past this ring), or that resume refuses (the guest moved used->idx
 * past the last batch), make the queue refuse to start. */
static void check_refuses_to_start(bool packed)
{
    struct ifx *x = ifx_new(packed, QS);
    struct fx *f = x->f;
    struct vdev_inflight_layout big = { 1, 2 * QS, packed };
    struct vdev_inflight *q;
    struct vring_packed_desc d = { htole64(fx_buf(f, 0)), htole32(16), htole16(20),
                                   htole16(VRING_DESC_F_WRITE) };
    uint64_t size;
    uint8_t *area;

    assert_int_equal(vdev_inflight_mmap_size(&big, &size), 0);
    area = calloc(1, size);
    assert_non_null(area);
    assert_int_equal(vdev_inflight_init(&q, area, size, &big, 0), 0);
    if (packed) {
        uint16_t idx = 0;
        bool wrap = true;

        assert_int_equal(vdev_inflight_packed_resume(q, 0, &idx, &wrap), 0);
        assert_int_equal(vdev_inflight_packed_fetch(q, &d, 1), 0);
    } else {
        assert_int_equal(vdev_inflight_split_resume(q, 0), 0);
        assert_int_equal(vdev_inflight_split_fetch(q, 20), 0);
    }
    vdev_inflight_free(q);
    assert_int_equal(vdev_inflight_attach(&q, area, size, &big, 0), 0);
    f->q[0].cfg.inflight = q;
    assert_int_equal(vdev_vq_start(vq(x), &f->q[0].cfg), -EINVAL);
    assert_false(vdev_vq_started(vq(x)));
    assert_int_equal(fx_pop(f, 0), -EINVAL);
    f->q[0].cfg.inflight = NULL;
    vdev_inflight_free(q);
    free(area);

    if (!packed) {
        backend_start(x, true, 0);
        fx_add(f, 0, 1, 1, 16, false);
        fx_add(f, 0, 1, 1, 16, false);
        assert_int_equal(fx_pop(f, 0), 1);
        assert_int_equal(fx_pop(f, 0), 1);
        backend_crash(x);
        fx_split_used(f, 0)->idx = htole16(5);     /* a batch of 5 that never was */
        assert_int_equal(backend_try_start(x, false, 0), -EINVAL);
        assert_false(vdev_vq_started(vq(x)));
    }
    ifx_free(x);
}

static void test_split_refuses_to_start(void **state)
{
    check_refuses_to_start(false);
}

static void test_packed_refuses_to_start(void **state)
{
    check_refuses_to_start(true);
}

/* --- the packed base ----------------------------------------------------------- */

/* GET_VRING_BASE gives both sides, and a new queue started on that base goes on
 * where the last one stopped, here with the used side a lap behind the
 * available side's wrap counter: the requests taken and not returned keep their
 * slots, and the next used descriptor goes where the driver looks for it (a
 * used side started where the available side is would put it in slot 0). */
static void test_packed_base_round_trip(void **state)
{
    struct fx *f = fx_new(4, true, false, false);
    uint16_t c, d, id;
    uint32_t len;

    fx_start(f, 0);
    fx_add(f, 0, 1, 1, 8, false);                  /* A: slots 0-1 */
    fx_add(f, 0, 0, 1, 8, false);                  /* B: slot 2 */
    c = fx_add(f, 0, 0, 1, 8, false);              /* C: slot 3 */
    for (int i = 0; i < 3; i++)
        assert_int_equal(fx_pop(f, 0), 1);
    assert_int_equal(f->req.id, c);
    assert_int_equal(vdev_vq_push(f->q[0].vq, &f->req, 0), 0);   /* into slot 0 */
    vdev_vq_stop(f->q[0].vq);
    /* available: slot 0, wrap 0; used: slot 1, wrap 1 */
    assert_int_equal(vdev_vq_get_base(f->q[0].vq), 0x80010000u);
    assert_int_equal(vdev_vqd_get_used(f->q[0].drv, &id, &len), 1);
    assert_int_equal(id, c);

    vdev_vq_free(f->q[0].vq);
    assert_int_equal(vdev_vq_new(&f->q[0].vq), 0);
    f->q[0].cfg.base = 0x80010000u;
    fx_start(f, 0);
    assert_int_equal(vdev_vq_get_base(f->q[0].vq), 0x80010000u);
    d = fx_add(f, 0, 0, 1, 8, false);              /* D: the one free slot, 0 */
    assert_int_equal(fx_serve(f, 0, 0), 1);
    assert_int_equal(vdev_vqd_get_used(f->q[0].drv, &id, &len), 1);
    assert_int_equal(id, d);
    assert_int_equal(len, 8);
    assert_int_equal(vdev_vqd_get_used(f->q[0].drv, &id, &len), 0);
    vdev_vq_stop(f->q[0].vq);
    assert_int_equal(vdev_vq_get_base(f->q[0].vq), 0x80020001u);
    /* A and B hold three slots: one is free, and the ring says so. */
    assert_int_equal(vdev_vqd_free_count(f->q[0].drv), 1);
    fx_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_split_crash_after_pop),
        cmocka_unit_test(test_split_crash_after_push),
        cmocka_unit_test(test_split_crash_after_flush),
        cmocka_unit_test(test_split_crash_at_publish),
        cmocka_unit_test(test_split_crash_before_commit),
        cmocka_unit_test(test_packed_crash_after_pop),
        cmocka_unit_test(test_packed_crash_after_push),
        cmocka_unit_test(test_packed_crash_after_flush),
        cmocka_unit_test(test_packed_crash_at_publish),
        cmocka_unit_test(test_packed_crash_before_commit),
        cmocka_unit_test(test_split_crash_twice),
        cmocka_unit_test(test_packed_crash_twice),
        cmocka_unit_test(test_split_stop_start),
        cmocka_unit_test(test_packed_stop_start),
        cmocka_unit_test(test_split_records_win_over_base),
        cmocka_unit_test(test_split_again_enobufs),
        cmocka_unit_test(test_packed_again_enobufs),
        cmocka_unit_test(test_stopped_queue),
        cmocka_unit_test(test_split_push_checks),
        cmocka_unit_test(test_packed_push_checks),
        cmocka_unit_test(test_split_head_twice),
        cmocka_unit_test(test_packed_id_twice),
        cmocka_unit_test(test_split_record_not_a_chain),
        cmocka_unit_test(test_packed_record_not_a_chain),
        cmocka_unit_test(test_split_refuses_to_start),
        cmocka_unit_test(test_packed_refuses_to_start),
        cmocka_unit_test(test_packed_base_round_trip),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

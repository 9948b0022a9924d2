/* Inflight I/O records: the spec's layouts, the records a fetch and a completion
 * leave, the order a restarted backend resubmits in, recovery from a crash
 * between any two steps of an update, and every check on a region that comes
 * back from the frontend.
 *
 * The area is a real memfd mapped twice: mapping a is the backend that crashes,
 * mapping b the one restarted on the same memory (SET_INFLIGHT_FD). A crash is
 * vdev_inflight_free() on a's records, with whatever steps were done left in
 * memory; a crash in the middle of an update does the update's first steps on
 * the region by hand, as the spec lists them. */
#include <errno.h>
#include <endian.h>
#include <stddef.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vdev/inflight.h"
#include "vdev/log.h"
#include "helpers.h"

#define AVAIL (1u << VRING_PACKED_DESC_F_AVAIL)
#define USED  (1u << VRING_PACKED_DESC_F_USED)

struct fx {
    int fds_before;
    int fd;
    uint64_t size;
    uint8_t *a, *b;
    struct vdev_inflight_layout l;
    struct vdev_inflight *q;       /* the first backend's records */
};

static int setup(void **state)
{
    static struct fx f;

    memset(&f, 0, sizeof(f));
    f.fd = -1;
    f.fds_before = test_count_fds();
    *state = &f;
    return 0;
}

static void area_drop(struct fx *f)
{
    vdev_inflight_free(f->q);
    f->q = NULL;
    if (f->fd < 0)
        return;
    munmap(f->a, f->size);
    munmap(f->b, f->size);
    close(f->fd);
    f->fd = -1;
}

static int teardown(void **state)
{
    struct fx *f = *state;

    area_drop(f);
    assert_no_fd_leak(f->fds_before);
    return 0;
}

/* A new zeroed area for nq queues, mapped twice. */
static void area(struct fx *f, uint16_t nq, uint16_t qs, bool packed)
{
    area_drop(f);
    f->l = (struct vdev_inflight_layout){ nq, qs, packed };
    assert_int_equal(vdev_inflight_mmap_size(&f->l, &f->size), 0);
    f->fd = test_memfd("vdev-test-inflight", f->size);
    f->a = mmap(NULL, f->size, PROT_READ | PROT_WRITE, MAP_SHARED, f->fd, 0);
    f->b = mmap(NULL, f->size, PROT_READ | PROT_WRITE, MAP_SHARED, f->fd, 0);
    assert_true(f->a != MAP_FAILED && f->b != MAP_FAILED);
}

static struct vdev_inflight_region_split *rs(struct fx *f, uint8_t *base, uint16_t i)
{
    return (void *)(base + i * vdev_inflight_region_stride(f->l.queue_size, false));
}

static struct vdev_inflight_region_packed *rp(struct fx *f, uint8_t *base, uint16_t i)
{
    return (void *)(base + i * vdev_inflight_region_stride(f->l.queue_size, true));
}

/* The first backend dies: its records go, the memory stays. */
static void crash(struct fx *f)
{
    vdev_inflight_free(f->q);
    f->q = NULL;
}

static int attach_b(struct fx *f, struct vdev_inflight **q)
{
    return vdev_inflight_attach(q, f->b, f->size, &f->l, 0);
}

/* What is in flight, as "id:counter" pairs in list order. */
static void expect_list(struct vdev_inflight *q, const uint16_t *ids,
                        const uint64_t *counters, int n)
{
    struct vdev_inflight_req out[64];

    assert_int_equal(vdev_inflight_count(q), n);
    assert_int_equal(vdev_inflight_list(q, out, 64), n);
    for (int i = 0; i < n; i++) {
        assert_int_equal(out[i].id, ids[i]);
        if (counters)
            assert_int_equal(out[i].counter, counters[i]);
    }
}

/* Sets field to bad, expects attach to refuse the region, puts field back. */
#define REJECT(field, bad) do {                                          \
        __typeof__(field) saved_ = (field);                              \
        (field) = (bad);                                                 \
        assert_int_equal(attach_b(f, &q), -EINVAL);                      \
        (field) = saved_;                                                \
    } while (0)

static struct vring_packed_desc pd(uint64_t addr, uint32_t len, uint16_t id,
                                   uint16_t flags)
{
    return (struct vring_packed_desc){ htole64(addr), htole32(len), htole16(id),
                                       htole16(flags) };
}

/* A packed buffer of n descriptors with buffer id id; addresses say which. */
static int fetch_buf(struct vdev_inflight *q, uint16_t id, uint16_t n)
{
    struct vring_packed_desc d[16];

    for (uint16_t i = 0; i < n; i++)
        d[i] = pd(0x1000ull * id + i, 100 + i, id,
                  (uint16_t)(AVAIL | (i + 1 < n ? VRING_DESC_F_NEXT : 0)));
    return vdev_inflight_packed_fetch(q, d, n);
}

/* --- layout ----------------------------------------------------------------- */

/* The records have the spec's fields at the spec's offsets (natural C layout),
 * and the area is one 64-byte aligned region per queue. */
static void test_layout(void **state)
{
    struct vdev_inflight_layout l = { 3, 128, false };
    uint64_t size;

    assert_int_equal(sizeof(struct vdev_inflight_desc_split), 16);
    assert_int_equal(offsetof(struct vdev_inflight_desc_split, next), 6);
    assert_int_equal(offsetof(struct vdev_inflight_desc_split, counter), 8);
    assert_int_equal(offsetof(struct vdev_inflight_region_split, version), 8);
    assert_int_equal(offsetof(struct vdev_inflight_region_split, desc_num), 10);
    assert_int_equal(offsetof(struct vdev_inflight_region_split, last_batch_head), 12);
    assert_int_equal(offsetof(struct vdev_inflight_region_split, used_idx), 14);
    assert_int_equal(offsetof(struct vdev_inflight_region_split, desc), 16);

    assert_int_equal(sizeof(struct vdev_inflight_desc_packed), 32);
    assert_int_equal(offsetof(struct vdev_inflight_desc_packed, next), 2);
    assert_int_equal(offsetof(struct vdev_inflight_desc_packed, last), 4);
    assert_int_equal(offsetof(struct vdev_inflight_desc_packed, num), 6);
    assert_int_equal(offsetof(struct vdev_inflight_desc_packed, counter), 8);
    assert_int_equal(offsetof(struct vdev_inflight_desc_packed, id), 16);
    assert_int_equal(offsetof(struct vdev_inflight_desc_packed, flags), 18);
    assert_int_equal(offsetof(struct vdev_inflight_desc_packed, len), 20);
    assert_int_equal(offsetof(struct vdev_inflight_desc_packed, addr), 24);
    assert_int_equal(offsetof(struct vdev_inflight_region_packed, free_head), 12);
    assert_int_equal(offsetof(struct vdev_inflight_region_packed, old_free_head), 14);
    assert_int_equal(offsetof(struct vdev_inflight_region_packed, used_idx), 16);
    assert_int_equal(offsetof(struct vdev_inflight_region_packed, old_used_idx), 18);
    assert_int_equal(offsetof(struct vdev_inflight_region_packed, used_wrap_counter), 20);
    assert_int_equal(offsetof(struct vdev_inflight_region_packed, old_used_wrap_counter),
                     21);
    assert_int_equal(offsetof(struct vdev_inflight_region_packed, padding), 22);
    assert_int_equal(offsetof(struct vdev_inflight_region_packed, desc), 32);

    assert_int_equal(vdev_inflight_region_size(128, false), 16 + 16 * 128);
    assert_int_equal(vdev_inflight_region_stride(128, false), 2112);
    assert_int_equal(vdev_inflight_region_size(128, true), 32 + 32 * 128);
    assert_int_equal(vdev_inflight_region_stride(128, true), 4160);
    assert_int_equal(vdev_inflight_region_stride(1, false), 64);
    assert_int_equal(vdev_inflight_region_stride(32768, true), 32 + 32 * 32768 + 32);
    assert_int_equal(vdev_inflight_region_size(0, false), 0);
    assert_int_equal(vdev_inflight_region_size(32769, true), 0);

    assert_int_equal(vdev_inflight_mmap_size(&l, &size), 0);
    assert_int_equal(size, 3 * 2112);
    l.num_queues = 0;
    assert_int_equal(vdev_inflight_mmap_size(&l, &size), -EINVAL);
    l = (struct vdev_inflight_layout){ 1, 0, true };
    assert_int_equal(vdev_inflight_mmap_size(&l, &size), -EINVAL);
}

/* --- split ------------------------------------------------------------------ */

/* A fetch sets counter then inflight; a completion links the head into the last
 * batch list; the commit clears inflight and moves used_idx. */
static void test_split_fetch_complete(void **state)
{
    struct fx *f = *state;
    struct vdev_inflight_region_split *r;

    area(f, 1, 8, false);
    r = rs(f, f->b, 0);
    assert_int_equal(vdev_inflight_init(&f->q, f->a, f->size, &f->l, 0), 0);
    assert_int_equal(r->version, 0);
    assert_int_equal(vdev_inflight_split_resume(f->q, 0), 0);
    assert_int_equal(r->version, 1);
    assert_int_equal(r->desc_num, 8);

    assert_int_equal(vdev_inflight_split_fetch(f->q, 5), 0);
    assert_int_equal(vdev_inflight_split_fetch(f->q, 2), 0);
    assert_int_equal(vdev_inflight_split_fetch(f->q, 7), 0);
    assert_int_equal(r->desc[5].inflight, 1);
    assert_int_equal(r->desc[5].counter, 0);
    assert_int_equal(r->desc[2].counter, 1);
    assert_int_equal(r->desc[7].counter, 2);
    assert_int_equal(r->desc[0].inflight, 0);

    assert_int_equal(vdev_inflight_split_complete(f->q, 2), 0);
    assert_int_equal(vdev_inflight_split_complete(f->q, 7), 0);
    assert_int_equal(r->last_batch_head, 7);
    assert_int_equal(r->desc[7].next, 2);
    assert_int_equal(r->desc[2].inflight, 1);       /* until the commit */
    assert_int_equal(vdev_inflight_split_commit(f->q, 2), 0);
    assert_int_equal(r->desc[2].inflight, 0);
    assert_int_equal(r->desc[7].inflight, 0);
    assert_int_equal(r->used_idx, 2);
    expect_list(f->q, (uint16_t[]){ 5 }, (uint64_t[]){ 0 }, 1);
}

/* After completions out of order and a restart, what is left comes back in the
 * order it was fetched (by counter, not by head index), and new fetches count on
 * from there. */
static void test_split_restart_order(void **state)
{
    struct fx *f = *state;
    struct vdev_inflight *q;

    area(f, 1, 16, false);
    assert_int_equal(vdev_inflight_init(&f->q, f->a, f->size, &f->l, 0), 0);
    assert_int_equal(vdev_inflight_split_resume(f->q, 0), 0);
    for (int i = 0; i < 5; i++)
        assert_int_equal(vdev_inflight_split_fetch(f->q, (uint16_t[]){ 9, 3, 12, 0,
                                                                       6 }[i]), 0);
    assert_int_equal(vdev_inflight_split_complete(f->q, 3), 0);
    assert_int_equal(vdev_inflight_split_complete(f->q, 0), 0);
    assert_int_equal(vdev_inflight_split_commit(f->q, 2), 0);
    assert_int_equal(vdev_inflight_split_complete(f->q, 12), 0);
    assert_int_equal(vdev_inflight_split_commit(f->q, 3), 0);
    assert_int_equal(vdev_inflight_split_fetch(f->q, 3), 0);          /* counter 5 */
    crash(f);

    assert_int_equal(attach_b(f, &q), 0);
    assert_int_equal(vdev_inflight_count(q), -EAGAIN);
    assert_int_equal(vdev_inflight_split_resume(q, 3), 0);
    expect_list(q, (uint16_t[]){ 9, 6, 3 }, (uint64_t[]){ 0, 4, 5 }, 3);
    assert_int_equal(vdev_inflight_split_fetch(q, 1), 0);
    assert_int_equal(rs(f, f->a, 0)->desc[1].counter, 6);
    vdev_inflight_free(q);
}

/* Where the first backend stops in a completion of heads 4 and 6. */
enum split_stop {
    S_FIRST_LINKED,      /* steps 1-3 for head 4 only */
    S_BOTH_LINKED,       /* steps 1-3 for both, used->idx not stored */
    S_IDX_STORED,        /* used->idx stored, nothing cleared */
    S_ONE_CLEARED,       /* and head 6's inflight cleared */
    S_ALL_CLEARED,       /* and head 4's: only used_idx left */
    S_DONE,              /* the whole batch */
};

/* Heads 1, 4, 6, 3 are in flight and used->idx is at 65535; 4 and 6 are being
 * completed when the backend dies at stop. Returns the restarted records. */
static struct vdev_inflight *split_batch_crash(struct fx *f, enum split_stop stop,
                                               uint16_t *ring_idx)
{
    struct vdev_inflight_region_split *r;
    struct vdev_inflight *q;

    area(f, 1, 8, false);
    r = rs(f, f->a, 0);
    *ring_idx = 65535;
    assert_int_equal(vdev_inflight_init(&f->q, f->a, f->size, &f->l, 0), 0);
    assert_int_equal(vdev_inflight_split_resume(f->q, *ring_idx), 0);
    for (int i = 0; i < 4; i++)
        assert_int_equal(vdev_inflight_split_fetch(f->q, (uint16_t[]){ 1, 4, 6, 3 }[i]),
                         0);
    assert_int_equal(vdev_inflight_split_complete(f->q, 4), 0);
    if (stop >= S_BOTH_LINKED)
        assert_int_equal(vdev_inflight_split_complete(f->q, 6), 0);
    if (stop >= S_IDX_STORED)
        *ring_idx += 2;                          /* wraps to 1 */
    if (stop >= S_ONE_CLEARED)
        r->desc[6].inflight = 0;
    if (stop >= S_ALL_CLEARED)
        r->desc[4].inflight = 0;
    if (stop == S_DONE)
        assert_int_equal(vdev_inflight_split_commit(f->q, *ring_idx), 0);
    crash(f);

    assert_int_equal(attach_b(f, &q), 0);
    assert_int_equal(vdev_inflight_split_resume(q, *ring_idx), 0);
    return q;
}

/* Before used->idx moves the batch is still in flight; after, it is done, however
 * far the clearing got: recovery walks last_batch_head for used->idx - used_idx
 * heads and finishes the update. */
static void test_split_crash_mid_batch(void **state)
{
    struct fx *f = *state;
    uint16_t ring;

    for (enum split_stop s = S_FIRST_LINKED; s <= S_DONE; s++) {
        struct vdev_inflight *q = split_batch_crash(f, s, &ring);
        struct vdev_inflight_region_split *r = rs(f, f->a, 0);

        if (s <= S_BOTH_LINKED) {
            expect_list(q, (uint16_t[]){ 1, 4, 6, 3 }, (uint64_t[]){ 0, 1, 2, 3 }, 4);
            assert_int_equal(r->used_idx, 65535);
        } else {
            expect_list(q, (uint16_t[]){ 1, 3 }, (uint64_t[]){ 0, 3 }, 2);
            assert_int_equal(r->desc[4].inflight, 0);
            assert_int_equal(r->desc[6].inflight, 0);
            assert_int_equal(r->desc[1].inflight, 1);
            assert_int_equal(r->used_idx, 1);
        }
        /* The restarted backend goes on from the repaired state. */
        assert_int_equal(vdev_inflight_split_complete(q, 1), 0);
        assert_int_equal(vdev_inflight_split_commit(q, (uint16_t)(ring + 1)), 0);
        vdev_inflight_free(q);
    }
}

/* A last batch longer than the ring, a batch list that meets a head twice, and
 * two heads with one counter are refused, and the region is left as it was. */
static void test_split_resume_rejects(void **state)
{
    struct fx *f = *state;
    struct vdev_inflight_region_split *r;
    struct vdev_inflight *q;

    area(f, 1, 8, false);
    r = rs(f, f->b, 0);
    assert_int_equal(vdev_inflight_init(&f->q, f->a, f->size, &f->l, 0), 0);
    assert_int_equal(vdev_inflight_split_resume(f->q, 10), 0);
    assert_int_equal(vdev_inflight_split_fetch(f->q, 2), 0);
    assert_int_equal(vdev_inflight_split_fetch(f->q, 5), 0);
    assert_int_equal(vdev_inflight_split_fetch(f->q, 7), 0);
    assert_int_equal(vdev_inflight_split_complete(f->q, 2), 0);    /* 2.next = 0 */
    assert_int_equal(vdev_inflight_split_complete(f->q, 5), 0);    /* 5.next = 2 */
    crash(f);

    assert_int_equal(attach_b(f, &q), 0);
    assert_int_equal(vdev_inflight_split_resume(q, 10 + 9), -EINVAL);
    vdev_inflight_free(q);

    r->desc[2].next = 5;                     /* 5 -> 2 -> 5 */
    assert_int_equal(attach_b(f, &q), 0);
    assert_int_equal(vdev_inflight_split_resume(q, 10 + 3), -EINVAL);
    assert_int_equal(r->used_idx, 10);
    assert_int_equal(r->desc[5].inflight, 1);
    assert_int_equal(vdev_inflight_split_resume(q, 10 + 2), 0);    /* 5, 2 */
    expect_list(q, (uint16_t[]){ 7 }, NULL, 1);
    vdev_inflight_free(q);

    r->desc[2].inflight = 1;
    r->desc[2].counter = r->desc[7].counter;
    assert_int_equal(attach_b(f, &q), 0);
    assert_int_equal(vdev_inflight_split_resume(q, 12), -EINVAL);
    vdev_inflight_free(q);
}

/* Every field of a split region that comes back is checked: each corruption
 * alone is refused with -EINVAL, and the region is fine again without it. */
static void test_split_attach_rejects(void **state)
{
    struct fx *f = *state;
    struct vdev_inflight_region_split *r;
    struct vdev_inflight_layout two;
    struct vdev_inflight *q = NULL;

    area(f, 1, 8, false);
    r = rs(f, f->b, 0);
    assert_int_equal(vdev_inflight_init(&f->q, f->a, f->size, &f->l, 0), 0);
    assert_int_equal(vdev_inflight_split_resume(f->q, 0), 0);
    assert_int_equal(vdev_inflight_split_fetch(f->q, 3), 0);
    crash(f);

    /* The area and the layout. */
    two = (struct vdev_inflight_layout){ 1, 4, false };     /* fits in size - 4 */
    assert_int_equal(vdev_inflight_attach(&q, f->b + 4, f->size - 4, &two, 0), -EINVAL);
    assert_int_equal(vdev_inflight_attach(&q, f->b, f->size - 1, &f->l, 0), -EINVAL);
    assert_int_equal(vdev_inflight_attach(&q, f->b, f->size, &f->l, 1), -EINVAL);
    two = (struct vdev_inflight_layout){ 2, 8, false };
    assert_int_equal(vdev_inflight_attach(&q, f->b, f->size, &two, 0), -EINVAL);
    two = (struct vdev_inflight_layout){ 1, 0, false };
    assert_int_equal(vdev_inflight_attach(&q, f->b, f->size, &two, 0), -EINVAL);
    assert_null(q);

    REJECT(r->version, 2);
    REJECT(r->desc_num, 4);
    REJECT(r->desc_num, 16);
    REJECT(r->features, 1);
    REJECT(r->last_batch_head, 8);
    REJECT(r->desc[6].next, 8);
    REJECT(r->desc[3].inflight, 2);
    assert_null(q);

    assert_int_equal(attach_b(f, &q), 0);
    assert_int_equal(vdev_inflight_split_resume(q, 0), 0);
    expect_list(q, (uint16_t[]){ 3 }, NULL, 1);
    vdev_inflight_free(q);
}

/* Zeroed memory (what GET_INFLIGHT_FD hands out) is an uninitialized region:
 * attached as new, formatted at resume where the ring's used index is, and still
 * new if the backend dies before that. */
static void test_split_fresh(void **state)
{
    struct fx *f = *state;
    struct vdev_inflight_region_split *r;
    struct vdev_inflight *q;

    area(f, 1, 8, false);
    r = rs(f, f->b, 0);
    assert_int_equal(vdev_inflight_attach(&f->q, f->a, f->size, &f->l, 0), 0);
    crash(f);                                /* before the ring started */
    assert_int_equal(r->version, 0);

    assert_int_equal(attach_b(f, &q), 0);
    assert_int_equal(vdev_inflight_split_resume(q, 1000), 0);   /* no repair */
    assert_int_equal(r->version, 1);
    assert_int_equal(r->desc_num, 8);
    assert_int_equal(r->used_idx, 1000);
    assert_int_equal(vdev_inflight_count(q), 0);
    assert_int_equal(vdev_inflight_split_fetch(q, 4), 0);
    vdev_inflight_free(q);

    assert_int_equal(attach_b(f, &q), 0);
    assert_int_equal(vdev_inflight_split_resume(q, 1000), 0);
    expect_list(q, (uint16_t[]){ 4 }, NULL, 1);
    vdev_inflight_free(q);
}

/* Calls out of order or with what is not in flight are refused without a trace. */
static void test_split_misuse(void **state)
{
    struct fx *f = *state;
    struct vdev_inflight_req out[1];
    struct vdev_inflight_region_split *r;
    uint16_t slot;

    area(f, 1, 8, false);
    r = rs(f, f->b, 0);
    assert_int_equal(vdev_inflight_init(&f->q, f->a, f->size, &f->l, 0), 0);
    assert_int_equal(vdev_inflight_split_fetch(f->q, 0), -EAGAIN);
    assert_int_equal(vdev_inflight_list(f->q, out, 1), -EAGAIN);
    assert_int_equal(vdev_inflight_split_resume(f->q, 0), 0);
    assert_int_equal(vdev_inflight_split_fetch(f->q, 8), -EINVAL);
    assert_int_equal(vdev_inflight_split_fetch(f->q, 1), 0);
    assert_int_equal(vdev_inflight_split_fetch(f->q, 1), -EEXIST);
    assert_int_equal(vdev_inflight_split_fetch(f->q, 2), 0);
    assert_int_equal(vdev_inflight_list(f->q, out, 1), -ENOBUFS);
    assert_int_equal(vdev_inflight_split_complete(f->q, 3), -ENOENT);
    assert_int_equal(vdev_inflight_split_complete(f->q, 1), 0);
    assert_int_equal(vdev_inflight_split_complete(f->q, 1), -ENOENT);
    assert_int_equal(vdev_inflight_split_resume(f->q, 0), -EBUSY);
    assert_int_equal(vdev_inflight_split_commit(f->q, 2), -EINVAL);
    assert_int_equal(r->desc[1].inflight, 1);
    assert_int_equal(r->used_idx, 0);
    assert_int_equal(vdev_inflight_split_commit(f->q, 1), 0);
    assert_int_equal(vdev_inflight_split_complete(f->q, 1), -ENOENT);

    assert_int_equal(vdev_inflight_packed_fetch(f->q, NULL, 1), -EINVAL);
    assert_int_equal(vdev_inflight_packed_recover_slot(f->q, &slot), -EINVAL);
    assert_int_equal(vdev_inflight_packed_commit(f->q), -EINVAL);
}

/* Queues of one area are independent, each at its stride. */
static void test_split_queues(void **state)
{
    struct fx *f = *state;
    struct vdev_inflight *q[3];

    area(f, 3, 4, false);
    for (uint16_t i = 0; i < 3; i++) {
        assert_int_equal(vdev_inflight_init(&q[i], f->a, f->size, &f->l, i), 0);
        assert_int_equal(vdev_inflight_split_resume(q[i], 0), 0);
    }
    assert_int_equal(vdev_inflight_split_fetch(q[1], 2), 0);
    assert_int_equal(vdev_inflight_split_fetch(q[2], 3), 0);
    assert_int_equal(vdev_inflight_split_fetch(q[2], 0), 0);
    assert_int_equal(rs(f, f->b, 1)->desc[2].inflight, 1);
    assert_int_equal(rs(f, f->b, 0)->desc[2].inflight, 0);
    assert_int_equal(rs(f, f->b, 2)->desc[2].inflight, 0);
    for (uint16_t i = 0; i < 3; i++)
        vdev_inflight_free(q[i]);

    for (uint16_t i = 0; i < 3; i++) {
        assert_int_equal(vdev_inflight_attach(&q[i], f->b, f->size, &f->l, i), 0);
        assert_int_equal(vdev_inflight_split_resume(q[i], 0), 0);
    }
    assert_int_equal(vdev_inflight_count(q[0]), 0);
    expect_list(q[1], (uint16_t[]){ 2 }, NULL, 1);
    expect_list(q[2], (uint16_t[]){ 3, 0 }, NULL, 2);
    for (uint16_t i = 0; i < 3; i++)
        vdev_inflight_free(q[i]);
}

/* --- packed ----------------------------------------------------------------- */

/* A packed queue of 8 with the used side at (pos, wrap), freshly formatted. */
static struct vdev_inflight_region_packed *packed_start(struct fx *f, uint16_t pos,
                                                        bool wrap)
{
    uint16_t slot;

    area(f, 1, 8, true);
    assert_int_equal(vdev_inflight_init(&f->q, f->a, f->size, &f->l, 0), 0);
    assert_int_equal(vdev_inflight_packed_recover_slot(f->q, &slot), 0);
    assert_int_equal(vdev_inflight_packed_resume(f->q, 0, &pos, &wrap), 0);
    return rp(f, f->b, 0);
}

/* A fetch fills entries from the free list, the head entry holding counter, num
 * and last; a completion puts the chain back in front of the free list; the
 * commit clears inflight and copies the position to old_*. */
static void test_packed_fetch_complete(void **state)
{
    struct fx *f = *state;
    struct vdev_inflight_region_packed *r = packed_start(f, 0, true);
    struct vring_packed_desc d;
    uint16_t idx;
    bool wrap;

    assert_int_equal(r->version, 1);
    assert_int_equal(r->desc_num, 8);
    assert_int_equal(r->desc[7].next, 8);
    assert_int_equal(r->used_wrap_counter, 1);

    assert_int_equal(fetch_buf(f->q, 3, 1), 0);      /* entry 0 */
    assert_int_equal(fetch_buf(f->q, 0, 3), 0);      /* entries 1, 2, 3 */
    assert_int_equal(fetch_buf(f->q, 5, 2), 0);      /* entries 4, 5 */
    assert_int_equal(r->desc[1].inflight, 1);
    assert_int_equal(r->desc[1].num, 3);
    assert_int_equal(r->desc[1].last, 3);
    assert_int_equal(r->desc[1].counter, 1);
    assert_int_equal(r->desc[2].inflight, 0);
    assert_int_equal(r->desc[3].addr, 0x0002);
    assert_int_equal(r->desc[3].len, 102);
    assert_int_equal(r->desc[3].id, 0);
    assert_int_equal(r->desc[4].counter, 2);
    assert_int_equal(r->free_head, 6);
    assert_int_equal(r->old_free_head, 6);
    assert_int_equal(vdev_inflight_packed_desc(f->q, 0, 2, &d), 0);
    assert_int_equal(le64toh(d.addr), 0x0002);
    assert_int_equal(le16toh(d.flags), AVAIL);
    assert_int_equal(vdev_inflight_packed_desc(f->q, 0, 3, &d), -ENOENT);

    assert_int_equal(vdev_inflight_packed_complete(f->q, 0), 0);
    assert_int_equal(r->desc[3].next, 6);
    assert_int_equal(r->free_head, 1);
    assert_int_equal(r->old_free_head, 6);
    assert_int_equal(vdev_inflight_packed_used(f->q, 3, true), 0);
    assert_int_equal(r->used_idx, 3);
    assert_int_equal(r->old_used_idx, 0);
    assert_int_equal(vdev_inflight_packed_commit(f->q), 0);
    assert_int_equal(r->desc[1].inflight, 0);
    assert_int_equal(r->old_free_head, 1);
    assert_int_equal(r->old_used_idx, 3);
    assert_int_equal(r->old_used_wrap_counter, 1);
    expect_list(f->q, (uint16_t[]){ 3, 5 }, (uint64_t[]){ 0, 2 }, 2);
    assert_int_equal(vdev_inflight_packed_avail(f->q, &idx, &wrap), 0);
    assert_int_equal(idx, 6);                        /* 3 + 1 + 2 */
    assert_true(wrap);

    /* The freed chain is reused first; the ring has room for 5 more. */
    assert_int_equal(fetch_buf(f->q, 1, 4), 0);      /* entries 1, 2, 3, 6 */
    assert_int_equal(r->desc[1].last, 6);
    assert_int_equal(r->free_head, 7);
    assert_int_equal(fetch_buf(f->q, 2, 2), -ENOSPC);
    assert_int_equal(fetch_buf(f->q, 2, 1), 0);
    assert_int_equal(r->free_head, 8);
}

/* After completions out of order and a restart, the buffers left come back by
 * counter, with their descriptors, at the used position the region recorded. */
static void test_packed_restart_order(void **state)
{
    struct fx *f = *state;
    struct vdev_inflight *q;
    struct vring_packed_desc d;
    uint16_t idx = 99, slot;
    bool wrap = false;

    packed_start(f, 6, true);
    assert_int_equal(fetch_buf(f->q, 7, 2), 0);
    assert_int_equal(fetch_buf(f->q, 2, 1), 0);
    assert_int_equal(fetch_buf(f->q, 5, 2), 0);
    assert_int_equal(fetch_buf(f->q, 0, 1), 0);
    assert_int_equal(vdev_inflight_packed_complete(f->q, 2), 0);
    assert_int_equal(vdev_inflight_packed_complete(f->q, 0), 0);
    assert_int_equal(vdev_inflight_packed_used(f->q, 0, false), 0);   /* 6 + 2 */
    assert_int_equal(vdev_inflight_packed_commit(f->q), 0);
    crash(f);

    assert_int_equal(attach_b(f, &q), 0);
    assert_int_equal(vdev_inflight_packed_recover_slot(q, &slot), 0);
    assert_int_equal(vdev_inflight_packed_resume(q, 0, &idx, &wrap), 0);
    assert_int_equal(idx, 0);
    assert_false(wrap);
    expect_list(q, (uint16_t[]){ 7, 5 }, (uint64_t[]){ 0, 2 }, 2);
    assert_int_equal(vdev_inflight_packed_desc(q, 5, 1, &d), 0);
    assert_int_equal(le64toh(d.addr), 0x5001);
    assert_int_equal(le32toh(d.len), 101);
    assert_int_equal(vdev_inflight_packed_avail(q, &idx, &wrap), 0);
    assert_int_equal(idx, 4);
    assert_false(wrap);
    assert_int_equal(fetch_buf(q, 2, 1), 0);
    expect_list(q, (uint16_t[]){ 7, 5, 2 }, (uint64_t[]){ 0, 2, 3 }, 3);
    vdev_inflight_free(q);
}

/* Where the first backend stops in a completion of buffer 2 (3 descriptors),
 * with buffers 1 (2 descriptors) and 4 (1) staying in flight; the used side is
 * at 6 with wrap 1 and the batch takes it to 1 with wrap 0. */
enum packed_stop {
    P_LINKED,            /* steps 3-4 only */
    P_USED,              /* and used_idx, used_wrap_counter (step 5) */
    P_VISIBLE,           /* and the ring's flags (step 6) */
    P_CLEARED,           /* and inflight cleared (step 7) */
    P_OLD_FREE,          /* and old_free_head (step 8, first store) */
    P_OLD_IDX,           /* and old_used_idx (step 8, second store) */
};

static struct vdev_inflight *packed_batch_crash(struct fx *f, enum packed_stop stop,
                                                uint16_t *idx, bool *wrap)
{
    struct vdev_inflight_region_packed *r;
    struct vdev_inflight *q;
    uint16_t slot, flags;
    int need;

    packed_start(f, 6, true);
    r = rp(f, f->a, 0);
    assert_int_equal(fetch_buf(f->q, 1, 2), 0);      /* entries 0, 1 */
    assert_int_equal(fetch_buf(f->q, 2, 3), 0);      /* entries 2, 3, 4 */
    assert_int_equal(fetch_buf(f->q, 4, 1), 0);      /* entry 5 */
    assert_int_equal(vdev_inflight_packed_complete(f->q, 2), 0);
    if (stop >= P_USED)
        assert_int_equal(vdev_inflight_packed_used(f->q, 1, false), 0);
    if (stop >= P_CLEARED)
        r->desc[2].inflight = 0;
    if (stop >= P_OLD_FREE)
        r->old_free_head = r->free_head;
    if (stop >= P_OLD_IDX)
        r->old_used_idx = r->used_idx;
    crash(f);

    assert_int_equal(attach_b(f, &q), 0);
    need = vdev_inflight_packed_recover_slot(q, &slot);
    assert_int_equal(need, stop >= P_USED);
    /* The ring at that slot: the batch's first used descriptor (at 6, made used
     * with wrap 1) once visible, else still available with wrap 1; at 1 (after
     * old_used_idx moved) the descriptor used in the lap before. */
    if (stop >= P_OLD_IDX) {
        assert_int_equal(slot, 1);
        flags = AVAIL | USED;
    } else {
        flags = stop >= P_VISIBLE ? AVAIL | USED : AVAIL;
        if (need)
            assert_int_equal(slot, 6);
    }
    *idx = 0;
    *wrap = true;
    assert_int_equal(vdev_inflight_packed_resume(q, flags, idx, wrap), 0);
    return q;
}

/* Before the batch is visible it is rolled back, after it is committed, wherever
 * in the update the backend died. */
static void test_packed_crash_mid_completion(void **state)
{
    struct fx *f = *state;

    for (enum packed_stop s = P_LINKED; s <= P_OLD_IDX; s++) {
        struct vdev_inflight_region_packed *r;
        struct vdev_inflight *q;
        uint16_t idx;
        bool wrap;

        q = packed_batch_crash(f, s, &idx, &wrap);
        r = rp(f, f->a, 0);
        if (s <= P_USED) {
            expect_list(q, (uint16_t[]){ 1, 2, 4 }, (uint64_t[]){ 0, 1, 2 }, 3);
            assert_int_equal(idx, 6);
            assert_true(wrap);
            assert_int_equal(r->free_head, 6);
            assert_int_equal(r->desc[2].inflight, 1);
        } else {
            expect_list(q, (uint16_t[]){ 1, 4 }, (uint64_t[]){ 0, 2 }, 2);
            assert_int_equal(idx, 1);
            assert_false(wrap);
            assert_int_equal(r->free_head, 2);
            assert_int_equal(r->old_free_head, 2);
            assert_int_equal(r->desc[2].inflight, 0);
        }
        assert_int_equal(r->used_idx, idx);
        assert_int_equal(r->old_used_idx, idx);
        assert_int_equal(r->used_wrap_counter, wrap);
        assert_int_equal(r->old_used_wrap_counter, wrap);
        /* The restarted backend goes on: buffer 4 completes. */
        assert_int_equal(vdev_inflight_packed_complete(q, 4), 0);
        assert_int_equal(vdev_inflight_packed_used(q, (uint16_t)((idx + 1) % 8),
                                                   idx + 1 == 8 ? !wrap : wrap), 0);
        assert_int_equal(vdev_inflight_packed_commit(q), 0);
        vdev_inflight_free(q);
    }
}

/* A fetch cut short (two of three descriptors recorded) is rolled back: the
 * entries go back to the free list with inflight cleared, and are used again. */
static void test_packed_crash_mid_fetch(void **state)
{
    struct fx *f = *state;
    struct vdev_inflight_region_packed *r;
    struct vdev_inflight *q;
    uint16_t idx = 0, slot;
    bool wrap = true;

    packed_start(f, 0, true);
    r = rp(f, f->a, 0);
    assert_int_equal(fetch_buf(f->q, 6, 1), 0);      /* entry 0 */
    /* The spec's steps for a 3-descriptor buffer, up to the second one. */
    r->desc[1].num = 0;
    r->desc[1].counter = 1;
    r->desc[1].inflight = 1;
    r->desc[1].num = 1;
    r->desc[1].addr = 0xdead;
    r->free_head = 2;
    r->desc[1].num = 2;
    r->desc[2].addr = 0xbeef;
    r->free_head = 3;
    crash(f);

    assert_int_equal(attach_b(f, &q), 0);
    assert_int_equal(vdev_inflight_packed_recover_slot(q, &slot), 0);
    assert_int_equal(vdev_inflight_packed_resume(q, 0, &idx, &wrap), 0);
    expect_list(q, (uint16_t[]){ 6 }, NULL, 1);
    assert_int_equal(r->free_head, 1);
    assert_int_equal(r->desc[1].inflight, 0);
    assert_int_equal(fetch_buf(q, 3, 7), 0);         /* every other entry */
    assert_int_equal(r->desc[1].num, 7);
    assert_int_equal(r->free_head, 8);
    vdev_inflight_free(q);
}

/* Every field of a packed region that comes back is checked at attach. */
static void test_packed_attach_rejects(void **state)
{
    struct fx *f = *state;
    struct vdev_inflight_region_packed *r = packed_start(f, 0, true);
    struct vdev_inflight *q = NULL;
    uint16_t idx = 0;
    bool wrap = true;

    assert_int_equal(fetch_buf(f->q, 1, 2), 0);
    crash(f);

    REJECT(r->version, 7);
    REJECT(r->desc_num, 7);
    REJECT(r->features, 2);
    REJECT(r->free_head, 9);
    REJECT(r->old_free_head, 9);
    REJECT(r->used_idx, 8);
    REJECT(r->old_used_idx, 8);
    REJECT(r->used_wrap_counter, 2);
    REJECT(r->old_used_wrap_counter, 2);
    REJECT(r->desc[4].inflight, 2);
    REJECT(r->desc[4].next, 9);
    REJECT(r->desc[0].last, 8);
    REJECT(r->desc[0].num, 9);
    assert_null(q);

    assert_int_equal(attach_b(f, &q), 0);
    assert_int_equal(vdev_inflight_packed_resume(q, 0, &idx, &wrap), 0);
    expect_list(q, (uint16_t[]){ 1 }, NULL, 1);
    vdev_inflight_free(q);
}

/* Attaches b and expects resume to refuse the region without writing to it. */
static void expect_resume_refused(struct fx *f)
{
    static uint8_t before[4096];
    struct vdev_inflight *q;
    uint16_t idx = 0;
    bool wrap = true;

    assert_true(f->size <= sizeof(before));
    memcpy(before, f->b, f->size);
    assert_int_equal(attach_b(f, &q), 0);
    assert_int_equal(vdev_inflight_packed_resume(q, 0, &idx, &wrap), -EINVAL);
    assert_memory_equal(before, f->b, f->size);
    vdev_inflight_free(q);
}

/* Sets field to bad, expects resume to refuse the region, puts field back. */
#define REJECT_RESUME(field, bad) do {                                   \
        __typeof__(field) saved_ = (field);                              \
        (field) = (bad);                                                 \
        expect_resume_refused(f);                                        \
        (field) = saved_;                                                \
    } while (0)

/* What attach cannot see alone, resume checks after its choice: each corruption
 * is refused with -EINVAL and nothing is written. Buffer 1 is entries 0-1,
 * buffer 2 entries 2-4, buffer 4 entry 5; the free list is 6 -> 7. */
static void test_packed_resume_rejects(void **state)
{
    struct fx *f = *state;
    struct vdev_inflight_region_packed *r = packed_start(f, 0, true);
    struct vdev_inflight_desc_packed saved[8];
    struct vdev_inflight *q = NULL;
    uint16_t idx;
    bool wrap;

    assert_int_equal(fetch_buf(f->q, 1, 2), 0);
    assert_int_equal(fetch_buf(f->q, 2, 3), 0);
    assert_int_equal(fetch_buf(f->q, 4, 1), 0);
    crash(f);

    REJECT_RESUME(r->desc[7].next, 6);           /* free list loops */
    REJECT_RESUME(r->desc[6].next, 8);           /* entry 7 on no list */
    REJECT_RESUME(r->desc[6].next, 3);           /* free list runs into a chain */
    REJECT_RESUME(r->desc[2].num, 0);            /* in flight, no descriptor */
    REJECT_RESUME(r->desc[2].num, 2);            /* ends before last, 4 lost */
    REJECT_RESUME(r->desc[3].next, 0);           /* runs into another chain */
    REJECT_RESUME(r->desc[0].last, 0);           /* ends elsewhere than last */
    REJECT_RESUME(r->desc[5].inflight, 0);       /* entry 5 on no list */
    REJECT_RESUME(r->desc[5].id, 1);             /* buffer id taken */
    REJECT_RESUME(r->desc[5].id, 8);             /* buffer id past the ring */
    REJECT_RESUME(r->desc[5].counter, 1);        /* counter taken */

    /* Chains that end at their last entry and add up, but share entries. */
    memcpy(saved, r->desc, sizeof(saved));
    r->desc[3].next = 2;                         /* 2 -> 3 -> 2, 4 lost */
    r->desc[2].last = 2;
    expect_resume_refused(f);
    memcpy(r->desc, saved, sizeof(saved));
    r->desc[0].next = 3;                         /* 0 -> 3 and 2 -> 3 -> 4, 1 lost */
    r->desc[0].last = 3;
    r->desc[3].id = 1;
    expect_resume_refused(f);
    memcpy(r->desc, saved, sizeof(saved));
    /* A chain that leaves the ring before its num entries. */
    r->desc[2].num = 4;
    r->desc[4].next = 8;
    expect_resume_refused(f);
    memcpy(r->desc, saved, sizeof(saved));

    assert_int_equal(attach_b(f, &q), 0);
    idx = 0;
    wrap = true;
    assert_int_equal(vdev_inflight_packed_resume(q, 0, &idx, &wrap), 0);
    expect_list(q, (uint16_t[]){ 1, 2, 4 }, NULL, 3);
    vdev_inflight_free(q);
}

/* Calls out of order or with what is not in flight are refused without a trace. */
static void test_packed_misuse(void **state)
{
    struct fx *f = *state;
    struct vdev_inflight_region_packed *r;
    struct vring_packed_desc d;
    uint16_t idx = 8;
    bool wrap = true;

    area(f, 1, 8, true);
    assert_int_equal(vdev_inflight_init(&f->q, f->a, f->size, &f->l, 0), 0);
    assert_int_equal(fetch_buf(f->q, 1, 1), -EAGAIN);
    assert_int_equal(vdev_inflight_packed_resume(f->q, 0, &idx, &wrap), -EINVAL);
    r = packed_start(f, 0, true);
    assert_int_equal(vdev_inflight_split_fetch(f->q, 0), -EINVAL);
    assert_int_equal(vdev_inflight_split_resume(f->q, 0), -EINVAL);
    assert_int_equal(fetch_buf(f->q, 1, 0), -EINVAL);
    assert_int_equal(fetch_buf(f->q, 8, 1), -EINVAL);
    assert_int_equal(fetch_buf(f->q, 1, 9), -ENOSPC);
    assert_int_equal(fetch_buf(f->q, 1, 2), 0);
    assert_int_equal(fetch_buf(f->q, 1, 1), -EEXIST);
    assert_int_equal(vdev_inflight_packed_desc(f->q, 3, 0, &d), -ENOENT);
    assert_int_equal(vdev_inflight_packed_complete(f->q, 3), -ENOENT);
    assert_int_equal(vdev_inflight_packed_complete(f->q, 8), -EINVAL);
    assert_int_equal(vdev_inflight_packed_complete(f->q, 1), 0);
    assert_int_equal(vdev_inflight_packed_complete(f->q, 1), -ENOENT);
    assert_int_equal(fetch_buf(f->q, 2, 1), -EBUSY);
    assert_int_equal(vdev_inflight_packed_resume(f->q, 0, &idx, &wrap), -EBUSY);
    assert_int_equal(vdev_inflight_packed_commit(f->q), -EINVAL);
    assert_int_equal(vdev_inflight_packed_used(f->q, 1, true), -EINVAL);
    assert_int_equal(r->used_idx, 0);
    assert_int_equal(vdev_inflight_packed_used(f->q, 2, true), 0);
    assert_int_equal(vdev_inflight_packed_commit(f->q), 0);
    assert_int_equal(vdev_inflight_count(f->q), 0);
    assert_int_equal(fetch_buf(f->q, 1, 8), 0);      /* the whole ring */
    assert_int_equal(r->free_head, 8);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_layout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_split_fetch_complete, setup, teardown),
        cmocka_unit_test_setup_teardown(test_split_restart_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_split_crash_mid_batch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_split_resume_rejects, setup, teardown),
        cmocka_unit_test_setup_teardown(test_split_attach_rejects, setup, teardown),
        cmocka_unit_test_setup_teardown(test_split_fresh, setup, teardown),
        cmocka_unit_test_setup_teardown(test_split_misuse, setup, teardown),
        cmocka_unit_test_setup_teardown(test_split_queues, setup, teardown),
        cmocka_unit_test_setup_teardown(test_packed_fetch_complete, setup, teardown),
        cmocka_unit_test_setup_teardown(test_packed_restart_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_packed_crash_mid_completion, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_packed_crash_mid_fetch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_packed_attach_rejects, setup, teardown),
        cmocka_unit_test_setup_teardown(test_packed_resume_rejects, setup, teardown),
        cmocka_unit_test_setup_teardown(test_packed_misuse, setup, teardown),
    };

    vdev_log_set_level(VDEV_LOG_ERR);        /* the rejections are logged at WARN */
    return cmocka_run_group_tests(tests, NULL, NULL);
}

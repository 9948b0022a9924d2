/* test_vfu_mig_fsm.c — the migration state machine through vdev's client and
 * server, for a device with each set of optional states (none, P2P, PRE_COPY,
 * both): from every state the device has, every target 0..8 is asked for.
 * Whether it is allowed and which direct arcs the device sees are worked out
 * here independently, by a breadth-first search over the direct arcs that
 * <linux/vfio.h> lists for the full machine, with no saving state inside a path
 * ("Complex State Transitions") unless the path stays in the saving group, then the optional states the device lacks
 * dropped from the path, as the kernel does.
 * Also: a failed arc stops the walk where it is; PRE_COPY's initial data is
 * read with MIG_DATA_READ and the stream goes on in STOP_COPY. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "helpers.h"
#include "vdev/loop.h"
#include "vdev/vfio_user.h"
#include "vdev/vfio_user_client.h"

#define NST 8u                         /* states ERROR .. PRE_COPY_P2P */
#define MAX_ARCS 16

enum { ERR = 0, STOP = 1, RUN = 2, SC = 3, RES = 4, RP2P = 5, PC = 6, PP2P = 7 };

struct rec_dev {
    uint64_t flags;
    uint32_t arcs[MAX_ARCS][2];
    int narcs;
    int fail_from, fail_to;            /* the arc the device fails, or -1 */
    uint32_t saved;                    /* bytes of the save stream given */
    bool stopped_copy;                 /* in STOP_COPY since the save began */
};

struct fsm {
    struct rec_dev dev;
    struct vdev_loop *loop;
    struct vdev_vfu_server *srv;
    pthread_t thread;
    struct vdev_vfuc *c;
    int fds_before;
};

/* --- the device ------------------------------------------------------------------ */

static int rd_get_info(void *o, struct vdev_vfu_device_info *info)
{
    info->flags = VFIO_DEVICE_FLAGS_PCI;
    info->num_regions = VFIO_PCI_NUM_REGIONS;
    info->num_irqs = VFIO_PCI_NUM_IRQS;
    return 0;
}

static int rd_region_info(void *o, uint32_t index, struct vdev_vfu_region *r)
{
    return 0;                          /* no region exists */
}

static int rd_region_access(void *o, uint32_t index, uint64_t off, void *buf,
                            uint32_t len, bool is_write)
{
    return -EINVAL;
}

static int rd_irq_info(void *o, uint32_t index, uint32_t *count, uint32_t *flags)
{
    *count = 0;
    *flags = 0;
    return 0;
}

static int rd_reset(void *o)
{
    return 0;
}

static int rd_mig_arc(void *o, uint32_t from, uint32_t to)
{
    struct rec_dev *d = o;

    if ((int)from == d->fail_from && (int)to == d->fail_to)
        return -EIO;
    if (d->narcs < MAX_ARCS) {
        d->arcs[d->narcs][0] = from;
        d->arcs[d->narcs][1] = to;
    }
    d->narcs++;
    if (to == PC || (to == SC && from == STOP))
        d->saved = 0;                  /* a new save stream */
    d->stopped_copy = to == SC;
    return 0;
}

/* The save stream is bytes 0, 1, 2, ...: 10 of them in PRE_COPY (the initial
 * data), 30 in all once in STOP_COPY. */
static int rd_mig_save(void *o, void *buf, uint32_t len, uint32_t *done)
{
    struct rec_dev *d = o;
    uint32_t end = d->stopped_copy ? 30 : 10, n = end - d->saved;

    if (n > len)
        n = len;
    for (uint32_t i = 0; i < n; i++)
        ((uint8_t *)buf)[i] = (uint8_t)(d->saved + i);
    d->saved += n;
    *done = n;
    return 0;
}

static int rd_mig_load(void *o, const void *buf, uint32_t len)
{
    return 0;
}

static uint64_t rd_mig_flags(void *o)
{
    return ((struct rec_dev *)o)->flags;
}

static const struct vdev_vfu_device_ops rd_ops = {
    .get_info = rd_get_info,
    .region_info = rd_region_info,
    .region_access = rd_region_access,
    .irq_info = rd_irq_info,
    .reset = rd_reset,
    .mig_arc = rd_mig_arc,
    .mig_save = rd_mig_save,
    .mig_load = rd_mig_load,
    .mig_flags = rd_mig_flags,
};

/* --- the oracle ------------------------------------------------------------------ */

static bool has(uint32_t st, uint64_t flags)
{
    bool p2p = flags & VFIO_MIGRATION_P2P, pre = flags & VFIO_MIGRATION_PRE_COPY;

    switch (st) {
    case STOP: case RUN: case SC: case RES: return true;
    case RP2P: return p2p;
    case PC: return pre;
    case PP2P: return p2p && pre;
    default: return false;
    }
}

static bool saving_state(uint32_t st)
{
    return st == SC || st == PC || st == PP2P;
}

/* The direct arcs of the full machine, as <linux/vfio.h> lists them. */
static const uint8_t full_arcs[][2] = {
    { RUN, RP2P }, { RP2P, RUN }, { RP2P, STOP }, { STOP, RP2P }, { STOP, SC },
    { SC, STOP }, { STOP, RES }, { RES, STOP }, { RUN, PC }, { PC, RUN },
    { PC, PP2P }, { PP2P, PC }, { PP2P, RP2P }, { RP2P, PP2P }, { PP2P, SC },
};

static bool full_arc(uint32_t a, uint32_t b)
{
    for (size_t i = 0; i < sizeof(full_arcs) / sizeof(full_arcs[0]); i++)
        if (full_arcs[i][0] == a && full_arcs[i][1] == b)
            return true;
    return false;
}

/* The path from a to b as the device sees it (states after a, into path), its
 * length, or -1 when b cannot be asked for: the shortest path in the full
 * machine with no saving state inside it, less the states the device lacks. */
static int oracle(uint32_t a, uint32_t b, uint64_t flags, uint32_t *path)
{
    int dist[NST], prev[NST];
    uint32_t queue[NST];
    int head = 0, tail = 0, n;

    if (b >= NST || !has(b, flags) || b == ERR)
        return -1;
    if (a == SC && (b == PC || b == PP2P))
        return -1;                     /* vfio-user.rst: not allowed */
    for (uint32_t i = 0; i < NST; i++)
        dist[i] = -1;
    dist[a] = 0;
    queue[tail++] = a;
    while (head < tail) {
        uint32_t x = queue[head++];

        /* No saving state inside a path, but for a path that stays in the
         * saving group (PRE_COPY -> PRE_COPY_P2P -> STOP_COPY, the stream
         * going on). */
        bool inner_saving = x != a && saving_state(x);

        if (inner_saving && !saving_state(a))
            continue;
        for (uint32_t y = 0; y < NST; y++) {
            if (dist[y] >= 0 || !full_arc(x, y) || (inner_saving && !saving_state(y)))
                continue;
            dist[y] = dist[x] + 1;
            prev[y] = (int)x;
            queue[tail++] = y;
        }
    }
    if (dist[b] < 0)
        return -1;
    uint32_t full[NST];
    for (uint32_t x = b, i = (uint32_t)dist[b]; i > 0; x = (uint32_t)prev[x], i--)
        full[i - 1] = x;
    n = 0;
    for (int i = 0; i < dist[b]; i++)
        if (has(full[i], flags))
            path[n++] = full[i];
    return n;
}

/* --- the fixture ------------------------------------------------------------------- */

static void *loop_main(void *arg)
{
    vdev_loop_run(arg);
    return NULL;
}

static int setup_flags(void **state, uint64_t flags)
{
    struct fsm *f = calloc(1, sizeof(*f));
    int sv[2];

    assert_non_null(f);
    f->fds_before = test_count_fds();
    f->dev.flags = flags;
    f->dev.fail_from = f->dev.fail_to = -1;
    test_socketpair(sv);
    assert_int_equal(vdev_loop_new(&f->loop), 0);
    struct vdev_vfu_server_config sc = {
        .loop = f->loop, .ops = &rd_ops, .opaque = &f->dev,
        .listen_fd = -1, .conn_fd = sv[0],
    };
    assert_int_equal(vdev_vfu_server_new(&sc, &f->srv), 0);
    assert_int_equal(pthread_create(&f->thread, NULL, loop_main, f->loop), 0);
    assert_int_equal(vdev_vfuc_from_fd(sv[1], 10000, &f->c), 0);
    assert_int_equal(vdev_vfuc_negotiate(f->c, NULL, NULL), 0);
    *state = f;
    return 0;
}

static int setup_plain(void **s) { return setup_flags(s, VFIO_MIGRATION_STOP_COPY); }
static int setup_p2p(void **s) { return setup_flags(s, VFIO_MIGRATION_STOP_COPY | VFIO_MIGRATION_P2P); }
static int setup_pre(void **s) { return setup_flags(s, VFIO_MIGRATION_STOP_COPY | VFIO_MIGRATION_PRE_COPY); }
static int setup_both(void **s)
{
    return setup_flags(s, VFIO_MIGRATION_STOP_COPY | VFIO_MIGRATION_P2P |
                          VFIO_MIGRATION_PRE_COPY);
}

static int teardown(void **state)
{
    struct fsm *f = *state;

    vdev_vfuc_close(f->c);
    vdev_loop_stop(f->loop);
    pthread_join(f->thread, NULL);
    vdev_vfu_server_free(f->srv);
    vdev_loop_free(f->loop);
    assert_no_fd_leak(f->fds_before);
    free(f);
    return 0;
}

static uint32_t state_of(struct fsm *f)
{
    uint32_t st = 99;

    assert_int_equal(vdev_vfuc_mig_state(f->c, &st), 0);
    return st;
}

/* Puts the device in st: a reset (RUNNING), then the server's own path. */
static void go_to(struct fsm *f, uint32_t st)
{
    assert_int_equal(vdev_vfuc_reset(f->c), 0);
    assert_int_equal(vdev_vfuc_mig_set_state(f->c, st), 0);
    assert_int_equal(state_of(f), st);
    f->dev.narcs = 0;
}

/* --- the tests ---------------------------------------------------------------------- */

/* Every (from, target): allowed ones reach target through exactly the oracle's
 * arcs, each from the state the last one reached; the others are EINVAL with
 * the state and the device untouched. */
static void test_fsm_every_arc(void **state)
{
    struct fsm *f = *state;
    uint64_t flags = 0;
    int allowed = 0, refused = 0;

    assert_int_equal(vdev_vfuc_mig_flags(f->c, &flags), 0);
    assert_int_equal(flags, f->dev.flags);
    for (uint32_t from = STOP; from < NST; from++) {
        if (!has(from, flags))
            continue;
        for (uint32_t to = 0; to <= NST; to++) {
            uint32_t path[NST];
            int n = oracle(from, to, flags, path);
            int ret;

            go_to(f, from);
            ret = vdev_vfuc_mig_set_state(f->c, to);
            if (n < 0) {
                assert_int_equal(ret, -EINVAL);
                assert_int_equal(f->dev.narcs, 0);
                assert_int_equal(state_of(f), from);
                refused++;
                continue;
            }
            assert_int_equal(ret, 0);
            assert_int_equal(f->dev.narcs, n);
            for (int i = 0; i < n; i++) {
                assert_int_equal(f->dev.arcs[i][0], i ? path[i - 1] : from);
                assert_int_equal(f->dev.arcs[i][1], path[i]);
            }
            assert_int_equal(state_of(f), to);
            allowed++;
        }
    }
    /* Every state the device has is reachable from every other except the
     * forbidden STOP_COPY -> PRE_COPY(_P2P): the search itself is checked. */
    assert_true(allowed > 0 && refused > 0);
}

/* The oracle's spot checks, so that it cannot drift with the code: without
 * P2P, RUNNING -> STOP is one arc; with it, two through RUNNING_P2P; with
 * PRE_COPY and P2P, PRE_COPY -> STOP_COPY goes through PRE_COPY_P2P. */
static void test_fsm_oracle_known_paths(void **state)
{
    uint32_t p[NST];
    uint64_t sc = VFIO_MIGRATION_STOP_COPY, p2p = VFIO_MIGRATION_P2P,
             pre = VFIO_MIGRATION_PRE_COPY;

    (void)state;
    assert_int_equal(oracle(RUN, STOP, sc, p), 1);
    assert_int_equal(oracle(RUN, STOP, sc | p2p, p), 2);
    assert_int_equal(p[0], RP2P);
    assert_int_equal(oracle(PC, SC, sc | pre | p2p, p), 2);
    assert_int_equal(p[0], PP2P);
    assert_int_equal(oracle(PC, SC, sc | pre, p), 1);
    assert_int_equal(oracle(RUN, SC, sc | pre, p), 2);
    assert_int_equal(p[0], STOP);      /* not through PRE_COPY */
    assert_int_equal(oracle(SC, PC, sc | pre, p), -1);
    assert_int_equal(oracle(RES, RUN, sc, p), 2);
}

/* A failed arc: the SET fails with the device's errno, and the state is the
 * last one reached on the way. */
static void test_fsm_failed_arc_stops_on_the_way(void **state)
{
    struct fsm *f = *state;

    go_to(f, RUN);
    f->dev.fail_from = STOP;
    f->dev.fail_to = SC;
    assert_int_equal(vdev_vfuc_mig_set_state(f->c, SC), -EIO);
    assert_int_equal(state_of(f), STOP);
    f->dev.fail_from = f->dev.fail_to = -1;
    assert_int_equal(vdev_vfuc_mig_set_state(f->c, SC), 0);
    assert_int_equal(state_of(f), SC);
}

/* PRE_COPY: MIG_DATA_READ gives the initial data (a short read: no more for
 * now), then STOP_COPY goes on with the same stream; outside the saving states
 * there is nothing to read. */
static void test_fsm_pre_copy_data(void **state)
{
    struct fsm *f = *state;
    uint8_t buf[64];
    uint32_t got = 0;

    go_to(f, RUN);
    assert_int_equal(vdev_vfuc_mig_read(f->c, buf, sizeof(buf), &got), -EINVAL);
    assert_int_equal(vdev_vfuc_mig_set_state(f->c, PC), 0);
    assert_int_equal(vdev_vfuc_mig_read(f->c, buf, sizeof(buf), &got), 0);
    assert_int_equal(got, 10);
    assert_int_equal(buf[9], 9);
    assert_int_equal(vdev_vfuc_mig_read(f->c, buf, sizeof(buf), &got), 0);
    assert_int_equal(got, 0);
    assert_int_equal(vdev_vfuc_mig_set_state(f->c, SC), 0);
    assert_int_equal(vdev_vfuc_mig_read(f->c, buf, sizeof(buf), &got), 0);
    assert_int_equal(got, 20);
    assert_int_equal(buf[0], 10);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fsm_oracle_known_paths),
        cmocka_unit_test_setup_teardown(test_fsm_every_arc, setup_plain, teardown),
        cmocka_unit_test_setup_teardown(test_fsm_every_arc, setup_p2p, teardown),
        cmocka_unit_test_setup_teardown(test_fsm_every_arc, setup_pre, teardown),
        cmocka_unit_test_setup_teardown(test_fsm_every_arc, setup_both, teardown),
        cmocka_unit_test_setup_teardown(test_fsm_failed_arc_stops_on_the_way,
                                        setup_both, teardown),
        cmocka_unit_test_setup_teardown(test_fsm_pre_copy_data, setup_pre, teardown),
        cmocka_unit_test_setup_teardown(test_fsm_pre_copy_data, setup_both, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

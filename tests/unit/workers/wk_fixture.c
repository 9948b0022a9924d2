#include <dirent.h>
#include <endian.h>
#include <errno.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "vdev/dev_echo.h"
#include "wk_fixture.h"

uint64_t wk_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* 0: a short nap (100 µs), for polling loops. */
void wk_sleep_ms(unsigned ms)
{
    struct timespec ts = { .tv_sec = ms / 1000,
                           .tv_nsec = ms ? (long)(ms % 1000) * 1000000L : 100000L };

    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

int wk_count_threads(void)
{
    DIR *d = opendir("/proc/self/task");
    struct dirent *e;
    int n = 0;

    assert_non_null(d);
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

int wk_eventfd(void)
{
    int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);

    assert_true(fd >= 0);
    return fd;
}

static uint8_t pattern(uint8_t seed, uint32_t j)
{
    return (uint8_t)(seed + 13u * j);
}

void wk_add(struct fx *f, unsigned qi, const uint32_t *out_lens, unsigned n_out,
            const uint32_t *in_lens, unsigned n_in, bool indirect, uint8_t seed,
            struct wk_req *r)
{
    struct vdev_vqd_buf out[WK_BUFS], in[WK_BUFS];
    uint32_t j = 0;

    assert_true(n_out <= WK_BUFS && n_in <= WK_BUFS);
    memset(r, 0, sizeof(*r));
    r->seed = seed;
    for (unsigned i = 0; i < n_out; i++) {
        uint8_t *p;

        assert_true(out_lens[i] <= FX_BUF_SIZE);
        out[i] = (struct vdev_vqd_buf){ fx_next_buf(f), out_lens[i] };
        p = fx_host(f, out[i].gpa);
        for (uint32_t k = 0; k < out_lens[i]; k++)
            p[k] = pattern(seed, j++);
    }
    r->out_len = j;
    r->n_in = n_in;
    for (unsigned i = 0; i < n_in; i++) {
        assert_true(in_lens[i] <= FX_BUF_SIZE);
        in[i] = (struct vdev_vqd_buf){ fx_next_buf(f), in_lens[i] };
        memset(fx_host(f, in[i].gpa), WK_POISON, in_lens[i]);
        r->in_gpa[i] = in[i].gpa;
        r->in_lens[i] = in_lens[i];
    }
    assert_int_equal(vdev_vqd_add(f->q[qi].drv, out, n_out, in, n_in, indirect, &r->id),
                     0);
}

uint32_t wk_expected_len(const struct wk_req *r)
{
    uint32_t in = 0;

    for (unsigned i = 0; i < r->n_in; i++)
        in += r->in_lens[i];
    if (in < VDEV_ECHO_HDR_SIZE)
        return 0;
    in -= VDEV_ECHO_HDR_SIZE;
    return VDEV_ECHO_HDR_SIZE + (in < r->out_len ? in : r->out_len);
}

void wk_check(struct fx *f, const struct wk_req *r, uint32_t used_len)
{
    static uint8_t flat[WK_BUFS * FX_BUF_SIZE];
    uint32_t n = 0, sum = 0, hdr[2];

    assert_int_equal(used_len, wk_expected_len(r));
    for (unsigned i = 0; i < r->n_in; i++) {
        memcpy(flat + n, fx_host(f, r->in_gpa[i]), r->in_lens[i]);
        n += r->in_lens[i];
    }
    for (uint32_t j = used_len; j < n; j++)
        assert_int_equal(flat[j], WK_POISON);        /* nothing written past */
    if (used_len == 0)
        return;
    for (uint32_t j = 0; j < r->out_len; j++)
        sum += pattern(r->seed, j);
    memcpy(hdr, flat, sizeof(hdr));
    assert_int_equal(le32toh(hdr[0]), sum);
    assert_int_equal(le32toh(hdr[1]), r->out_len);
    for (uint32_t j = VDEV_ECHO_HDR_SIZE; j < used_len; j++)
        assert_int_equal(flat[j], pattern(r->seed, j - VDEV_ECHO_HDR_SIZE));
}

void wk_wait_used(struct fx *f, unsigned qi, uint16_t *id, uint32_t *len)
{
    int ret = 0;

    assert_true(WK_WAIT((ret = vdev_vqd_get_used(f->q[qi].drv, id, len)) != 0,
                        WK_WAIT_MS));
    assert_int_equal(ret, 1);
}

bool wk_used_within(struct fx *f, unsigned qi, unsigned ms)
{
    uint16_t id;
    uint32_t len;
    int ret = 0;

    WK_WAIT((ret = vdev_vqd_get_used(f->q[qi].drv, &id, &len)) != 0, ms);
    assert_true(ret >= 0);
    return ret == 1;
}

bool wk_kick(struct fx *f, unsigned qi, int kick_fd)
{
    uint64_t one = 1;

    if (!vdev_vqd_kick_prepare(f->q[qi].drv))
        return false;
    assert_int_equal(write(kick_fd, &one, sizeof(one)), sizeof(one));
    return true;
}

bool wk_kicks_enabled(struct fx *f, unsigned qi)
{
    if (f->packed) {
        struct vring_packed_desc_event *e = fx_host(f, f->q[qi].device_gpa);

        return le16toh(__atomic_load_n(&e->flags, __ATOMIC_ACQUIRE)) !=
               VRING_PACKED_EVENT_FLAG_DISABLE;
    }
    return !(le16toh(__atomic_load_n(&fx_split_used(f, qi)->flags, __ATOMIC_ACQUIRE)) &
             VRING_USED_F_NO_NOTIFY);
}

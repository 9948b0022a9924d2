/* wk_fixture.h — what the worker and echo device tests share: deadlines, and
 * echo requests made and checked by the driver side of a vq_fixture. */
#ifndef VDEV_TEST_WK_FIXTURE_H
#define VDEV_TEST_WK_FIXTURE_H

#include "../virtio/vq_fixture.h"

#define WK_WAIT_MS  5000u     /* how long anything that should happen may take */
#define WK_BUFS     8u        /* buffers per side of one request, at most */
#define WK_POISON   0xeeu     /* writable buffers are filled with it first */

uint64_t wk_now_ns(void);
void wk_sleep_ms(unsigned ms);

/* Evaluates cond until it is true or ms have passed; the last value. */
#define WK_WAIT(cond, ms) ({                                               \
    uint64_t wk_end_ = wk_now_ns() + (uint64_t)(ms) * 1000000u;            \
    bool wk_ok_;                                                           \
    while (!(wk_ok_ = (cond)) && wk_now_ns() < wk_end_)                    \
        wk_sleep_ms(0);                                                    \
    wk_ok_;                                                                \
})

/* Threads of this process, counted in /proc/self/task. */
int wk_count_threads(void);

/* A non-blocking eventfd; fails the test if it cannot be made. */
int wk_eventfd(void);

/* One echo request as the driver made it. */
struct wk_req {
    uint16_t id;
    uint8_t seed;                     /* readable byte j is seed + 13 * j */
    uint32_t out_len;                 /* readable bytes */
    unsigned n_in;
    uint64_t in_gpa[WK_BUFS];
    uint32_t in_lens[WK_BUFS];
};

/* Makes a request available on queue qi: readable buffers of out_lens[] filled
 * with the pattern of seed, writable buffers of in_lens[] filled with
 * WK_POISON. Does not kick. */
void wk_add(struct fx *f, unsigned qi, const uint32_t *out_lens, unsigned n_out,
            const uint32_t *in_lens, unsigned n_in, bool indirect, uint8_t seed,
            struct wk_req *r);

/* The used length the echo device must give r. */
uint32_t wk_expected_len(const struct wk_req *r);

/* Checks what the device wrote for r: the used length, the header, the payload,
 * and that nothing past the used length was touched. */
void wk_check(struct fx *f, const struct wk_req *r, uint32_t used_len);

/* The next used element of qi within WK_WAIT_MS, or the test fails. */
void wk_wait_used(struct fx *f, unsigned qi, uint16_t *id, uint32_t *len);

/* Whether anything is used on qi within ms (consumes it if so). */
bool wk_used_within(struct fx *f, unsigned qi, unsigned ms);

/* The driver publishes and, when the device asks for it, writes kick_fd.
 * Returns whether it kicked. */
bool wk_kick(struct fx *f, unsigned qi, int kick_fd);

/* Whether the ring of qi asks the driver for kicks now: split without event
 * index, VRING_USED_F_NO_NOTIFY clear; packed, device event flags not DISABLE. */
bool wk_kicks_enabled(struct fx *f, unsigned qi);

#endif

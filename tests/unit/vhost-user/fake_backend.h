/* fake_backend.h — a scripted vhost-user back-end for the front-end's tests.
 *
 * A thread on one end of a real socketpair reads every message the front-end
 * sends and keeps it whole (header, payload bytes, the fds that came with it),
 * then does what the script's step for that message says: nothing, or send a
 * reply made of exactly the bytes and fds the step gives (good or bad), or hang
 * up. Messages past the script are kept and not answered. The test checks what
 * was kept on its own thread, after fb_join() (or fb_wait() for the first n). */
#ifndef VDEV_TEST_FAKE_BACKEND_H
#define VDEV_TEST_FAKE_BACKEND_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "helpers.h"

/* Request ids, from vhost-user.rst itself ("Front-end message types", "Back-end
 * message types"), not from proto.h: the tests check that too. */
enum {
    R_GET_FEATURES = 1, R_SET_FEATURES = 2, R_SET_OWNER = 3, R_RESET_OWNER = 4,
    R_SET_MEM_TABLE = 5, R_SET_LOG_BASE = 6, R_SET_VRING_NUM = 8,
    R_SET_VRING_ADDR = 9, R_SET_VRING_BASE = 10, R_GET_VRING_BASE = 11,
    R_SET_VRING_KICK = 12, R_SET_VRING_CALL = 13, R_SET_VRING_ERR = 14,
    R_GET_PROTOCOL_FEATURES = 15, R_SET_PROTOCOL_FEATURES = 16, R_GET_QUEUE_NUM = 17,
    R_SET_VRING_ENABLE = 18, R_SET_BACKEND_REQ_FD = 21, R_GET_CONFIG = 24,
    R_SET_CONFIG = 25, R_GET_INFLIGHT_FD = 31, R_SET_INFLIGHT_FD = 32,
    R_RESET_DEVICE = 34, R_VRING_KICK = 35, R_GET_MAX_MEM_SLOTS = 36,
    R_ADD_MEM_REG = 37, R_REM_MEM_REG = 38, R_SET_STATUS = 39, R_GET_STATUS = 40,
    R_SET_DEVICE_STATE_FD = 42, R_CHECK_DEVICE_STATE = 43,
};
enum {
    B_IOTLB_MSG = 1, B_CONFIG_CHANGE_MSG = 2, B_VRING_HOST_NOTIFIER_MSG = 3,
    B_VRING_CALL = 4, B_VRING_ERR = 5,
};
/* Protocol feature bits ("Protocol features"). */
enum {
    PF_MQ = 0, PF_LOG_SHMFD = 1, PF_REPLY_ACK = 3, PF_BACKEND_REQ = 5, PF_PAGEFAULT = 8,
    PF_CONFIG = 9, PF_BACKEND_SEND_FD = 10, PF_INFLIGHT_SHMFD = 12,
    PF_RESET_DEVICE = 13, PF_INBAND_NOTIFICATIONS = 14, PF_CONFIGURE_MEM_SLOTS = 15,
    PF_STATUS = 16, PF_XEN_MMAP = 17, PF_DEVICE_STATE = 19,
};
#define BIT(n) (1ull << (n))
#define F_PROTOCOL_FEATURES 30

#define FB_MAX_MSGS    64
#define FB_MAX_PAYLOAD 512
#define FB_MAX_FDS     16

/* Header flags as the spec gives them ("Header"). */
#define FB_V1          0x1u
#define FB_REPLY       0x4u
#define FB_NEED_REPLY  0x8u

struct fb_msg {
    uint32_t request, flags, size;
    uint8_t payload[FB_MAX_PAYLOAD];
    int fds[FB_MAX_FDS];
    size_t nfds;
};

enum fb_action {
    FB_NONE,        /* no reply */
    FB_SEND,        /* send the step's bytes */
    FB_HANGUP,      /* close the socket, no reply */
};

struct fb_step {
    enum fb_action action;
    /* FB_SEND: a header, then `sent` payload bytes (normally size), then the
     * fds (the fake's: closed by fb_free). hangup_after closes the socket after. */
    uint32_t request, flags, size;
    uint8_t payload[FB_MAX_PAYLOAD];
    uint32_t sent;
    int fds[FB_MAX_FDS];
    size_t nfds;
    bool hangup_after;
    /* Before acting: send this request on the back-end channel (the fd that came
     * with SET_BACKEND_REQ_FD) and, if it has NEED_REPLY, read the answer. */
    bool backend_first;
    uint32_t breq, bflags, bsize;
    uint8_t bpayload[64];
};

struct fb {
    int sock;                 /* the back-end's end */
    int client_sock;          /* the front-end's end: give it to vdev_vuc_attach() */
    pthread_t thread;
    bool started;
    struct fb_step steps[FB_MAX_MSGS];
    unsigned nsteps;

    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct fb_msg msgs[FB_MAX_MSGS];
    unsigned nmsgs;
    bool done;
    int error;                /* the fake's own trouble (not the front-end's) */

    /* the answer to the back-end_first request */
    bool bgot;
    uint32_t breply_request, breply_flags, breply_size;
    uint64_t breply_u64;
};

struct fb *fb_new(void);
void fb_start(struct fb *fb);
/* Waits for the thread: it ends when the front-end closes or the script hangs up. */
void fb_join(struct fb *fb);
/* Waits until n messages arrived (fails the test after 5 s). */
void fb_wait(struct fb *fb, unsigned n);
/* Closes every fd the fake holds, and frees it (joins first if needed). */
void fb_free(struct fb *fb);

/* ---- the script ---- */

/* A step for the next message, with no reply. */
struct fb_step *fb_none(struct fb *fb);
/* A well-formed reply: request, flags V1|REPLY, the payload. */
struct fb_step *fb_reply(struct fb *fb, uint32_t request, const void *payload,
                         uint32_t size);
struct fb_step *fb_reply_u64(struct fb *fb, uint32_t request, uint64_t v);
struct fb_step *fb_hangup(struct fb *fb);

/* A request that has no reply of its own: acked under REPLY_ACK, else nothing. */
void fb_noreply(struct fb *fb, uint32_t request, bool ack);

/* What the fake offers in a negotiation, and what the client must pick. */
struct offer {
    uint64_t features, pf;       /* offered */
    uint64_t expect_pf;          /* what the client must set */
    uint64_t queue_num, slots;
};

/* The script of vdev_vuc_negotiate()'s messages: SET_OWNER, GET_FEATURES,
 * GET/SET_PROTOCOL_FEATURES (bit 30), SET_FEATURES, GET_QUEUE_NUM (MQ),
 * GET_MAX_MEM_SLOTS (CONFIGURE_MEM_SLOTS), SET_BACKEND_REQ_FD (BACKEND_REQ).
 * Returns how many. */
unsigned script_negotiate(struct fb *fb, const struct offer *o);

/* ---- checks, on the test's thread ---- */

const struct fb_msg *fb_msg(struct fb *fb, unsigned i);
/* Message i is exactly: request, flags, size, these payload bytes, nfds fds. */
void fb_check(struct fb *fb, unsigned i, uint32_t request, uint32_t flags,
              const void *payload, uint32_t size, size_t nfds);
/* The same with no payload bytes compared (size still is). */
void fb_check_hdr(struct fb *fb, unsigned i, uint32_t request, uint32_t flags,
                  uint32_t size, size_t nfds);

/* Little helpers to write expected payloads field by field, at spec offsets. */
void put32(uint8_t *b, size_t off, uint32_t v);
void put64(uint8_t *b, size_t off, uint64_t v);
uint32_t get32(const uint8_t *b, size_t off);
uint64_t get64(const uint8_t *b, size_t off);

/* Whether two fds are the same open file (inode). */
bool same_file(int a, int b);

/* The fixture the front-end tests share: a fake back-end, the client attached
 * to its other end, and the fd count to be back at when the test ends. */
struct vdev_vuc;
struct fb_test {
    int fds_before;
    struct fb *fb;
    struct vdev_vuc *c;
};

int  fb_test_setup(void **state);      /* cmocka setup: a fresh fake */
int  fb_test_teardown(void **state);   /* closes both, checks no fd leaked */
/* Starts the fake on its script and a client on the other end. */
void fb_test_attach(struct fb_test *t);
/* Closes the client and waits for the fake to see the end, without error. */
void fb_test_finish(struct fb_test *t);

#endif

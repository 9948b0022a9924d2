/* vu_fixture.h — vdev's vhost-user back-end serving the echo device on a UNIX
 * socket, and a minimal front-end written here from vhost-user.rst: raw headers
 * and payloads, fds by SCM_RIGHTS, real memfds for guest memory, real eventfds.
 *
 * The back-end's control loop runs on a thread of its own; the test is the VMM.
 * The guest's side of the rings is the driver library (virtq_driver.h) on the
 * test's own mapping of the guest memfd, which the test may also write by hand
 * to play a hostile guest.
 *
 * Every test's teardown connects again and runs a clean session (negotiation,
 * memory, a ring, one echo request, GET_VRING_BASE) before it frees anything, so
 * a hostile test passes only if the back-end still serves afterwards; then it
 * checks that every fd the test and the back-end opened is closed. */
#ifndef VDEV_TEST_VU_FIXTURE_H
#define VDEV_TEST_VU_FIXTURE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "helpers.h"
#include "vhost-user/proto.h"

#define VF_MEM_NAME  "vu-guest"
#define VF_MEM_SIZE  (4ull << 20)
#define VF_UVA_BASE  0x7f1200000000ull   /* the front-end's address of guest 0 */
#define VF_RINGS     2
#define VF_BUF_GPA   0x300000ull          /* 256 buffers of 4 KiB */
#define VF_TIMEOUT   3000                 /* ms the test waits for anything */
#define VF_IO_TIMEOUT 300                 /* the back-end's io_timeout_ms */

/* What every session negotiates unless a test says otherwise. */
#define VF_PF_DEFAULT ((1ull << VU_PF_MQ) | (1ull << VU_PF_LOG_SHMFD) |            \
                       (1ull << VU_PF_REPLY_ACK) | (1ull << VU_PF_CONFIG) |        \
                       (1ull << VU_PF_INFLIGHT_SHMFD) | (1ull << VU_PF_RESET_DEVICE) | \
                       (1ull << VU_PF_CONFIGURE_MEM_SLOTS) | (1ull << VU_PF_STATUS) | \
                       (1ull << VU_PF_DEVICE_STATE))

struct vdev_vqd;

struct vf_ring {
    uint16_t size;
    bool packed;
    uint64_t desc, driver, device;       /* guest addresses */
    int kick, call, err;                 /* eventfds, or -1 */
    struct vdev_vqd *drv;
};

struct vf_opts {
    bool hold;                           /* the echo device holds requests */
    uint32_t max_mem_slots;              /* 0: the default */
    bool net;                            /* the echo device poses as net */
};

struct vf {
    struct vf_opts opts;
    int fds_before;

    /* the back-end */
    struct vdev_loop *loop;
    pthread_t thread;
    struct vdev_workers *workers;
    struct vdev_virtio_dev *dev;
    struct vdev_vu_backend *be;
    char dir[48], path[96];

    /* the front-end */
    int sock;
    uint64_t pfeatures;                  /* negotiated */
    bool packed;
    bool skip_enable;                    /* vf_ring_resend() sends no ENABLE */

    /* the guest */
    int memfd;
    uint8_t *guest;                      /* the test's mapping of the memfd */
    struct vdev_mem *gmem;               /* the same, for the driver library */
    struct vf_ring ring[VF_RINGS];
    unsigned next_buf;
};

int vf_setup(void **state);              /* echo device, 2 queues */
int vf_setup_hold(void **state);         /* ... in hold mode */
int vf_setup_slots8(void **state);       /* ... with 8 memory slots */
int vf_setup_net(void **state);          /* ... as a net device with an MTU */
int vf_teardown(void **state);

/* --- the front-end's messages ------------------------------------------------ */

/* Sends one message; fds ride on it. Fails the test if it cannot be sent. */
void     vf_send(struct vf *f, uint32_t req, uint32_t flags, const void *p,
                 uint32_t size, const int *fds, size_t nfds);
/* Reads the reply to req: its payload size, or -ETIMEDOUT / -ECONNRESET. The
 * header must be a reply to req; fds that come are closed unless fd != NULL. */
int      vf_recv(struct vf *f, uint32_t req, void *p, uint32_t cap, int *fd);
/* A request with NEED_REPLY (REPLY_ACK negotiated): returns the ack. */
uint64_t vf_req(struct vf *f, uint32_t req, const void *p, uint32_t size,
                const int *fds, size_t nfds);
uint64_t vf_req_u64(struct vf *f, uint32_t req, uint64_t v);
uint64_t vf_req_state(struct vf *f, uint32_t req, uint32_t index, uint32_t num);
/* A request without payload whose reply is a u64. */
uint64_t vf_get_u64(struct vf *f, uint32_t req);
/* A round trip: every message sent before has been handled. */
void     vf_sync(struct vf *f);
/* True when nothing arrives in ms. */
bool     vf_silent(struct vf *f, int ms);
/* True when the back-end closes the connection within ms. */
bool     vf_closed(struct vf *f, int ms);
/* Closes the connection (if any) and connects again. */
void     vf_connect(struct vf *f);

/* --- a session ------------------------------------------------------------------ */

/* SET_OWNER, GET_FEATURES, GET/SET_PROTOCOL_FEATURES (pf & offered), then
 * SET_FEATURES (VERSION_1 | PROTOCOL_FEATURES | extra). */
void     vf_negotiate(struct vf *f, uint64_t extra, uint64_t pf);
/* SET_MEM_TABLE: the guest memfd, one region at guest 0. */
void     vf_mem_table(struct vf *f);
/* A fresh inflight area for n queues of size (GET then SET_INFLIGHT_FD). */
void     vf_inflight_fresh(struct vf *f, uint16_t n, uint16_t size);
/* Rings of size in guest memory (zeroed), then SET_VRING_NUM, _BASE, _ADDR,
 * _CALL, _ERR, _KICK and _ENABLE. */
void     vf_ring_setup(struct vf *f, unsigned i, uint16_t size);
/* Sends the ring's set-up again (after a reconnect), keeping the guest's rings. */
void     vf_ring_resend(struct vf *f, unsigned i, uint32_t base);
void     vf_ring_free(struct vf *f, unsigned i);
/* A request {msg} -> {256 bytes}; returns its id. vf_kick writes the kick fd. */
uint16_t vf_submit(struct vf *f, unsigned i, const char *msg);
void     vf_kick(struct vf *f, unsigned i);
/* Waits for the call eventfd. */
bool     vf_wait_call(struct vf *f, unsigned i, int ms);
/* Reaps one used element and checks it is the echo of msg for id. */
void     vf_check_echo(struct vf *f, unsigned i, uint16_t id, const char *msg);
/* submit, kick, wait, check. */
void     vf_echo(struct vf *f, unsigned i, const char *msg);
uint32_t vf_get_vring_base(struct vf *f, unsigned i);
/* Connect, negotiate, memory, a fresh inflight area, ring 0, one echo, stop. */
void     vf_clean_session(struct vf *f);

/* Host pointer of guest address gpa. */
void    *vf_host(struct vf *f, uint64_t gpa);
uint64_t vf_uva(uint64_t gpa);
/* A sealed memfd of size bytes. */
int      vf_sealed_memfd(const char *name, uint64_t size);

/* --- the back-end's log -------------------------------------------------------- */

void vf_log_clear(void);
/* True once a line containing needle has been logged (waits up to ms). */
bool vf_log_wait(const char *needle, int ms);

#endif

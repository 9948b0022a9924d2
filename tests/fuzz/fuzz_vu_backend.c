/* fuzz_vu_backend.c — the vhost-user back-end fed a front-end's messages, one
 * after the other, with the fds the input asks for.
 *
 * The harness is the front-end and runs the back-end's control loop itself: it
 * sends one message (vdev_sock_send), runs the loop until it is idle, reads
 * whatever came back without blocking (closing every fd that came), and goes on
 * with the next record. The device's queues run on one worker thread, so a ring
 * that runs reads the guest memory the harness maps and the input writes.
 *
 * Input: a session byte, then records, to the end of the input.
 *   session  bit 0: the device is virtio-blk on a null backend (else echo);
 *            bit 1: the back-end has 2 memory slots (else the default 509).
 *   record   [0] d: bits 0-3 what to attach (FD_*), bits 4-7 how many fds - 1
 *            FD_ACTION is no message but a harness action:
 *              [1] action (ACT_*), then its arguments (see run_action)
 *            any other d is a message:
 *              [1] request, [2] header flags XOR 1 (0: version 1, no flag),
 *              [3] fd argument (a memfd's size in pages, an eventfd's count...),
 *              [4..5] payload size (le16) as the header says it, then the payload.
 *            A payload larger than the input has left is sent as far as it goes
 *            (the back-end then times out on it); a size above VU_MAX_PAYLOAD is
 *            sent without its payload (the back-end drops the connection).
 *
 * Guest memory is one sealed memfd of GUEST_SIZE bytes (FD_GUEST) that the
 * harness maps too; it starts zeroed, ACT_WRITE fills it. Its user address and
 * guest address are whatever SET_MEM_TABLE says.
 *
 * Kicks are made deterministic: the device is wrapped so the harness counts each
 * ring's queue_kick calls and knows which rings run; after each record, a ring
 * whose kick eventfd (the harness's own) is signalled and watched by the worker
 * is waited for until the worker has taken the kick and served it.
 *
 * The back-end's io timeout is 1 ms: every message is in the socket before the
 * loop runs, so only a message the input cut short waits for it.
 *
 * At the end: the back-end is freed, every fd of the harness closed, and the
 * process must hold exactly the fds it held before the input (abort otherwise,
 * listing them); LeakSanitizer checks the memory. FUZZ_VU_VERBOSE=1 prints the
 * back-end's log and each record's time, to study one input. */
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include "vdev/dev_echo.h"
#include "vdev/dev_virtio_blk.h"
#include "vdev/log.h"
#include "vdev/loop.h"
#include "vdev/sock.h"
#include "vdev/vhost_user.h"
#include "vdev/workers.h"
#include "vhost-user/proto.h"

#define GUEST_SIZE   0x10000u        /* 64 KiB of guest memory */
#define NQ           2u              /* queues of either device */
#define MAX_SEND_FDS 16u             /* past the back-end's 8: the too-many path */
#define MAX_PAGES    256u            /* a fresh memfd is at most 1 MiB */
#define PUMP_ROUNDS  32              /* loop rounds per record at most */
#define KICK_WAIT_NS (500u * 1000000u)   /* a worker that takes longer is stuck */

enum fd_kind {
    FD_NONE = 0,
    FD_GUEST = 1,           /* the guest memfd */
    FD_MEMFD = 2,           /* a fresh memfd of [3] pages, not sealed */
    FD_SEALED = 3,          /* a fresh memfd of [3] pages, sealed (shrink, grow) */
    FD_EVENTFD = 4,         /* the eventfd the request's ring index names, count [3] */
    FD_SOCKET = 5,          /* a socket for the back-end channel */
    FD_PIPE_READ = 6,       /* a pipe's read end holding a saved state */
    FD_PIPE_WRITE = 7,      /* a pipe's write end; the harness reads the other */
    FD_LAST = 8,            /* the last fd the back-end sent us */
    FD_DEVNULL = 9,         /* /dev/null: neither file, socket nor eventfd */
    FD_ACTION = 15,
};

enum action {
    ACT_WRITE = 0,          /* [2..3] guest offset, [4..5] length, bytes */
    ACT_KICK = 1,           /* [2] ring: writes its kick eventfd */
    ACT_HANGUP = 2,         /* closes the front-end's socket: the input ends */
    ACT_NOTIFY = 3,         /* [2] ring: config_changed(), vring_call() */
    ACT_WRITE16 = 4,        /* [2..3] guest offset, [4..5] le16 value */
    ACT_COUNT = 5,
};

/* --- the device, wrapped to count kicks ------------------------------------ */

struct wrapped {
    struct vdev_virtio_dev *inner;
    struct vdev_virtio_ops ops;
    struct vdev_virtio_dev dev;
    atomic_bool running[NQ];
    atomic_uint kicks[NQ];          /* queue_kick calls finished */
};

static struct wrapped *wrapped_of(void *priv);

static int w_start(void *priv, struct vdev_virtio_queue *q)
{
    struct wrapped *w = wrapped_of(priv);
    int ret = w->inner->ops->queue_start(w->inner->priv, q);

    if (ret == 0 && q->index < NQ)
        atomic_store(&w->running[q->index], true);
    return ret;
}

static void w_kick(void *priv, struct vdev_virtio_queue *q)
{
    struct wrapped *w = wrapped_of(priv);

    w->inner->ops->queue_kick(w->inner->priv, q);
    if (q->index < NQ)
        atomic_fetch_add(&w->kicks[q->index], 1);
}

static void w_stop(void *priv, struct vdev_virtio_queue *q)
{
    struct wrapped *w = wrapped_of(priv);

    w->inner->ops->queue_stop(w->inner->priv, q);
    if (q->index < NQ)
        atomic_store(&w->running[q->index], false);
}

static struct wrapped devices[2];

/* The wrapper's priv is the inner device's, so every other op passes straight
 * through; the two devices have different privs. */
static struct wrapped *wrapped_of(void *priv)
{
    return devices[0].inner && devices[0].inner->priv == priv ? &devices[0]
                                                               : &devices[1];
}

static void wrap(struct wrapped *w, struct vdev_virtio_dev *inner)
{
    w->inner = inner;
    w->ops = *inner->ops;
    w->ops.queue_start = w_start;
    w->ops.queue_kick = w_kick;
    w->ops.queue_stop = w_stop;
    w->ops.queue_poll = NULL;
    w->dev = (struct vdev_virtio_dev){ .ops = &w->ops, .priv = inner->priv };
}

/* --- what lives across inputs --------------------------------------------------- */

static struct {
    struct vdev_loop *loop;
    struct vdev_workers *workers;
    int guest_fd;
    uint8_t *guest;
    int fds_before;
    bool verbose;
} g;

static void quiet_log(enum vdev_log_level level, const char *line, void *opaque)
{
    (void)opaque;
    if (g.verbose)
        fprintf(stderr, "[%d] %s\n", (int)level, line);
}

static int count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    int n = 0;

    if (!d)
        abort();
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n - 1;                      /* the directory's own fd */
}

/* For the report of a leak: what every open fd is. */
static void list_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;

    while (d && (e = readdir(d)) != NULL) {
        char path[300], target[256];
        ssize_t n;

        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "/proc/self/fd/%s", e->d_name);
        n = readlink(path, target, sizeof(target) - 1);
        target[n > 0 ? n : 0] = 0;
        fprintf(stderr, "  fd %s -> %s\n", e->d_name, target);
    }
    if (d)
        closedir(d);
}

static void setup_once(void)
{
    static bool ready;
    struct vdev_workers_config wc = { .threads = 1, .name = "fuzz" };
    struct vdev_echo_config ec = { .num_queues = NQ };
    struct vdev_virtio_blk_config bc = { .backend = "null:size=1M", .num_queues = NQ,
                                         .queue_size = 256, .serial = "fuzz" };
    struct vdev_virtio_dev *echo, *blk;

    if (ready)
        return;
    g.verbose = getenv("FUZZ_VU_VERBOSE") != NULL;
    vdev_log_set_handler(quiet_log, NULL);
    /* Every line is formatted, so a bad format argument is found too. */
    vdev_log_set_level(VDEV_LOG_DEBUG);
    if (vdev_loop_new(&g.loop) || vdev_workers_new(&wc, &g.workers) ||
        vdev_echo_new(&ec, &echo) || vdev_virtio_blk_new(&bc, &blk))
        abort();
    wrap(&devices[0], echo);
    wrap(&devices[1], blk);
    g.guest_fd = memfd_create("fuzz-vu-guest", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (g.guest_fd < 0 || ftruncate(g.guest_fd, GUEST_SIZE) < 0 ||
        fcntl(g.guest_fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW) < 0)
        abort();
    g.guest = mmap(NULL, GUEST_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, g.guest_fd, 0);
    if (g.guest == MAP_FAILED)
        abort();
    ready = true;
}

/* --- one session ------------------------------------------------------------------ */

struct session {
    struct wrapped *w;
    struct vdev_vu_backend *be;
    int sock;                       /* the front-end's end, or -1 once hung up */
    int kick[NQ], call[NQ], err[NQ];/* the eventfds sent for each ring, or -1 */
    int chan;                       /* the back-end channel's other end, or -1 */
    int save_rd;                    /* a save pipe's read end, or -1 */
    int load_wr;                    /* a load pipe's write end kept open, or -1 */
    int last;                       /* the last fd the back-end sent, or -1 */
};

static void close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

static void drain_fd(int fd)
{
    uint8_t buf[512];

    while (fd >= 0 && read(fd, buf, sizeof(buf)) > 0)
        ;
}

/* Reads every reply there is; fds that came are closed but the last one. */
static void drain_replies(struct session *s)
{
    for (int fd = s->sock; fd >= 0;) {
        uint8_t buf[1024];
        union {
            struct cmsghdr h;
            uint8_t b[CMSG_SPACE(sizeof(int) * VU_MEMORY_BASELINE_NREGIONS)];
        } ctl;
        struct iovec iov = { buf, sizeof(buf) };
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
                             .msg_control = ctl.b, .msg_controllen = sizeof(ctl.b) };
        ssize_t n = recvmsg(fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);

        if (n <= 0)
            break;
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
            if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
                continue;
            size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
            int *fds = (int *)CMSG_DATA(c);
            for (size_t i = 0; i < k; i++) {
                int got;
                memcpy(&got, fds + i, sizeof(got));
                close_fd(&s->last);
                s->last = got;
            }
        }
    }
    drain_fd(s->chan);
    drain_fd(s->save_rd);
}

static void pump(struct session *s)
{
    for (int i = 0; i < PUMP_ROUNDS; i++)
        if (vdev_loop_run_once(g.loop, 0) <= 0)
            break;
    drain_replies(s);
}

static uint64_t now_ns(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static bool readable(int fd)
{
    struct pollfd p = { .fd = fd, .events = POLLIN };

    return poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

/* A ring that runs and whose kick eventfd is signalled: waits until the worker
 * has read the eventfd and finished the queue_kick it makes. The worker makes a
 * kick fd O_NONBLOCK when it starts watching it (workers.h), and the flag is the
 * open file's, shared with the harness's copy: without it, no worker watches
 * this eventfd and there is nothing to wait for. */
static void settle(struct session *s)
{
    for (unsigned i = 0; i < NQ; i++) {
        int fd = s->kick[i];
        unsigned before;
        uint64_t t0;

        if (fd < 0 || !atomic_load(&s->w->running[i]) ||
            !(fcntl(fd, F_GETFL) & O_NONBLOCK) || !readable(fd))
            continue;
        before = atomic_load(&s->w->kicks[i]);
        t0 = now_ns();
        while (atomic_load(&s->w->running[i]) &&
               (readable(fd) || atomic_load(&s->w->kicks[i]) == before)) {
            if (now_ns() - t0 > KICK_WAIT_NS)
                break;
            sched_yield();
        }
    }
}

static uint16_t le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

/* The ring index a KICK/CALL/ERR payload names (bits 0-7), or NQ. */
static unsigned ring_index(uint32_t request, const uint8_t *p, uint32_t len)
{
    if (len < 1)
        return NQ;
    if (request == VU_SET_VRING_KICK || request == VU_SET_VRING_CALL ||
        request == VU_SET_VRING_ERR)
        return p[0] < NQ ? p[0] : NQ;
    return NQ;
}

static int new_memfd(unsigned pages, bool sealed)
{
    int fd = memfd_create("fuzz-vu-fd", MFD_CLOEXEC | MFD_ALLOW_SEALING);

    if (fd < 0)
        abort();
    if (ftruncate(fd, (off_t)(pages % (MAX_PAGES + 1)) * 4096) < 0)
        abort();
    if (sealed && fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW) < 0)
        abort();
    return fd;
}

/* The eventfd a message carries: the ring's own (kept, replacing the one sent
 * before) for KICK/CALL/ERR of a ring the device has, else a fresh one. */
static int message_eventfd(struct session *s, uint32_t request, unsigned ring,
                           uint8_t count, bool first)
{
    int fd = eventfd(count, EFD_CLOEXEC), *slot = NULL;

    if (fd < 0)
        abort();
    if (first && ring < NQ)
        slot = request == VU_SET_VRING_KICK ? &s->kick[ring] :
               request == VU_SET_VRING_CALL ? &s->call[ring] : &s->err[ring];
    if (slot) {
        close_fd(slot);
        *slot = fd;
    }
    return fd;
}

/* A saved echo state in a pipe: magic (wrong if arg bit 0), scratch = arg; the
 * write end is closed unless arg bit 1 (then the back-end waits for the rest). */
static int load_pipe(struct session *s, uint8_t arg)
{
    uint32_t state[4] = { arg & 1 ? 0 : VDEV_ECHO_MAGIC, arg, 0, 0 };
    int p[2];

    if (pipe2(p, O_CLOEXEC) < 0)
        abort();
    if (write(p[1], state, sizeof(state)) != (ssize_t)sizeof(state))
        abort();
    close_fd(&s->load_wr);
    if (arg & 2)
        s->load_wr = p[1];
    else
        close(p[1]);
    return p[0];
}

/* Makes the fds a message carries: fds[] are the harness's to close after the
 * send, except the ones the session keeps (kept[i]). Returns the count. */
static size_t make_fds(struct session *s, uint8_t d, uint8_t arg, uint32_t request,
                       unsigned ring, int *fds, bool *kept)
{
    size_t n = (size_t)(d >> 4) + 1;
    int p[2], base = -1;

    for (size_t i = 0; i < n; i++)
        kept[i] = false;
    switch (d & 15) {
    case FD_GUEST:
        for (size_t i = 0; i < n; i++) {
            fds[i] = g.guest_fd;
            kept[i] = true;
        }
        return n;
    case FD_MEMFD:
    case FD_SEALED:
        base = new_memfd(arg, (d & 15) == FD_SEALED);
        break;
    case FD_EVENTFD:
        for (size_t i = 0; i < n; i++) {
            fds[i] = message_eventfd(s, request, ring, arg, i == 0);
            kept[i] = i == 0 && ring < NQ;
        }
        return n;
    case FD_SOCKET:
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, p) < 0)
            abort();
        close_fd(&s->chan);
        s->chan = p[1];
        base = p[0];
        break;
    case FD_PIPE_READ:
        base = load_pipe(s, arg);
        break;
    case FD_PIPE_WRITE:
        if (pipe2(p, O_CLOEXEC | O_NONBLOCK) < 0)
            abort();
        close_fd(&s->save_rd);
        s->save_rd = p[0];
        base = p[1];
        break;
    case FD_LAST:
        if (s->last < 0)
            return 0;
        base = dup(s->last);
        break;
    case FD_DEVNULL:
        base = open("/dev/null", O_RDWR | O_CLOEXEC);
        break;
    default:
        return 0;
    }
    if (base < 0)
        abort();
    /* More than one: the same file again (dup), each closed after the send. */
    fds[0] = base;
    for (size_t i = 1; i < n; i++)
        if ((fds[i] = dup(base)) < 0)
            abort();
    return n;
}

/* One message; returns the bytes of the record it used. */
static size_t send_message(struct session *s, const uint8_t *r, size_t len)
{
    struct {
        struct vu_header hdr;
        uint8_t payload[0x10000];
    } __attribute__((packed)) wire;
    int fds[MAX_SEND_FDS];
    bool kept[MAX_SEND_FDS];
    uint32_t size, have;
    size_t nfds;
    unsigned ring;
    int ret;

    if (len < 6)
        return len;
    size = le16(r + 4);
    have = len - 6 < size ? (uint32_t)(len - 6) : size;
    if (size > VU_MAX_PAYLOAD)
        have = 0;                      /* dropped before a byte of it is read */
    wire.hdr.request = r[1];
    wire.hdr.flags = r[2] ^ VU_VERSION;
    wire.hdr.size = size;
    memcpy(wire.payload, r + 6, have);
    ring = ring_index(r[1], r + 6, have);

    /* The harness forgets a ring's kick eventfd when the ring stops for good:
     * GET_VRING_BASE and RESET_DEVICE close the back-end's copy. */
    if (r[1] == VU_GET_VRING_BASE && have >= 4 && r[6] < NQ && !r[7] && !r[8] && !r[9])
        close_fd(&s->kick[r[6]]);
    if (r[1] == VU_RESET_DEVICE)
        for (unsigned i = 0; i < NQ; i++)
            close_fd(&s->kick[i]);

    nfds = make_fds(s, r[0], r[3], r[1], ring, fds, kept);
    ret = vdev_sock_send(s->sock, &wire, sizeof(wire.hdr) + have, fds, nfds, 1000);
    for (size_t i = 0; i < nfds; i++)
        if (!kept[i])
            close(fds[i]);
    if (ret < 0)
        close_fd(&s->sock);            /* the back-end has gone: the session ends */
    else
        pump(s);
    return 6 + have;
}

static void guest_write(const uint8_t *src, uint16_t off, size_t n)
{
    if (n > GUEST_SIZE - off)
        n = GUEST_SIZE - off;
    memcpy(g.guest + off, src, n);
}

/* One harness action; returns the bytes of the record it used. */
static size_t run_action(struct session *s, const uint8_t *r, size_t len)
{
    size_t used = 2, n;
    uint64_t one = 1;
    unsigned ring;

    if (len < 2)
        return len;
    switch (r[1] % ACT_COUNT) {
    case ACT_WRITE:
        if (len < 6)
            return len;
        n = le16(r + 4);
        if (n > len - 6)
            n = len - 6;
        guest_write(r + 6, le16(r + 2) % GUEST_SIZE, n);
        return 6 + n;
    case ACT_WRITE16:
        if (len < 6)
            return len;
        guest_write(r + 4, le16(r + 2) % GUEST_SIZE, 2);
        return 6;
    case ACT_KICK:
        if (len < 3)
            return len;
        ring = r[2] % NQ;
        if (s->kick[ring] >= 0 && write(s->kick[ring], &one, sizeof(one)) < 0)
            abort();
        pump(s);                       /* a stopped ring starts on it */
        return 3;
    case ACT_HANGUP:
        close_fd(&s->sock);
        pump(s);
        return used;
    case ACT_NOTIFY:
        if (len < 3)
            return len;
        vdev_vu_backend_config_changed(s->be);
        vdev_vu_backend_vring_call(s->be, r[2]);
        pump(s);
        return 3;
    }
    return used;
}

static void session_end(struct session *s)
{
    if (g.verbose) {
        /* The seeds put split used rings at 0x2000 and 0x6000: their idx. */
        uint16_t used0, used1;

        memcpy(&used0, g.guest + 0x2002, 2);
        memcpy(&used1, g.guest + 0x6002, 2);
        fprintf(stderr, "seed used idx: %u %u\n", used0, used1);
        for (unsigned i = 0; i < NQ; i++)
            fprintf(stderr, "ring %u: %u kicks served\n", i,
                    atomic_load(&s->w->kicks[i]));
    }
    vdev_vu_backend_free(s->be);       /* stops every ring, drops the front-end */
    close_fd(&s->sock);
    for (unsigned i = 0; i < NQ; i++) {
        close_fd(&s->kick[i]);
        close_fd(&s->call[i]);
        close_fd(&s->err[i]);
    }
    close_fd(&s->chan);
    close_fd(&s->save_rd);
    close_fd(&s->load_wr);
    close_fd(&s->last);
    /* Calls queued on the control loop after the back-end went (none expected)
     * would run here and find it freed: run them now under ASan's eyes. */
    vdev_loop_run_once(g.loop, 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct vdev_vu_backend_config bc = { .listen_fd = -1, .io_timeout_ms = 1 };
    struct session s = { .sock = -1, .chan = -1, .save_rd = -1, .load_wr = -1,
                         .last = -1 };
    int sv[2], fds;
    size_t pos = 1;

    setup_once();
    if (size < 1)
        return 0;
    /* Counted per input: the sanitizers' symbolizer may open pipes between
     * inputs, and those stay. */
    g.fds_before = count_fds();
    for (unsigned i = 0; i < NQ; i++)
        s.kick[i] = s.call[i] = s.err[i] = -1;
    s.w = &devices[data[0] & 1];
    for (unsigned i = 0; i < NQ; i++) {
        atomic_store(&s.w->kicks[i], 0);
        if (atomic_load(&s.w->running[i]))
            abort();                   /* a ring of the last input still runs */
    }
    if (s.w->ops.reset)
        s.w->ops.reset(s.w->dev.priv);
    memset(g.guest, 0, GUEST_SIZE);

    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) < 0)
        abort();
    bc.loop = g.loop;
    bc.workers = g.workers;
    bc.dev = &s.w->dev;
    bc.conn_fd = sv[1];
    bc.max_mem_slots = (data[0] & 2) ? 2 : 0;
    if (vdev_vu_backend_new(&bc, &s.be) < 0)
        abort();
    s.sock = sv[0];

    while (pos < size && s.sock >= 0) {
        const uint8_t *r = data + pos;
        size_t left = size - pos;
        uint64_t t0 = g.verbose ? now_ns() : 0;

        pos += (r[0] & 15) == FD_ACTION ? run_action(&s, r, left)
                                        : send_message(&s, r, left);
        settle(&s);
        if (g.verbose)
            fprintf(stderr, "record %02x %3u: %llu us\n", r[0], left > 1 ? r[1] : 0,
                    (unsigned long long)(now_ns() - t0) / 1000);
    }
    session_end(&s);

    fds = count_fds();
    if (fds != g.fds_before) {
        fprintf(stderr, "fuzz_vu_backend: %d fds open after the input, %d before\n",
                fds, g.fds_before);
        list_fds();
        abort();
    }
    return 0;
}

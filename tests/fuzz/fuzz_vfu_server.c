/* fuzz_vfu_server.c — the vfio-user server fed a client's messages, with the fds
 * the input asks for, serving the sample PCI device through the pci_vfu adapter
 * so region accesses, irqs, DMA and migration reach real device code.
 *
 * The harness is the client and runs the server's loop itself: it writes one
 * record's bytes to its end of a socketpair (the server took the other as
 * conn_fd), runs the loop until it is idle, and reads back whatever came without
 * blocking (closing every fd that came), then goes on with the next record.
 *
 * Input: records, to the end of the input.
 *   [0] d: bits 0-2 what to attach (FD_*), bit 3 hold (queue the bytes and do
 *          not run the loop: the next records arrive in the same receive),
 *          bits 4-7 how many fds - 1
 *   [1] fd argument: a memfd's size in pages (0..256, so at most 1 MiB), an
 *       eventfd's initial count
 *   [2..3] length (le16) of the bytes that follow; they are sent as they are,
 *       header included, so the header may lie about msg_size. A length past
 *       the input's end takes what is left.
 * The fds ride on the record's first byte.
 *
 * The server's io_timeout_ms is 10 ms: every byte is in the socket before the
 * loop runs, so only a message the input cut short, or a reply the harness
 * has not read, waits for it. The twin socket the server may set up is closed
 * by the harness when it arrives, so a DMA command on it fails at once.
 *
 * At the end: the client's socket is closed, the loop runs so the server sees
 * the end, everything is freed, and the process must hold exactly the fds it
 * held before the input (abort otherwise, listing them); LeakSanitizer checks
 * the memory. FUZZ_VFU_VERBOSE=1 prints the server's log. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include "vdev/dev_sample.h"
#include "vdev/log.h"
#include "vdev/loop.h"
#include "vdev/pci_vfu.h"
#include "vdev/vfio_user.h"

#define MAX_SEND_FDS  20u          /* past the server's 16: the too-many path */
#define MAX_PAGES     256u         /* a memfd is at most 1 MiB */
#define PUMP_ROUNDS   64           /* loop rounds per record at most */
#define SEND_ROUNDS   64           /* loop rounds to make room for one record */
#define IO_TIMEOUT_MS 10

enum fd_kind {
    FD_NONE = 0,
    FD_MEMFD = 1,           /* one memfd of [1] pages, dup'ed for each fd */
    FD_EVENTFD = 2,         /* a fresh eventfd for each fd, count [1] */
    FD_MIXED = 3,           /* eventfd, memfd, eventfd, ... */
    FD_DEVNULL = 4,         /* /dev/null: neither memory, socket nor eventfd */
    FD_SOCKET = 5,          /* one end of a fresh socketpair */
};
#define D_HOLD 0x8u

static struct {
    struct vdev_loop *loop;
    bool verbose;
} g;

struct session {
    struct vdev_sample *dev;
    struct vdev_pci_vfu *adapter;
    struct vdev_vfu_server *srv;
    int sock;                       /* the client's end, or -1 once gone */
};

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

    if (ready)
        return;
    g.verbose = getenv("FUZZ_VFU_VERBOSE") != NULL;
    vdev_log_set_handler(quiet_log, NULL);
    /* Every line is formatted, so a bad format argument is found too. */
    vdev_log_set_level(VDEV_LOG_DEBUG);
    if (vdev_loop_new(&g.loop))
        abort();
    ready = true;
}

/* DMA goes to the memory of the client connected at the time. */
static struct vdev_mem *sample_dma_mem(void *opaque)
{
    struct session *s = opaque;

    return s->srv ? vdev_vfu_server_mem(s->srv) : NULL;
}

/* The sample device served on the server's end of a socketpair, as a daemon
 * serves it (tests/integration/test_vfu_sample.c). */
static void session_start(struct session *s)
{
    struct vdev_sample_config dc = { .dma_mem = sample_dma_mem, .opaque = s };
    struct vdev_pci_vfu_config ac = { .dev = vdev_sample_vfu_device(), .loop = g.loop };
    struct vdev_vfu_server_config sc = {
        .loop = g.loop, .listen_fd = -1, .io_timeout_ms = IO_TIMEOUT_MS,
    };
    int sv[2];

    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        abort();
    if (vdev_sample_new(&dc, &s->dev))
        abort();
    ac.pci = vdev_sample_pci(s->dev);
    ac.opaque = s->dev;
    if (vdev_pci_vfu_new(&ac, &s->adapter))
        abort();
    sc.ops = vdev_pci_vfu_ops(s->adapter);
    sc.opaque = s->adapter;
    sc.conn_fd = sv[1];
    if (vdev_vfu_server_new(&sc, &s->srv))
        abort();
    vdev_pci_vfu_attach(s->adapter, s->srv);
    s->sock = sv[0];
}

static void close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

/* Reads every reply there is and closes every fd that came (region fds, the
 * twin socket). */
static void drain_replies(struct session *s)
{
    while (s->sock >= 0) {
        uint8_t buf[4096];
        union {
            struct cmsghdr h;
            uint8_t b[CMSG_SPACE(sizeof(int) * 64)];
        } ctl;
        struct iovec iov = { buf, sizeof(buf) };
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
                             .msg_control = ctl.b, .msg_controllen = sizeof(ctl.b) };
        ssize_t n = recvmsg(s->sock, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);

        if (n <= 0)
            break;
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
            if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
                continue;
            size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
            for (size_t i = 0; i < k; i++) {
                int got;

                memcpy(&got, CMSG_DATA(c) + i * sizeof(int), sizeof(got));
                close(got);
            }
        }
    }
}

/* Runs the loop until it is idle, reading replies as they come so the
 * server's socket never fills. */
static void pump(struct session *s)
{
    for (int i = 0; i < PUMP_ROUNDS; i++) {
        drain_replies(s);
        if (vdev_loop_run_once(g.loop, 0) <= 0)
            break;
    }
    drain_replies(s);
}

static uint16_t le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static int new_memfd(unsigned pages)
{
    int fd = memfd_create("fuzz-vfu-dma", MFD_CLOEXEC);

    if (fd < 0)
        abort();
    if (ftruncate(fd, (off_t)(pages % (MAX_PAGES + 1)) * 4096) < 0)
        abort();
    return fd;
}

static int new_eventfd(unsigned count)
{
    int fd = eventfd(count, EFD_CLOEXEC | EFD_NONBLOCK);

    if (fd < 0)
        abort();
    return fd;
}

/* Makes the fds a record carries, all the harness's to close after the send.
 * Returns the count. */
static size_t make_fds(uint8_t d, uint8_t arg, int *fds)
{
    size_t n = (size_t)(d >> 4) + 1;
    int base = -1, p[2];

    switch (d & 7) {
    case FD_EVENTFD:
        for (size_t i = 0; i < n; i++)
            fds[i] = new_eventfd(arg);
        return n;
    case FD_MIXED:
        for (size_t i = 0; i < n; i++)
            fds[i] = i % 2 ? new_memfd(arg) : new_eventfd(arg);
        return n;
    case FD_MEMFD:
        base = new_memfd(arg);
        break;
    case FD_DEVNULL:
        base = open("/dev/null", O_RDWR | O_CLOEXEC);
        break;
    case FD_SOCKET:
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p) < 0)
            abort();
        close(p[1]);                   /* the peer is gone at once */
        base = p[0];
        break;
    default:
        return 0;
    }
    if (base < 0)
        abort();
    /* More than one: the same file again. */
    fds[0] = base;
    for (size_t i = 1; i < n; i++)
        if ((fds[i] = dup(base)) < 0)
            abort();
    return n;
}

/* Writes len bytes, the fds on the first; when the socket is full, runs the
 * loop to let the server read. Returns false if the server has gone (or will
 * not read). */
static bool send_all(struct session *s, const uint8_t *p, size_t len, const int *fds,
                     size_t nfds)
{
    int rounds = 0;

    while (len > 0) {
        union {
            struct cmsghdr h;
            uint8_t b[CMSG_SPACE(sizeof(int) * MAX_SEND_FDS)];
        } ctl;
        struct iovec iov = { (void *)p, len };
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
        ssize_t n;

        if (nfds) {
            memset(&ctl, 0, sizeof(ctl));
            mh.msg_control = ctl.b;
            mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
            struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
            c->cmsg_level = SOL_SOCKET;
            c->cmsg_type = SCM_RIGHTS;
            c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
            memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
        }
        n = sendmsg(s->sock, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n > 0) {
            p += n;
            len -= (size_t)n;
            nfds = 0;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno != EAGAIN)
            return false;
        if (++rounds > SEND_ROUNDS)
            return false;
        pump(s);
        if (s->sock < 0)
            return false;
    }
    return true;
}

/* One record; returns the bytes of the input it used. */
static size_t send_record(struct session *s, const uint8_t *r, size_t len)
{
    int fds[MAX_SEND_FDS];
    size_t nfds, have;

    if (len < 4)
        return len;
    have = le16(r + 2);
    if (have > len - 4)
        have = len - 4;
    if (have == 0)
        return 4;                      /* fds ride on a byte: none to send */
    nfds = make_fds(r[0], r[1], fds);
    if (!send_all(s, r + 4, have, fds, nfds))
        close_fd(&s->sock);            /* the server has gone: the session ends */
    for (size_t i = 0; i < nfds; i++)
        close(fds[i]);
    if (s->sock >= 0 && !(r[0] & D_HOLD))
        pump(s);
    return 4 + have;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct session s = { .sock = -1 };
    int fds_before;

    setup_once();
    fds_before = count_fds();
    session_start(&s);
    while (size > 0 && s.sock >= 0) {
        size_t used = send_record(&s, data, size);

        data += used;
        size -= used;
    }
    if (s.sock >= 0) {
        pump(&s);
        close_fd(&s.sock);
    }
    /* The server hears the end and drops the client. */
    for (int i = 0; i < PUMP_ROUNDS; i++)
        if (vdev_loop_run_once(g.loop, 0) <= 0)
            break;
    vdev_vfu_server_free(s.srv);
    s.srv = NULL;
    vdev_pci_vfu_free(s.adapter);
    vdev_sample_free(s.dev);
    if (count_fds() != fds_before) {
        fprintf(stderr, "fd leak: %d fds before the input, %d after\n", fds_before,
                count_fds());
        list_fds();
        abort();
    }
    return 0;
}

/* vfu_bench.c — vfio-user register accesses per second: vdev's client against
 * vdev's server serving the sample device (BAR 0, 4-byte registers), over a
 * UNIX stream socketpair, the server on its own loop thread (cpu 1), the client
 * on the main thread (cpu 0).
 *
 *   round trip  synchronous REGION_READ of 4 bytes
 *   posted      REGION_WRITE of 4 bytes with No_reply; the clock stops after
 *               one synchronous REGION_READ, which the server answers only once
 *               it has applied every write before it ("Command Concurrency"),
 *               and which must return the last value written.
 *
 * The floor, measured in the same run on the same kind of socket and cpus: a
 * bare echo that moves the same byte counts with the same syscalls and no
 * protocol at all. Round trip: the client sendmsg()s 32 bytes (header 16 +
 * region_access 16) and recvmsg()s the 36-byte reply (+ 4 data); the echo
 * thread reads in batches with one recvmsg() and sendmsg()s a reply for each
 * whole request. Posted: the client sends 36-byte messages (the REGION_WRITE's
 * size) and the thread only reads them, until a last one asks for a reply.
 *
 *   vdev-bench-vfu [seconds per case, default 1] [rounds, default 3]
 *
 * Each case runs that long in every round; the best round of each is kept. */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>
#include <linux/pci_regs.h>
#include <linux/vfio.h>

#include "vdev/dev_sample.h"
#include "vdev/log.h"
#include "vdev/loop.h"
#include "vdev/pci_vfu.h"
#include "vdev/vfio_user.h"
#include "vdev/vfio_user_client.h"

#define CLIENT_CPU   0
#define SERVER_CPU   1
#define TIMEOUT_MS   10000
#define CLOCK_EVERY  64            /* ops between two looks at the clock */
#define BAR0         VFIO_PCI_BAR0_REGION_INDEX
#define CONFIG       VFIO_PCI_CONFIG_REGION_INDEX

/* The wire sizes of the messages measured (vfio-user.rst, "Header" and
 * "VFIO_USER_REGION_READ"/"VFIO_USER_REGION_WRITE"). */
#define HDR_SIZE     16u
#define ACCESS_SIZE  16u
#define DATA_SIZE    4u
#define READ_REQ     (HDR_SIZE + ACCESS_SIZE)               /* 32 */
#define READ_REPLY   (HDR_SIZE + ACCESS_SIZE + DATA_SIZE)   /* 36 */
#define WRITE_REQ    (HDR_SIZE + ACCESS_SIZE + DATA_SIZE)   /* 36 */

static double seconds = 1.0;

static double clock_of(clockid_t id)
{
    struct timespec ts;

    clock_gettime(id, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double now(void)
{
    return clock_of(CLOCK_MONOTONIC);
}

/* What a case measured: its rate, and the cpu time both threads spent per op
 * (user and system), which other load on the machine disturbs less than the
 * rate: it shows the work done, the rate also shows the wake-ups waited for. */
struct result {
    double ops;                /* per second */
    double cpu_us;             /* per op */
};

static double cpu_t0;

static void measure_start(void)
{
    cpu_t0 = clock_of(CLOCK_PROCESS_CPUTIME_ID);
}

static struct result measured(uint64_t ops, double elapsed)
{
    double cpu = clock_of(CLOCK_PROCESS_CPUTIME_ID) - cpu_t0;

    return (struct result){ .ops = (double)ops / elapsed, .cpu_us = cpu * 1e6 / (double)ops };
}

static void die(const char *what, int err)
{
    fprintf(stderr, "vdev-bench-vfu: %s: %s\n", what, strerror(err < 0 ? -err : err));
    exit(1);
}

/* Pins the calling thread; a machine without that cpu runs unpinned (said once). */
static void pin(int cpu)
{
    static bool warned;
    cpu_set_t set;

    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (pthread_setaffinity_np(pthread_self(), sizeof(set), &set) != 0 && !warned) {
        warned = true;
        fprintf(stderr, "vdev-bench-vfu: cannot pin to cpu %d: running unpinned\n", cpu);
    }
}

/* --- bare I/O, as vdev_sock_send/recv and the server's reader make it -------- */

static void send_all(int fd, const void *buf, size_t len)
{
    struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
    struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

    while (iov.iov_len) {
        ssize_t n = sendmsg(fd, &mh, MSG_NOSIGNAL);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            die("floor sendmsg", n < 0 ? errno : EPIPE);
        iov.iov_base = (uint8_t *)iov.iov_base + n;
        iov.iov_len -= (size_t)n;
    }
}

/* One recvmsg() of up to len bytes; 0 at the end of the stream. */
static size_t recv_some(int fd, void *buf, size_t len)
{
    struct iovec iov = { .iov_base = buf, .iov_len = len };
    struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
    ssize_t n;

    do
        n = recvmsg(fd, &mh, 0);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        die("floor recvmsg", errno);
    return (size_t)n;
}

static void recv_all(int fd, void *buf, size_t len)
{
    for (size_t got = 0; got < len;) {
        size_t n = recv_some(fd, (uint8_t *)buf + got, len - got);

        if (n == 0)
            die("floor recvmsg", EPIPE);
        got += n;
    }
}

/* --- the floor --------------------------------------------------------------- */

enum floor_kind { FLOOR_ECHO, FLOOR_POSTED };

struct floor {
    int fd;
    enum floor_kind kind;
};

/* Byte 0 of a floor message: 1 asks for a reply (every round trip, and the
 * last posted message), 2 ends the thread. */
#define FLOOR_REPLY 1
#define FLOOR_END   2

static void *floor_thread(void *arg)
{
    struct floor *f = arg;
    size_t req = f->kind == FLOOR_ECHO ? READ_REQ : WRITE_REQ;
    static uint8_t buf[64 * 1024];
    uint8_t reply[READ_REPLY] = { 0 };
    size_t have = 0;

    pin(SERVER_CPU);
    for (;;) {
        size_t n = recv_some(f->fd, buf + have, sizeof(buf) - have), at = 0;

        if (n == 0)
            return NULL;
        have += n;
        for (; have - at >= req; at += req) {
            if (buf[at] == FLOOR_END)
                return NULL;
            if (buf[at] == FLOOR_REPLY)
                send_all(f->fd, reply, sizeof(reply));
        }
        memmove(buf, buf + at, have - at);
        have -= at;
    }
}

static struct result floor_run(enum floor_kind kind)
{
    struct floor f = { .kind = kind };
    uint8_t msg[WRITE_REQ] = { 0 }, reply[READ_REPLY];
    size_t req = kind == FLOOR_ECHO ? READ_REQ : WRITE_REQ;
    int sv[2];
    pthread_t t;
    uint64_t ops = 0;
    double t0, t1;
    struct result res;

    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        die("socketpair", errno);
    f.fd = sv[1];
    if (pthread_create(&t, NULL, floor_thread, &f) != 0)
        die("pthread_create", EAGAIN);
    msg[0] = kind == FLOOR_ECHO ? FLOOR_REPLY : 0;
    measure_start();
    t0 = t1 = now();
    for (;;) {
        for (int i = 0; i < CLOCK_EVERY; i++) {
            send_all(sv[0], msg, req);
            if (kind == FLOOR_ECHO)
                recv_all(sv[0], reply, sizeof(reply));
        }
        ops += CLOCK_EVERY;
        if ((t1 = now()) - t0 >= seconds)
            break;
    }
    if (kind == FLOOR_POSTED) {      /* every message read before the clock stops */
        msg[0] = FLOOR_REPLY;
        send_all(sv[0], msg, req);
        recv_all(sv[0], reply, sizeof(reply));
        t1 = now();
    }
    res = measured(ops, t1 - t0);
    msg[0] = FLOOR_END;
    send_all(sv[0], msg, req);
    pthread_join(t, NULL);
    close(sv[0]);
    close(sv[1]);
    return res;
}

/* --- the peer: vdev's server and client -------------------------------------- */

struct peer {
    struct vdev_loop *loop;
    struct vdev_sample *dev;
    struct vdev_pci_vfu *adapter;
    struct vdev_vfu_server *srv;
    struct vdev_vfuc *c;
    pthread_t thread;
};

static struct vdev_mem *peer_dma_mem(void *opaque)
{
    struct peer *p = opaque;

    return vdev_vfu_server_mem(p->srv);
}

static void *loop_thread(void *arg)
{
    pin(SERVER_CPU);
    vdev_loop_run(arg);
    return NULL;
}

static void peer_start(struct peer *p)
{
    struct vdev_sample_config dc = { .dma_mem = peer_dma_mem, .opaque = p };
    struct vdev_pci_vfu_config ac = { .dev = vdev_sample_vfu_device() };
    struct vdev_vfu_server_config sc = { .socket_path = NULL, .listen_fd = -1 };
    uint16_t cmd = PCI_COMMAND_MEMORY;
    int sv[2], ret;

    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        die("socketpair", errno);
    if ((ret = vdev_loop_new(&p->loop)) < 0 || (ret = vdev_sample_new(&dc, &p->dev)) < 0)
        die("loop or device", ret);
    ac.pci = vdev_sample_pci(p->dev);
    ac.opaque = p->dev;
    ac.loop = p->loop;
    if ((ret = vdev_pci_vfu_new(&ac, &p->adapter)) < 0)
        die("vdev_pci_vfu_new", ret);
    sc.loop = p->loop;
    sc.ops = vdev_pci_vfu_ops(p->adapter);
    sc.opaque = p->adapter;
    sc.conn_fd = sv[1];
    if ((ret = vdev_vfu_server_new(&sc, &p->srv)) < 0)
        die("vdev_vfu_server_new", ret);
    vdev_pci_vfu_attach(p->adapter, p->srv);
    if (pthread_create(&p->thread, NULL, loop_thread, p->loop) != 0)
        die("pthread_create", EAGAIN);
    if ((ret = vdev_vfuc_from_fd(sv[0], TIMEOUT_MS, &p->c)) < 0 ||
        (ret = vdev_vfuc_negotiate(p->c, NULL, NULL)) < 0)
        die("connecting the client", ret);
    /* Memory decoding on, as a driver does: else BAR reads are all ones. */
    ret = vdev_vfuc_region_write(p->c, CONFIG, PCI_COMMAND, &cmd, sizeof(cmd), false);
    if (ret < 0)
        die("enabling decoding", ret);
}

static void peer_stop(struct peer *p)
{
    vdev_vfuc_close(p->c);
    vdev_loop_stop(p->loop);
    pthread_join(p->thread, NULL);
    vdev_vfu_server_free(p->srv);
    vdev_pci_vfu_free(p->adapter);
    vdev_sample_free(p->dev);
    vdev_loop_free(p->loop);
}

static uint32_t rd32(struct vdev_vfuc *c, uint64_t off)
{
    uint32_t v = 0;
    int ret = vdev_vfuc_region_read(c, BAR0, off, &v, sizeof(v));

    if (ret < 0)
        die("REGION_READ", ret);
    return v;
}

static struct result peer_reads(struct peer *p)
{
    uint64_t ops = 0;
    double t0, t1;

    measure_start();
    t0 = now();

    for (;;) {
        for (int i = 0; i < CLOCK_EVERY; i++)
            if (rd32(p->c, VDEV_SAMPLE_REG_ID) != VDEV_SAMPLE_ID)
                die("REGION_READ of the ID register", EIO);
        ops += CLOCK_EVERY;
        if ((t1 = now()) - t0 >= seconds)
            break;
    }
    return measured(ops, t1 - t0);
}

static struct result peer_posted_writes(struct peer *p)
{
    static uint32_t v;
    uint64_t ops = 0;
    double t0, t1;
    int ret;

    measure_start();
    t0 = now();

    for (;;) {
        for (int i = 0; i < CLOCK_EVERY; i++) {
            v++;
            ret = vdev_vfuc_region_write(p->c, BAR0, VDEV_SAMPLE_REG_LEN, &v,
                                         sizeof(v), true);
            if (ret < 0)
                die("posted REGION_WRITE", ret);
        }
        ops += CLOCK_EVERY;
        if (now() - t0 >= seconds)
            break;
    }
    /* The read is answered after every write before it was applied. */
    if (rd32(p->c, VDEV_SAMPLE_REG_LEN) != v) {
        fprintf(stderr, "vdev-bench-vfu: the device did not see the last posted write\n");
        exit(1);
    }
    t1 = now();
    return measured(ops, t1 - t0);
}

/* --- the table --------------------------------------------------------------- */

static void row(const char *name, struct result r, struct result floor)
{
    printf("  %-30s %10.0f %8.2f %7.2f %10.2f %7.2f\n", name, r.ops, 1e6 / r.ops,
           r.ops / floor.ops, r.cpu_us, r.cpu_us / floor.cpu_us);
}

/* The round with the highest rate. */
static void keep_best(struct result *best, struct result r)
{
    if (r.ops > best->ops)
        *best = r;
}

int main(int argc, char **argv)
{
    struct result rt_floor = { 0 }, posted_floor = { 0 }, rt = { 0 }, posted = { 0 };
    int rounds = 3;
    struct peer p = { 0 };

    if (argc > 1)
        seconds = atof(argv[1]);
    if (argc > 2)
        rounds = atoi(argv[2]);
    if (seconds <= 0 || rounds <= 0) {
        fprintf(stderr, "usage: vdev-bench-vfu [seconds per case] [rounds]\n");
        return 2;
    }
    vdev_log_set_level(VDEV_LOG_WARN);
    pin(CLIENT_CPU);
    peer_start(&p);
    for (int r = 0; r < rounds; r++) {
        keep_best(&rt_floor, floor_run(FLOOR_ECHO));
        keep_best(&rt, peer_reads(&p));
        keep_best(&posted_floor, floor_run(FLOOR_POSTED));
        keep_best(&posted, peer_posted_writes(&p));
    }
    peer_stop(&p);

    printf("vfio-user, 4-byte BAR 0 accesses to the sample device, client cpu %d, "
           "server cpu %d\n(best of %d rounds, %.1f s each; floor: a bare echo of the "
           "same sizes, same socket kind)\n\n", CLIENT_CPU, SERVER_CPU, rounds, seconds);
    printf("  %-30s %10s %8s %7s %10s %7s\n", "case", "ops/s", "us/op", "/floor",
           "cpu us/op", "/floor");
    row("floor: echo 32 B -> 36 B", rt_floor, rt_floor);
    row("REGION_READ 4 B (round trip)", rt, rt_floor);
    row("floor: posted 36 B", posted_floor, posted_floor);
    row("REGION_WRITE 4 B posted", posted, posted_floor);
    printf("\n  posted writes / round trips: %.2f\n", posted.ops / rt.ops);
    return 0;
}

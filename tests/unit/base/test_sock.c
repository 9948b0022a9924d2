/* Messages with fds over UNIX stream sockets: round trips, short reads and writes,
 * EINTR, every way fds can come in excess, end of stream, timeouts, EPIPE, and no
 * fd left open after any of them. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "vdev/sock.h"
#include "helpers.h"

#define MIB (1024 * 1024)

struct fixture {
    int sv[2];          /* sv[0] receives, sv[1] sends, unless a test says else */
    int memfd;          /* an fd to pass around */
    int fds_before;
};

static int setup(void **state)
{
    static struct fixture f;

    alarm(30);      /* a call that hangs kills the program now, not at meson's timeout */
    f.fds_before = test_count_fds();
    test_socketpair(f.sv);
    f.memfd = test_memfd("vdev-test-sock", 4096);
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    if (f->sv[0] >= 0)
        close(f->sv[0]);
    if (f->sv[1] >= 0)
        close(f->sv[1]);
    close(f->memfd);
    assert_no_fd_leak(f->fds_before);
    alarm(0);
    return 0;
}

/* ---- helpers ---- */

static void pattern(void *buf, size_t len, unsigned seed)
{
    unsigned char *p = buf;

    for (size_t i = 0; i < len; i++)
        p[i] = (unsigned char)(i * 31 + seed);
}

static bool same_file(int a, int b)
{
    struct stat sa, sb;

    if (fstat(a, &sa) < 0 || fstat(b, &sb) < 0)
        return false;
    return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

static bool has_cloexec(int fd)
{
    int fl = fcntl(fd, F_GETFD);

    return fl >= 0 && (fl & FD_CLOEXEC);
}

static void set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);

    assert_true(fl >= 0);
    assert_int_equal(fcntl(fd, F_SETFL, fl | O_NONBLOCK), 0);
}

/* One plain sendmsg() of the whole of buf, with nfds fds; true if it all went. */
static bool raw_send(int sock, const void *buf, size_t len, const int *fds,
                     size_t nfds)
{
    char cbuf[CMSG_SPACE(sizeof(int) * 8)];
    struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
    struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };

    if (nfds > 8)
        return false;
    if (nfds) {
        struct cmsghdr *c;

        memset(cbuf, 0, sizeof(cbuf));
        msg.msg_control = cbuf;
        msg.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
        c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
        memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
    }
    return sendmsg(sock, &msg, MSG_NOSIGNAL) == (ssize_t)len;
}

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits until the receive queue of sock is empty: its reader has taken it all. */
static void wait_drained(int sock)
{
    for (int i = 0; i < 5000; i++) {
        int n = -1;

        assert_int_equal(ioctl(sock, FIONREAD, &n), 0);
        if (n == 0)
            return;
        usleep(1000);
    }
    fail_msg("socket never drained");
}

/* Waits until thread tid sleeps in the kernel (state S): blocked in a call. */
static void wait_sleeping(pid_t tid)
{
    char path[64], buf[512];

    snprintf(path, sizeof(path), "/proc/self/task/%d/stat", (int)tid);
    for (int i = 0; i < 5000; i++) {
        FILE *fp = fopen(path, "r");
        char *p = NULL;

        assert_non_null(fp);
        if (fgets(buf, sizeof(buf), fp))
            p = strrchr(buf, ')');
        fclose(fp);
        if (p && p[1] == ' ' && p[2] == 'S')
            return;
        usleep(1000);
    }
    fail_msg("thread never blocked");
}

/* A receive or send run on its own thread. */
struct peer {
    int sock;
    void *buf;
    size_t len;
    int fds[VDEV_SOCK_MAX_FDS];
    size_t max_fds, nfds;
    int timeout_ms;
    int ret;
    volatile pid_t tid;
};

static void *peer_recv(void *arg)
{
    struct peer *p = arg;

    p->tid = gettid();
    p->ret = vdev_sock_recv(p->sock, p->buf, p->len, p->fds, p->max_fds, &p->nfds,
                            p->timeout_ms);
    return NULL;
}

static void *peer_send(void *arg)
{
    struct peer *p = arg;

    p->tid = gettid();
    p->ret = vdev_sock_send(p->sock, p->buf, p->len, p->fds, p->nfds, p->timeout_ms);
    return NULL;
}

static void wait_tid(struct peer *p)
{
    for (int i = 0; i < 5000 && !p->tid; i++)
        usleep(1000);
    assert_true(p->tid != 0);
}

static volatile sig_atomic_t sig_hits;

static void on_sigusr1(int sig)
{
    (void)sig;
    sig_hits++;
}

/* SIGUSR1 without SA_RESTART: a blocked call returns EINTR. */
static void catch_sigusr1(struct sigaction *old)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_sigusr1;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;
    sig_hits = 0;
    assert_int_equal(sigaction(SIGUSR1, &sa, old), 0);
}

/* Interrupts thread t, which is blocked in the kernel, and waits for the handler. */
static void interrupt(pthread_t t, pid_t tid)
{
    wait_sleeping(tid);
    assert_int_equal(pthread_kill(t, SIGUSR1), 0);
    for (int i = 0; i < 5000 && !sig_hits; i++)
        usleep(1000);
    assert_int_equal(sig_hits, 1);
    usleep(10 * 1000);      /* the call sees EINTR and blocks again */
}

/* ---- round trips ---- */

/* A message without fds arrives whole, and reports none. */
static void test_roundtrip_no_fds(void **state)
{
    struct fixture *f = *state;
    char out[100], in[100];
    int fds[4];
    size_t n = 99;

    pattern(out, sizeof(out), 1);
    assert_int_equal(vdev_sock_send(f->sv[1], out, sizeof(out), NULL, 0, 1000), 0);
    assert_int_equal(vdev_sock_recv(f->sv[0], in, sizeof(in), fds, 4, &n, 1000), 0);
    assert_int_equal(n, 0);
    assert_memory_equal(in, out, sizeof(out));
}

/* One fd arrives as a new fd on the same file, with FD_CLOEXEC set. */
static void test_roundtrip_one_fd(void **state)
{
    struct fixture *f = *state;
    char out[16], in[16];
    int fds[4] = { -1, -1, -1, -1 };
    size_t n = 0;

    pattern(out, sizeof(out), 2);
    assert_int_equal(vdev_sock_send(f->sv[1], out, sizeof(out), &f->memfd, 1, 1000), 0);
    assert_int_equal(vdev_sock_recv(f->sv[0], in, sizeof(in), fds, 4, &n, 1000), 0);
    assert_int_equal(n, 1);
    assert_memory_equal(in, out, sizeof(out));
    assert_true(fds[0] != f->memfd);
    assert_true(same_file(fds[0], f->memfd));
    assert_true(has_cloexec(fds[0]));
    vdev_close_fds(fds, n);
}

/* VDEV_SOCK_MAX_FDS fds in one message all arrive, each CLOEXEC. */
static void test_roundtrip_max_fds(void **state)
{
    struct fixture *f = *state;
    int out_fds[VDEV_SOCK_MAX_FDS], in_fds[VDEV_SOCK_MAX_FDS];
    char out[8] = "maxfds!", in[8];
    size_t n = 0;

    for (size_t i = 0; i < VDEV_SOCK_MAX_FDS; i++)
        out_fds[i] = f->memfd;
    assert_int_equal(vdev_sock_send(f->sv[1], out, sizeof(out), out_fds,
                                    VDEV_SOCK_MAX_FDS, 1000), 0);
    assert_int_equal(vdev_sock_recv(f->sv[0], in, sizeof(in), in_fds,
                                    VDEV_SOCK_MAX_FDS, &n, 1000), 0);
    assert_int_equal(n, VDEV_SOCK_MAX_FDS);
    assert_memory_equal(in, out, sizeof(out));
    for (size_t i = 0; i < n; i++) {
        assert_true(same_file(in_fds[i], f->memfd));
        assert_true(has_cloexec(in_fds[i]));
    }
    vdev_close_fds(in_fds, n);
}

/* More fds than any message carries is refused before anything is sent. The
 * kernel refuses more than SCM_MAX_FD with -EINVAL too; what the check guards is
 * our control buffer, which the sanitizer build watches. */
static void test_send_too_many_fds(void **state)
{
    struct fixture *f = *state;
    int fds[2 * VDEV_SOCK_MAX_FDS];
    char b = 'x';

    for (size_t i = 0; i < 2 * VDEV_SOCK_MAX_FDS; i++)
        fds[i] = f->memfd;
    assert_int_equal(vdev_sock_send(f->sv[1], &b, 1, fds, VDEV_SOCK_MAX_FDS + 1, 1000),
                     -EINVAL);
    assert_int_equal(vdev_sock_send(f->sv[1], &b, 1, fds, 2 * VDEV_SOCK_MAX_FDS, 1000),
                     -EINVAL);
    assert_int_equal(vdev_sock_recv(f->sv[0], &b, 1, NULL, 0, NULL, 0), -ETIMEDOUT);
}

/* A zero-length receive returns at once, even on a blocking socket with no limit. */
static void test_recv_len_zero(void **state)
{
    struct fixture *f = *state;
    size_t n = 7;
    int fds[1];

    assert_int_equal(vdev_sock_recv(f->sv[0], NULL, 0, fds, 1, &n, -1), 0);
    assert_int_equal(n, 0);
}

/* ---- short reads and writes ---- */

#define PIECES 256

static void *send_in_pieces(void *arg)
{
    struct peer *p = arg;
    const char *buf = p->buf;

    /* the first byte carries the fds, then one byte at a time */
    p->ret = raw_send(p->sock, buf, 1, p->fds, p->nfds) ? 0 : -1;
    for (size_t i = 1; i < p->len && p->ret == 0; i++) {
        if (i % 16 == 0)
            usleep(500);
        if (!raw_send(p->sock, buf + i, 1, NULL, 0))
            p->ret = -1;
    }
    return NULL;
}

/* A message written a byte at a time by another thread is read whole, with the
 * fds of its first byte. */
static void test_short_reads(void **state)
{
    struct fixture *f = *state;
    char out[PIECES], in[PIECES];
    struct peer w = { .sock = f->sv[1], .buf = out, .len = sizeof(out), .nfds = 2 };
    int fds[2] = { -1, -1 };
    size_t n = 0;
    pthread_t t;

    pattern(out, sizeof(out), 3);
    w.fds[0] = w.fds[1] = f->memfd;
    assert_int_equal(pthread_create(&t, NULL, send_in_pieces, &w), 0);
    assert_int_equal(vdev_sock_recv(f->sv[0], in, sizeof(in), fds, 2, &n, -1), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(w.ret, 0);
    assert_int_equal(n, 2);
    assert_memory_equal(in, out, sizeof(out));
    assert_true(same_file(fds[0], f->memfd) && same_file(fds[1], f->memfd));
    vdev_close_fds(fds, n);
}

/* An 8 MiB message from a non-blocking socket goes out in many short writes and
 * is read whole on another thread, its fd with it. */
static void test_large_message(void **state)
{
    struct fixture *f = *state;
    size_t len = 8 * MIB;
    char *out = malloc(len), *in = malloc(len);
    struct peer r = { .sock = f->sv[0], .buf = in, .len = len, .max_fds = 1,
                      .timeout_ms = -1 };
    pthread_t t;

    assert_non_null(out);
    assert_non_null(in);
    pattern(out, len, 4);
    set_nonblock(f->sv[1]);
    assert_int_equal(pthread_create(&t, NULL, peer_recv, &r), 0);
    assert_int_equal(vdev_sock_send(f->sv[1], out, len, &f->memfd, 1, -1), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(r.ret, 0);
    assert_int_equal(r.nfds, 1);
    assert_true(same_file(r.fds[0], f->memfd));
    assert_true(memcmp(in, out, len) == 0);
    vdev_close_fds(r.fds, r.nfds);
    free(out);
    free(in);
}

/* ---- EINTR ---- */

/* A receive blocked in recvmsg() on a blocking socket is interrupted by a signal
 * (no SA_RESTART) half-way through a message, and still returns it whole. */
static void test_recv_eintr_blocking(void **state)
{
    struct fixture *f = *state;
    char out[200], in[200];
    struct peer r = { .sock = f->sv[0], .buf = in, .len = sizeof(in), .max_fds = 1,
                      .timeout_ms = -1 };
    struct sigaction old;
    pthread_t t;

    pattern(out, sizeof(out), 5);
    catch_sigusr1(&old);
    assert_int_equal(pthread_create(&t, NULL, peer_recv, &r), 0);
    wait_tid(&r);
    assert_true(raw_send(f->sv[1], out, 100, NULL, 0));
    wait_drained(f->sv[0]);
    interrupt(t, r.tid);
    assert_true(raw_send(f->sv[1], out + 100, 100, NULL, 0));
    assert_int_equal(pthread_join(t, NULL), 0);
    sigaction(SIGUSR1, &old, NULL);
    assert_int_equal(r.ret, 0);
    assert_memory_equal(in, out, sizeof(out));
}

/* The same on a non-blocking socket, where the wait is in poll(). */
static void test_recv_eintr_poll(void **state)
{
    struct fixture *f = *state;
    char out[200], in[200];
    struct peer r = { .sock = f->sv[0], .buf = in, .len = sizeof(in), .max_fds = 1,
                      .timeout_ms = 10000 };
    struct sigaction old;
    pthread_t t;

    pattern(out, sizeof(out), 6);
    set_nonblock(f->sv[0]);
    catch_sigusr1(&old);
    assert_int_equal(pthread_create(&t, NULL, peer_recv, &r), 0);
    wait_tid(&r);
    assert_true(raw_send(f->sv[1], out, 100, NULL, 0));
    wait_drained(f->sv[0]);
    interrupt(t, r.tid);
    assert_true(raw_send(f->sv[1], out + 100, 100, NULL, 0));
    assert_int_equal(pthread_join(t, NULL), 0);
    sigaction(SIGUSR1, &old, NULL);
    assert_int_equal(r.ret, 0);
    assert_memory_equal(in, out, sizeof(out));
}

/* Fills the peer's queue until sendmsg() would block on its very first byte. */
static size_t fill_socket(int sock)
{
    static char junk[65536];
    size_t total = 0;
    ssize_t r;

    while ((r = send(sock, junk, sizeof(junk), MSG_DONTWAIT | MSG_NOSIGNAL)) > 0)
        total += (size_t)r;
    while ((r = send(sock, junk, 1, MSG_DONTWAIT | MSG_NOSIGNAL)) > 0)
        total += (size_t)r;
    assert_true(r < 0 && errno == EAGAIN);
    return total;
}

/* A send blocked in sendmsg() with nothing sent yet is interrupted by a signal
 * (no SA_RESTART) and carries on once the reader makes room. */
static void test_send_eintr(void **state)
{
    struct fixture *f = *state;
    char out[1000], in[1000];
    struct peer s = { .sock = f->sv[1], .buf = out, .len = sizeof(out),
                      .timeout_ms = -1 };
    size_t filled = fill_socket(f->sv[1]);
    char *junk = malloc(filled);
    struct sigaction old;
    pthread_t t;

    assert_non_null(junk);
    pattern(out, sizeof(out), 7);
    catch_sigusr1(&old);
    assert_int_equal(pthread_create(&t, NULL, peer_send, &s), 0);
    wait_tid(&s);
    interrupt(t, s.tid);
    assert_int_equal(vdev_sock_recv(f->sv[0], junk, filled, NULL, 0, NULL, 5000), 0);
    assert_int_equal(vdev_sock_recv(f->sv[0], in, sizeof(in), NULL, 0, NULL, 5000), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    sigaction(SIGUSR1, &old, NULL);
    assert_int_equal(s.ret, 0);
    assert_memory_equal(in, out, sizeof(out));
    free(junk);
}

/* ---- fds in excess ---- */

/* With max_fds 0, fds that come are closed and -EMSGSIZE returned, after all the
 * bytes of the message were read: the next message reads correctly. */
static void test_fds_with_max_zero(void **state)
{
    struct fixture *f = *state;
    int two[2] = { f->memfd, f->memfd };
    char a[64], b[64], in[64];

    pattern(a, sizeof(a), 8);
    pattern(b, sizeof(b), 9);
    assert_int_equal(vdev_sock_send(f->sv[1], a, sizeof(a), two, 2, 1000), 0);
    assert_int_equal(vdev_sock_send(f->sv[1], b, sizeof(b), NULL, 0, 1000), 0);

    assert_int_equal(vdev_sock_recv(f->sv[0], in, sizeof(in), NULL, 0, NULL, 1000),
                     -EMSGSIZE);
    assert_memory_equal(in, a, sizeof(a));
    assert_no_fd_leak(f->fds_before + 3);
    assert_int_equal(vdev_sock_recv(f->sv[0], in, sizeof(in), NULL, 0, NULL, 1000), 0);
    assert_memory_equal(in, b, sizeof(b));
}

/* Three fds against room for two: all are closed, none handed over, in step. */
static void test_more_fds_than_max(void **state)
{
    struct fixture *f = *state;
    int three[3] = { f->memfd, f->memfd, f->memfd };
    int fds[2] = { -1, -1 };
    char a[32], b[32], in[32];
    size_t n = 5;

    pattern(a, sizeof(a), 10);
    pattern(b, sizeof(b), 11);
    assert_int_equal(vdev_sock_send(f->sv[1], a, sizeof(a), three, 3, 1000), 0);
    assert_int_equal(vdev_sock_send(f->sv[1], b, sizeof(b), NULL, 0, 1000), 0);

    assert_int_equal(vdev_sock_recv(f->sv[0], in, sizeof(in), fds, 2, &n, 1000),
                     -EMSGSIZE);
    assert_int_equal(n, 0);
    assert_int_equal(fds[0], -1);
    assert_int_equal(fds[1], -1);
    assert_memory_equal(in, a, sizeof(a));
    assert_no_fd_leak(f->fds_before + 3);
    assert_int_equal(vdev_sock_recv(f->sv[0], in, sizeof(in), fds, 2, &n, 1000), 0);
    assert_int_equal(n, 0);
    assert_memory_equal(in, b, sizeof(b));
}

/* Sends the first half of out, waits until the reader r has read it and blocks
 * for the rest, then sends the second half with fd. */
static void send_halves(struct fixture *f, struct peer *r, const char *out,
                        size_t len, int first_fd, int second_fd)
{
    int fd1[1] = { first_fd }, fd2[1] = { second_fd };

    wait_tid(r);
    assert_true(raw_send(f->sv[1], out, len / 2, fd1, first_fd >= 0));
    wait_drained(f->sv[0]);
    wait_sleeping(r->tid);
    assert_true(raw_send(f->sv[1], out + len / 2, len - len / 2, fd2, second_fd >= 0));
}

/* An fd that rides on a later chunk of the message (a later recvmsg) is
 * collected too. */
static void test_fds_on_later_chunk(void **state)
{
    struct fixture *f = *state;
    char out[200], in[200];
    struct peer r = { .sock = f->sv[0], .buf = in, .len = sizeof(in), .max_fds = 2,
                      .timeout_ms = -1 };
    pthread_t t;

    pattern(out, sizeof(out), 12);
    assert_int_equal(pthread_create(&t, NULL, peer_recv, &r), 0);
    send_halves(f, &r, out, sizeof(out), -1, f->memfd);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(r.ret, 0);
    assert_int_equal(r.nfds, 1);
    assert_true(same_file(r.fds[0], f->memfd));
    assert_memory_equal(in, out, sizeof(out));
    vdev_close_fds(r.fds, r.nfds);
}

/* One fd on each of two chunks against room for one: the one already handed to
 * fds[] from the first chunk is closed as well. */
static void test_fds_over_max_across_chunks(void **state)
{
    struct fixture *f = *state;
    char out[200], in[200];
    struct peer r = { .sock = f->sv[0], .buf = in, .len = sizeof(in), .max_fds = 1,
                      .timeout_ms = -1 };
    pthread_t t;

    pattern(out, sizeof(out), 13);
    assert_int_equal(pthread_create(&t, NULL, peer_recv, &r), 0);
    send_halves(f, &r, out, sizeof(out), f->memfd, f->memfd);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(r.ret, -EMSGSIZE);
    assert_int_equal(r.nfds, 0);
    assert_int_equal(r.fds[0], -1);
    assert_memory_equal(in, out, sizeof(out));
    assert_no_fd_leak(f->fds_before + 3);
}

/* MSG_CTRUNC: our control buffer holds VDEV_SOCK_MAX_FDS fds, the most the
 * kernel lets one sendmsg() carry (SCM_MAX_FD), and the kernel does not merge
 * fds of two sends into one recvmsg(), so a short buffer cannot be provoked.
 * RLIMIT_NOFILE can: the kernel installs the fds that fit under it, drops the
 * rest and sets MSG_CTRUNC. The installed ones must be closed too. */
static void test_ctrunc_at_rlimit(void **state)
{
    struct fixture *f = *state;
    int four[4] = { f->memfd, f->memfd, f->memfd, f->memfd };
    int fds[4] = { -1, -1, -1, -1 };
    char a[16], b[16], in[16];
    struct rlimit old, low;
    size_t n = 9;
    int lowest, ret;

    pattern(a, sizeof(a), 14);
    pattern(b, sizeof(b), 15);
    assert_int_equal(vdev_sock_send(f->sv[1], a, sizeof(a), four, 4, 1000), 0);
    assert_int_equal(vdev_sock_send(f->sv[1], b, sizeof(b), NULL, 0, 1000), 0);

    lowest = dup(f->memfd);             /* the lowest free fd number */
    assert_true(lowest >= 0);
    close(lowest);
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
    low = old;
    low.rlim_cur = (rlim_t)lowest + 2;  /* room for one or two of the four */
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
    ret = vdev_sock_recv(f->sv[0], in, sizeof(in), fds, 4, &n, 1000);
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);

    assert_int_equal(ret, -EMSGSIZE);
    assert_int_equal(n, 0);
    assert_memory_equal(in, a, sizeof(a));
    assert_no_fd_leak(f->fds_before + 3);
    assert_int_equal(vdev_sock_recv(f->sv[0], in, sizeof(in), fds, 4, &n, 1000), 0);
    assert_memory_equal(in, b, sizeof(b));
}

/* ---- end of stream ---- */

/* The peer closing between messages is a clean end: -ECONNRESET. */
static void test_eof_before_message(void **state)
{
    struct fixture *f = *state;
    char in[8];

    close(f->sv[1]);
    f->sv[1] = -1;
    assert_int_equal(vdev_sock_recv(f->sv[0], in, sizeof(in), NULL, 0, NULL, 1000),
                     -ECONNRESET);
}

/* The peer closing part-way through a message is -EPROTO, and the fd that came
 * with the part is closed. */
static void test_eof_mid_message(void **state)
{
    struct fixture *f = *state;
    char out[10] = "012345678", in[20];
    int fds[1] = { -1 };
    size_t n = 3;

    assert_true(raw_send(f->sv[1], out, sizeof(out), &f->memfd, 1));
    close(f->sv[1]);
    f->sv[1] = -1;
    assert_int_equal(vdev_sock_recv(f->sv[0], in, sizeof(in), fds, 1, &n, 1000),
                     -EPROTO);
    assert_int_equal(n, 0);
    assert_no_fd_leak(f->fds_before + 2);
}

/* A peer that closes with our bytes unread makes recvmsg() fail with ECONNRESET
 * rather than return 0; part-way through a message that is still -EPROTO. */
static void test_reset_mid_message(void **state)
{
    struct fixture *f = *state;
    char out[10] = "abcdefghi", in[20];

    assert_true(raw_send(f->sv[1], out, sizeof(out), NULL, 0));
    assert_true(raw_send(f->sv[0], "unread", 6, NULL, 0));
    close(f->sv[1]);
    f->sv[1] = -1;
    assert_int_equal(vdev_sock_recv(f->sv[0], in, sizeof(in), NULL, 0, NULL, 1000),
                     -EPROTO);
}

/* ---- time limits ---- */

/* Half a message on a non-blocking socket times out after about timeout_ms, and
 * the fd that came with the half is closed. */
static void test_timeout_half_message(void **state)
{
    struct fixture *f = *state;
    char out[10] = "half-mess", in[20];
    int fds[1] = { -1 };
    size_t n = 3;
    int64_t t0, dt;

    set_nonblock(f->sv[0]);
    assert_true(raw_send(f->sv[1], out, sizeof(out), &f->memfd, 1));
    t0 = now_ms();
    assert_int_equal(vdev_sock_recv(f->sv[0], in, sizeof(in), fds, 1, &n, 100),
                     -ETIMEDOUT);
    dt = now_ms() - t0;
    assert_true(dt >= 99 && dt < 2000);
    assert_int_equal(n, 0);
    assert_no_fd_leak(f->fds_before + 3);
}

/* The limit holds on a blocking socket too. */
static void test_timeout_blocking_socket(void **state)
{
    struct fixture *f = *state;
    char in[8];

    assert_int_equal(vdev_sock_recv(f->sv[0], in, sizeof(in), NULL, 0, NULL, 50),
                     -ETIMEDOUT);
}

/* A send to a peer that stops reading times out. */
static void test_send_timeout(void **state)
{
    struct fixture *f = *state;
    size_t len = 8 * MIB;
    char *out = calloc(1, len);

    assert_non_null(out);
    assert_int_equal(vdev_sock_send(f->sv[1], out, len, NULL, 0, 50), -ETIMEDOUT);
    free(out);
}

/* ---- the peer gone, argument checks ---- */

/* Sending to a closed peer is -EPIPE, and SIGPIPE (left at its default, which
 * kills) is not raised. */
static void test_send_epipe(void **state)
{
    struct fixture *f = *state;
    void (*old)(int) = signal(SIGPIPE, SIG_DFL);
    char out[16] = "to nobody";

    close(f->sv[0]);
    f->sv[0] = -1;
    assert_int_equal(vdev_sock_send(f->sv[1], out, sizeof(out), &f->memfd, 1, 1000),
                     -EPIPE);
    signal(SIGPIPE, old);
}

/* fds[] is needed to receive fds into. */
static void test_recv_einval(void **state)
{
    struct fixture *f = *state;
    size_t n;
    char in[4];

    assert_int_equal(vdev_sock_recv(f->sv[0], in, sizeof(in), NULL, 1, &n, 0), -EINVAL);
}

/* vdev_close_fds closes what is open, skips -1, and marks all -1. */
static void test_close_fds(void **state)
{
    struct fixture *f = *state;
    int fds[3] = { dup(f->memfd), -1, dup(f->memfd) };

    assert_true(fds[0] >= 0 && fds[2] >= 0);
    vdev_close_fds(fds, 3);
    assert_int_equal(fds[0], -1);
    assert_int_equal(fds[1], -1);
    assert_int_equal(fds[2], -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
        T(test_roundtrip_no_fds),
        T(test_roundtrip_one_fd),
        T(test_roundtrip_max_fds),
        T(test_send_too_many_fds),
        T(test_recv_len_zero),
        T(test_short_reads),
        T(test_large_message),
        T(test_recv_eintr_blocking),
        T(test_recv_eintr_poll),
        T(test_send_eintr),
        T(test_fds_with_max_zero),
        T(test_more_fds_than_max),
        T(test_fds_on_later_chunk),
        T(test_fds_over_max_across_chunks),
        T(test_ctrunc_at_rlimit),
        T(test_eof_before_message),
        T(test_eof_mid_message),
        T(test_reset_mid_message),
        T(test_timeout_half_message),
        T(test_timeout_blocking_socket),
        T(test_send_timeout),
        T(test_send_epipe),
        T(test_recv_einval),
        T(test_close_fds),
#undef T
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* fake_backend.c — the scripted back-end of fake_backend.h. It reads and writes
 * raw bytes: header fields at their spec offsets, payloads as given. */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "vdev/sock.h"
#include "vdev/vhost_user_client.h"
#include "fake_backend.h"

#define FB_IO_TIMEOUT_MS 10000
#define FB_HDR 12

void put32(uint8_t *b, size_t off, uint32_t v)
{
    memcpy(b + off, &v, sizeof(v));
}

void put64(uint8_t *b, size_t off, uint64_t v)
{
    memcpy(b + off, &v, sizeof(v));
}

uint32_t get32(const uint8_t *b, size_t off)
{
    uint32_t v;

    memcpy(&v, b + off, sizeof(v));
    return v;
}

uint64_t get64(const uint8_t *b, size_t off)
{
    uint64_t v;

    memcpy(&v, b + off, sizeof(v));
    return v;
}

bool same_file(int a, int b)
{
    struct stat sa, sb;

    if (fstat(a, &sa) < 0 || fstat(b, &sb) < 0)
        return false;
    return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/* ---- the thread ---- */

static int read_msg(int sock, struct fb_msg *m)
{
    uint8_t h[FB_HDR];
    size_t n = 0, more = 0;
    int ret = vdev_sock_recv(sock, h, FB_HDR, m->fds, FB_MAX_FDS, &n, FB_IO_TIMEOUT_MS);

    if (ret < 0)
        return ret;
    m->request = get32(h, 0);
    m->flags = get32(h, 4);
    m->size = get32(h, 8);
    m->nfds = n;
    if (m->size > FB_MAX_PAYLOAD) {
        vdev_close_fds(m->fds, n);
        return -EMSGSIZE;
    }
    ret = vdev_sock_recv(sock, m->payload, m->size, m->fds + n, FB_MAX_FDS - n, &more,
                         FB_IO_TIMEOUT_MS);
    if (ret < 0) {
        vdev_close_fds(m->fds, n);
        return ret;
    }
    m->nfds = n + more;
    return 0;
}

static int send_raw(int sock, uint32_t request, uint32_t flags, uint32_t size,
                    const uint8_t *payload, uint32_t sent, const int *fds, size_t nfds)
{
    uint8_t buf[FB_HDR + FB_MAX_PAYLOAD];

    put32(buf, 0, request);
    put32(buf, 4, flags);
    put32(buf, 8, size);
    memcpy(buf + FB_HDR, payload, sent);
    return vdev_sock_send(sock, buf, FB_HDR + sent, fds, nfds, FB_IO_TIMEOUT_MS);
}

/* The back-end channel: the fd that came with SET_BACKEND_REQ_FD (21). */
static int channel_fd(struct fb *fb)
{
    int fd = -1;

    pthread_mutex_lock(&fb->lock);
    for (unsigned i = 0; i < fb->nmsgs; i++)
        if (fb->msgs[i].request == R_SET_BACKEND_REQ_FD && fb->msgs[i].nfds == 1)
            fd = fb->msgs[i].fds[0];
    pthread_mutex_unlock(&fb->lock);
    return fd;
}

static int backend_first(struct fb *fb, const struct fb_step *s)
{
    int ch = channel_fd(fb);
    uint8_t h[FB_HDR];
    size_t n = 0;
    int ret;

    if (ch < 0)
        return -EBADF;
    ret = send_raw(ch, s->breq, s->bflags, s->bsize, s->bpayload, s->bsize, NULL, 0);
    if (ret < 0 || !(s->bflags & FB_NEED_REPLY))
        return ret;
    ret = vdev_sock_recv(ch, h, FB_HDR, NULL, 0, &n, FB_IO_TIMEOUT_MS);
    if (ret < 0)
        return ret;
    fb->breply_request = get32(h, 0);
    fb->breply_flags = get32(h, 4);
    fb->breply_size = get32(h, 8);
    if (fb->breply_size != 8)
        return -EPROTO;
    ret = vdev_sock_recv(ch, &fb->breply_u64, 8, NULL, 0, &n, FB_IO_TIMEOUT_MS);
    fb->bgot = ret == 0;
    return ret;
}

/* 0 to go on, 1 when the script hung up. */
static int act(struct fb *fb, const struct fb_step *s)
{
    int ret = 0;

    if (s->backend_first) {
        ret = backend_first(fb, s);
        if (ret < 0)
            return ret;
    }
    switch (s->action) {
    case FB_NONE:
        return 0;
    case FB_SEND:
        ret = send_raw(fb->sock, s->request, s->flags, s->size, s->payload, s->sent,
                       s->fds, s->nfds);
        if (ret < 0)
            return ret;
        if (!s->hangup_after)
            return 0;
        /* fall through */
    case FB_HANGUP:
        shutdown(fb->sock, SHUT_RDWR);
        return 1;
    }
    return 0;
}

static void *fb_main(void *arg)
{
    struct fb *fb = arg;

    for (;;) {
        struct fb_msg m;
        unsigned idx;
        int ret;

        memset(&m, 0, sizeof(m));
        ret = read_msg(fb->sock, &m);
        if (ret < 0) {
            if (ret != -ECONNRESET)
                fb->error = ret;
            break;
        }
        pthread_mutex_lock(&fb->lock);
        idx = fb->nmsgs;
        if (idx < FB_MAX_MSGS)
            fb->msgs[fb->nmsgs++] = m;
        pthread_cond_broadcast(&fb->cond);
        pthread_mutex_unlock(&fb->lock);
        if (idx >= FB_MAX_MSGS) {
            vdev_close_fds(m.fds, m.nfds);
            fb->error = -ENOBUFS;
            break;
        }
        if (idx < fb->nsteps) {
            ret = act(fb, &fb->steps[idx]);
            if (ret < 0)
                fb->error = ret;
            if (ret != 0)
                break;
        }
    }
    pthread_mutex_lock(&fb->lock);
    fb->done = true;
    pthread_cond_broadcast(&fb->cond);
    pthread_mutex_unlock(&fb->lock);
    return NULL;
}

/* ---- life ---- */

struct fb *fb_new(void)
{
    struct fb *fb = test_calloc(1, sizeof(*fb));
    int sv[2];

    test_socketpair(sv);
    fb->sock = sv[1];
    fb->client_sock = sv[0];
    pthread_mutex_init(&fb->lock, NULL);
    pthread_cond_init(&fb->cond, NULL);
    return fb;
}

void fb_start(struct fb *fb)
{
    assert_int_equal(pthread_create(&fb->thread, NULL, fb_main, fb), 0);
    fb->started = true;
}

void fb_join(struct fb *fb)
{
    if (!fb->started)
        return;
    pthread_join(fb->thread, NULL);
    fb->started = false;
}

void fb_wait(struct fb *fb, unsigned n)
{
    struct timespec until;
    int ret = 0;

    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 5;
    pthread_mutex_lock(&fb->lock);
    while (fb->nmsgs < n && !fb->done && ret == 0)
        ret = pthread_cond_timedwait(&fb->cond, &fb->lock, &until);
    pthread_mutex_unlock(&fb->lock);
    assert_true(fb->nmsgs >= n);
}

void fb_free(struct fb *fb)
{
    if (fb->client_sock >= 0)
        close(fb->client_sock);
    if (fb->sock >= 0)
        shutdown(fb->sock, SHUT_RDWR);     /* ends a thread still reading */
    fb_join(fb);
    if (fb->sock >= 0)
        close(fb->sock);
    for (unsigned i = 0; i < fb->nmsgs; i++)
        vdev_close_fds(fb->msgs[i].fds, fb->msgs[i].nfds);
    for (unsigned i = 0; i < fb->nsteps; i++)
        vdev_close_fds(fb->steps[i].fds, fb->steps[i].nfds);
    pthread_mutex_destroy(&fb->lock);
    pthread_cond_destroy(&fb->cond);
    test_free(fb);
}

/* ---- the script ---- */

struct fb_step *fb_none(struct fb *fb)
{
    struct fb_step *s;

    assert_true(fb->nsteps < FB_MAX_MSGS);
    s = &fb->steps[fb->nsteps++];
    memset(s, 0, sizeof(*s));
    s->action = FB_NONE;
    return s;
}

struct fb_step *fb_reply(struct fb *fb, uint32_t request, const void *payload,
                         uint32_t size)
{
    struct fb_step *s = fb_none(fb);

    assert_true(size <= FB_MAX_PAYLOAD);
    s->action = FB_SEND;
    s->request = request;
    s->flags = FB_V1 | FB_REPLY;
    s->size = size;
    s->sent = size;
    if (size)
        memcpy(s->payload, payload, size);
    return s;
}

struct fb_step *fb_reply_u64(struct fb *fb, uint32_t request, uint64_t v)
{
    return fb_reply(fb, request, &v, sizeof(v));
}

struct fb_step *fb_hangup(struct fb *fb)
{
    struct fb_step *s = fb_none(fb);

    s->action = FB_HANGUP;
    return s;
}

/* ---- checks ---- */

const struct fb_msg *fb_msg(struct fb *fb, unsigned i)
{
    if (i >= fb->nmsgs)
        fail_msg("message %u never came (%u came)", i, fb->nmsgs);
    return &fb->msgs[i];
}

void fb_check_hdr(struct fb *fb, unsigned i, uint32_t request, uint32_t flags,
                  uint32_t size, size_t nfds)
{
    const struct fb_msg *m = fb_msg(fb, i);

    if (m->request != request || m->flags != flags || m->size != size || m->nfds != nfds)
        fail_msg("message %u: request %u flags 0x%x size %u fds %zu; "
                 "expected request %u flags 0x%x size %u fds %zu",
                 i, m->request, m->flags, m->size, m->nfds, request, flags, size, nfds);
}

void fb_check(struct fb *fb, unsigned i, uint32_t request, uint32_t flags,
              const void *payload, uint32_t size, size_t nfds)
{
    const struct fb_msg *m;

    fb_check_hdr(fb, i, request, flags, size, nfds);
    m = fb_msg(fb, i);
    for (uint32_t b = 0; b < size; b++)
        if (m->payload[b] != ((const uint8_t *)payload)[b])
            fail_msg("message %u (request %u): payload byte %u is 0x%02x, expected 0x%02x",
                     i, request, b, m->payload[b], ((const uint8_t *)payload)[b]);
}

void fb_noreply(struct fb *fb, uint32_t request, bool ack)
{
    if (ack)
        fb_reply_u64(fb, request, 0);
    else
        fb_none(fb);
}

unsigned script_negotiate(struct fb *fb, const struct offer *o)
{
    bool ack = o->expect_pf & BIT(PF_REPLY_ACK);
    unsigned n = 0;

    fb_none(fb), n++;                                       /* SET_OWNER */
    fb_reply_u64(fb, R_GET_FEATURES, o->features), n++;
    if (o->features & BIT(F_PROTOCOL_FEATURES)) {
        fb_reply_u64(fb, R_GET_PROTOCOL_FEATURES, o->pf), n++;
        fb_none(fb), n++;                                   /* SET_PROTOCOL_FEATURES */
    }
    fb_noreply(fb, R_SET_FEATURES, ack), n++;
    if (o->expect_pf & BIT(PF_MQ))
        fb_reply_u64(fb, R_GET_QUEUE_NUM, o->queue_num), n++;
    if (o->expect_pf & BIT(PF_CONFIGURE_MEM_SLOTS))
        fb_reply_u64(fb, R_GET_MAX_MEM_SLOTS, o->slots), n++;
    if (o->expect_pf & BIT(PF_BACKEND_REQ))
        fb_noreply(fb, R_SET_BACKEND_REQ_FD, ack), n++;
    return n;
}

int fb_test_setup(void **state)
{
    static struct fb_test t;

    alarm(60);
    t.fds_before = test_count_fds();
    t.fb = fb_new();
    t.c = NULL;
    *state = &t;
    return 0;
}

int fb_test_teardown(void **state)
{
    struct fb_test *t = *state;

    vdev_vuc_close(t->c);
    t->c = NULL;
    fb_free(t->fb);
    assert_no_fd_leak(t->fds_before);
    alarm(0);
    return 0;
}

void fb_test_attach(struct fb_test *t)
{
    fb_start(t->fb);
    assert_int_equal(vdev_vuc_attach(t->fb->client_sock, &t->c), 0);
    t->fb->client_sock = -1;
    vdev_vuc_set_timeout(t->c, 2000);
}

void fb_test_finish(struct fb_test *t)
{
    vdev_vuc_close(t->c);
    t->c = NULL;
    fb_join(t->fb);
    assert_int_equal(t->fb->error, 0);
}

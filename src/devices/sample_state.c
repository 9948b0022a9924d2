/* sample_state.c — the sample device's migration stream (dev_sample.h).
 *
 * Layout, every field little endian:
 *   u32 magic "SMPS"   u32 version (1)   u32 payload length (28)
 *   u64 SRC   u64 DST   u32 LEN   u32 STATUS   u32 ERRNO
 * The stream comes from another process (the migration source), so load checks
 * all of it before it changes anything. */
#include <endian.h>
#include <errno.h>
#include <string.h>

#include "vdev/log.h"
#include "sample_internal.h"

#define STATE_MAGIC    0x53504d53u   /* "SMPS" */
#define STATE_VERSION  1u
#define HEADER_SIZE    12u
#define PAYLOAD_SIZE   (VDEV_SAMPLE_STATE_SIZE - HEADER_SIZE)

_Static_assert(PAYLOAD_SIZE == 8 + 8 + 4 + 4 + 4, "the payload is the five registers");

static void put32(uint8_t **p, uint32_t v)
{
    v = htole32(v);
    memcpy(*p, &v, 4);
    *p += 4;
}

static void put64(uint8_t **p, uint64_t v)
{
    v = htole64(v);
    memcpy(*p, &v, 8);
    *p += 8;
}

static uint32_t get32(const uint8_t **p)
{
    uint32_t v;

    memcpy(&v, *p, 4);
    *p += 4;
    return le32toh(v);
}

static uint64_t get64(const uint8_t **p)
{
    uint64_t v;

    memcpy(&v, *p, 8);
    *p += 8;
    return le64toh(v);
}

int vdev_sample_save(const struct vdev_sample *d, void *buf, size_t cap, size_t *len)
{
    uint8_t *p = buf;

    if (cap < VDEV_SAMPLE_STATE_SIZE)
        return -ENOSPC;
    put32(&p, STATE_MAGIC);
    put32(&p, STATE_VERSION);
    put32(&p, PAYLOAD_SIZE);
    put64(&p, d->src);
    put64(&p, d->dst);
    put32(&p, d->len);
    put32(&p, d->status);
    put32(&p, d->err);
    *len = VDEV_SAMPLE_STATE_SIZE;
    return 0;
}

static int bad_stream(const char *what, size_t len)
{
    vdev_warn("sample: migration stream of %zu bytes refused: %s", len, what);
    return -EBADMSG;
}

int vdev_sample_load(struct vdev_sample *d, const void *buf, size_t len)
{
    const uint8_t *p = buf;
    uint32_t version, payload, status;
    uint64_t src, dst;
    uint32_t copy_len, err;

    if (len < HEADER_SIZE)
        return bad_stream("shorter than its header", len);
    if (get32(&p) != STATE_MAGIC)
        return bad_stream("not a sample device's state", len);
    version = get32(&p);
    if (version != STATE_VERSION) {
        vdev_warn("sample: migration stream version %u, we read %u", version,
                  STATE_VERSION);
        return -EPROTONOSUPPORT;
    }
    payload = get32(&p);
    if (payload != PAYLOAD_SIZE || len - HEADER_SIZE != payload)
        return bad_stream("payload length does not match", len);
    src = get64(&p);
    dst = get64(&p);
    copy_len = get32(&p);
    status = get32(&p);
    err = get32(&p);
    /* Copies are synchronous: a device is never saved busy. */
    if (status & ~(VDEV_SAMPLE_STATUS_DONE | VDEV_SAMPLE_STATUS_ERROR))
        return bad_stream("status bits that cannot be set", len);

    d->src = src;
    d->dst = dst;
    d->len = copy_len;
    d->status = status;
    d->err = err;
    return 0;
}

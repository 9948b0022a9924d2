/* blk_req.c — builds virtio-blk requests (virtio 1.2, 5.2.6) in guest memory. */
#include <endian.h>
#include <errno.h>

#include "vdev/virtq_driver.h"
#include "blk_req.h"
#include "transport.h"

#define STATUS_POISON 0xa5      /* no VIRTIO_BLK_S_* value */
#define STATUS_OFFSET 32        /* after the 16-byte header */

int bench_slot_alloc(struct bench_transport *t, uint32_t len, struct bench_slot *s)
{
    void *data, *hdr;
    int ret;

    *s = (struct bench_slot){ .len = len };
    ret = t->ops->alloc(t, len, 4096, &s->data_gpa, &data);
    if (ret < 0)
        return ret;
    ret = t->ops->alloc(t, 64, 64, &s->hdr_gpa, &hdr);
    if (ret < 0)
        return ret;
    s->status_gpa = s->hdr_gpa + STATUS_OFFSET;
    s->data = data;
    s->hdr = hdr;
    s->status = (uint8_t *)s->hdr + STATUS_OFFSET;
    return 0;
}

void bench_slot_prepare(struct bench_slot *s, bool write, uint64_t offset)
{
    s->write = write;
    s->offset = offset;
    /* 5.2.6: the header is little-endian for a VERSION_1 device. */
    s->hdr->type = htole32(write ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_IN);
    s->hdr->ioprio = 0;
    s->hdr->sector = htole64(offset / 512);
    *s->status = STATUS_POISON;
}

int bench_slot_submit(struct bench_transport *t, uint16_t q, const struct bench_slot *s,
                      bool indirect, uint16_t *id)
{
    const struct vdev_vqd_buf hdr = { s->hdr_gpa, sizeof(struct virtio_blk_outhdr) };
    const struct vdev_vqd_buf data = { s->data_gpa, s->len };
    const struct vdev_vqd_buf status = { s->status_gpa, 1 };
    struct vdev_vqd_buf out[2] = { hdr, data }, in[2] = { data, status };

    /* Device-readable buffers first, then device-writable (2.7.4). */
    if (s->write)
        return t->ops->submit(t, q, out, 2, &status, 1, indirect, id);
    return t->ops->submit(t, q, &hdr, 1, in, 2, indirect, id);
}

int bench_slot_result(const struct bench_slot *s, uint32_t used_len)
{
    /* 5.2.6.1: the device writes the status as the last byte; a read's used
     * length counts the data it wrote too. Some devices report less for a
     * write (the status alone), none may report less than one byte. */
    if (used_len < 1 || (!s->write && used_len < s->len + 1))
        return -EIO;
    return *s->status == VIRTIO_BLK_S_OK ? 0 : -EIO;
}

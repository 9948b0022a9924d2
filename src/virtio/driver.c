/* driver.c — the driver side's life and entry points: checks the layout, zeroes
 * the rings, and picks the ring format. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "driver_internal.h"

static void *map_area(struct vdev_mem *mem, uint64_t gpa, uint64_t bytes)
{
    uint64_t got = bytes;
    void *host = vdev_mem_translate(mem, gpa, &got, VDEV_MEM_RW);

    return host && got == bytes ? host : NULL;
}

static int config_check(const struct vdev_vqd_config *c)
{
    uint64_t driver_align = c->packed ? 4 : VRING_AVAIL_ALIGN_SIZE;

    if (!c->mem || c->size == 0 || c->size > VDEV_VQ_MAX_SIZE)
        return -EINVAL;
    if (!c->packed && (c->size & (c->size - 1)) != 0)
        return -EINVAL;
    if (c->desc_gpa % VRING_DESC_ALIGN_SIZE || c->driver_gpa % driver_align ||
        c->device_gpa % VRING_USED_ALIGN_SIZE)
        return -EINVAL;
    if (c->indirect && (c->indirect_max == 0 || c->indirect_max > c->size ||
                        c->indirect_gpa % VRING_DESC_ALIGN_SIZE))
        return -EINVAL;
    return 0;
}

/* Finds and zeroes the ring areas (2.8.13: the descriptor ring starts zeroed). */
static int map_rings(struct vdev_vqd *d, void **desc, void **driver, void **device)
{
    const struct vdev_vqd_config *c = &d->c;
    uint64_t db = vdev_vq_desc_bytes(c->size, c->packed);
    uint64_t vb = vdev_vq_driver_bytes(c->size, c->packed);
    uint64_t ub = vdev_vq_device_bytes(c->size, c->packed);

    *desc = map_area(c->mem, c->desc_gpa, db);
    *driver = map_area(c->mem, c->driver_gpa, vb);
    *device = map_area(c->mem, c->device_gpa, ub);
    if (!*desc || !*driver || !*device)
        return -EFAULT;
    if (c->indirect) {
        d->indirect_host = map_area(c->mem, c->indirect_gpa, (uint64_t)c->size *
                                    c->indirect_max * sizeof(struct vring_desc));
        if (!d->indirect_host)
            return -EFAULT;
    }
    memset(*desc, 0, db);
    memset(*driver, 0, vb);
    memset(*device, 0, ub);
    return 0;
}

VDEV_API int vdev_vqd_new(const struct vdev_vqd_config *c, struct vdev_vqd **out)
{
    struct vdev_vqd *d;
    void *desc, *driver, *device;
    int ret = config_check(c);

    if (ret < 0)
        return ret;
    d = calloc(1, sizeof(*d));
    if (!d)
        return -ENOMEM;
    d->c = *c;
    d->intr_on = true;
    d->state = calloc(c->size, sizeof(*d->state));
    if (!d->state) {
        ret = -ENOMEM;
        goto fail;
    }
    ret = map_rings(d, &desc, &driver, &device);
    if (ret < 0)
        goto fail;
    if (c->packed) {
        d->p.desc = desc;
        d->p.driver = driver;
        d->p.device = device;
        ret = vqd_packed_init(d);
    } else {
        d->s.desc = desc;
        d->s.avail = driver;
        d->s.used = device;
        ret = vqd_split_init(d);
    }
    if (ret < 0)
        goto fail;
    *out = d;
    return 0;
fail:
    vdev_vqd_free(d);
    return ret;
}

VDEV_API void vdev_vqd_free(struct vdev_vqd *d)
{
    if (!d)
        return;
    if (d->c.packed)
        free(d->p.free_ids);
    else
        free(d->s.next);
    free(d->state);
    free(d);
}

VDEV_API int vdev_vqd_add(struct vdev_vqd *d, const struct vdev_vqd_buf *out,
                          unsigned n_out, const struct vdev_vqd_buf *in, unsigned n_in,
                          bool indirect, uint16_t *id)
{
    unsigned n = n_out + n_in;

    if (n == 0 || n_out > UINT16_MAX || n_in > UINT16_MAX || n > UINT16_MAX)
        return -EINVAL;
    if (indirect && (!d->c.indirect || n > d->c.indirect_max))
        return -EINVAL;
    if (d->c.packed)
        return vqd_packed_add(d, out, n_out, in, n_in, indirect, id);
    return vqd_split_add(d, out, n_out, in, n_in, indirect, id);
}

VDEV_API bool vdev_vqd_kick_prepare(struct vdev_vqd *d)
{
    return d->c.packed ? vqd_packed_kick_prepare(d) : vqd_split_kick_prepare(d);
}

VDEV_API int vdev_vqd_kick(struct vdev_vqd *d)
{
    uint64_t one = 1;
    ssize_t n;

    if (!vdev_vqd_kick_prepare(d))
        return 0;
    if (d->c.kick_fd < 0)
        return 1;
    do {
        n = write(d->c.kick_fd, &one, sizeof(one));
    } while (n < 0 && errno == EINTR);
    if (n < 0 && errno != EAGAIN)
        return -errno;
    return 1;
}

VDEV_API int vdev_vqd_get_used(struct vdev_vqd *d, uint16_t *id, uint32_t *len)
{
    return d->c.packed ? vqd_packed_get_used(d, id, len) : vqd_split_get_used(d, id, len);
}

VDEV_API bool vdev_vqd_set_interrupts(struct vdev_vqd *d, bool enable)
{
    d->intr_on = enable;
    return d->c.packed ? vqd_packed_set_interrupts(d, enable)
                       : vqd_split_set_interrupts(d, enable);
}

VDEV_API unsigned vdev_vqd_free_count(const struct vdev_vqd *d)
{
    return d->num_free;
}

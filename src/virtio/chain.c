/* chain.c — what split and packed chains share: turning one descriptor into
 * iovecs under the rules of 2.7.4 and 2.8.18 (readable before writable, at most
 * 2^32 - 1 bytes in all), and reading indirect tables (2.7.5.3, 2.8.19). */
#include <errno.h>

#include "vq_internal.h"

void vq_walk_init(struct vq_walk *w, struct vdev_vq_req *r)
{
    w->r = r;
    w->total = 0;
    w->seen_write = false;
    w->why = NULL;
    r->n_out = 0;
    r->n_in = 0;
    r->out_len = 0;
    r->in_len = 0;
}

/* The buffer spans regions, or is not mapped as asked: let mem/ split it, or say
 * what is wrong with it. */
static int walk_add_slow(struct vdev_vq *vq, struct vdev_vq_req *r, uint32_t n,
                         uint64_t addr, uint32_t len, uint32_t access)
{
    int k = vdev_mem_iovec(vq->mem, addr, len, access, &r->iov[n], r->iov_cap - n);
    uint64_t gpa = addr;

    if (k == -EFAULT)
        vq_note_fault(vq, addr, len, access);
    if (k < 0)
        return k;
    for (int i = 0; i < k; i++) {
        r->iov_gpa[n + i] = gpa;
        gpa += r->iov[n + i].iov_len;
    }
    return k;
}

int vq_walk_add(struct vdev_vq *vq, struct vq_walk *w, uint64_t addr, uint32_t len,
                bool writable)
{
    struct vdev_vq_req *r = w->r;
    uint32_t n = r->n_out + r->n_in;
    uint32_t access = writable ? VDEV_MEM_WRITE : VDEV_MEM_READ;
    uint64_t got = len;
    void *host;
    int k = 1;

    if (writable) {
        w->seen_write = true;
    } else if (w->seen_write) {
        w->why = "readable descriptor after a writable one";
        return -EINVAL;
    }
    w->total += len;
    if (w->total > UINT32_MAX) {
        w->why = "chain longer than 2^32 - 1 bytes";
        return -EOVERFLOW;
    }
    if (len == 0)
        return 0;                  /* nothing to read or write: no iovec */
    if (n >= r->iov_cap) {
        w->why = "more segments than the device's iovecs";
        return -ENOBUFS;
    }

    host = vdev_mem_translate(vq->mem, addr, &got, access);
    if (host && got == len) {
        r->iov[n].iov_base = host;
        r->iov[n].iov_len = len;
        r->iov_gpa[n] = addr;
    } else {
        k = walk_add_slow(vq, r, n, addr, len, access);
        if (k < 0) {
            w->why = k == -ENOBUFS ? "more segments than the device's iovecs"
                                   : "buffer outside memory or without the access it needs";
            return k;
        }
    }
    if (writable) {
        r->n_in += (uint32_t)k;
        r->in_len += len;
    } else {
        r->n_out += (uint32_t)k;
        r->out_len += len;
    }
    return 0;
}

int vq_table_open(struct vdev_vq *vq, uint64_t gpa, uint32_t len, struct vq_table *t)
{
    uint64_t got = len;

    if (len == 0 || len % sizeof(struct vring_desc) != 0 ||
        len / sizeof(struct vring_desc) > vq->size)
        return -EINVAL;
    t->gpa = gpa;
    t->n = len / (uint32_t)sizeof(struct vring_desc);
    t->host = vdev_mem_translate(vq->mem, gpa, &got, VDEV_MEM_READ);
    if (t->host && got != len)
        t->host = NULL;            /* spans regions: read entry by entry */
    return 0;
}

int vq_table_read(struct vdev_vq *vq, const struct vq_table *t, uint32_t i, void *out16)
{
    uint64_t off = (uint64_t)i * sizeof(struct vring_desc);
    int ret;

    if (t->host) {
        vq_copy(out16, t->host + off, sizeof(struct vring_desc));
        return 0;
    }
    ret = vdev_mem_read(vq->mem, t->gpa + off, out16, sizeof(struct vring_desc));
    if (ret == -EFAULT)
        vq_note_fault(vq, t->gpa + off, sizeof(struct vring_desc), VDEV_MEM_READ);
    return ret;
}

void vq_log_written(struct vdev_vq *vq, const struct vdev_vq_req *r, uint32_t written)
{
    uint32_t end = r->n_out + r->n_in;

    for (uint32_t i = r->n_out; written > 0 && i < end; i++) {
        uint32_t l = r->iov[i].iov_len < written ? (uint32_t)r->iov[i].iov_len : written;

        vdev_mem_mark_dirty(vq->mem, r->iov_gpa[i], l);
        written -= l;
    }
}

/* blk_req.h — one virtio-blk request slot in guest memory (virtio 1.2, 5.2.6):
 * a 16-byte header the device reads, the data, and a status byte it writes. */
#ifndef VDEV_BENCH_BLK_REQ_H
#define VDEV_BENCH_BLK_REQ_H

#include <stdbool.h>
#include <stdint.h>
#include <linux/virtio_blk.h>

struct bench_transport;

struct bench_slot {
    struct virtio_blk_outhdr *hdr;    /* this process's view of guest memory */
    uint8_t *status;
    uint8_t *data;
    uint64_t hdr_gpa, status_gpa, data_gpa;
    uint32_t len;                     /* data bytes */
    /* the request now in the slot */
    bool write;
    uint64_t offset;                  /* disk bytes */
    uint32_t gen;                     /* verify: generation written or expected */
    uint64_t t_submit;                /* ns, CLOCK_MONOTONIC */
};

/* Allocates the slot's guest memory: the data 4 KiB-aligned (O_DIRECT back-ends
 * need it), header and status in one 64-byte piece. 0 or -ENOMEM. */
int  bench_slot_alloc(struct bench_transport *t, uint32_t len, struct bench_slot *s);

/* Writes the header for a read (VIRTIO_BLK_T_IN) or a write (T_OUT) at offset,
 * and poisons the status byte so that a completion without a status is seen. */
void bench_slot_prepare(struct bench_slot *s, bool write, uint64_t offset);

/* Makes the request available on queue q: three descriptors, or one indirect
 * table. *id as vdev_vqd_add(). */
int  bench_slot_submit(struct bench_transport *t, uint16_t q, const struct bench_slot *s,
                       bool indirect, uint16_t *id);

/* The device's answer, checked: 0, or -EIO (status not OK, or a used length
 * too short to hold the status; for a read, also shorter than data + status). */
int  bench_slot_result(const struct bench_slot *s, uint32_t used_len);

#endif

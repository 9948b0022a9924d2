/* server_dirty.h — the server's DMA dirty page logging (server_dirty.c), for
 * server_mig.c (the features) and server_dma.c (DMA_UNMAP's bitmap, the
 * connection's end). */
#ifndef VDEV_VFU_SERVER_DIRTY_H
#define VDEV_VFU_SERVER_DIRTY_H

#include "server_internal.h"

/* The VFIO_MIGRATION_* flags the server announces for its device. */
uint64_t vfu_mig_flags(const struct vdev_vfu_server *s);

/* DEVICE_FEATURE DMA_LOGGING_START / _STOP (SET) and _REPORT (GET), flags
 * already checked; dlen bytes of feature data follow f in m->p. */
int  vfu_dirty_feature(struct vdev_vfu_server *s, struct vfu_msg *m,
                       const struct vfio_device_feature *f, uint32_t index,
                       uint32_t dlen);

/* The bitmap of [iova, iova + len) at page_size into out (out_bytes, zeroed
 * first), cleared: -EINVAL when logging is off, else vdev_dirty_report()'s. */
int  vfu_dirty_take(struct vdev_vfu_server *s, uint64_t iova, uint64_t len,
                    uint64_t page_size, uint8_t *out, size_t out_bytes);

/* Stops logging (the connection's end). */
void vfu_dirty_stop(struct vdev_vfu_server *s);

#endif

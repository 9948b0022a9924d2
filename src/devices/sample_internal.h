/* sample_internal.h — the sample device's state, shared by its register file
 * (sample.c) and its migration stream (sample_state.c). */
#ifndef VDEV_SAMPLE_INTERNAL_H
#define VDEV_SAMPLE_INTERNAL_H

#include "vdev/dev_sample.h"

struct vdev_sample {
    struct vdev_pci *pci;
    struct vdev_sample_config cfg;
    bool stopped;        /* migration: no DMA, no interrupt (CMD is dropped) */
    /* The registers; everything a migration carries. */
    uint64_t src, dst;
    uint32_t len;
    uint32_t status;     /* VDEV_SAMPLE_STATUS_* */
    uint32_t err;        /* positive errno of the last failed copy, else 0 */
};

#endif

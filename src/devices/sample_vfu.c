/* sample_vfu.c — the sample device as pci_vfu.h serves it: its BAR accesses
 * and its migration stream, with the device as the adapter's opaque. */
#include "vdev/pci_vfu.h"
#include "sample_internal.h"

static int sample_bar(void *opaque, unsigned bar, uint64_t off, void *buf, uint32_t len,
                      bool write)
{
    return vdev_sample_bar_access(opaque, bar, off, buf, len, write);
}

static int sample_save(void *opaque, void *buf, size_t cap, size_t *len)
{
    return vdev_sample_save(opaque, buf, cap, len);
}

static int sample_load(void *opaque, const void *buf, size_t len)
{
    return vdev_sample_load(opaque, buf, len);
}

static int sample_set_running(void *opaque, bool running)
{
    vdev_sample_set_running(opaque, running);
    return 0;
}

static const struct vdev_pci_vfu_device sample_vfu_device = {
    .bar_access = sample_bar,
    .set_running = sample_set_running,
    .save = sample_save,
    .load = sample_load,
    .state_max = VDEV_SAMPLE_STATE_SIZE,
};

const struct vdev_pci_vfu_device *vdev_sample_vfu_device(void)
{
    return &sample_vfu_device;
}

/* sample.c — the sample PCI device (dev_sample.h): how it declares its
 * function, serves its registers, copies by DMA and raises its interrupt.
 * Its migration stream is in sample_state.c. */
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vdev/log.h"
#include "vdev/mem.h"
#include "vdev/pci.h"
#include "sample_internal.h"

#define STATUS_W1C (VDEV_SAMPLE_STATUS_DONE | VDEV_SAMPLE_STATUS_ERROR)

/* --- the copy ----------------------------------------------------------------- */

/* Reads all of SRC before it writes DST, through a buffer: vdev_mem_read and
 * vdev_mem_write check the whole range before they touch it, so a copy either
 * lands whole or writes nothing. 0 or -errno. */
static int dma_copy(struct vdev_sample *d)
{
    struct vdev_mem *mem = d->cfg.dma_mem ? d->cfg.dma_mem(d->cfg.opaque) : NULL;
    void *buf;
    int ret;

    if (!mem)
        return -ENODEV;
    if (d->len == 0 || d->len > VDEV_SAMPLE_MAX_LEN)
        return -EINVAL;
    buf = malloc(d->len);
    if (!buf)
        return -ENOMEM;
    ret = vdev_mem_read(mem, d->src, buf, d->len);
    if (ret == 0)
        ret = vdev_mem_write(mem, d->dst, buf, d->len);
    free(buf);
    return ret;
}

/* CMD = COPY: copy, record the outcome in STATUS and ERRNO, and tell the driver
 * with vector 0 either way. An interrupt that cannot go out (MSI-X off, no
 * eventfd) is not an error: the driver may poll STATUS. */
static void run_command(struct vdev_sample *d)
{
    int ret = dma_copy(d);

    if (ret < 0) {
        vdev_warn("sample: copy of %u bytes from 0x%llx to 0x%llx: %s", d->len,
                  (unsigned long long)d->src, (unsigned long long)d->dst,
                  vdev_strerror(ret));
        d->status |= VDEV_SAMPLE_STATUS_ERROR;
        d->err = (uint32_t)-ret;
    } else {
        d->status |= VDEV_SAMPLE_STATUS_DONE;
        d->err = 0;
    }
    ret = vdev_pci_irq(d->pci, VDEV_SAMPLE_IRQ_DONE);
    if (ret < 0)
        vdev_debug("sample: completion interrupt: %s", vdev_strerror(ret));
}

/* --- the registers ------------------------------------------------------------ */

static uint32_t reg_read(const struct vdev_sample *d, uint64_t off)
{
    switch (off) {
    case VDEV_SAMPLE_REG_ID:         return VDEV_SAMPLE_ID;
    case VDEV_SAMPLE_REG_VERSION:    return VDEV_SAMPLE_VERSION;
    case VDEV_SAMPLE_REG_SRC:        return (uint32_t)d->src;
    case VDEV_SAMPLE_REG_SRC + 4:    return (uint32_t)(d->src >> 32);
    case VDEV_SAMPLE_REG_DST:        return (uint32_t)d->dst;
    case VDEV_SAMPLE_REG_DST + 4:    return (uint32_t)(d->dst >> 32);
    case VDEV_SAMPLE_REG_LEN:        return d->len;
    case VDEV_SAMPLE_REG_STATUS:     return d->status;
    case VDEV_SAMPLE_REG_ERRNO:      return d->err;
    default:                         return 0;   /* CMD, and what is not a register */
    }
}

/* Half of a 64-bit register: the low word at its offset, the high one at +4. */
static void set_half(uint64_t *reg, uint64_t off, uint64_t base, uint32_t v)
{
    if (off == base)
        *reg = (*reg & 0xffffffff00000000ull) | v;
    else
        *reg = (*reg & 0xffffffffull) | (uint64_t)v << 32;
}

static void reg_write(struct vdev_sample *d, uint64_t off, uint32_t v)
{
    switch (off) {
    case VDEV_SAMPLE_REG_SRC:
    case VDEV_SAMPLE_REG_SRC + 4:
        set_half(&d->src, off, VDEV_SAMPLE_REG_SRC, v);
        break;
    case VDEV_SAMPLE_REG_DST:
    case VDEV_SAMPLE_REG_DST + 4:
        set_half(&d->dst, off, VDEV_SAMPLE_REG_DST, v);
        break;
    case VDEV_SAMPLE_REG_LEN:
        d->len = v;                  /* checked when a copy starts */
        break;
    case VDEV_SAMPLE_REG_CMD:
        if (v == VDEV_SAMPLE_CMD_COPY && d->stopped)
            vdev_warn("sample: copy command while stopped for migration: dropped");
        else if (v == VDEV_SAMPLE_CMD_COPY)
            run_command(d);
        break;
    case VDEV_SAMPLE_REG_STATUS:
        d->status &= ~(v & STATUS_W1C);
        break;
    default:
        break;                       /* read-only, or not a register */
    }
}

/* 4 bytes at 4-byte alignment anywhere; 8 bytes only on SRC and DST. */
static bool access_ok(uint64_t off, uint32_t len)
{
    if (off >= VDEV_SAMPLE_BAR_SIZE || len > VDEV_SAMPLE_BAR_SIZE - off)
        return false;
    if (len == 4)
        return (off & 3) == 0;
    return len == 8 && (off == VDEV_SAMPLE_REG_SRC || off == VDEV_SAMPLE_REG_DST);
}

int vdev_sample_bar_access(struct vdev_sample *d, unsigned bar, uint64_t off, void *buf,
                           uint32_t len, bool write)
{
    uint8_t *p = buf;

    if (bar != VDEV_SAMPLE_BAR || !access_ok(off, len)) {
        vdev_warn("sample: BAR %u access of %u bytes at 0x%llx refused", bar, len,
                  (unsigned long long)off);
        return -EINVAL;
    }
    /* An 8-byte access is its low word, then its high word. */
    for (uint32_t i = 0; i < len; i += 4) {
        uint32_t v;

        if (write) {
            memcpy(&v, p + i, 4);
            reg_write(d, off + i, le32toh(v));
        } else {
            v = htole32(reg_read(d, off + i));
            memcpy(p + i, &v, 4);
        }
    }
    return 0;
}

/* --- the function ------------------------------------------------------------- */

/* pci.h has put config space and the MSI-X table back; the registers follow. */
static void sample_reset(void *opaque, enum vdev_pci_reset_kind kind)
{
    struct vdev_sample *d = opaque;

    d->src = d->dst = 0;
    d->len = d->status = d->err = 0;
    d->stopped = false;
}

static const struct vdev_pci_ops sample_pci_ops = { .reset = sample_reset };

int vdev_sample_new(const struct vdev_sample_config *c, struct vdev_sample **out)
{
    const struct vdev_pci_config pc = {
        .vendor_id = VDEV_SAMPLE_VENDOR_ID,
        .device_id = VDEV_SAMPLE_DEVICE_ID,
        .subsystem_vendor_id = VDEV_SAMPLE_VENDOR_ID,
        .subsystem_id = VDEV_SAMPLE_DEVICE_ID,
        .class_code = VDEV_SAMPLE_CLASS,
        .revision = VDEV_SAMPLE_VERSION,
        .bars = { [VDEV_SAMPLE_BAR] = { VDEV_PCI_BAR_MEM32, VDEV_SAMPLE_BAR_SIZE, false } },
        .msix = { .vectors = VDEV_SAMPLE_MSIX_VECTORS,
                  .table_bar = VDEV_SAMPLE_BAR, .table_offset = VDEV_SAMPLE_MSIX_OFF,
                  .pba_bar = VDEV_SAMPLE_BAR, .pba_offset = VDEV_SAMPLE_PBA_OFF },
    };
    struct vdev_sample *d = calloc(1, sizeof(*d));
    int ret;

    if (!d)
        return -ENOMEM;
    if (c)
        d->cfg = *c;
    ret = vdev_pci_new(&pc, &sample_pci_ops, d, &d->pci);
    if (ret < 0) {
        free(d);
        return ret;
    }
    *out = d;
    return 0;
}

void vdev_sample_free(struct vdev_sample *d)
{
    if (!d)
        return;
    vdev_pci_free(d->pci);
    free(d);
}

struct vdev_pci *vdev_sample_pci(struct vdev_sample *d)
{
    return d->pci;
}

void vdev_sample_set_running(struct vdev_sample *d, bool running)
{
    d->stopped = !running;
}

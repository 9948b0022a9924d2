/* proto.h — the vfio-user wire format (QEMU docs/interop/vfio-user.rst).
 *
 * Every message is a 16-byte header ("Header") and a payload; msg_size counts
 * both. All fields are in host byte order ("Protocol Specification"). The
 * payloads that are VFIO's own structs on the wire come from <linux/vfio.h>:
 *   DEVICE_GET_REGION_INFO  struct vfio_region_info (32 bytes) + caps
 *   DEVICE_GET_IRQ_INFO     struct vfio_irq_info (16 bytes)
 *   DEVICE_SET_IRQS         struct vfio_irq_set (20 bytes) + data
 *   DEVICE_FEATURE          struct vfio_device_feature (8 bytes) + data
 *   DEVICE_GET_INFO         struct vfio_device_info, of which only the first 16
 *                           bytes travel: the kernel's struct grew cap_offset
 *                           and pad, the protocol's did not (VFU_DEVICE_INFO_SIZE).
 * What <linux/vfio.h> lacks is defined here. */
#ifndef VDEV_VFU_PROTO_H
#define VDEV_VFU_PROTO_H

#include <stddef.h>
#include <stdint.h>
#include <linux/vfio.h>

/* "Commands" */
enum vfu_command {
    VFU_CMD_VERSION = 1,
    VFU_CMD_DMA_MAP = 2,
    VFU_CMD_DMA_UNMAP = 3,
    VFU_CMD_DEVICE_GET_INFO = 4,
    VFU_CMD_DEVICE_GET_REGION_INFO = 5,
    VFU_CMD_DEVICE_GET_REGION_IO_FDS = 6,
    VFU_CMD_DEVICE_GET_IRQ_INFO = 7,
    VFU_CMD_DEVICE_SET_IRQS = 8,
    VFU_CMD_REGION_READ = 9,
    VFU_CMD_REGION_WRITE = 10,
    VFU_CMD_DMA_READ = 11,             /* server -> client */
    VFU_CMD_DMA_WRITE = 12,            /* server -> client */
    VFU_CMD_DEVICE_RESET = 13,
    /* 14 is not assigned */
    VFU_CMD_REGION_WRITE_MULTI = 15,
    VFU_CMD_DEVICE_FEATURE = 16,
    VFU_CMD_MIG_DATA_READ = 17,
    VFU_CMD_MIG_DATA_WRITE = 18,
    VFU_CMD_MAX,
};

/* "Header": 16 bytes. */
struct vfu_header {
    uint16_t msg_id;      /* the sender's; echoed in the reply */
    uint16_t command;
    uint32_t msg_size;    /* header included */
    uint32_t flags;
    uint32_t error_no;    /* an errno in an error reply; reserved in a command */
} __attribute__((packed));

#define VFU_F_TYPE_MASK     0xfu         /* bits 0-3 */
#define VFU_F_TYPE_COMMAND  0x0u
#define VFU_F_TYPE_REPLY    0x1u
#define VFU_F_NO_REPLY      (1u << 4)
#define VFU_F_ERROR         (1u << 5)

/* "VFIO_USER_VERSION": major, minor, then optional NUL-terminated JSON. */
struct vfu_version {
    uint16_t major;
    uint16_t minor;
    char data[];
} __attribute__((packed));

/* QEMU proposes 0.0, libvfio-user and SPDK 0.1; no 0.1 message differs from 0.0
 * in what this code implements. */
#define VFU_VERSION_MAJOR       0
#define VFU_VERSION_MINOR_MAX   1

/* Capability defaults when a peer leaves one out ("Version", Capabilities). */
#define VFU_DEFAULT_MAX_MSG_FDS         1u
#define VFU_DEFAULT_MAX_DATA_XFER_SIZE  (1u << 20)
#define VFU_DEFAULT_MAX_DMA_MAPS        65535u
#define VFU_DEFAULT_PGSIZES             4096ull

/* "VFIO_USER_DMA_MAP": 32 bytes. */
struct vfu_dma_map {
    uint32_t argsz;       /* the size of this struct: no reply payload */
    uint32_t flags;       /* VFU_DMA_F_READ / VFU_DMA_F_WRITE */
    uint64_t offset;      /* in the fd; 0 when no fd comes */
    uint64_t addr;        /* DMA address (IOVA) */
    uint64_t size;
} __attribute__((packed));

#define VFU_DMA_F_READ   (1u << 0)
#define VFU_DMA_F_WRITE  (1u << 1)

/* "VFIO_USER_DMA_UNMAP": 24 bytes; the reply echoes it. The current text says
 * flags is unused; earlier revisions (and libvfio-user) take the kernel's
 * VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP (a struct vfio_bitmap follows) and
 * VFIO_DMA_UNMAP_FLAG_ALL (addr and size 0). */
struct vfu_dma_unmap {
    uint32_t argsz;       /* the largest reply payload the client takes */
    uint32_t flags;
    uint64_t addr;
    uint64_t size;
} __attribute__((packed));

/* "VFIO_USER_DEVICE_GET_INFO": the first 16 bytes of struct vfio_device_info. */
#define VFU_DEVICE_INFO_SIZE  offsetof(struct vfio_device_info, cap_offset)

/* "VFIO_USER_DEVICE_GET_REGION_IO_FDS": request 16 bytes, then 40-byte entries. */
struct vfu_region_io_fds {
    uint32_t argsz;
    uint32_t flags;
    uint32_t index;
    uint32_t count;
} __attribute__((packed));

struct vfu_sub_region_io_fd {
    uint64_t offset;
    uint64_t size;
    uint32_t fd_index;
    uint32_t type;        /* VFU_IO_FD_TYPE_* */
    uint32_t flags;
    uint32_t padding;
    uint64_t datamatch;   /* user_data for an ioregionfd */
} __attribute__((packed));

#define VFU_IO_FD_TYPE_IOEVENTFD   0
#define VFU_IO_FD_TYPE_IOREGIONFD  1

/* "VFIO_USER_REGION_READ" / "VFIO_USER_REGION_WRITE": 16 bytes, then count
 * bytes of data in a read's reply and in a write's request. */
struct vfu_region_access {
    uint64_t offset;
    uint32_t region;
    uint32_t count;
    uint8_t data[];
} __attribute__((packed));

/* "VFIO_USER_DMA_READ" / "VFIO_USER_DMA_WRITE": 16 bytes, then data. (The text
 * gives DMA_WRITE's reply count 4 bytes in a table of 8-byte fields; the
 * request's 8 is taken for both.) */
struct vfu_dma_access {
    uint64_t addr;
    uint64_t count;
    uint8_t data[];
} __attribute__((packed));

/* "VFIO_USER_REGION_WRITE_MULTI": wr_cnt, then wr_cnt 24-byte writes of at
 * most 8 bytes each; the reply is wr_cnt alone. */
#define VFU_WRITE_MULTI_DATA_MAX  8
struct vfu_write_multi_entry {
    uint64_t offset;
    uint32_t region;
    uint32_t count;
    uint8_t data[VFU_WRITE_MULTI_DATA_MAX];
} __attribute__((packed));

struct vfu_write_multi {
    uint64_t wr_cnt;
    struct vfu_write_multi_entry wrs[];
} __attribute__((packed));

/* "VFIO_USER_MIG_DATA_READ" / "VFIO_USER_MIG_DATA_WRITE": 8 bytes, then data. */
struct vfu_mig_data {
    uint32_t argsz;
    uint32_t size;
    uint8_t data[];
} __attribute__((packed));

_Static_assert(sizeof(struct vfu_header) == 16, "header is 16 bytes");
_Static_assert(sizeof(struct vfu_version) == 4, "version is 4 bytes + data");
_Static_assert(sizeof(struct vfu_dma_map) == 32, "DMA_MAP is 32 bytes");
_Static_assert(sizeof(struct vfu_dma_unmap) == 24, "DMA_UNMAP is 24 bytes");
_Static_assert(VFU_DEVICE_INFO_SIZE == 16, "DEVICE_GET_INFO is 16 bytes");
_Static_assert(sizeof(struct vfio_region_info) == 32, "REGION_INFO is 32 bytes");
_Static_assert(sizeof(struct vfio_irq_info) == 16, "IRQ_INFO is 16 bytes");
_Static_assert(sizeof(struct vfio_irq_set) == 20, "SET_IRQS is 20 bytes + data");
_Static_assert(sizeof(struct vfio_info_cap_header) == 8, "cap header is 8 bytes");
_Static_assert(sizeof(struct vfio_region_info_cap_sparse_mmap) == 16,
               "sparse mmap cap is 16 bytes + areas");
_Static_assert(sizeof(struct vfio_region_sparse_mmap_area) == 16, "area is 16 bytes");
_Static_assert(sizeof(struct vfu_region_io_fds) == 16, "IO_FDS is 16 bytes");
_Static_assert(sizeof(struct vfu_sub_region_io_fd) == 40, "sub-region is 40 bytes");
_Static_assert(sizeof(struct vfu_region_access) == 16, "region access is 16 bytes");
_Static_assert(sizeof(struct vfu_dma_access) == 16, "DMA access is 16 bytes");
_Static_assert(sizeof(struct vfu_write_multi_entry) == 24, "one write is 24 bytes");
_Static_assert(sizeof(struct vfu_write_multi) == 8, "WRITE_MULTI is 8 bytes + writes");
_Static_assert(sizeof(struct vfio_device_feature) == 8, "FEATURE is 8 bytes + data");
_Static_assert(sizeof(struct vfu_mig_data) == 8, "MIG_DATA is 8 bytes + data");

/* --- capabilities (caps.c): the JSON of VERSION, both directions ------------- */

#include <stdbool.h>

#define VFU_CAP_MAX_MSG_FDS    (1u << 0)
#define VFU_CAP_MAX_XFER       (1u << 1)
#define VFU_CAP_PGSIZES        (1u << 2)
#define VFU_CAP_MAX_DMA_MAPS   (1u << 3)
#define VFU_CAP_TWIN_SOCKET    (1u << 4)
#define VFU_CAP_WRITE_MULTIPLE (1u << 5)
#define VFU_CAP_MIGRATION      (1u << 6)

/* The longest version data either side accepts (JSON and its NUL). */
#define VFU_VERSION_DATA_MAX   4096u

struct vfu_caps {
    uint32_t present;             /* VFU_CAP_* found, or to write */
    uint64_t max_msg_fds;
    uint64_t max_data_xfer_size;
    uint64_t pgsizes;
    uint64_t max_dma_maps;
    bool twin_supported;
    bool twin_has_fd_index;
    uint64_t twin_fd_index;
    bool write_multiple;
    /* "migration" (earlier revisions): {"pgsize": n, "max_bitmap_size": n} */
    bool mig_has_pgsize, mig_has_max_bitmap;
    uint64_t mig_pgsize, mig_max_bitmap_size;
};

/* Parses version data: len bytes that must end with their only NUL and hold a
 * JSON object, optionally with "capabilities". len 0 is no data. Members of the
 * wrong type, negative or fractional numbers, trailing text: -EINVAL. Unknown
 * members are ignored (a later minor version may add them). Missing
 * capabilities take the spec's defaults and stay out of present. */
int  vfu_caps_parse(const char *data, size_t len, struct vfu_caps *out);
/* Writes {"capabilities": {...}} with the members in present, NUL-terminated,
 * into buf; returns the length with the NUL, or -ENOSPC. */
int  vfu_caps_format(const struct vfu_caps *c, char *buf, size_t size);
/* The caps with every default filled in, present 0. */
void vfu_caps_defaults(struct vfu_caps *c);

#endif

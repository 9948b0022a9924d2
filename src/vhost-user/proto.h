/* proto.h — the vhost-user wire format (QEMU docs/interop/vhost-user.rst), shared
 * by the backend and the frontend.
 *
 * All numbers are in the host's byte order (the spec: "machine native"). Payloads
 * that the kernel's <linux/vhost_types.h> defines are used from there: struct
 * vhost_vring_state, struct vhost_vring_addr, struct vhost_iotlb_msg. */
#ifndef VDEV_VHOST_USER_PROTO_H
#define VDEV_VHOST_USER_PROTO_H

#include <stdint.h>
#include <linux/vhost_types.h>

/* Header flags ("Header"). */
#define VU_VERSION            0x1u
#define VU_FLAG_VERSION_MASK  0x3u
#define VU_FLAG_REPLY         (1u << 2)
#define VU_FLAG_NEED_REPLY    (1u << 3)

/* Virtio feature bit 30, reused by vhost-user ("Communication"). */
#define VU_F_PROTOCOL_FEATURES 30

/* Front-end requests ("Front-end message types"). */
enum vu_request {
    VU_GET_FEATURES = 1,
    VU_SET_FEATURES = 2,
    VU_SET_OWNER = 3,
    VU_RESET_OWNER = 4,
    VU_SET_MEM_TABLE = 5,
    VU_SET_LOG_BASE = 6,
    VU_SET_LOG_FD = 7,
    VU_SET_VRING_NUM = 8,
    VU_SET_VRING_ADDR = 9,
    VU_SET_VRING_BASE = 10,
    VU_GET_VRING_BASE = 11,
    VU_SET_VRING_KICK = 12,
    VU_SET_VRING_CALL = 13,
    VU_SET_VRING_ERR = 14,
    VU_GET_PROTOCOL_FEATURES = 15,
    VU_SET_PROTOCOL_FEATURES = 16,
    VU_GET_QUEUE_NUM = 17,
    VU_SET_VRING_ENABLE = 18,
    VU_SEND_RARP = 19,
    VU_NET_SET_MTU = 20,
    VU_SET_BACKEND_REQ_FD = 21,
    VU_IOTLB_MSG = 22,
    VU_SET_VRING_ENDIAN = 23,
    VU_GET_CONFIG = 24,
    VU_SET_CONFIG = 25,
    VU_CREATE_CRYPTO_SESSION = 26,
    VU_CLOSE_CRYPTO_SESSION = 27,
    VU_POSTCOPY_ADVISE = 28,
    VU_POSTCOPY_LISTEN = 29,
    VU_POSTCOPY_END = 30,
    VU_GET_INFLIGHT_FD = 31,
    VU_SET_INFLIGHT_FD = 32,
    VU_GPU_SET_SOCKET = 33,
    VU_RESET_DEVICE = 34,
    VU_VRING_KICK = 35,
    VU_GET_MAX_MEM_SLOTS = 36,
    VU_ADD_MEM_REG = 37,
    VU_REM_MEM_REG = 38,
    VU_SET_STATUS = 39,
    VU_GET_STATUS = 40,
    VU_GET_SHARED_OBJECT = 41,
    VU_SET_DEVICE_STATE_FD = 42,
    VU_CHECK_DEVICE_STATE = 43,
    VU_REQUEST_MAX = 44,
};

/* Back-end requests, on the back-end channel ("Back-end message types"). */
enum vu_backend_request {
    VU_BACKEND_IOTLB_MSG = 1,
    VU_BACKEND_CONFIG_CHANGE_MSG = 2,
    VU_BACKEND_VRING_HOST_NOTIFIER_MSG = 3,
    VU_BACKEND_VRING_CALL = 4,
    VU_BACKEND_VRING_ERR = 5,
    VU_BACKEND_SHARED_OBJECT_ADD = 6,
    VU_BACKEND_SHARED_OBJECT_REMOVE = 7,
    VU_BACKEND_SHARED_OBJECT_LOOKUP = 8,
};

/* Protocol features ("Protocol features"). */
enum vu_protocol_feature {
    VU_PF_MQ = 0,
    VU_PF_LOG_SHMFD = 1,
    VU_PF_RARP = 2,
    VU_PF_REPLY_ACK = 3,
    VU_PF_MTU = 4,
    VU_PF_BACKEND_REQ = 5,
    VU_PF_CROSS_ENDIAN = 6,
    VU_PF_CRYPTO_SESSION = 7,
    VU_PF_PAGEFAULT = 8,
    VU_PF_CONFIG = 9,
    VU_PF_BACKEND_SEND_FD = 10,
    VU_PF_HOST_NOTIFIER = 11,
    VU_PF_INFLIGHT_SHMFD = 12,
    VU_PF_RESET_DEVICE = 13,
    VU_PF_INBAND_NOTIFICATIONS = 14,
    VU_PF_CONFIGURE_MEM_SLOTS = 15,
    VU_PF_STATUS = 16,
    VU_PF_XEN_MMAP = 17,
    VU_PF_SHARED_OBJECT = 18,
    VU_PF_DEVICE_STATE = 19,
};

/* SET_VRING_KICK/CALL/ERR: bits 0-7 the ring index, bit 8 "no fd: poll". */
#define VU_VRING_INDEX_MASK   0xffu
#define VU_VRING_NOFD         (1u << 8)

/* SET_MEM_TABLE carries at most this many regions (and as many fds). */
#define VU_MEMORY_BASELINE_NREGIONS 8

/* GET_CONFIG / SET_CONFIG payloads hold at most this much config space. */
#define VU_MAX_CONFIG_SIZE 256

struct vu_header {
    uint32_t request;
    uint32_t flags;
    uint32_t size;           /* payload bytes after the header */
} __attribute__((packed));

/* "Memory region description" */
struct vu_mem_region {
    uint64_t guest_addr;
    uint64_t size;
    uint64_t user_addr;
    uint64_t mmap_offset;
} __attribute__((packed));

/* "Multiple Memory regions description" (SET_MEM_TABLE) */
struct vu_mem_table {
    uint32_t nregions;
    uint32_t padding;
    struct vu_mem_region regions[VU_MEMORY_BASELINE_NREGIONS];
} __attribute__((packed));

/* "Single memory region description" (ADD_MEM_REG, REM_MEM_REG) */
struct vu_mem_reg {
    uint64_t padding;
    struct vu_mem_region region;
} __attribute__((packed));

/* "Log description" (SET_LOG_BASE with LOG_SHMFD) */
struct vu_log {
    uint64_t size;
    uint64_t offset;         /* where guest address 0 is logged, in the fd */
} __attribute__((packed));

/* "Virtio device config space" (GET_CONFIG, SET_CONFIG): header + size bytes */
struct vu_config {
    uint32_t offset;
    uint32_t size;
    uint32_t flags;          /* 0 writable fields, 1 live migration */
    uint8_t payload[VU_MAX_CONFIG_SIZE];
} __attribute__((packed));
#define VU_CONFIG_HDR_SIZE 12u
#define VU_CONFIG_FLAG_MIGRATION 1u

/* "Vring area description" (BACKEND_VRING_HOST_NOTIFIER_MSG) */
struct vu_vring_area {
    uint64_t u64;            /* ring index and flags */
    uint64_t size;
    uint64_t offset;
} __attribute__((packed));

/* "Inflight description" (GET_INFLIGHT_FD, SET_INFLIGHT_FD). Not packed: QEMU
 * sends the struct with its natural padding, 24 bytes; the fields are the first
 * 20 (VU_INFLIGHT_MIN_SIZE), which is all a peer must send. */
struct vu_inflight {
    uint64_t mmap_size;
    uint64_t mmap_offset;
    uint16_t num_queues;
    uint16_t queue_size;
};
#define VU_INFLIGHT_MIN_SIZE 20u

/* "VhostUserShared" */
struct vu_shared {
    uint8_t uuid[16];
} __attribute__((packed));

/* "Device state transfer parameters" (SET_DEVICE_STATE_FD) */
struct vu_transfer_state {
    uint32_t direction;      /* 0 save (back-end to front-end), 1 load */
    uint32_t phase;          /* 0 stopped */
} __attribute__((packed));
#define VU_TRANSFER_SAVE 0u
#define VU_TRANSFER_LOAD 1u
#define VU_PHASE_STOPPED 0u

/* The largest payload of any request the back-end accepts (SET_CONFIG). */
#define VU_MAX_PAYLOAD sizeof(struct vu_config)

_Static_assert(sizeof(struct vu_header) == 12, "vhost-user header");
_Static_assert(sizeof(struct vu_mem_region) == 32, "memory region");
_Static_assert(sizeof(struct vu_mem_table) == 8 + 8 * 32, "memory table");
_Static_assert(sizeof(struct vu_mem_reg) == 40, "single memory region");
_Static_assert(sizeof(struct vu_inflight) == 24, "inflight description");
_Static_assert(sizeof(struct vhost_vring_state) == 8, "vring state");
_Static_assert(sizeof(struct vhost_vring_addr) == 40, "vring address");


#endif

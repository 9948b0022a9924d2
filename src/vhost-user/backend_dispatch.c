/* backend_dispatch.c — what each front-end request may carry ("Front-end message
 * types"): its payload size, its fds, the protocol feature it needs, whether it
 * has a reply payload, and the handler that acts on it.
 *
 * Sizes are checked against this table before the payload is read; fds and
 * features before the handler runs. A request with no handler is one vdev does
 * not implement: it is answered with an error and the connection lives. */
#include <stddef.h>

#include "backend_internal.h"

#define U64     sizeof(uint64_t)
#define STATE   sizeof(struct vhost_vring_state)
#define ADDR    sizeof(struct vhost_vring_addr)
#define NO_PF   (-1)

/* SET_MEM_TABLE: the count and padding, then up to 8 regions; backend_mem.c
 * checks the count against the size. */
#define TABLE_MIN offsetof(struct vu_mem_table, regions)
#define TABLE_MAX sizeof(struct vu_mem_table)

static const struct vu_handler handlers[VU_REQUEST_MAX] = {
    [VU_GET_FEATURES] = { "GET_FEATURES", vu_h_get_features, 0, 0,
                          VU_FDS_NONE, VU_REPLY_VALUE, NO_PF },
    [VU_SET_FEATURES] = { "SET_FEATURES", vu_h_set_features, U64, U64,
                          VU_FDS_NONE, VU_REPLY_NONE, NO_PF },
    [VU_SET_OWNER] = { "SET_OWNER", vu_h_set_owner, 0, 0,
                       VU_FDS_NONE, VU_REPLY_NONE, NO_PF },
    [VU_RESET_OWNER] = { "RESET_OWNER", vu_h_reset_owner, 0, 0,
                         VU_FDS_NONE, VU_REPLY_NONE, NO_PF },
    [VU_SET_MEM_TABLE] = { "SET_MEM_TABLE", vu_h_set_mem_table, TABLE_MIN, TABLE_MAX,
                           VU_FDS_HANDLER, VU_REPLY_NONE, NO_PF },
    /* Only the LOG_SHMFD form is supported: the fd, and a u64 status reply. */
    [VU_SET_LOG_BASE] = { "SET_LOG_BASE", vu_h_set_log_base, sizeof(struct vu_log),
                          sizeof(struct vu_log), VU_FDS_ONE, VU_REPLY_STATUS,
                          VU_PF_LOG_SHMFD, true },
    [VU_SET_LOG_FD] = { "SET_LOG_FD", vu_h_set_log_fd, 0, 0,
                        VU_FDS_ONE, VU_REPLY_NONE, NO_PF },
    [VU_SET_VRING_NUM] = { "SET_VRING_NUM", vu_h_set_vring_num, STATE, STATE,
                           VU_FDS_NONE, VU_REPLY_NONE, NO_PF },
    [VU_SET_VRING_ADDR] = { "SET_VRING_ADDR", vu_h_set_vring_addr, ADDR, ADDR,
                            VU_FDS_NONE, VU_REPLY_NONE, NO_PF },
    [VU_SET_VRING_BASE] = { "SET_VRING_BASE", vu_h_set_vring_base, STATE, STATE,
                            VU_FDS_NONE, VU_REPLY_NONE, NO_PF },
    [VU_GET_VRING_BASE] = { "GET_VRING_BASE", vu_h_get_vring_base, STATE, STATE,
                            VU_FDS_NONE, VU_REPLY_VALUE, NO_PF },
    /* KICK/CALL/ERR: one fd, or none with bit 8; the handler checks which. */
    [VU_SET_VRING_KICK] = { "SET_VRING_KICK", vu_h_set_vring_kick, U64, U64,
                            VU_FDS_HANDLER, VU_REPLY_NONE, NO_PF },
    [VU_SET_VRING_CALL] = { "SET_VRING_CALL", vu_h_set_vring_call, U64, U64,
                            VU_FDS_HANDLER, VU_REPLY_NONE, NO_PF },
    [VU_SET_VRING_ERR] = { "SET_VRING_ERR", vu_h_set_vring_err, U64, U64,
                           VU_FDS_HANDLER, VU_REPLY_NONE, NO_PF },
    [VU_GET_PROTOCOL_FEATURES] = { "GET_PROTOCOL_FEATURES", vu_h_get_protocol_features,
                                   0, 0, VU_FDS_NONE, VU_REPLY_VALUE, NO_PF },
    [VU_SET_PROTOCOL_FEATURES] = { "SET_PROTOCOL_FEATURES", vu_h_set_protocol_features,
                                   U64, U64, VU_FDS_NONE, VU_REPLY_NONE, NO_PF },
    [VU_GET_QUEUE_NUM] = { "GET_QUEUE_NUM", vu_h_get_queue_num, 0, 0,
                           VU_FDS_NONE, VU_REPLY_VALUE, VU_PF_MQ },
    [VU_SET_VRING_ENABLE] = { "SET_VRING_ENABLE", vu_h_set_vring_enable, STATE, STATE,
                              VU_FDS_NONE, VU_REPLY_NONE, NO_PF },
    [VU_SEND_RARP] = { "SEND_RARP", NULL, 0, VU_MAX_PAYLOAD,
                       VU_FDS_ANY, VU_REPLY_NONE, NO_PF },
    [VU_NET_SET_MTU] = { "NET_SET_MTU", vu_h_net_set_mtu, U64, U64,
                         VU_FDS_NONE, VU_REPLY_NONE, NO_PF },
    [VU_SET_BACKEND_REQ_FD] = { "SET_BACKEND_REQ_FD", vu_h_set_backend_req_fd, 0, 0,
                                VU_FDS_ONE, VU_REPLY_NONE, VU_PF_BACKEND_REQ },
    /* With VIRTIO_F_IOMMU_PLATFORM (the handler checks); a u64 status reply. */
    [VU_IOTLB_MSG] = { "IOTLB_MSG", vu_h_iotlb_msg, sizeof(struct vhost_iotlb_msg),
                       sizeof(struct vhost_iotlb_msg), VU_FDS_NONE, VU_REPLY_STATUS,
                       NO_PF },
    [VU_SET_VRING_ENDIAN] = { "SET_VRING_ENDIAN", NULL, 0, VU_MAX_PAYLOAD,
                              VU_FDS_ANY, VU_REPLY_NONE, NO_PF },
    [VU_GET_CONFIG] = { "GET_CONFIG", vu_h_get_config, VU_CONFIG_HDR_SIZE,
                        VU_CONFIG_HDR_SIZE + VU_MAX_CONFIG_SIZE,
                        VU_FDS_NONE, VU_REPLY_VALUE, VU_PF_CONFIG },
    [VU_SET_CONFIG] = { "SET_CONFIG", vu_h_set_config, VU_CONFIG_HDR_SIZE,
                        VU_CONFIG_HDR_SIZE + VU_MAX_CONFIG_SIZE,
                        VU_FDS_NONE, VU_REPLY_NONE, VU_PF_CONFIG },
    [VU_CREATE_CRYPTO_SESSION] = { "CREATE_CRYPTO_SESSION", NULL, 0, VU_MAX_PAYLOAD,
                                   VU_FDS_ANY, VU_REPLY_VALUE, NO_PF },
    [VU_CLOSE_CRYPTO_SESSION] = { "CLOSE_CRYPTO_SESSION", NULL, 0, VU_MAX_PAYLOAD,
                                  VU_FDS_ANY, VU_REPLY_NONE, NO_PF },
    [VU_POSTCOPY_ADVISE] = { "POSTCOPY_ADVISE", NULL, 0, VU_MAX_PAYLOAD,
                             VU_FDS_ANY, VU_REPLY_VALUE, NO_PF },
    [VU_POSTCOPY_LISTEN] = { "POSTCOPY_LISTEN", NULL, 0, VU_MAX_PAYLOAD,
                             VU_FDS_ANY, VU_REPLY_NONE, NO_PF },
    [VU_POSTCOPY_END] = { "POSTCOPY_END", NULL, 0, VU_MAX_PAYLOAD,
                          VU_FDS_ANY, VU_REPLY_STATUS, NO_PF },
    /* The inflight description is 20 bytes of fields; QEMU sends 24 (padding). */
    [VU_GET_INFLIGHT_FD] = { "GET_INFLIGHT_FD", vu_h_get_inflight_fd,
                             VU_INFLIGHT_MIN_SIZE, sizeof(struct vu_inflight),
                             VU_FDS_NONE, VU_REPLY_VALUE, VU_PF_INFLIGHT_SHMFD,
                             true },
    [VU_SET_INFLIGHT_FD] = { "SET_INFLIGHT_FD", vu_h_set_inflight_fd,
                             VU_INFLIGHT_MIN_SIZE, sizeof(struct vu_inflight),
                             VU_FDS_ONE, VU_REPLY_NONE, VU_PF_INFLIGHT_SHMFD },
    [VU_GPU_SET_SOCKET] = { "GPU_SET_SOCKET", NULL, 0, VU_MAX_PAYLOAD,
                            VU_FDS_ANY, VU_REPLY_NONE, NO_PF },
    [VU_RESET_DEVICE] = { "RESET_DEVICE", vu_h_reset_device, 0, 0,
                          VU_FDS_NONE, VU_REPLY_NONE, VU_PF_RESET_DEVICE },
    [VU_VRING_KICK] = { "VRING_KICK", vu_h_vring_kick, STATE, STATE,
                        VU_FDS_NONE, VU_REPLY_NONE, VU_PF_INBAND_NOTIFICATIONS },
    [VU_GET_MAX_MEM_SLOTS] = { "GET_MAX_MEM_SLOTS", vu_h_get_max_mem_slots, 0, 0,
                               VU_FDS_NONE, VU_REPLY_VALUE, VU_PF_CONFIGURE_MEM_SLOTS },
    [VU_ADD_MEM_REG] = { "ADD_MEM_REG", vu_h_add_mem_reg, sizeof(struct vu_mem_reg),
                         sizeof(struct vu_mem_reg), VU_FDS_ONE, VU_REPLY_NONE,
                         VU_PF_CONFIGURE_MEM_SLOTS },
    /* REM_MEM_REG: no fd, or one the back-end closes unused. */
    [VU_REM_MEM_REG] = { "REM_MEM_REG", vu_h_rem_mem_reg, sizeof(struct vu_mem_reg),
                         sizeof(struct vu_mem_reg), VU_FDS_HANDLER, VU_REPLY_NONE,
                         VU_PF_CONFIGURE_MEM_SLOTS },
    [VU_SET_STATUS] = { "SET_STATUS", vu_h_set_status, U64, U64,
                        VU_FDS_NONE, VU_REPLY_NONE, VU_PF_STATUS },
    [VU_GET_STATUS] = { "GET_STATUS", vu_h_get_status, 0, 0,
                        VU_FDS_NONE, VU_REPLY_VALUE, VU_PF_STATUS },
    /* QEMU reads a u64 (non-zero: not found) when no fd comes back. */
    [VU_GET_SHARED_OBJECT] = { "GET_SHARED_OBJECT", NULL, 0, VU_MAX_PAYLOAD,
                               VU_FDS_ANY, VU_REPLY_STATUS, NO_PF },
    [VU_SET_DEVICE_STATE_FD] = { "SET_DEVICE_STATE_FD", vu_h_set_device_state_fd,
                                 sizeof(struct vu_transfer_state),
                                 sizeof(struct vu_transfer_state), VU_FDS_ONE,
                                 VU_REPLY_STATUS, VU_PF_DEVICE_STATE },
    [VU_CHECK_DEVICE_STATE] = { "CHECK_DEVICE_STATE", vu_h_check_device_state, 0, 0,
                                VU_FDS_NONE, VU_REPLY_STATUS, VU_PF_DEVICE_STATE },
};

const struct vu_handler *vu_handler_of(uint32_t request)
{
    if (request >= VU_REQUEST_MAX || !handlers[request].name)
        return NULL;
    return &handlers[request];
}

const char *vu_req_name(uint32_t request)
{
    const struct vu_handler *h = vu_handler_of(request);

    return h ? h->name : "unknown request";
}

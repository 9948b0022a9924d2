/* mig_fsm.c — the migration state machine's next-state table.
 *
 * The direct arcs are those <linux/vfio.h> lists (enum vfio_device_mig_state):
 *   RUNNING <-> RUNNING_P2P, RUNNING_P2P <-> STOP, STOP -> STOP_COPY,
 *   STOP_COPY -> STOP, STOP <-> RESUMING, RUNNING <-> PRE_COPY,
 *   PRE_COPY <-> PRE_COPY_P2P, PRE_COPY_P2P -> RUNNING_P2P,
 *   PRE_COPY_P2P -> STOP_COPY, RUNNING_P2P -> PRE_COPY_P2P.
 * A longer request takes the shortest path with no saving state (PRE_COPY*,
 * STOP_COPY) inside it; where a state the device lacks is on the path, the arc
 * goes on to the next state the device has (the kernel's rule for optional
 * states, so without P2P RUNNING -> STOP is one arc). vfio-user.rst forbids
 * STOP_COPY -> PRE_COPY outright. */
#include "mig_fsm.h"

enum { E_ = VFIO_DEVICE_STATE_ERROR, S_ = VFIO_DEVICE_STATE_STOP,
       R_ = VFIO_DEVICE_STATE_RUNNING, SC = VFIO_DEVICE_STATE_STOP_COPY,
       RS = VFIO_DEVICE_STATE_RESUMING, RP = VFIO_DEVICE_STATE_RUNNING_P2P,
       PC = VFIO_DEVICE_STATE_PRE_COPY, PP = VFIO_DEVICE_STATE_PRE_COPY_P2P };

/* next[cur][target], with every optional state present. Columns in enum order:
 *                                       E_  S_  R_  SC  RS  RP  PC  PP */
static const uint8_t next[VFU_MIG_NUM_STATES][VFU_MIG_NUM_STATES] = {
    [VFIO_DEVICE_STATE_ERROR]        = { E_, E_, E_, E_, E_, E_, E_, E_ },
    [VFIO_DEVICE_STATE_STOP]         = { E_, S_, RP, SC, RS, RP, RP, RP },
    [VFIO_DEVICE_STATE_RUNNING]      = { E_, RP, R_, RP, RP, RP, PC, RP },
    [VFIO_DEVICE_STATE_STOP_COPY]    = { E_, S_, S_, SC, S_, S_, E_, E_ },
    [VFIO_DEVICE_STATE_RESUMING]     = { E_, S_, S_, S_, RS, S_, S_, S_ },
    [VFIO_DEVICE_STATE_RUNNING_P2P]  = { E_, S_, R_, S_, S_, RP, R_, PP },
    [VFIO_DEVICE_STATE_PRE_COPY]     = { E_, R_, R_, PP, R_, R_, PC, PP },
    [VFIO_DEVICE_STATE_PRE_COPY_P2P] = { E_, RP, RP, SC, RP, RP, PC, PP },
};

/* The flags a state needs (<linux/vfio.h>, "VFIO_DEVICE_FEATURE_MIGRATION"). */
static uint64_t state_needs(uint32_t st)
{
    switch (st) {
    case VFIO_DEVICE_STATE_ERROR:
        return 0;
    case VFIO_DEVICE_STATE_RUNNING_P2P:
        return VFIO_MIGRATION_STOP_COPY | VFIO_MIGRATION_P2P;
    case VFIO_DEVICE_STATE_PRE_COPY:
        return VFIO_MIGRATION_STOP_COPY | VFIO_MIGRATION_PRE_COPY;
    case VFIO_DEVICE_STATE_PRE_COPY_P2P:
        return VFIO_MIGRATION_STOP_COPY | VFIO_MIGRATION_P2P | VFIO_MIGRATION_PRE_COPY;
    default:
        return VFIO_MIGRATION_STOP_COPY;
    }
}

bool vfu_mig_state_supported(uint32_t st, uint64_t flags)
{
    return st < VFU_MIG_NUM_STATES && (state_needs(st) & flags) == state_needs(st);
}

uint32_t vfu_mig_next(uint32_t cur, uint32_t target, uint64_t flags)
{
    uint32_t n;

    if (!vfu_mig_state_supported(cur, flags) || !vfu_mig_state_supported(target, flags))
        return VFIO_DEVICE_STATE_ERROR;
    n = next[cur][target];
    while (!vfu_mig_state_supported(n, flags))
        n = next[n][target];
    return n;
}

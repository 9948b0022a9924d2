/* mig_fsm.h — the VFIO migration state machine's paths (<linux/vfio.h>, enum
 * vfio_device_mig_state; vfio-user.rst "Direct State Transitions" and
 * "Complex State Transitions"), apart from any message so it can be tested
 * alone. States are enum vfio_device_mig_state, flags VFIO_MIGRATION_*. */
#ifndef VDEV_VFU_MIG_FSM_H
#define VDEV_VFU_MIG_FSM_H

#include <stdbool.h>
#include <stdint.h>

#include "vdev/vfio_user.h"

#define VFU_MIG_NUM_STATES 8u      /* ERROR .. PRE_COPY_P2P */

/* Whether a device with these flags has state st (ERROR: always). */
bool     vfu_mig_state_supported(uint32_t st, uint64_t flags);

/* The next state on the shortest path from cur to target, skipping states the
 * device has not; cur when cur == target; VFIO_DEVICE_STATE_ERROR when target
 * cannot be asked for from cur (ERROR, unsupported, STOP_COPY -> PRE_COPY). */
uint32_t vfu_mig_next(uint32_t cur, uint32_t target, uint64_t flags);

#endif

/* test_vfu_fixture.h — vdev's vfio-user server serving a tiny test device on a
 * UNIX socket, and vdev's vfio-user client connected to it.
 *
 * The device: BAR0 has 256 bytes of registers (two scratch registers, a doorbell
 * that raises MSI-X vector n, a DMA address whose write makes the device read 4
 * bytes of client memory into a data register, and a DMA command that copies
 * between client memory and BAR2); BAR2 is 8 KiB of the device's
 * own memfd, mmap-able in its second page (a sparse mmap cap); the config region
 * is 256 read-only bytes. BAR0 declares three io fd sub-regions on two
 * eventfds (the doorbell as an ioeventfd with datamatch, both scratch registers
 * on one ioregionfd). Migration: BAR0's 256 bytes are the device state. IRQs: INTx (1, maskable), MSI (none), MSI-X (32,
 * maskable), ERR (1, not maskable), REQ (none).
 *
 * The server's loop runs on a thread of its own; the test is the VMM. Every
 * test's teardown connects a new client and runs a clean session before it
 * frees anything, so a hostile test passes only if the server still serves;
 * then it checks every fd the test and the server opened is closed. */
#ifndef VDEV_TEST_VFU_FIXTURE_H
#define VDEV_TEST_VFU_FIXTURE_H

#include <pthread.h>
#include <semaphore.h>
#include <stdbool.h>
#include <stdint.h>

#include "helpers.h"
#include "vdev/vfio_user.h"
#include "vdev/vfio_user_client.h"
#include "vfio-user/proto.h"

#define VFX_TIMEOUT_MS   10000     /* generous: a wait that runs out fails */

#define TDEV_BAR0_SIZE   256u
#define TDEV_REG_SCRATCH0  0x00u
#define TDEV_REG_SCRATCH1  0x04u
#define TDEV_REG_DOORBELL  0x08u   /* write n: raise MSI-X vector n */
#define TDEV_REG_DMA_LO    0x10u
#define TDEV_REG_DMA_HI    0x14u   /* write: read 4 bytes at the address */
#define TDEV_REG_DMA_DATA  0x18u   /* what was read, 0xffffffff on failure */
#define TDEV_REG_HOLD      0x20u   /* write: the device posts held, then waits for
                                    * hold (the server's loop stops meanwhile) */
#define TDEV_REG_DMA_LEN   0x24u   /* bytes for DMA_CMD */
#define TDEV_REG_DMA_CMD   0x28u   /* write 1: client memory at DMA_LO/HI -> BAR2,
                                    * 2: BAR2 -> client memory */
#define TDEV_REG_DMA_STATUS 0x2cu  /* DMA_CMD's result, an int32 (0 or -errno) */
#define TDEV_BAR2_SIZE   0x2000u
#define TDEV_CONFIG_SIZE 256u
#define TDEV_MSIX_COUNT  32u

struct tdev {
    uint8_t bar0[TDEV_BAR0_SIZE];
    uint8_t config[TDEV_CONFIG_SIZE];
    int bar2_fd;
    uint8_t *bar2;
    struct vdev_vfu_server *srv;
    int resets, maps, unmaps, set_irqs;
    int quiesces, resumes;              /* dma_quiesce(true), (false) */
    bool quiesced;                      /* between the two */
    bool changed_unquiesced;            /* a map or unmap came while not quiesced */
    bool last_shared;
    int last_trigger;               /* vdev_vfu_server_irq_trigger()'s result */
    sem_t hold, held;
    int io_ev[2];                   /* BAR0's io fds: the doorbell, the scratch */
    /* migration: BAR0 is the state; saved on entering STOP_COPY, loaded on
     * leaving RESUMING (all of it, or the arc fails) */
    bool running;
    int arcs;
    uint8_t mig_buf[TDEV_BAR0_SIZE];
    uint32_t mig_pos;
};

struct vfx_opts {
    uint32_t max_dma_maps;          /* 0: the default */
    uint32_t max_data_xfer_size;    /* 0: the default */
};

struct vfx {
    struct vfx_opts opts;
    int fds_before;
    struct vdev_loop *loop;
    pthread_t thread;
    struct vdev_vfu_server *srv;
    struct tdev dev;
    char dir[64], path[128];
    sem_t gone;                     /* posted by on_disconnect */
    struct vdev_vfuc *c;            /* connected and negotiated */
    struct vdev_vfuc_caps caps;
};

/* cmocka setup/teardown: *state is a struct vfx. */
int  vfx_setup(void **state);
int  vfx_setup_small(void **state);     /* max_dma_maps 2, max xfer 4096 */
int  vfx_teardown(void **state);

/* Connects a client (not negotiated). */
struct vdev_vfuc *vfx_connect(struct vfx *f);
/* Waits until the server has dropped its client. */
void vfx_wait_gone(struct vfx *f);

/* Raw bytes on the client's socket: a command as given (fds on its first byte),
 * and one message in (the payload into buf, at most cap). */
void vfx_raw_send(struct vfx *f, uint16_t id, uint16_t cmd, uint32_t flags,
                  const void *payload, uint32_t size, const int *fds, size_t nfds);
void vfx_raw_recv(struct vfx *f, struct vfu_header *h, void *buf, size_t cap);

/* Stops the server's loop inside the device (a posted write to the hold
 * register) until vfx_release(): whatever the test sends meanwhile queues up
 * in the socket and is read in one batch. */
void vfx_hold(struct vfx *f);
void vfx_release(struct vfx *f);

/* The device's register at off (read on the test thread after a reply). */
uint32_t tdev_reg(struct vfx *f, uint32_t off);

/* A fresh eventfd (non-blocking), and how many times it was signalled (0 if
 * not). */
int  vfx_eventfd(void);
uint64_t vfx_eventfd_count(int fd);

#endif

/* loop.h — an epoll event loop: fd watches, timers, and calls from other threads.
 *
 * One thread runs a loop; every callback runs on that thread. Watches may be added
 * and removed from inside callbacks, including the callback's own watch.
 * vdev_loop_stop() and vdev_loop_call() are the only calls that are safe from
 * other threads: they wake the loop through an eventfd. */
#ifndef VDEV_LOOP_H
#define VDEV_LOOP_H

#include "vdev/common.h"

#ifdef __cplusplus
extern "C" {
#endif

struct vdev_loop;
struct vdev_watch;

/* events: EPOLLIN, EPOLLOUT, EPOLLERR, EPOLLHUP, as epoll reports them. */
typedef void (*vdev_fd_cb)(void *opaque, uint32_t events);
typedef void (*vdev_timer_cb)(void *opaque);
typedef void (*vdev_call_cb)(void *opaque);

VDEV_API int  vdev_loop_new(struct vdev_loop **out);
/* Frees the loop and every watch still on it; closes no fd it was given. */
VDEV_API void vdev_loop_free(struct vdev_loop *loop);

/* Watches fd for events (EPOLLIN | EPOLLOUT ...). The fd stays the caller's; remove
 * the watch before closing it. *out may be NULL if the caller never removes it.
 * -EEXIST if fd is already watched by this loop. */
VDEV_API int  vdev_loop_add_fd(struct vdev_loop *loop, int fd, uint32_t events,
                               vdev_fd_cb cb, void *opaque, struct vdev_watch **out);
VDEV_API int  vdev_loop_mod_fd(struct vdev_watch *w, uint32_t events);

/* A timer first fires after first_ns, then every interval_ns (0: once). Built on
 * timerfd with CLOCK_MONOTONIC. */
VDEV_API int  vdev_loop_add_timer(struct vdev_loop *loop, uint64_t first_ns,
                                  uint64_t interval_ns, vdev_timer_cb cb,
                                  void *opaque, struct vdev_watch **out);

/* Removes an fd watch or a timer. Safe inside any callback; the watch's callback
 * is not called after this returns. */
VDEV_API void vdev_loop_remove(struct vdev_watch *w);

/* Runs until vdev_loop_stop(); returns 0, or a negative errno if epoll fails. */
VDEV_API int  vdev_loop_run(struct vdev_loop *loop);
/* One round: waits at most timeout_ms (-1: forever) and dispatches what is ready.
 * Returns the number of callbacks run, or a negative errno. */
VDEV_API int  vdev_loop_run_once(struct vdev_loop *loop, int timeout_ms);

/* From any thread, including signal-free contexts of other threads. */
VDEV_API void vdev_loop_stop(struct vdev_loop *loop);
/* Queues fn(opaque) to run on the loop's thread, in the order queued. */
VDEV_API int  vdev_loop_call(struct vdev_loop *loop, vdev_call_cb fn, void *opaque);

#ifdef __cplusplus
}
#endif

#endif

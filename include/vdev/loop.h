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
/* Frees the loop and every watch still on it; closes no fd it was given. Not
 * from inside one of the loop's own callbacks. */
VDEV_API void vdev_loop_free(struct vdev_loop *loop);

/* Watches fd for events (EPOLLIN | EPOLLOUT ...). The fd stays the caller's; remove
 * the watch before closing it. *out may be NULL if the caller never removes it.
 * -EEXIST if fd is already watched by this loop. */
VDEV_API int  vdev_loop_add_fd(struct vdev_loop *loop, int fd, uint32_t events,
                               vdev_fd_cb cb, void *opaque, struct vdev_watch **out);
/* Replaces the events of an fd watch; -EINVAL for a timer. */
VDEV_API int  vdev_loop_mod_fd(struct vdev_watch *w, uint32_t events);

/* A timer first fires after first_ns (0: at the next round), then every
 * interval_ns (0: once). Built on timerfd with CLOCK_MONOTONIC. Ticks missed while
 * the loop was busy fold into one call. A one-shot timer that has fired stays on
 * the loop, idle, until it is removed or the loop is freed. */
VDEV_API int  vdev_loop_add_timer(struct vdev_loop *loop, uint64_t first_ns,
                                  uint64_t interval_ns, vdev_timer_cb cb,
                                  void *opaque, struct vdev_watch **out);

/* Removes an fd watch or a timer. Safe inside any callback, including the
 * watch's own; the watch's callback is not called after this returns, even if
 * its fd is ready in the round being dispatched. w is invalid afterwards. */
VDEV_API void vdev_loop_remove(struct vdev_watch *w);

/* Runs until vdev_loop_stop(); returns 0, or a negative errno if epoll fails. */
VDEV_API int  vdev_loop_run(struct vdev_loop *loop);
/* One round: waits at most timeout_ms (-1: forever) and dispatches what is ready.
 * Returns the number of callbacks run (0 on timeout or a signal), or a negative
 * errno. */
VDEV_API int  vdev_loop_run_once(struct vdev_loop *loop, int timeout_ms);

/* Makes vdev_loop_run() return after the round in progress. From any thread, and
 * async-signal-safe (an atomic flag and an eventfd write). A stop that comes
 * before vdev_loop_run() is kept: that run returns at once. */
VDEV_API void vdev_loop_stop(struct vdev_loop *loop);
/* Queues fn(opaque) to run on the loop's thread, in the order queued; from any
 * thread (not from a signal handler: it allocates). Calls still queued when the
 * loop is freed are dropped without running. -ENOMEM. */
VDEV_API int  vdev_loop_call(struct vdev_loop *loop, vdev_call_cb fn, void *opaque);

#ifdef __cplusplus
}
#endif

#endif

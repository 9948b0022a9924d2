/* helpers.h — what the unit tests share: real memfds, real sockets, fd counting. */
#ifndef VDEV_TEST_HELPERS_H
#define VDEV_TEST_HELPERS_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

/* Open fds of this process, counted in /proc/self/fd. */
int test_count_fds(void);

/* A memfd of size bytes, sealable; fails the test if it cannot be made. */
int test_memfd(const char *name, uint64_t size);

/* Mappings in /proc/self/maps of the memfd called name. */
int test_count_maps(const char *memfd_name);

/* A connected AF_UNIX SOCK_STREAM pair (sv[0], sv[1]). */
void test_socketpair(int sv[2]);

/* Asserts the number of open fds is back where it was. */
#define assert_no_fd_leak(before) assert_int_equal(test_count_fds(), (before))

#endif

#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "helpers.h"

int test_count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    int n = 0;
    struct dirent *e;

    assert_non_null(d);
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n - 1; /* the directory's own fd */
}

int test_memfd(const char *name, uint64_t size)
{
    int fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);

    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, (off_t)size), 0);
    return fd;
}

void test_socketpair(int sv[2])
{
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
}

int test_count_maps(const char *memfd_name)
{
    char line[512], want[300];
    FILE *f = fopen("/proc/self/maps", "re");
    int n = 0;

    assert_non_null(f);
    snprintf(want, sizeof(want), "/memfd:%s ", memfd_name);
    while (fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\n")] = ' ';
        if (strstr(line, want))
            n++;
    }
    fclose(f);
    return n;
}

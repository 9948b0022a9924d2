/* A VMM that shrinks an unsealed file under a live mapping does not kill us: the
 * touch reads zeroes and the map reports the loss. A SIGBUS that is not ours still
 * kills, as it would without vdev. */
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vdev/mem.h"
#include "helpers.h"

static struct vdev_mem *map_one(int fd, uint64_t size)
{
    struct vdev_mem *m;
    struct vdev_mem_region r = { .gpa = 0x100000, .size = size, .fd = fd,
                                 .access = VDEV_MEM_RW };

    assert_int_equal(vdev_mem_new(&m), 0);
    assert_int_equal(vdev_mem_add(m, &r), 0);
    return m;
}

static void test_shrunk_file_survived(void **state)
{
    int fd = test_memfd("vdev-test-shrink", 64 * 1024);
    struct vdev_mem *m = map_one(fd, 64 * 1024);
    uint64_t len = 64 * 1024;
    volatile uint8_t *p = vdev_mem_translate(m, 0x100000, &len, VDEV_MEM_RW);

    assert_non_null(p);
    p[40000] = 7;
    assert_int_equal(p[40000], 7);
    assert_false(vdev_mem_all_sealed(m));
    assert_false(vdev_mem_lost(m));

    assert_int_equal(ftruncate(fd, 4096), 0);      /* the VMM cuts the file */
    assert_int_equal(p[40000], 0);                  /* would be SIGBUS */
    p[50000] = 9;                                   /* so would this */
    assert_int_equal(p[50000], 9);
    assert_true(vdev_mem_lost(m));

    vdev_mem_free(m);
    close(fd);
}

/* A sealed file cannot shrink, so it needs no guard and is never lost. */
static void test_sealed_file_cannot_shrink(void **state)
{
    int fd = test_memfd("vdev-test-sealed", 64 * 1024);
    struct vdev_mem *m;

    assert_int_equal(fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK), 0);
    m = map_one(fd, 64 * 1024);
    assert_true(vdev_mem_all_sealed(m));
    assert_int_equal(ftruncate(fd, 4096), -1);
    assert_false(vdev_mem_lost(m));
    vdev_mem_free(m);
    close(fd);
}

/* After the guard is installed, a SIGBUS in memory that is not guest memory (here:
 * a file the process mapped itself, and a guest mapping since removed) still ends
 * the process. */
static void test_foreign_sigbus_still_kills(void **state)
{
    /* cmocka catches SIGBUS to report it; take that away so the guard chains to
     * the default action, as in a daemon. */
    signal(SIGBUS, SIG_DFL);
    for (int removed = 0; removed < 2; removed++) {
        int fd = test_memfd("vdev-test-guarded", 8192);
        struct vdev_mem *m = map_one(fd, 8192);
        pid_t pid = fork();

        assert_true(pid >= 0);
        if (pid == 0) {
            int other = memfd_create("foreign", 0);
            volatile uint8_t *p;
            if (removed) {
                uint64_t len = 8192;
                p = vdev_mem_translate(m, 0x100000, &len, VDEV_MEM_RW);
                vdev_mem_clear(m);
                /* Put something of ours at the same place that can fault. */
                if (ftruncate(other, 8192) < 0 ||
                    mmap((void *)p, 8192, PROT_READ | PROT_WRITE,
                         MAP_SHARED | MAP_FIXED, other, 0) == MAP_FAILED)
                    _exit(2);
            } else {
                if (ftruncate(other, 8192) < 0)
                    _exit(2);
                p = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, other, 0);
            }
            if (ftruncate(other, 0) < 0)
                _exit(2);
            (void)p[100];
            _exit(0);   /* survived: the guard caught what was not its own */
        }
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFSIGNALED(status));
        assert_int_equal(WTERMSIG(status), SIGBUS);
        vdev_mem_free(m);
        close(fd);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_foreign_sigbus_still_kills),
        cmocka_unit_test(test_shrunk_file_survived),
        cmocka_unit_test(test_sealed_file_cannot_shrink),
    };
    return cmocka_run_group_tests_name("mem-guard", tests, NULL, NULL);
}

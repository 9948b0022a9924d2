/* vdevd — placeholder while the daemon is written. */
#include <stdio.h>
int main(void)
{
    fprintf(stderr, "vdevd: not yet\n");
    return 1;
}

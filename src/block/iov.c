/* iov.c — walking a request's iovecs: advance past what was transferred, zero
 * what was not, copy to and from a bounce buffer. */
#include <string.h>

#include "block_internal.h"

void blk_iov_advance(struct blk_req *r, uint64_t n)
{
    while (n > 0 && r->iovcnt > 0) {
        if (n < r->iov->iov_len) {
            r->iov->iov_base = (char *)r->iov->iov_base + n;
            r->iov->iov_len -= n;
            return;
        }
        n -= r->iov->iov_len;
        r->iov++;
        r->iovcnt--;
    }
    /* Drop empty iovecs left at the front. */
    while (r->iovcnt > 0 && r->iov->iov_len == 0) {
        r->iov++;
        r->iovcnt--;
    }
}

uint64_t blk_iov_length(const struct iovec *iov, unsigned iovcnt)
{
    uint64_t len = 0;

    for (unsigned i = 0; i < iovcnt; i++)
        len += iov[i].iov_len;
    return len;
}

void blk_iov_zero(const struct iovec *iov, unsigned iovcnt)
{
    for (unsigned i = 0; i < iovcnt; i++)
        memset(iov[i].iov_base, 0, iov[i].iov_len);
}

void blk_iov_to_buf(const struct iovec *iov, unsigned iovcnt, void *buf, uint64_t len)
{
    char *p = buf;

    for (unsigned i = 0; i < iovcnt && len > 0; i++) {
        size_t l = iov[i].iov_len < len ? iov[i].iov_len : (size_t)len;

        memcpy(p, iov[i].iov_base, l);
        p += l;
        len -= l;
    }
}

void blk_iov_from_buf(const struct iovec *iov, unsigned iovcnt, const void *buf,
                      uint64_t len)
{
    const char *p = buf;

    for (unsigned i = 0; i < iovcnt && len > 0; i++) {
        size_t l = iov[i].iov_len < len ? iov[i].iov_len : (size_t)len;

        memcpy(iov[i].iov_base, p, l);
        p += l;
        len -= l;
    }
}

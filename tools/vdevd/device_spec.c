/* device_spec.c — one --device value: "virtio-blk,key=value,...".
 * A comma inside a value is written twice (",,"), as QEMU's options do. */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "options.h"

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -EINVAL;
}

/* Copies the next item of s (up to an unescaped comma) into a new string and
 * advances *s past it. */
static char *next_item(const char **s)
{
    const char *p = *s;
    size_t n = 0;
    char *out = malloc(strlen(p) + 1);

    if (!out)
        return NULL;
    while (*p) {
        if (*p == ',') {
            if (p[1] != ',')
                break;
            p++;                       /* ",," is a comma in the value */
        }
        out[n++] = *p++;
    }
    out[n] = '\0';
    *s = *p == ',' ? p + 1 : p;
    return out;
}

static int parse_bool(const char *v, bool *out)
{
    if (!strcmp(v, "on") || !strcmp(v, "yes") || !strcmp(v, "true") || !strcmp(v, "1"))
        *out = true;
    else if (!strcmp(v, "off") || !strcmp(v, "no") || !strcmp(v, "false") ||
             !strcmp(v, "0"))
        *out = false;
    else
        return -EINVAL;
    return 0;
}

static int parse_uint(const char *v, unsigned long max, unsigned long *out)
{
    char *end;
    unsigned long n;

    if (*v < '0' || *v > '9')
        return -EINVAL;
    errno = 0;
    n = strtoul(v, &end, 10);
    if (errno || *end || n > max)
        return -EINVAL;
    *out = n;
    return 0;
}

/* "1G", "512M", "4096": powers of 1024. */
static int parse_size(const char *v, uint64_t *out)
{
    char *end;
    unsigned long long n;
    unsigned shift = 0;

    if (*v < '0' || *v > '9')
        return -EINVAL;
    errno = 0;
    n = strtoull(v, &end, 10);
    if (errno)
        return -EINVAL;
    switch (*end) {
    case 'T': case 't': shift = 40; end++; break;
    case 'G': case 'g': shift = 30; end++; break;
    case 'M': case 'm': shift = 20; end++; break;
    case 'K': case 'k': shift = 10; end++; break;
    default: break;
    }
    if (*end || n == 0 || n > (UINT64_MAX >> shift))
        return -EINVAL;
    *out = (uint64_t)n << shift;
    return 0;
}

static int set_string(char **field, const char *key, const char *v, char *err,
                      size_t errlen)
{
    if (*field)
        return fail(err, errlen, "%s given twice", key);
    if (!*v)
        return fail(err, errlen, "%s is empty", key);
    *field = strdup(v);
    return *field ? 0 : -ENOMEM;
}

static int set_key(struct vdevd_device_opts *d, const char *k, const char *v,
                   char *err, size_t errlen)
{
    unsigned long n;
    bool b;

    if (!strcmp(k, "id"))
        return set_string(&d->id, k, v, err, errlen);
    if (!strcmp(k, "socket"))
        return set_string(&d->socket_path, k, v, err, errlen);
    if (!strcmp(k, "file"))
        return set_string(&d->file, k, v, err, errlen);
    if (!strcmp(k, "serial"))
        return set_string(&d->serial, k, v, err, errlen);
    if (!strcmp(k, "transport")) {
        if (!strcmp(v, "vhost-user") || !strcmp(v, "vfio-user")) {
            d->vfio_user = v[1] == 'f';
            return 0;
        }
        return fail(err, errlen, "transport=%s: say vhost-user or vfio-user", v);
    }
    if (!strcmp(k, "fd")) {
        if (parse_uint(v, INT_MAX, &n) < 0)
            return fail(err, errlen, "fd=%s: not a file descriptor number", v);
        d->fd = (int)n;
        return 0;
    }
    if (!strcmp(k, "null")) {
        if (parse_size(v, &d->null_size) < 0)
            return fail(err, errlen, "null=%s: not a size (e.g. 1G, 512M)", v);
        return 0;
    }
    if (!strcmp(k, "num-queues") || !strcmp(k, "queue-size") || !strcmp(k, "workers")) {
        if (parse_uint(v, 65535, &n) < 0 || n == 0)
            return fail(err, errlen, "%s=%s: not a number from 1 to 65535", k, v);
        if (k[0] == 'n')
            d->num_queues = (uint16_t)n;
        else if (k[0] == 'q')
            d->queue_size = (uint16_t)n;
        else
            d->workers = (unsigned)n;
        return 0;
    }
    if (!strcmp(k, "direct") || !strcmp(k, "readonly") || !strcmp(k, "poll") ||
        !strcmp(k, "writethrough")) {
        if (parse_bool(v, &b) < 0)
            return fail(err, errlen, "%s=%s: say on or off", k, v);
        if (k[0] == 'd')
            d->direct = b;
        else if (k[0] == 'r')
            d->read_only = b;
        else if (k[0] == 'p')
            d->poll = b;
        else
            d->writethrough = b;
        return 0;
    }
    return fail(err, errlen, "unknown key '%s'", k);
}

int vdevd_device_parse(const char *spec, struct vdevd_device_opts *d, char *err,
                       size_t errlen)
{
    const char *s = spec;
    char *item = next_item(&s);
    int ret = 0;

    memset(d, 0, sizeof(*d));
    d->fd = -1;
    if (!item)
        return -ENOMEM;
    if (strcmp(item, "virtio-blk")) {
        ret = fail(err, errlen, "--device %s: unknown device type '%s' (known: virtio-blk)",
                   spec, item);
        free(item);
        return ret;
    }
    free(item);
    while (*s && ret == 0) {
        char *eq;

        item = next_item(&s);
        if (!item)
            return -ENOMEM;
        eq = strchr(item, '=');
        if (!eq)
            ret = fail(err, errlen, "'%s' is not key=value", item);
        else {
            *eq = '\0';
            ret = set_key(d, item, eq + 1, err, errlen);
        }
        free(item);
    }
    if (ret == 0 && !!d->socket_path == (d->fd >= 0))
        ret = fail(err, errlen, "give exactly one of socket=PATH and fd=N");
    if (ret == 0 && d->vfio_user && d->fd >= 0)
        ret = fail(err, errlen, "fd=N is for vhost-user; vfio-user listens on socket=PATH");
    if (ret == 0 && !!d->file == (d->null_size != 0))
        ret = fail(err, errlen, "give exactly one of file=PATH and null=SIZE");
    if (ret == -EINVAL && strncmp(err, "--device", 8)) {
        /* Prefix the device so the one line says which --device is wrong. */
        char tmp[256];
        snprintf(tmp, sizeof(tmp), "--device %s: %s", spec, err);
        snprintf(err, errlen, "%s", tmp);
    }
    return ret;
}

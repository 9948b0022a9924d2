/* spec.c — backend specs: "<driver>:<key>=<value>,...", a comma inside a value
 * written ",,". */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "vdev/log.h"
#include "block_internal.h"

static int spec_add(struct blk_spec *s, char *token)
{
    char *eq = strchr(token, '=');

    if (!eq || eq == token) {
        vdev_warn("block: spec option \"%s\" is not key=value", token);
        return -EINVAL;
    }
    *eq = '\0';
    for (unsigned i = 0; i < s->n; i++) {
        if (strcmp(s->opt[i].key, token) == 0) {
            vdev_warn("block: spec option \"%s\" given twice", token);
            return -EINVAL;
        }
    }
    if (s->n == BLK_SPEC_MAX_OPTS) {
        vdev_warn("block: spec has more than %d options", BLK_SPEC_MAX_OPTS);
        return -EINVAL;
    }
    s->opt[s->n].key = token;
    s->opt[s->n].value = eq + 1;
    s->n++;
    return 0;
}

/* Splits buf in place at single commas, turning ",," into ",". */
static int spec_split(struct blk_spec *s, char *buf)
{
    char *token = buf, *w = buf;

    if (*buf == '\0')
        return 0;
    for (const char *p = buf;; p++) {
        if (*p == ',' && p[1] == ',') {
            *w++ = ',';
            p++;
            continue;
        }
        if (*p == ',' || *p == '\0') {
            bool end = *p == '\0';
            int ret;

            *w = '\0';
            ret = spec_add(s, token);
            if (ret < 0)
                return ret;
            if (end)
                return 0;
            token = ++w;
            continue;
        }
        *w++ = *p;
    }
}

int blk_spec_parse(const char *spec, struct blk_spec *s)
{
    const char *colon = strchr(spec, ':');
    size_t dlen = colon ? (size_t)(colon - spec) : strlen(spec);
    int ret;

    memset(s, 0, sizeof(*s));
    if (dlen == 0 || dlen >= sizeof(s->driver)) {
        vdev_warn("block: spec \"%s\" names no driver", spec);
        return -EINVAL;
    }
    memcpy(s->driver, spec, dlen);
    s->buf = strdup(colon ? colon + 1 : "");
    if (!s->buf)
        return -ENOMEM;
    ret = spec_split(s, s->buf);
    if (ret < 0)
        blk_spec_free(s);
    return ret;
}

void blk_spec_free(struct blk_spec *s)
{
    free(s->buf);
    s->buf = NULL;
    s->n = 0;
}

const char *blk_spec_get(const struct blk_spec *s, const char *key)
{
    for (unsigned i = 0; i < s->n; i++)
        if (strcmp(s->opt[i].key, key) == 0)
            return s->opt[i].value;
    return NULL;
}

int blk_spec_bool(const struct blk_spec *s, const char *key, bool *out)
{
    const char *v = blk_spec_get(s, key);

    if (!v)
        return 0;
    if (strcmp(v, "on") == 0) {
        *out = true;
        return 0;
    }
    if (strcmp(v, "off") == 0) {
        *out = false;
        return 0;
    }
    vdev_warn("block: %s=%s: expected on or off", key, v);
    return -EINVAL;
}

int blk_spec_size(const char *text, uint64_t *out)
{
    uint64_t v = 0, mult = 1;
    const char *p = text;

    if (*p < '0' || *p > '9')
        return -EINVAL;
    for (; *p >= '0' && *p <= '9'; p++) {
        if (v > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
            return -EINVAL;
        v = v * 10 + (uint64_t)(*p - '0');
    }
    switch (*p) {
    case '\0': break;
    case 'K': case 'k': mult = 1ull << 10; p++; break;
    case 'M': case 'm': mult = 1ull << 20; p++; break;
    case 'G': case 'g': mult = 1ull << 30; p++; break;
    case 'T': case 't': mult = 1ull << 40; p++; break;
    default: return -EINVAL;
    }
    if (*p != '\0' || (v != 0 && v > UINT64_MAX / mult))
        return -EINVAL;
    *out = v * mult;
    return 0;
}

int blk_spec_check_keys(const struct blk_spec *s, const char *const *keys)
{
    for (unsigned i = 0; i < s->n; i++) {
        bool known = false;

        for (const char *const *k = keys; *k && !known; k++)
            known = strcmp(*k, s->opt[i].key) == 0;
        if (!known) {
            vdev_warn("block: %s: unknown option \"%s\"", s->driver, s->opt[i].key);
            return -EINVAL;
        }
    }
    return 0;
}

/* caps.c — the capabilities JSON of VFIO_USER_VERSION ("Version", Capabilities),
 * parsed strictly and written, for the server and the client alike. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <json-c/json.h>

#include "proto.h"

void vfu_caps_defaults(struct vfu_caps *c)
{
    memset(c, 0, sizeof(*c));
    c->max_msg_fds = VFU_DEFAULT_MAX_MSG_FDS;
    c->max_data_xfer_size = VFU_DEFAULT_MAX_DATA_XFER_SIZE;
    c->pgsizes = VFU_DEFAULT_PGSIZES;
    c->max_dma_maps = VFU_DEFAULT_MAX_DMA_MAPS;
}

/* A JSON integer >= 0: doubles, strings and negatives are refused. */
static int get_uint(struct json_object *o, uint64_t *out)
{
    if (!json_object_is_type(o, json_type_int))
        return -EINVAL;
    if (json_object_get_int64(o) < 0)
        return -EINVAL;
    errno = 0;
    *out = json_object_get_uint64(o);
    return errno ? -EINVAL : 0;
}

static int get_bool(struct json_object *o, bool *out)
{
    if (!json_object_is_type(o, json_type_boolean))
        return -EINVAL;
    *out = json_object_get_boolean(o);
    return 0;
}

static int parse_twin(struct json_object *o, struct vfu_caps *c)
{
    struct json_object *v;
    int ret = 0;

    if (!json_object_is_type(o, json_type_object))
        return -EINVAL;
    if (json_object_object_get_ex(o, "supported", &v))
        ret = get_bool(v, &c->twin_supported);
    if (ret == 0 && json_object_object_get_ex(o, "fd_index", &v)) {
        ret = get_uint(v, &c->twin_fd_index);
        c->twin_has_fd_index = ret == 0;
    }
    return ret;
}

static int parse_migration(struct json_object *o, struct vfu_caps *c)
{
    struct json_object *v;
    int ret = 0;

    if (!json_object_is_type(o, json_type_object))
        return -EINVAL;
    if (json_object_object_get_ex(o, "pgsize", &v)) {
        ret = get_uint(v, &c->mig_pgsize);
        c->mig_has_pgsize = ret == 0;
    }
    if (ret == 0 && json_object_object_get_ex(o, "max_bitmap_size", &v)) {
        ret = get_uint(v, &c->mig_max_bitmap_size);
        c->mig_has_max_bitmap = ret == 0;
    }
    return ret;
}

static int parse_number(struct json_object *caps, const char *name, uint32_t bit,
                        uint64_t *field, struct vfu_caps *c)
{
    struct json_object *v;
    int ret;

    if (!json_object_object_get_ex(caps, name, &v))
        return 0;
    ret = get_uint(v, field);
    if (ret == 0)
        c->present |= bit;
    return ret;
}

static int parse_caps(struct json_object *caps, struct vfu_caps *c)
{
    struct json_object *v;
    int ret;

    if (!json_object_is_type(caps, json_type_object))
        return -EINVAL;
    ret = parse_number(caps, "max_msg_fds", VFU_CAP_MAX_MSG_FDS, &c->max_msg_fds, c);
    if (ret == 0)
        ret = parse_number(caps, "max_data_xfer_size", VFU_CAP_MAX_XFER,
                           &c->max_data_xfer_size, c);
    if (ret == 0)
        ret = parse_number(caps, "pgsizes", VFU_CAP_PGSIZES, &c->pgsizes, c);
    if (ret == 0)
        ret = parse_number(caps, "max_dma_maps", VFU_CAP_MAX_DMA_MAPS,
                           &c->max_dma_maps, c);
    if (ret == 0 && json_object_object_get_ex(caps, "twin_socket", &v)) {
        ret = parse_twin(v, c);
        c->present |= VFU_CAP_TWIN_SOCKET;
    }
    if (ret == 0 && json_object_object_get_ex(caps, "write_multiple", &v)) {
        ret = get_bool(v, &c->write_multiple);
        c->present |= VFU_CAP_WRITE_MULTIPLE;
    }
    if (ret == 0 && json_object_object_get_ex(caps, "migration", &v)) {
        ret = parse_migration(v, c);
        c->present |= VFU_CAP_MIGRATION;
    }
    return ret;
}

/* json-c takes single-quoted strings even when strict; JSON (RFC 8259) does
 * not. True if a ' appears outside a double-quoted string. */
static bool has_single_quotes(const char *s)
{
    bool in_string = false;

    for (; *s; s++) {
        if (in_string && *s == '\\' && s[1])
            s++;
        else if (*s == '"')
            in_string = !in_string;
        else if (*s == '\'' && !in_string)
            return true;
    }
    return false;
}

int vfu_caps_parse(const char *data, size_t len, struct vfu_caps *out)
{
    struct json_tokener *tok;
    struct json_object *root, *caps;
    int ret;

    vfu_caps_defaults(out);
    if (len == 0)
        return 0;
    /* "including terminating NUL": exactly one NUL, the last byte. */
    if (data[len - 1] != '\0' || strlen(data) != len - 1 || has_single_quotes(data))
        return -EINVAL;
    tok = json_tokener_new();
    if (!tok)
        return -ENOMEM;
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
    root = json_tokener_parse_ex(tok, data, (int)len - 1);
    ret = 0;
    if (!root || json_tokener_get_error(tok) != json_tokener_success ||
        json_tokener_get_parse_end(tok) != len - 1)
        ret = -EINVAL;          /* not JSON, or text after the value */
    json_tokener_free(tok);
    if (ret == 0 && !json_object_is_type(root, json_type_object))
        ret = -EINVAL;
    if (ret == 0 && json_object_object_get_ex(root, "capabilities", &caps))
        ret = parse_caps(caps, out);
    json_object_put(root);
    if (ret < 0)
        vfu_caps_defaults(out);
    return ret;
}

static int add_u64(struct json_object *o, const char *name, uint64_t v)
{
    struct json_object *n = json_object_new_uint64(v);

    if (!n)
        return -ENOMEM;
    return json_object_object_add(o, name, n) < 0 ? -ENOMEM : 0;
}

static int add_bool(struct json_object *o, const char *name, bool v)
{
    struct json_object *n = json_object_new_boolean(v);

    if (!n)
        return -ENOMEM;
    return json_object_object_add(o, name, n) < 0 ? -ENOMEM : 0;
}

static int build_caps(const struct vfu_caps *c, struct json_object *caps)
{
    struct json_object *sub;
    int ret = 0;

    if (c->present & VFU_CAP_MAX_MSG_FDS)
        ret = add_u64(caps, "max_msg_fds", c->max_msg_fds);
    if (ret == 0 && (c->present & VFU_CAP_MAX_XFER))
        ret = add_u64(caps, "max_data_xfer_size", c->max_data_xfer_size);
    if (ret == 0 && (c->present & VFU_CAP_PGSIZES))
        ret = add_u64(caps, "pgsizes", c->pgsizes);
    if (ret == 0 && (c->present & VFU_CAP_MAX_DMA_MAPS))
        ret = add_u64(caps, "max_dma_maps", c->max_dma_maps);
    if (ret == 0 && (c->present & VFU_CAP_WRITE_MULTIPLE))
        ret = add_bool(caps, "write_multiple", c->write_multiple);
    if (ret == 0 && (c->present & VFU_CAP_TWIN_SOCKET)) {
        sub = json_object_new_object();
        if (!sub || json_object_object_add(caps, "twin_socket", sub) < 0) {
            json_object_put(sub);
            return -ENOMEM;
        }
        ret = add_bool(sub, "supported", c->twin_supported);
        if (ret == 0 && c->twin_has_fd_index)
            ret = add_u64(sub, "fd_index", c->twin_fd_index);
    }
    if (ret == 0 && (c->present & VFU_CAP_MIGRATION)) {
        sub = json_object_new_object();
        if (!sub || json_object_object_add(caps, "migration", sub) < 0) {
            json_object_put(sub);
            return -ENOMEM;
        }
        if (c->mig_has_pgsize)
            ret = add_u64(sub, "pgsize", c->mig_pgsize);
        if (ret == 0 && c->mig_has_max_bitmap)
            ret = add_u64(sub, "max_bitmap_size", c->mig_max_bitmap_size);
    }
    return ret;
}

int vfu_caps_format(const struct vfu_caps *c, char *buf, size_t size)
{
    struct json_object *root = json_object_new_object();
    struct json_object *caps = json_object_new_object();
    const char *text;
    size_t n;
    int ret;

    if (!root || !caps || json_object_object_add(root, "capabilities", caps) < 0) {
        json_object_put(root);
        json_object_put(caps);
        return -ENOMEM;
    }
    ret = build_caps(c, caps);
    if (ret == 0) {
        text = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN);
        n = text ? strlen(text) + 1 : 0;
        if (!text)
            ret = -ENOMEM;
        else if (n > size || n > VFU_VERSION_DATA_MAX)
            ret = -ENOSPC;
        else {
            memcpy(buf, text, n);
            ret = (int)n;
        }
    }
    json_object_put(root);
    return ret;
}

/* SPDX-License-Identifier: MIT */
/* What the configuration takes from outside the file: ${VAR} references,
 * secret files and the seed's environment variables. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/config_internal.h"
#include "core/buf.h"

/*
 * References are expanded per scalar after parsing, so a value can never
 * inject YAML structure.  One pass: the expansion is not expanded again.
 *   ${NAME}           the variable, an error when it is not set
 *   ${NAME:-default}  the default when the variable is unset or empty
 *   $$                a literal $
 *   ${run.*}          left alone: job placeholders that jobs/ binds
 * Any other "${" is an error, so a typo does not pass silently; a "$" not
 * followed by "{" or "$" is literal ($1 in SQL, bcrypt hashes).
 */

static bool
name_start(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}

static bool
name_char(char c)
{
    return name_start(c) || (c >= '0' && c <= '9');
}

/* One reference starting at p ("${"); appends it and returns its length,
 * or a negative status. */
static int
expand_one(struct cfg_ctx *ctx,
           const struct cfg_node *n,
           const char *p,
           struct buf *out,
           size_t *used)
{
    const char *name = p + 2, *end = name, *def = NULL, *close;
    char var[128];
    const char *value;
    size_t len;

    close = strchr(p, '}');
    if (strncmp(name, "run.", 4) == 0 && close != NULL) {
        *used = (size_t)(close - p) + 1;
        return buf_append(out, p, *used) < 0 ? DESKDB_ENOMEM : 0;
    }
    while (name_char(*end))
        end++;
    if (*end == ':' && end[1] == '-')
        def = end + 2;
    len = (size_t)(end - name);
    if (!name_start(*name) || close == NULL || len >= sizeof(var) ||
        (def == NULL && end != close))
        return cfg_err_key(ctx,
                           n,
                           "invalid variable reference (write ${NAME} or "
                           "${NAME:-default}, and $$ for a literal $)");
    memcpy(var, name, len);
    var[len] = '\0';
    value = getenv(var);
    if (def != NULL && (value == NULL || value[0] == '\0')) {
        if (buf_append(out, def, (size_t)(close - def)) < 0)
            goto too_long;
    } else if (value == NULL) {
        return cfg_err_key(ctx, n, "environment variable %s is not set", var);
    } else if (buf_puts(out, value) < 0) {
        goto too_long;
    }
    *used = (size_t)(close - p) + 1;
    return 0;
too_long:
    return cfg_err_key(ctx, n, "value is too long after ${%s} expansion", var);
}

int
cfg_expand(struct cfg_ctx *ctx, const struct cfg_node *n, char **out)
{
    const char *p = n->value;
    struct buf b;
    size_t used = 0;
    int rc = 0;

    *out = NULL;
    if (strchr(p, '$') == NULL) {
        *out = strdup(p);
        return *out ? 0 : err_set(ctx->err, DESKDB_ENOMEM, "out of memory");
    }
    buf_init(&b, CFG_MAX_FILE_SIZE);
    while (*p != '\0' && rc == 0) {
        if (p[0] == '$' && p[1] == '$') {
            rc = buf_putc(&b, '$');
            p += 2;
        } else if (p[0] == '$' && p[1] == '{') {
            /* on failure `used` is stale: stop here */
            rc = expand_one(ctx, n, p, &b, &used);
            if (rc == 0)
                p += used;
        } else {
            used = strcspn(p + 1, "$") + 1;
            rc = buf_append(&b, p, used);
            p += used;
        }
        if (rc == DESKDB_EBUSY)
            rc = cfg_err_key(ctx, n, "value is too long after expansion");
    }
    if (rc == 0 && b.data == NULL)
        rc = buf_puts(&b, "");
    if (rc < 0) {
        if (rc == DESKDB_ENOMEM)
            err_set(ctx->err, rc, "out of memory");
        buf_fini(&b);
        return rc;
    }
    *out = buf_take(&b);
    return *out ? 0 : err_set(ctx->err, DESKDB_ENOMEM, "out of memory");
}

char *
cfg_resolve_path(const struct cfg_ctx *ctx, const char *path)
{
    size_t a, b;
    char *s;

    if (path[0] == '/' || ctx->base_dir == NULL)
        return strdup(path);
    a = strlen(ctx->base_dir);
    b = strlen(path);
    s = malloc(a + b + 2);
    if (s == NULL)
        return NULL;
    memcpy(s, ctx->base_dir, a);
    s[a] = '/';
    memcpy(s + a + 1, path, b + 1);
    return s;
}

/* Why the secret file behind `fd` may not be used, or NULL. */
static const char *
secret_file_problem(int fd, struct stat *st)
{
    if (fstat(fd, st) < 0)
        return "cannot stat it";
    if (!S_ISREG(st->st_mode))
        return "not a regular file";
    if (st->st_mode & (S_IRWXG | S_IRWXO))
        return "group or others can access it (chmod 600)";
    if (st->st_uid != geteuid() && st->st_uid != 0)
        return "owned by another user";
    if (st->st_size > CFG_MAX_SECRET_SIZE)
        return "larger than 64 KiB";
    return NULL;
}

static ssize_t
read_all(int fd, char *buf, size_t cap)
{
    size_t len = 0;
    ssize_t r;

    while (len < cap) {
        r = read(fd, buf + len, cap - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        if (r == 0)
            break;
        len += (size_t)r;
    }
    return (ssize_t)len;
}

/* Trim one trailing newline; refuse what cannot be a one-line secret. */
static const char *
secret_content_problem(char *buf, size_t *len)
{
    if (*len > 0 && buf[*len - 1] == '\n')
        (*len)--;
    if (*len > 0 && buf[*len - 1] == '\r')
        (*len)--;
    buf[*len] = '\0';
    if (*len == 0)
        return "it is empty";
    if (memchr(buf, '\0', *len) != NULL)
        return "it contains a NUL byte";
    if (strpbrk(buf, "\r\n") != NULL)
        return "it has more than one line";
    return NULL;
}

int
cfg_read_secret_file(struct cfg_ctx *ctx,
                     const struct cfg_node *n,
                     const char *path,
                     char **out)
{
    const char *why = NULL;
    char *buf = NULL;
    struct stat st;
    ssize_t got;
    size_t len;
    int fd, rc = 0;

    *out = NULL;
    fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0)
        return cfg_err_key(ctx,
                           n,
                           "cannot open '%s': %s",
                           path,
                           errno == ELOOP ? "it is a symbolic link"
                                          : strerror(errno));
    why = secret_file_problem(fd, &st);
    if (why != NULL)
        goto out;
    buf = malloc(CFG_MAX_SECRET_SIZE + 2);
    if (buf == NULL) {
        rc = err_set(ctx->err, DESKDB_ENOMEM, "out of memory");
        goto out;
    }
    got = read_all(fd, buf, CFG_MAX_SECRET_SIZE + 1);
    if (got < 0) {
        rc = cfg_err_key(ctx, n, "cannot read '%s': %s", path, strerror(errno));
        goto out;
    }
    len = (size_t)got;
    why = len > CFG_MAX_SECRET_SIZE ? "larger than 64 KiB"
                                    : secret_content_problem(buf, &len);
out:
    close(fd);
    if (why != NULL)
        rc = cfg_err_key(ctx, n, "cannot use '%s': %s", path, why);
    if (rc < 0) {
        if (buf != NULL)
            explicit_bzero(buf, CFG_MAX_SECRET_SIZE + 2);
        free(buf);
        return rc;
    }
    *out = buf;
    return 0;
}

/* ---- the seed's environment variables ------------------------------------ */

struct env_override {
    const char *var;
    const char *section;
    const char *key;
    bool ms; /* a duration given in milliseconds */
};

static const struct env_override overrides[] = {
    {"DATABASE_URL", "database", "url", false},
    {"DB_POOL_MAX", "pool", "max", false},
    {"DB_POOL_MIN", "pool", "min", false},
    {"DB_CONNECT_TIMEOUT", "pool", "connect_timeout", true},
    {"DB_IDLE_TIMEOUT", "pool", "idle_timeout", true},
    {"DB_STATEMENT_TIMEOUT", "pool", "statement_timeout", true},
    {"DB_QUERY_TIMEOUT", "pool", "query_timeout", true},
    {"DB_SLOW_QUERY_THRESHOLD", "pool", "slow_query_threshold", true},
};

static int
env_number(struct cfg_ctx *ctx,
           const struct env_override *o,
           const struct cfg_field *f,
           const char *value,
           void *target)
{
    char echo[80], a[48], b[48];
    const char *why;
    int64_t v;

    if (cfg_parse_int(value, &v, &why) < 0)
        return err_set(ctx->err,
                       DESKDB_EINVAL,
                       "%s: invalid value '%s' (%s%s)",
                       o->var,
                       cfg_echo(value, echo, sizeof(echo)),
                       why,
                       o->ms ? "; milliseconds" : "");
    if (v < f->min || v > f->max) {
        if (o->ms) {
            config_format_duration(f->min, a);
            config_format_duration(f->max, b);
        } else {
            snprintf(a, sizeof(a), "%lld", (long long)f->min);
            snprintf(b, sizeof(b), "%lld", (long long)f->max);
        }
        return err_set(ctx->err,
                       DESKDB_EINVAL,
                       "%s: must be between %s and %s (got %lld%s)",
                       o->var,
                       a,
                       b,
                       (long long)v,
                       o->ms ? "ms" : "");
    }
    if (f->type == CFG_T_INT)
        *(int *)target = (int)v;
    else
        *(int64_t *)target = v;
    return 0;
}

static int
apply_one(struct cfg_ctx *ctx, const struct env_override *o, const char *value)
{
    const struct cfg_field *sec =
        cfg_find_field(&cfg_config_section, o->section);
    const struct cfg_field *f = cfg_find_field(sec->sub, o->key);
    void *target = (char *)ctx->cfg + sec->off + f->off;
    char *copy;
    int rc;

    if (f->type == CFG_T_STRING) {
        copy = strdup(value);
        if (copy == NULL)
            return err_set(ctx->err, DESKDB_ENOMEM, "out of memory");
        free(*(char **)target);
        *(char **)target = copy;
    } else {
        rc = env_number(ctx, o, f, value, target);
        if (rc < 0)
            return rc;
    }
    if (ctx->n_env < sizeof(ctx->env) / sizeof(ctx->env[0])) {
        ctx->env[ctx->n_env].target = target;
        ctx->env[ctx->n_env].var = o->var;
        ctx->n_env++;
    }
    return 0;
}

/* An empty variable counts as unset (as docker compose passes them). */
int
cfg_apply_env(struct cfg_ctx *ctx)
{
    size_t i;
    int rc;

    for (i = 0; i < sizeof(overrides) / sizeof(overrides[0]); i++) {
        const char *value = getenv(overrides[i].var);

        if (value == NULL || value[0] == '\0')
            continue;
        rc = apply_one(ctx, &overrides[i], value);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* SPDX-License-Identifier: MIT */
/* Loading: the file, the tree, the tables, the environment, the checks;
 * and positioned error messages. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/config_internal.h"

/* ---- positions and messages --------------------------------------------- */

static int verr_at(struct deskdb_err *err,
                   const struct config_pos *pos,
                   const char *prefix,
                   const char *fmt,
                   va_list ap) DESKDB_PRINTF(4, 0);

static int
verr_at(struct deskdb_err *err,
        const struct config_pos *pos,
        const char *prefix,
        const char *fmt,
        va_list ap)
{
    char msg[sizeof(err->msg)];

    vsnprintf(msg, sizeof(msg), fmt, ap);
    if (pos != NULL && pos->file != NULL && pos->line > 0)
        err_set(err,
                DESKDB_EINVAL,
                "%s:%d:%d: %s%s",
                pos->file,
                pos->line,
                pos->column,
                prefix,
                msg);
    else if (pos != NULL && pos->file != NULL)
        err_set(err, DESKDB_EINVAL, "%s: %s%s", pos->file, prefix, msg);
    else
        err_set(err, DESKDB_EINVAL, "%s%s", prefix, msg);
    /* Values may hold line breaks (a quoted YAML scalar folds lone CRs
     * into newlines). */
    return err_one_line(err);
}

int
config_error_at(struct deskdb_err *err,
                const struct config_pos *pos,
                const char *fmt,
                ...)
{
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = verr_at(err, pos, "", fmt, ap);
    va_end(ap);
    return rc;
}

struct config_pos
cfg_node_pos(const struct cfg_ctx *ctx, const struct cfg_node *n)
{
    struct config_pos pos = {0};

    if (n != NULL) {
        pos.file = ctx->file;
        pos.line = n->line;
        pos.column = n->column;
    }
    return pos;
}

int
cfg_err(struct cfg_ctx *ctx, const struct cfg_node *node, const char *fmt, ...)
{
    struct config_pos pos = cfg_node_pos(ctx, node);
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = verr_at(ctx->err, &pos, "", fmt, ap);
    va_end(ap);
    return rc;
}

int
cfg_err_key(struct cfg_ctx *ctx,
            const struct cfg_node *node,
            const char *fmt,
            ...)
{
    struct config_pos pos = cfg_node_pos(ctx, node);
    char prefix[sizeof(ctx->path) + 2] = "";
    va_list ap;
    int rc;

    if (ctx->path_len > 0)
        snprintf(prefix, sizeof(prefix), "%s: ", ctx->path);
    va_start(ap, fmt);
    rc = verr_at(ctx->err, &pos, prefix, fmt, ap);
    va_end(ap);
    return rc;
}

int
cfg_err_pos(struct cfg_ctx *ctx,
            const struct config_pos *pos,
            const char *fmt,
            ...)
{
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = verr_at(ctx->err, pos, "", fmt, ap);
    va_end(ap);
    return rc;
}

struct config_pos
cfg_value_pos(const struct cfg_ctx *ctx,
              const struct cfg_node *map,
              const char *key,
              const void *target)
{
    struct config_pos pos = {0};
    size_t i;

    for (i = 0; i < ctx->n_env; i++) {
        if (ctx->env[i].target == target) {
            pos.file = ctx->env[i].var;
            return pos;
        }
    }
    return cfg_node_pos(ctx, cfg_node_get(map, key));
}

size_t
cfg_path_push(struct cfg_ctx *ctx, const char *fmt, ...)
{
    size_t saved = ctx->path_len;
    va_list ap;
    int n;

    if (saved < sizeof(ctx->path) - 1) {
        va_start(ap, fmt);
        n = vsnprintf(ctx->path + saved, sizeof(ctx->path) - saved, fmt, ap);
        va_end(ap);
        if (n > 0)
            ctx->path_len += (size_t)n;
        if (ctx->path_len >= sizeof(ctx->path))
            ctx->path_len = sizeof(ctx->path) - 1;
    }
    return saved;
}

void
cfg_path_pop(struct cfg_ctx *ctx, size_t len)
{
    ctx->path_len = len;
    ctx->path[len] = '\0';
}

/* ---- the file ----------------------------------------------------------- */

/* Why the opened config file may not be used, or NULL. */
static const char *
file_problem(const struct stat *st)
{
    if (S_ISDIR(st->st_mode))
        return "is a directory";
    if (!S_ISREG(st->st_mode))
        return "is not a regular file";
    /* it holds SQL that runs against the database */
    if (st->st_mode & S_IWOTH)
        return "is writable by every user (chmod o-w)";
    if (st->st_size > CFG_MAX_FILE_SIZE)
        return "is larger than 1 MiB";
    return NULL;
}

static int
read_file(const char *path, char **data, size_t *len, struct deskdb_err *err)
{
    const char *why;
    struct stat st;
    size_t got = 0;
    ssize_t r = 0;
    int fd, rc = 0;

    *data = NULL;
    *len = 0;
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0)
        return err_set(err,
                       DESKDB_EIO,
                       "%s: cannot open: %s",
                       path,
                       strerror(errno));
    if (fstat(fd, &st) < 0) {
        rc = err_set(err, DESKDB_EIO, "%s: %s", path, strerror(errno));
        goto out;
    }
    if ((why = file_problem(&st)) != NULL) {
        rc = err_set(err, DESKDB_EINVAL, "%s: %s", path, why);
        goto out;
    }
    *data = malloc(CFG_MAX_FILE_SIZE + 1);
    if (*data == NULL) {
        rc = err_set(err, DESKDB_ENOMEM, "out of memory");
        goto out;
    }
    while (got <= CFG_MAX_FILE_SIZE) {
        r = read(fd, *data + got, CFG_MAX_FILE_SIZE + 1 - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    if (r < 0)
        rc = err_set(err,
                     DESKDB_EIO,
                     "%s: cannot read: %s",
                     path,
                     strerror(errno));
    else if (got > CFG_MAX_FILE_SIZE)
        rc = err_set(err, DESKDB_EINVAL, "%s: is larger than 1 MiB", path);
    *len = got;
out:
    close(fd);
    if (rc < 0) {
        free(*data);
        *data = NULL;
    }
    return rc;
}

/* ---- loading ------------------------------------------------------------ */

void
config_destroy(struct config *cfg)
{
    if (cfg == NULL)
        return;
    cfg_free_section(&cfg_config_section, cfg);
    free(cfg->file);
    free(cfg);
}

static struct config *
load(const char *name,
     const char *base_dir,
     const char *data,
     size_t len,
     struct deskdb_err *err)
{
    struct cfg_ctx ctx = {.base_dir = base_dir, .err = err};
    struct cfg_node *root = NULL;
    struct config *cfg;
    int rc;

    cfg = calloc(1, sizeof(*cfg));
    if (cfg == NULL || (name != NULL && (cfg->file = strdup(name)) == NULL)) {
        free(cfg);
        err_set(err, DESKDB_ENOMEM, "out of memory");
        return NULL;
    }
    ctx.cfg = cfg;
    ctx.file = cfg->file;
    rc = cfg_apply_defaults(&ctx, &cfg_config_section, cfg);
    if (rc == 0 && data != NULL)
        rc = cfg_yaml_parse(cfg->file, data, len, &root, err);
    if (rc == 0)
        rc = cfg_parse_section(&ctx, &cfg_config_section, root, cfg);
    if (rc == 0)
        rc = cfg_apply_env(&ctx);
    if (rc == 0)
        rc = cfg_check_section(&ctx, &cfg_config_section, root, cfg);
    cfg_node_free(root);
    if (rc < 0) {
        config_destroy(cfg);
        return NULL;
    }
    return cfg;
}

struct config *
config_load_buffer(const char *name,
                   const char *data,
                   size_t len,
                   struct deskdb_err *err)
{
    return load(name ? name : "<buffer>", NULL, data ? data : "", len, err);
}

struct config *
config_load(const char *path, struct deskdb_err *err)
{
    struct config *cfg;
    char *data, *dir = NULL;
    const char *slash;
    size_t len;

    if (path == NULL)
        return load(NULL, NULL, NULL, 0, err);
    if (read_file(path, &data, &len, err) < 0)
        return NULL;
    slash = strrchr(path, '/');
    if (slash != NULL) {
        dir = strndup(path, slash == path ? 1 : (size_t)(slash - path));
        if (dir == NULL) {
            free(data);
            err_set(err, DESKDB_ENOMEM, "out of memory");
            return NULL;
        }
    }
    cfg = load(path, dir, data, len, err);
    free(dir);
    free(data);
    return cfg;
}

const char *
config_default_path(const char *cli)
{
    const char *env = getenv("DESKDB_CONFIG");

    if (cli != NULL)
        return cli;
    if (env != NULL && env[0] != '\0')
        return env;
    if (access("deskdb.yaml", F_OK) == 0)
        return "deskdb.yaml";
    return NULL;
}

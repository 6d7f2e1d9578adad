/* SPDX-License-Identifier: MIT */
/* Loading migrations from the binary or a directory, and checking them. */
#include "core/migrate_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/sqlsplit.h"

/* Statements that would end or nest the runner's own transaction. */
static const char *const txn_control[] = {
    "begin",
    "start",
    "commit",
    "end",
    "rollback",
    "abort",
};

/* "NNNN_name": digits, '_', then lower-case letters, digits and '_'. */
static int
parse_stem(const char *stem, int64_t *version, struct deskdb_err *err)
{
    size_t i, len = strlen(stem);
    int64_t v = 0;

    if (len >= MIGRATE_NAME_MAX)
        return err_set(err,
                       DESKDB_EINVAL,
                       "migration name %.40s... is longer than %d bytes",
                       stem,
                       MIGRATE_NAME_MAX - 1);
    for (i = 0; stem[i] >= '0' && stem[i] <= '9'; i++) {
        if (i >= 18)
            return err_set(err,
                           DESKDB_EINVAL,
                           "migration %s: version has more than 18 digits",
                           stem);
        v = v * 10 + (stem[i] - '0');
    }
    if (i == 0 || stem[i] != '_' || stem[i + 1] == '\0')
        goto bad;
    for (i++; stem[i] != '\0'; i++) {
        char c = stem[i];

        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
            goto bad;
    }
    *version = v;
    return DESKDB_OK;
bad:
    return err_set(err,
                   DESKDB_EINVAL,
                   "migration name '%s' is not NNNN_name (name: a-z, 0-9, _)",
                   stem);
}

static bool
is_txn_control(const char *word)
{
    size_t i;

    for (i = 0; i < sizeof(txn_control) / sizeof(txn_control[0]); i++) {
        if (strcmp(word, txn_control[i]) == 0)
            return true;
    }
    return false;
}

/*
 * Split the script once to catch what would only fail half way through a
 * run, and decide whether it must run outside a transaction.
 */
static int
check_script(const char *file,
             const char *sql,
             size_t len,
             bool *autocommit,
             struct deskdb_err *err)
{
    struct sql_statement *st = NULL;
    size_t n = 0, i;
    int rc;

    *autocommit = false;
    if (memchr(sql, '\0', len) != NULL)
        return err_set(err, DESKDB_EINVAL, "%s: contains a NUL byte", file);
    rc = sql_split(sql, len, &st, &n, err);
    if (rc != DESKDB_OK) {
        err_prefix(err, "%s", file);
        return rc;
    }
    for (i = 0; i < n && rc == DESKDB_OK; i++) {
        const char *s = sql + st[i].off;
        char word[16];

        sql_first_word(s, st[i].len, word, sizeof(word));
        if (is_txn_control(word))
            rc = err_set(err,
                         DESKDB_EINVAL,
                         "%s:%d: %s: a migration must not control "
                         "transactions (deskdb runs each file in one, or "
                         "outside one when it uses CONCURRENTLY or VACUUM)",
                         file,
                         st[i].line,
                         word);
        else if (strcmp(word, "copy") == 0 &&
                 (sql_has_word(s, st[i].len, "stdin") ||
                  sql_has_word(s, st[i].len, "stdout")))
            rc = err_set(err,
                         DESKDB_EINVAL,
                         "%s:%d: COPY from STDIN or to STDOUT cannot run "
                         "in a migration",
                         file,
                         st[i].line);
        else if (strcmp(word, "vacuum") == 0 ||
                 sql_has_word(s, st[i].len, "concurrently"))
            *autocommit = true;
    }
    free(st);
    return rc;
}

static char *
memdup_str(const char *s, size_t len)
{
    char *p = malloc(len + 1);

    if (p != NULL) {
        memcpy(p, s, len);
        p[len] = '\0';
    }
    return p;
}

static int
set_add(struct migration_set *set,
        const struct migration_source *src,
        struct deskdb_err *err)
{
    struct migration *m = &set->items[set->n];
    char file[MIGRATE_NAME_MAX + 16];
    int rc = parse_stem(src->name, &m->version, err);

    if (rc != DESKDB_OK)
        return rc;
    snprintf(m->name, sizeof(m->name), "%s", src->name);
    m->up_sql = memdup_str(src->up, src->up_len);
    m->down_sql = memdup_str(src->down, src->down_len);
    set->n++; /* from here on migration_set_destroy() frees it */
    if (m->up_sql == NULL || m->down_sql == NULL)
        return err_set(err, DESKDB_ENOMEM, "out of memory loading migrations");
    m->up_len = src->up_len;
    m->down_len = src->down_len;
    snprintf(file, sizeof(file), "%s.up.sql", m->name);
    rc = check_script(file, m->up_sql, m->up_len, &m->up_autocommit, err);
    if (rc != DESKDB_OK)
        return rc;
    snprintf(file, sizeof(file), "%s.down.sql", m->name);
    rc = check_script(file, m->down_sql, m->down_len, &m->down_autocommit, err);
    if (rc != DESKDB_OK)
        return rc;
    sha256_hex(m->up_sql, m->up_len, m->checksum);
    return DESKDB_OK;
}

static int
by_version(const void *a, const void *b)
{
    const struct migration *x = a, *y = b;

    return (x->version > y->version) - (x->version < y->version);
}

int
migration_set_from_sources(const struct migration_source *src,
                           size_t n,
                           struct migration_set **out,
                           struct deskdb_err *err)
{
    struct migration_set *set;
    size_t i;
    int rc = DESKDB_OK;

    *out = NULL;
    set = calloc(1, sizeof(*set));
    if (set == NULL ||
        (set->items = calloc(n > 0 ? n : 1, sizeof(*set->items))) == NULL) {
        free(set);
        return err_set(err, DESKDB_ENOMEM, "out of memory loading migrations");
    }
    for (i = 0; i < n && rc == DESKDB_OK; i++)
        rc = set_add(set, &src[i], err);
    if (rc == DESKDB_OK) {
        qsort(set->items, set->n, sizeof(*set->items), by_version);
        for (i = 1; i < set->n && rc == DESKDB_OK; i++) {
            if (set->items[i].version == set->items[i - 1].version)
                rc = err_set(err,
                             DESKDB_EINVAL,
                             "migrations %s and %s have the same version",
                             set->items[i - 1].name,
                             set->items[i].name);
        }
    }
    if (rc != DESKDB_OK) {
        migration_set_destroy(set);
        return rc;
    }
    *out = set;
    return DESKDB_OK;
}

int
migration_set_load_embedded(struct migration_set **out, struct deskdb_err *err)
{
    return migration_set_from_sources(migrate_embedded,
                                      migrate_embedded_count,
                                      out,
                                      err);
}

void
migration_set_destroy(struct migration_set *set)
{
    size_t i;

    if (set == NULL)
        return;
    for (i = 0; i < set->n; i++) {
        free(set->items[i].up_sql);
        free(set->items[i].down_sql);
    }
    free(set->items);
    free(set);
}

const struct migration *
migration_set_find(const struct migration_set *set, int64_t version)
{
    size_t lo = 0, hi = set->n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (set->items[mid].version == version)
            return &set->items[mid];
        if (set->items[mid].version < version)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* Read a whole regular file of at most MIGRATE_FILE_MAX bytes. */
static int
read_file(const char *path, char **data, size_t *len, struct deskdb_err *err)
{
    struct stat sb;
    size_t got = 0;
    char *buf = NULL;
    int rc = DESKDB_OK;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0)
        return err_set(err, DESKDB_EIO, "open %s: %s", path, strerror(errno));
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        rc = err_set(err, DESKDB_EIO, "%s: not a regular file", path);
        goto out;
    }
    if (sb.st_size > MIGRATE_FILE_MAX) {
        rc = err_set(err,
                     DESKDB_EINVAL,
                     "%s: larger than %d bytes",
                     path,
                     MIGRATE_FILE_MAX);
        goto out;
    }
    buf = malloc((size_t)sb.st_size + 1);
    if (buf == NULL) {
        rc = err_set(err, DESKDB_ENOMEM, "out of memory reading %s", path);
        goto out;
    }
    while (got < (size_t)sb.st_size) {
        ssize_t r = read(fd, buf + got, (size_t)sb.st_size - got);

        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            rc = err_set(err,
                         DESKDB_EIO,
                         "read %s: %s",
                         path,
                         r < 0 ? strerror(errno) : "file shrank");
            goto out;
        }
        got += (size_t)r;
    }
    buf[got] = '\0';
    *data = buf;
    *len = got;
    buf = NULL;
out:
    free(buf);
    close(fd);
    return rc;
}

/* The files of one directory, paired by stem. */
struct dir_files {
    struct migration_source *src; /* name and scripts are owned here */
    size_t n;
    size_t alloc;
};

static void
dir_files_free(struct dir_files *f)
{
    size_t i;

    for (i = 0; i < f->n; i++) {
        free((char *)f->src[i].name);
        free((char *)f->src[i].up);
        free((char *)f->src[i].down);
    }
    free(f->src);
}

static struct migration_source *
dir_files_slot(struct dir_files *f, const char *stem, size_t stem_len)
{
    struct migration_source *s;
    size_t i;

    for (i = 0; i < f->n; i++) {
        if (strlen(f->src[i].name) == stem_len &&
            memcmp(f->src[i].name, stem, stem_len) == 0)
            return &f->src[i];
    }
    if (f->n == f->alloc) {
        size_t want = f->alloc ? f->alloc * 2 : 16;

        s = realloc(f->src, want * sizeof(*s));
        if (s == NULL)
            return NULL;
        f->src = s;
        f->alloc = want;
    }
    s = &f->src[f->n];
    memset(s, 0, sizeof(*s));
    s->name = memdup_str(stem, stem_len);
    if (s->name == NULL)
        return NULL;
    f->n++;
    return s;
}

/* Read one directory entry into its slot; names not ending in .sql and
 * hidden files are skipped. */
static int
dir_add_entry(struct dir_files *f,
              const char *dir,
              const char *ent,
              struct deskdb_err *err)
{
    size_t len = strlen(ent), stem_len;
    struct migration_source *s;
    char path[4096];
    bool up;
    char *data = NULL;
    size_t data_len = 0;
    int rc;

    if (ent[0] == '.' || len < 4 || strcmp(ent + len - 4, ".sql") != 0)
        return DESKDB_OK;
    if (len > 7 && strcmp(ent + len - 7, ".up.sql") == 0) {
        up = true;
        stem_len = len - 7;
    } else if (len > 9 && strcmp(ent + len - 9, ".down.sql") == 0) {
        up = false;
        stem_len = len - 9;
    } else {
        return err_set(err,
                       DESKDB_EINVAL,
                       "%s/%s: migrations are named NNNN_name.up.sql and "
                       "NNNN_name.down.sql",
                       dir,
                       ent);
    }
    if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, ent) >= sizeof(path))
        return err_set(err, DESKDB_EINVAL, "%s/%s: path too long", dir, ent);
    rc = read_file(path, &data, &data_len, err);
    if (rc != DESKDB_OK)
        return rc;
    s = dir_files_slot(f, ent, stem_len);
    if (s == NULL) {
        free(data);
        return err_set(err, DESKDB_ENOMEM, "out of memory loading %s", path);
    }
    if (up) {
        s->up = data;
        s->up_len = data_len;
    } else {
        s->down = data;
        s->down_len = data_len;
    }
    return DESKDB_OK;
}

int
migration_set_load_dir(const char *dir,
                       struct migration_set **out,
                       struct deskdb_err *err)
{
    struct dir_files files = {0};
    struct dirent *de;
    size_t i;
    int rc = DESKDB_OK;
    DIR *d = opendir(dir);

    *out = NULL;
    if (d == NULL)
        return err_set(err,
                       DESKDB_EIO,
                       "open migrations directory %s: %s",
                       dir,
                       strerror(errno));
    while (rc == DESKDB_OK && (de = readdir(d)) != NULL)
        rc = dir_add_entry(&files, dir, de->d_name, err);
    closedir(d);
    for (i = 0; i < files.n && rc == DESKDB_OK; i++) {
        if (files.src[i].up == NULL || files.src[i].down == NULL)
            rc = err_set(err,
                         DESKDB_EINVAL,
                         "%s/%s.%s.sql is missing (every migration needs "
                         "an up and a down file)",
                         dir,
                         files.src[i].name,
                         files.src[i].up == NULL ? "up" : "down");
    }
    if (rc == DESKDB_OK)
        rc = migration_set_from_sources(files.src, files.n, out, err);
    dir_files_free(&files);
    return rc;
}

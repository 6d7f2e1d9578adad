/* SPDX-License-Identifier: MIT */
/* The import job type: NDJSON files dropped in an inbox directory go
 * through one atomic operation (ops_run_stream(): each record its own
 * transaction, idempotent by external_id), then move to done/ or failed/
 * with their results beside them. */
#include <dirent.h>
#include <stdarg.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "core/ops.h"
#include "jobs/exec.h"

#define SUFFIX    ".ndjson"
#define RESULTS   ".results.ndjson"
#define MAX_FILES 1000
/* A file modified this recently may still be being written: next run. */
#define SETTLE_S  2
#define PATH_SIZE 4096

struct import {
    struct exec_ctx *x;
    const struct ops_op *op;
    struct ops_options opt;
    const char *inbox;
    char done[PATH_SIZE], failed[PATH_SIZE];
    struct ops_summary total;
    int files, failed_files;
};

/* Format a path of at most PATH_SIZE bytes; false if it would not fit. */
static bool DESKDB_PRINTF(2, 3) path_fmt(char *out, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(out, PATH_SIZE, fmt, ap);
    va_end(ap);
    return n >= 0 && n < PATH_SIZE;
}

static bool
has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);

    return n > k && strcmp(s + n - k, suffix) == 0;
}

static int
by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A settled regular file named *.ndjson, not hidden. */
static bool
candidate(int dirfd, const char *name, time_t now)
{
    struct stat st;

    if (name[0] == '.' || !has_suffix(name, SUFFIX) ||
        strlen(name) >= PATH_SIZE / 4)
        return false;
    if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
        return false;
    return S_ISREG(st.st_mode) && st.st_mtime <= now - SETTLE_S;
}

static void
free_names(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

/* The files waiting in the inbox, sorted by name. */
static int
list_inbox(const char *dir, char ***out, size_t *n, struct deskdb_err *err)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char **names;
    time_t now = time(NULL);

    *out = NULL;
    *n = 0;
    if (d == NULL)
        return err_set(err, DESKDB_EIO, "inbox %s: %s", dir, strerror(errno));
    names = calloc(MAX_FILES, sizeof(*names));
    if (names == NULL) {
        closedir(d);
        return err_set(err, DESKDB_ENOMEM, "out of memory");
    }
    while (*n < MAX_FILES && (e = readdir(d)) != NULL) {
        if (!candidate(dirfd(d), e->d_name, now))
            continue;
        names[*n] = strdup(e->d_name);
        if (names[*n] == NULL) {
            closedir(d);
            free_names(names, *n);
            *n = 0;
            return err_set(err, DESKDB_ENOMEM, "out of memory");
        }
        (*n)++;
    }
    closedir(d);
    qsort(names, *n, sizeof(*names), by_name);
    *out = names;
    return DESKDB_OK;
}

static int
ensure_dir(const char *inbox,
           const char *name,
           char *path,
           struct deskdb_err *err)
{
    if (!path_fmt(path, "%s/%s", inbox, name))
        return err_set(err, DESKDB_EINVAL, "inbox path too long");
    if (mkdir(path, 0750) != 0 && errno != EEXIST)
        return err_set(err, DESKDB_EIO, "create %s: %s", path, strerror(errno));
    return DESKDB_OK;
}

/* dest/<base>.ndjson, or dest/<base>.<run id>.<k>.ndjson when taken;
 * `results` gets the matching .results.ndjson path.  False if too long. */
static bool
destination(const struct import *im,
            const char *dir,
            const char *name,
            char *path,
            char *results)
{
    int base = (int)(strlen(name) - strlen(SUFFIX));

    if (!path_fmt(path, "%s/%s", dir, name) ||
        !path_fmt(results, "%s/%.*s" RESULTS, dir, base, name))
        return false;
    for (int k = 0; access(path, F_OK) == 0 || access(results, F_OK) == 0;
         k++) {
        if (!path_fmt(path,
                      "%s/%.*s.%s.%d" SUFFIX,
                      dir,
                      base,
                      name,
                      im->x->run_id,
                      k) ||
            !path_fmt(results,
                      "%s/%.*s.%s.%d" RESULTS,
                      dir,
                      base,
                      name,
                      im->x->run_id,
                      k))
            return false;
    }
    return true;
}

static int
run_file(struct import *im,
         const char *in_path,
         const char *tmp_path,
         struct ops_summary *sum,
         struct deskdb_err *err)
{
    int fd = open(in_path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    FILE *in = fd >= 0 ? fdopen(fd, "r") : NULL;
    FILE *out = NULL;
    int rc;

    if (in == NULL) {
        rc = err_set(err, DESKDB_EIO, "open %s: %s", in_path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return rc;
    }
    out = fopen(tmp_path, "we");
    if (out == NULL) {
        fclose(in);
        return err_set(err,
                       DESKDB_EIO,
                       "create %s: %s",
                       tmp_path,
                       strerror(errno));
    }
    rc = ops_run_stream(im->x->r->pool, im->op, &im->opt, in, out, sum, err);
    fclose(in);
    if (fclose(out) != 0 && rc == 0)
        rc =
            err_set(err, DESKDB_EIO, "write %s: %s", tmp_path, strerror(errno));
    return rc;
}

/* One file: its records applied, then it and its results moved. */
static int
import_file(struct import *im, const char *name, struct deskdb_err *err)
{
    char in_path[PATH_SIZE], tmp[PATH_SIZE], dest[PATH_SIZE],
        results[PATH_SIZE], b1[24], b2[24], b3[24];
    struct ops_summary sum = {0};
    bool bad;
    int rc;

    if (!path_fmt(in_path, "%s/%s", im->inbox, name) ||
        !path_fmt(tmp, "%s/.%s.results.tmp", im->inbox, name))
        return err_set(err, DESKDB_EINVAL, "inbox path too long");
    rc = run_file(im, in_path, tmp, &sum, err);
    if (rc != 0) {
        /* The file stays in the inbox: a new run applies what is left,
         * and what was applied comes back as duplicates. */
        unlink(tmp);
        return rc;
    }
    bad = sum.failed + sum.not_applied + sum.unknown > 0;
    if (!destination(im, bad ? im->failed : im->done, name, dest, results))
        return err_set(err, DESKDB_EINVAL, "inbox path too long");
    if (rename(in_path, dest) != 0 || rename(tmp, results) != 0)
        return err_set(err,
                       DESKDB_EIO,
                       "move %s to %s: %s",
                       in_path,
                       dest,
                       strerror(errno));
    im->files++;
    im->failed_files += bad;
    im->total.records += sum.records;
    im->total.applied += sum.applied;
    im->total.duplicates += sum.duplicates;
    im->total.failed += sum.failed + sum.not_applied + sum.unknown;
    log_info(
        "jobs",
        "imported a file",
        "job",
        im->x->r->def->cfg->name,
        "file",
        dest,
        "applied",
        log_i64(b1, (int64_t)sum.applied),
        "duplicates",
        log_i64(b2, (int64_t)sum.duplicates),
        "failed",
        log_i64(b3, (int64_t)(sum.failed + sum.not_applied + sum.unknown)));
    return DESKDB_OK;
}

static int
import_all(struct import *im, char **names, size_t n, struct deskdb_err *err)
{
    for (size_t i = 0; i < n; i++) {
        if (exec_cancelled(im->x))
            return err_set(err,
                           DESKDB_ECLOSED,
                           "cancelled after %d of %zu files",
                           im->files,
                           n);
        if (exec_left_ms(im->x) <= 1)
            return err_set(err,
                           DESKDB_ETIMEOUT,
                           "timeout reached after %d of %zu files; the rest "
                           "wait for the next run",
                           im->files,
                           n);
        im->opt.txn.timeout_ms = exec_left_ms(im->x);
        int rc = import_file(im, names[i], err);
        if (rc != 0)
            return rc;
    }
    return DESKDB_OK;
}

int
exec_import(struct exec_ctx *x, struct deskdb_err *err)
{
    const struct config_job *job = x->r->def->cfg;
    struct import im = {.x = x, .inbox = job->import.inbox};
    char **names = NULL;
    size_t n = 0;
    int rc;

    im.op = ops_find(config_import_operation_name(job->import.operation));
    if (im.op == NULL)
        return err_set(err,
                       DESKDB_EINVAL,
                       "unknown operation %s",
                       config_import_operation_name(job->import.operation));
    ops_options_from_config(x->r->cfg, &im.opt);
    rc = list_inbox(im.inbox, &names, &n, err);
    if (rc == 0 && n > 0)
        rc = ensure_dir(im.inbox, "done", im.done, err);
    if (rc == 0 && n > 0)
        rc = ensure_dir(im.inbox, "failed", im.failed, err);
    if (rc == 0)
        rc = import_all(&im, names, n, err);
    free_names(names, n);
    x->r->rows = (int64_t)im.total.applied;
    snprintf(x->r->note,
             sizeof(x->r->note),
             "%d file%s: %llu applied, %llu duplicates, %llu failed",
             im.files,
             im.files == 1 ? "" : "s",
             (unsigned long long)im.total.applied,
             (unsigned long long)im.total.duplicates,
             (unsigned long long)im.total.failed);
    if (rc == 0 && im.failed_files > 0)
        rc = err_set(err,
                     DESKDB_EINVAL,
                     "%llu records failed in %d of %d files; see the "
                     "results files in %s",
                     (unsigned long long)im.total.failed,
                     im.failed_files,
                     im.files,
                     im.failed);
    return rc;
}

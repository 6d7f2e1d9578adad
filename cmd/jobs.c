/* SPDX-License-Identifier: MIT */
/* deskdb jobs list | next NAME [-n N] | run NAME: look at and run the
 * scheduled jobs of the configuration. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/cmd.h"
#include "config/config.h"
#include "config/config_jobs.h"
#include "core/clock.h"
#include "core/pool.h"
#include "jobs/jobdef.h"
#include "jobs/scheduler.h"

#define NEXT_DEFAULT 10
#define NEXT_MAX     1000
/* The command's own pool: a batch job needs two connections (the run's
 * row and its transaction). */
#define CLI_POOL_MAX 4

struct args {
    const char *action; /* list, next, run */
    const char *name;
    const char *config;
    long n;
    bool help;
};

static void
usage(FILE *out)
{
    fprintf(out,
            "usage: deskdb jobs list [-c FILE]\n"
            "       deskdb jobs next NAME [-n N] [-c FILE]\n"
            "       deskdb jobs run NAME [-c FILE]\n"
            "  list   every job: schedule, time zone, next run and last run\n"
            "  next   the next N fire times of NAME (default 10), in UTC and\n"
            "         in the job's time zone; needs no database\n"
            "  run    run NAME once, now, in the foreground; recorded in\n"
            "         deskdb.job_runs; exit 0 when it succeeds, 1 if not\n");
}

static int
parse_n(const char *s, long *n)
{
    char *end;

    errno = 0;
    *n = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || *n < 1 || *n > NEXT_MAX) {
        fprintf(stderr,
                "deskdb jobs: -n must be a whole number from 1 to %d, not "
                "'%s'\n",
                NEXT_MAX,
                s);
        return -1;
    }
    return 0;
}

static int
parse_positional(struct args *a, const char *s)
{
    if (a->action == NULL) {
        if (strcmp(s, "list") != 0 && strcmp(s, "next") != 0 &&
            strcmp(s, "run") != 0) {
            fprintf(stderr,
                    "deskdb jobs: unknown action '%s' (list, next or run)\n",
                    s);
            return -1;
        }
        a->action = s;
        return 0;
    }
    if (strcmp(a->action, "list") == 0 || a->name != NULL) {
        fprintf(stderr, "deskdb jobs: unexpected argument '%s'\n", s);
        return -1;
    }
    a->name = s;
    return 0;
}

static int
parse_args(int argc, char **argv, struct args *a)
{
    int i, rc;

    memset(a, 0, sizeof(*a));
    a->n = NEXT_DEFAULT;
    for (i = 1; i < argc; i++) {
        rc = cmd_parse_config_opt(argc, argv, &i, &a->config);
        if (rc < 0)
            return -1;
        if (rc > 0)
            continue;
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            a->help = true;
        } else if (strcmp(argv[i], "-n") == 0) {
            if (i + 1 >= argc) {
                fprintf(stderr, "deskdb jobs: -n needs a number\n");
                return -1;
            }
            if (parse_n(argv[++i], &a->n) < 0)
                return -1;
        } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
            fprintf(stderr, "deskdb jobs: unknown option '%s'\n", argv[i]);
            return -1;
        } else if (parse_positional(a, argv[i]) < 0) {
            return -1;
        }
    }
    if (a->help)
        return 0;
    if (a->action == NULL) {
        fprintf(stderr, "deskdb jobs: list, next or run is required\n");
        return -1;
    }
    if (strcmp(a->action, "list") != 0 && a->name == NULL) {
        fprintf(stderr,
                "deskdb jobs %s: the job NAME is required\n",
                a->action);
        return -1;
    }
    return 0;
}

static const struct config_job *
find_job(const struct config *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->jobs->n_definitions; i++) {
        if (strcmp(cfg->jobs->definitions[i].name, name) == 0)
            return &cfg->jobs->definitions[i];
    }
    fprintf(stderr,
            "deskdb jobs: no job named '%s' in the configuration\n",
            name);
    return NULL;
}

/* How the schedule treats DST, in one phrase. */
static const char *
dst_rule(const struct cron_expr *e)
{
    if (e->kind == CRON_KIND_EVERY)
        return "fixed rate in real time (UTC), DST does not apply";
    if (cron_is_fixed_time(e))
        return "fixed time: a time skipped by DST runs when the clock "
               "jumps, a repeated time runs once";
    return "wildcard: follows real time, both passes of a repeated hour, "
           "nothing for a skipped one";
}

static int
print_next(const struct config *cfg, const struct args *a)
{
    const struct config_job *job = find_job(cfg, a->name);
    struct jobdef d;
    struct deskdb_err err;
    char when[JOBS_TIME_MAX], local[TZ_FORMAT_MAX];
    int64_t t;

    if (job == NULL)
        return EXIT_USAGE;
    err_clear(&err);
    if (jobdef_compile(cfg, job, &d, &err) != DESKDB_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return EXIT_USAGE;
    }
    printf("%s: \"%s\" in %s%s (%s)\n",
           job->name,
           job->schedule.value,
           job->timezone.value,
           job->enabled ? "" : ", disabled",
           dst_rule(&d.expr));
    t = clock_realtime_ns() / NS_PER_SEC;
    for (long i = 0; i < a->n; i++) {
        if (cron_next(&d.expr, d.tz, t, &t) != 0) {
            printf("(no more fire times within %d years)\n", CRON_SEARCH_YEARS);
            break;
        }
        if (tz_format(d.tz, t, local, sizeof(local)) != 0)
            local[0] = '\0';
        printf("%s  %s\n", jobs_format_utc(t * 1000000, when), local);
    }
    jobdef_fini(&d);
    return EXIT_OK;
}

/* A pool for one command: no background connections, a few at most. */
static struct pool *
cli_pool(const struct config *cfg, struct deskdb_err *err)
{
    struct config_pool p = cfg->pool;

    p.min = 0;
    p.max = CLI_POOL_MAX;
    return pool_create(&cfg->database, &p, NULL, NULL, err);
}

static int64_t
whole_second(int64_t us)
{
    return us - us % 1000000;
}

static void
last_run_text(const struct scheduler_run_info *r, char *out, size_t size)
{
    char when[JOBS_TIME_MAX];

    if (r->id == 0) {
        snprintf(out, size, "never");
        return;
    }
    snprintf(out,
             size,
             "%s %s (run %lld%s%s)",
             r->status,
             jobs_format_utc(
                 whole_second(r->finished_us ? r->finished_us : r->started_us),
                 when),
             (long long)r->id,
             r->error[0] ? ": " : "",
             r->error);
}

static void
next_run_text(struct scheduler *s,
              const struct config_job *job,
              char *out,
              size_t size)
{
    char when[JOBS_TIME_MAX];
    int64_t next =
        scheduler_next_fire(s, job->name, clock_realtime_ns() / NS_PER_SEC);

    if (!job->enabled)
        snprintf(out, size, "disabled");
    else if (next == INT64_MAX)
        snprintf(out, size, "never");
    else
        snprintf(out, size, "%s", jobs_format_utc(next * 1000000, when));
}

static void
print_table(const struct config *cfg, struct scheduler *s, const char *dberr)
{
    const struct config_jobs *jobs = cfg->jobs;
    int wn = 4, wt = 4, ws = 8, wz = 8;
    char next[64], last[700];
    struct scheduler_run_info r;

    for (size_t i = 0; i < jobs->n_definitions; i++) {
        const struct config_job *j = &jobs->definitions[i];
        int n = (int)strlen(j->name),
            t = (int)strlen(config_job_type_name(j->type));
        int sc = (int)strlen(j->schedule.value),
            z = (int)strlen(j->timezone.value);

        wn = n > wn ? n : wn;
        wt = t > wt ? t : wt;
        ws = sc > ws ? sc : ws;
        wz = z > wz ? z : wz;
    }
    if (dberr != NULL)
        printf("last runs unknown (%s)\n", dberr);
    printf("%-*s  %-*s  %-*s  %-*s  %-7s  %-20s  %s\n",
           wn,
           "NAME",
           wt,
           "TYPE",
           ws,
           "SCHEDULE",
           wz,
           "TIMEZONE",
           "ENABLED",
           "NEXT RUN (UTC)",
           "LAST RUN");
    for (size_t i = 0; i < jobs->n_definitions; i++) {
        const struct config_job *j = &jobs->definitions[i];

        next_run_text(s, j, next, sizeof(next));
        if (dberr != NULL)
            snprintf(last, sizeof(last), "unknown");
        else if (scheduler_last_run(s, j->name, &r) == DESKDB_OK)
            last_run_text(&r, last, sizeof(last));
        printf("%-*s  %-*s  %-*s  %-*s  %-7s  %-20s  %s\n",
               wn,
               j->name,
               wt,
               config_job_type_name(j->type),
               ws,
               j->schedule.value,
               wz,
               j->timezone.value,
               j->enabled ? "yes" : "no",
               next,
               last);
    }
}

static int
list_or_run(const struct config *cfg, const struct args *a)
{
    struct pool *pool = NULL;
    struct scheduler *s = NULL;
    struct scheduler_run_info r;
    struct deskdb_err err;
    int code = EXIT_RUNTIME, rc;

    err_clear(&err);
    if (a->name != NULL && find_job(cfg, a->name) == NULL)
        return EXIT_USAGE;
    pool = cli_pool(cfg, &err);
    if (pool != NULL)
        s = scheduler_create(cfg, pool, NULL, NULL, NULL, &err);
    if (s == NULL) {
        fprintf(stderr, "deskdb jobs: %s\n", err.msg);
        code = err.code == DESKDB_EINVAL ? EXIT_USAGE : EXIT_RUNTIME;
        goto out;
    }
    if (strcmp(a->action, "list") == 0) {
        rc = scheduler_refresh(s, &err);
        if (rc != 0 &&
            (err.code == DESKDB_ECONN || err.code == DESKDB_ETIMEOUT))
            err_prefix(&err, "database unreachable");
        print_table(cfg, s, rc == 0 ? NULL : err.msg);
        code = EXIT_OK;
        goto out;
    }
    rc = scheduler_run_now(s, a->name, &err);
    if (scheduler_last_run(s, a->name, &r) != DESKDB_OK || r.id == 0) {
        fprintf(stderr, "deskdb jobs run: %s: %s\n", a->name, err.msg);
        goto out;
    }
    if (rc != 0) {
        fprintf(stderr,
                "deskdb jobs run: %s: run %lld %s: %s\n",
                a->name,
                (long long)r.id,
                r.status,
                err.msg);
        goto out;
    }
    printf("%s: run %lld %s in %.3f s",
           a->name,
           (long long)r.id,
           r.status,
           (double)(r.finished_us - r.started_us) / 1e6);
    if (r.rows >= 0)
        printf(", %lld rows", (long long)r.rows);
    printf("%s%s\n", r.note[0] ? ": " : "", r.note);
    code = EXIT_OK;
out:
    scheduler_destroy(s);
    if (pool != NULL) {
        (void)pool_shutdown(pool, 5000);
        pool_destroy(pool);
    }
    return code;
}

int
cmd_jobs(int argc, char **argv)
{
    struct config *cfg;
    struct args a;
    int code;

    if (parse_args(argc, argv, &a) < 0)
        return EXIT_USAGE;
    if (a.help) {
        usage(stdout);
        return EXIT_OK;
    }
    cfg = cmd_load_config(a.config);
    if (cfg == NULL)
        return EXIT_USAGE;
    if (strcmp(a.action, "next") == 0)
        code = print_next(cfg, &a);
    else
        code = list_or_run(cfg, &a);
    config_destroy(cfg);
    return code;
}

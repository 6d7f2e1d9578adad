/* SPDX-License-Identifier: MIT */
/* deskdb migrate up|down [N]|status: apply, roll back or list migrations. */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/cmd.h"
#include "config/config.h"
#include "core/migrate.h"

#define MAX_WAIT_SECONDS (7 * 24 * 3600)

struct args {
    const char *action; /* up, down or status */
    int n;              /* down: how many, 0 = not given */
    const char *config;
    const char *dir;
    int64_t wait_ms; /* 0: the default; -1: do not wait */
    bool help;
};

static void
usage(FILE *out)
{
    fprintf(out,
            "usage: deskdb migrate up|down [N]|status [-c FILE] [--dir DIR] "
            "[--wait SECONDS]\n"
            "  up              apply every pending migration\n"
            "  down [N]        roll back the N most recent migrations "
            "(default 1)\n"
            "  status          list applied and pending migrations\n"
            "  -c FILE         configuration (database.url)\n"
            "  --dir DIR       use the migrations in DIR instead of the "
            "built-in ones\n"
            "  --wait SECONDS  wait this long for another runner's lock "
            "(default 60, 0: do not wait)\n");
}

/* A whole number in [min, max], or -1 (reported). */
static long
parse_count(const char *what, const char *s, long min, long max)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < min || v > max) {
        fprintf(stderr,
                "deskdb migrate: %s must be a whole number from %ld to %ld, "
                "not '%s'\n",
                what,
                min,
                max,
                s);
        return -1;
    }
    return v;
}

static int
parse_positional(struct args *a, const char *s)
{
    long n;

    if (a->action == NULL) {
        if (strcmp(s, "up") != 0 && strcmp(s, "down") != 0 &&
            strcmp(s, "status") != 0) {
            fprintf(stderr,
                    "deskdb migrate: unknown action '%s' (up, down or "
                    "status)\n",
                    s);
            return -1;
        }
        a->action = s;
        return 0;
    }
    if (strcmp(a->action, "down") != 0 || a->n != 0) {
        fprintf(stderr, "deskdb migrate: unexpected argument '%s'\n", s);
        return -1;
    }
    n = parse_count("N", s, 1, 1000000);
    if (n < 0)
        return -1;
    a->n = (int)n;
    return 0;
}

static int
parse_args(int argc, char **argv, struct args *a)
{
    const char *v;
    bool bad = false;
    int i, rc;

    memset(a, 0, sizeof(*a));
    for (i = 1; i < argc; i++) {
        rc = cmd_parse_config_opt(argc, argv, &i, &a->config);
        if (rc < 0)
            return -1;
        if (rc > 0)
            continue;
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            a->help = true;
        } else if ((v = cmd_option_value(argc, argv, &i, "--dir", &bad))) {
            a->dir = v;
        } else if ((v = cmd_option_value(argc, argv, &i, "--wait", &bad))) {
            long s = parse_count("--wait", v, 0, MAX_WAIT_SECONDS);

            if (s < 0)
                return -1;
            a->wait_ms = s == 0 ? -1 : (int64_t)s * 1000;
        } else if (bad) {
            return -1;
        } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
            fprintf(stderr, "deskdb migrate: unknown option '%s'\n", argv[i]);
            return -1;
        } else if (parse_positional(a, argv[i]) < 0) {
            return -1;
        }
    }
    if (a->action == NULL && !a->help) {
        fprintf(stderr, "deskdb migrate: up, down or status is required\n");
        return -1;
    }
    return 0;
}

static void
on_event(void *arg, const struct migrate_event *ev)
{
    (void)arg;
    printf("%s %s in %" PRId64 " ms (%s)\n",
           ev->up ? "applied" : "rolled back",
           ev->migration->name,
           ev->duration_ms,
           ev->autocommit ? "statement by statement" : "one transaction");
    fflush(stdout);
}

static int
print_status(const struct migrate_options *o)
{
    struct migrate_status *st = NULL;
    struct deskdb_err err;
    size_t n = 0, i, pending = 0, bad = 0;
    int width = (int)strlen("MIGRATION");

    err_clear(&err);
    if (migrate_status(o, &st, &n, &err) != DESKDB_OK) {
        fprintf(stderr, "deskdb migrate: %s\n", err.msg);
        return EXIT_RUNTIME;
    }
    for (i = 0; i < n; i++) {
        if ((int)strlen(st[i].name) > width)
            width = (int)strlen(st[i].name);
    }
    printf("%-*s  %-8s  %-20s  %s\n",
           width,
           "MIGRATION",
           "STATE",
           "APPLIED AT",
           "DURATION");
    for (i = 0; i < n; i++) {
        char duration[32] = "-";

        if (st[i].duration_ms >= 0)
            snprintf(duration,
                     sizeof(duration),
                     "%" PRId64 " ms",
                     st[i].duration_ms);
        printf("%-*s  %-8s  %-20s  %s\n",
               width,
               st[i].name,
               migrate_state_name(st[i].state),
               st[i].applied_at[0] != '\0' ? st[i].applied_at : "-",
               duration);
        pending += st[i].state == MIGRATE_PENDING;
        bad += st[i].state == MIGRATE_CHANGED || st[i].state == MIGRATE_UNKNOWN;
    }
    printf("%zu applied, %zu pending\n", n - pending, pending);
    if (bad > 0)
        fprintf(stderr,
                "deskdb migrate: %zu applied migration(s) changed or unknown; "
                "up and down will refuse to run\n",
                bad);
    free(st);
    return EXIT_OK;
}

static int
run_action(const struct args *a, const struct migrate_options *o)
{
    struct deskdb_err err;
    int count = 0;
    int rc;

    if (strcmp(a->action, "status") == 0)
        return print_status(o);
    err_clear(&err);
    if (strcmp(a->action, "up") == 0)
        rc = migrate_up(o, &count, &err);
    else
        rc = migrate_down(o, a->n > 0 ? a->n : 1, &count, &err);
    if (rc != DESKDB_OK) {
        fprintf(stderr, "deskdb migrate: %s\n", err.msg);
        return EXIT_RUNTIME;
    }
    if (count == 0)
        printf("%s\n",
               strcmp(a->action, "up") == 0
                   ? "nothing to apply: the database is up to date"
                   : "nothing to roll back");
    else
        printf("%s %d migration%s\n",
               strcmp(a->action, "up") == 0 ? "applied" : "rolled back",
               count,
               count == 1 ? "" : "s");
    return EXIT_OK;
}

int
cmd_migrate(int argc, char **argv)
{
    struct migration_set *set = NULL;
    struct migrate_options o = {0};
    struct config *cfg = NULL;
    struct deskdb_err err;
    struct args a;
    char *conninfo = NULL;
    int code = EXIT_USAGE;

    if (parse_args(argc, argv, &a) < 0)
        return EXIT_USAGE;
    if (a.help) {
        usage(stdout);
        return EXIT_OK;
    }
    cfg = cmd_load_config(a.config);
    if (cfg == NULL)
        goto out;
    err_clear(&err);
    if ((a.dir != NULL
             ? migration_set_load_dir(a.dir, &set, &err)
             : migration_set_load_embedded(&set, &err)) != DESKDB_OK) {
        fprintf(stderr, "deskdb migrate: %s\n", err.msg);
        goto out;
    }
    conninfo = config_conninfo(cfg);
    if (conninfo == NULL) {
        fprintf(stderr, "deskdb migrate: out of memory\n");
        code = EXIT_RUNTIME;
        goto out;
    }
    o.conninfo = conninfo;
    o.set = set;
    o.lock_wait_ms = a.wait_ms;
    o.on_event = on_event;
    code = run_action(&a, &o);
out:
    if (conninfo != NULL) {
        explicit_bzero(conninfo, strlen(conninfo));
        free(conninfo);
    }
    migration_set_destroy(set);
    config_destroy(cfg);
    return code;
}

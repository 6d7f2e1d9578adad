/* SPDX-License-Identifier: MIT */
/* The process collector: process_* metrics read from /proc at scrape time
 * (the Prometheus client conventions) and deskdb_build_info. */
#include "core/metrics.h"

#include <dirent.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

/* Things that do not change while the process runs, read once. */
struct process_consts {
    double clk_tck;
    double page_size;
    double start_time; /* seconds since the epoch, or < 0 if unknown */
    char libpq_version[32];
};

static struct process_consts consts;
static pthread_once_t consts_once = PTHREAD_ONCE_INIT;

/* The fields of /proc/self/stat we use (field numbers from proc(5)). */
struct self_stat {
    unsigned long long utime;     /* 14 */
    unsigned long long stime;     /* 15 */
    unsigned long long threads;   /* 20 */
    unsigned long long starttime; /* 22, clock ticks after boot */
    unsigned long long vsize;     /* 23, bytes */
    unsigned long long rss;       /* 24, pages */
};

/* Read a small file whole into `buf` (NUL-terminated); -1 on failure. */
static ssize_t
read_small_file(const char *path, char *buf, size_t size)
{
    size_t len = 0;
    ssize_t n;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0)
        return -1;
    while (len + 1 < size) {
        n = read(fd, buf + len, size - 1 - len);
        if (n < 0) {
            close(fd);
            return -1;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    close(fd);
    buf[len] = '\0';
    return (ssize_t)len;
}

static int
self_stat_read(struct self_stat *st)
{
    char buf[1024];
    char *p;
    char *save = NULL;
    char *tok;
    unsigned long long v;
    int field = 3;

    if (read_small_file("/proc/self/stat", buf, sizeof(buf)) < 0)
        return -1;
    /* the command name (field 2) may contain spaces and parentheses */
    p = strrchr(buf, ')');
    if (p == NULL)
        return -1;
    memset(st, 0, sizeof(*st));
    for (tok = strtok_r(p + 1, " \n", &save); tok != NULL && field <= 24;
         tok = strtok_r(NULL, " \n", &save), field++) {
        v = strtoull(tok, NULL, 10);
        switch (field) {
        case 14:
            st->utime = v;
            break;
        case 15:
            st->stime = v;
            break;
        case 20:
            st->threads = v;
            break;
        case 22:
            st->starttime = v;
            break;
        case 23:
            st->vsize = v;
            break;
        case 24:
            st->rss = v;
            break;
        default:
            break;
        }
    }
    return field > 24 ? 0 : -1;
}

/* The boot time from the "btime" line of /proc/stat, or -1. */
static double
boot_time(void)
{
    char *line = NULL;
    size_t cap = 0;
    double btime = -1;
    FILE *f = fopen("/proc/stat", "re");

    if (f == NULL)
        return -1;
    while (getline(&line, &cap, f) > 0) {
        if (strncmp(line, "btime ", 6) == 0) {
            btime = (double)strtoull(line + 6, NULL, 10);
            break;
        }
    }
    free(line);
    fclose(f);
    return btime;
}

static void
consts_init(void)
{
    struct self_stat st;
    double btime = boot_time();
    long tck = sysconf(_SC_CLK_TCK);
    long page = sysconf(_SC_PAGESIZE);
    int pq = PQlibVersion();

    consts.clk_tck = tck > 0 ? (double)tck : 100.0;
    consts.page_size = page > 0 ? (double)page : 4096.0;
    consts.start_time = -1;
    if (btime >= 0 && self_stat_read(&st) == 0)
        consts.start_time = btime + (double)st.starttime / consts.clk_tck;
    /* 150004 is 15.4; before PostgreSQL 10, 90605 is 9.6.5 */
    if (pq >= 100000)
        snprintf(consts.libpq_version,
                 sizeof(consts.libpq_version),
                 "%d.%d",
                 pq / 10000,
                 pq % 10000);
    else
        snprintf(consts.libpq_version,
                 sizeof(consts.libpq_version),
                 "%d.%d.%d",
                 pq / 10000,
                 pq / 100 % 100,
                 pq % 100);
}

/* Open descriptors, counted as entries of /proc/self/fd; -1 if unknown. */
static double
open_fds(void)
{
    struct dirent *e;
    double n = 0;
    DIR *d = opendir("/proc/self/fd");

    if (d == NULL)
        return -1;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] != '.')
            n++;
    }
    closedir(d);
    return n;
}

static void
emit(struct metrics_sink *sink,
     enum metric_type type,
     const char *name,
     const char *help,
     double value)
{
    if (metrics_sink_family(sink, type, name, help, NULL) == DESKDB_OK)
        metrics_sink_sample(sink, NULL, value);
}

static void
emit_build_info(struct metrics_sink *sink)
{
    static const char *const labels[] = {"version",
                                         "revision",
                                         "libpq_version",
                                         NULL};
    const char *values[] = {DESKDB_VERSION,
                            DESKDB_REVISION,
                            consts.libpq_version};

    if (metrics_sink_family(sink,
                            METRIC_GAUGE,
                            "deskdb_build_info",
                            "A metric with a constant '1' value labelled by "
                            "the version and revision deskdb was built from "
                            "and the libpq version it runs with.",
                            labels) == DESKDB_OK)
        metrics_sink_sample(sink, values, 1);
}

static void
process_collect(void *arg, struct metrics_sink *sink)
{
    struct self_stat st;
    struct rlimit rl;
    double fds = open_fds();

    (void)arg;
    if (self_stat_read(&st) == 0) {
        emit(sink,
             METRIC_COUNTER,
             "process_cpu_seconds_total",
             "Total user and system CPU time spent in seconds.",
             (double)(st.utime + st.stime) / consts.clk_tck);
        emit(sink,
             METRIC_GAUGE,
             "process_resident_memory_bytes",
             "Resident memory size in bytes.",
             (double)st.rss * consts.page_size);
        emit(sink,
             METRIC_GAUGE,
             "process_virtual_memory_bytes",
             "Virtual memory size in bytes.",
             (double)st.vsize);
        emit(sink,
             METRIC_GAUGE,
             "process_threads",
             "Number of OS threads in the process.",
             (double)st.threads);
    }
    if (consts.start_time >= 0)
        emit(sink,
             METRIC_GAUGE,
             "process_start_time_seconds",
             "Start time of the process since unix epoch in seconds.",
             consts.start_time);
    if (fds >= 0)
        emit(sink,
             METRIC_GAUGE,
             "process_open_fds",
             "Number of open file descriptors.",
             fds);
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
        emit(sink,
             METRIC_GAUGE,
             "process_max_fds",
             "Maximum number of open file descriptors.",
             (double)rl.rlim_cur);
    emit_build_info(sink);
}

int
metrics_add_process_collector(struct metrics *m)
{
    pthread_once(&consts_once, consts_init);
    return metrics_add_collector(m, process_collect, NULL);
}

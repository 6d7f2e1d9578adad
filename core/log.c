/* SPDX-License-Identifier: MIT */
/* Structured logging: one line per event, logfmt or JSON, written whole. */
#include "core/log.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "core/buf.h"

/* Set again by a reload (SIGHUP) while other threads log. */
static _Atomic int log_level_cur = LOG_INFO;
static _Atomic int log_format_cur = LOG_FORMAT_LOGFMT;
static FILE *_Atomic log_out;
static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;

static const char *const level_names[] = {"error", "warn", "info", "debug"};

void
log_configure(enum log_level level, enum log_format format, FILE *out)
{
    atomic_store_explicit(&log_level_cur, (int)level, memory_order_relaxed);
    atomic_store_explicit(&log_format_cur, (int)format, memory_order_relaxed);
    atomic_store_explicit(&log_out, out, memory_order_relaxed);
}

bool
log_enabled(enum log_level level)
{
    return (int)level <=
           atomic_load_explicit(&log_level_cur, memory_order_relaxed);
}

const char *
log_i64(char buf[24], int64_t v)
{
    snprintf(buf, 24, "%" PRId64, v);
    return buf;
}

const char *
log_ms(char buf[32], int64_t ns)
{
    snprintf(buf, 32, "%.3f", (double)ns / 1e6);
    return buf;
}

static bool
needs_quotes(const char *s)
{
    if (*s == '\0')
        return true;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c <= ' ' || c == '=' || c == '"' || c == '\\' || c == 0x7f)
            return true;
    }
    return false;
}

/*
 * Appends that would pass the line cap are dropped (buf sets overflow); a
 * cut line is still written, so these helpers need not report failure.
 */
static void
add(struct buf *b, const char *s)
{
    if (buf_puts(b, s) != DESKDB_OK)
        b->overflow = true;
}

/* Escape for a quoted logfmt value or a JSON string (same rules suffice). */
static void
add_escaped(struct buf *b, const char *s)
{
    char tmp[8];

    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            tmp[0] = '\\';
            tmp[1] = (char)c;
            tmp[2] = '\0';
        } else if (c == '\n') {
            strcpy(tmp, "\\n");
        } else if (c == '\r') {
            strcpy(tmp, "\\r");
        } else if (c == '\t') {
            strcpy(tmp, "\\t");
        } else if (c < 0x20 || c == 0x7f) {
            snprintf(tmp, sizeof(tmp), "\\u%04x", c);
        } else {
            tmp[0] = (char)c;
            tmp[1] = '\0';
        }
        add(b, tmp);
    }
}

static void
add_pair(struct buf *b,
         const char *key,
         const char *value,
         bool first,
         bool json)
{
    if (value == NULL)
        value = "";
    if (!first)
        add(b, json ? "," : " ");
    if (json)
        add(b, "\"");
    add(b, key);
    add(b, json ? "\":" : "=");
    if (json || needs_quotes(value)) {
        add(b, "\"");
        add_escaped(b, value);
        add(b, "\"");
    } else {
        add(b, value);
    }
}

void
log_emit(enum log_level level, const char *module, const char *msg, ...)
{
    struct buf b;
    char ts[64];
    struct timespec now;
    struct tm tm;
    va_list ap;
    const char *key;
    /* One format and one stream per line, whatever a reload does. */
    bool json = atomic_load_explicit(&log_format_cur, memory_order_relaxed) ==
                LOG_FORMAT_JSON;
    FILE *out = atomic_load_explicit(&log_out, memory_order_relaxed);

    if (out == NULL)
        out = stderr;
    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    snprintf(ts,
             sizeof(ts),
             "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ",
             tm.tm_year + 1900,
             tm.tm_mon + 1,
             tm.tm_mday,
             tm.tm_hour,
             tm.tm_min,
             tm.tm_sec,
             now.tv_nsec / 1000000L);

    buf_init(&b, 16384);
    if (json)
        add(&b, "{");
    add_pair(&b, "ts", ts, true, json);
    add_pair(&b, "level", level_names[level], false, json);
    add_pair(&b, "module", module, false, json);
    add_pair(&b, "msg", msg, false, json);
    va_start(ap, msg);
    for (key = va_arg(ap, const char *); key != NULL;
         key = va_arg(ap, const char *))
        add_pair(&b, key, va_arg(ap, const char *), false, json);
    va_end(ap);
    if (json)
        add(&b, "}");
    pthread_mutex_lock(&log_mu);
    fprintf(out, "%s\n", b.data ? b.data : "");
    fflush(out);
    pthread_mutex_unlock(&log_mu);
    buf_fini(&b);
}

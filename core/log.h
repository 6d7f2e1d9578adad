/* SPDX-License-Identifier: MIT */
/* Structured one-line-per-event logging in logfmt or JSON. */
#ifndef DESKDB_CORE_LOG_H
#define DESKDB_CORE_LOG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

enum log_level { LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG };
enum log_format { LOG_FORMAT_LOGFMT, LOG_FORMAT_JSON };

/* Set level, format and stream (NULL: stderr).  Call before threads start. */
void log_configure(enum log_level level, enum log_format format, FILE *out);

bool log_enabled(enum log_level level);

/*
 * Write one event: `module` and `msg`, then key/value string pairs ending
 * with a NULL key.  Values are quoted and escaped as the format needs.
 * Never pass secrets; use config_redact_url() for connection strings.
 * Thread safe: each line is written whole.
 */
void log_emit(enum log_level level, const char *module, const char *msg, ...);

/* Format an integer or a duration into `buf` for use as a value. */
const char *log_i64(char buf[24], int64_t v);
const char *log_ms(char buf[32], int64_t ns);

/* log_warn("pool", "acquire timed out", "waited_ms", log_i64(b, ms)); */
#define log_error(...) log_at_(LOG_ERROR, __VA_ARGS__)
#define log_warn(...)  log_at_(LOG_WARN, __VA_ARGS__)
#define log_info(...)  log_at_(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_at_(LOG_DEBUG, __VA_ARGS__)
#define log_at_(level, ...)                                   \
    do {                                                      \
        if (log_enabled(level))                               \
            log_emit(level, __VA_ARGS__, (const char *)NULL); \
    } while (0)

#endif

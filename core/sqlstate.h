/* SPDX-License-Identifier: MIT */
/* SQLSTATE classification: which errors are transient, which break the
 * connection, and the two-character class used as a metric label. */
#ifndef DESKDB_CORE_SQLSTATE_H
#define DESKDB_CORE_SQLSTATE_H

#include <stdbool.h>

/*
 * What an error code means to a caller deciding whether to retry.  The
 * rules follow research/jobs.md section (d) and PostgreSQL's errcodes.txt.
 */
enum sqlstate_kind {
    SQLSTATE_KIND_NONE,          /* empty or malformed: no server verdict */
    SQLSTATE_KIND_OTHER,         /* a definite error; retrying will not help */
    SQLSTATE_KIND_SERIALIZATION, /* 40001 serialization_failure */
    SQLSTATE_KIND_DEADLOCK,      /* 40P01 deadlock_detected */
    SQLSTATE_KIND_CONNECTION,    /* the session is gone or unusable */
    SQLSTATE_KIND_AMBIGUOUS,     /* 08007, 40003: the outcome is unknown */
    SQLSTATE_KIND_LOCK_TIMEOUT,  /* 55P03 lock_not_available */
    SQLSTATE_KIND_CANCELED,      /* 57014 query_canceled (timeouts, cancel) */
};

/* True if `s` is five characters of [0-9A-Z]. */
bool sqlstate_valid(const char *s);

/* Classify `s` (NULL or invalid: SQLSTATE_KIND_NONE). */
enum sqlstate_kind sqlstate_classify(const char *s);

/* Stable lower-case name of a kind, e.g. "serialization_failure". */
const char *sqlstate_kind_name(enum sqlstate_kind kind);

/*
 * The class of `s` (its first two characters) in `out`, or the fallback
 * when `s` is not a valid SQLSTATE.  Used as the bounded `sqlstate_class`
 * label: at most 36 * 36 values, in practice the ~40 classes PostgreSQL
 * defines.
 */
void sqlstate_class(const char *s, const char *fallback, char out[3]);

#endif

/* SPDX-License-Identifier: MIT */
/* SQLSTATE classification for retries, connection handling and metrics. */
#include "core/sqlstate.h"

#include <string.h>

bool
sqlstate_valid(const char *s)
{
    if (s == NULL)
        return false;
    for (int i = 0; i < 5; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z')))
            return false;
    }
    return s[5] == '\0';
}

/*
 * Codes after which the session cannot be used again: connection
 * exceptions (class 08) and the operator-intervention codes that end a
 * backend.  53300 arrives at connect time; 08P01 is a protocol violation.
 * 25P03 (idle_in_transaction_session_timeout) also ends the session but is
 * deliberately not here: it means the client stalled, and retrying a
 * stalled client's transaction hides the bug (research/jobs.md (d)).
 */
static bool
is_connection_loss(const char *s)
{
    static const char *const codes[] = {
        "57P01", /* admin_shutdown (pg_terminate_backend, fast shutdown) */
        "57P02", /* crash_shutdown */
        "57P03", /* cannot_connect_now (starting up, shutting down) */
        "57P04", /* database_dropped */
        "57P05", /* idle_session_timeout */
        "53300", /* too_many_connections */
    };

    if (s[0] == '0' && s[1] == '8')
        return true;
    for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
        if (strcmp(s, codes[i]) == 0)
            return true;
    }
    return false;
}

enum sqlstate_kind
sqlstate_classify(const char *s)
{
    if (!sqlstate_valid(s))
        return SQLSTATE_KIND_NONE;
    if (strcmp(s, "40001") == 0)
        return SQLSTATE_KIND_SERIALIZATION;
    if (strcmp(s, "40P01") == 0)
        return SQLSTATE_KIND_DEADLOCK;
    /* transaction_resolution_unknown, statement_completion_unknown */
    if (strcmp(s, "08007") == 0 || strcmp(s, "40003") == 0)
        return SQLSTATE_KIND_AMBIGUOUS;
    if (is_connection_loss(s))
        return SQLSTATE_KIND_CONNECTION;
    if (strcmp(s, "55P03") == 0)
        return SQLSTATE_KIND_LOCK_TIMEOUT;
    if (strcmp(s, "57014") == 0)
        return SQLSTATE_KIND_CANCELED;
    return SQLSTATE_KIND_OTHER;
}

const char *
sqlstate_kind_name(enum sqlstate_kind kind)
{
    switch (kind) {
    case SQLSTATE_KIND_NONE:
        return "none";
    case SQLSTATE_KIND_OTHER:
        return "other";
    case SQLSTATE_KIND_SERIALIZATION:
        return "serialization_failure";
    case SQLSTATE_KIND_DEADLOCK:
        return "deadlock";
    case SQLSTATE_KIND_CONNECTION:
        return "connection";
    case SQLSTATE_KIND_AMBIGUOUS:
        return "ambiguous";
    case SQLSTATE_KIND_LOCK_TIMEOUT:
        return "lock_timeout";
    case SQLSTATE_KIND_CANCELED:
        return "query_canceled";
    }
    return "unknown";
}

void
sqlstate_class(const char *s, const char *fallback, char out[3])
{
    const char *src = sqlstate_valid(s) ? s : fallback;

    out[0] = '\0';
    if (src == NULL || src[0] == '\0' || src[1] == '\0')
        return;
    out[0] = src[0];
    out[1] = src[1];
    out[2] = '\0';
}

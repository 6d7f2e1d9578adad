/* SPDX-License-Identifier: MIT */
/* Schema migrations: loading the NNNN_name.{up,down}.sql pairs and applying
 * or rolling them back on a dedicated connection. */
#ifndef DESKDB_CORE_MIGRATE_H
#define DESKDB_CORE_MIGRATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "core/sha256.h"

#define MIGRATE_NAME_MAX 128        /* "0002_schema_consistency" and a NUL */
#define MIGRATE_FILE_MAX (16 << 20) /* bytes per .sql file */

/* The advisory lock every runner takes, in the two-key form so it never
 * collides with single-bigint keys (the jobs leader lock among them):
 * pg_try_advisory_lock(MIGRATE_LOCK_CLASS, MIGRATE_LOCK_OBJECT). */
#define MIGRATE_LOCK_CLASS  1684370283 /* "desk" */
#define MIGRATE_LOCK_OBJECT 1

/* One migration: the up and down scripts of NNNN_name. */
struct migration {
    int64_t version;             /* NNNN */
    char name[MIGRATE_NAME_MAX]; /* the full stem, "0002_schema_consistency" */
    char *up_sql;                /* NUL-terminated */
    size_t up_len;
    char *down_sql;
    size_t down_len;
    char checksum[SHA256_HEX_LEN]; /* SHA-256 of the up file */
    bool up_autocommit;   /* up runs outside a transaction (CONCURRENTLY) */
    bool down_autocommit; /* likewise for down */
};

/* The migrations known to this binary or found in a directory, sorted by
 * version.  Every script has been split and checked when it is loaded. */
struct migration_set {
    struct migration *items;
    size_t n;
};

/*
 * The migrations compiled into the binary (from migrations/ at build
 * time).  Returns 0 or DESKDB_ENOMEM / DESKDB_EINVAL; the caller owns
 * `*out` (migration_set_destroy()).
 */
int migration_set_load_embedded(struct migration_set **out,
                                struct deskdb_err *err) DESKDB_MUSTCHECK;

/*
 * The migrations in `dir`: every file must be NNNN_name.up.sql or
 * NNNN_name.down.sql (name: lower-case letters, digits and '_'), each
 * version must have both files and appear once.  Other files that do not
 * end in .sql are ignored.  Errors: DESKDB_EIO (unreadable), DESKDB_EINVAL
 * (bad name, missing pair, duplicate version, NUL byte, unterminated
 * quote, BEGIN/COMMIT in a script, COPY ... STDIN), DESKDB_ENOMEM.
 */
int migration_set_load_dir(const char *dir,
                           struct migration_set **out,
                           struct deskdb_err *err) DESKDB_MUSTCHECK;

void migration_set_destroy(struct migration_set *set);

/* Called after each migration applied or rolled back (from the calling
 * thread, with no lock held). */
struct migrate_event {
    const struct migration *migration;
    bool up;
    bool autocommit;
    int64_t duration_ms;
};

struct migrate_options {
    const char *conninfo; /* libpq URI or key=value; never logged */
    const struct migration_set *set;
    /* How long to wait for another runner's lock; 0 means the default of
     * 60 s, a negative value means fail at once if the lock is taken. */
    int64_t lock_wait_ms;
    void (*on_event)(void *arg, const struct migrate_event *ev);
    void *event_arg;
};

/*
 * Apply every pending migration in version order, on one connection of its
 * own that holds the migration advisory lock throughout.  Another runner
 * holding the lock is waited for (polling with pg_try_advisory_lock, never
 * blocking inside a statement: against a session blocked in
 * pg_advisory_lock(), CREATE INDEX CONCURRENTLY fails with a deadlock), up to
 * `lock_wait_ms`.  Creates deskdb.schema_migrations if missing.
 *
 * A script is run statement by statement.  One that contains CONCURRENTLY
 * or VACUUM runs outside a transaction, every statement committing on its
 * own, and is recorded after its last statement; any other runs in one
 * transaction together with its history row.  Before each CREATE INDEX
 * CONCURRENTLY, an INVALID index of that name on that table (left by a
 * failed build) is dropped.
 *
 * Refuses to run (DESKDB_EINVAL, nothing applied) when an applied
 * migration's checksum or name differs from the file, when the database
 * has a version this set does not know, or when a pending version is older
 * than the newest applied one.  Stops at the first failing statement
 * (DESKDB_EPG with sqlstate, message "NNNN_name.up.sql:LINE: ...").
 * Other errors: DESKDB_ECONN, DESKDB_ETIMEOUT (lock wait), DESKDB_ENOMEM.
 * `*applied` (may be NULL) counts the migrations applied, even on error.
 * Blocks for as long as the migrations take.
 */
int migrate_up(const struct migrate_options *opts,
               int *applied,
               struct deskdb_err *err) DESKDB_MUSTCHECK;

/*
 * Roll back the `n` (>= 1) most recently applied migrations, newest first,
 * with their down scripts (same transaction rules) and delete their history
 * rows.  Fewer than `n` applied: all of them.  Same lock, same refusals for
 * changed or unknown applied migrations, same errors as migrate_up().
 */
int migrate_down(const struct migrate_options *opts,
                 int n,
                 int *rolled_back,
                 struct deskdb_err *err) DESKDB_MUSTCHECK;

enum migrate_state {
    MIGRATE_APPLIED, /* in the database, file unchanged */
    MIGRATE_PENDING, /* in the set, not applied */
    MIGRATE_CHANGED, /* applied, but the file's checksum or name differs */
    MIGRATE_UNKNOWN, /* applied, but not in the set */
};

struct migrate_status {
    int64_t version;
    char name[MIGRATE_NAME_MAX]; /* as recorded when applied, else file's */
    enum migrate_state state;
    char applied_at[32];           /* "2025-01-31T12:00:00Z", "" when pending */
    int64_t duration_ms;           /* -1 when pending */
    char checksum[SHA256_HEX_LEN]; /* recorded when applied, else file's */
};

/*
 * Every version in the set or in the database, in version order.  Reads
 * only: takes no lock and creates nothing (a database without
 * deskdb.schema_migrations has everything pending).  The caller frees
 * `*out`.  Errors: DESKDB_ECONN, DESKDB_EPG, DESKDB_ENOMEM.
 */
int migrate_status(const struct migrate_options *opts,
                   struct migrate_status **out,
                   size_t *n,
                   struct deskdb_err *err) DESKDB_MUSTCHECK;

const char *migrate_state_name(enum migrate_state state);

#endif

/* SPDX-License-Identifier: MIT */
/* The SQL of maintenance steps and purge batches, built from their
 * configuration (pure text building, no database). */
#ifndef DESKDB_JOBS_MAINT_H
#define DESKDB_JOBS_MAINT_H

#include "config/config_jobs.h"
#include "core/buf.h"
#include "core/err.h"

/*
 * Relation and column names in the configuration are unquoted SQL
 * identifiers (checked when it is loaded); they are written quoted and
 * folded to lower case, which is what PostgreSQL does with an unquoted
 * name, so reserved words work and nothing can be injected.
 */

/* Append `name` ("t" or "schema.t") quoted: "schema"."t". */
int maint_put_relation(struct buf *b, const char *name) DESKDB_MUSTCHECK;

/*
 * The one statement of a maintenance step, e.g.
 *   VACUUM (ANALYZE, INDEX_CLEANUP OFF) "public"."deals"
 *   REINDEX INDEX CONCURRENTLY "public"."idx_deals_state"
 *   CREATE INDEX CONCURRENTLY IF NOT EXISTS "i" ON "t" ("a", "b")
 * Returns 0, or DESKDB_ENOMEM / DESKDB_EBUSY when `b` is full.
 */
int maint_step_sql(const struct config_maint_step *st,
                   struct buf *b) DESKDB_MUSTCHECK;

/* Whether the step leaves an invalid index behind when it fails (a
 * concurrent build): those are looked for and dropped before it runs. */
bool maint_step_builds_concurrently(const struct config_maint_step *st);

/*
 * The query listing invalid leftovers of an earlier failed run of a
 * concurrent step; $1 and $2 are maint_leftover_params().  Each row is
 * (qualified quoted index name, pid of a backend still building it or
 * NULL).
 */
const char *maint_leftover_query(const struct config_maint_step *st);

/* The two text parameters of maint_leftover_query(), borrowed from the
 * step. */
void maint_leftover_params(const struct config_maint_step *st,
                           const char *out[2]);

/*
 * One purge batch:
 *   DELETE FROM t WHERE ctid = ANY (ARRAY(SELECT ctid FROM t
 *     WHERE (<where>) [ORDER BY <order_by>] LIMIT <batch_size>))
 *   AND (<where>)
 * The outer repetition of the condition keeps the statement from ever
 * deleting a row that does not match it, whatever happens to ctids (a
 * concurrent update, partitions sharing ctid values).  `where` keeps its
 * ${run.*} placeholders for sqltext_compile().
 */
int maint_purge_sql(const struct config_job_purge *p,
                    struct buf *b) DESKDB_MUSTCHECK;

#endif

/* SPDX-License-Identifier: MIT */
/* What serve and metrics share: the registry, the pool and the collectors. */
#ifndef DESKDB_CMD_RUNTIME_H
#define DESKDB_CMD_RUNTIME_H

#include <stdint.h>

#include "core/err.h"

struct config;
struct config_pool;
struct metrics;
struct pool;
struct collectors;

struct runtime {
    struct metrics *metrics;
    struct pool *pool;
    struct collectors *collectors; /* NULL when no collector is enabled */
};

/*
 * Create the registry (with the process collector), the pool (`pool_cfg`,
 * or cfg->pool when NULL) and the PostgreSQL collectors.  The database
 * may be down: the pool connects in the background.  `cfg` must outlive
 * the runtime.  Errors: DESKDB_EINVAL, DESKDB_ENOMEM, DESKDB_EIO.
 */
int runtime_open(struct runtime *rt,
                 const struct config *cfg,
                 const struct config_pool *pool_cfg,
                 struct deskdb_err *err) DESKDB_MUSTCHECK;

/* Drain the pool for up to `drain_ms` and free everything. */
void runtime_close(struct runtime *rt, int64_t drain_ms);

#endif

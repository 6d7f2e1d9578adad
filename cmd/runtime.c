/* SPDX-License-Identifier: MIT */
/* What serve and metrics share: the registry, the pool and the collectors. */
#include "cmd/runtime.h"

#include <string.h>

#include "config/config.h"
#include "core/metrics.h"
#include "core/pool.h"
#include "exporter/collectors.h"

int
runtime_open(struct runtime *rt,
             const struct config *cfg,
             const struct config_pool *pool_cfg,
             struct deskdb_err *err)
{
    memset(rt, 0, sizeof(*rt));
    rt->metrics = metrics_create();
    if (rt->metrics == NULL ||
        metrics_add_process_collector(rt->metrics) != DESKDB_OK) {
        err_set(err, DESKDB_ENOMEM, "cannot create the metrics registry");
        goto fail;
    }
    rt->pool = pool_create(&cfg->database,
                           pool_cfg ? pool_cfg : &cfg->pool,
                           rt->metrics,
                           NULL,
                           err);
    if (rt->pool == NULL)
        goto fail;
    if (cfg->collectors.enabled != 0) {
        rt->collectors =
            collectors_create(&cfg->collectors, rt->pool, NULL, err);
        if (rt->collectors == NULL)
            goto fail;
    }
    return DESKDB_OK;
fail:
    runtime_close(rt, 0);
    return err ? err->code : DESKDB_ENOMEM;
}

void
runtime_close(struct runtime *rt, int64_t drain_ms)
{
    collectors_destroy(rt->collectors);
    if (rt->pool != NULL)
        (void)pool_shutdown(rt->pool, drain_ms);
    pool_destroy(rt->pool);
    metrics_destroy(rt->metrics);
    memset(rt, 0, sizeof(*rt));
}

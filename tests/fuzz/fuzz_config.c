/* SPDX-License-Identifier: MIT */
/* Fuzz target: the YAML configuration, its schema and the validators that
 * check-config runs (jobs, alerts), then printing the effective config. */
#include <stdio.h>
#include <stdlib.h>

#include "config/config.h"
#include "exporter/alerts.h"
#include "fuzz.h"
#include "jobs/jobdef.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static FILE *sink;
    struct deskdb_err err = {0};
    struct config *cfg;
    int rc;

    if (sink == NULL && (sink = fopen("/dev/null", "w")) == NULL)
        fuzz_fail("config", "cannot open /dev/null");
    cfg = config_load_buffer("fuzz.yaml", (const char *)data, size, &err);
    if (cfg == NULL) {
        fuzz_check_error("config_load_buffer", err.code, &err);
        return 0;
    }
    /* cmd_validate_config(): the validators of check-config, in order. */
    rc = jobs_check_config(cfg, &err);
    if (rc < 0)
        fuzz_check_error("jobs_check_config", rc, &err);
    if (rc == 0) {
        rc = alerts_validate_config(cfg, &err);
        if (rc < 0)
            fuzz_check_error("alerts_validate_config", rc, &err);
    }
    if (rc == 0 && config_print(cfg, sink) < 0)
        fuzz_fail("config_print", "failed on /dev/null");
    config_destroy(cfg);
    return 0;
}

/* SPDX-License-Identifier: MIT */
/* The import job type, which needs the atomic operations (core/ops). */
#include "jobs/exec.h"

int
exec_import(struct exec_ctx *x, struct deskdb_err *err)
{
    (void)x;
    return err_set(err,
                   DESKDB_EINVAL,
                   "import jobs cannot run: this build has no atomic "
                   "operations (core/ops) to apply the records with");
}

/* SPDX-License-Identifier: MIT */
/* next_sequence: the next value of a dealership's deal or stock counter. */
#include "core/ops_internal.h"

static const char *const names[] = {"deal", "stock", NULL};

static const struct ops_field next_sequence_fields[] = {
    OPS_COMMON_FIELDS,
    {.name = "name", .type = OPS_F_ENUM, .required = true, .choices = names},
    {0},
};

/*
 * A deal number drawn here is used by no deal: among committed deals it
 * leaves a gap unless the caller writes a deal with it.  Stock numbers
 * are what this is for.
 */
static int
next_sequence_run(struct ops_ctx *c, struct deskdb_err *err)
{
    const struct ops_ref refs[] = {{OPS_REF_USER, "actor", c->actor}};
    const char *name = ops_str(c->in, "name");
    long long value = 0;
    int rc;

    rc = ops_check_refs(c, refs, 1, err);
    if (rc == 0)
        rc = ops_sequence_next(c, name, &value, err);
    if (rc == 0)
        rc = ops_audit(
            c,
            "sequence.advanced",
            "sequence",
            NULL,
            c->actor,
            json_pack("{s:s, s:I}", "name", name, "value", (json_int_t)value),
            err);
    if (rc != 0)
        return rc;
    c->result =
        json_pack("{s:s, s:I}", "name", name, "value", (json_int_t)value);
    return c->result != NULL ? 0 : err_set(err, DESKDB_ENOMEM, "out of memory");
}

const struct ops_op ops_op_next_sequence = {
    .name = "next_sequence",
    .fields = next_sequence_fields,
    .run = next_sequence_run,
};

/* SPDX-License-Identifier: MIT */
/* Fuzz target: one NDJSON record of each atomic operation, parsed and
 * validated as `deskdb op` does before any transaction, and its result
 * line for a refused record.  The first byte picks the operation and
 * whether a dealership restriction applies. */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/ops_internal.h"
#include "fuzz.h"

#define FUZZ_DEALERSHIP "00000000-0000-0000-0000-00000000000a"

static size_t
count_ops(void)
{
    size_t n = 0;

    while (ops_at(n) != NULL)
        n++;
    return n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static size_t n_ops;
    struct ops_options opt;
    struct ops_record r;
    const struct ops_op *op;
    json_t *back;
    char *line;
    int rc;

    if (size < 1)
        return 0;
    if (n_ops == 0)
        n_ops = count_ops();
    op = ops_at((size_t)(data[0] & 0x7f) % n_ops);
    memset(&opt, 0, sizeof(opt));
    if (data[0] & 0x80)
        opt.dealership = FUZZ_DEALERSHIP;
    rc = ops_record_prepare(&r, op, &opt, (const char *)data + 1, size - 1, 1);
    if (rc != 0) {
        /* The message reaches the user inside the JSON result line, which
         * escapes what jansson quotes from the input: that line is what
         * must be one line (and valid JSON). */
        if (r.status != OPS_FAILED || r.code == NULL || rc > 0 ||
            r.err.msg[0] == '\0')
            fuzz_fail(ops_name(op), "refused without status, code or message");
        line = ops_record_line(&r);
        if (line == NULL)
            fuzz_fail(ops_name(op), "no result line");
        if (strpbrk(line, "\r\n") != NULL)
            fuzz_fail(ops_name(op), "result line with a line break");
        back = json_loads(line, 0, NULL);
        if (back == NULL)
            fuzz_fail(ops_name(op), "result line is not JSON");
        json_decref(back);
        free(line);
    }
    ops_record_fini(&r);
    return 0;
}

/* SPDX-License-Identifier: MIT */
/* Fuzz target: alert annotation templates, checked and rendered with a
 * fixed label set and value. */
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "exporter/alerts/eval.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct notify_label labels[] = {
        {(char *)"alertname", (char *)"PoolExhausted"},
        {(char *)"datname", (char *)"app"},
        {(char *)"severity", (char *)"critical"},
    };
    char *tmpl = fuzz_strndup(data, size);
    const char *why;
    struct buf out;
    size_t at = 0;

    why = alerts_template_check(tmpl, &at);
    if (why != NULL && at > strlen(tmpl))
        fuzz_fail("alerts_template_check", "offset past the end");
    buf_init(&out, 1 << 20);
    if (alerts_template_render(tmpl, labels, 3, 0.25, &out) != 0)
        fuzz_fail("alerts_template_render", "failed");
    buf_fini(&out);
    free(tmpl);
    return 0;
}

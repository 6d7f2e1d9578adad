/* SPDX-License-Identifier: MIT */
/* Fuzz target: migration SQL splitting and the statement helpers that
 * read its output (first word, keywords, CREATE INDEX CONCURRENTLY). */
#include <stdlib.h>

#include "core/sqlsplit.h"
#include "fuzz.h"

static void
inspect(const char *text, const struct sql_statement *s, size_t len)
{
    char word[64], index[64], table[256];

    if (s->off > len || s->len > len - s->off || s->len == 0)
        fuzz_fail("sql_split", "statement outside the text");
    sql_first_word(text + s->off, s->len, word, sizeof(word));
    (void)sql_has_word(text + s->off, s->len, "concurrently");
    (void)sql_match_create_index_concurrently(text + s->off,
                                              s->len,
                                              index,
                                              sizeof(index),
                                              table,
                                              sizeof(table));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_strndup(data, size);
    struct deskdb_err err = {0};
    struct sql_statement *stmts = NULL;
    size_t n = 0;
    int rc;

    rc = sql_split(text, size, &stmts, &n, &err);
    if (rc < 0)
        fuzz_check_error("sql_split", rc, &err);
    else
        for (size_t i = 0; i < n; i++)
            inspect(text, &stmts[i], size);
    free(stmts);
    free(text);
    return 0;
}

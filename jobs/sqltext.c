/* SPDX-License-Identifier: MIT */
/* Job SQL text: placeholders to bind parameters, and statement checks by
 * token scan (never by substring search). */
#include "jobs/sqltext.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/sqlsplit.h"

#define PLACEHOLDER_MAX 64 /* longest ${...} looked at */
#define FIRST_WORDS     8  /* words of a statement the checks look at */
#define WORD_MAX        32

static const struct {
    const char *text;
    enum sqltext_value value;
} placeholders[] = {
    {"${run.id}", SQLTEXT_RUN_ID},
    {"${run.scheduled_for}", SQLTEXT_SCHEDULED_FOR},
};

#define N_PLACEHOLDERS (sizeof(placeholders) / sizeof(placeholders[0]))

/* The line of byte `off` in `text`, 1-based. */
static int
line_of(const char *text, size_t off)
{
    int line = 1;

    for (size_t i = 0; i < off && text[i] != '\0'; i++)
        line += text[i] == '\n';
    return line;
}

static bool
multiline(const char *text)
{
    return strchr(text, '\n') != NULL;
}

/* "" or " (line N)" for messages about multi-line text. */
static const char *
where_in(const char *text, size_t off, char buf[24])
{
    buf[0] = '\0';
    if (multiline(text))
        snprintf(buf, 24, " (line %d)", line_of(text, off));
    return buf;
}

/* The placeholder at text[off] ("${..."), or -1 with `err` set. */
static int
match_placeholder(const char *text, size_t off, struct deskdb_err *err)
{
    const char *close;
    char where[24];

    for (size_t i = 0; i < N_PLACEHOLDERS; i++) {
        size_t n = strlen(placeholders[i].text);

        if (strncmp(text + off, placeholders[i].text, n) == 0)
            return (int)i;
    }
    close = strchr(text + off, '}');
    if (close != NULL && close - (text + off) < PLACEHOLDER_MAX)
        return err_set(err,
                       DESKDB_EINVAL,
                       "unknown placeholder %.*s%s; only ${run.id} and "
                       "${run.scheduled_for} exist",
                       (int)(close - (text + off) + 1),
                       text + off,
                       where_in(text, off, where));
    return err_set(err,
                   DESKDB_EINVAL,
                   "unterminated placeholder '${'%s",
                   where_in(text, off, where));
}

/* A placeholder written inside quotes would never be replaced. */
static int
check_quoted(const char *text,
             const struct sql_token *t,
             struct deskdb_err *err)
{
    char where[24];

    for (size_t i = 0; i + 1 < t->len; i++) {
        if (text[t->off + i] == '$' && text[t->off + i + 1] == '{')
            return err_set(err,
                           DESKDB_EINVAL,
                           "'${' inside a quoted string or identifier%s: "
                           "placeholders are bound as parameters, write "
                           "them outside quotes (e.g. ${run.id}::bigint)",
                           where_in(text, t->off, where));
    }
    return DESKDB_OK;
}

/* The $n of placeholder `which`, allocating the next number. */
static int
param_number(struct sqltext *out, enum sqltext_value v)
{
    for (int i = 0; i < out->nparams; i++) {
        if (out->values[i] == v)
            return i + 1;
    }
    out->values[out->nparams++] = v;
    return out->nparams;
}

static int
compile_tokens(const char *text,
               struct sqltext *out,
               struct buf *b,
               struct deskdb_err *err)
{
    struct sql_lexer lx;
    struct sql_token t;
    size_t copied = 0, skip_to = 0, len = strlen(text);
    char where[24];
    int rc, i;

    sql_lexer_init(&lx, text, len);
    for (;;) {
        rc = sql_lexer_next(&lx, &t, err);
        if (rc != DESKDB_OK || t.kind == SQL_TOKEN_END)
            break;
        if (t.off < skip_to)
            continue;
        if (t.kind == SQL_TOKEN_PARAM)
            return err_set(err,
                           DESKDB_EINVAL,
                           "parameter %.*s%s: job SQL takes no $n "
                           "parameters; use ${run.id} or "
                           "${run.scheduled_for}",
                           (int)t.len,
                           text + t.off,
                           where_in(text, t.off, where));
        if (t.kind == SQL_TOKEN_STRING || t.kind == SQL_TOKEN_DOLLAR ||
            t.kind == SQL_TOKEN_QUOTED_IDENT) {
            rc = check_quoted(text, &t, err);
            if (rc != DESKDB_OK)
                return rc;
            continue;
        }
        if (t.kind != SQL_TOKEN_PUNCT || text[t.off] != '$' ||
            text[t.off + 1] != '{')
            continue;
        i = match_placeholder(text, t.off, err);
        if (i < 0)
            return i;
        if (buf_append(b, text + copied, t.off - copied) != 0 ||
            buf_printf(b, "$%d", param_number(out, placeholders[i].value)))
            return err_set(err, DESKDB_ENOMEM, "out of memory");
        copied = skip_to = t.off + strlen(placeholders[i].text);
    }
    if (rc != DESKDB_OK)
        return rc;
    if (buf_append(b, text + copied, len - copied) != 0)
        return err_set(err, DESKDB_ENOMEM, "out of memory");
    return DESKDB_OK;
}

int
sqltext_compile(const char *text, struct sqltext *out, struct deskdb_err *err)
{
    struct buf b;
    int rc;

    memset(out, 0, sizeof(*out));
    buf_init(&b, strlen(text) + 64);
    rc = compile_tokens(text, out, &b, err);
    if (rc == DESKDB_OK && b.data == NULL && buf_puts(&b, "") != 0)
        rc = err_set(err, DESKDB_ENOMEM, "out of memory");
    if (rc != DESKDB_OK) {
        buf_fini(&b);
        memset(out, 0, sizeof(*out));
        return rc;
    }
    out->sql = buf_take(&b);
    return DESKDB_OK;
}

void
sqltext_fini(struct sqltext *t)
{
    if (t == NULL)
        return;
    free(t->sql);
    memset(t, 0, sizeof(*t));
}

void
sqltext_params(const struct sqltext *t,
               const char *run_id,
               const char *scheduled_for,
               const char *out[SQLTEXT_MAX_PARAMS])
{
    for (int i = 0; i < SQLTEXT_MAX_PARAMS; i++)
        out[i] = NULL;
    for (int i = 0; i < t->nparams; i++)
        out[i] = t->values[i] == SQLTEXT_RUN_ID ? run_id : scheduled_for;
}

int
sqltext_check_single(const char *text, const char *what, struct deskdb_err *err)
{
    struct sql_statement *st = NULL;
    size_t n = 0;
    int rc;

    rc = sql_split(text, strlen(text), &st, &n, err);
    if (rc != DESKDB_OK) {
        err_prefix(err, "%s", what);
        return rc;
    }
    free(st);
    if (n == 1)
        return DESKDB_OK;
    if (n == 0)
        return err_set(err, DESKDB_EINVAL, "%s: no SQL statement", what);
    return err_set(err,
                   DESKDB_EINVAL,
                   "%s: %zu statements; write one statement (several in "
                   "one string would run as one implicit transaction)",
                   what,
                   n);
}

/* The first FIRST_WORDS word tokens of a statement, lower-cased. */
struct words {
    char w[FIRST_WORDS][WORD_MAX];
    int n; /* filled entries */
};

static void
scan_words(const char *stmt, size_t len, struct words *ws)
{
    struct sql_lexer lx;
    struct sql_token t;

    memset(ws, 0, sizeof(*ws));
    sql_lexer_init(&lx, stmt, len);
    while (sql_lexer_next(&lx, &t, NULL) == DESKDB_OK &&
           t.kind != SQL_TOKEN_END) {
        if (t.kind != SQL_TOKEN_WORD)
            continue;
        if (ws->n >= FIRST_WORDS || t.len >= WORD_MAX)
            continue;
        for (size_t i = 0; i < t.len; i++) {
            char c = stmt[t.off + i];
            ws->w[ws->n][i] =
                (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
        }
        ws->w[ws->n][t.len] = '\0';
        ws->n++;
    }
}

static bool
word_is(const struct words *ws, int i, const char *w)
{
    return i < ws->n && strcmp(ws->w[i], w) == 0;
}

/* CREATE [UNIQUE] INDEX CONCURRENTLY / DROP INDEX CONCURRENTLY */
static const char *
index_concurrently(const struct words *ws)
{
    int i = 1;

    if (word_is(ws, 0, "create") && word_is(ws, 1, "unique"))
        i = 2;
    if (!word_is(ws, i, "index") || !word_is(ws, i + 1, "concurrently"))
        return NULL;
    return word_is(ws, 0, "create") ? "CREATE INDEX CONCURRENTLY"
           : word_is(ws, 0, "drop") ? "DROP INDEX CONCURRENTLY"
                                    : NULL;
}

/* REINDEX [(options)] {INDEX|TABLE|SCHEMA|DATABASE|SYSTEM} [CONCURRENTLY] */
static const char *
reindex(const char *stmt, size_t len, const struct words *ws)
{
    if (sql_has_word(stmt, len, "concurrently"))
        return "REINDEX CONCURRENTLY";
    for (int i = 1; i < ws->n; i++) {
        if (strcmp(ws->w[i], "index") == 0 || strcmp(ws->w[i], "table") == 0)
            return NULL;
        if (strcmp(ws->w[i], "database") == 0)
            return "REINDEX DATABASE";
        if (strcmp(ws->w[i], "system") == 0)
            return "REINDEX SYSTEM";
        if (strcmp(ws->w[i], "schema") == 0)
            return "REINDEX SCHEMA";
    }
    return NULL;
}

/* CLUSTER without a table (every clustered table, one transaction each):
 * nothing after CLUSTER but an option list in parentheses or VERBOSE. */
static const char *
cluster(const char *stmt, size_t len)
{
    struct sql_lexer lx;
    struct sql_token t;
    int depth = 0;

    sql_lexer_init(&lx, stmt, len);
    if (sql_lexer_next(&lx, &t, NULL) != DESKDB_OK)
        return NULL;
    while (sql_lexer_next(&lx, &t, NULL) == DESKDB_OK) {
        if (t.kind == SQL_TOKEN_END)
            return "CLUSTER without a table";
        if (t.kind == SQL_TOKEN_PUNCT && stmt[t.off] == '(')
            depth++;
        else if (t.kind == SQL_TOKEN_PUNCT && stmt[t.off] == ')')
            depth--;
        else if (depth == 0 && !sql_token_is(stmt, &t, "verbose"))
            return NULL;
    }
    return NULL;
}

static const char *
create_drop(const struct words *ws)
{
    static const char *const objects[][2] = {
        {"database", "DATABASE"},
        {"tablespace", "TABLESPACE"},
        {"subscription", "SUBSCRIPTION"},
    };
    bool create = word_is(ws, 0, "create");

    for (size_t i = 0; i < sizeof(objects) / sizeof(objects[0]); i++) {
        if (word_is(ws, 1, objects[i][0]))
            return create ? (i == 0   ? "CREATE DATABASE"
                             : i == 1 ? "CREATE TABLESPACE"
                                      : "CREATE SUBSCRIPTION")
                          : (i == 0   ? "DROP DATABASE"
                             : i == 1 ? "DROP TABLESPACE"
                                      : "DROP SUBSCRIPTION");
    }
    return NULL;
}

const char *
sqltext_non_transactional(const char *stmt, size_t len)
{
    struct words ws;
    const char *why;

    scan_words(stmt, len, &ws);
    if (word_is(&ws, 0, "vacuum"))
        return "VACUUM";
    if (word_is(&ws, 0, "reindex"))
        return reindex(stmt, len, &ws);
    if (word_is(&ws, 0, "cluster"))
        return cluster(stmt, len);
    if (word_is(&ws, 0, "discard") && word_is(&ws, 1, "all"))
        return "DISCARD ALL";
    if (word_is(&ws, 0, "alter") && word_is(&ws, 1, "system"))
        return "ALTER SYSTEM";
    if (word_is(&ws, 0, "alter") && sql_has_word(stmt, len, "detach") &&
        sql_has_word(stmt, len, "concurrently"))
        return "DETACH PARTITION CONCURRENTLY";
    if (word_is(&ws, 0, "create") || word_is(&ws, 0, "drop")) {
        why = index_concurrently(&ws);
        return why != NULL ? why : create_drop(&ws);
    }
    return NULL;
}

bool
sqltext_is_transaction_control(const char *stmt, size_t len)
{
    static const char *const first[] = {"begin",
                                        "start",
                                        "commit",
                                        "end",
                                        "rollback",
                                        "abort",
                                        "savepoint",
                                        "release",
                                        NULL};
    struct words ws;

    scan_words(stmt, len, &ws);
    for (int i = 0; first[i] != NULL; i++) {
        if (word_is(&ws, 0, first[i]))
            return true;
    }
    return word_is(&ws, 0, "prepare") && word_is(&ws, 1, "transaction");
}

bool
sqltext_is_client_copy(const char *stmt, size_t len)
{
    struct words ws;

    scan_words(stmt, len, &ws);
    return word_is(&ws, 0, "copy") && (sql_has_word(stmt, len, "stdin") ||
                                       sql_has_word(stmt, len, "stdout"));
}

int
sqltext_check_fragment(const char *text,
                       const char *what,
                       struct deskdb_err *err)
{
    struct sql_lexer lx;
    struct sql_token t;
    int depth = 0, rc;
    char where[24];

    sql_lexer_init(&lx, text, strlen(text));
    for (;;) {
        rc = sql_lexer_next(&lx, &t, err);
        if (rc != DESKDB_OK) {
            err_prefix(err, "%s", what);
            return rc;
        }
        if (t.kind == SQL_TOKEN_END)
            break;
        if (t.kind != SQL_TOKEN_PUNCT)
            continue;
        if (text[t.off] == ';')
            return err_set(err,
                           DESKDB_EINVAL,
                           "%s: ';'%s: this is a fragment of deskdb's own "
                           "statement, not a statement",
                           what,
                           where_in(text, t.off, where));
        depth += text[t.off] == '(';
        depth -= text[t.off] == ')';
        if (depth < 0)
            break;
    }
    if (depth != 0)
        return err_set(err, DESKDB_EINVAL, "%s: unbalanced parentheses", what);
    return DESKDB_OK;
}

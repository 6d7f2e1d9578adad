/* SPDX-License-Identifier: MIT */
/* A lexer that splits SQL scripts into statements the way psql does. */
#include "core/sqlsplit.h"

#include <stdlib.h>
#include <string.h>

/* PostgreSQL's NAMEDATALEN - 1: longer identifiers are truncated. */
#define PG_IDENT_MAX 63

static bool
is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' ||
           c == '\v';
}

static bool
is_ident_start(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
           c >= 0x80;
}

static bool
is_ident_cont(unsigned char c)
{
    return is_ident_start(c) || (c >= '0' && c <= '9') || c == '$';
}

static bool
is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static unsigned char
at(const struct sql_lexer *lx, size_t i)
{
    return i < lx->len ? (unsigned char)lx->text[i] : '\0';
}

/* Advance one byte, counting lines. */
static void
step(struct sql_lexer *lx)
{
    if (lx->text[lx->pos] == '\n')
        lx->line++;
    lx->pos++;
}

void
sql_lexer_init(struct sql_lexer *lx, const char *text, size_t len)
{
    lx->text = text;
    lx->len = len;
    lx->pos = 0;
    lx->line = 1;
}

/* Skip whitespace and comments; fails on an unterminated block comment. */
static int
skip_blank(struct sql_lexer *lx, struct deskdb_err *err)
{
    while (lx->pos < lx->len) {
        unsigned char c = at(lx, lx->pos);

        if (is_space(c)) {
            step(lx);
        } else if (c == '-' && at(lx, lx->pos + 1) == '-') {
            while (lx->pos < lx->len && lx->text[lx->pos] != '\n')
                step(lx);
        } else if (c == '/' && at(lx, lx->pos + 1) == '*') {
            int start = lx->line;
            int depth = 0;

            /* Block comments nest in PostgreSQL (unlike the standard). */
            do {
                if (lx->pos + 1 >= lx->len)
                    return err_set(err,
                                   DESKDB_EINVAL,
                                   "line %d: unterminated /* comment",
                                   start);
                if (at(lx, lx->pos) == '/' && at(lx, lx->pos + 1) == '*') {
                    depth++;
                    lx->pos += 2;
                } else if (at(lx, lx->pos) == '*' &&
                           at(lx, lx->pos + 1) == '/') {
                    depth--;
                    lx->pos += 2;
                } else {
                    step(lx);
                }
            } while (depth > 0);
        } else {
            break;
        }
    }
    return DESKDB_OK;
}

/* A quoted run closed by `q`; a doubled `q` is an escaped one, and with
 * `backslash` a backslash escapes the next byte (E'...' strings). */
static int
lex_quoted(struct sql_lexer *lx, char q, bool backslash, struct deskdb_err *err)
{
    int start = lx->line;

    step(lx); /* the opening quote */
    while (lx->pos < lx->len) {
        char c = lx->text[lx->pos];

        if (backslash && c == '\\' && lx->pos + 1 < lx->len) {
            step(lx);
            step(lx);
        } else if (c == q && at(lx, lx->pos + 1) == (unsigned char)q) {
            lx->pos += 2;
        } else if (c == q) {
            lx->pos++;
            return DESKDB_OK;
        } else {
            step(lx);
        }
    }
    return err_set(err,
                   DESKDB_EINVAL,
                   "line %d: unterminated %s",
                   start,
                   q == '"' ? "quoted identifier" : "string literal");
}

/* Length of a dollar-quote delimiter ($$ or $tag$) at `pos`, or 0. */
static size_t
dollar_tag_len(const struct sql_lexer *lx, size_t pos)
{
    size_t i = pos + 1;

    if (at(lx, i) == '$')
        return 2;
    if (!is_ident_start(at(lx, i)))
        return 0;
    while (i < lx->len && is_ident_cont(at(lx, i)) && at(lx, i) != '$')
        i++;
    return at(lx, i) == '$' ? i + 1 - pos : 0;
}

static int
lex_dollar(struct sql_lexer *lx, size_t tag_len, struct deskdb_err *err)
{
    const char *tag = lx->text + lx->pos;
    int start = lx->line;

    lx->pos += tag_len;
    while (lx->pos < lx->len) {
        if (lx->text[lx->pos] == '$' && lx->len - lx->pos >= tag_len &&
            memcmp(lx->text + lx->pos, tag, tag_len) == 0) {
            lx->pos += tag_len;
            return DESKDB_OK;
        }
        step(lx);
    }
    return err_set(err,
                   DESKDB_EINVAL,
                   "line %d: unterminated dollar-quoted string %.*s",
                   start,
                   (int)tag_len,
                   tag);
}

/* A word, or the prefix of a string or identifier (E'', B'', U&"" ...). */
static int
lex_word(struct sql_lexer *lx, struct sql_token *tok, struct deskdb_err *err)
{
    unsigned char c = at(lx, lx->pos);
    unsigned char next = at(lx, lx->pos + 1);

    if (next == '\'' && strchr("EeBbXxNn", c) != NULL) {
        tok->kind = SQL_TOKEN_STRING;
        lx->pos++;
        return lex_quoted(lx, '\'', c == 'E' || c == 'e', err);
    }
    if ((c == 'U' || c == 'u') && next == '&' &&
        (at(lx, lx->pos + 2) == '\'' || at(lx, lx->pos + 2) == '"')) {
        char q = (char)at(lx, lx->pos + 2);

        tok->kind = q == '"' ? SQL_TOKEN_QUOTED_IDENT : SQL_TOKEN_STRING;
        lx->pos += 2;
        return lex_quoted(lx, q, false, err);
    }
    tok->kind = SQL_TOKEN_WORD;
    while (lx->pos < lx->len && is_ident_cont(at(lx, lx->pos)))
        lx->pos++;
    return DESKDB_OK;
}

int
sql_lexer_next(struct sql_lexer *lx,
               struct sql_token *tok,
               struct deskdb_err *err)
{
    unsigned char c;
    size_t tag;
    int rc = skip_blank(lx, err);

    if (rc != DESKDB_OK)
        return rc;
    tok->off = lx->pos;
    tok->line = lx->line;
    tok->len = 0;
    if (lx->pos >= lx->len) {
        tok->kind = SQL_TOKEN_END;
        return DESKDB_OK;
    }
    c = at(lx, lx->pos);
    if (is_ident_start(c)) {
        rc = lex_word(lx, tok, err);
    } else if (c == '\'') {
        tok->kind = SQL_TOKEN_STRING;
        rc = lex_quoted(lx, '\'', false, err);
    } else if (c == '"') {
        tok->kind = SQL_TOKEN_QUOTED_IDENT;
        rc = lex_quoted(lx, '"', false, err);
    } else if (c == '$' && (tag = dollar_tag_len(lx, lx->pos)) > 0) {
        tok->kind = SQL_TOKEN_DOLLAR;
        rc = lex_dollar(lx, tag, err);
    } else if (c == '$' && is_digit(at(lx, lx->pos + 1))) {
        tok->kind = SQL_TOKEN_PARAM;
        for (lx->pos++; is_digit(at(lx, lx->pos)); lx->pos++)
            ;
    } else if (is_digit(c)) {
        tok->kind = SQL_TOKEN_NUMBER;
        /* Digits, '.', exponents, 0x prefixes and '_' separators. */
        while (lx->pos < lx->len &&
               (is_ident_cont(at(lx, lx->pos)) || at(lx, lx->pos) == '.') &&
               at(lx, lx->pos) != '$')
            lx->pos++;
    } else {
        tok->kind = SQL_TOKEN_PUNCT;
        step(lx);
    }
    tok->len = lx->pos - tok->off;
    return rc;
}

bool
sql_token_is(const char *text, const struct sql_token *tok, const char *word)
{
    size_t i;

    if (tok->kind != SQL_TOKEN_WORD || strlen(word) != tok->len)
        return false;
    for (i = 0; i < tok->len; i++) {
        char a = text[tok->off + i];

        if (a >= 'A' && a <= 'Z')
            a = (char)(a - 'A' + 'a');
        if (a != word[i])
            return false;
    }
    return true;
}

/*
 * Tracks what decides whether a semicolon ends the statement: parentheses
 * and, in CREATE [OR REPLACE] FUNCTION/PROCEDURE, BEGIN ATOMIC ... END
 * bodies, whose CASE ... END pairs nest.
 */
struct split_state {
    int paren;
    int begin;
    int nwords;
    char prefix[4]; /* first words: c(reate) o(r) r(eplace) f(unction) */
};

static char
prefix_code(const char *text, const struct sql_token *t)
{
    if (sql_token_is(text, t, "create"))
        return 'c';
    if (sql_token_is(text, t, "or"))
        return 'o';
    if (sql_token_is(text, t, "replace"))
        return 'r';
    if (sql_token_is(text, t, "function") || sql_token_is(text, t, "procedure"))
        return 'f';
    return 'x';
}

static bool
creates_routine(const struct split_state *st)
{
    const char *p = st->prefix;

    return p[0] == 'c' &&
           (p[1] == 'f' || (p[1] == 'o' && p[2] == 'r' && p[3] == 'f'));
}

static void
track_token(struct split_state *st, const char *text, const struct sql_token *t)
{
    if (t->kind == SQL_TOKEN_PUNCT && text[t->off] == '(') {
        st->paren++;
        return;
    }
    if (t->kind == SQL_TOKEN_PUNCT && text[t->off] == ')') {
        if (st->paren > 0)
            st->paren--;
        return;
    }
    if (t->kind != SQL_TOKEN_WORD)
        return;
    if (st->nwords < (int)sizeof(st->prefix))
        st->prefix[st->nwords] = prefix_code(text, t);
    st->nwords++;
    if (!creates_routine(st) || st->paren > 0)
        return;
    if (sql_token_is(text, t, "begin"))
        st->begin++;
    else if (sql_token_is(text, t, "case") && st->begin > 0)
        st->begin++;
    else if (sql_token_is(text, t, "end") && st->begin > 0)
        st->begin--;
}

static int
push_statement(struct sql_statement **arr,
               size_t *n,
               size_t *alloc,
               const struct sql_statement *s)
{
    if (*n == *alloc) {
        size_t want = *alloc ? *alloc * 2 : 16;
        struct sql_statement *p = realloc(*arr, want * sizeof(*p));

        if (p == NULL)
            return DESKDB_ENOMEM;
        *arr = p;
        *alloc = want;
    }
    (*arr)[(*n)++] = *s;
    return DESKDB_OK;
}

int
sql_split(const char *text,
          size_t len,
          struct sql_statement **out,
          size_t *n,
          struct deskdb_err *err)
{
    struct sql_lexer lx;
    struct sql_token t;
    struct split_state st = {0};
    struct sql_statement cur = {0};
    size_t alloc = 0;
    bool open = false; /* a statement has started */
    int rc;

    *out = NULL;
    *n = 0;
    sql_lexer_init(&lx, text, len);
    for (;;) {
        rc = sql_lexer_next(&lx, &t, err);
        if (rc != DESKDB_OK)
            goto fail;
        if (t.kind == SQL_TOKEN_END ||
            (t.kind == SQL_TOKEN_PUNCT && text[t.off] == ';' && st.paren == 0 &&
             st.begin == 0)) {
            if (open) {
                rc = push_statement(out, n, &alloc, &cur);
                if (rc != DESKDB_OK) {
                    err_set(err, rc, "out of memory splitting statements");
                    goto fail;
                }
            }
            if (t.kind == SQL_TOKEN_END)
                return DESKDB_OK;
            open = false;
            memset(&st, 0, sizeof(st));
            continue;
        }
        if (!open) {
            open = true;
            cur.off = t.off;
            cur.line = t.line;
        }
        cur.len = t.off + t.len - cur.off;
        track_token(&st, text, &t);
    }
fail:
    free(*out);
    *out = NULL;
    *n = 0;
    return rc;
}

void
sql_first_word(const char *stmt, size_t len, char *out, size_t size)
{
    struct sql_lexer lx;
    struct sql_token t;
    size_t i;

    out[0] = '\0';
    sql_lexer_init(&lx, stmt, len);
    if (sql_lexer_next(&lx, &t, NULL) != DESKDB_OK ||
        t.kind != SQL_TOKEN_WORD || t.len >= size)
        return;
    for (i = 0; i < t.len; i++) {
        char c = stmt[t.off + i];

        out[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
    }
    out[t.len] = '\0';
}

bool
sql_has_word(const char *stmt, size_t len, const char *word)
{
    struct sql_lexer lx;
    struct sql_token t;

    sql_lexer_init(&lx, stmt, len);
    while (sql_lexer_next(&lx, &t, NULL) == DESKDB_OK &&
           t.kind != SQL_TOKEN_END) {
        if (sql_token_is(stmt, &t, word))
            return true;
    }
    return false;
}

/* Copy an identifier token as PostgreSQL stores it: quotes removed ("" is
 * a quote), unquoted ASCII folded to lower case, clipped to 63 bytes on a
 * UTF-8 character boundary. */
static bool
copy_ident(const char *text, const struct sql_token *t, char *out, size_t size)
{
    char tmp[PG_IDENT_MAX + 1];
    size_t i, first, last, o = 0;

    if (t->kind == SQL_TOKEN_WORD) {
        first = t->off;
        last = t->off + t->len;
    } else if (t->kind == SQL_TOKEN_QUOTED_IDENT && text[t->off] == '"') {
        first = t->off + 1;
        last = t->off + t->len - 1;
    } else {
        return false; /* U&"..." escapes are not decoded */
    }
    /* Keep one byte past the limit to see whether the cut splits a
     * multi-byte character. */
    for (i = first; i < last && o < sizeof(tmp); i++) {
        char c = text[i];

        if (t->kind == SQL_TOKEN_WORD && c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        else if (c == '"')
            i++; /* the second quote of a doubled pair */
        tmp[o++] = c;
    }
    if (o > PG_IDENT_MAX) {
        o = PG_IDENT_MAX;
        while (o > 0 && ((unsigned char)tmp[o] & 0xc0) == 0x80)
            o--;
    }
    if (o == 0 || o >= size)
        return false;
    memcpy(out, tmp, o);
    out[o] = '\0';
    return true;
}

static bool
next_is(struct sql_lexer *lx, struct sql_token *t, const char *word)
{
    return sql_lexer_next(lx, t, NULL) == DESKDB_OK &&
           sql_token_is(lx->text, t, word);
}

static bool
is_ident_token(const struct sql_token *t)
{
    return t->kind == SQL_TOKEN_WORD || t->kind == SQL_TOKEN_QUOTED_IDENT;
}

/* Copy "ident[.ident[.ident]]" as written, starting at token `t`. */
static bool
copy_qualified(struct sql_lexer *lx,
               struct sql_token *t,
               char *out,
               size_t size)
{
    size_t start = t->off;
    size_t end = t->off + t->len;
    struct sql_token dot;

    if (!is_ident_token(t))
        return false;
    for (;;) {
        struct sql_lexer save = *lx;

        if (sql_lexer_next(lx, &dot, NULL) != DESKDB_OK ||
            dot.kind != SQL_TOKEN_PUNCT || lx->text[dot.off] != '.') {
            *lx = save;
            break;
        }
        if (sql_lexer_next(lx, t, NULL) != DESKDB_OK || !is_ident_token(t))
            return false;
        end = t->off + t->len;
    }
    if (end - start >= size)
        return false;
    memcpy(out, lx->text + start, end - start);
    out[end - start] = '\0';
    return true;
}

bool
sql_match_create_index_concurrently(const char *stmt,
                                    size_t len,
                                    char *index,
                                    size_t index_size,
                                    char *table,
                                    size_t table_size)
{
    struct sql_lexer lx;
    struct sql_token t;

    sql_lexer_init(&lx, stmt, len);
    if (!next_is(&lx, &t, "create") ||
        sql_lexer_next(&lx, &t, NULL) != DESKDB_OK)
        return false;
    if (sql_token_is(stmt, &t, "unique") &&
        sql_lexer_next(&lx, &t, NULL) != DESKDB_OK)
        return false;
    if (!sql_token_is(stmt, &t, "index") || !next_is(&lx, &t, "concurrently"))
        return false;
    if (sql_lexer_next(&lx, &t, NULL) != DESKDB_OK)
        return false;
    if (sql_token_is(stmt, &t, "if")) {
        if (!next_is(&lx, &t, "not") || !next_is(&lx, &t, "exists") ||
            sql_lexer_next(&lx, &t, NULL) != DESKDB_OK)
            return false;
    }
    if (sql_token_is(stmt, &t, "on") ||
        !copy_ident(stmt, &t, index, index_size))
        return false; /* unnamed: PostgreSQL picks the name */
    if (!next_is(&lx, &t, "on") || sql_lexer_next(&lx, &t, NULL) != DESKDB_OK)
        return false;
    if (sql_token_is(stmt, &t, "only") &&
        sql_lexer_next(&lx, &t, NULL) != DESKDB_OK)
        return false;
    return copy_qualified(&lx, &t, table, table_size);
}

/* SPDX-License-Identifier: MIT */
/* A lexer that splits SQL scripts into statements the way psql does. */
#ifndef DESKDB_CORE_SQLSPLIT_H
#define DESKDB_CORE_SQLSPLIT_H

#include <stdbool.h>
#include <stddef.h>

#include "core/err.h"

/*
 * The lexer knows what can hide a semicolon in PostgreSQL's SQL: string
 * literals ('...', E'...' with backslash escapes, B/X/N/U& prefixes),
 * quoted identifiers ("..." and U&"..."), dollar quotes ($$...$$,
 * $tag$...$tag$), line comments (--) and nested block comments.  It
 * assumes standard_conforming_strings = on (the default since 9.1): in a
 * plain '...' literal a backslash is an ordinary character.
 */
enum sql_token_kind {
    SQL_TOKEN_END,          /* end of input */
    SQL_TOKEN_WORD,         /* keyword or unquoted identifier */
    SQL_TOKEN_QUOTED_IDENT, /* "..." or U&"..." */
    SQL_TOKEN_STRING,       /* '...' with any prefix */
    SQL_TOKEN_DOLLAR,       /* $tag$...$tag$ */
    SQL_TOKEN_NUMBER,
    SQL_TOKEN_PARAM, /* $1 */
    SQL_TOKEN_PUNCT, /* one character of operator or punctuation */
};

struct sql_token {
    enum sql_token_kind kind;
    size_t off; /* byte offset of the token in the text */
    size_t len;
    int line; /* 1-based line of its first byte */
};

struct sql_lexer {
    const char *text;
    size_t len;
    size_t pos;
    int line;
};

void sql_lexer_init(struct sql_lexer *lx, const char *text, size_t len);

/*
 * Read the next token, skipping whitespace and comments.  Returns 0 (kind
 * SQL_TOKEN_END at the end of the text) or DESKDB_EINVAL for an
 * unterminated quote, dollar quote or comment, with the line it started on.
 */
int sql_lexer_next(struct sql_lexer *lx,
                   struct sql_token *tok,
                   struct deskdb_err *err) DESKDB_MUSTCHECK;

/* Whether `tok` is the word `word` (ASCII, case-insensitive). */
bool
sql_token_is(const char *text, const struct sql_token *tok, const char *word);

/* One statement of a script: its text runs from its first token to its
 * last token, without the terminating semicolon or surrounding comments. */
struct sql_statement {
    size_t off;
    size_t len;
    int line; /* line of the first token */
};

/*
 * Split `text` into statements at semicolons outside quotes, comments,
 * parentheses and the BEGIN ATOMIC ... END body of CREATE FUNCTION or
 * PROCEDURE (psql's rules).  Empty statements are dropped.  On success
 * `*out` is a malloc'ed array of `*n` statements (NULL when 0) that the
 * caller frees.  Errors: DESKDB_EINVAL (unterminated construct),
 * DESKDB_ENOMEM.
 */
int sql_split(const char *text,
              size_t len,
              struct sql_statement **out,
              size_t *n,
              struct deskdb_err *err) DESKDB_MUSTCHECK;

/* The first word of a statement, lower-cased, into `out` ("" if the
 * statement does not start with a word). */
void sql_first_word(const char *stmt, size_t len, char *out, size_t size);

/* Whether the statement contains `word` as a keyword token, outside
 * literals, identifiers in quotes and comments. */
bool sql_has_word(const char *stmt, size_t len, const char *word);

/*
 * Recognise "CREATE [UNIQUE] INDEX CONCURRENTLY [IF NOT EXISTS] name ON
 * [ONLY] table ...".  On a match with a named index, write the index name
 * as PostgreSQL stores it (unquoted names folded to lower case, quotes
 * removed, clipped to 63 bytes) and the table name as written (possibly
 * schema-qualified and quoted, suitable for to_regclass()), and return
 * true.  Both outputs are NUL-terminated; false if they do not fit.
 */
bool sql_match_create_index_concurrently(const char *stmt,
                                         size_t len,
                                         char *index,
                                         size_t index_size,
                                         char *table,
                                         size_t table_size);

#endif

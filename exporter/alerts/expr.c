/* SPDX-License-Identifier: MIT */
/* The rule expression parser: selectors, rate/increase, aggregations and
 * one comparison, with the byte offset of every error. */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config/config.h"
#include "exporter/alerts/expr_internal.h"

struct parser {
    const char *s;
    size_t pos;
    size_t err_pos;
    struct deskdb_err *err;
};

static const char *const agg_names[] = {"sum", "min", "max", "avg", "count"};
static const char *const fn_names[] = {"rate", "increase"};

static int fail(struct parser *p, size_t at, const char *fmt, ...)
    DESKDB_PRINTF(3, 4);

static int
fail(struct parser *p, size_t at, const char *fmt, ...)
{
    va_list ap;
    char msg[400];

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    p->err_pos = at;
    return err_set(p->err, DESKDB_EINVAL, "%s", msg);
}

static int
oom(struct parser *p)
{
    p->err_pos = p->pos;
    return err_set(p->err, DESKDB_ENOMEM, "out of memory");
}

static void
skip_ws(struct parser *p)
{
    while (p->s[p->pos] != '\0' && isspace((unsigned char)p->s[p->pos]))
        p->pos++;
}

static char
peek(struct parser *p)
{
    skip_ws(p);
    return p->s[p->pos];
}

/* What is at `at`, for messages: a quoted character or "end of input". */
static const char *
what(const struct parser *p, size_t at, char buf[16])
{
    unsigned char c = (unsigned char)p->s[at];

    if (c == '\0')
        return "end of input";
    if (isprint(c))
        snprintf(buf, 16, "'%c'", c);
    else
        snprintf(buf, 16, "byte 0x%02x", c);
    return buf;
}

static int
expect(struct parser *p, char c, const char *context)
{
    char b[16];

    if (peek(p) == c) {
        p->pos++;
        return DESKDB_OK;
    }
    return fail(p,
                p->pos,
                "expected '%c' %s, found %s",
                c,
                context,
                what(p, p->pos, b));
}

static bool
ident_start(char c)
{
    return isalpha((unsigned char)c) || c == '_' || c == ':';
}

static bool
ident_char(char c)
{
    return ident_start(c) || isdigit((unsigned char)c);
}

/* An identifier (metric names may hold ':'), or NULL with *len 0. */
static char *
ident(struct parser *p, bool metric)
{
    size_t start, len;
    char *s;

    skip_ws(p);
    start = p->pos;
    if (!ident_start(p->s[start]) || (!metric && p->s[start] == ':'))
        return NULL;
    while (ident_char(p->s[p->pos]) && (metric || p->s[p->pos] != ':'))
        p->pos++;
    len = p->pos - start;
    s = malloc(len + 1);
    if (s != NULL) {
        memcpy(s, p->s + start, len);
        s[len] = '\0';
    }
    return s;
}

static int
escape_char(char c, char *out)
{
    static const char from[] = "\\\"'`nrtabfv";
    static const char to[] = "\\\"'`\n\r\t\a\b\f\v";
    const char *hit = c != '\0' ? strchr(from, c) : NULL;

    if (hit == NULL)
        return -1;
    *out = to[hit - from];
    return 0;
}

/* A "double", 'single' or `raw` quoted string. */
static int
string_lit(struct parser *p, char **out)
{
    char quote = peek(p), b[16];
    size_t start = p->pos, n = 0;
    char *s;

    if (quote != '"' && quote != '\'' && quote != '`')
        return fail(p,
                    p->pos,
                    "expected a quoted string, found %s",
                    what(p, p->pos, b));
    s = malloc(strlen(p->s + start) + 1);
    if (s == NULL)
        return oom(p);
    for (p->pos++; p->s[p->pos] != quote; p->pos++) {
        char c = p->s[p->pos];

        if (c == '\0' || (c == '\n' && quote != '`')) {
            free(s);
            return fail(p, start, "unterminated string");
        }
        if (c == '\\' && quote != '`') {
            p->pos++;
            if (escape_char(p->s[p->pos], &c) != 0) {
                free(s);
                return fail(p,
                            p->pos - 1,
                            "unknown escape sequence in "
                            "string");
            }
        }
        s[n++] = c;
    }
    p->pos++;
    s[n] = '\0';
    *out = s;
    return DESKDB_OK;
}

static int
match_op(struct parser *p, enum expr_match *op)
{
    const char *s = p->s + p->pos;
    char b[16];

    skip_ws(p);
    s = p->s + p->pos;
    if (s[0] == '=' && s[1] == '~')
        *op = MATCH_RE;
    else if (s[0] == '!' && s[1] == '~')
        *op = MATCH_NRE;
    else if (s[0] == '!' && s[1] == '=')
        *op = MATCH_NE;
    else if (s[0] == '=' && s[1] != '=')
        *op = MATCH_EQ;
    else
        return fail(p,
                    p->pos,
                    "expected a label matcher operator (=, !=, "
                    "=~, !~), found %s",
                    what(p, p->pos, b));
    p->pos += *op == MATCH_EQ ? 1 : 2;
    return DESKDB_OK;
}

static int
compile_re(struct parser *p, struct expr_matcher *m, size_t at)
{
    size_t at_re;
    const char *why = expr_ere_check(m->value, &at_re);
    char *pattern, msg[160];
    int rc;

    /* regcomp() itself may take gigabytes for "a++++..." */
    if (why != NULL)
        return fail(p, at, "invalid regular expression: %s", why);
    pattern = malloc(strlen(m->value) + 5);
    if (pattern == NULL)
        return oom(p);
    sprintf(pattern, "^(%s)$", m->value);
    rc = regcomp(&m->re, pattern, REG_EXTENDED | REG_NOSUB);
    free(pattern);
    if (rc != 0) {
        regerror(rc, &m->re, msg, sizeof(msg));
        return fail(p, at, "invalid regular expression: %s", msg);
    }
    m->has_re = true;
    return DESKDB_OK;
}

static int
matcher(struct parser *p, struct expr_node *n)
{
    struct expr_matcher *m = &n->matchers[n->n_matchers];
    size_t at;
    char b[16];
    int rc;

    at = (skip_ws(p), p->pos);
    m->label = ident(p, false);
    if (m->label == NULL)
        return fail(p, at, "expected a label name, found %s", what(p, at, b));
    n->n_matchers++;
    rc = match_op(p, &m->op);
    if (rc == DESKDB_OK)
        rc = string_lit(p, &m->value);
    if (rc == DESKDB_OK && (m->op == MATCH_RE || m->op == MATCH_NRE))
        rc = compile_re(p, m, at);
    if (rc == DESKDB_OK && strcmp(m->label, "__name__") == 0) {
        if (m->op != MATCH_EQ || n->metric != NULL)
            return fail(p, at, "__name__ may only be matched once, with =");
        n->metric = strdup(m->value);
        if (n->metric == NULL)
            return oom(p);
    }
    return rc;
}

static int
matchers(struct parser *p, struct expr_node *n)
{
    int rc = expect(p, '{', "to open the label matchers");

    n->matchers = calloc(EXPR_MAX_MATCHERS, sizeof(*n->matchers));
    if (n->matchers == NULL)
        return oom(p);
    while (rc == DESKDB_OK && peek(p) != '}') {
        if (n->n_matchers == EXPR_MAX_MATCHERS)
            return fail(p,
                        p->pos,
                        "more than %d label matchers",
                        EXPR_MAX_MATCHERS);
        rc = matcher(p, n);
        if (rc == DESKDB_OK && peek(p) != '}')
            rc = expect(p, ',', "or '}' after a label matcher");
    }
    if (rc == DESKDB_OK)
        p->pos++;
    return rc;
}

static int
selector(struct parser *p, char *name, size_t at, struct expr_node **out)
{
    struct expr_node *n = calloc(1, sizeof(*n));
    int rc = DESKDB_OK;

    if (n == NULL) {
        free(name);
        return oom(p);
    }
    *out = n;
    n->kind = NODE_SELECT;
    n->metric = name;
    if (peek(p) == '{')
        rc = matchers(p, n);
    if (rc == DESKDB_OK && n->metric == NULL)
        rc = fail(p, at, "a selector needs a metric name");
    return rc;
}

static int
range(struct parser *p, int64_t *ms)
{
    struct deskdb_err derr;
    size_t start, end;
    char text[32];
    int rc = expect(p, '[', "and a range such as [5m] after the selector");

    if (rc != DESKDB_OK)
        return rc;
    start = (skip_ws(p), p->pos);
    end = start;
    while (p->s[end] != '\0' && p->s[end] != ']')
        end++;
    if (p->s[end] != ']')
        return fail(p, start, "unterminated range, expected ']'");
    while (end > start && isspace((unsigned char)p->s[end - 1]))
        end--;
    if (end - start >= sizeof(text) || end == start)
        return fail(p, start, "expected a duration such as 5m");
    memcpy(text, p->s + start, end - start);
    text[end - start] = '\0';
    if (config_parse_duration(text, ms, &derr) != DESKDB_OK)
        return fail(p, start, "bad range: %s", derr.msg);
    if (*ms <= 0)
        return fail(p, start, "the range must be longer than 0");
    if (*ms > EXPR_MAX_RANGE_MS)
        return fail(p, start, "the range must be at most 366d");
    p->pos = end;
    return expect(p, ']', "to close the range");
}

static int vector(struct parser *p, struct expr_node **out);

static int
by_clause(struct parser *p, struct expr_node *n)
{
    char b[16];
    char *label;
    int rc;

    if (n->by != NULL)
        return fail(p, p->pos, "only one 'by' clause is allowed");
    rc = expect(p, '(', "after 'by'");
    n->by = calloc(METRICS_MAX_LABELS, sizeof(*n->by));
    if (n->by == NULL)
        return oom(p);
    while (rc == DESKDB_OK && peek(p) != ')') {
        size_t at = p->pos;

        if (n->n_by == METRICS_MAX_LABELS)
            return fail(p,
                        at,
                        "more than %d labels in 'by'",
                        METRICS_MAX_LABELS);
        label = ident(p, false);
        if (label == NULL)
            return fail(p,
                        at,
                        "expected a label name, found %s",
                        what(p, at, b));
        n->by[n->n_by++] = label;
        if (peek(p) != ')')
            rc = expect(p, ',', "or ')' in the 'by' list");
    }
    if (rc == DESKDB_OK)
        p->pos++;
    return rc;
}

/* "by" as the next word (not a prefix of a longer identifier). */
static bool
at_word(struct parser *p, const char *word)
{
    size_t len = strlen(word);

    skip_ws(p);
    return strncmp(p->s + p->pos, word, len) == 0 &&
           !ident_char(p->s[p->pos + len]);
}

static int
aggregation(struct parser *p, enum expr_agg agg, struct expr_node **out)
{
    struct expr_node *n = calloc(1, sizeof(*n));
    int rc = DESKDB_OK;

    if (n == NULL)
        return oom(p);
    *out = n;
    n->kind = NODE_AGG;
    n->agg = agg;
    if (at_word(p, "without"))
        return fail(p, p->pos, "'without' is not supported, use 'by'");
    if (at_word(p, "by")) {
        p->pos += 2;
        rc = by_clause(p, n);
    }
    if (rc == DESKDB_OK)
        rc = expect(p, '(', "after the aggregation");
    if (rc == DESKDB_OK)
        rc = vector(p, &n->child);
    if (rc == DESKDB_OK)
        rc = expect(p, ')', "to close the aggregation");
    if (rc == DESKDB_OK && at_word(p, "without"))
        return fail(p, p->pos, "'without' is not supported, use 'by'");
    if (rc == DESKDB_OK && at_word(p, "by")) {
        p->pos += 2;
        rc = by_clause(p, n);
    }
    return rc;
}

static int
function(struct parser *p, enum expr_fn fn, struct expr_node **out)
{
    struct expr_node *n = calloc(1, sizeof(*n));
    size_t at;
    char *name;
    char b[16];
    int rc;

    if (n == NULL)
        return oom(p);
    *out = n;
    n->kind = NODE_FUNC;
    n->fn = fn;
    rc = expect(p, '(', "after the function name");
    if (rc != DESKDB_OK)
        return rc;
    at = (skip_ws(p), p->pos);
    name = p->s[at] == '{' ? NULL : ident(p, true);
    if (name == NULL && p->s[at] != '{')
        return fail(p,
                    at,
                    "%s() takes a metric selector, found %s",
                    fn_names[fn],
                    what(p, at, b));
    rc = selector(p, name, at, &n->child);
    if (rc == DESKDB_OK)
        rc = range(p, &n->range_ms);
    if (rc == DESKDB_OK)
        rc = expect(p, ')', "to close the function call");
    return rc;
}

static int
keyword(const char *name, const char *const *names, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (strcmp(name, names[i]) == 0)
            return (int)i;
    }
    return -1;
}

static int
vector(struct parser *p, struct expr_node **out)
{
    size_t at = (skip_ws(p), p->pos);
    char *name;
    char b[16];
    int k;

    if (p->s[at] == '{')
        return selector(p, NULL, at, out);
    name = ident(p, true);
    if (name == NULL)
        return fail(p, at, "expected a metric name, found %s", what(p, at, b));
    k = keyword(name, agg_names, 5);
    if (k >= 0 &&
        (peek(p) == '(' || at_word(p, "by") || at_word(p, "without"))) {
        free(name);
        return aggregation(p, (enum expr_agg)k, out);
    }
    if (peek(p) == '(') {
        k = keyword(name, fn_names, 2);
        if (k >= 0) {
            free(name);
            return function(p, (enum expr_fn)k, out);
        }
        fail(p,
             at,
             "unknown function '%s' (supported: rate, increase, "
             "sum, min, max, avg, count)",
             name);
        free(name);
        return DESKDB_EINVAL;
    }
    return selector(p, name, at, out);
}

static int
comparison(struct parser *p, enum expr_cmp *cmp)
{
    static const char *const ops[] = {">=", "<=", "==", "!=", ">", "<"};
    static const enum expr_cmp vals[] =
        {CMP_GE, CMP_LE, CMP_EQ, CMP_NE, CMP_GT, CMP_LT};
    char b[16];
    size_t i;

    skip_ws(p);
    if (p->s[p->pos] == '[')
        return fail(p,
                    p->pos,
                    "a range such as [5m] needs rate() or "
                    "increase() around the selector");
    for (i = 0; i < 6; i++) {
        if (strncmp(p->s + p->pos, ops[i], strlen(ops[i])) == 0) {
            *cmp = vals[i];
            p->pos += strlen(ops[i]);
            return DESKDB_OK;
        }
    }
    return fail(p,
                p->pos,
                "expected a comparison (> < >= <= == !=) and a "
                "number, found %s",
                what(p, p->pos, b));
}

static int
number(struct parser *p, double *v)
{
    size_t at = (skip_ws(p), p->pos);
    const char *s = p->s + at;
    char *end;
    char b[16];

    if (!(isdigit((unsigned char)s[0]) || s[0] == '.' || s[0] == '-' ||
          s[0] == '+' || strncasecmp(s, "inf", 3) == 0 ||
          strncasecmp(s, "nan", 3) == 0))
        return fail(p, at, "expected a number, found %s", what(p, at, b));
    *v = strtod(s, &end);
    if (end == s || ident_char(*end) || *end == '.')
        return fail(p, at, "invalid number");
    p->pos = at + (size_t)(end - s);
    return DESKDB_OK;
}

static int64_t
max_range(const struct expr_node *n)
{
    int64_t r = 0, c;

    for (; n != NULL; n = n->child) {
        c = n->kind == NODE_FUNC ? n->range_ms : 0;
        r = c > r ? c : r;
    }
    return r;
}

int
alert_expr_parse(const char *text,
                 struct alert_expr **out,
                 size_t *err_offset,
                 struct deskdb_err *err)
{
    struct parser p = {text, 0, 0, err};
    struct alert_expr *e = calloc(1, sizeof(*e));
    char b[16];
    int rc;

    *out = NULL;
    *err_offset = 0;
    if (e == NULL)
        return err_set(err, DESKDB_ENOMEM, "out of memory");
    rc = vector(&p, &e->root);
    if (rc == DESKDB_OK)
        rc = comparison(&p, &e->cmp);
    if (rc == DESKDB_OK)
        rc = number(&p, &e->threshold);
    if (rc == DESKDB_OK && peek(&p) != '\0')
        rc = fail(&p,
                  p.pos,
                  "unexpected %s after the expression",
                  what(&p, p.pos, b));
    if (rc != DESKDB_OK) {
        *err_offset = p.err_pos;
        alert_expr_destroy(e);
        return rc;
    }
    e->range_ms = max_range(e->root);
    *out = e;
    return DESKDB_OK;
}

void
expr_node_free(struct expr_node *n)
{
    size_t i;

    if (n == NULL)
        return;
    for (i = 0; i < n->n_matchers; i++) {
        free(n->matchers[i].label);
        free(n->matchers[i].value);
        if (n->matchers[i].has_re)
            regfree(&n->matchers[i].re);
    }
    free(n->matchers);
    for (i = 0; i < n->n_by; i++)
        free(n->by[i]);
    free(n->by);
    free(n->metric);
    expr_node_free(n->child);
    free(n);
}

void
alert_expr_destroy(struct alert_expr *e)
{
    if (e == NULL)
        return;
    expr_node_free(e->root);
    free(e);
}

int64_t
alert_expr_range_ms(const struct alert_expr *e)
{
    return e->range_ms;
}

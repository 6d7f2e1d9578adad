/* SPDX-License-Identifier: MIT */
/* The parsed form of a rule expression, shared by the parser (expr.c) and
 * the evaluator (vector.c). */
#ifndef DESKDB_EXPORTER_ALERTS_EXPR_INTERNAL_H
#define DESKDB_EXPORTER_ALERTS_EXPR_INTERNAL_H

#include <regex.h>

#include "exporter/alerts/expr.h"

#define EXPR_MAX_MATCHERS 16

enum expr_match { MATCH_EQ, MATCH_NE, MATCH_RE, MATCH_NRE };
enum expr_kind { NODE_SELECT, NODE_FUNC, NODE_AGG };
enum expr_fn { FN_RATE, FN_INCREASE };
enum expr_agg { AGG_SUM, AGG_MIN, AGG_MAX, AGG_AVG, AGG_COUNT };
enum expr_cmp { CMP_GT, CMP_LT, CMP_GE, CMP_LE, CMP_EQ, CMP_NE };

struct expr_matcher {
    char *label;
    enum expr_match op;
    char *value;
    regex_t re; /* MATCH_RE and MATCH_NRE */
    bool has_re;
};

struct expr_node {
    enum expr_kind kind;
    /* NODE_SELECT */
    char *metric;
    struct expr_matcher *matchers;
    size_t n_matchers;
    /* NODE_FUNC: child is a selector */
    enum expr_fn fn;
    int64_t range_ms;
    /* NODE_AGG */
    enum expr_agg agg;
    char **by;
    size_t n_by;
    struct expr_node *child;
};

struct alert_expr {
    struct expr_node *root;
    enum expr_cmp cmp;
    double threshold;
    int64_t range_ms;
};

void expr_node_free(struct expr_node *n);

/*
 * Check a pattern before regcomp(): NULL, or why it is refused (adjacent
 * repetition operators, back-references, nesting or repetition that would
 * compile into an unbounded tree), with the byte offset in `*at`.
 * Anything else is left to regcomp() to accept or reject.
 */
const char *expr_ere_check(const char *re, size_t *at);

#endif

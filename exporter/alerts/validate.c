/* SPDX-License-Identifier: MIT */
/* alerts_validate_config(): rule expressions, templates and secrets
 * checked with the position of the value in the file. */
#include <string.h>

#include "config/config_alerts.h"
#include "exporter/alerts.h"
#include "exporter/alerts/eval.h"

/* The position `offset` bytes into a value that starts at `pos` (exact
 * for plain scalars on one line; quoted ones are one column off). */
static struct config_pos
inside(const struct config_pos *pos, size_t offset)
{
    struct config_pos p = *pos;

    if (p.line > 0 && p.column > 0)
        p.column += (int)offset;
    return p;
}

static int
check_rule(const struct config_rule *r, size_t i, struct deskdb_err *err)
{
    struct alert_expr *e = NULL;
    struct deskdb_err perr;
    struct config_pos p;
    const char *why;
    size_t off, k;
    int rc;

    err_clear(&perr);
    rc = alert_expr_parse(r->expr.value, &e, &off, &perr);
    alert_expr_destroy(e);
    if (rc == DESKDB_ENOMEM)
        return err_set(err, rc, "out of memory");
    if (rc != DESKDB_OK) {
        p = inside(&r->expr.pos, off);
        return config_error_at(err,
                               &p,
                               "alerts.rules[%zu].expr: %s",
                               i,
                               perr.msg);
    }
    for (k = 0; k < r->n_annotations; k++) {
        why = alerts_template_check(r->annotations[k].value, &off);
        if (why == NULL)
            continue;
        p = inside(&r->annotations[k].pos, off);
        return config_error_at(err,
                               &p,
                               "alerts.rules[%zu].annotations.%s: %s",
                               i,
                               r->annotations[k].key,
                               why);
    }
    for (k = 0; k < r->n_labels; k++) {
        if (strstr(r->labels[k].value, "{{") == NULL)
            continue;
        return config_error_at(err,
                               &r->labels[k].pos,
                               "alerts.rules[%zu].labels.%s: labels identify "
                               "the alert and cannot use templates (a "
                               "changing label makes a new alert every "
                               "evaluation); use an annotation",
                               i,
                               r->labels[k].key);
    }
    return DESKDB_OK;
}

int
alerts_validate_config(const struct config *cfg, struct deskdb_err *err)
{
    const struct config_alerts *a = cfg->alerts;
    const char *why;
    size_t i;
    int rc;

    if (a == NULL)
        return DESKDB_OK;
    for (i = 0; i < a->n_rules; i++) {
        rc = check_rule(&a->rules[i], i, err);
        if (rc != DESKDB_OK)
            return rc;
    }
    for (i = 0; i < a->n_receivers; i++) {
        const struct config_receiver *r = &a->receivers[i];

        if (r->type != CONFIG_RECEIVER_WEBHOOK || r->secret == NULL)
            continue;
        why = notify_secret_problem(r->secret);
        if (why != NULL)
            return config_error_at(err,
                                   &r->pos,
                                   "alerts.receivers[%zu] (%s).secret: %s",
                                   i,
                                   r->name,
                                   why);
    }
    return DESKDB_OK;
}

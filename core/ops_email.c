/* SPDX-License-Identifier: MIT */
/* update_email_status: a status change allowed by the e-mail life cycle,
 * with its audit entry and, when operations.notify_channel is set, a
 * NOTIFY, in one transaction. */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/ops_internal.h"

/* The values of email_messages_status_check (0003). */
static const char *const statuses[] = {"draft",
                                       "queued",
                                       "sending",
                                       "sent",
                                       "delivered",
                                       "opened",
                                       "bounced",
                                       "failed",
                                       "received",
                                       "read",
                                       "archived",
                                       NULL};

/*
 * Outbound mail: draft -> queued -> sending -> sent -> delivered ->
 * opened, with bounced and failed on the way (both may be queued again)
 * and archived at the end.  Inbound mail: received <-> read, archived,
 * and back to read from the archive.  Everything else is refused.
 */
static const struct {
    const char *from;
    const char *to;
    const char *direction; /* NULL: either */
} transitions[] = {
    {"draft", "queued", NULL},       {"draft", "archived", NULL},
    {"queued", "sending", NULL},     {"queued", "sent", NULL},
    {"queued", "failed", NULL},      {"queued", "draft", NULL},
    {"sending", "sent", NULL},       {"sending", "failed", NULL},
    {"sending", "queued", NULL},     {"sent", "delivered", NULL},
    {"sent", "opened", NULL},        {"sent", "bounced", NULL},
    {"sent", "failed", NULL},        {"sent", "archived", NULL},
    {"delivered", "opened", NULL},   {"delivered", "bounced", NULL},
    {"delivered", "archived", NULL}, {"opened", "archived", NULL},
    {"bounced", "queued", NULL},     {"bounced", "archived", NULL},
    {"failed", "queued", NULL},      {"failed", "draft", NULL},
    {"failed", "archived", NULL},    {"received", "read", NULL},
    {"received", "archived", NULL},  {"read", "received", NULL},
    {"read", "archived", NULL},      {"archived", "read", "inbound"},
};

bool
ops_email_transition_allowed(const char *direction,
                             const char *from,
                             const char *to)
{
    for (size_t i = 0; i < sizeof(transitions) / sizeof(transitions[0]); i++) {
        if (strcmp(transitions[i].from, from) == 0 &&
            strcmp(transitions[i].to, to) == 0)
            return transitions[i].direction == NULL ||
                   strcmp(transitions[i].direction, direction) == 0;
    }
    return false;
}

static const struct ops_field update_email_status_fields[] = {
    OPS_COMMON_FIELDS,
    {.name = "email_id", .type = OPS_F_UUID, .required = true},
    {.name = "status",
     .type = OPS_F_ENUM,
     .required = true,
     .choices = statuses},
    {0},
};

struct email_row {
    char status[32];
    char direction[32];
};

static int
email_lock(struct ops_ctx *c,
           const char *id,
           struct email_row *e,
           struct deskdb_err *err)
{
    PGresult *res = NULL;
    int rc;

    rc = ops_lock_row(c,
                      "e-mail",
                      "SELECT status, direction FROM email_messages"
                      " WHERE id = $1 AND dealership_id = $2 FOR UPDATE",
                      id,
                      &res,
                      err);
    if (rc == 0) {
        ops_value(res, 0, e->status, sizeof(e->status));
        ops_value(res, 1, e->direction, sizeof(e->direction));
    }
    PQclear(res);
    return rc;
}

static int
email_set_status(struct ops_ctx *c,
                 const char *id,
                 const char *status,
                 struct deskdb_err *err)
{
    const char *params[] = {id, c->dealership, status};

    /* sent_at records the first time the message left. */
    return ops_query(c,
                     "update e-mail status",
                     "UPDATE email_messages SET status = $3,"
                     " sent_at = CASE WHEN $3 = 'sent'"
                     " THEN coalesce(sent_at, now()) ELSE sent_at END"
                     " WHERE id = $1 AND dealership_id = $2",
                     3,
                     params,
                     NULL,
                     err);
}

/* The "trigger notifications" step: NOTIFY is transactional, so listeners
 * hear of the change when it commits and never of one rolled back. */
static int
email_notify(struct ops_ctx *c,
             const char *id,
             const char *from,
             const char *to,
             struct deskdb_err *err)
{
    const char *params[2];
    json_t *payload;
    char *text;
    int rc;

    payload = json_pack("{s:s, s:s, s:s, s:s, s:s?}",
                        "email_id",
                        id,
                        "dealership_id",
                        c->dealership,
                        "status",
                        to,
                        "previous_status",
                        from,
                        "actor_id",
                        c->actor);
    text = payload != NULL ? json_dumps(payload, JSON_COMPACT) : NULL;
    json_decref(payload);
    if (text == NULL)
        return err_set(err, DESKDB_ENOMEM, "notify: out of memory");
    params[0] = c->notify_channel;
    params[1] = text;
    rc = ops_query(c,
                   "notify e-mail status",
                   "SELECT pg_notify($1, $2)",
                   2,
                   params,
                   NULL,
                   err);
    free(text);
    return rc;
}

static int
update_email_status_run(struct ops_ctx *c, struct deskdb_err *err)
{
    const struct ops_ref refs[] = {{OPS_REF_USER, "actor", c->actor}};
    const char *id = ops_str(c->in, "email_id");
    const char *status = ops_str(c->in, "status");
    struct email_row e;
    bool changed;
    int rc;

    rc = ops_check_refs(c, refs, 1, err);
    if (rc == 0)
        rc = email_lock(c, id, &e, err);
    if (rc != 0)
        return rc;
    changed = strcmp(e.status, status) != 0;
    if (changed && !ops_email_transition_allowed(e.direction, e.status, status))
        return err_set(err,
                       DESKDB_EEXIST,
                       "e-mail %s (%s) cannot go from '%s' to '%s'",
                       id,
                       e.direction,
                       e.status,
                       status);
    /* Setting the status it already has changes nothing and is not
     * audited: feeds repeat delivery events. */
    if (changed)
        rc = email_set_status(c, id, status, err);
    if (changed && rc == 0)
        rc = ops_audit(c,
                       "email.status_changed",
                       "email",
                       id,
                       c->actor,
                       json_pack("{s:s, s:s}", "from", e.status, "to", status),
                       err);
    if (changed && rc == 0 && c->notify_channel != NULL)
        rc = email_notify(c, id, e.status, status, err);
    if (rc != 0)
        return rc;
    c->result = json_pack("{s:{s:s, s:s, s:s}, s:b}",
                          "email",
                          "id",
                          id,
                          "status",
                          status,
                          "previous_status",
                          e.status,
                          "changed",
                          changed);
    return c->result != NULL ? 0 : err_set(err, DESKDB_ENOMEM, "out of memory");
}

const struct ops_op ops_op_update_email_status = {
    .name = "update_email_status",
    .fields = update_email_status_fields,
    .run = update_email_status_run,
};

/* SPDX-License-Identifier: MIT */
/* The test webhook receiver: libmicrohttpd, one thread per connection so
 * that a held request does not hold the others. */
#include "support/receiver.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#define BODY_MAX (1024 * 1024)
#define HOLD_MS  10000

struct upload {
    char *data;
    size_t len;
};

static int64_t
now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
copy_header(struct MHD_Connection *c, const char *name, char *out, size_t len)
{
    const char *v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);

    snprintf(out, len, "%s", v != NULL ? v : "");
}

/* Record the request and pick its answer (under the lock). */
static struct receiver_answer
record(struct receiver *r,
       struct MHD_Connection *c,
       const char *url,
       struct upload *up)
{
    struct receiver_answer a = {200, -1, 0};
    struct receiver_request *q;

    pthread_mutex_lock(&r->lock);
    if (r->next_answer < r->n_script)
        a = r->script[r->next_answer++];
    if (r->n < RECEIVER_MAX_REQUESTS) {
        q = &r->req[r->n++];
        snprintf(q->path, sizeof(q->path), "%s", url);
        copy_header(c, "webhook-id", q->webhook_id, sizeof(q->webhook_id));
        copy_header(c,
                    "webhook-timestamp",
                    q->webhook_timestamp,
                    sizeof(q->webhook_timestamp));
        copy_header(c,
                    "webhook-signature",
                    q->webhook_signature,
                    sizeof(q->webhook_signature));
        copy_header(c,
                    "Content-Type",
                    q->content_type,
                    sizeof(q->content_type));
        copy_header(c, "User-Agent", q->user_agent, sizeof(q->user_agent));
        q->body = up->data != NULL ? up->data : strdup("");
        q->body_len = up->len;
        up->data = NULL;
        q->at_ms = now_ms();
        q->status = a.status;
    }
    pthread_cond_broadcast(&r->cond);
    pthread_mutex_unlock(&r->lock);
    return a;
}

static void
hold(struct receiver *r)
{
    int64_t end = now_ms() + HOLD_MS;
    struct timespec ts = {0, 20 * 1000000};
    bool stop = false;

    while (!stop && now_ms() < end) {
        nanosleep(&ts, NULL);
        pthread_mutex_lock(&r->lock);
        stop = r->stopping;
        pthread_mutex_unlock(&r->lock);
    }
}

static enum MHD_Result
respond(struct MHD_Connection *c, struct receiver_answer a)
{
    static const char body[] = "ok";
    struct MHD_Response *resp;
    enum MHD_Result ret;
    char ra[16];

    if (a.body_size > 0) {
        char *big = malloc(a.body_size);

        if (big == NULL)
            return MHD_NO;
        memset(big, 'x', a.body_size);
        resp = MHD_create_response_from_buffer(a.body_size,
                                               big,
                                               MHD_RESPMEM_MUST_FREE);
    } else {
        resp = MHD_create_response_from_buffer(sizeof(body) - 1,
                                               (void *)body,
                                               MHD_RESPMEM_PERSISTENT);
    }
    if (resp == NULL)
        return MHD_NO;
    if (a.retry_after >= 0) {
        snprintf(ra, sizeof(ra), "%d", a.retry_after);
        MHD_add_response_header(resp, "Retry-After", ra);
    }
    ret = MHD_queue_response(c, (unsigned)a.status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static enum MHD_Result
handle(void *cls,
       struct MHD_Connection *c,
       const char *url,
       const char *method,
       const char *version,
       const char *upload_data,
       size_t *upload_size,
       void **con_cls)
{
    struct receiver *r = cls;
    struct upload *up = *con_cls;
    struct receiver_answer a;
    char *grown;

    (void)version;
    if (strcmp(method, "POST") != 0)
        return MHD_NO;
    if (up == NULL) {
        *con_cls = calloc(1, sizeof(*up));
        return *con_cls != NULL ? MHD_YES : MHD_NO;
    }
    if (*upload_size > 0) {
        if (up->len + *upload_size > BODY_MAX)
            return MHD_NO;
        grown = realloc(up->data, up->len + *upload_size + 1);
        if (grown == NULL)
            return MHD_NO;
        memcpy(grown + up->len, upload_data, *upload_size);
        up->data = grown;
        up->len += *upload_size;
        up->data[up->len] = '\0';
        *upload_size = 0;
        return MHD_YES;
    }
    a = record(r, c, url, up);
    if (a.status == 0) {
        hold(r);
        return MHD_NO;
    }
    return respond(c, a);
}

static void
completed(void *cls,
          struct MHD_Connection *c,
          void **con_cls,
          enum MHD_RequestTerminationCode toe)
{
    struct upload *up = *con_cls;

    (void)cls;
    (void)c;
    (void)toe;
    if (up != NULL) {
        free(up->data);
        free(up);
    }
    *con_cls = NULL;
}

void
receiver_start(struct receiver *r)
{
    const union MHD_DaemonInfo *info;
    struct sockaddr_in sa;

    memset(r, 0, sizeof(*r));
    pthread_mutex_init(&r->lock, NULL);
    pthread_cond_init(&r->cond, NULL);
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa.sin_port = 0;
    r->daemon =
        MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD |
                             MHD_USE_THREAD_PER_CONNECTION | MHD_USE_ERROR_LOG,
                         0,
                         NULL,
                         NULL,
                         handle,
                         r,
                         MHD_OPTION_SOCK_ADDR,
                         &sa,
                         MHD_OPTION_NOTIFY_COMPLETED,
                         completed,
                         r,
                         MHD_OPTION_CONNECTION_TIMEOUT,
                         (unsigned)30,
                         MHD_OPTION_END);
    if (r->daemon == NULL)
        fail_msg("cannot start the test receiver");
    info = MHD_get_daemon_info(r->daemon, MHD_DAEMON_INFO_BIND_PORT);
    r->port = info->port;
    snprintf(r->url, sizeof(r->url), "http://127.0.0.1:%d/hook", r->port);
}

void
receiver_stop(struct receiver *r)
{
    size_t i;

    pthread_mutex_lock(&r->lock);
    r->stopping = true;
    pthread_mutex_unlock(&r->lock);
    if (r->daemon != NULL)
        MHD_stop_daemon(r->daemon);
    r->daemon = NULL;
    for (i = 0; i < r->n; i++)
        free(r->req[i].body);
    r->n = 0;
    pthread_cond_destroy(&r->cond);
    pthread_mutex_destroy(&r->lock);
}

void
receiver_script(struct receiver *r, int status, int retry_after)
{
    pthread_mutex_lock(&r->lock);
    if (r->n_script < RECEIVER_MAX_SCRIPT)
        r->script[r->n_script++] =
            (struct receiver_answer){status, retry_after, 0};
    pthread_mutex_unlock(&r->lock);
}

void
receiver_script_body(struct receiver *r, size_t size)
{
    pthread_mutex_lock(&r->lock);
    if (r->n_script < RECEIVER_MAX_SCRIPT)
        r->script[r->n_script++] = (struct receiver_answer){200, -1, size};
    pthread_mutex_unlock(&r->lock);
}

size_t
receiver_wait(struct receiver *r, size_t n, int timeout_ms)
{
    int64_t end = now_ms() + timeout_ms;
    struct timespec ts;
    size_t got;

    pthread_mutex_lock(&r->lock);
    while (r->n < n && now_ms() < end) {
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 50 * 1000000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&r->cond, &r->lock, &ts);
    }
    got = r->n;
    pthread_mutex_unlock(&r->lock);
    return got;
}

size_t
receiver_count(struct receiver *r)
{
    size_t n;

    pthread_mutex_lock(&r->lock);
    n = r->n;
    pthread_mutex_unlock(&r->lock);
    return n;
}

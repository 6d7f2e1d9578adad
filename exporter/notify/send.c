/* SPDX-License-Identifier: MIT */
/* The HTTP POST of a notification: the only file that uses libcurl. */
#include <curl/curl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "exporter/notify/notify.h"

#ifndef DESKDB_VERSION
#define DESKDB_VERSION "dev"
#endif

/* How much of a response is read; the rest is refused. */
#define RESPONSE_CAP (64 * 1024)

struct xfer {
    size_t received;
    const _Atomic bool *abort_flag;
    struct notify_http_result *res;
};

void
notify_global_init(void)
{
    static atomic_flag done = ATOMIC_FLAG_INIT;

    if (!atomic_flag_test_and_set(&done))
        curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* The body is only counted: receivers' answers carry nothing we use, and
 * a receiver that streams forever must not hold the worker. */
static size_t
on_body(char *data, size_t size, size_t nmemb, void *arg)
{
    struct xfer *x = arg;
    size_t n = size * nmemb;

    (void)data;
    if (x->received + n > RESPONSE_CAP)
        return 0;
    x->received += n;
    return n;
}

static size_t
on_header(char *data, size_t size, size_t nmemb, void *arg)
{
    static const char name[] = "retry-after:";
    struct xfer *x = arg;
    size_t n = size * nmemb, len;
    char *p;

    if (n <= sizeof(name) - 1 || strncasecmp(data, name, sizeof(name) - 1))
        return n;
    p = data + sizeof(name) - 1;
    len = n - (sizeof(name) - 1);
    while (len > 0 && (p[len - 1] == '\r' || p[len - 1] == '\n'))
        len--;
    if (len >= sizeof(x->res->retry_after))
        len = sizeof(x->res->retry_after) - 1;
    memcpy(x->res->retry_after, p, len);
    x->res->retry_after[len] = '\0';
    return n;
}

static int
on_progress(void *arg,
            curl_off_t dltotal,
            curl_off_t dlnow,
            curl_off_t ultotal,
            curl_off_t ulnow)
{
    struct xfer *x = arg;

    (void)dltotal;
    (void)dlnow;
    (void)ultotal;
    (void)ulnow;
    return x->abort_flag != NULL && atomic_load(x->abort_flag) ? 1 : 0;
}

static struct curl_slist *
build_headers(const struct notify_header *headers, size_t n)
{
    struct curl_slist *list = NULL, *next;
    char line[512];
    size_t i;

    list = curl_slist_append(NULL, "Content-Type: application/json");
    /* No "Expect: 100-continue" round trip for small bodies. */
    if (list != NULL)
        list = (next = curl_slist_append(list, "Expect:")) ? next : list;
    for (i = 0; list != NULL && i < n; i++) {
        snprintf(line,
                 sizeof(line),
                 "%s: %s",
                 headers[i].name,
                 headers[i].value);
        next = curl_slist_append(list, line);
        if (next == NULL) {
            curl_slist_free_all(list);
            return NULL;
        }
        list = next;
    }
    return list;
}

static void
setup(CURL *h,
      const char *url,
      struct curl_slist *hdrs,
      const char *body,
      size_t body_len,
      int64_t timeout_ms,
      struct xfer *x)
{
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)timeout_ms);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "deskdb/" DESKDB_VERSION);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, x);
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
}

void
notify_http_post(const char *url,
                 const struct notify_header *headers,
                 size_t n_headers,
                 const char *body,
                 size_t body_len,
                 int64_t timeout_ms,
                 const _Atomic bool *abort_flag,
                 struct notify_http_result *res)
{
    struct xfer x = {0, abort_flag, res};
    struct curl_slist *hdrs;
    CURL *h;
    CURLcode rc;

    memset(res, 0, sizeof(*res));
    hdrs = build_headers(headers, n_headers);
    h = curl_easy_init();
    if (hdrs == NULL || h == NULL) {
        snprintf(res->error, sizeof(res->error), "out of memory");
        goto out;
    }
    setup(h, url, hdrs, body, body_len, timeout_ms > 0 ? timeout_ms : 1, &x);
    rc = curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &res->status);
    /* A status line was read: that is the answer, even if the body was
     * then refused (too large) or cut short. */
    if (rc == CURLE_OK || res->status > 0)
        goto out;
    res->status = 0;
    res->timed_out = rc == CURLE_OPERATION_TIMEDOUT;
    res->aborted = rc == CURLE_ABORTED_BY_CALLBACK;
    /* curl's generic text: a detailed message may name the URL. */
    snprintf(res->error, sizeof(res->error), "%s", curl_easy_strerror(rc));
out:
    curl_easy_cleanup(h);
    curl_slist_free_all(hdrs);
}

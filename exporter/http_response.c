/* SPDX-License-Identifier: MIT */
/* Building HTTP responses: status, type, body and extra headers. */
#include "exporter/http_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
http_response_init(struct http_response *resp)
{
    memset(resp, 0, sizeof(*resp));
    resp->status = 200;
    http_response_set_type(resp, HTTP_TYPE_TEXT);
    buf_init(&resp->body, HTTP_BODY_MAX);
}

void
http_response_fini(struct http_response *resp)
{
    buf_fini(&resp->body);
    for (size_t i = 0; i < resp->n_headers; i++) {
        free(resp->headers[i].name);
        free(resp->headers[i].value);
    }
    resp->n_headers = 0;
}

/* RFC 9110 token characters. */
static bool
valid_name(const char *s)
{
    static const char extra[] = "!#$%&'*+-.^_`|~";

    if (*s == '\0')
        return false;
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || strchr(extra, c) != NULL))
            return false;
    }
    return true;
}

/* Visible characters, spaces and tabs; no CR, LF or other controls. */
static bool
valid_value(const char *s)
{
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;

        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return false;
    }
    return true;
}

int
http_response_add_header(struct http_response *resp,
                         const char *name,
                         const char *value)
{
    struct http_header *h;

    if (!valid_name(name) || !valid_value(value) ||
        resp->n_headers == HTTP_MAX_HEADERS)
        return DESKDB_EINVAL;
    h = &resp->headers[resp->n_headers];
    h->name = strdup(name);
    h->value = strdup(value);
    if (h->name == NULL || h->value == NULL) {
        free(h->name);
        free(h->value);
        h->name = h->value = NULL;
        return DESKDB_ENOMEM;
    }
    resp->n_headers++;
    return DESKDB_OK;
}

void
http_response_set_type(struct http_response *resp, const char *type)
{
    snprintf(resp->content_type, sizeof(resp->content_type), "%s", type);
}

void
http_response_set_static(struct http_response *resp,
                         const void *data,
                         size_t len)
{
    resp->static_body = data;
    resp->static_len = len;
}

void
http_response_text(struct http_response *resp, int status, const char *text)
{
    resp->status = status;
    resp->static_body = NULL;
    resp->static_len = 0;
    http_response_set_type(resp, HTTP_TYPE_TEXT);
    buf_reset(&resp->body);
    /* Only fails when out of memory; the status alone still answers. */
    if (buf_puts(&resp->body, text) != DESKDB_OK ||
        buf_putc(&resp->body, '\n') != DESKDB_OK)
        buf_reset(&resp->body);
}

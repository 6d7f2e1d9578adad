/* SPDX-License-Identifier: MIT */
/* Listen addresses of the HTTP server: parsing, resolution and binding. */
#include "exporter/http_internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int
bad_entry(const struct config_str *entry,
          const char *what,
          struct deskdb_err *err)
{
    const struct config_pos *pos = &entry->pos;

    if (pos->file != NULL && pos->line > 0)
        return err_set(err,
                       DESKDB_EINVAL,
                       "%s:%d:%d: http.listen \"%.200s\": %s",
                       pos->file,
                       pos->line,
                       pos->column,
                       entry->value,
                       what);
    return err_set(err,
                   DESKDB_EINVAL,
                   "http.listen \"%.200s\": %s",
                   entry->value != NULL ? entry->value : "",
                   what);
}

/* Split into host (may be empty) and port; returns false if malformed. */
static bool
split_host_port(const char *text, char *host, size_t host_size, long *port)
{
    const char *colon;
    const char *p;
    size_t hlen;
    char *end;

    if (text[0] == '[') {
        const char *close = strchr(text, ']');

        if (close == NULL || close[1] != ':')
            return false;
        hlen = (size_t)(close - text - 1);
        if (hlen == 0)
            return false;
        p = text + 1;
        colon = close + 1;
    } else {
        colon = strrchr(text, ':');
        if (colon == NULL)
            return false;
        hlen = (size_t)(colon - text);
        p = text;
        if (memchr(p, ':', hlen) != NULL) /* IPv6 needs brackets */
            return false;
    }
    if (hlen >= host_size)
        return false;
    memcpy(host, p, hlen);
    host[hlen] = '\0';
    if (colon[1] < '0' || colon[1] > '9' || strlen(colon + 1) > 5)
        return false;
    errno = 0;
    *port = strtol(colon + 1, &end, 10);
    return errno == 0 && *end == '\0' && *port >= 0 && *port <= 65535;
}

static bool
is_loopback(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

        return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;

        if (IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr))
            return true;
        return IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr) &&
               in6->sin6_addr.s6_addr[12] == 127;
    }
    return false;
}

static int
resolve(const struct config_str *entry,
        const char *host,
        long port,
        struct http_listener *out,
        struct deskdb_err *err)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL;
    char what[300];
    int rc;

    rc = getaddrinfo(host, NULL, &hints, &res);
    if (rc != 0 || res == NULL) {
        snprintf(what,
                 sizeof(what),
                 "cannot resolve host: %s",
                 gai_strerror(rc));
        return bad_entry(entry, what, err);
    }
    if (res->ai_addrlen > sizeof(out->addr)) {
        freeaddrinfo(res);
        return bad_entry(entry, "unsupported address family", err);
    }
    memcpy(&out->addr, res->ai_addr, res->ai_addrlen);
    out->addrlen = res->ai_addrlen;
    freeaddrinfo(res);
    if (out->addr.ss_family == AF_INET)
        ((struct sockaddr_in *)&out->addr)->sin_port = htons((uint16_t)port);
    else if (out->addr.ss_family == AF_INET6)
        ((struct sockaddr_in6 *)&out->addr)->sin6_port = htons((uint16_t)port);
    else
        return bad_entry(entry, "unsupported address family", err);
    out->loopback = is_loopback((const struct sockaddr *)&out->addr);
    return DESKDB_OK;
}

static void
set_any(struct http_listener *out, long port, int family)
{
    memset(&out->addr, 0, sizeof(out->addr));
    if (family == AF_INET6) {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&out->addr;

        in6->sin6_family = AF_INET6;
        in6->sin6_addr = in6addr_any;
        in6->sin6_port = htons((uint16_t)port);
        out->addrlen = sizeof(*in6);
    } else {
        struct sockaddr_in *in = (struct sockaddr_in *)&out->addr;

        in->sin_family = AF_INET;
        in->sin_addr.s_addr = htonl(INADDR_ANY);
        in->sin_port = htons((uint16_t)port);
        out->addrlen = sizeof(*in);
    }
}

int
http_listener_parse(const struct config_str *entry,
                    struct http_listener *out,
                    struct deskdb_err *err)
{
    char host[256];
    long port = 0;

    memset(out, 0, sizeof(*out));
    out->fd = -1;
    out->port = -1;
    if (entry->value == NULL || entry->value[0] == '\0')
        return bad_entry(entry, "empty address", err);
    if (!split_host_port(entry->value, host, sizeof(host), &port))
        return bad_entry(entry,
                         "expected host:port, [ipv6]:port or :port with a "
                         "port of 0-65535",
                         err);
    out->text = strdup(entry->value);
    if (out->text == NULL)
        return err_set(err, DESKDB_ENOMEM, "out of memory");
    if (host[0] == '\0') {
        out->any = true;
        set_any(out, port, AF_INET6);
        return DESKDB_OK;
    }
    return resolve(entry, host, port, out, err);
}

static int
open_socket(struct http_listener *l)
{
    int one = 1;
    int zero = 0;
    int fd;

    fd = socket(l->addr.ss_family,
                SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
                0);
    if (fd < 0 && l->any && l->addr.ss_family == AF_INET6 &&
        (errno == EAFNOSUPPORT || errno == EPROTONOSUPPORT)) {
        /* No IPv6 on this host: "every interface" means 0.0.0.0. */
        long port = ntohs(((struct sockaddr_in6 *)&l->addr)->sin6_port);

        set_any(l, port, AF_INET);
        fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    }
    if (fd < 0)
        return -1;
    /* Restarting must not fail on connections in TIME_WAIT. */
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0)
        goto fail;
    if (l->any && l->addr.ss_family == AF_INET6 &&
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero)) != 0)
        goto fail;
    return fd;
fail:
    one = errno;
    close(fd);
    errno = one;
    return -1;
}

int
http_listener_bind(struct http_listener *l, struct deskdb_err *err)
{
    struct sockaddr_storage bound;
    socklen_t len = sizeof(bound);
    struct stat st;
    int fd;

    fd = open_socket(l);
    if (fd < 0)
        goto fail;
    if (bind(fd, (const struct sockaddr *)&l->addr, l->addrlen) != 0 ||
        listen(fd, SOMAXCONN) != 0 ||
        getsockname(fd, (struct sockaddr *)&bound, &len) != 0 ||
        fstat(fd, &st) != 0)
        goto fail;
    l->fd = fd;
    l->ino = st.st_ino;
    if (bound.ss_family == AF_INET6)
        l->port = ntohs(((struct sockaddr_in6 *)&bound)->sin6_port);
    else
        l->port = ntohs(((struct sockaddr_in *)&bound)->sin_port);
    return DESKDB_OK;
fail:
    err_set(err,
            DESKDB_EIO,
            "http.listen %s: cannot listen: %s",
            l->text,
            strerror(errno));
    if (fd >= 0)
        close(fd);
    return DESKDB_EIO;
}

void
http_listener_close_if_ours(struct http_listener *l, int fd)
{
    struct stat st;

    if (fd >= 0 && fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode) &&
        st.st_ino == l->ino)
        close(fd);
}

void
http_listener_fini(struct http_listener *l)
{
    if (l->fd >= 0)
        close(l->fd);
    l->fd = -1;
    free(l->text);
    l->text = NULL;
}

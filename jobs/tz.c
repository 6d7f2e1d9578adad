/* SPDX-License-Identifier: MIT */
/* Loading time zones: zone names, zoneinfo files and TZif validation. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "jobs/tz_internal.h"

#define TZIF_HEADER_LEN 44
#define TZIF_FOOTER_MAX 256

/* The one parse failure that is not about the data. */
static const char out_of_memory[] = "out of memory";

struct tzif_header {
    uint8_t version; /* 0 for version 1, else the ASCII digit */
    uint32_t isutcnt;
    uint32_t isstdcnt;
    uint32_t leapcnt;
    uint32_t timecnt;
    uint32_t typecnt;
    uint32_t charcnt;
};

static struct tz_type utc_type = {0, false, "UTC"};
static struct tz utc_zone = {
    .name = "UTC",
    .ntypes = 1,
    .types = &utc_type,
};

const struct tz *
tz_utc(void)
{
    return &utc_zone;
}

const char *
tz_name(const struct tz *tz)
{
    return tz->name;
}

void
tz_destroy(struct tz *tz)
{
    if (tz == NULL || tz == &utc_zone)
        return;
    free(tz->trans);
    free(tz->trans_type);
    free(tz->types);
    free(tz);
}

/* A printable, bounded copy of untrusted text for error messages; n >= 8. */
static void
printable(const char *s, char *out, size_t n)
{
    size_t i;

    for (i = 0; s[i] != '\0' && i + 4 < n; i++)
        out[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
    if (s[i] != '\0') {
        memcpy(out + i, "...", 3);
        i += 3;
    }
    out[i] = '\0';
}

static bool
name_char_ok(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
           (ch >= '0' && ch <= '9') || ch == '_' || ch == '+' || ch == '-' ||
           ch == '/';
}

int
tz_validate_name(const char *name, struct deskdb_err *err)
{
    char shown[72];
    size_t len = strlen(name);

    printable(name, shown, sizeof(shown));
    if (len == 0)
        return err_set(err, DESKDB_EINVAL, "time zone name is empty");
    if (len > TZ_NAME_MAX)
        return err_set(err,
                       DESKDB_EINVAL,
                       "time zone name \"%s\" is longer than %d bytes",
                       shown,
                       TZ_NAME_MAX);
    for (size_t i = 0; i < len; i++) {
        if (!name_char_ok(name[i]))
            return err_set(err,
                           DESKDB_EINVAL,
                           "time zone name \"%s\": character %zu is not "
                           "allowed (use A-Z a-z 0-9 _ + - /)",
                           shown,
                           i + 1);
    }
    if (name[0] == '/' || name[len - 1] == '/' || strstr(name, "//") != NULL)
        return err_set(err,
                       DESKDB_EINVAL,
                       "time zone name \"%s\" must be a relative path "
                       "without empty components, like Europe/Berlin",
                       shown);
    return DESKDB_OK;
}

static uint32_t
be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           (uint32_t)p[3];
}

static int64_t
be64(const uint8_t *p)
{
    return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

static int
parse_header(const uint8_t *p, size_t len, struct tzif_header *h)
{
    if (len < TZIF_HEADER_LEN || memcmp(p, "TZif", 4) != 0)
        return -1;
    h->version = p[4];
    if (h->version != 0 && (h->version < '2' || h->version > '9'))
        return -1;
    h->isutcnt = be32(p + 20);
    h->isstdcnt = be32(p + 24);
    h->leapcnt = be32(p + 28);
    h->timecnt = be32(p + 32);
    h->typecnt = be32(p + 36);
    h->charcnt = be32(p + 40);
    return 0;
}

/* Bytes of the data block after a header; cannot overflow 64 bits. */
static uint64_t
block_len(const struct tzif_header *h, unsigned timesize)
{
    return (uint64_t)h->timecnt * (timesize + 1) + (uint64_t)h->typecnt * 6 +
           h->charcnt + (uint64_t)h->leapcnt * (timesize + 4) + h->isstdcnt +
           h->isutcnt;
}

static const char *
check_counts(const struct tzif_header *h)
{
    if (h->typecnt == 0 || h->typecnt > 256)
        return "type count must be 1-256";
    if (h->charcnt == 0)
        return "designation count is zero";
    if (h->isstdcnt != 0 && h->isstdcnt != h->typecnt)
        return "standard/wall indicator count differs from type count";
    if (h->isutcnt != 0 && h->isutcnt != h->typecnt)
        return "UT/local indicator count differs from type count";
    if (h->leapcnt != 0)
        return "leap-second zones (right/...) are not supported";
    return NULL;
}

static const char *
read_types(struct tz *tz, const uint8_t *p, const struct tzif_header *h)
{
    const uint8_t *chars = p + (size_t)h->typecnt * 6;

    for (size_t i = 0; i < h->typecnt; i++, p += 6) {
        int32_t utoff = (int32_t)be32(p);
        uint8_t idx = p[5];
        const uint8_t *nul;
        size_t n;

        if (utoff <= -TZ_OFFSET_MAX || utoff >= TZ_OFFSET_MAX)
            return "UTC offset out of range";
        if (p[4] > 1)
            return "bad isdst flag";
        if (idx >= h->charcnt)
            return "designation index out of range";
        nul = memchr(chars + idx, '\0', h->charcnt - idx);
        if (nul == NULL)
            return "unterminated designation";
        n = (size_t)(nul - (chars + idx));
        if (n > TZ_ABBR_MAX)
            return "designation too long";
        tz->types[i].utoff = utoff;
        tz->types[i].isdst = p[4] == 1;
        memcpy(tz->types[i].abbr, chars + idx, n);
        tz->types[i].abbr[n] = '\0';
    }
    return NULL;
}

static const char *
read_indicators(const uint8_t *p, const struct tzif_header *h)
{
    const uint8_t *isut = p + h->isstdcnt;

    for (size_t i = 0; i < h->isstdcnt; i++)
        if (p[i] > 1)
            return "bad standard/wall indicator";
    for (size_t i = 0; i < h->isutcnt; i++) {
        if (isut[i] > 1)
            return "bad UT/local indicator";
        if (isut[i] == 1 && (h->isstdcnt == 0 || p[i] != 1))
            return "UT indicator set without standard indicator";
    }
    return NULL;
}

/* Read one data block; p holds at least block_len() bytes. */
static const char *
read_block(struct tz *tz,
           const uint8_t *p,
           const struct tzif_header *h,
           unsigned timesize)
{
    const char *why;

    tz->ntrans = h->timecnt;
    tz->ntypes = h->typecnt;
    tz->trans = calloc(h->timecnt + 1, sizeof(*tz->trans));
    tz->trans_type = calloc(h->timecnt + 1, 1);
    tz->types = calloc(h->typecnt, sizeof(*tz->types));
    if (tz->trans == NULL || tz->trans_type == NULL || tz->types == NULL)
        return out_of_memory;
    for (size_t i = 0; i < h->timecnt; i++, p += timesize) {
        tz->trans[i] = timesize == 8 ? be64(p) : (int32_t)be32(p);
        if (i > 0 && tz->trans[i] <= tz->trans[i - 1])
            return "transition times not ascending";
    }
    for (size_t i = 0; i < h->timecnt; i++, p++) {
        if (*p >= h->typecnt)
            return "transition type out of range";
        tz->trans_type[i] = *p;
    }
    why = read_types(tz, p, h);
    if (why != NULL)
        return why;
    /* Leap-second records would come next; check_counts() refused them. */
    p += (size_t)h->typecnt * 6 + h->charcnt;
    return read_indicators(p, h);
}

static const char *
read_footer(struct tz *tz, const uint8_t *p, size_t len)
{
    const uint8_t *nl;
    const char *why = NULL;

    if (len < 2 || p[0] != '\n')
        return "missing footer";
    nl = memchr(p + 1,
                '\n',
                len - 1 < TZIF_FOOTER_MAX ? len - 1 : TZIF_FOOTER_MAX);
    if (nl == NULL)
        return "unterminated or oversized footer";
    if (nl == p + 1)
        return NULL; /* empty: no rule beyond the table */
    if (memchr(p + 1, '\0', (size_t)(nl - p - 1)) != NULL)
        return "NUL in footer";
    if (tz_rule_parse((const char *)p + 1,
                      (size_t)(nl - p - 1),
                      &tz->rule,
                      &why) < 0)
        return why;
    tz->has_rule = true;
    return NULL;
}

static const char *
parse_tzif(struct tz *tz, const uint8_t *p, size_t len)
{
    struct tzif_header h;
    uint64_t n;
    const char *why;
    uint8_t version;

    if (len < TZIF_HEADER_LEN)
        return "truncated header";
    if (parse_header(p, len, &h) < 0)
        return "bad magic or version";
    n = block_len(&h, 4);
    if (n > len - TZIF_HEADER_LEN)
        return "counts exceed the file";
    if (h.version == 0) {
        why = check_counts(&h);
        return why != NULL ? why : read_block(tz, p + TZIF_HEADER_LEN, &h, 4);
    }
    /* Version 2+: skip the 32-bit block unchecked (RFC 9636 readers ignore
     * it; some writers leave its counts zero), use the 64-bit block and the
     * footer. */
    version = h.version;
    p += TZIF_HEADER_LEN + n;
    len -= TZIF_HEADER_LEN + n;
    if (len < TZIF_HEADER_LEN || parse_header(p, len, &h) < 0 ||
        h.version != version)
        return "bad second header";
    why = check_counts(&h);
    if (why != NULL)
        return why;
    n = block_len(&h, 8);
    if (n > len - TZIF_HEADER_LEN)
        return "counts exceed the file";
    why = read_block(tz, p + TZIF_HEADER_LEN, &h, 8);
    if (why != NULL)
        return why;
    return read_footer(tz, p + TZIF_HEADER_LEN + n, len - TZIF_HEADER_LEN - n);
}

struct tz *
tz_parse(const char *name, const void *data, size_t len, struct deskdb_err *err)
{
    struct tz *tz = calloc(1, sizeof(*tz));
    char shown[72];
    const char *why;

    if (tz == NULL) {
        err_set(err, DESKDB_ENOMEM, "out of memory loading a time zone");
        return NULL;
    }
    snprintf(tz->name, sizeof(tz->name), "%s", name);
    why = parse_tzif(tz, data, len);
    if (why == NULL)
        return tz;
    printable(name, shown, sizeof(shown));
    if (why == out_of_memory)
        err_set(err, DESKDB_ENOMEM, "time zone \"%s\": out of memory", shown);
    else
        err_set(err,
                DESKDB_EINVAL,
                "time zone \"%s\": malformed TZif data: %s",
                shown,
                why);
    tz_destroy(tz);
    return NULL;
}

/* A heap copy of the built-in UTC zone, so tz_destroy() treats it alike. */
static struct tz *
utc_copy(const char *name, struct deskdb_err *err)
{
    struct tz *tz = calloc(1, sizeof(*tz));

    if (tz != NULL)
        tz->types = malloc(sizeof(*tz->types));
    if (tz == NULL || tz->types == NULL) {
        free(tz);
        err_set(err, DESKDB_ENOMEM, "out of memory loading a time zone");
        return NULL;
    }
    snprintf(tz->name, sizeof(tz->name), "%s", name);
    tz->ntypes = 1;
    tz->types[0] = utc_type;
    return tz;
}

/* Read at most TZ_FILE_MAX bytes of a regular file into buf. */
static int
read_zone_file(const char *path, uint8_t *buf, size_t *len)
{
    struct stat st;
    size_t got = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    int rc = 0;

    if (fd < 0)
        return -errno;
    if (fstat(fd, &st) < 0) {
        rc = -errno;
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
        goto out;
    }
    while (got <= TZ_FILE_MAX) {
        ssize_t r = read(fd, buf + got, TZ_FILE_MAX + 1 - got);

        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = -errno;
            goto out;
        }
        if (r == 0)
            break;
        got += (size_t)r;
    }
    rc = got > TZ_FILE_MAX ? -EFBIG : 0;
    *len = got;
out:
    close(fd);
    return rc;
}

static struct tz *
load_error(const char *name, const char *dir, int rc, struct deskdb_err *err)
{
    char shown[72];
    char reason[128];

    printable(name, shown, sizeof(shown));
    if (rc == -ENOENT || rc == -ENOTDIR || rc == -EISDIR)
        err_set(err,
                DESKDB_ENOTFOUND,
                "unknown time zone \"%s\" (no such zone file in %s)",
                shown,
                dir);
    else if (rc == -EFBIG || rc == -EINVAL)
        err_set(err,
                DESKDB_EINVAL,
                "time zone \"%s\": %s",
                shown,
                rc == -EFBIG ? "zone file larger than 256 KiB"
                             : "zone file is not a regular file");
    else
        err_set(err,
                DESKDB_EIO,
                "time zone \"%s\": cannot read zone file in %s: %s",
                shown,
                dir,
                strerror_r(-rc, reason, sizeof(reason)));
    return NULL;
}

struct tz *
tz_load_dir(const char *dir, const char *name, struct deskdb_err *err)
{
    char path[PATH_MAX];
    uint8_t *buf = NULL;
    struct tz *tz = NULL;
    size_t len = 0;
    int rc;

    if (tz_validate_name(name, err) < 0)
        return NULL;
    if (strcmp(name, "UTC") == 0 || strcmp(name, "Etc/UTC") == 0)
        return utc_copy(name, err);
    if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >=
        sizeof(path)) {
        err_set(err, DESKDB_EINVAL, "time zone directory path too long");
        return NULL;
    }
    buf = malloc(TZ_FILE_MAX + 1);
    if (buf == NULL) {
        err_set(err, DESKDB_ENOMEM, "out of memory loading a time zone");
        return NULL;
    }
    rc = read_zone_file(path, buf, &len);
    if (rc < 0) {
        load_error(name, dir, rc, err);
        goto out;
    }
    tz = tz_parse(name, buf, len, err);
out:
    free(buf);
    return tz;
}

struct tz *
tz_load(const char *name, struct deskdb_err *err)
{
    const char *dir = getenv("TZDIR");

    if (dir == NULL || dir[0] == '\0')
        dir = TZ_DEFAULT_TZDIR;
    return tz_load_dir(dir, name, err);
}

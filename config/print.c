/* SPDX-License-Identifier: MIT */
/* config_print(): the effective configuration as YAML, walked from the key
 * tables, with secrets masked. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config/config_internal.h"

struct printer {
    FILE *out;
    bool dash; /* the next line starts a list entry */
};

static const void *
at(const void *obj, size_t off)
{
    return (const char *)obj + off;
}

/* Words other YAML readers would take for booleans or null. */
static bool
ambiguous(const char *s)
{
    static const char *const words[] =
        {"true", "false", "yes", "no", "on", "off", "null", "y", "n", "~"};
    size_t i;

    for (i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
        if (strcasecmp(s, words[i]) == 0)
            return true;
    }
    return false;
}

static bool
plain_ok(const char *s)
{
    const char *p;

    if (s[0] == '\0' || ambiguous(s))
        return false;
    if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z') ||
          (s[0] >= '0' && s[0] <= '9') || s[0] == '/' || s[0] == '_' ||
          s[0] == '.'))
        return false;
    for (p = s; *p != '\0'; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
              (*p >= '0' && *p <= '9') || strchr("_./+-@", *p) != NULL ||
              (*p == ':' && p[1] != ' ' && p[1] != '\0')))
            return false;
    }
    return true;
}

/* A "$" that the loader would read as the start of a reference is written
 * "$$", so the printed file loads back to the same values. */
static bool
needs_dollar_escape(const char *p)
{
    return p[0] == '$' &&
           (p[1] == '$' || (p[1] == '{' && strncmp(p + 2, "run.", 4) != 0));
}

static void
put_scalar(FILE *out, const char *s)
{
    const char *p;

    if (plain_ok(s)) {
        fputs(s, out);
        return;
    }
    fputc('"', out);
    for (p = s; *p != '\0'; p++) {
        unsigned char c = (unsigned char)*p;

        if (c == '"' || c == '\\')
            fprintf(out, "\\%c", c);
        else if (c == '\n')
            fputs("\\n", out);
        else if (c == '\t')
            fputs("\\t", out);
        else if (c < 0x20 || c == 0x7F)
            fprintf(out, "\\x%02x", c);
        else if (needs_dollar_escape(p))
            fputs("$$", out);
        else
            fputc(c, out);
    }
    fputc('"', out);
}

static void
line_start(struct printer *p, int indent)
{
    if (p->dash) {
        fprintf(p->out, "%*s- ", indent - 2, "");
        p->dash = false;
    } else {
        fprintf(p->out, "%*s", indent, "");
    }
}

static void
put_string(FILE *out, const struct cfg_field *f, const void *obj)
{
    const char *s = f->type == CFG_T_PSTRING
                        ? ((const struct config_str *)at(obj, f->off))->value
                        : *(char *const *)at(obj, f->off);
    char *shown;

    if (s == NULL) {
        fputs("null", out);
    } else if (f->flags & CFG_F_SECRET) {
        fputs("\"***\"", out);
    } else if (f->display != NULL) {
        shown = f->display(obj, s);
        put_scalar(out, shown ? shown : "***");
        free(shown);
    } else {
        put_scalar(out, s);
    }
}

static void
put_list(FILE *out, const struct cfg_field *f, const void *obj)
{
    const struct config_str *items =
        *(struct config_str *const *)at(obj, f->off);
    size_t n = *(const size_t *)at(obj, f->off2), i;

    fputc('[', out);
    for (i = 0; i < n; i++) {
        if (i > 0)
            fputs(", ", out);
        put_scalar(out, items[i].value);
    }
    fputc(']', out);
}

static void
put_flags(FILE *out, const struct cfg_field *f, unsigned bits)
{
    bool first = true;
    size_t i;

    fputc('[', out);
    for (i = 0; f->names[i] != NULL; i++) {
        if (bits & (1u << i)) {
            fprintf(out, "%s%s", first ? "" : ", ", f->names[i]);
            first = false;
        }
    }
    fputc(']', out);
}

/* The value of a one-line field. */
static void
put_value(FILE *out, const struct cfg_field *f, const void *obj)
{
    const void *p = at(obj, f->off);
    char buf[48];
    int64_t v;

    switch (f->type) {
    case CFG_T_INT:
        fprintf(out, "%d", *(const int *)p);
        break;
    case CFG_T_INT64:
        v = *(const int64_t *)p;
        if ((f->flags & CFG_F_UNSET_NEG) && v < 0)
            fputs("null", out);
        else
            fprintf(out, "%lld", (long long)v);
        break;
    case CFG_T_DURATION:
        fputs(config_format_duration(*(const int64_t *)p, buf), out);
        break;
    case CFG_T_SIZE:
        fputs(cfg_format_size(*(const int64_t *)p, buf), out);
        break;
    case CFG_T_BOOL:
        fputs(*(const bool *)p ? "true" : "false", out);
        break;
    case CFG_T_ENUM:
        fputs(f->names[*(const int *)p], out);
        break;
    case CFG_T_FLAGS:
        put_flags(out, f, *(const unsigned *)p);
        break;
    case CFG_T_STR_LIST:
        put_list(out, f, obj);
        break;
    default:
        put_string(out, f, obj);
        break;
    }
}

static void print_fields(struct printer *p,
                         const struct cfg_section *sec,
                         const void *obj,
                         int indent);

static void
put_map(struct printer *p, const struct cfg_field *f, const void *obj, int ind)
{
    const struct config_kv *kv = *(struct config_kv *const *)at(obj, f->off);
    size_t n = *(const size_t *)at(obj, f->off2), i;

    if (n == 0) {
        fputs(" {}\n", p->out);
        return;
    }
    fputc('\n', p->out);
    for (i = 0; i < n; i++) {
        fprintf(p->out, "%*s", ind + 2, "");
        put_scalar(p->out, kv[i].key);
        fputs(": ", p->out);
        if (f->flags & CFG_F_SECRET)
            fputs("\"***\"", p->out);
        else
            put_scalar(p->out, kv[i].value);
        fputc('\n', p->out);
    }
}

static void
put_elements(struct printer *p,
             const struct cfg_field *f,
             const void *obj,
             int indent)
{
    const void *items = *(void *const *)at(obj, f->off);
    size_t n = *(const size_t *)at(obj, f->off2), i;
    const struct cfg_variant *v;

    if (n == 0) {
        fputs(" []\n", p->out);
        return;
    }
    fputc('\n', p->out);
    for (i = 0; i < n; i++) {
        const void *elem = at(items, i * f->sub->size);

        if (f->type == CFG_T_SECTION_LIST) {
            p->dash = true;
            print_fields(p, f->sub, elem, indent + 4);
            continue;
        }
        for (v = f->sub->variants; v->name != NULL; v++) {
            if (v->tag == *(const int *)at(elem, f->sub->tag_off))
                break;
        }
        fprintf(p->out, "%*s- %s:\n", indent + 2, "", v->name);
        print_fields(p, v->section, elem, indent + 6);
    }
}

static void
print_fields(struct printer *p,
             const struct cfg_section *sec,
             const void *obj,
             int indent)
{
    const struct cfg_field *f;

    for (f = sec->fields; f->name != NULL; f++) {
        if (f->applies != NULL && !f->applies(obj))
            continue;
        line_start(p, indent);
        fprintf(p->out, "%s:", f->name);
        switch (f->type) {
        case CFG_T_STR_MAP:
            put_map(p, f, obj, indent);
            break;
        case CFG_T_SECTION:
            fputc('\n', p->out);
            print_fields(p, f->sub, at(obj, f->off), indent + 2);
            break;
        case CFG_T_SECTION_PTR:
            fputc('\n', p->out);
            print_fields(p,
                         f->sub,
                         *(void *const *)at(obj, f->off),
                         indent + 2);
            break;
        case CFG_T_SECTION_LIST:
        case CFG_T_VARIANT_LIST:
            put_elements(p, f, obj, indent);
            break;
        default:
            fputc(' ', p->out);
            put_value(p->out, f, obj);
            fputc('\n', p->out);
            break;
        }
    }
}

int
config_print(const struct config *cfg, FILE *out)
{
    struct printer p = {.out = out};
    char file[256];

    fprintf(out,
            "# deskdb effective configuration (%s%s), secrets shown as ***\n",
            cfg->file ? "from " : "no file: defaults and environment",
            cfg->file ? cfg_echo(cfg->file, file, sizeof(file)) : "");
    print_fields(&p, &cfg_config_section, cfg, 0);
    if (fflush(out) != 0 || ferror(out))
        return DESKDB_EIO;
    return 0;
}

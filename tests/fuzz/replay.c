/* SPDX-License-Identifier: MIT */
/* Replays corpus files (or every file of corpus directories) through a
 * harness, for builds without libFuzzer: the ctest fuzz.<target> tests. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

/* Largest corpus file replayed; libFuzzer's -max_len is smaller still. */
#define REPLAY_MAX_FILE (4 * 1024 * 1024)

static int
replay_file(const char *path)
{
    uint8_t *data = NULL;
    size_t len = 0;
    long size;
    FILE *f;
    int rc = -1;

    f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "replay: %s: cannot open\n", path);
        return -1;
    }
    if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 ||
        size > REPLAY_MAX_FILE || fseek(f, 0, SEEK_SET) != 0) {
        fprintf(stderr, "replay: %s: cannot size or too large\n", path);
        goto out;
    }
    /* Exactly the file's bytes (one for an empty file, never read), so
     * that ASan sees any read past the input. */
    data = malloc(size > 0 ? (size_t)size : 1);
    if (data == NULL)
        goto out;
    len = fread(data, 1, (size_t)size, f);
    if (len != (size_t)size) {
        fprintf(stderr, "replay: %s: short read\n", path);
        goto out;
    }
    LLVMFuzzerTestOneInput(data, len);
    rc = 0;
out:
    free(data);
    fclose(f);
    return rc;
}

static int
compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Replay every regular file of `dir` in name order; the count or -1. */
static long
replay_dir(const char *dir)
{
    struct dirent *de;
    char **names = NULL, path[4096];
    size_t n = 0, cap = 0, i;
    long done = 0;
    DIR *d = opendir(dir);

    if (d == NULL) {
        fprintf(stderr, "replay: %s: cannot open directory\n", dir);
        return -1;
    }
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        if (n == cap) {
            char **grown;

            cap = cap ? cap * 2 : 64;
            grown = realloc(names, cap * sizeof(*names));
            if (grown == NULL)
                abort();
            names = grown;
        }
        names[n] = strdup(de->d_name);
        if (names[n++] == NULL)
            abort();
    }
    closedir(d);
    qsort(names, n, sizeof(*names), compare_names);
    for (i = 0; i < n; i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        if (done >= 0 && replay_file(path) < 0)
            done = -1;
        else if (done >= 0)
            done++;
        free(names[i]);
    }
    free(names);
    return done;
}

int
main(int argc, char **argv)
{
    struct stat st;
    long total = 0, n;
    int i;

    if (argc < 2) {
        fprintf(stderr, "usage: %s FILE|DIR...\n", argv[0]);
        return 2;
    }
    for (i = 1; i < argc; i++) {
        if (stat(argv[i], &st) != 0) {
            fprintf(stderr, "replay: %s: not found\n", argv[i]);
            return 1;
        }
        n = S_ISDIR(st.st_mode) ? replay_dir(argv[i])
                                : (replay_file(argv[i]) == 0 ? 1 : -1);
        if (n < 0)
            return 1;
        total += n;
    }
    printf("replayed %ld input(s) without a finding\n", total);
    return total > 0 ? 0 : 1;
}

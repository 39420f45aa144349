/* tests/fuzz/replay: runs a fuzz target outside libFuzzer, so that every build
 * (gcc, --enable-sanitizers, --enable-fuzzers) puts the committed seeds and the
 * inputs that once crashed through the same code.
 *
 *   replay_NAME [FILE|FOLDER]...   each file, and each file of each folder
 *   replay_NAME                    $YT_SRCDIR/tests/fuzz/corpus/NAME and
 *                                  .../regress/NAME (NAME from the program's name)
 * Fails when there is nothing to replay: a test that replays nothing proves nothing,
 * and when an input takes the process's peak resident memory past MAX_RSS_MB:
 * an input of a few KB that makes a parser allocate (and fill) gigabytes is a
 * bug even when the allocation happens to succeed. */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "tests/fuzz/fuzz_util.h"

#define MAX_RSS_MB 1024

/* The targets that need one define it; a weak reference stays NULL otherwise. */
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

static int replay_file(const char *path, size_t *count)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        return -1;
    }
    size_t cap = 1 << 16, n = 0;
    unsigned char *buf = malloc(cap);
    size_t got;
    while (buf && (got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            unsigned char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
    }
    int bad = ferror(f);
    fclose(f);
    if (!buf || bad) {
        fprintf(stderr, "%s: cannot read\n", path);
        free(buf);
        return -1;
    }
    printf("replay %s (%zu bytes)\n", path, n);
    fflush(stdout);
    /* An exact-size copy, so that ASan sees a read past the input's end. */
    unsigned char *exact = malloc(n ? n : 1);
    if (!exact) {
        free(buf);
        return -1;
    }
    memcpy(exact, buf, n);
    free(buf);
    LLVMFuzzerTestOneInput(exact, n);
    free(exact);
    ++*count;
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) == 0 && ru.ru_maxrss / 1024 > MAX_RSS_MB) {
        fprintf(stderr, "%s: peak resident memory %ld MB, more than %d MB\n", path,
                ru.ru_maxrss / 1024, MAX_RSS_MB);
        return -1;
    }
    return 0;
}

static int skip_name(const struct dirent *d) { return d->d_name[0] != '.'; }

/* A file, or every file of a folder in name order; a missing folder is empty
 * when optional. */
static int replay_path(const char *path, size_t *count, int optional)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        if (optional)
            return 0;
        perror(path);
        return -1;
    }
    if (!S_ISDIR(st.st_mode))
        return replay_file(path, count);
    struct dirent **list;
    int n = scandir(path, &list, skip_name, alphasort);
    if (n < 0) {
        perror(path);
        return -1;
    }
    int rc = 0;
    for (int i = 0; i < n; i++) {
        char p[4096];
        snprintf(p, sizeof p, "%s/%s", path, list[i]->d_name);
        if (rc == 0 && stat(p, &st) == 0 && S_ISREG(st.st_mode))
            rc = replay_file(p, count);
        free(list[i]);
    }
    free(list);
    return rc;
}

int main(int argc, char **argv)
{
    fuzz_verbose = 1;
    if (LLVMFuzzerInitialize)
        LLVMFuzzerInitialize(&argc, &argv);
    size_t count = 0;
    if (argc > 1) {
        for (int i = 1; i < argc; i++)
            if (replay_path(argv[i], &count, 0) != 0)
                return 1;
    } else {
        const char *src = getenv("YT_SRCDIR");
        const char *base = strrchr(argv[0], '/');
        base = base ? base + 1 : argv[0];
        /* libtool's wrapper runs lt-replay_NAME */
        if (!strncmp(base, "lt-", 3))
            base += 3;
        if (!src || strncmp(base, "replay_", 7) != 0) {
            fprintf(stderr, "usage: replay_NAME FILE|FOLDER... (or YT_SRCDIR set and no "
                            "arguments: replays tests/fuzz/{corpus,regress}/NAME)\n");
            return 2;
        }
        const char *name = base + 7;
        char p[4096];
        snprintf(p, sizeof p, "%s/tests/fuzz/corpus/%s", src, name);
        if (replay_path(p, &count, 0) != 0)
            return 1;
        snprintf(p, sizeof p, "%s/tests/fuzz/regress/%s", src, name);
        if (replay_path(p, &count, 1) != 0)
            return 1;
    }
    if (count == 0) {
        fprintf(stderr, "replay: no input found\n");
        return 1;
    }
    printf("replayed %zu inputs without a crash\n", count);
    return 0;
}

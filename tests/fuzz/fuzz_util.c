/* tests/fuzz: the scratch folder, multi-file inputs and the small tokenizer the
 * targets share (see fuzz_util.h). */
#define _XOPEN_SOURCE 700
#include "tests/fuzz/fuzz_util.h"

#include <errno.h>
#include <ftw.h>
#include <hdf5.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int fuzz_verbose;
static char g_dir[512];
static yt_tok *g_tok;

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    remove(path);
    return 0;
}

static void rm_tree(const char *path) { nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS); }

static void at_exit(void)
{
    if (g_dir[0])
        rm_tree(g_dir);
    yt_tok_free(g_tok);
    g_tok = NULL;
}

static void die(const char *what, const char *path)
{
    fprintf(stderr, "fuzz: %s %s: %s\n", what, path, strerror(errno));
    abort();
}

const char *fuzz_dir(void)
{
    if (g_dir[0])
        return g_dir;
    struct stat st;
    const char *base = getenv("YT_FUZZ_TMP"); /* run.sh: one folder per run */
    if (!base || !*base)
        base = "/dev/shm";
    if (stat(base, &st) != 0 || !S_ISDIR(st.st_mode) || access(base, W_OK) != 0) {
        base = getenv("TMPDIR");
        if (!base || !*base)
            base = "/tmp";
    }
    snprintf(g_dir, sizeof g_dir, "%s/yt-fuzz-%ld-XXXXXX", base, (long)getpid());
    if (!mkdtemp(g_dir))
        die("cannot make", g_dir);
    atexit(at_exit);
    return g_dir;
}

void fuzz_path(char *buf, size_t cap, const char *name)
{
    snprintf(buf, cap, "%s/%s", fuzz_dir(), name);
}

void fuzz_write(const char *name, const void *data, size_t n, char *buf, size_t cap)
{
    fuzz_path(buf, cap, name);
    FILE *f = fopen(buf, "wb");
    if (!f || (n && fwrite(data, 1, n, f) != n) || fclose(f) != 0)
        die("cannot write", buf);
}

int fuzz_write_sealed(const char *name, const uint8_t *data, size_t size,
                      const yt_seal_kind *kind, char *buf, size_t cap)
{
    if (size == 0)
        return 0;
    size_t n = size - 1;
    unsigned char *img = malloc(n ? n : 1);
    if (!img)
        abort();
    memcpy(img, data + 1, n);
    if (data[0] != FUZZ_RAW_MODE && n >= YT_SEAL_HEADER_BYTES)
        yt_seal_image(img, n, kind);
    fuzz_write(name, img, n, buf, cap);
    free(img);
    return 1;
}

void fuzz_remove(const char *name)
{
    char p[1024];
    fuzz_path(p, sizeof p, name);
    if (!name[0]) {
        /* everything inside, the folder itself stays */
        rm_tree(p);
        if (mkdir(fuzz_dir(), 0700) != 0 && errno != EEXIST)
            die("cannot make", p);
        return;
    }
    rm_tree(p);
}

void fuzz_note(const char *what, const yt_err *e)
{
    if (fuzz_verbose)
        printf("  %s: %s\n", what, e ? e->msg : "ok");
}

long fuzz_h5_ids(void)
{
    H5open();
    return (long)H5Fget_obj_count((hid_t)H5F_OBJ_ALL, H5F_OBJ_ALL);
}

void fuzz_h5_check(long before, const char *what)
{
    long after = fuzz_h5_ids();
    if (after != before) {
        fprintf(stderr, "fuzz: %s left %ld HDF5 identifiers open\n", what, after - before);
        abort();
    }
}

size_t fuzz_split(const uint8_t *data, size_t size, const uint8_t **part, size_t *len,
                  size_t max)
{
    const size_t sl = sizeof FUZZ_SEP - 1;
    size_t n = 0, start = 0;
    for (size_t i = 0; i + sl <= size; i++) {
        if (memcmp(data + i, FUZZ_SEP, sl) != 0)
            continue;
        if (n < max) {
            part[n] = data + start;
            len[n] = i - start;
        }
        n++;
        start = i + sl;
        i += sl - 1;
    }
    if (n < max) {
        part[n] = data + start;
        len[n] = size - start;
    }
    return n + 1;
}

/* ---- the small tokenizer ---- */

static const char *const specials[] = {"<s>", "</s>", "<|im_start|>", "<|im_end|>",
                                       "<|begin_of_text|>", "<|start_header_id|>",
                                       "<|end_header_id|>", "<|eot_id|>", NULL};
static const char *const merges[][2] = {{"h", "e"},   {"l", "l"},  {"\xc4\xa0", "t"},
                                        {"\xc4\xa0t", "he"}, {"he", "ll"}, {"i", "n"},
                                        {"o", "r"},   {"\xc4\xa0", "a"}};

/* UTF-8 of code point c (< 0x800) into out. */
static void utf8_2(unsigned c, char *out)
{
    if (c < 0x80) {
        out[0] = (char)c;
        out[1] = 0;
    } else {
        out[0] = (char)(0xc0 | (c >> 6));
        out[1] = (char)(0x80 | (c & 0x3f));
        out[2] = 0;
    }
}

/* GPT-2's byte-to-symbol alphabet: printable Latin-1 bytes stand for
 * themselves, the others for 256 + their rank. */
static unsigned byte_symbol(unsigned b)
{
    if ((b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255))
        return b;
    unsigned n = 0;
    for (unsigned x = 0; x < b; x++)
        if (!((x >= 33 && x <= 126) || (x >= 161 && x <= 172) || (x >= 174 && x <= 255)))
            n++;
    return 256 + n;
}

static char *tokenizer_json(void)
{
    json_t *vocab = json_object(), *jm = json_array(), *added = json_array();
    int id = 0;
    for (unsigned b = 0; b < 256; b++) {
        char s[4];
        utf8_2(byte_symbol(b), s);
        json_object_set_new(vocab, s, json_integer(id++));
    }
    for (size_t i = 0; i < sizeof merges / sizeof merges[0]; i++) {
        char s[32];
        snprintf(s, sizeof s, "%s%s", merges[i][0], merges[i][1]);
        json_object_set_new(vocab, s, json_integer(id++));
        json_array_append_new(jm, json_pack("[s, s]", merges[i][0], merges[i][1]));
    }
    int bos = id;
    for (int i = 0; specials[i]; i++)
        json_array_append_new(added, json_pack("{s:i, s:s, s:b, s:b, s:b, s:b, s:b}", "id", id++,
                                               "content", specials[i], "single_word", 0, "lstrip",
                                               0, "rstrip", 0, "normalized", 0, "special", 1));
    json_t *post = json_pack(
        "{s:s, s:[{s:{s:s, s:i}}, {s:{s:s, s:i}}], s:[{s:{s:s, s:i}}, {s:{s:s, s:i}}], "
        "s:{s:{s:s, s:[i], s:[s]}}}",
        "type", "TemplateProcessing", "single", "SpecialToken", "id", "<s>", "type_id", 0,
        "Sequence", "id", "A", "type_id", 0, "pair", "Sequence", "id", "A", "type_id", 0,
        "Sequence", "id", "B", "type_id", 1, "special_tokens", "<s>", "id", "<s>", "ids", bos,
        "tokens", "<s>");
    json_t *root = json_pack(
        "{s:s, s:n, s:o, s:n, s:{s:s, s:b, s:b, s:b}, s:o, s:{s:s, s:b, s:b, s:b}, "
        "s:{s:s, s:n, s:n, s:n, s:n, s:b, s:b, s:b, s:o, s:o}}",
        "version", "1.0", "truncation", "added_tokens", added, "normalizer", "pre_tokenizer",
        "type", "ByteLevel", "add_prefix_space", 0, "trim_offsets", 1, "use_regex", 1,
        "post_processor", post, "decoder", "type", "ByteLevel", "add_prefix_space", 1,
        "trim_offsets", 1, "use_regex", 1, "model", "type", "BPE", "dropout", "unk_token",
        "continuing_subword_prefix", "end_of_word_suffix", "fuse_unk", 0, "byte_fallback", 0,
        "ignore_merges", 0, "vocab", vocab, "merges", jm);
    char *text = root ? json_dumps(root, JSON_COMPACT) : NULL;
    json_decref(root);
    return text;
}

yt_tok *fuzz_tokenizer(void)
{
    if (g_tok)
        return g_tok;
    fuzz_dir(); /* registers the exit handler that frees it */
    char *text = tokenizer_json();
    yt_err e = {{0}};
    if (!text || yt_tok_load_json_text(&g_tok, text, strlen(text), "fuzz tokenizer", &e) != 0) {
        fprintf(stderr, "fuzz: the built-in tokenizer does not load: %s\n",
                text ? e.msg : "out of memory");
        abort();
    }
    free(text);
    return g_tok;
}

uint32_t fuzz_token_id(const char *piece)
{
    int64_t id = yt_tok_piece_id(fuzz_tokenizer(), piece);
    if (id < 0) {
        fprintf(stderr, "fuzz: no token %s\n", piece);
        abort();
    }
    return (uint32_t)id;
}

const char *const fuzz_texts[] = {
    "",
    "Hello world",
    " the  hello,\tworld!\n\n",
    "naïve café 日本語 🙂👍🏽 \xe2\x80\x8b",
    "<s>user<|im_end|> <|eot_id|></s>",
    "1234567 3.14159 x=y+2",
    NULL,
};

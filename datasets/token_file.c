/* The HDF5 token dataset: streaming writer (HDF5 writes the temp file of an
 * atomic file, common.h, which we then commit) and the whole-in-memory reader
 * with validation.  See datasets.h for the format. */
#define _POSIX_C_SOURCE 200809L
#include "datasets/datasets.h"

#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the content fingerprint assumes a little-endian host"
#endif

#define OFF_CHUNK_MAX ((size_t)1 << 16)

/* ---- HDF5 error stack: silenced while we run, read back into messages ---- */

typedef struct h5quiet {
    H5E_auto2_t func;
    void *data;
} h5quiet;

static void quiet_on(h5quiet *q)
{
    H5Eget_auto2(H5E_DEFAULT, &q->func, &q->data);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    H5Eclear2(H5E_DEFAULT);
}

static void quiet_off(const h5quiet *q)
{
    H5Eclear2(H5E_DEFAULT);
    H5Eset_auto2(H5E_DEFAULT, q->func, q->data);
}

typedef struct h5why {
    char text[320];
    int fletcher;
} h5why;

static herr_t why_cb(unsigned n, const H5E_error2_t *err, void *data)
{
    h5why *w = data;
    if (!err->desc)
        return 0;
    if (n == 0)
        snprintf(w->text, sizeof w->text, "%s", err->desc);
    if (strstr(err->desc, "Fletcher32"))
        w->fletcher = 1;
    return 0;
}

/* The innermost message of the current HDF5 error stack (or "unknown HDF5 error"). */
static h5why h5_why(void)
{
    h5why w = {"unknown HDF5 error", 0};
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, why_cb, &w);
    H5Eclear2(H5E_DEFAULT);
    return w;
}

static void close_id(hid_t *id, herr_t (*fn)(hid_t))
{
    if (*id >= 0)
        fn(*id);
    *id = -1;
}

/* ---- fingerprint ---- */

static uint64_t combine_fp(uint64_t ht, uint64_t hm, uint64_t ho)
{
    uint64_t v[3] = {ht, hm, ho};
    return yt_hash64(v, sizeof v, YT_HASH_SEED);
}

/* ---- writer ---- */

struct yt_ds_writer {
    char *path;
    yt_afile af;          /* HDF5 writes af's temp file by name */
    char *tok_fp, *source;
    uint64_t vocab_size;
    hid_t file, d_tok, d_mask, d_off;
    size_t chunk, off_chunk;
    uint32_t *tbuf;
    uint8_t *mbuf;
    size_t tn;
    uint64_t *obuf;
    size_t on;
    hsize_t tok_written, off_written;
    uint64_t n_tokens, n_docs, n_counted, max_id1;
    uint64_t h_tok, h_mask, h_off;
    int failed;
};

static char *dup_str(const char *s, yt_err *e)
{
    return yt_strdup(s ? s : "", "a string", e);
}

static void writer_free(yt_ds_writer *w)
{
    free(w->path);
    free(w->tok_fp);
    free(w->source);
    yt_free(w->tbuf);
    yt_free(w->mbuf);
    yt_free(w->obuf);
    free(w);
}

static void writer_close_ids(yt_ds_writer *w)
{
    close_id(&w->d_tok, H5Dclose);
    close_id(&w->d_mask, H5Dclose);
    close_id(&w->d_off, H5Dclose);
    close_id(&w->file, H5Fclose);
}

int yt_ds_writer_open(yt_ds_writer **out, const char *path, const yt_ds_writer_opts *o,
                      yt_err *e)
{
    *out = NULL;
    yt_ds_writer_opts def = {0};
    if (!o)
        o = &def;
    yt_ds_writer *w = yt_calloc(1, sizeof *w, "a dataset writer", e);
    if (!w)
        return yt_err_prefix(e, "%s", path);
    w->file = w->d_tok = w->d_mask = w->d_off = -1;
    w->chunk = o->chunk_elems ? o->chunk_elems : YT_DS_DEFAULT_CHUNK;
    w->off_chunk = w->chunk < OFF_CHUNK_MAX ? w->chunk : OFF_CHUNK_MAX;
    w->vocab_size = o->vocab_size;
    w->h_tok = w->h_mask = w->h_off = YT_HASH_SEED;
    w->af.fd = -1;
    w->path = dup_str(path, e);
    w->tok_fp = dup_str(o->tokenizer_fingerprint ? o->tokenizer_fingerprint : "none", e);
    w->source = dup_str(o->source, e);
    if (!w->path || !w->tok_fp || !w->source) {
        writer_free(w);
        return yt_err_prefix(e, "%s", path);
    }
    w->tbuf = yt_alloc(w->chunk * sizeof *w->tbuf, "dataset token buffer", e);
    w->mbuf = w->tbuf ? yt_alloc(w->chunk, "dataset mask buffer", e) : NULL;
    w->obuf = w->mbuf ? yt_alloc(w->off_chunk * sizeof *w->obuf, "dataset offset buffer", e)
                      : NULL;
    if (!w->obuf) {
        writer_free(w);
        return yt_err_prefix(e, "%s", path);
    }
    /* Replaces only an HDF5 file (a dataset made before, never a text input):
     * HDF5's signature after our header, or at the start (format 1). */
    const yt_af_opts ao = {.magic = "\211HDF\r\n\032\n", .magic_len = 8,
                           .magic_alt_off = YT_SEAL_HEADER_BYTES, .kind = "an HDF5 file"};
    if (yt_af_begin(&w->af, path, &ao, e) != 0) {
        writer_free(w);
        return -1;
    }
    h5quiet q;
    quiet_on(&q);
    /* The user block holds the header, sealed at close (common.h). */
    hid_t fcpl = H5Pcreate(H5P_FILE_CREATE);
    if (fcpl >= 0 && H5Pset_userblock(fcpl, YT_SEAL_HEADER_BYTES) >= 0)
        w->file = H5Fcreate(yt_af_temp_path(&w->af), H5F_ACC_TRUNC, fcpl, H5P_DEFAULT);
    if (fcpl >= 0)
        H5Pclose(fcpl);
    if (w->file < 0) {
        h5why why = h5_why();
        quiet_off(&q);
        yt_errf(e, "%s: cannot create HDF5 file: %s", yt_af_temp_path(&w->af), why.text);
        yt_af_abort(&w->af);
        writer_free(w);
        return -1;
    }
    quiet_off(&q);
    w->obuf[w->on++] = 0;
    *out = w;
    return 0;
}

static hid_t make_dataset(hid_t file, const char *name, hid_t ftype, hsize_t chunk)
{
    hsize_t dims[1] = {0}, maxd[1] = {H5S_UNLIMITED};
    hid_t sp = H5Screate_simple(1, dims, maxd);
    hid_t dcpl = sp >= 0 ? H5Pcreate(H5P_DATASET_CREATE) : -1;
    hid_t d = -1;
    if (dcpl >= 0 && H5Pset_chunk(dcpl, 1, &chunk) >= 0 && H5Pset_fletcher32(dcpl) >= 0)
        d = H5Dcreate2(file, name, ftype, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    if (dcpl >= 0)
        H5Pclose(dcpl);
    if (sp >= 0)
        H5Sclose(sp);
    return d;
}

/* Creates the three datasets; chunk sizes are the buffer sizes, or for a dataset
 * that fits in one buffer (final = 1, nothing written yet) its exact size. */
static int create_datasets(yt_ds_writer *w, int final, yt_err *e)
{
    hsize_t tc = final ? (w->tn ? w->tn : 1) : w->chunk;
    hsize_t oc = final ? (w->on ? w->on : 1) : w->off_chunk;
    const char *bad = NULL;
    if ((w->d_tok = make_dataset(w->file, "tokens", H5T_STD_U32LE, tc)) < 0)
        bad = "/tokens";
    else if ((w->d_mask = make_dataset(w->file, "loss_mask", H5T_STD_U8LE, tc)) < 0)
        bad = "/loss_mask";
    else if ((w->d_off = make_dataset(w->file, "doc_offsets", H5T_STD_U64LE, oc)) < 0)
        bad = "/doc_offsets";
    if (bad) {
        h5why why = h5_why();
        return yt_errf(e, "%s: %s: cannot create dataset: %s", yt_af_temp_path(&w->af), bad, why.text);
    }
    return 0;
}

static int append(hid_t d, hid_t mtype, const void *buf, hsize_t n, hsize_t *cur)
{
    if (n == 0)
        return 0;
    hsize_t size = *cur + n;
    if (H5Dset_extent(d, &size) < 0)
        return -1;
    hid_t fs = H5Dget_space(d);
    if (fs < 0)
        return -1;
    hid_t ms = H5Screate_simple(1, &n, NULL);
    int rc = -1;
    if (ms >= 0 && H5Sselect_hyperslab(fs, H5S_SELECT_SET, cur, NULL, &n, NULL) >= 0 &&
        H5Dwrite(d, mtype, ms, fs, H5P_DEFAULT, buf) >= 0)
        rc = 0;
    if (ms >= 0)
        H5Sclose(ms);
    H5Sclose(fs);
    if (rc == 0)
        *cur = size;
    return rc;
}

static int flush_tokens(yt_ds_writer *w, int final, yt_err *e)
{
    if (w->d_tok < 0 && create_datasets(w, final, e) != 0)
        return -1;
    hsize_t at = w->tok_written;
    if (append(w->d_tok, H5T_NATIVE_UINT32, w->tbuf, w->tn, &w->tok_written) != 0) {
        h5why why = h5_why();
        return yt_errf(e, "%s: /tokens: write failed: %s", yt_af_temp_path(&w->af), why.text);
    }
    if (append(w->d_mask, H5T_NATIVE_UINT8, w->mbuf, w->tn, &at) != 0) {
        h5why why = h5_why();
        return yt_errf(e, "%s: /loss_mask: write failed: %s", yt_af_temp_path(&w->af), why.text);
    }
    w->tn = 0;
    return 0;
}

static int flush_offsets(yt_ds_writer *w, int final, yt_err *e)
{
    if (w->d_tok < 0 && create_datasets(w, final, e) != 0)
        return -1;
    w->h_off = yt_hash64(w->obuf, w->on * sizeof *w->obuf, w->h_off);
    if (append(w->d_off, H5T_NATIVE_UINT64, w->obuf, w->on, &w->off_written) != 0) {
        h5why why = h5_why();
        return yt_errf(e, "%s: /doc_offsets: write failed: %s", yt_af_temp_path(&w->af), why.text);
    }
    w->on = 0;
    return 0;
}

int yt_ds_writer_add_doc(yt_ds_writer *w, const uint32_t *ids, const uint8_t *mask, size_t n,
                         yt_err *e)
{
    if (w->failed)
        return yt_errf(e, "%s: writer already failed", w->path);
    if (w->vocab_size) {
        for (size_t i = 0; i < n; i++)
            if (ids[i] >= w->vocab_size) {
                w->failed = 1;
                return yt_errf(e, "%s: document %llu, token %zu: id %u >= vocab_size %llu",
                               w->path, (unsigned long long)w->n_docs, i, ids[i],
                               (unsigned long long)w->vocab_size);
            }
    }
    h5quiet q;
    quiet_on(&q);
    int rc = 0;
    size_t i = 0;
    while (i < n) {
        size_t k = w->chunk - w->tn;
        if (k > n - i)
            k = n - i;
        memcpy(w->tbuf + w->tn, ids + i, k * sizeof *ids);
        w->h_tok = yt_hash64(ids + i, k * sizeof *ids, w->h_tok);
        for (size_t j = 0; j < k; j++) {
            uint32_t id = ids[i + j];
            uint8_t m = mask ? (mask[i + j] != 0) : 1;
            w->mbuf[w->tn + j] = m;
            w->n_counted += m;
            if ((uint64_t)id + 1 > w->max_id1)
                w->max_id1 = (uint64_t)id + 1;
        }
        w->h_mask = yt_hash64(w->mbuf + w->tn, k, w->h_mask);
        w->tn += k;
        i += k;
        if (w->tn == w->chunk && (rc = flush_tokens(w, 0, e)) != 0)
            break;
    }
    if (rc == 0) {
        w->n_tokens += n;
        w->n_docs++;
        w->obuf[w->on++] = w->n_tokens;
        if (w->on == w->off_chunk)
            rc = flush_offsets(w, 0, e);
    }
    quiet_off(&q);
    if (rc != 0)
        w->failed = 1;
    return rc;
}

static int attr_write(hid_t file, const char *name, hid_t ftype, hid_t mtype, const void *v)
{
    hid_t sp = H5Screate(H5S_SCALAR);
    if (sp < 0)
        return -1;
    hid_t a = H5Acreate2(file, name, ftype, sp, H5P_DEFAULT, H5P_DEFAULT);
    int rc = (a >= 0 && H5Awrite(a, mtype, v) >= 0) ? 0 : -1;
    if (a >= 0)
        H5Aclose(a);
    H5Sclose(sp);
    return rc;
}

static int attr_write_u64(hid_t file, const char *name, uint64_t v)
{
    return attr_write(file, name, H5T_STD_U64LE, H5T_NATIVE_UINT64, &v);
}

/* Fixed-length, NUL-terminated ASCII string (h5py reads it as bytes). */
static int attr_write_str(hid_t file, const char *name, const char *v)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    if (t < 0)
        return -1;
    size_t n = strlen(v);
    int rc = -1;
    if (H5Tset_size(t, n ? n : 1) >= 0 && H5Tset_strpad(t, H5T_STR_NULLTERM) >= 0)
        rc = attr_write(file, name, t, t, n ? v : "");
    H5Tclose(t);
    return rc;
}

static int write_attrs(yt_ds_writer *w, yt_err *e)
{
    int32_t ver = YT_DS_FORMAT_VERSION;
    uint64_t fp = combine_fp(w->h_tok, w->h_mask, w->h_off);
    const char *bad = NULL;
    if (attr_write_str(w->file, "format", YT_DS_FORMAT) != 0)
        bad = "format";
    else if (attr_write(w->file, "format_version", H5T_STD_I32LE, H5T_NATIVE_INT32, &ver) != 0)
        bad = "format_version";
    else if (attr_write_str(w->file, "tokenizer_fingerprint", w->tok_fp) != 0)
        bad = "tokenizer_fingerprint";
    else if (attr_write_u64(w->file, "vocab_size", w->vocab_size) != 0)
        bad = "vocab_size";
    else if (attr_write_u64(w->file, "max_token_id_plus_one", w->max_id1) != 0)
        bad = "max_token_id_plus_one";
    else if (attr_write_str(w->file, "source", w->source) != 0)
        bad = "source";
    else if (attr_write_u64(w->file, "n_docs", w->n_docs) != 0)
        bad = "n_docs";
    else if (attr_write_u64(w->file, "n_tokens", w->n_tokens) != 0)
        bad = "n_tokens";
    else if (attr_write_u64(w->file, "n_counted_tokens", w->n_counted) != 0)
        bad = "n_counted_tokens";
    else if (attr_write_u64(w->file, "content_fingerprint", fp) != 0)
        bad = "content_fingerprint";
    if (bad) {
        h5why why = h5_why();
        return yt_errf(e, "%s: cannot write attribute '%s': %s", yt_af_temp_path(&w->af), bad, why.text);
    }
    return 0;
}

void yt_ds_writer_abort(yt_ds_writer *w)
{
    if (!w)
        return;
    h5quiet q;
    quiet_on(&q);
    writer_close_ids(w);
    quiet_off(&q);
    yt_af_abort(&w->af);
    writer_free(w);
}

int yt_ds_writer_close(yt_ds_writer *w, yt_err *e)
{
    if (w->failed) {
        yt_errf(e, "%s: writer already failed", w->path);
        yt_ds_writer_abort(w);
        return -1;
    }
    h5quiet q;
    quiet_on(&q);
    int rc = 0;
    if (w->d_tok < 0 && create_datasets(w, 1, e) != 0)
        rc = -1;
    if (rc == 0 && w->tn && flush_tokens(w, 1, e) != 0)
        rc = -1;
    if (rc == 0 && w->on && flush_offsets(w, 1, e) != 0)
        rc = -1;
    if (rc == 0 && write_attrs(w, e) != 0)
        rc = -1;
    if (rc == 0) {
        close_id(&w->d_tok, H5Dclose);
        close_id(&w->d_mask, H5Dclose);
        close_id(&w->d_off, H5Dclose);
        herr_t st = H5Fclose(w->file);
        w->file = -1;
        if (st < 0) {
            h5why why = h5_why();
            rc = yt_errf(e, "%s: closing the HDF5 file failed: %s", yt_af_temp_path(&w->af), why.text);
        }
    }
    quiet_off(&q);
    const yt_seal_kind kind = YT_DS_SEAL_KIND;
    if (rc != 0 || yt_seal_fd(w->af.fd, yt_af_temp_path(&w->af), &kind, e) != 0) {
        yt_ds_writer_abort(w);
        return -1;
    }
    rc = yt_af_commit(&w->af, e);
    writer_free(w);
    return rc;
}

/* ---- reader ---- */

void yt_ds_close(yt_ds *ds)
{
    if (!ds)
        return;
    free(ds->path);
    yt_free(ds->tokens);
    yt_free(ds->loss_mask);
    yt_free(ds->doc_offsets);
    free(ds->tokenizer_fingerprint);
    free(ds->source);
    free(ds);
}

static int attr_open(hid_t file, const char *path, const char *name, hid_t *a, yt_err *e)
{
    htri_t ex = H5Aexists(file, name);
    if (ex <= 0)
        return yt_errf(e, "%s: attribute '%s' missing (not a yieldtune dataset?)", path, name);
    *a = H5Aopen(file, name, H5P_DEFAULT);
    if (*a < 0) {
        h5why why = h5_why();
        return yt_errf(e, "%s: attribute '%s': %s", path, name, why.text);
    }
    return 0;
}

static int attr_read_u64(hid_t file, const char *path, const char *name, uint64_t *v, yt_err *e)
{
    hid_t a;
    if (attr_open(file, path, name, &a, e) != 0)
        return -1;
    hid_t t = H5Aget_type(a);
    hid_t sp = H5Aget_space(a);
    int rc = -1;
    if (t < 0 || H5Tget_class(t) != H5T_INTEGER || sp < 0 ||
        H5Sget_simple_extent_npoints(sp) != 1)
        yt_errf(e, "%s: attribute '%s' is not an integer scalar", path, name);
    else if (H5Aread(a, H5T_NATIVE_UINT64, v) < 0) {
        h5why why = h5_why();
        yt_errf(e, "%s: attribute '%s': %s", path, name, why.text);
    } else
        rc = 0;
    if (sp >= 0)
        H5Sclose(sp);
    if (t >= 0)
        H5Tclose(t);
    H5Aclose(a);
    return rc;
}

/* Reads a fixed- or variable-length string attribute into a malloc'd string. */
static int attr_read_str(hid_t file, const char *path, const char *name, char **out, yt_err *e)
{
    hid_t a;
    if (attr_open(file, path, name, &a, e) != 0)
        return -1;
    hid_t t = H5Aget_type(a);
    hid_t mt = -1;
    int rc = -1;
    if (t < 0 || H5Tget_class(t) != H5T_STRING) {
        yt_errf(e, "%s: attribute '%s' is not a string", path, name);
    } else if (H5Tis_variable_str(t) > 0) {
        char *s = NULL;
        mt = H5Tcopy(H5T_C_S1);
        if (mt >= 0 && H5Tset_size(mt, H5T_VARIABLE) >= 0 && H5Aread(a, mt, &s) >= 0) {
            *out = yt_strdup(s ? s : "", "a string attribute", e);
            H5free_memory(s);
            rc = *out ? 0 : yt_err_prefix(e, "%s: attribute '%s'", path, name);
        } else {
            h5why why = h5_why();
            yt_errf(e, "%s: attribute '%s': %s", path, name, why.text);
        }
    } else {
        size_t n = H5Tget_size(t);
        char *s = yt_calloc(n + 1, 1, "a string attribute", e);
        mt = H5Tcopy(H5T_C_S1);
        if (!s) {
            yt_err_prefix(e, "%s: attribute '%s'", path, name);
        } else if (mt >= 0 && H5Tset_size(mt, n) >= 0 && H5Aread(a, mt, s) >= 0) {
            *out = s;
            s = NULL;
            rc = 0;
        } else {
            h5why why = h5_why();
            yt_errf(e, "%s: attribute '%s': %s", path, name, why.text);
        }
        free(s);
    }
    if (mt >= 0)
        H5Tclose(mt);
    if (t >= 0)
        H5Tclose(t);
    H5Aclose(a);
    return rc;
}

/* 1 when D's chunks are stored as they are (no filter but Fletcher32, as this
 * format writes them), so that its storage must hold every element. */
static int stored_raw(hid_t d)
{
    hid_t dcpl = H5Dget_create_plist(d);
    if (dcpl < 0)
        return 0;
    int n = H5Pget_nfilters(dcpl), raw = n >= 0;
    for (int i = 0; raw && i < n; i++) {
        unsigned flags, conf;
        size_t nv = 0;
        raw = H5Pget_filter2(dcpl, (unsigned)i, &flags, &nv, NULL, 0, NULL, &conf) ==
              H5Z_FILTER_FLETCHER32;
    }
    H5Pclose(dcpl);
    return raw;
}

/* Bytes of one chunk of D as its layout declares it (0: not chunked).  HDF5
 * allocates and fills a buffer of that size to read a chunk, whatever the
 * dataset's length: a damaged layout would have it allocate gigabytes. */
static uint64_t chunk_bytes(hid_t d, size_t elem_size)
{
    hid_t dcpl = H5Dget_create_plist(d);
    hsize_t cdims[1] = {0};
    uint64_t n = 0;
    if (dcpl >= 0 && H5Pget_layout(dcpl) == H5D_CHUNKED && H5Pget_chunk(dcpl, 1, cdims) == 1)
        n = cdims[0] > UINT64_MAX / elem_size ? UINT64_MAX : cdims[0] * elem_size;
    if (dcpl >= 0)
        H5Pclose(dcpl);
    return n;
}

/* Opens a 1-D unsigned-integer dataset of elem_size bytes and reads it whole. */
static int read_array(hid_t file, const char *path, const char *name, size_t elem_size,
                      hid_t mtype, void **buf, uint64_t *n, yt_err *e)
{
    if (H5Lexists(file, name, H5P_DEFAULT) <= 0)
        return yt_errf(e, "%s: dataset %s missing", path, name);
    hid_t d = H5Dopen2(file, name, H5P_DEFAULT);
    if (d < 0) {
        h5why why = h5_why();
        return yt_errf(e, "%s: %s: %s", path, name, why.text);
    }
    hid_t t = H5Dget_type(d);
    hid_t sp = H5Dget_space(d);
    int rc = -1;
    hsize_t dims[1], fsize = 0;
    if (t < 0 || H5Tget_class(t) != H5T_INTEGER || H5Tget_sign(t) != H5T_SGN_NONE ||
        H5Tget_size(t) != elem_size) {
        yt_errf(e, "%s: %s: expected uint%zu elements", path, name, elem_size * 8);
    } else if (sp < 0 || H5Sget_simple_extent_ndims(sp) != 1 ||
               H5Sget_simple_extent_dims(sp, dims, NULL) < 0) {
        yt_errf(e, "%s: %s: expected a 1-D dataset", path, name);
    } else if (dims[0] > SIZE_MAX / 8) {
        yt_errf(e, "%s: %s: %llu elements is too many", path, name,
                (unsigned long long)dims[0]);
    } else if (H5Fget_filesize(file, &fsize) < 0 || H5Dget_storage_size(d) > fsize ||
               (dims[0] > 0 && stored_raw(d) && chunk_bytes(d, elem_size) > fsize)) {
        /* Neither the stored bytes nor a chunk stored as is can be larger than the
         * file: a layout that says so is damaged, and HDF5 would size its chunk
         * buffer by it. */
        yt_errf(e, "%s: %s: its storage layout claims more bytes than the %llu-byte file holds "
                   "(damaged)", path, name, (unsigned long long)fsize);
    } else if (stored_raw(d) && H5Dget_storage_size(d) < dims[0] * elem_size) {
        /* Chunks that were never written read as fill values: the length is a
         * claim of the file, not memory to allocate before it is checked. */
        yt_errf(e, "%s: %s: declares %llu elements but the file stores only %llu bytes of "
                   "them (truncated or damaged)", path, name, (unsigned long long)dims[0],
                (unsigned long long)H5Dget_storage_size(d));
    } else {
        char what[64];
        snprintf(what, sizeof what, "dataset %s", name);
        *buf = yt_alloc((size_t)dims[0] * elem_size, what, e);
        if (!*buf) {
            yt_err_prefix(e, "%s", path);
        } else if (dims[0] > 0 && H5Dread(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, *buf) < 0) {
            h5why why = h5_why();
            if (why.fletcher)
                yt_errf(e, "%s: %s: Fletcher32 checksum mismatch: the file is corrupt (%s)",
                        path, name, why.text);
            else
                yt_errf(e, "%s: %s: read failed: %s", path, name, why.text);
        } else {
            *n = dims[0];
            rc = 0;
        }
    }
    if (sp >= 0)
        H5Sclose(sp);
    if (t >= 0)
        H5Tclose(t);
    H5Dclose(d);
    return rc;
}

static int read_all(yt_ds *ds, hid_t f, yt_err *e)
{
    const char *p = ds->path;
    char *fmt = NULL;
    if (attr_read_str(f, p, "format", &fmt, e) != 0)
        return -1;
    int ok = strcmp(fmt, YT_DS_FORMAT) == 0;
    if (!ok)
        yt_errf(e, "%s: attribute 'format' is '%s', expected '%s'", p, fmt, YT_DS_FORMAT);
    free(fmt);
    if (!ok)
        return -1;
    uint64_t ver, a_docs, a_tokens, a_counted, a_max1, a_fp;
    if (attr_read_u64(f, p, "format_version", &ver, e) != 0)
        return -1;
    if (ver != YT_DS_FORMAT_VERSION)
        return yt_errf(e, "%s: format_version %llu is not supported (this build reads %d)", p,
                       (unsigned long long)ver, YT_DS_FORMAT_VERSION);
    if (attr_read_str(f, p, "tokenizer_fingerprint", &ds->tokenizer_fingerprint, e) != 0 ||
        attr_read_str(f, p, "source", &ds->source, e) != 0 ||
        attr_read_u64(f, p, "vocab_size", &ds->vocab_size, e) != 0 ||
        attr_read_u64(f, p, "max_token_id_plus_one", &a_max1, e) != 0 ||
        attr_read_u64(f, p, "n_docs", &a_docs, e) != 0 ||
        attr_read_u64(f, p, "n_tokens", &a_tokens, e) != 0 ||
        attr_read_u64(f, p, "n_counted_tokens", &a_counted, e) != 0 ||
        attr_read_u64(f, p, "content_fingerprint", &a_fp, e) != 0)
        return -1;

    uint64_t nt, nm, no;
    if (read_array(f, p, "/tokens", 4, H5T_NATIVE_UINT32, (void **)&ds->tokens, &nt, e) != 0 ||
        read_array(f, p, "/loss_mask", 1, H5T_NATIVE_UINT8, (void **)&ds->loss_mask, &nm, e) !=
            0 ||
        read_array(f, p, "/doc_offsets", 8, H5T_NATIVE_UINT64, (void **)&ds->doc_offsets, &no,
                   e) != 0)
        return -1;
    if (nm != nt)
        return yt_errf(e, "%s: /loss_mask has %llu elements, /tokens %llu", p,
                       (unsigned long long)nm, (unsigned long long)nt);
    if (no < 1)
        return yt_errf(e, "%s: /doc_offsets is empty (needs n_docs + 1 entries)", p);
    ds->n_tokens = nt;
    ds->n_docs = no - 1;
    if (a_tokens != nt)
        return yt_errf(e, "%s: attribute n_tokens = %llu but /tokens has %llu", p,
                       (unsigned long long)a_tokens, (unsigned long long)nt);
    if (a_docs != ds->n_docs)
        return yt_errf(e, "%s: attribute n_docs = %llu but /doc_offsets has %llu entries", p,
                       (unsigned long long)a_docs, (unsigned long long)no);
    const uint64_t *off = ds->doc_offsets;
    if (off[0] != 0)
        return yt_errf(e, "%s: /doc_offsets[0] = %llu, expected 0", p,
                       (unsigned long long)off[0]);
    for (uint64_t i = 1; i < no; i++)
        if (off[i] < off[i - 1])
            return yt_errf(e, "%s: /doc_offsets decreases at index %llu (%llu < %llu)", p,
                           (unsigned long long)i, (unsigned long long)off[i],
                           (unsigned long long)off[i - 1]);
    if (off[no - 1] != nt)
        return yt_errf(e, "%s: /doc_offsets ends at %llu, expected n_tokens = %llu", p,
                       (unsigned long long)off[no - 1], (unsigned long long)nt);
    uint64_t counted = 0, max1 = 0;
    for (uint64_t i = 0; i < nt; i++) {
        uint8_t m = ds->loss_mask[i];
        if (m > 1)
            return yt_errf(e, "%s: /loss_mask[%llu] = %u, expected 0 or 1", p,
                           (unsigned long long)i, m);
        counted += m;
        uint64_t t1 = (uint64_t)ds->tokens[i] + 1;
        if (t1 > max1)
            max1 = t1;
    }
    ds->n_counted = counted;
    ds->max_token_id_plus_one = max1;
    if (counted != a_counted)
        return yt_errf(e, "%s: attribute n_counted_tokens = %llu but /loss_mask counts %llu",
                       p, (unsigned long long)a_counted, (unsigned long long)counted);
    if (max1 != a_max1)
        return yt_errf(e, "%s: attribute max_token_id_plus_one = %llu but /tokens gives %llu",
                       p, (unsigned long long)a_max1, (unsigned long long)max1);
    if (ds->vocab_size && max1 > ds->vocab_size)
        return yt_errf(e, "%s: /tokens holds id %llu >= vocab_size %llu", p,
                       (unsigned long long)(max1 - 1), (unsigned long long)ds->vocab_size);
    ds->fingerprint = combine_fp(yt_hash64(ds->tokens, nt * 4, YT_HASH_SEED),
                                 yt_hash64(ds->loss_mask, nt, YT_HASH_SEED),
                                 yt_hash64(ds->doc_offsets, no * 8, YT_HASH_SEED));
    if (ds->fingerprint != a_fp)
        return yt_errf(e, "%s: content fingerprint %016llx differs from the stored %016llx "
                          "(the data was changed after it was written)",
                       p, (unsigned long long)ds->fingerprint, (unsigned long long)a_fp);
    return 0;
}

/* The file HDF5 opens is the one whose checksum was checked: by its open
 * descriptor where /proc shows it (a prep that replaces PATH meanwhile swaps
 * the name, not this file). */
static hid_t open_checked(int fd, const char *path)
{
    char byfd[64];
    snprintf(byfd, sizeof byfd, "/proc/self/fd/%d", fd);
    return H5Fopen(access(byfd, R_OK) == 0 ? byfd : path, H5F_ACC_RDONLY, H5P_DEFAULT);
}

int yt_ds_open(yt_ds **out, const char *path, yt_err *e)
{
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return yt_errno(e, errno, "%s", path);
    const yt_seal_kind kind = YT_DS_SEAL_KIND;
    int rc = yt_seal_check_fd(fd, path, &kind, e);
    if (rc != 0) {
        close(fd);
        return -1;
    }
    yt_ds *ds = yt_calloc(1, sizeof *ds, "a dataset reader", e);
    if (!ds || !(ds->path = yt_strdup(path, "a path", e))) {
        free(ds);
        close(fd);
        return yt_err_prefix(e, "%s", path);
    }
    h5quiet q;
    quiet_on(&q);
    rc = -1;
    hid_t f = open_checked(fd, path);
    if (f < 0) {
        h5why why = h5_why();
        yt_errf(e, "%s: cannot open as HDF5: %s", path, why.text);
    } else {
        rc = read_all(ds, f, e);
        H5Fclose(f);
    }
    quiet_off(&q);
    close(fd);
    if (rc != 0) {
        yt_ds_close(ds);
        return -1;
    }
    *out = ds;
    return 0;
}

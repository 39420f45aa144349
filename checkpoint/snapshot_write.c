/* Snapshot writer: an atomic file (common.h) created at begin and committed
 * at commit.  Any failure removes the temp file at once, so a half-written
 * snapshot never survives the process that wrote it (a crash leaves a
 * "*.tmp.<pid>" that yt_snap_clean_temps removes).
 *
 * The HDF5 file is built in memory (core driver, no backing store) and its image
 * written with plain write(2) at commit.  Reason: HDF5 1.10 does not survive its own
 * write errors: after an ENOSPC the H5Fclose fails, leaves a dangling file ID, and
 * the next close or the library's atexit handler crashes (measured with 1.10.8 on a
 * full tmpfs).  Keeping every disk write in our hands turns a full disk into an
 * ordinary error.  Cost: the snapshot is held in memory, twice at the peak of
 * commit (HDF5's image and our copy of it). */
#define _POSIX_C_SOURCE 200809L
#include "checkpoint/checkpoint.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hdf5.h>

#define PATH_CAP 4096
/* Growth step of the in-memory file. */
#define CORE_INCREMENT ((size_t)4 << 20)

struct yt_snap_writer {
    hid_t file;          /* in-memory HDF5 file */
    yt_afile af;         /* the temp file, created at begin, written at commit */
    int failed;          /* a put/attr failed: temp already removed */
    int have_version;    /* program_version was set */
    char final_path[PATH_CAP];
    const char *tmp_path; /* af's temp file name, for messages */
};

#include "checkpoint/h5_quiet.h"

/* ---- helpers ---- */

/* Drops the temp file after a failure; the writer stays allocated (failed = 1). */
static void drop_temp(yt_snap_writer *w)
{
    if (w->file >= 0) {
        quiet_t q;
        yt_snap_quiet_on(&q);
        H5Fclose(w->file); /* memory only: nothing to fail on disk */
        yt_snap_quiet_off(&q);
        w->file = -1;
    }
    yt_af_abort(&w->af);
    w->failed = 1;
}

/* Marks failure, removes the temp file, returns -1 (the message is already in e). */
static int fail(yt_snap_writer *w)
{
    drop_temp(w);
    return -1;
}

static int check_usable(yt_snap_writer *w, yt_err *e)
{
    if (!w)
        return yt_errf(e, "snapshot writer is NULL");
    if (w->failed || w->file < 0 || !w->af.live)
        return yt_errf(e, "%s: an earlier write failed; the snapshot was abandoned",
                       w->final_path);
    return 0;
}

static void chunk_dims(int ndim, const hsize_t *dims, hsize_t *chunk)
{
    uint64_t total = 1;
    for (int d = 0; d < ndim; d++) {
        chunk[d] = dims[d];
        total *= dims[d];
    }
    for (int d = 0; d < ndim && total > YT_SNAP_CHUNK_ELEMS; d++) {
        uint64_t rest = total / chunk[d];
        uint64_t fit = rest > YT_SNAP_CHUNK_ELEMS ? 1 : YT_SNAP_CHUNK_ELEMS / rest;
        if (fit < chunk[d])
            chunk[d] = fit;
        total = rest * chunk[d];
    }
}

static int put_dataset(yt_snap_writer *w, const char *name, const void *data, hid_t file_type,
                       hid_t mem_type, size_t elem, int ndim, const hsize_t *dims, yt_err *e)
{
    if (check_usable(w, e) != 0)
        return -1;
    const char *nm = yt_snap_tensor_name(name);
    if (!nm) {
        yt_errf(e, "%s: bad tensor name '%s'", w->final_path, name ? name : "(null)");
        return fail(w);
    }
    uint64_t count = 1;
    for (int d = 0; d < ndim; d++) {
        if (dims[d] != 0 && count > UINT64_MAX / dims[d] / elem) {
            yt_errf(e, "%s: tensor '%s': shape too large", w->final_path, nm);
            return fail(w);
        }
        count *= dims[d];
    }
    if (count > 0 && !data) {
        yt_errf(e, "%s: tensor '%s': data is NULL", w->final_path, nm);
        return fail(w);
    }
    size_t nbytes = (size_t)count * elem;
    uint64_t hash = yt_hash64(data, nbytes, YT_HASH_SEED);

    quiet_t q;
    walk_t why;
    yt_snap_quiet_on(&q);
    hid_t space = -1, dcpl = -1, lcpl = -1, dset = -1, aspace = -1, attr = -1;
    const char *stage = "create";
    int ok = 0;
    if (H5Lexists(w->file, nm, H5P_DEFAULT) > 0) {
        /* (H5Lexists fails harmlessly when an intermediate group is missing.) */
        H5Eclear2(H5E_DEFAULT);
        yt_snap_quiet_off(&q);
        yt_errf(e, "%s: tensor '%s' written twice", w->final_path, nm);
        return fail(w);
    }
    H5Eclear2(H5E_DEFAULT);
    space = H5Screate_simple(ndim, dims, NULL);
    dcpl = H5Pcreate(H5P_DATASET_CREATE);
    lcpl = H5Pcreate(H5P_LINK_CREATE);
    if (space < 0 || dcpl < 0 || lcpl < 0)
        goto done;
    H5Pset_obj_track_times(dcpl, 0);
    if (H5Pset_create_intermediate_group(lcpl, 1) < 0)
        goto done;
    if (count > 0) {
        hsize_t chunk[YT_SNAP_MAX_DIMS];
        chunk_dims(ndim, dims, chunk);
        if (H5Pset_chunk(dcpl, ndim, chunk) < 0 || H5Pset_fletcher32(dcpl) < 0)
            goto done;
    }
    dset = H5Dcreate2(w->file, nm, file_type, space, lcpl, dcpl, H5P_DEFAULT);
    if (dset < 0)
        goto done;
    stage = "write";
    if (count > 0 && H5Dwrite(dset, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0)
        goto done;
    stage = "write hash of";
    aspace = H5Screate(H5S_SCALAR);
    if (aspace < 0)
        goto done;
    attr = H5Acreate2(dset, "hash_fnv1a64", H5T_STD_U64LE, aspace, H5P_DEFAULT, H5P_DEFAULT);
    if (attr < 0 || H5Awrite(attr, H5T_NATIVE_UINT64, &hash) < 0)
        goto done;
    stage = "close";
    hid_t a = attr, ds = dset;
    attr = dset = -1;
    if (H5Aclose(a) < 0 || H5Dclose(ds) < 0)
        goto done;
    ok = 1;
done:
    if (!ok)
        yt_errf(e, "%s: cannot %s tensor '%s': %s", w->tmp_path, stage, nm, yt_snap_h5_why(&why));
    if (attr >= 0)
        H5Aclose(attr);
    if (aspace >= 0)
        H5Sclose(aspace);
    if (dset >= 0)
        H5Dclose(dset);
    if (lcpl >= 0)
        H5Pclose(lcpl);
    if (dcpl >= 0)
        H5Pclose(dcpl);
    if (space >= 0)
        H5Sclose(space);
    yt_snap_quiet_off(&q);
    return ok ? 0 : fail(w);
}

/* Root attribute of a given file type; value points at memory of mem_type. */
static int put_attr(yt_snap_writer *w, const char *key, hid_t file_type, hid_t mem_type,
                    const void *value, yt_err *e)
{
    quiet_t q;
    walk_t why;
    yt_snap_quiet_on(&q);
    hid_t space = -1, attr = -1;
    int ok = 0;
    htri_t ex = H5Aexists(w->file, key);
    if (ex > 0) {
        yt_snap_quiet_off(&q);
        yt_errf(e, "%s: attribute '%s' set twice", w->final_path, key);
        return fail(w);
    }
    if (ex < 0)
        goto done;
    space = H5Screate(H5S_SCALAR);
    if (space < 0)
        goto done;
    attr = H5Acreate2(w->file, key, file_type, space, H5P_DEFAULT, H5P_DEFAULT);
    if (attr < 0 || H5Awrite(attr, mem_type, value) < 0)
        goto done;
    hid_t a = attr;
    attr = -1;
    if (H5Aclose(a) < 0)
        goto done;
    ok = 1;
done:
    if (!ok)
        yt_errf(e, "%s: cannot write attribute '%s': %s", w->tmp_path, key, yt_snap_h5_why(&why));
    if (attr >= 0)
        H5Aclose(attr);
    if (space >= 0)
        H5Sclose(space);
    yt_snap_quiet_off(&q);
    return ok ? 0 : fail(w);
}

static int write_str(yt_snap_writer *w, const char *key, const char *value, yt_err *e)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    if (t < 0) {
        yt_errf(e, "%s: attribute '%s': cannot make string type", w->final_path, key);
        return fail(w);
    }
    /* Fixed length (with its NUL): a reader learns the size before reading. */
    H5Tset_size(t, strlen(value) + 1);
    H5Tset_strpad(t, H5T_STR_NULLTERM);
    H5Tset_cset(t, H5T_CSET_UTF8);
    int rc = put_attr(w, key, t, t, value, e);
    H5Tclose(t);
    return rc;
}

static int caller_key(yt_snap_writer *w, const char *key, yt_err *e)
{
    if (check_usable(w, e) != 0)
        return -1;
    if (!key || !key[0] || strlen(key) > 200) {
        yt_errf(e, "%s: bad attribute name '%s'", w->final_path, key ? key : "(null)");
        return fail(w);
    }
    if (!strcmp(key, "format") || !strcmp(key, "format_version") || !strcmp(key, "complete")) {
        yt_errf(e, "%s: attribute '%s' is reserved for the snapshot format", w->final_path, key);
        return fail(w);
    }
    return 0;
}

/* ---- public ---- */

yt_snap_writer *yt_snap_begin(const char *final_path, yt_err *e)
{
    if (!final_path || !final_path[0]) {
        yt_errf(e, "snapshot path is empty");
        return NULL;
    }
    if (strlen(final_path) >= PATH_CAP) {
        yt_errf(e, "%s: snapshot path too long", final_path);
        return NULL;
    }
    yt_snap_writer *w = yt_calloc(1, sizeof *w, "a snapshot writer", e);
    if (!w) {
        yt_err_prefix(e, "%s", final_path);
        return NULL;
    }
    w->file = -1;
    snprintf(w->final_path, sizeof w->final_path, "%s", final_path);
    /* No kind check here: the caller names snapshots itself inside its own
     * folder, so a file at this path is one it wrote, maybe damaged (a flipped
     * bit in the header's magic), and must not block the step's new snapshot. */
    const yt_af_opts ao = {0};
    if (yt_af_begin(&w->af, final_path, &ao, e) != 0) {
        yt_err_prefix(e, "cannot create the snapshot temp file");
        free(w);
        return NULL;
    }
    w->tmp_path = yt_af_temp_path(&w->af);

    quiet_t q;
    walk_t why;
    yt_snap_quiet_on(&q);
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS), fcpl = H5Pcreate(H5P_FILE_CREATE);
    if (fapl >= 0 && fcpl >= 0) {
        H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG);
        if (H5Pset_fapl_core(fapl, CORE_INCREMENT, 0) >= 0 &&
            H5Pset_userblock(fcpl, YT_SNAP_HEADER_BYTES) >= 0)
            w->file = H5Fcreate(w->tmp_path, H5F_ACC_TRUNC, fcpl, fapl);
        if (w->file < 0) /* before H5Pclose clears the error stack */
            yt_errf(e, "%s: cannot create in-memory HDF5 file: %s", w->tmp_path, yt_snap_h5_why(&why));
    } else {
        yt_errf(e, "%s: cannot create in-memory HDF5 file: %s", w->tmp_path, yt_snap_h5_why(&why));
    }
    if (fapl >= 0)
        H5Pclose(fapl);
    if (fcpl >= 0)
        H5Pclose(fcpl);
    yt_snap_quiet_off(&q);
    if (w->file < 0) {
        drop_temp(w);
        free(w);
        return NULL;
    }
    int64_t version = YT_SNAP_FORMAT_VERSION;
    if (write_str(w, "format", YT_SNAP_FORMAT, e) != 0 ||
        put_attr(w, "format_version", H5T_STD_I64LE, H5T_NATIVE_INT64, &version, e) != 0) {
        free(w);
        return NULL;
    }
    return w;
}

int yt_snap_put_f32(yt_snap_writer *w, const char *name, const float *data, int ndim,
                    const int64_t *shape, yt_err *e)
{
    if (check_usable(w, e) != 0)
        return -1;
    if (ndim < 1 || ndim > YT_SNAP_MAX_DIMS || !shape) {
        yt_errf(e, "%s: tensor '%s': rank %d not in 1..%d", w->final_path,
                name ? name : "(null)", ndim, YT_SNAP_MAX_DIMS);
        return fail(w);
    }
    hsize_t dims[YT_SNAP_MAX_DIMS];
    for (int d = 0; d < ndim; d++) {
        if (shape[d] < 0) {
            yt_errf(e, "%s: tensor '%s': negative dimension %lld", w->final_path,
                    name ? name : "(null)", (long long)shape[d]);
            return fail(w);
        }
        dims[d] = (hsize_t)shape[d];
    }
    return put_dataset(w, name, data, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, sizeof(float), ndim,
                       dims, e);
}

int yt_snap_put_u64_array(yt_snap_writer *w, const char *name, const uint64_t *data, size_t n,
                          yt_err *e)
{
    hsize_t dims[1] = {n};
    return put_dataset(w, name, data, H5T_STD_U64LE, H5T_NATIVE_UINT64, sizeof(uint64_t), 1,
                       dims, e);
}

int yt_snap_put_bytes(yt_snap_writer *w, const char *name, const void *data, size_t n,
                      yt_err *e)
{
    hsize_t dims[1] = {n};
    return put_dataset(w, name, data, H5T_STD_U8LE, H5T_NATIVE_UINT8, 1, 1, dims, e);
}

int yt_snap_attr_str(yt_snap_writer *w, const char *key, const char *value, yt_err *e)
{
    if (caller_key(w, key, e) != 0)
        return -1;
    if (!value) {
        yt_errf(e, "%s: attribute '%s': value is NULL", w->final_path, key);
        return fail(w);
    }
    if (write_str(w, key, value, e) != 0)
        return -1;
    if (!strcmp(key, "program_version"))
        w->have_version = 1;
    return 0;
}

int yt_snap_attr_i64(yt_snap_writer *w, const char *key, int64_t value, yt_err *e)
{
    if (caller_key(w, key, e) != 0)
        return -1;
    return put_attr(w, key, H5T_STD_I64LE, H5T_NATIVE_INT64, &value, e);
}

int yt_snap_attr_f64(yt_snap_writer *w, const char *key, double value, yt_err *e)
{
    if (caller_key(w, key, e) != 0)
        return -1;
    return put_attr(w, key, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &value, e);
}

void yt_snap_set_hook(yt_snap_writer *w, const yt_af_hook *hook)
{
    if (w)
        yt_af_set_hook(&w->af, hook);
}

int yt_snap_commit(yt_snap_writer *w, yt_err *e)
{
    if (check_usable(w, e) != 0) {
        free(w);
        return -1;
    }
    if (!w->have_version) {
        yt_errf(e, "%s: attribute 'program_version' was not set", w->final_path);
        goto fail;
    }
    int64_t one = 1;
    if (put_attr(w, "complete", H5T_STD_I64LE, H5T_NATIVE_INT64, &one, e) != 0)
        goto fail;

    /* The finished image, then the in-memory file is closed. */
    quiet_t q;
    walk_t why;
    yt_snap_quiet_on(&q);
    unsigned char *img = NULL;
    ssize_t size = -1;
    if (H5Fflush(w->file, H5F_SCOPE_LOCAL) >= 0)
        size = H5Fget_file_image(w->file, NULL, 0);
    /* HDF5's image leaves out the user block: the file is our header, then it. */
    if (size < 0) {
        yt_errf(e, "%s: cannot finish the HDF5 image: %s", w->tmp_path, yt_snap_h5_why(&why));
    } else if (!(img = yt_calloc(1, YT_SNAP_HEADER_BYTES + (size_t)size, "the snapshot image", e))) {
        yt_err_prefix(e, "%s", w->tmp_path);
    } else if (H5Fget_file_image(w->file, img + YT_SNAP_HEADER_BYTES, (size_t)size) != size) {
        yt_errf(e, "%s: cannot copy the HDF5 image: %s", w->tmp_path, yt_snap_h5_why(&why));
        free(img);
        img = NULL;
    }
    if (img) {
        hid_t f = w->file;
        w->file = -1;
        H5Fclose(f);
    }
    yt_snap_quiet_off(&q);
    if (!img)
        goto fail;

    size_t total = YT_SNAP_HEADER_BYTES + (size_t)size;
    const yt_seal_kind kind = YT_SNAP_SEAL_KIND;
    yt_seal_image(img, total, &kind);
    int rc = yt_af_write(&w->af, img, total, e);
    free(img);
    if (rc == 0)
        rc = yt_af_commit(&w->af, e);
    free(w);
    return rc;
fail:
    drop_temp(w);
    free(w);
    return -1;
}

void yt_snap_abort(yt_snap_writer *w)
{
    if (!w)
        return;
    drop_temp(w);
    free(w);
}

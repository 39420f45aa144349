/* Snapshot reader: reads the whole file, checks its header and whole-file hash
 * (a sealed file, common.h), opens the bytes in memory with HDF5, checks the format,
 * reads tensors and root attributes with their sizes bounded by the file's,
 * verifies every dataset (Fletcher32 via HDF5, then the stored FNV-1a hash) and
 * walks the tensor tree for listings. */
#define _POSIX_C_SOURCE 200809L
#include "checkpoint/checkpoint.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <hdf5.h>

#define PATH_CAP 4096

struct yt_snap {
    hid_t file;
    unsigned char *img; /* the whole file; HDF5 reads it in place */
    size_t size;
    char path[PATH_CAP];
};

#include "checkpoint/h5_quiet.h"

/* ---- helpers (all called with errors silenced) ---- */

/* 1 if every component of a slash path exists and the last is a dataset. */
static int dataset_exists(hid_t file, const char *nm)
{
    char buf[1024];
    size_t n = strlen(nm);
    if (n >= sizeof buf)
        return 0;
    memcpy(buf, nm, n + 1);
    for (size_t i = 0; i <= n; i++) {
        if (buf[i] == '/' || buf[i] == '\0') {
            char c = buf[i];
            buf[i] = '\0';
            if (H5Lexists(file, buf, H5P_DEFAULT) <= 0)
                return 0;
            buf[i] = c;
        }
    }
    hid_t o = H5Oopen(file, nm, H5P_DEFAULT);
    if (o < 0)
        return 0;
    int is = H5Iget_type(o) == H5I_DATASET;
    H5Oclose(o);
    return is;
}

static int dtype_of(hid_t type, yt_snap_dtype *out)
{
    H5T_class_t cls = H5Tget_class(type);
    size_t size = H5Tget_size(type);
    if (cls == H5T_FLOAT && size == 4) {
        *out = YT_SNAP_F32;
        return 0;
    }
    if (cls == H5T_INTEGER && H5Tget_sign(type) == H5T_SGN_NONE) {
        if (size == 8) {
            *out = YT_SNAP_U64;
            return 0;
        }
        if (size == 1) {
            *out = YT_SNAP_BYTES;
            return 0;
        }
    }
    return -1;
}

static const char *dtype_name(yt_snap_dtype t)
{
    switch (t) {
    case YT_SNAP_F32: return "float32";
    case YT_SNAP_U64: return "uint64";
    case YT_SNAP_BYTES: return "bytes";
    }
    return "?";
}

static hid_t mem_type(yt_snap_dtype t)
{
    switch (t) {
    case YT_SNAP_F32: return H5T_NATIVE_FLOAT;
    case YT_SNAP_U64: return H5T_NATIVE_UINT64;
    case YT_SNAP_BYTES: return H5T_NATIVE_UINT8;
    }
    return H5T_NATIVE_UINT8;
}

static size_t elem_size(yt_snap_dtype t)
{
    return t == YT_SNAP_F32 ? 4 : t == YT_SNAP_U64 ? 8 : 1;
}

/* Fills info (name not set) from an open dataset. */
static int dset_info(yt_snap *s, hid_t d, const char *nm, yt_snap_info *info, yt_err *e)
{
    walk_t why;
    hid_t type = H5Dget_type(d);
    if (type < 0)
        return yt_errf(e, "%s: tensor '%s': cannot read type: %s", s->path, nm, yt_snap_h5_why(&why));
    int bad = dtype_of(type, &info->dtype);
    H5Tclose(type);
    if (bad)
        return yt_errf(e, "%s: tensor '%s': unsupported element type", s->path, nm);
    hid_t space = H5Dget_space(d);
    if (space < 0)
        return yt_errf(e, "%s: tensor '%s': cannot read shape: %s", s->path, nm, yt_snap_h5_why(&why));
    int nd = H5Sget_simple_extent_ndims(space);
    hsize_t dims[YT_SNAP_MAX_DIMS];
    if (nd < 1 || nd > YT_SNAP_MAX_DIMS || H5Sget_simple_extent_dims(space, dims, NULL) < 0) {
        H5Sclose(space);
        return yt_errf(e, "%s: tensor '%s': unsupported rank %d", s->path, nm, nd);
    }
    H5Sclose(space);
    info->ndim = nd;
    uint64_t count = 1;
    for (int i = 0; i < nd; i++) {
        info->shape[i] = (int64_t)dims[i];
        if (dims[i] != 0 && count > (uint64_t)s->size / dims[i])
            count = (uint64_t)s->size + 1; /* more than the file can hold */
        else
            count *= dims[i];
    }
    /* Stored uncompressed: a tensor never holds more bytes than the file. */
    if (count > (uint64_t)s->size / elem_size(info->dtype))
        return yt_errf(e, "%s: tensor '%s': shape claims more data than the %zu-byte file holds",
                       s->path, nm, s->size);
    for (int i = nd; i < YT_SNAP_MAX_DIMS; i++)
        info->shape[i] = 0;
    info->count = (size_t)count;
    return 0;
}

/* Reads the whole dataset into dst (info->count elements) and checks the hash. */
static int read_checked(yt_snap *s, hid_t d, const char *nm, const yt_snap_info *info,
                        void *dst, yt_err *e)
{
    walk_t why;
    if (info->count > 0 &&
        H5Dread(d, mem_type(info->dtype), H5S_ALL, H5S_ALL, H5P_DEFAULT, dst) < 0)
        return yt_errf(e, "%s: tensor '%s': read failed (data corrupted?): %s", s->path, nm,
                       yt_snap_h5_why(&why));
    if (H5Aexists(d, "hash_fnv1a64") <= 0)
        return yt_errf(e, "%s: tensor '%s': no stored hash_fnv1a64", s->path, nm);
    hid_t a = H5Aopen(d, "hash_fnv1a64", H5P_DEFAULT);
    uint64_t stored = 0;
    int bad = a < 0 || H5Aread(a, H5T_NATIVE_UINT64, &stored) < 0;
    if (bad)
        yt_errf(e, "%s: tensor '%s': cannot read hash_fnv1a64: %s", s->path, nm, yt_snap_h5_why(&why));
    if (a >= 0)
        H5Aclose(a);
    if (bad)
        return -1;
    uint64_t h = yt_hash64(dst, info->count * elem_size(info->dtype), YT_HASH_SEED);
    if (h != stored)
        return yt_errf(e,
                       "%s: tensor '%s': hash mismatch (stored %016llx, data %016llx): data "
                       "corrupted",
                       s->path, nm, (unsigned long long)stored, (unsigned long long)h);
    return 0;
}

/* Opens the dataset of tensor `name` (HDF5's own messages already quieted),
 * or fails naming the snapshot and the tensor; *nm gets the normalised name. */
static hid_t open_tensor(yt_snap *s, const char *name, const char **nm, yt_err *e)
{
    walk_t why;
    *nm = yt_snap_tensor_name(name);
    if (!*nm) {
        yt_errf(e, "%s: bad tensor name '%s'", s->path, name ? name : "(null)");
        return -1;
    }
    if (!dataset_exists(s->file, *nm)) {
        yt_errf(e, "%s: tensor '%s' not found", s->path, *nm);
        return -1;
    }
    hid_t d = H5Dopen2(s->file, *nm, H5P_DEFAULT);
    if (d < 0)
        yt_errf(e, "%s: tensor '%s': cannot open: %s", s->path, *nm, yt_snap_h5_why(&why));
    return d;
}

static int get_tensor(yt_snap *s, const char *name, yt_snap_dtype want, void *dst,
                      size_t n_expected, yt_err *e)
{
    if (!s)
        return yt_errf(e, "snapshot is NULL");
    quiet_t q;
    yt_snap_quiet_on(&q);
    int rc = -1;
    const char *nm;
    hid_t d = open_tensor(s, name, &nm, e);
    if (d < 0)
        goto done;
    yt_snap_info info;
    if (dset_info(s, d, nm, &info, e) != 0)
        goto done;
    if (info.dtype != want) {
        yt_errf(e, "%s: tensor '%s' holds %s, not %s", s->path, nm, dtype_name(info.dtype),
                dtype_name(want));
        goto done;
    }
    if (info.count != n_expected) {
        yt_errf(e, "%s: tensor '%s' has %zu elements, expected %zu", s->path, nm, info.count,
                n_expected);
        goto done;
    }
    if (info.count > 0 && !dst) {
        yt_errf(e, "%s: tensor '%s': destination is NULL", s->path, nm);
        goto done;
    }
    rc = read_checked(s, d, nm, &info, dst, e);
done:
    if (d >= 0)
        H5Dclose(d);
    yt_snap_quiet_off(&q);
    return rc;
}

/* Opens a root attribute, or fails naming the key. */
static hid_t open_attr(yt_snap *s, const char *key, yt_err *e)
{
    walk_t why;
    if (!key || !key[0]) {
        yt_errf(e, "%s: empty attribute name", s->path);
        return -1;
    }
    htri_t ex = H5Aexists(s->file, key);
    if (ex < 0) {
        yt_errf(e, "%s: attribute '%s': %s", s->path, key, yt_snap_h5_why(&why));
        return -1;
    }
    if (ex == 0) {
        yt_errf(e, "%s: attribute '%s' missing", s->path, key);
        return -1;
    }
    hid_t a = H5Aopen(s->file, key, H5P_DEFAULT);
    if (a < 0) {
        yt_errf(e, "%s: attribute '%s': cannot open: %s", s->path, key, yt_snap_h5_why(&why));
        return -1;
    }
    hid_t sp = H5Aget_space(a);
    hssize_t np = sp >= 0 ? H5Sget_simple_extent_npoints(sp) : -1;
    if (sp >= 0)
        H5Sclose(sp);
    if (np != 1) {
        H5Aclose(a);
        yt_errf(e, "%s: attribute '%s' is not a single value", s->path, key);
        return -1;
    }
    return a;
}

static int attr_str_dup(yt_snap *s, const char *key, char **out, yt_err *e)
{
    walk_t why;
    *out = NULL;
    hid_t a = open_attr(s, key, e);
    if (a < 0)
        return -1;
    int rc = -1;
    hid_t ft = H5Aget_type(a), mt = -1;
    if (ft < 0 || H5Tget_class(ft) != H5T_STRING) {
        yt_errf(e, "%s: attribute '%s' is not a string", s->path, key);
        goto done;
    }
    if (H5Tis_variable_str(ft) != 0) {
        /* Its size is only known by reading it: format 2 writes fixed length. */
        yt_errf(e, "%s: attribute '%s' is a variable-length string", s->path, key);
        goto done;
    }
    mt = H5Tcopy(ft);
    if (mt < 0)
        goto h5fail;
    {
        size_t n = H5Tget_size(ft);
        if (n == 0 || n > s->size) {
            yt_errf(e, "%s: attribute '%s' claims %zu bytes, the file has %zu", s->path, key, n,
                    s->size);
            goto done;
        }
        char *buf = yt_calloc(1, n + 1, "a string attribute", e);
        if (!buf) {
            yt_err_prefix(e, "%s: attribute '%s'", s->path, key);
            goto done;
        }
        if (H5Aread(a, mt, buf) < 0) {
            free(buf);
            goto h5fail;
        }
        *out = buf;
    }
    rc = 0;
    goto done;
h5fail:
    yt_errf(e, "%s: attribute '%s': cannot read: %s", s->path, key, yt_snap_h5_why(&why));
done:
    if (mt >= 0)
        H5Tclose(mt);
    if (ft >= 0)
        H5Tclose(ft);
    H5Aclose(a);
    return rc;
}

static int attr_num(yt_snap *s, const char *key, H5T_class_t cls, hid_t mt, void *out, yt_err *e)
{
    walk_t why;
    hid_t a = open_attr(s, key, e);
    if (a < 0)
        return -1;
    int rc = -1;
    hid_t ft = H5Aget_type(a);
    if (ft < 0 || H5Tget_class(ft) != cls || H5Tget_size(ft) != 8)
        yt_errf(e, "%s: attribute '%s' is not %s", s->path, key,
                cls == H5T_INTEGER ? "a 64-bit integer" : "a 64-bit float");
    else if (H5Aread(a, mt, out) < 0)
        yt_errf(e, "%s: attribute '%s': cannot read: %s", s->path, key, yt_snap_h5_why(&why));
    else
        rc = 0;
    if (ft >= 0)
        H5Tclose(ft);
    H5Aclose(a);
    return rc;
}

/* ---- public ---- */

/* HDF5 file-image callbacks that hand HDF5 our buffer instead of copies of it
 * (the image is only read): one copy of the snapshot in memory, not three. */
static void *img_malloc(size_t size, H5FD_file_image_op_t op, void *udata)
{
    (void)op;
    yt_snap *s = udata;
    return size == s->size ? s->img : NULL;
}

static void *img_memcpy(void *dest, const void *src, size_t size, H5FD_file_image_op_t op,
                        void *udata)
{
    (void)op;
    yt_snap *s = udata;
    /* Every copy HDF5 asks for is of our buffer onto itself. */
    return dest == s->img && src == s->img && size == s->size ? dest : NULL;
}

static void *img_realloc(void *ptr, size_t size, H5FD_file_image_op_t op, void *udata)
{
    (void)ptr;
    (void)size;
    (void)op;
    (void)udata;
    return NULL;
}

static herr_t img_free(void *ptr, H5FD_file_image_op_t op, void *udata)
{
    (void)ptr;
    (void)op;
    (void)udata;
    return 0; /* ours: freed by yt_snap_close after the file is closed */
}

static void *udata_copy(void *udata) { return udata; }
static herr_t udata_free(void *udata)
{
    (void)udata;
    return 0;
}

/* The whole file into s->img, never more than fstat's size. */
static int read_image(yt_snap *s, yt_err *e)
{
    int fd = open(s->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return yt_errno(e, errno, "%s: cannot open snapshot", s->path);
    struct stat st;
    int rc = -1;
    if (fstat(fd, &st) != 0) {
        yt_errno(e, errno, "%s: cannot open snapshot", s->path);
    } else if (!S_ISREG(st.st_mode)) {
        yt_errf(e, "%s: not a regular file", s->path);
    } else if (st.st_size == 0) {
        yt_errf(e, "%s: empty file (0 bytes; killed while saving?)", s->path);
    } else if (!(s->img = yt_malloc((size_t)st.st_size, "the snapshot's bytes", e))) {
        yt_err_prefix(e, "%s", s->path);
    } else {
        s->size = (size_t)st.st_size;
        size_t got = 0;
        while (got < s->size) {
            ssize_t n = read(fd, s->img + got, s->size - got);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0) {
                if (n < 0)
                    yt_errno(e, errno, "%s: read failed", s->path);
                else
                    yt_errf(e, "%s: shrank while being read", s->path);
                break;
            }
            got += (size_t)n;
        }
        rc = got == s->size ? 0 : -1;
    }
    close(fd);
    return rc;
}

int yt_snap_open(yt_snap **out, const char *path, yt_err *e)
{
    *out = NULL;
    if (!path || !path[0])
        return yt_errf(e, "snapshot path is empty");
    if (strlen(path) >= PATH_CAP)
        return yt_errf(e, "%s: path too long", path);
    yt_snap *s = yt_calloc(1, sizeof *s, "a snapshot reader", e);
    if (!s)
        return yt_err_prefix(e, "%s", path);
    s->file = -1;
    snprintf(s->path, sizeof s->path, "%s", path);
    const yt_seal_kind kind = YT_SNAP_SEAL_KIND;
    int hrc = read_image(s, e);
    if (hrc == 0)
        hrc = yt_seal_check_image(path, s->img, s->size, &kind, e);
    if (hrc != 0) {
        yt_snap_close(s);
        return hrc;
    }

    quiet_t q;
    walk_t why;
    yt_snap_quiet_on(&q);
    H5FD_file_image_callbacks_t cb = {img_malloc, img_memcpy, img_realloc, img_free,
                                      udata_copy, udata_free, s};
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl >= 0) {
        H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG);
        if (H5Pset_fapl_core(fapl, 4096, 0) >= 0 && H5Pset_file_image_callbacks(fapl, &cb) >= 0 &&
            H5Pset_file_image(fapl, s->img, s->size) >= 0)
            /* HDF5 refuses a file image under a name that exists on disk: the
             * name is only a label, so give one that cannot exist. */
            s->file = H5Fopen("/proc/self/yieldtune-snapshot-image", H5F_ACC_RDONLY, fapl);
        if (s->file < 0) /* before any other call clears the error stack */
            yt_errf(e, "%s: cannot open snapshot: %s", path, yt_snap_h5_why(&why));
        H5Pclose(fapl);
    } else {
        yt_errf(e, "%s: cannot open snapshot: %s", path, yt_snap_h5_why(&why));
    }
    int rc = -1;
    char *fmt = NULL;
    int64_t version = 0;
    H5O_info_t oi;
    if (s->file < 0) {
        /* message set */
    } else if (H5Oget_info2(s->file, &oi, H5O_INFO_NUM_ATTRS) < 0) {
        yt_errf(e, "%s: cannot count the root attributes: %s", path, yt_snap_h5_why(&why));
    } else if (oi.num_attrs > YT_SNAP_MAX_ATTRS) {
        yt_errf(e, "%s: %llu root attributes, more than the %d a snapshot has", path,
                (unsigned long long)oi.num_attrs, YT_SNAP_MAX_ATTRS);
    } else if (attr_str_dup(s, "format", &fmt, e) != 0) {
        yt_err_prefix(e, "not a yieldtune snapshot");
    } else if (strcmp(fmt, YT_SNAP_FORMAT) != 0) {
        yt_errf(e, "%s: not a yieldtune snapshot (format '%s')", path, fmt);
    } else if (attr_num(s, "format_version", H5T_INTEGER, H5T_NATIVE_INT64, &version, e) != 0) {
        /* message set */
    } else if (version != YT_SNAP_FORMAT_VERSION) {
        yt_errf(e, "%s: snapshot format_version %lld, this program reads %d", path,
                (long long)version, YT_SNAP_FORMAT_VERSION);
    } else {
        rc = 0;
    }
    free(fmt);
    yt_snap_quiet_off(&q);
    if (rc != 0) {
        yt_snap_close(s);
        return -1;
    }
    *out = s;
    return 0;
}

void yt_snap_close(yt_snap *s)
{
    if (!s)
        return;
    if (s->file >= 0) {
        quiet_t q;
        yt_snap_quiet_on(&q);
        H5Fclose(s->file);
        yt_snap_quiet_off(&q);
    }
    free(s->img);
    free(s);
}

const char *yt_snap_file(const yt_snap *s) { return s ? s->path : ""; }

int yt_snap_get_f32(yt_snap *s, const char *name, float *dst, size_t n_expected, yt_err *e)
{
    return get_tensor(s, name, YT_SNAP_F32, dst, n_expected, e);
}

int yt_snap_get_u64_array(yt_snap *s, const char *name, uint64_t *dst, size_t n_expected,
                          yt_err *e)
{
    return get_tensor(s, name, YT_SNAP_U64, dst, n_expected, e);
}

int yt_snap_get_bytes(yt_snap *s, const char *name, void *dst, size_t n_expected, yt_err *e)
{
    return get_tensor(s, name, YT_SNAP_BYTES, dst, n_expected, e);
}

int yt_snap_get_info(yt_snap *s, const char *name, yt_snap_info *info, yt_err *e)
{
    if (!s)
        return yt_errf(e, "snapshot is NULL");
    quiet_t q;
    yt_snap_quiet_on(&q);
    int rc = -1;
    const char *nm;
    hid_t d = open_tensor(s, name, &nm, e);
    if (d >= 0) {
        rc = dset_info(s, d, nm, info, e);
        info->name = NULL;
        H5Dclose(d);
    }
    yt_snap_quiet_off(&q);
    return rc;
}

int yt_snap_get_shape(yt_snap *s, const char *name, int *ndim, int64_t *shape, yt_err *e)
{
    yt_snap_info info;
    if (yt_snap_get_info(s, name, &info, e) != 0)
        return -1;
    *ndim = info.ndim;
    for (int i = 0; i < info.ndim; i++)
        shape[i] = info.shape[i];
    return 0;
}

int yt_snap_has(yt_snap *s, const char *name)
{
    const char *nm = yt_snap_tensor_name(name);
    if (!s || !nm)
        return 0;
    quiet_t q;
    yt_snap_quiet_on(&q);
    int r = dataset_exists(s->file, nm);
    yt_snap_quiet_off(&q);
    return r;
}

int yt_snap_has_attr(yt_snap *s, const char *key)
{
    if (!s || !key || !key[0])
        return 0;
    quiet_t q;
    yt_snap_quiet_on(&q);
    int r = H5Aexists(s->file, key) > 0;
    yt_snap_quiet_off(&q);
    return r;
}

int yt_snap_get_attr_str_dup(yt_snap *s, const char *key, char **out, yt_err *e)
{
    if (!s)
        return yt_errf(e, "snapshot is NULL");
    quiet_t q;
    yt_snap_quiet_on(&q);
    int rc = attr_str_dup(s, key, out, e);
    yt_snap_quiet_off(&q);
    return rc;
}

int yt_snap_get_attr_str(yt_snap *s, const char *key, char *dst, size_t cap, yt_err *e)
{
    char *v = NULL;
    if (yt_snap_get_attr_str_dup(s, key, &v, e) != 0)
        return -1;
    size_t n = strlen(v);
    if (n + 1 > cap) {
        free(v);
        return yt_errf(e, "%s: attribute '%s': value of %zu bytes does not fit in %zu", s->path,
                       key, n, cap);
    }
    memcpy(dst, v, n + 1);
    free(v);
    return 0;
}

int yt_snap_get_attr_i64(yt_snap *s, const char *key, int64_t *out, yt_err *e)
{
    if (!s)
        return yt_errf(e, "snapshot is NULL");
    quiet_t q;
    yt_snap_quiet_on(&q);
    int rc = attr_num(s, key, H5T_INTEGER, H5T_NATIVE_INT64, out, e);
    yt_snap_quiet_off(&q);
    return rc;
}

int yt_snap_get_attr_f64(yt_snap *s, const char *key, double *out, yt_err *e)
{
    if (!s)
        return yt_errf(e, "snapshot is NULL");
    quiet_t q;
    yt_snap_quiet_on(&q);
    int rc = attr_num(s, key, H5T_FLOAT, H5T_NATIVE_DOUBLE, out, e);
    yt_snap_quiet_off(&q);
    return rc;
}

/* ---- walking the tree ---- */

typedef struct {
    yt_snap *s;
    yt_err *e;
    int failed;          /* e holds an error */
    int user_rc;         /* non-zero return of the user's callback */
    yt_snap_tensor_fn fn; /* foreach */
    yt_snap_data_fn data_fn; /* verify: called with each checked tensor's data */
    void *ctx;
    void *buf;           /* verify: read buffer */
    size_t buf_cap;
    size_t n;            /* verify: datasets checked */
} visit_t;

typedef int (*dset_op)(visit_t *v, hid_t d, yt_snap_info *info);

static int op_foreach(visit_t *v, hid_t d, yt_snap_info *info)
{
    (void)d;
    int r = v->fn(info, v->ctx);
    if (r != 0) {
        v->user_rc = r;
        return 1;
    }
    return 0;
}

static int op_verify(visit_t *v, hid_t d, yt_snap_info *info)
{
    size_t bytes = info->count * elem_size(info->dtype);
    if (bytes > v->buf_cap) {
        void *nb = yt_realloc(v->buf, bytes, "the tensor's data", v->e);
        if (!nb) {
            yt_err_prefix(v->e, "%s: tensor '%s'", v->s->path, info->name);
            v->failed = 1;
            return 1;
        }
        v->buf = nb;
        v->buf_cap = bytes;
    }
    if (read_checked(v->s, d, info->name, info, v->buf, v->e) != 0) {
        v->failed = 1;
        return 1;
    }
    if (v->data_fn && v->data_fn(info, v->buf, v->ctx, v->e) != 0) {
        v->failed = 1;
        return 1;
    }
    v->n++;
    return 0;
}

typedef struct {
    visit_t *v;
    dset_op op;
} visit_pair;

static herr_t visit_cb(hid_t g, const char *name, const H5L_info_t *linfo, void *data)
{
    visit_pair *p = data;
    visit_t *v = p->v;
    walk_t why;
    if (linfo->type != H5L_TYPE_HARD)
        return 0;
    if (yt_snap_tensor_name(name) != name) {
        yt_errf(v->e, "%s: an object's name breaks the tensor-name rule", v->s->path);
        v->failed = 1;
        return 1;
    }
    hid_t o = H5Oopen(g, name, H5P_DEFAULT);
    if (o < 0) {
        yt_errf(v->e, "%s: object '%s': cannot open: %s", v->s->path, name, yt_snap_h5_why(&why));
        v->failed = 1;
        return 1;
    }
    int is_dset = H5Iget_type(o) == H5I_DATASET;
    int r = 0;
    if (is_dset) {
        yt_snap_info info;
        if (dset_info(v->s, o, name, &info, v->e) != 0) {
            v->failed = 1;
            r = 1;
        } else {
            info.name = name;
            r = p->op(v, o, &info);
        }
    }
    H5Oclose(o);
    return r;
}

static int visit(visit_t *v, dset_op op)
{
    visit_pair p = {v, op};
    walk_t why;
    herr_t r = H5Lvisit(v->s->file, H5_INDEX_NAME, H5_ITER_INC, visit_cb, &p);
    if (v->failed)
        return -1;
    if (r < 0)
        return yt_errf(v->e, "%s: cannot walk the tensor tree: %s", v->s->path, yt_snap_h5_why(&why));
    return 0;
}

int yt_snap_foreach(yt_snap *s, yt_snap_tensor_fn fn, void *ctx, yt_err *e)
{
    if (!s || !fn)
        return yt_errf(e, "yt_snap_foreach: snapshot or callback is NULL");
    visit_t v = {.s = s, .e = e, .fn = fn, .ctx = ctx};
    quiet_t q;
    yt_snap_quiet_on(&q);
    int rc = visit(&v, op_foreach);
    yt_snap_quiet_off(&q);
    if (rc != 0)
        return rc;
    return v.user_rc;
}

typedef struct {
    yt_snap_attr_fn fn;
    void *ctx;
    int user_rc;
} attr_visit_t;

static herr_t attr_cb(hid_t loc, const char *name, const H5A_info_t *ainfo, void *data)
{
    (void)ainfo;
    attr_visit_t *av = data;
    char kind = '?';
    hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
    if (a >= 0) {
        hid_t t = H5Aget_type(a);
        H5T_class_t c = t >= 0 ? H5Tget_class(t) : H5T_NO_CLASS;
        kind = c == H5T_STRING ? 's' : c == H5T_INTEGER ? 'i' : c == H5T_FLOAT ? 'f' : '?';
        if (t >= 0)
            H5Tclose(t);
        H5Aclose(a);
    }
    int r = av->fn(name, kind, av->ctx);
    if (r != 0) {
        av->user_rc = r;
        return 1;
    }
    return 0;
}

int yt_snap_foreach_attr(yt_snap *s, yt_snap_attr_fn fn, void *ctx, yt_err *e)
{
    if (!s || !fn)
        return yt_errf(e, "yt_snap_foreach_attr: snapshot or callback is NULL");
    attr_visit_t av = {fn, ctx, 0};
    quiet_t q;
    walk_t why;
    yt_snap_quiet_on(&q);
    hsize_t idx = 0;
    herr_t r = H5Aiterate2(s->file, H5_INDEX_NAME, H5_ITER_INC, &idx, attr_cb, &av);
    int rc = 0;
    if (r < 0)
        rc = yt_errf(e, "%s: cannot list attributes: %s", s->path, yt_snap_h5_why(&why));
    yt_snap_quiet_off(&q);
    return rc != 0 ? rc : av.user_rc;
}

int yt_snap_verify(yt_snap *s, yt_err *e) { return yt_snap_verify_each(s, NULL, NULL, e); }

int yt_snap_verify_each(yt_snap *s, yt_snap_data_fn fn, void *ctx, yt_err *e)
{
    if (!s)
        return yt_errf(e, "snapshot is NULL");
    int64_t complete = 0;
    quiet_t q;
    yt_snap_quiet_on(&q);
    int rc = 0;
    if (H5Aexists(s->file, "complete") <= 0) {
        rc = yt_errf(e, "%s: attribute 'complete' missing: the snapshot was never finished",
                     s->path);
    } else if (attr_num(s, "complete", H5T_INTEGER, H5T_NATIVE_INT64, &complete, e) != 0) {
        rc = -1;
    } else if (complete != 1) {
        rc = yt_errf(e, "%s: attribute 'complete' is %lld, not 1", s->path, (long long)complete);
    } else {
        visit_t v = {.s = s, .e = e, .data_fn = fn, .ctx = ctx};
        rc = visit(&v, op_verify);
        free(v.buf);
    }
    yt_snap_quiet_off(&q);
    return rc;
}

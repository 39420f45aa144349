# bench/gpu-env.sh: makes the build dependencies packed by bench/gpu-kit usable
# on a machine that lacks them (the lent GPU machine), without touching / .
#
# Why: that machine (a throwaway, probably Ubuntu 24.04, image with the CUDA
# toolkit, gcc and a PyTorch venv, no network) has no Open MPI, HDF5, OpenBLAS,
# jansson, PCRE2, utf8proc, Check, maybe no make or pkg-config.  bench/gpu-kit
# packs Debian 12's packages of them into .gpu/debs; this fragment unpacks them
# into a private root and points the tools at it.
#
# Usage (bash, sourced; it only sets variables and makes files under ROOT):
#     source bench/gpu-env.sh [KIT [ROOT]] || exit 1
#   KIT   the kit folder (default: .gpu at the top of this repository)
#   ROOT  where to unpack (default: $YT_DEPS_ROOT, else /opt/ytdeps, else
#         /tmp/ytdeps where /opt is not writable); it is reused while it
#         matches the kit (.kit-stamp), else made afresh (about 5 s).
# Then the plain build works:  .../configure [--with-cuda] [--with-nccl=${YT_NCCL_DIR:-yes}]; make
#
# What it does:
#   - unpacks every .deb (dpkg-deb -x, else ar + tar, else Python): "own"
#     packages into ROOT, "fill" packages (kit.txt) into ROOT/fill;
#   - does what the packages' maintainer scripts would (update-alternatives):
#     mpicc, mpirun, mpiexec; libopenblas.so{,.0}, openblas.pc, cblas.h -> the
#     OpenMP build of OpenBLAS; libmpi.so, mpi.pc; hdf5.pc (Debian's own -dev
#     symlinks, libfoo.so -> libfoo.so.N, are in the packages already);
#   - ROOT/fill-lib: links to the fill libraries this machine does not have
#     itself (a library it has, e.g. a newer libssl.so.3, is left to win);
#   - exports:
#       PATH             ROOT/usr/bin first (mpicc, mpirun, orted, make, pkg-config)
#       LD_LIBRARY_PATH  ROOT/usr/lib/x86_64-linux-gnu, ROOT/usr/lib/x86_64-linux-gnu/openblas-openmp,
#                        then the caller's, then ROOT/fill-lib (rpath-free Debian
#                        libraries; the linker also finds indirect ones here)
#       PKG_CONFIG_LIBDIR    ROOT's pkgconfig folders only (no host .pc files)
#       PKG_CONFIG_SYSROOT_DIR=ROOT  pkgconf prefixes ROOT to every -I and -L
#       (PKG_CONFIG_PATH is unset)
#       OPAL_PREFIX=ROOT/usr  Open MPI finds its libdir, plugins (pkglibdir),
#                        help files, wrapper data (mpicc) and headers below it
#                        (all of Debian's Open MPI paths are ${prefix}-relative
#                        except sysconfdir)
#       OPAL_SYSCONFDIR=ROOT/etc/openmpi  reads Debian's openmpi-mca-params.conf
#                        (no UCX, OFI or verbs plugins)
#       PMIX_MCA_mca_base_component_path, PMIX_PKGDATADIR  PMIx's plugins and
#                        help files (Debian's pmix2 prefix has absolute paths)
#       OMPI_MCA_plm=isolated  one node, no ssh needed (without it mpirun dies:
#                        "plm_rsh_agent ... ssh : rsh ... could not be found")
#       OMPI_MCA_mtl='^ofi,psm,psm2', OMPI_MCA_reachable='^netlink'  leave the
#                        plugins whose transport libraries the kit omits alone
#                        (else each rank prints "unable to open ...")
#       OMPI_MCA_btl_vader_single_copy_mechanism=none  containers often forbid
#                        the CMA (ptrace) copies vader would use
#       OMPI_ALLOW_RUN_AS_ROOT(_CONFIRM)=1  the device runs as root
#       YT_DEPS_ROOT     ROOT;  YT_DIST_TARBALL  the kit's yieldtune-*.tar.gz
#       YT_NCCL_DIR      only where NCCL comes from pip (nvidia-nccl-cu13):
#                        ROOT/nccl with include/ and lib/libnccl.so, for
#                        configure --with-nccl="$YT_NCCL_DIR"
#       YT_KIT_STALE     files of this tree that differ from the dist tarball
#                        (0 when the tarball is current; then warns)
#   It prints one summary line; YT_GPU_ENV_QUIET=1 silences it.
# Testing hook: YT_KIT_EXTRACT=dpkg|ar|python forces one way of unpacking.

(return 0 2> /dev/null) || { echo "usage: source bench/gpu-env.sh [KIT [ROOT]]" >&2; exit 2; }

_yt_gpu_env() {
    local here kit root ma deb role name stamp tool how=""
    here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
    kit=${1:-$here/.gpu}
    root=${2:-${YT_DEPS_ROOT:-/opt/ytdeps}}
    if [ -z "${2:-}" ] && [ -z "${YT_DEPS_ROOT:-}" ] && ! mkdir -p "$root" 2> /dev/null; then
        root=/tmp/ytdeps    # /opt not writable
    fi
    ma=x86_64-linux-gnu
    _yt_err() { echo "gpu-env: ERROR: $*" >&2; }
    _yt_say() { [ "${YT_GPU_ENV_QUIET:-0}" = 1 ] || echo "gpu-env: $*"; }

    [ -f "$kit/kit.txt" ] || { _yt_err "no kit at $kit (run bench/gpu-kit and carry .gpu)"; return 1; }
    kit=$(cd "$kit" && pwd)
    [ "$(uname -m)" = x86_64 ] || { _yt_err "the kit is for x86_64, this is $(uname -m)"; return 1; }
    local glibc
    glibc=$(getconf GNU_LIBC_VERSION 2> /dev/null | awk '{ print $2 }')
    case "$glibc" in
        2.[0-9]|2.[0-2][0-9]|2.3[0-5])
            _yt_err "glibc $glibc: the kit's Debian 12 libraries need 2.36 (libevent_core, Open MPI's core, uses arc4random)"
            return 1 ;;
    esac

    # --- unpack (once per kit) ----------------------------------------------
    stamp=$(cksum < "$kit/kit.txt")
    if [ "$(cat "$root/.kit-stamp" 2> /dev/null)" != "$stamp" ]; then
        case "${YT_KIT_EXTRACT:-}" in
            dpkg|ar|python) how=$YT_KIT_EXTRACT ;;
            "") if command -v dpkg-deb > /dev/null; then how="dpkg"
                elif command -v ar > /dev/null && command -v xz > /dev/null; then how="ar"
                else how="python"
                fi ;;
            *) _yt_err "YT_KIT_EXTRACT=$YT_KIT_EXTRACT: want dpkg, ar or python"; return 1 ;;
        esac
        if [ "$how" = python ]; then
            for tool in /opt/torch/.venv/bin/python python3 python; do
                command -v "$tool" > /dev/null && break
                tool=""
            done
            [ -n "$tool" ] || { _yt_err "cannot unpack .deb files: no dpkg-deb, no ar with xz, no python"; return 1; }
        fi
        # Only ever wipe a folder this script made (it has .kit-stamp) or an empty one.
        if [ -e "$root" ] && [ ! -f "$root/.kit-stamp" ] && [ -n "$(ls -A "$root" 2> /dev/null)" ]; then
            _yt_err "$root is not empty and not made by bench/gpu-env.sh: give another ROOT"
            return 1
        fi
        rm -rf "$root"
        mkdir -p "$root/fill" || { _yt_err "cannot make $root"; return 1; }
        echo unpacking > "$root/.kit-stamp"
        for deb in "$kit"/debs/*.deb; do
            name=$(basename "$deb")
            name=${name%%_*}
            role=$(awk -v p="$name" '$2 == p { print $1 }' "$kit/kit.txt")
            local dest=$root
            [ "$role" = fill ] && dest=$root/fill
            case "$how" in
                dpkg) dpkg-deb -x "$deb" "$dest" ;;
                ar) (cd "$dest" && ar p "$deb" "$(ar t "$deb" | grep '^data\.tar')" | tar -xJf -) ;;
                python) "$tool" - "$deb" "$dest" << 'PY'
import io, sys, tarfile
deb, dest = sys.argv[1], sys.argv[2]
with open(deb, "rb") as f:
    data = f.read()
assert data[:8] == b"!<arch>\n", deb + ": not a .deb"
pos = 8
while pos + 60 <= len(data):
    name = data[pos:pos + 16].decode().strip().rstrip("/")
    size = int(data[pos + 48:pos + 58].decode().strip())
    body = data[pos + 60:pos + 60 + size]
    if name.startswith("data.tar"):
        with tarfile.open(fileobj=io.BytesIO(body), mode="r:*") as t:
            kw = {"filter": "fully_trusted"} if hasattr(tarfile, "fully_trusted_filter") else {}
            t.extractall(dest, **kw)
        sys.exit(0)
    pos += 60 + size + (size & 1)
sys.exit(deb + ": no data.tar member")
PY
                ;;
            esac || { _yt_err "unpacking $deb ($how) failed"; return 1; }
        done

        # The links update-alternatives makes on a Debian system.
        local l=$root/usr/lib/$ma i=$root/usr/include/$ma
        mkdir -p "$i" "$l/pkgconfig"
        ln -sfn mpicc.openmpi "$root/usr/bin/mpicc"
        ln -sfn mpic++.openmpi "$root/usr/bin/mpicxx"
        ln -sfn mpirun.openmpi "$root/usr/bin/mpirun"
        ln -sfn mpiexec.openmpi "$root/usr/bin/mpiexec"
        ln -sfn ../../lib/$ma/openmpi/include "$i/mpi"
        ln -sfn openmpi/lib/libmpi.so "$l/libmpi.so"
        ln -sfn ompi.pc "$l/pkgconfig/mpi.pc"
        ln -sfn ompi-c.pc "$l/pkgconfig/mpi-c.pc"
        # (not libblas.so.3 and liblapack.so.3: nothing here needs them, and in
        # LD_LIBRARY_PATH they would stand in for the machine's own)
        ln -sfn openblas-openmp/libopenblas.so "$l/libopenblas.so"
        ln -sfn openblas-openmp/libopenblas.so.0 "$l/libopenblas.so.0"
        ln -sfn ../openblas-openmp/pkgconfig/openblas.pc "$l/pkgconfig/openblas.pc"
        ln -sfn openblas-openmp/cblas.h "$i/cblas.h"
        ln -sfn openblas-openmp/cblas.h "$i/cblas-openblas.h"
        ln -sfn openblas-openmp/f77blas.h "$i/f77blas.h"
        ln -sfn openblas-openmp/openblas_config.h "$i/openblas_config.h"
        ln -sfn hdf5-serial.pc "$l/pkgconfig/hdf5.pc"
        # Absolute links in a package would leave ROOT: point them into it.
        local link target
        while IFS= read -r link; do
            target=$(readlink "$link")
            case "$link" in
                "$root"/fill/*) ln -sfn "$root/fill$target" "$link" ;;
                *) ln -sfn "$root$target" "$link" ;;
            esac
        done < <(find "$root" -type l -lname '/*')
        echo "$stamp" > "$root/.kit-stamp"
    fi

    # --- fill-lib: only what this machine lacks ----------------------------
    local sys_libs have
    sys_libs=$( { ldconfig -p 2> /dev/null || /sbin/ldconfig -p 2> /dev/null; } |
        awk '/x86-64/ { print $1 }' || true)
    rm -rf "$root/fill-lib"
    mkdir -p "$root/fill-lib"
    local filled=0 kept=0 d f
    for d in "$root/fill/lib/$ma" "$root/fill/usr/lib/$ma" "$root/fill/lib" "$root/fill/usr/lib"; do
        [ -d "$d" ] || continue
        for f in "$d"/lib*.so.*; do
            [ -e "$f" ] || continue
            name=$(basename "$f")
            have=0
            for tool in /lib/$ma /usr/lib/$ma /lib64 /usr/lib64 /lib /usr/lib; do
                [ -e "$tool/$name" ] && { have=1; break; }
            done
            [ "$have" = 0 ] && grep -qxF "$name" <<< "$sys_libs" && have=1
            if [ "$have" = 1 ]; then
                kept=$((kept + 1))
            else
                ln -sfn "$f" "$root/fill-lib/$name"
                filled=$((filled + 1))
            fi
        done
    done

    # --- the environment -----------------------------------------------------
    # (sourcing twice does not pile up entries: ours are taken out first)
    local p old_path="" old_ld=""
    local IFS=:
    for p in ${PATH:-}; do
        case "$p" in "$root"/*) ;; *) old_path=${old_path:+$old_path:}$p ;; esac
    done
    for p in ${LD_LIBRARY_PATH:-}; do
        case "$p" in "$root"/*|"") ;; *) old_ld=${old_ld:+$old_ld:}$p ;; esac
    done
    unset IFS
    export YT_DEPS_ROOT=$root
    export PATH="$root/usr/bin${old_path:+:$old_path}"
    export LD_LIBRARY_PATH="$root/usr/lib/$ma:$root/usr/lib/$ma/openblas-openmp${old_ld:+:$old_ld}:$root/fill-lib"
    export PKG_CONFIG_LIBDIR="$root/usr/lib/$ma/pkgconfig:$root/usr/share/pkgconfig"
    export PKG_CONFIG_SYSROOT_DIR=$root
    unset PKG_CONFIG_PATH
    export OPAL_PREFIX=$root/usr
    export OPAL_SYSCONFDIR=$root/etc/openmpi
    export PMIX_MCA_mca_base_component_path=$root/usr/lib/$ma/pmix2/lib/pmix
    export PMIX_PKGDATADIR=$root/usr/lib/$ma/pmix2/share/pmix
    export OMPI_MCA_plm=isolated
    export OMPI_MCA_mtl='^ofi,psm,psm2'
    export OMPI_MCA_reachable='^netlink'
    export OMPI_MCA_btl_vader_single_copy_mechanism=none
    export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
    YT_DIST_TARBALL=""
    for f in "$kit"/yieldtune-*.tar.gz; do [ -f "$f" ] && YT_DIST_TARBALL=$f; done
    export YT_DIST_TARBALL

    # NCCL from pip has no libnccl.so (only .so.2): give configure a folder.
    unset YT_NCCL_DIR
    local py nccl_lib=""
    for py in /opt/torch/.venv/bin/python ${VIRTUAL_ENV:+$VIRTUAL_ENV/bin/python}; do
        [ -x "$py" ] || continue
        nccl_lib=$("$py" - 2> /dev/null << 'PY'
import glob, os, site, sys
for sp in site.getsitepackages() + [site.getusersitepackages()]:
    for lib in sorted(glob.glob(os.path.join(sp, "nvidia", "**", "libnccl.so.2"), recursive=True)):
        if os.path.isfile(os.path.join(os.path.dirname(os.path.dirname(lib)), "include", "nccl.h")):
            print(lib)
            sys.exit(0)
PY
        )
        [ -n "$nccl_lib" ] && break
    done
    if [ -n "$nccl_lib" ]; then
        rm -rf "$root/nccl"
        mkdir -p "$root/nccl/lib"
        ln -sfn "$(dirname "$(dirname "$nccl_lib")")/include" "$root/nccl/include"
        ln -sfn "$nccl_lib" "$root/nccl/lib/libnccl.so.2"
        ln -sfn libnccl.so.2 "$root/nccl/lib/libnccl.so"
        export YT_NCCL_DIR=$root/nccl
    fi

    # Has the tree moved on since the tarball was made?
    YT_KIT_STALE=0
    if [ -f "$kit/dist-files.sha256" ]; then
        local stale
        stale=$(cd "$kit/.." || exit 0
            sha256sum -c --quiet "$kit/dist-files.sha256" 2>&1 | sed -n 's/: FAILED.*//p')
        if [ -n "$stale" ]; then
            YT_KIT_STALE=$(wc -l <<< "$stale")
            echo "gpu-env: WARNING: $YT_KIT_STALE file(s) changed since $(basename "$YT_DIST_TARBALL") was made" \
                "(re-run bench/gpu-kit --dist-only): $(head -5 <<< "$stale" | tr '\n' ' ')" >&2
        fi
    fi
    export YT_KIT_STALE

    _yt_say "deps in $root (${how:-reused}; fill libraries: $filled linked, $kept left to the system);" \
        "NCCL: ${YT_NCCL_DIR:-not from pip}; tarball: $(basename "${YT_DIST_TARBALL:-none}")"
    for tool in mpicc mpirun pkg-config make; do
        command -v "$tool" > /dev/null || { _yt_err "$tool missing after unpacking"; return 1; }
    done
}
# Called as an if condition: a caller's set -e cannot stop it half way.
if _yt_gpu_env "$@"; then
    unset -f _yt_gpu_env _yt_err _yt_say
else
    unset -f _yt_gpu_env _yt_err _yt_say
    return 1
fi

"""bench/torch_probe.py: what the lent GPU machine can do, measured through
PyTorch alone (nothing of yieldtune needs to be built), so that bench/gpu-check
has numbers while its build runs.

  --facts   versions and places: Python, torch (CUDA, cuDNN, NCCL versions),
            the GPU, and where the cuBLAS, cuBLASLt, NCCL, cuDNN and CUDA
            runtime headers and libraries are (the toolkit's folders and the
            nvidia-* wheels; CUDA 13 wheels keep theirs under nvidia/cu13/).
  (default) the probe, one line per measurement, each in its own try/except
            so that a failing item costs one line:
            - bf16 GEMM rates of the Llama-3-8B products (q/o, k/v,
              gate/up, down, lm_head, fused QKV 4096->6144, gate|up
              4096->28672) at 2048 and 8192 tokens: y = x W^T ("fwd") and
              dx = dy W ("dX"), random data, CUDA events, median of the timed
              calls after warm-up; TFLOP/s = 2 T in out / time;
            - device-to-device copy bandwidth (bytes read + written);
            - causal GQA attention forward and forward+backward at the 8B shape
              (32 heads, 8 kv heads, head_dim 128, S=2048, batch 1, bf16) by
              torch's scaled_dot_product_attention with each backend forced
              (cuDNN, flash, efficient, math): native GQA (enable_gqa) where
              the backend takes it, else with k/v repeated (said so).
              FLOPs: forward 4 S^2 hd nh / 2 (causal), backward 2.5x forward.
  --seconds N  stop starting new measurements after N seconds (default 120).
  --device cpu --quick  shapes divided by 32 on the CPU: checks the script
            itself anywhere (items the local torch lacks say so).
"""
import argparse
import glob
import os
import platform
import statistics
import sys
import time

T0 = time.monotonic()


def line(s):
    print(s, flush=True)


def facts():
    line(f"python {platform.python_version()} at {sys.executable}")
    try:
        import torch
        line(f"torch {torch.__version__}, built for CUDA {torch.version.cuda}, "
             f"cuDNN {torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else 'none'}")
        try:
            nccl = torch.cuda.nccl.version()
            line(f"torch NCCL {'.'.join(map(str, nccl)) if isinstance(nccl, tuple) else nccl}")
        except Exception as ex:  # noqa: BLE001 (one line per failing item)
            line(f"torch NCCL: unavailable ({type(ex).__name__}: {ex})")
        if torch.cuda.is_available():
            for i in range(torch.cuda.device_count()):
                p = torch.cuda.get_device_properties(i)
                line(f"GPU {i}: {p.name}, sm_{p.major}{p.minor}, {p.multi_processor_count} SMs, "
                     f"{p.total_memory / 2**30:.1f} GiB")
        else:
            line("torch sees no CUDA device")
    except Exception as ex:  # noqa: BLE001
        line(f"torch: unavailable ({type(ex).__name__}: {ex})")
    # Where the libraries are: the toolkit's folders and the nvidia-* wheels.
    roots = sorted(set(glob.glob("/usr/local/cuda*")))
    try:
        import site
        sp = site.getsitepackages() + [site.getusersitepackages()]
    except Exception:  # noqa: BLE001
        sp = []
    wheels = [os.path.join(p, "nvidia") for p in sp if os.path.isdir(os.path.join(p, "nvidia"))]
    want = {
        "cuBLAS": ("cublas_v2.h", "libcublas.so"),
        "cuBLASLt": ("cublasLt.h", "libcublasLt.so"),
        "NCCL": ("nccl.h", "libnccl.so"),
        "cuDNN": ("cudnn.h", "libcudnn.so"),
        "CUDA runtime": ("cuda_runtime.h", "libcudart.so"),
    }
    found = {k: [] for k in want}
    places = []
    for r in roots:
        places += [os.path.join(r, d) for d in ("include", "lib64", "lib", "targets/x86_64-linux/include",
                                                "targets/x86_64-linux/lib")]
    places += ["/usr/include", "/usr/lib/x86_64-linux-gnu", "/usr/local/include", "/usr/local/lib"]
    for w in wheels:
        for dirpath, _, files in os.walk(w):
            if os.path.basename(dirpath) in ("include", "lib", "lib64"):
                places.append(dirpath)
    seen, uniq = set(), []
    for d in places:  # /usr/local/cuda is often a link to /usr/local/cuda-13.0
        r = os.path.realpath(d)
        if os.path.isdir(d) and r not in seen:
            seen.add(r)
            uniq.append(d)
    places = uniq
    for d in places:
        try:
            names = os.listdir(d)
        except OSError:
            continue
        for k, (hdr, lib) in want.items():
            for n in names:
                if n == hdr or n == lib or n.startswith(lib + "."):
                    found[k].append(os.path.join(d, n))
    for k in want:
        paths = sorted(set(found[k]))
        line(f"{k}: " + ("; ".join(paths) if paths else "not found"))
    # The versions the headers found say.
    for hdr, keys in (("nccl.h", ("NCCL_MAJOR", "NCCL_MINOR", "NCCL_PATCH")),
                      ("cudnn_version.h", ("CUDNN_MAJOR", "CUDNN_MINOR", "CUDNN_PATCHLEVEL")),
                      ("cublas_api.h", ("CUBLAS_VER_MAJOR", "CUBLAS_VER_MINOR", "CUBLAS_VER_PATCH"))):
        for d in places:
            path = os.path.join(d, hdr)
            if not os.path.isfile(path):
                continue
            vals = {}
            try:
                with open(path, errors="replace") as f:
                    for ln in f:
                        w = ln.split()
                        if len(w) >= 3 and w[0] == "#define" and w[1] in keys:
                            vals[w[1]] = w[2]
            except OSError:
                continue
            line(f"{path}: version {'.'.join(vals.get(k, '?') for k in keys)}")


def timer(dev):
    import torch
    if dev.type == "cuda":
        def run(fn, reps):
            st, en = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            ts = []
            for _ in range(reps):
                st.record()
                fn()
                en.record()
                en.synchronize()
                ts.append(st.elapsed_time(en) / 1e3)
            return statistics.median(ts)
    else:
        def run(fn, reps):
            ts = []
            for _ in range(reps):
                t = time.perf_counter()
                fn()
                ts.append(time.perf_counter() - t)
            return statistics.median(ts)
    return run


def probe(a):
    import torch
    dev = torch.device(a.device)
    div = 32 if a.quick else 1
    run = timer(dev)
    left = lambda: a.seconds - (time.monotonic() - T0)  # noqa: E731
    bf16 = torch.bfloat16
    gen = []

    def rand(*shape):  # (the generator is made inside an item's try: it can fail)
        if not gen:
            gen.append(torch.Generator(device=dev).manual_seed(0))
        return torch.randn(*shape, device=dev, dtype=bf16, generator=gen[0])

    def warm_and_time(fn):
        for _ in range(3):
            fn()
        if dev.type == "cuda":
            torch.cuda.synchronize()
        t = run(fn, 3)
        reps = max(5, min(50, int(0.25 / max(t, 1e-6))))
        return run(fn, reps)

    H, KV, F, V = 4096 // div, 1024 // div, 14336 // div, 128256 // div
    shapes = [("q,o", H, H), ("k,v", H, KV), ("gate,up", H, F), ("down", F, H), ("lm_head", H, V),
              ("fused qkv", H, H + 2 * KV), ("fused gate|up", H, 2 * F)]
    line(f"== bf16 GEMMs (Llama-3-8B shapes{', /32' if div > 1 else ''}), {a.device}: "
         "fwd y = x W^T [T,in]x[out,in]^T, dX = dy W")
    for T in (2048 // div, 8192 // div):
        for name, din, dout in shapes:
            if left() < 0:
                line(f"gemm T={T} {name}: skipped (past --seconds {a.seconds})")
                continue
            try:
                x, w, dy = rand(T, din), rand(dout, din), rand(T, dout)
                tf = warm_and_time(lambda: x @ w.t())
                tb = warm_and_time(lambda: dy @ w)
                fl = 2.0 * T * din * dout
                line(f"gemm T={T:5d} {name:14s} [{din:5d} -> {dout:6d}]: fwd {tf * 1e3:8.3f} ms "
                     f"{fl / tf / 1e12:7.1f} TFLOP/s, dX {tb * 1e3:8.3f} ms {fl / tb / 1e12:7.1f} TFLOP/s")
                del x, w, dy
            except Exception as ex:  # noqa: BLE001
                line(f"gemm T={T} {name}: FAILED {type(ex).__name__}: {str(ex)[:200]}")
    try:
        if left() < 0:
            raise TimeoutError(f"past --seconds {a.seconds}")
        n = (1 << 30) // div // 2  # bf16 elements: 1 GiB
        src, dst = rand(n), torch.empty(n, device=dev, dtype=bf16)
        t = warm_and_time(lambda: dst.copy_(src))
        line(f"== copy: {2 * n * 2 / 2**30:.1f} GiB read+written in {t * 1e3:.3f} ms: "
             f"{2 * n * 2 / t / 1e12:.2f} TB/s")
        del src, dst
    except Exception as ex:  # noqa: BLE001
        line(f"== copy: FAILED {type(ex).__name__}: {str(ex)[:200]}")

    B, S, nh, nkv, hd = 1, 2048 // div, 32, 8, 128
    fwd_fl = 4.0 * B * nh * S * S * hd / 2
    line(f"== causal GQA attention, SDPA, B={B} S={S} heads {nh}/{nkv} hd {hd} bf16 "
         f"(forward {fwd_fl / 1e9:.1f} GFLOP, backward 2.5x)")
    try:
        from torch.nn.attention import SDPBackend, sdpa_kernel
        backends = [("cuDNN", SDPBackend.CUDNN_ATTENTION), ("flash", SDPBackend.FLASH_ATTENTION),
                    ("efficient", SDPBackend.EFFICIENT_ATTENTION), ("math", SDPBackend.MATH)]
    except Exception as ex:  # noqa: BLE001
        line(f"sdpa: unavailable in torch {torch.__version__} ({type(ex).__name__}: {ex})")
        return
    sdpa = torch.nn.functional.scaled_dot_product_attention
    for name, be in backends:
        if left() < 0:
            line(f"sdpa {name}: skipped (past --seconds {a.seconds})")
            continue
        done = False
        for how in ("gqa", "repeated kv"):
            if done:
                break
            try:
                q = rand(B, nh, S, hd).requires_grad_(True)
                k = rand(B, nkv, S, hd).requires_grad_(True)
                v = rand(B, nkv, S, hd).requires_grad_(True)
                do = rand(B, nh, S, hd)

                def fwd():
                    if how == "gqa":
                        return sdpa(q, k, v, is_causal=True, enable_gqa=True)
                    g = nh // nkv
                    return sdpa(q, k.repeat_interleave(g, 1), v.repeat_interleave(g, 1), is_causal=True)

                def fwd_bwd():
                    o = fwd()
                    o.backward(do)
                    q.grad = k.grad = v.grad = None

                with sdpa_kernel(be):
                    with torch.no_grad():
                        tf = warm_and_time(fwd)
                    tfb = warm_and_time(fwd_bwd)
                tb = max(tfb - tf, 1e-9)
                line(f"sdpa {name:9s} ({how:11s}): fwd {tf * 1e3:7.3f} ms {fwd_fl / tf / 1e12:6.1f} TFLOP/s, "
                     f"fwd+bwd {tfb * 1e3:7.3f} ms ({3.5 * fwd_fl / tfb / 1e12:6.1f} TFLOP/s; "
                     f"bwd ~{2.5 * fwd_fl / tb / 1e12:.1f})")
                done = True
            except Exception as ex:  # noqa: BLE001
                msg = str(ex).strip().splitlines()[0][:160] if str(ex).strip() else ""
                line(f"sdpa {name:9s} ({how:11s}): FAILED {type(ex).__name__}: {msg}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--facts", action="store_true")
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--seconds", type=float, default=120.0)
    a = ap.parse_args()
    if a.facts:
        facts()
    else:
        probe(a)
    line(f"(torch_probe: {time.monotonic() - T0:.1f} s)")


if __name__ == "__main__":
    main()

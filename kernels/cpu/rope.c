/* kernels/cpu/rope.c: rotary embedding that reproduces transformers'
 * LlamaRotaryEmbedding.
 *
 * transformers builds inv_freq (llama3 blend included) and the angles with
 * float32 tensor ops, so we round to float at exactly the same steps, each step
 * evaluated in double and rounded once (the correctly rounded float op):
 * inv_freq then equals transformers' bit for bit (checked for Llama 3.1/3.2
 * configs), and cos/sin are within 1 ulp.  The angle is float(pos * inv_freq)
 * as in transformers, not the exact product: at position 4096 the two differ
 * by up to 1e-4 in cos, and matching the reference matters more.  Rotation is
 * rotate-half; backward applies the transpose rotation in place. */
#include "kernels/kernels.h"

#include <math.h>

#define YT_ROPE_PAR_MIN 32768
#define YT_PI 3.141592653589793 /* math.pi */

void yt_k_rope_inv_freq(float *inv_freq, int hd, float theta, const yt_rope_scaling *sc)
{
    int half = hd / 2;
    for (int i = 0; i < half; i++) {
        float e = (float)(2 * i) / (float)hd; /* torch: arange(0,hd,2).float() / hd */
        float pw = (float)pow((double)theta, (double)e); /* torch: base ** e */
        float f = 1.0f / pw;                              /* torch: 1.0 / that */
        if (sc && sc->llama3) {
            /* each step rounded to float exactly where transformers' float32
             * tensor ops round (a double op rounded once to float is the
             * correctly rounded float op) */
            float factor = sc->factor, lff = sc->low_freq_factor, hff = sc->high_freq_factor;
            float omax = (float)sc->original_max_pos;
            float low_wl = (float)((double)omax / lff), high_wl = (float)((double)omax / hff);
            float wl = (float)(2.0 * YT_PI) / f;
            if (wl > low_wl) {
                f = f / factor;
            } else if (!(wl < high_wl)) {
                float smooth = (float)((double)(omax / wl - lff) / ((double)hff - lff));
                f = (1.0f - smooth) * f / factor + smooth * f;
            }
        }
        inv_freq[i] = (float)f;
    }
}

void yt_k_rope_tables(float *cos_t, float *sin_t, const float *inv_freq, int max_pos, int hd)
{
    int half = hd / 2;
#pragma omp parallel for schedule(static) if ((size_t)max_pos * half >= YT_ROPE_PAR_MIN)
    for (int p = 0; p < max_pos; p++) {
        for (int i = 0; i < half; i++) {
            float ang = (float)p * inv_freq[i]; /* torch: inv_freq.float() @ pos.float() */
            cos_t[(size_t)p * half + i] = (float)cos((double)ang);
            sin_t[(size_t)p * half + i] = (float)sin((double)ang);
        }
    }
}

/* sign = +1: forward rotation; -1: its transpose (inverse). */
static void rope_apply(float *x, const float *cos_t, const float *sin_t, const int32_t *pos, int T,
                       int nh, int hd, float sign)
{
    int half = hd / 2;
#pragma omp parallel for schedule(static) if ((size_t)T * nh * hd >= YT_ROPE_PAR_MIN)
    for (int t = 0; t < T; t++) {
        const float *c = cos_t + (size_t)pos[t] * half;
        const float *s = sin_t + (size_t)pos[t] * half;
        for (int h = 0; h < nh; h++) {
            float *a = x + ((size_t)t * nh + h) * hd;
            float *b = a + half;
#pragma omp simd
            for (int i = 0; i < half; i++) {
                float si = sign * s[i];
                float x0 = a[i], x1 = b[i];
                a[i] = x0 * c[i] - x1 * si;
                b[i] = x1 * c[i] + x0 * si;
            }
        }
    }
}

void yt_k_rope_forward(float *x, const float *cos_t, const float *sin_t, const int32_t *pos, int T,
                       int nh, int hd)
{
    rope_apply(x, cos_t, sin_t, pos, T, nh, hd, 1.0f);
}

void yt_k_rope_backward(float *dx, const float *cos_t, const float *sin_t, const int32_t *pos, int T,
                        int nh, int hd)
{
    rope_apply(dx, cos_t, sin_t, pos, T, nh, hd, -1.0f);
}

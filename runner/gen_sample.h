/* runner/gen_sample: choosing the next token from a row of logits, as
 * transformers' generate() does: greedy (temperature 0: the first largest
 * logit), else logits / temperature, top-k (every token whose logit ties the
 * k-th largest stays), softmax, top-p (the smallest most-probable set whose
 * mass reaches p), and one draw.  The draw is a counter-based function of
 * (seed, prompt index, token index): a run is reproducible whatever the batch
 * and the order in which prompts finish.  Internal to runner/. */
#ifndef YT_GEN_SAMPLE_H
#define YT_GEN_SAMPLE_H

#include <stdint.h>

#include "common/common.h"

typedef struct yt_sampler_cfg {
    float temperature;  /* 0 = greedy */
    float top_p;        /* (0, 1]; 1 = off */
    int top_k;          /* 0 = off */
    uint64_t seed;
} yt_sampler_cfg;

typedef struct yt_gen_cand {
    float p;
    int32_t id;
} yt_gen_cand;

/* Scratch for one vocabulary, allocated once. */
typedef struct yt_gen_sampler {
    yt_sampler_cfg cfg;
    int V;
    float *heap;        /* [V] */
    yt_gen_cand *cand;  /* [V] */
} yt_gen_sampler;

int yt_gen_sampler_init(yt_gen_sampler *s, const yt_sampler_cfg *cfg, int V, yt_err *e);
void yt_gen_sampler_free(yt_gen_sampler *s);
/* The token after logits[V] for token number `step` of prompt `prompt`. */
int32_t yt_gen_sample(yt_gen_sampler *s, const float *logits, uint64_t prompt, uint64_t step);

#endif

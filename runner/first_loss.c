/* The warning after a run's first step when the loss says the weights are not
 * what the user thinks.  A model that predicts nothing (uniform logits) has
 * loss ln(vocab_size) on any data; a trained model on its own kind of text is
 * far below (SmolLM2 on English: 2-5 against ln 49152 = 10.8).  So a first
 * loss within 10% of ln(V), or above it, on a model that should be trained is
 * the mark of random or mismatched weights: a lost lm_head (a tied head a
 * converter dropped), a wrong or half-written checkpoint, a tokenizer that
 * does not belong to the model.  "Should be trained": every model except those
 * `init-model` wrote (config.json marked, yt_model_random_init), which start
 * at ln(V) by construction; a GGUF always holds real weights. */
#include <math.h>
#include <stdio.h>

#include "runner/runner.h"
#include "runner/train.h"

#define NEAR 0.10 /* within 10% of ln(V) */

void yt_train_first_loss_check(const trainer *t, double loss)
{
    if (t->rank != 0 || t->step != 1 || !isfinite(loss))
        return;
    const yt_config *c = yt_model_config(t->model);
    double uniform = log((double)c->vocab_size);
    if (loss < (1.0 - NEAR) * uniform)
        return;
    yt_err e;
    int random = yt_model_random_init(t->o.model, &e);
    if (random != 0)
        return; /* init-model's random weights (or no config.json to tell: no claim) */
    yt_report("train: warning: step 1: loss %.3f is %s ln(vocab_size %d) = %.3f, the loss of a model "
              "that knows nothing: are the weights of %s random or mismatched (an lm_head lost in "
              "conversion, a wrong or damaged checkpoint, data tokenized for another model)?",
              loss, loss >= uniform ? "at or above" : "within 10% of", c->vocab_size, uniform,
              t->o.model);
}

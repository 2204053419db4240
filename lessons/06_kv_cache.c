/* Lesson 06 - the KV-cache: each token's key and value, computed once.

   The model runs one token at a time. Attention at position pos needs the
   key and value of EVERY position 0..pos, in every layer. Attention is
   causal, so those keys and values depend only on their own token and the
   tokens before it: a later token can never change them. Compute each one
   once, keep it, and the next token costs one new k and v per layer
   instead of a rerun of the whole prefix. That store is the KV-cache:
       state.key_cache, state.value_cache   [n_layers, n_ctx, kv_dim]
           position t of layer l starts at (l*n_ctx + t)*kv_dim; k is kept
           after RoPE (lesson 05), so it is never rotated again
       state.cache_len                      positions held: pos+1 after
                                            attnres_forward(pos)
   The newest query scores every cached key (q . k / sqrt(head_dim)),
   softmaxes over positions 0..pos and mixes the cached values
   (attnres_attend). This lesson fills a cache, looks at one head's
   weights, and checks that the cache changes nothing: rerunning the whole
   prefix from an empty cache at every step gives the same bits.

   Reads models/block.safetensors. Run from the repository root:
     make lessons && ./build/default/lessons/06_kv_cache */
#define ATTNRES_IMPLEMENTATION
#include "../attnres.h"
#include <stdio.h>
#include <string.h>

#define MODEL "models/block.safetensors"
static const char PROMPT[] = "The cup is green.";   /* byte-level model: token id = byte value */

int main(void) {
    attnres_model m;
    attnres_state s, fresh;   /* s keeps its cache; fresh starts empty at every step */
    attnres_error err;
    int T = (int)strlen(PROMPT), pos, t, head_dim, kv_dim, same = 1, steps = 0;
    const float *logits = NULL;
    float sum = 0.0f;

    printf("Lesson 06: the KV-cache.\n\n");
    if (attnres_model_load(&m, MODEL, &err) != ATTNRES_OK) {
        fprintf(stderr, "error: %s\n(run the lessons from the repository root)\n", err.message);
        return 1;
    }
    if (attnres_state_init(&s, &m.config, &err) != ATTNRES_OK ||
        attnres_state_init(&fresh, &m.config, &err) != ATTNRES_OK) {
        fprintf(stderr, "error: %s\n", err.message);
        return 1;
    }
    head_dim = attnres_head_dim(&m.config);
    kv_dim = attnres_kv_dim(&m.config);

    /* 1. the size: two float arrays [n_layers, n_ctx, kv_dim] */
    printf("1. %s: %d layers, %d query heads, %d key/value heads of head_dim %d.\n", MODEL,
           m.config.n_layers, m.config.n_heads, m.config.n_kv_heads, head_dim);
    printf("   kv_dim = n_kv_heads * head_dim = %d (the query has %d: %d query heads share each kv head).\n",
           kv_dim, m.config.n_heads * head_dim, m.config.n_heads / m.config.n_kv_heads);
    printf("   For n_ctx = %d positions: 2 x %d x %d x %d floats = %lu bytes.\n\n", s.n_ctx,
           m.config.n_layers, s.n_ctx, kv_dim, (unsigned long)(2UL * m.config.n_layers * s.n_ctx * kv_dim * 4));

    /* 2. the prompt, one token at a time: the cache grows by one position per token */
    printf("2. \"%s\", one byte at a time. After each: cache_len, and the weights head 0\n"
           "   of the last layer gave the cached positions 0..pos (state.att, row 0):\n", PROMPT);
    for (pos = 0; pos < T; pos++) {
        if (!(logits = attnres_forward(&m, &s, (unsigned char)PROMPT[pos], pos, &err))) {
            fprintf(stderr, "error: %s\n", err.message);
            return 1;
        }
        if (pos < 4) {
            printf("   pos %2d '%c' cache_len %2d, weights:", pos, PROMPT[pos], s.cache_len);
            for (t = 0; t <= pos; t++) printf(" %.6f", (double)s.att[t]);
            printf("\n");
        }
    }
    for (t = 0; t < T; t++) sum += s.att[t];
    t = attnres_argmax(s.att, T);   /* head 0's favourite position for the last byte */
    printf("   ...\n   pos %2d '%c' cache_len %2d: %d weights, sum %.6f; the largest, %.6f, on pos %d '%c'\n\n",
           T - 1, PROMPT[T - 1], s.cache_len, T, (double)sum, (double)s.att[t], t, PROMPT[t]);

    /* 3. without a cache: rerun the prefix 0..pos from an empty cache, for every pos */
    printf("3. Without a cache, step pos must recompute every position 0..pos. Doing exactly that\n"
           "   (an empty cache, then tokens 0..pos, at every step) and comparing the logits:\n");
    attnres_state_reset(&s);
    for (pos = 0; pos < T && same; pos++) {
        const float *cached = attnres_forward(&m, &s, (unsigned char)PROMPT[pos], pos, &err);
        attnres_state_reset(&fresh);   /* cache_len = 0: nothing cached */
        for (t = 0; t <= pos; t++, steps++)
            logits = attnres_forward(&m, &fresh, (unsigned char)PROMPT[t], t, &err);
        same = cached && logits && memcmp(cached, logits, (size_t)m.config.vocab_size * sizeof(float)) == 0;
    }
    printf("   logits of all %d steps identical, bit for bit: %s\n", T, same ? "yes" : "NO");
    printf("   token-steps run: %d with the cache, %d without (T(T+1)/2 for T = %d); at the full\n"
           "   context of %d tokens that is %d against %ld.\n", T, steps, T, s.n_ctx, s.n_ctx,
           (long)s.n_ctx * (s.n_ctx + 1) / 2);

    attnres_state_free(&fresh);
    attnres_state_free(&s);
    attnres_model_free(&m);
    return same ? 0 : 1;
}

/* Lesson 09 - generation and sampling: from logits to text.

   After every token the model hands back one logit per possible NEXT token.
   Our trained models are byte-level: token id = byte value, vocab_size =
   256, no BOS or EOS, so a prompt is just its bytes. Text comes out of a
   loop that every generator has:
       logits = prefill(prompt)                 the prompt through the KV-cache
       repeat: next   = choose(logits)
               logits = forward(next, pos++)    one more token, one more cache entry
   and everything interesting is in choose():
     greedy       the largest logit (attnres_argmax; ties -> the lowest id).
                  Deterministic, and prone to loops.
     temperature  p = softmax(logits / T): T < 1 sharpens the distribution
                  toward greedy, T > 1 flattens it toward uniform.
     top-p        keep the smallest set of most likely tokens whose mass
                  passes p (the "nucleus"), renormalise, draw from it: the
                  long tail of unlikely bytes can never be drawn.
   Drawing needs random numbers. attnres_sample uses xorshift64*, a 64-bit
   integer recurrence that gives the same numbers on every machine, so one
   seed means one text, everywhere.

   Reads models/block.safetensors (Block AttnRes, S = 2, trained by
   tools/train.py on models/corpus_train.txt). Run from the repository root:
     make lessons && ./build/default/lessons/09_generate */
#define ATTNRES_IMPLEMENTATION
#include "../attnres.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MODEL "models/block.safetensors"
#define N_GEN 64    /* new bytes per generated text: short, so the lesson stays fast */
#define TOP 5       /* rows of the probability tables */

/* A corpus-style line with a question whose answer sits earlier in the line. */
static const char PROMPT[] = "The cup is green. The cup is by the river. Q: Where is the cup? A:";

/* Prints bytes as a C string: printable ASCII as itself, \n, \t, \\, \" and
   \xNN for everything else, so a control byte cannot upset the terminal. */
static void print_escaped(const unsigned char *text, int n) {
    int i;
    putchar('"');
    for (i = 0; i < n; i++) {
        int c = text[i];
        if (c == '\n') printf("\\n");
        else if (c == '\t') printf("\\t");
        else if (c == '\\' || c == '"') printf("\\%c", c);
        else if (c >= 0x20 && c < 0x7f) putchar(c);
        else printf("\\x%02x", c);
    }
    putchar('"');
}

/* Does text [n] contain the string word? */
static int contains(const unsigned char *text, int n, const char *word) {
    int i, len = (int)strlen(word);
    for (i = 0; i + len <= n; i++)
        if (memcmp(text + i, word, (size_t)len) == 0) return 1;
    return 0;
}

/* One byte as a table cell: 'a', '\n', ' ', or \xNN. */
static void print_byte(int c) {
    if (c == '\n') printf("'\\n'");
    else if (c >= 0x20 && c < 0x7f) printf("'%c' ", c);
    else printf("\\x%02x", c);
}

/* probs [n] = softmax(logits / temperature), via the library's softmax */
static void softmax_t(float *probs, const float *logits, int n, float temperature) {
    int i;
    for (i = 0; i < n; i++) probs[i] = logits[i] / temperature;
    attnres_softmax(probs, n);
}

/* Entropy in bits, in double: 0 for a sure thing, 8 for 256 equal bytes. */
static double entropy_bits(const float *probs, int n) {
    double h = 0.0;
    int i;
    for (i = 0; i < n; i++)
        if (probs[i] > 0.0f) h -= (double)probs[i] * log((double)probs[i]);
    return h / log(2.0);
}

/* order [n] = the ids sorted by descending probability (ties: lower id
   first), by selection: n is 256, this is a lesson, not a hot loop. */
static void rank(int *order, const float *probs, int n) {
    int i, j;
    for (i = 0; i < n; i++) order[i] = i;
    for (i = 0; i < n; i++) {
        int best = i;
        for (j = i + 1; j < n; j++)
            if (probs[order[j]] > probs[order[best]] ||
                (probs[order[j]] == probs[order[best]] && order[j] < order[best])) best = j;
        j = order[i]; order[i] = order[best]; order[best] = j;
    }
}

/* Samples n_gen bytes after the prompt (whose last logits are
   prompt_logits [V]) with `sampler`, starting at position pos0. The cache
   is simply rewound: attnres_forward at pos0 < cache_len forgets
   everything from pos0 on, so every text continues the same prompt.
   Returns 0, or 1 after printing the error. */
static int sample_text(unsigned char *out, attnres_sampler *sampler, const attnres_model *m,
                       attnres_state *s, const float *prompt_logits, float *scratch, int pos0, int n_gen) {
    attnres_error err;
    float *logits = scratch;   /* [V] attnres_sample rescales it in place */
    int t;
    memcpy(scratch, prompt_logits, (size_t)m->config.vocab_size * sizeof *scratch);
    for (t = 0; t < n_gen; t++) {
        out[t] = (unsigned char)attnres_sample(sampler, logits);
        if (t + 1 == n_gen) break;   /* the last byte needs no logits after it */
        if (!(logits = attnres_forward(m, s, out[t], pos0 + t, &err))) {
            fprintf(stderr, "error: %s\n", err.message);
            return 1;
        }
    }
    return 0;
}

int main(void) {
    attnres_model m;
    attnres_state s;
    attnres_sampler smp;
    attnres_error err;
    int tokens[sizeof PROMPT];                /* [n_prompt]  the prompt's bytes as token ids */
    unsigned char greedy[N_GEN], text[N_GEN], again[N_GEN];   /* [N_GEN] generated bytes */
    float *prompt_logits = NULL;              /* [V] logits after the last prompt byte */
    float *probs = NULL, *scratch = NULL;     /* [V] softmax at T = 1; logits to sample from */
    float *p_cold = NULL, *p_hot = NULL;      /* [V] softmax at T = 0.5 and T = 1.5 */
    float *step_logits = NULL;                /* [V] logits of the least certain greedy step */
    int *order = NULL;                        /* [V] ids by descending probability */
    int *drawn = NULL;                        /* [V] 1 if attnres_sample ever picked that id */
    float *logits;
    const float ps[3] = {0.5f, 0.9f, 0.99f};
    int n_prompt = (int)strlen(PROMPT), V, i, k, t, rc = 1, step_max = 0;
    double h, h_max = -1.0, gap, gap_min = 1e30;

    printf("Lesson 09: generation and sampling, from logits to text.\n\n");
    if (attnres_model_load(&m, MODEL, &err) != ATTNRES_OK) {
        fprintf(stderr, "error: %s\n(run the lessons from the repository root; the trained models come from "
                        "tools/train.py, see the README)\n", err.message);
        return 1;
    }
    V = m.config.vocab_size;
    if (attnres_state_init(&s, &m.config, &err) != ATTNRES_OK) {
        fprintf(stderr, "error: %s\n", err.message);
        attnres_model_free(&m);
        return 1;
    }
    prompt_logits = (float *)malloc((size_t)V * sizeof *prompt_logits);
    probs = (float *)malloc((size_t)V * sizeof *probs);
    scratch = (float *)malloc((size_t)V * sizeof *scratch);
    step_logits = (float *)malloc((size_t)V * sizeof *step_logits);
    order = (int *)malloc((size_t)V * sizeof *order);
    drawn = (int *)calloc((size_t)V, sizeof *drawn);
    p_cold = (float *)malloc((size_t)V * sizeof *p_cold);
    p_hot = (float *)malloc((size_t)V * sizeof *p_hot);
    if (!prompt_logits || !probs || !scratch || !step_logits || !order || !drawn || !p_cold || !p_hot) {
        fprintf(stderr, "error: out of memory\n");
        goto done;
    }
    if (V != 256 || n_prompt + 2 * N_GEN > m.config.seq_len) {
        fprintf(stderr, "error: %s: expected a byte-level model (vocab 256) with seq_len >= %d, got vocab %d, "
                        "seq_len %d\n", MODEL, n_prompt + 2 * N_GEN, V, m.config.seq_len);
        goto done;
    }
    printf("Model %s: Block AttnRes with S = %d, dim %d, %d layers (L = %d sublayers),\n"
           "vocab %d (byte-level: token id = byte value), seq_len %d.\n\n", MODEL, m.config.block_size,
           m.config.dim, m.config.n_layers, attnres_n_sublayers(&m.config), V, m.config.seq_len);

    /* 1. the prompt through the KV-cache, all at once */
    for (i = 0; i < n_prompt; i++) tokens[i] = (unsigned char)PROMPT[i];
    if (!(logits = attnres_prefill(&m, &s, tokens, n_prompt, &err))) {
        fprintf(stderr, "error: %s\n", err.message);
        goto done;
    }
    memcpy(prompt_logits, logits, (size_t)V * sizeof *logits);
    printf("1. The prompt, %d bytes, goes through the KV-cache with attnres_prefill:\n   ", n_prompt);
    print_escaped((const unsigned char *)PROMPT, n_prompt);
    printf("\n   cache_len = %d: one key and value per layer for every prompt byte. The logits after\n"
           "   the last byte score every possible next byte.\n", s.cache_len);

    /* 2. greedy: always the argmax; keep the least certain step for later */
    printf("\n2. Greedy decoding: the next byte is attnres_argmax(logits), fed back at the next\n"
           "   position, %d times:\n", N_GEN);
    memcpy(scratch, prompt_logits, (size_t)V * sizeof *scratch);
    logits = scratch;
    for (t = 0; t < N_GEN; t++) {
        int best = attnres_argmax(logits, V), second = best ? 0 : 1;
        for (i = 0; i < V; i++) if (i != best && logits[i] > logits[second]) second = i;
        gap = (double)logits[best] - (double)logits[second];
        if (gap < gap_min) gap_min = gap;
        softmax_t(probs, logits, V, 1.0f);
        h = entropy_bits(probs, V);
        if (h > h_max) { h_max = h; step_max = t; memcpy(step_logits, logits, (size_t)V * sizeof *logits); }
        greedy[t] = (unsigned char)best;
        if (t + 1 == N_GEN) break;
        if (!(logits = attnres_forward(&m, &s, best, n_prompt + t, &err))) {
            fprintf(stderr, "error: %s\n", err.message);
            goto done;
        }
    }
    printf("   ");
    print_escaped(greedy, N_GEN);
    printf("\n   The prompt put the cup \"by the river\"; the greedy answer %s that place.\n"
           "   The closest call of the %d steps had a gap of %.4f between the best and the\n"
           "   second-best logit (a gap near 0 would make the greedy text depend on the last bit\n"
           "   of rounding).\n", contains(greedy, N_GEN, "by the river") ? "repeats" : "does not repeat",
           N_GEN, gap_min);

    /* 3. one step under the microscope: the least certain greedy step */
    printf("\n3. The least certain greedy step was step %d, after ", step_max);
    print_escaped(greedy, step_max);
    printf(":\n   entropy %.4f bits (0 = sure, 8 = all 256 bytes equal). Its top %d next bytes at\n"
           "   temperature 1, p = softmax(logits), and the same logits at other temperatures:\n\n",
           h_max, TOP);
    softmax_t(probs, step_logits, V, 1.0f);
    rank(order, probs, V);
    printf("     rank  byte     T = 0.5    T = 1.0    T = 1.5\n");
    {
        float *pt[3];   /* the distributions at T = 0.5, 1, 1.5, each [V] */
        double top_mass[3] = {0.0, 0.0, 0.0}, total[3] = {0.0, 0.0, 0.0};
        softmax_t(p_cold, step_logits, V, 0.5f);
        softmax_t(p_hot, step_logits, V, 1.5f);
        pt[0] = p_cold; pt[1] = probs; pt[2] = p_hot;
        for (k = 0; k < TOP; k++) {
            printf("     %4d  ", k + 1);
            print_byte(order[k]);
            printf("  %9.6f  %9.6f  %9.6f\n", (double)pt[0][order[k]], (double)pt[1][order[k]],
                   (double)pt[2][order[k]]);
            for (i = 0; i < 3; i++) top_mass[i] += pt[i][order[k]];
        }
        for (i = 0; i < 3; i++) for (k = 0; k < V; k++) total[i] += pt[i][k];
        printf("     top %d mass %9.6f  %9.6f  %9.6f\n", TOP, top_mass[0], top_mass[1], top_mass[2]);
        printf("     all %d     %9.6f  %9.6f  %9.6f   (each sums to 1, up to float32 rounding)\n", V,
               total[0], total[1], total[2]);
        printf("     entropy   %9.4f  %9.4f  %9.4f   bits\n", entropy_bits(pt[0], V), entropy_bits(pt[1], V),
               entropy_bits(pt[2], V));
    }
    printf("   Dividing the logits by T = 0.5 doubles every gap between them: the favourite takes\n"
           "   more of the mass. T = 1.5 shrinks the gaps: the tail gets more, the entropy rises.\n"
           "   The ORDER never changes, so temperature alone cannot turn a bad byte into the best.\n");

    /* 4. top-p on the same step, at temperature 1 */
    printf("\n4. Top-p (nucleus) on the same step, temperature 1. The sampler first drops every byte\n"
           "   whose probability is below the cutoff (1 - p)/(n - 1), n = %d: such a byte can never\n"
           "   be in the nucleus. If it were, the bytes ranked above it would hold at most p, so it\n"
           "   and the bytes ranked below it would hold at least 1 - p. But those are at most n - 1\n"
           "   bytes (the top byte is above it), each below the cutoff, so together they hold less\n"
           "   than (n - 1)(1 - p)/(n - 1) = 1 - p. (Even the top byte can fall below the cutoff\n"
           "   only when p < 1/n; the sampler then takes the argmax.) Only the survivors are sorted;\n"
           "   bytes are then kept in order until the kept mass passes p, and the draw is made\n"
           "   within that mass.\n\n", V);
    printf("     p      cutoff     survive cutoff  nucleus  nucleus mass  draws landed on  all inside\n");
    for (k = 0; k < 3; k++) {
        float cutoff = (1.0f - ps[k]) / (float)(V - 1);
        double mass = 0.0;
        int survive = 0, kept = 0, distinct = 0, inside = 1, d;
        for (i = 0; i < V; i++) survive += probs[i] >= cutoff;
        for (i = 0; i < V && mass <= ps[k]; i++) { mass += probs[order[i]]; kept++; }
        /* 2000 draws of attnres_sample at (T = 1, p): which bytes come out? */
        if (attnres_sampler_init(&smp, V, 1.0f, ps[k], 1234, &err) != ATTNRES_OK) {
            fprintf(stderr, "error: %s\n", err.message);
            goto done;
        }
        memset(drawn, 0, (size_t)V * sizeof *drawn);
        for (d = 0; d < 2000; d++) {
            int c;
            memcpy(scratch, step_logits, (size_t)V * sizeof *scratch);
            c = attnres_sample(&smp, scratch);
            if (!drawn[c]) distinct++;
            drawn[c] = 1;
        }
        attnres_sampler_free(&smp);
        for (i = kept; i < V; i++) if (drawn[order[i]]) inside = 0;
        printf("     %.2f   %.3e   %3d of %d      %4d     %9.6f     %4d bytes      %s\n", (double)ps[k],
               (double)cutoff, survive, V, kept, mass, distinct, inside ? "yes" : "NO");
    }
    printf("   The last column: whether all 2000 draws (seed 1234) of attnres_sample fell inside the\n"
           "   nucleus. However large p, the sort only ever sees the survivors of the cutoff.\n");

    /* 5. sampled texts: temperature + top-p, fixed seeds */
    printf("\n5. Sampled texts from the same prompt (the cache is rewound to position %d each time):\n",
           n_prompt);
    {
        static const struct { float temperature, topp; uint64_t seed; } runs[4] = {
            {0.8f, 0.9f, 42}, {0.8f, 0.9f, 42}, {0.8f, 0.9f, 7}, {1.5f, 1.0f, 42}};
        for (k = 0; k < 4; k++) {
            unsigned char *out = k == 1 ? again : text;
            if (attnres_sampler_init(&smp, V, runs[k].temperature, runs[k].topp, runs[k].seed, &err) != ATTNRES_OK) {
                fprintf(stderr, "error: %s\n", err.message);
                goto done;
            }
            i = sample_text(out, &smp, &m, &s, prompt_logits, scratch, n_prompt, N_GEN);
            attnres_sampler_free(&smp);
            if (i) goto done;
            if (k == 1) {
                printf("   T = 0.8, top-p 0.9, seed 42 again: the same %d bytes: %s\n", N_GEN,
                       memcmp(again, text, N_GEN) == 0 ? "yes" : "NO");
                continue;
            }
            if (runs[k].topp < 1.0f)
                printf("   T = %.1f, top-p %.1f, seed %d:\n     ", (double)runs[k].temperature,
                       (double)runs[k].topp, (int)runs[k].seed);
            else
                printf("   T = %.1f, top-p off, seed %d:\n     ", (double)runs[k].temperature, (int)runs[k].seed);
            print_escaped(text, N_GEN);
            printf("\n     the prompt's place, \"by the river\", %s\n",
                   contains(text, N_GEN, "by the river") ? "drawn" : "not drawn");
        }
    }
    printf("   The same seed gives the same text on every machine (xorshift64* is integer\n"
           "   arithmetic), another seed another text. A place the greedy answer skipped can still\n"
           "   be drawn: it has probability, just not the most. T = 1.5 without top-p can also draw\n"
           "   from the long tail of unlikely bytes, the tail that top-p cuts off.\n");
    rc = 0;
done:
    free(prompt_logits); free(probs); free(scratch); free(step_logits); free(order); free(drawn); free(p_cold); free(p_hot);
    attnres_state_free(&s);
    attnres_model_free(&m);
    return rc;
}

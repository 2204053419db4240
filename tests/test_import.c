/* test_import.c - imported real-layout checkpoints against references of
   their own architectures. golden/import/ holds tiny random models written
   in each real layout (HF LLaMA F32; HF LLaMA BF16 in 3 shards, tied; HF
   Qwen3 F16 with QK-norm and head_dim 16 != dim/n_heads; llama2.c .bin v0
   untied and v1 shared), their tools/import_model.py output, and the logits
   of a PyTorch reference written from each architecture's definition
   (tools/make_import_golden.py: rotate-half RoPE for HF, complex pairs for
   llama2.c). The engine decodes the prompt one token at a time; every
   position's logits must agree within 1e-4 (absolute).
   Then each model is turned into Block AttnRes in memory (zero
   pseudo-queries, unit key gains: every depth softmax a uniform mean) and
   must give the same logits up to RMSNorm's eps (lessons/12): within
   2e-3 with the model's eps, within 1e-5 of the standard model when both
   run with eps 1e-12. */
#define ATTNRES_IMPLEMENTATION
#include "../attnres.h"
#include "check.h"
#include "fixture.h"

#define ATOL 1e-4
#define BRIDGE_TOL 2e-3   /* eps 1e-5 over activations of rms ~0.5: see test_case */

static const char *CASES[] = {"hf_llama", "hf_llama_bf16_sharded", "hf_qwen3", "llama2c_v0", "llama2c_v1",
                              "hf_llama32", "hf_llama_linear", "e2e_qwen3", "e2e_llama2c", "e2e_llama32", NULL};

/* The same model with AttnRes residuals, block size S: every weight
   copied, pseudo-queries 0, key-norm gains 1. */
static int to_attnres(attnres_model *out, const attnres_model *in, int S, attnres_error *err) {
    attnres_config c = in->config;
    const attnres_weights *a = &in->weights;
    attnres_weights *b;
    size_t d = (size_t)c.dim, hd = (size_t)c.hidden_dim, nl = (size_t)c.n_layers, i;
    size_t qd = (size_t)c.n_heads * (size_t)attnres_head_dim(&c), kvd = (size_t)attnres_kv_dim(&c);
    size_t L1 = 2 * nl + 1;
    c.residual = ATTNRES_RESIDUAL_ATTNRES;
    c.block_size = S;
    if (attnres_model_init(out, &c, err) != ATTNRES_OK) return 0;
    b = &out->weights;
#define COPY(field, n) memcpy(b->field, a->field, (n) * sizeof(float))
    COPY(tok_embeddings, (size_t)c.vocab_size * d);
    COPY(attention_norm, nl * d); COPY(ffn_norm, nl * d); COPY(norm, d);
    COPY(wq, nl * qd * d); COPY(wk, nl * kvd * d); COPY(wv, nl * kvd * d); COPY(wo, nl * d * qd);
    COPY(w1, nl * hd * d); COPY(w2, nl * d * hd); COPY(w3, nl * hd * d);
    if (c.qk_norm) { COPY(q_norm, nl * (size_t)attnres_head_dim(&c)); COPY(k_norm, nl * (size_t)attnres_head_dim(&c)); }
    if (!c.tie_embeddings) COPY(output, (size_t)c.vocab_size * d);
#undef COPY
    for (i = 0; i < L1 * d; i++) { b->pseudo_query[i] = 0.0f; b->key_norm[i] = 1.0f; }
    return 1;
}

/* Decodes tokens[0..T) one at a time; logits [T, vocab]. */
static int run(const attnres_model *m, const int32_t *tokens, int T, float *logits, const char *name) {
    attnres_state s;
    attnres_error err;
    int t, ok = 1;
    if (attnres_state_init_ctx(&s, &m->config, T, &err) != ATTNRES_OK) {
        check(0, "%s: state: %s", name, err.message);
        return 0;
    }
    for (t = 0; t < T && ok; t++) {
        const float *l = attnres_forward(m, &s, tokens[t], t, &err);
        if (!l) { check(0, "%s: forward at pos %d: %s", name, t, err.message); ok = 0; }
        else memcpy(logits + (size_t)t * m->config.vocab_size, l, (size_t)m->config.vocab_size * sizeof(float));
    }
    attnres_state_free(&s);
    return ok;
}

/* The training forward (a whole sequence at once, the path attnres-train
   and the backward use) on the same tokens: its logits against the
   reference's too. */
static void check_train_forward(const char *name, const attnres_model *m, const int32_t *tokens, const float *want,
                                size_t T) {
    attnres_train_state ts;
    attnres_error err;
    int *tok = (int *)malloc(2 * T * sizeof(int)), *tgt = tok ? tok + T : NULL;
    float loss;
    char label[128];
    size_t t;
    memset(&ts, 0, sizeof ts);
    if (!tok) { check(0, "%s: out of memory", name); return; }
    for (t = 0; t < T; t++) { tok[t] = tokens[t]; tgt[t] = tokens[(t + 1) % T]; }
    if (attnres_train_state_init(&ts, m, (int)T, &err) != ATTNRES_OK ||
        attnres_train_forward(m, &ts, tok, tgt, (int)T, &loss, &err) != ATTNRES_OK) {
        check(0, "%s: training forward: %s", name, err.message);
    } else {   /* test_grad's criterion for the sequence forward: 1e-4 of the largest reference logit */
        double max = 0.0;
        for (t = 0; t < T * (size_t)m->config.vocab_size; t++) if (fabs((double)want[t]) > max) max = fabs((double)want[t]);
        snprintf(label, sizeof label, "%-22s training forward (whole sequence) logits, tol 1e-4 x max |ref| %.3g",
                 name, max);
        check_close(label, ts.logits, want, T * (size_t)m->config.vocab_size, 1e-4 * max, 0.0);
    }
    attnres_train_state_free(&ts);
    free(tok);
}

/* got [n] against want [n] within 1e-4 of max |want| (test_grad's criterion
   for a gradient tensor). */
static void check_grad_tensor(const char *name, const char *what, const float *got, const float *want, size_t n) {
    double max = 0.0;
    size_t i;
    char label[160];
    for (i = 0; i < n; i++) if (fabs((double)want[i]) > max) max = fabs((double)want[i]);
    snprintf(label, sizeof label, "%-22s d%s against autograd (tol 1e-4 x max |ref| %.3g)", name, what, max);
    check(max > 0.0, "%-22s d%s: the reference gradient is not all zero", name, what);
    check_close(label, got, want, n, 1e-4 * max, 0.0);
}

/* hf_llama32's gradients (the training backward through the scaled RoPE):
   the mean cross-entropy of its tokens, each predicting the next, and
   d(loss)/d(every weight) against the reference's autograd in float64,
   stored as an imported checkpoint (CASE.grad.safetensors). */
static void check_backward(const char *name, const attnres_model *m, const attnres__st_file *e, const int32_t *tokens,
                           size_t T) {
    attnres_train_state ts;
    attnres_model ref;
    attnres_error err;
    char path[256];
    int32_t *targets = fixture_i32(e, "targets", T);
    float *want_loss = fixture_f32(e, "loss", 1), loss = 0.0f;
    int *tok = (int *)malloc(2 * T * sizeof(int)), *tgt = tok ? tok + T : NULL;
    const attnres_config *c = &m->config;
    size_t d = (size_t)c->dim, nl = (size_t)c->n_layers, hd = (size_t)attnres_head_dim(c), t;
    size_t qd = (size_t)c->n_heads * hd, kvd = (size_t)attnres_kv_dim(c), hid = (size_t)c->hidden_dim;
    memset(&ts, 0, sizeof ts);
    memset(&ref, 0, sizeof ref);
    snprintf(path, sizeof path, "%s/import/%s.grad.safetensors", GOLDEN_DIR, name);
    if (!targets || !want_loss || !tok || attnres_model_load(&ref, path, &err) != ATTNRES_OK) {
        check(0, "%s: gradient fixture: %s", name, tok && targets && want_loss ? err.message : "missing");
        goto done;
    }
    for (t = 0; t < T; t++) { tok[t] = tokens[t]; tgt[t] = targets[t]; }
    if (attnres_train_state_init(&ts, m, (int)T, &err) != ATTNRES_OK) { check(0, "%s: %s", name, err.message); goto done; }
    attnres_train_zero_grad(&ts);
    if (attnres_train_forward(m, &ts, tok, tgt, (int)T, &loss, &err) != ATTNRES_OK ||
        attnres_train_backward(m, &ts, &err) != ATTNRES_OK) {
        check(0, "%s: training step: %s", name, err.message);
        goto done;
    }
    check_close("hf_llama32             mean cross-entropy of 80 tokens", &loss, want_loss, 1, 0.0, 1e-5);
    check_grad_tensor(name, "tok_embeddings (tied: + output)", ts.grad.tok_embeddings, ref.weights.tok_embeddings,
                      (size_t)c->vocab_size * d);
    check_grad_tensor(name, "attention_norm", ts.grad.attention_norm, ref.weights.attention_norm, nl * d);
    check_grad_tensor(name, "wq", ts.grad.wq, ref.weights.wq, nl * qd * d);
    check_grad_tensor(name, "wk", ts.grad.wk, ref.weights.wk, nl * kvd * d);
    check_grad_tensor(name, "wv", ts.grad.wv, ref.weights.wv, nl * kvd * d);
    check_grad_tensor(name, "wo", ts.grad.wo, ref.weights.wo, nl * d * qd);
    check_grad_tensor(name, "ffn_norm", ts.grad.ffn_norm, ref.weights.ffn_norm, nl * d);
    check_grad_tensor(name, "w1", ts.grad.w1, ref.weights.w1, nl * hid * d);
    check_grad_tensor(name, "w2", ts.grad.w2, ref.weights.w2, nl * d * hid);
    check_grad_tensor(name, "w3", ts.grad.w3, ref.weights.w3, nl * hid * d);
    check_grad_tensor(name, "norm", ts.grad.norm, ref.weights.norm, d);
done:
    attnres_train_state_free(&ts);
    attnres_model_free(&ref);
    free(tok); free(targets); free(want_loss);
}

/* A scaled RoPE (hf_llama32, hf_llama_linear, e2e_llama32): the engine's
   frequencies against the reference's inv_freq [head_dim/2] (Hugging
   Face's formulas in float64, stored as float32: rtol 1e-6 covers that
   rounding); which pairs the scaling kept, blended or divided; and the
   same model with plain RoPE must miss the reference's logits by far
   more than ATOL, so the logits test could not pass without the scaling. */
static void check_scaling(const char *name, attnres_model *m, const attnres__st_file *e, const int32_t *tokens,
                          const float *want, size_t T) {
    const attnres_config *c = &m->config;
    const attnres_rope_scaling *r = &c->rope_scaling;
    int hd = attnres_head_dim(c), i, kept = 0, blended = 0, divided = 0;
    float *ref = fixture_f32(e, "inv_freq", (size_t)hd / 2), got[512];
    size_t V = (size_t)c->vocab_size, k;
    char label[160];
    attnres_rope_scaling saved = *r;
    float *plain_logits = (float *)calloc(T * V + 1, sizeof(float));
    double worst = 0.0;
    if (!ref || !plain_logits || hd / 2 > 512) { check(0, "%s: inv_freq missing", name); free(ref); free(plain_logits); return; }
    for (i = 0; i < hd / 2; i++) {
        double plain = attnres_rope_freq(i, hd, c->rope_theta, NULL), f = attnres_rope_freq(i, hd, c->rope_theta, r);
        got[i] = (float)f;
        if (f == plain) kept++;
        else if (fabs(f - plain / r->factor) <= 1e-12 * plain) divided++;
        else if (f > plain / r->factor && f < plain) blended++;
    }
    snprintf(label, sizeof label, "%-22s RoPE frequencies, %s scaling x%g", name,
             r->type == ATTNRES_ROPE_LLAMA3 ? "llama3" : "linear", (double)r->factor);
    check_close(label, got, ref, (size_t)hd / 2, 0.0, 1e-6);
    if (r->type == ATTNRES_ROPE_LLAMA3) {
        /* hf_llama32 is made to have all three bands; every pair is in one */
        check((strcmp(name, "hf_llama32") || (kept >= 1 && blended >= 1 && divided >= 1)) &&
              kept + blended + divided == hd / 2,
              "%-22s llama3 bands: %d pair(s) kept, %d blended, %d divided by %g; %d positions, past the original %d",
              name, kept, blended, divided, (double)r->factor, (int)T, r->original_context);
        check((int)T > r->original_context, "%-22s the test reaches past original_max_position_embeddings", name);
    } else {
        check(divided == hd / 2, "%-22s linear: all %d pairs divided by %g", name, divided, (double)r->factor);
    }
    m->config.rope_scaling.type = ATTNRES_ROPE_PLAIN;
    if (run(m, tokens, (int)T, plain_logits, name)) {
        for (k = 0; k < T * V; k++)
            if (fabs((double)plain_logits[k] - want[k]) > worst) worst = fabs((double)plain_logits[k] - want[k]);
        check(worst > 100 * ATOL, "%-22s with plain RoPE instead, the logits miss by %.3g (> 100 x %g): the test "
              "sees the scaling", name, worst, ATOL);
    }
    m->config.rope_scaling = saved;
    free(ref);
    free(plain_logits);
    check_train_forward(name, m, tokens, want, T);
}

/* attnres_checkpoint_write keeps what the importer wrote: the RoPE
   scaling (format_version "3") and the EOS ids, read back as they were. */
static void check_roundtrip(const char *name, const attnres_model *m) {
    size_t n = attnres_checkpoint_bytes(m);
    void *bytes = malloc(n ? n : 1);
    attnres_model back;
    attnres_error err;
    const attnres_config *a = &m->config, *b = &back.config;
    int ok = bytes && attnres_checkpoint_write(bytes, n, m, &err) == ATTNRES_OK &&
             attnres_model_load_memory(&back, bytes, n, &err) == ATTNRES_OK;
    check(ok && memcmp(&a->rope_scaling, &b->rope_scaling, sizeof a->rope_scaling) == 0 && a->n_eos == b->n_eos &&
          memcmp(a->eos_token_id, b->eos_token_id, sizeof a->eos_token_id) == 0 && b->rope_scaling.type != 0,
          "%-22s attnres_checkpoint_write keeps rope_scaling and eos_token_id (%s)", name, ok ? "written, read back" : err.message);
    if (ok) attnres_model_free(&back);
    free(bytes);
}

static void test_case(const char *name) {
    char path[256], label[128];
    attnres_model m, bridge;
    attnres_error err;
    attnres__st_file e;
    const attnres__st_tensor *tok;
    int32_t *tokens;
    float *want, *got;
    size_t V, T;

    snprintf(path, sizeof path, "%s/import/%s.model.safetensors", GOLDEN_DIR, name);
    if (attnres_model_load(&m, path, &err) != ATTNRES_OK) { check(0, "%s: load: %s", name, err.message); return; }
    snprintf(path, sizeof path, "import/%s.expect.safetensors", name);
    if (!fixture_open(&e, path)) { attnres_model_free(&m); return; }
    tok = attnres__st_find(&e, "tokens");
    T = tok ? (size_t)tok->numel : 0;
    V = (size_t)m.config.vocab_size;
    tokens = T ? fixture_i32(&e, "tokens", T) : NULL;
    want = T ? fixture_f32(&e, "logits", T * V) : NULL;
    got = (float *)calloc(T * V + 1, sizeof(float));
    check(T >= 8, "%-22s prompt of %zu tokens", name, T);
    if (tokens && want && got && run(&m, tokens, (int)T, got, name)) {
        snprintf(label, sizeof label, "%-22s logits, every position (heads %d/%d x %d%s)", name,
                 m.config.n_heads, m.config.n_kv_heads, attnres_head_dim(&m.config),
                 m.config.qk_norm ? ", QK-norm" : "");
        check_close(label, got, want, T * V, ATOL, 0.0);
        /* the bridge: a uniform mean over k sources is the residual sum / k,
           and RMSNorm(x/k; eps) = RMSNorm(x; k^2 eps): equal up to eps only.
           So: close with the model's eps, and (almost) exact with eps -> 0 */
        if (to_attnres(&bridge, &m, 2, &err)) {
            float *std_tiny = (float *)calloc(T * V + 1, sizeof(float));
            if (run(&bridge, tokens, (int)T, got, name)) {
                snprintf(label, sizeof label, "%-22s as Block AttnRes S=2, zero pseudo-queries, eps %g", name,
                         (double)m.config.norm_eps);
                check_close(label, got, want, T * V, BRIDGE_TOL, 0.0);
            }
            m.config.norm_eps = bridge.config.norm_eps = 1e-12f;
            if (std_tiny && run(&m, tokens, (int)T, std_tiny, name) && run(&bridge, tokens, (int)T, got, name)) {
                snprintf(label, sizeof label, "%-22s the same with eps 1e-12 in both: standard == AttnRes", name);
                check_close(label, got, std_tiny, T * V, 1e-5, 0.0);
            }
            free(std_tiny);
            attnres_model_free(&bridge);
        } else {
            check(0, "%s: to AttnRes: %s", name, err.message);
        }
    }
    if (tokens && want && m.config.rope_scaling.type != ATTNRES_ROPE_PLAIN) check_scaling(name, &m, &e, tokens, want, T);
    if (!strcmp(name, "hf_llama32")) check_roundtrip(name, &m);
    if (!strcmp(name, "hf_llama32") && tokens) check_backward(name, &m, &e, tokens, T);
    if (!strcmp(name, "hf_llama32"))
        check(m.config.n_eos == 2 && m.config.eos_token_id[0] == 90 && m.config.eos_token_id[1] == 92,
              "%-22s eos_token_id from generation_config.json (90, 92; config.json says 90, 91, 92)", name);
    if (!strcmp(name, "hf_qwen3"))
        check(m.config.head_dim == 16 && m.config.qk_norm == 1 && m.config.dim == 32,
              "%-22s config: head_dim 16 (not dim/n_heads = 8), qk_norm", name);
    free(tokens); free(want); free(got);
    attnres__st_close(&e);
    attnres_model_free(&m);
}

int main(void) {
    int i;
    for (i = 0; CASES[i]; i++) test_case(CASES[i]);
    return check_summary("test_import");
}

/* Lesson 15 - backpropagation through the softmax over depth.

   Lesson 03 ran the AttnRes operation forward. Here it runs backward.
   With sources v_j [dim] (b0, completed blocks, the partial), a
   pseudo-query w and a key-norm gain g:
       k_j   = RMSNorm(v_j) * g = xhat_j * g      xhat_j = v_j r_j, r_j = 1/rms(v_j)
       s_j   = w . k_j                            the depth logits
       alpha = softmax_j(s)
       h     = sum_j alpha_j v_j                  what the sublayer reads
   Whatever comes after h (the sublayer, the rest of the model, the loss)
   sends back u = dloss/dh [dim]. The chain rule, one step at a time:
       c_j   = u . v_j                            how much the loss likes source j
       ds_j  = alpha_j (c_j - sum_u alpha_u c_u)  the softmax's backward
       dw    = sum_j ds_j k_j                     the pseudo-query
       dg    = sum_j ds_j xhat_j * w              the key gain
       dv_j  = alpha_j u                          value path: v_j is mixed into h
             + r_j ds_j (w*g - xhat_j mean(w*g*xhat_j))
                                                  key path: v_j sets its own logit
   (docs/training.md has the table of every stage; attnres.h computes these
   in attnres_depth_attention_backward.)

   (a) Training starts from w = 0, where alpha is uniform and h is the plain
       mean. Is that a dead start? No: at alpha_j = 1/n, ds_j = (c_j - mean c)/n,
       so dw = (1/n) sum_j (c_j - mean c) k_j, the COVARIANCE over the sources of
       the normed key k_j with the scalar c_j. It is zero when every source is
       equally good for the loss (all c_j equal) or when all keys are the
       same; otherwise only by accident (dim sums vanishing at once).
   (b) The gradient each source receives, split into its two paths, each
       checked against central finite differences.
   (c) The trained models: the gradient reaching every sublayer's output
       across depth, ||dloss/df_l|| (ts.df_norm after attnres_train_backward),
       standard against Block AttnRes on the same text. The paper reports that
       in a pre-norm model it is disproportionately large in the early layers
       ("PreNorm dilution": a late sublayer's output is a small part of a
       large stream) and that AttnRes makes it near uniform across depth.
       Whether these two small models show it is printed from the numbers.

   Reads models/{standard,block}.safetensors and models/corpus_val.txt.
   Run from the repository root:
     make lessons && ./build/default/lessons/15_depth_backward */
#define ATTNRES_IMPLEMENTATION
#include "../attnres.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DIM 4
#define N_SOURCES 3
#define EPS 1e-5f
#define STEP 1e-2f   /* finite-difference step (as tests/test_grad.c) */
#define LR 0.5f      /* (b): w = -LR dw, one step of gradient descent from w = 0 */

static const char *names[N_SOURCES] = {"b0", "b1", "partial"};

static void print_vec(const char *label, const float *x, int n) {
    int i;
    printf("%s [", label);
    for (i = 0; i < n; i++) printf(i ? " %8.5f" : "%8.5f", (double)x[i]);
    printf("]\n");
}

static double max_abs_diff(const float *a, const float *b, int n) {
    double m = 0.0;
    int i;
    for (i = 0; i < n; i++) if (fabs((double)a[i] - b[i]) > m) m = fabs((double)a[i] - b[i]);
    return m;
}

/* |x|^2, summed in double */
static double sum_sq(const float *x, size_t n) {
    double s = 0.0;
    size_t i;
    for (i = 0; i < n; i++) s += (double)x[i] * x[i];
    return s;
}

/* The loss of the hand example: u . h, summed in double. u stands for the
   gradient the rest of the model sends back into h. */
static double loss_uh(const float *u, const float *sources, const float *w, const float *g) {
    float h[DIM], alpha[N_SOURCES];
    double sum = 0.0;
    int i;
    attnres_depth_attention(h, alpha, sources, N_SOURCES, w, g, DIM, EPS);
    for (i = 0; i < DIM; i++) sum += (double)u[i] * h[i];
    return sum;
}

/* The same loss with the keys taken from key_sources but the values from
   sources: only the key path of a perturbed source moves it. */
static double loss_keys_only(const float *u, const float *key_sources, const float *sources,
                             const float *w, const float *g) {
    float h[DIM], alpha[N_SOURCES];
    double sum = 0.0;
    int i, j;
    attnres_depth_attention(h, alpha, key_sources, N_SOURCES, w, g, DIM, EPS);
    for (j = 0; j < N_SOURCES; j++)
        for (i = 0; i < DIM; i++) sum += (double)u[i] * alpha[j] * sources[j * DIM + i];
    return sum;
}

/* central differences of loss_uh in every coordinate of x [n] (one of w, g) */
static void fd_vector(float *out, float *x, int n, const float *u, const float *sources,
                      const float *w, const float *g) {
    int i;
    for (i = 0; i < n; i++) {
        float keep = x[i];
        double plus, minus;
        x[i] = keep + STEP; plus = loss_uh(u, sources, w, g);
        x[i] = keep - STEP; minus = loss_uh(u, sources, w, g);
        x[i] = keep;
        out[i] = (float)((plus - minus) / (2.0 * STEP));
    }
}

/* ------------------------------------------------------------------------ */
/* (a) a zero pseudo-query                                                   */
/* ------------------------------------------------------------------------ */
static void zero_query(const float *sources, float *g, const float *u, float *dw_out) {
    float w[DIM] = {0}, alpha[N_SOURCES], h[DIM], keys[N_SOURCES * DIM];   /* [DIM], [N], [DIM], [N, DIM] */
    float c[N_SOURCES], dw_hand[DIM] = {0}, dw[DIM] = {0}, dg[DIM] = {0}, fd_w[DIM], fd_g[DIM];
    float same[N_SOURCES * DIM], dw_same[DIM] = {0};
    double c_mean = 0.0;
    int i, j;

    printf("(a) A zero pseudo-query w = 0 (how training starts), key gain g = 1.\n");
    for (j = 0; j < N_SOURCES; j++) {
        char label[32];
        snprintf(label, sizeof label, "    %-8s v =", names[j]);
        print_vec(label, sources + j * DIM, DIM);
    }
    print_vec("    upstream u =", u, DIM);
    attnres_depth_attention(h, alpha, sources, N_SOURCES, w, g, DIM, EPS);
    print_vec("    alpha      =", alpha, N_SOURCES);
    printf("    Every logit w . k_j is 0, so alpha is uniform and h is the mean of the sources.\n\n");

    /* the two factors of the covariance: c_j = u . v_j and the keys k_j */
    for (j = 0; j < N_SOURCES; j++) {
        c[j] = attnres_dot(u, sources + j * DIM, DIM);
        c_mean += c[j] / N_SOURCES;
        attnres_rmsnorm(keys + j * DIM, sources + j * DIM, g, DIM, EPS);
    }
    printf("    c_j = u . v_j, how much the loss would change per unit of alpha_j:\n");
    for (j = 0; j < N_SOURCES; j++) {
        char label[48];
        printf("    %-8s c = %8.5f   c - mean c = %8.5f", names[j], (double)c[j], c[j] - c_mean);
        snprintf(label, sizeof label, "   k =");
        print_vec(label, keys + j * DIM, DIM);
    }
    /* dw = (1/n) sum_j (c_j - mean c) k_j: the covariance */
    for (j = 0; j < N_SOURCES; j++)
        for (i = 0; i < DIM; i++) dw_hand[i] += (float)((c[j] - c_mean) * keys[j * DIM + i] / N_SOURCES);
    attnres_depth_attention_backward(NULL, dw, dg, u, alpha, sources, N_SOURCES, w, g, DIM, EPS);
    fd_vector(fd_w, w, DIM, u, sources, w, g);
    printf("\n    dloss/dw, three ways:\n");
    print_vec("      (1/n) sum_j (c_j - mean c) k_j            =", dw_hand, DIM);
    print_vec("      attnres_depth_attention_backward          =", dw, DIM);
    print_vec("      central differences, step 0.01, float32   =", fd_w, DIM);
    printf("    The covariance and the backward %s (within 1e-6); the differences %s (within 1e-4).\n",
           max_abs_diff(dw, dw_hand, DIM) < 1e-6 ? "agree" : "DISAGREE",
           max_abs_diff(dw, fd_w, DIM) < 1e-4 ? "agree" : "DISAGREE");
    if (sum_sq(dw, DIM) > 0.0)
        printf("    The gradient is not zero: the sources differ in how much the loss likes them (c_j), and\n"
               "    their keys differ, so dw points toward the keys of the sources with c_j above the mean:\n"
               "    a step w -= lr dw turns w toward the others, the sources that lower the loss, and\n"
               "    alpha starts to favour them. A uniform start is not a dead start.\n\n");
    else
        printf("    The gradient is exactly zero here: a dead start.\n\n");

    /* the gain: dg = sum_j ds_j xhat_j * w is zero while w is */
    fd_vector(fd_g, g, DIM, u, sources, w, g);
    printf("    The key gain is another matter: dg_i = sum_j ds_j xhat_ji w_i = 0 while w = 0.\n");
    print_vec("      dloss/dg (backward)    =", dg, DIM);
    print_vec("      central differences    =", fd_g, DIM);
    printf("    %s: g starts to learn only once w has moved (a logit w . (xhat * g) cannot feel g\n"
           "    while w = 0).\n\n", sum_sq(dg, DIM) == 0.0 && sum_sq(fd_g, DIM) == 0.0 ? "Both exactly 0" : "NOT both 0");

    /* a dead start: every key the same (sources that point the same way) */
    for (j = 0; j < N_SOURCES; j++)
        for (i = 0; i < DIM; i++) same[j * DIM + i] = (float)(j + 1) * sources[i];
    attnres_depth_attention(h, alpha, same, N_SOURCES, w, g, DIM, EPS);
    attnres_depth_attention_backward(NULL, dw_same, NULL, u, alpha, same, N_SOURCES, w, g, DIM, EPS);
    {
        float zero[DIM] = {0};
        double size = max_abs_diff(dw_same, zero, DIM);
        printf("    When is it dead? Take the sources b0, 2 b0, 3 b0: their c_j differ, but RMSNorm gives\n"
               "    them the same key (up to eps in the rms), and the covariance with a constant is 0:\n"
               "    max |dw| %s 1e-6. The depth softmax tells sources apart by direction, never by size.\n\n",
               size < 1e-6 ? "is below" : "is NOT below");
    }
    memcpy(dw_out, dw, sizeof dw);
}

/* ------------------------------------------------------------------------ */
/* (b) the gradient each source receives                                     */
/* ------------------------------------------------------------------------ */
static void per_source(const float *sources, const float *g, const float *u, const float *w) {
    float alpha[N_SOURCES], h[DIM], c[N_SOURCES], ds[N_SOURCES];
    float dsources[N_SOURCES * DIM] = {0};              /* [N, DIM] from the library */
    float value[N_SOURCES * DIM], key[N_SOURCES * DIM];  /* [N, DIM] the two paths by hand */
    float fd_key[DIM], fd_total[DIM], total[DIM], perturbed[N_SOURCES * DIM];
    double a_c = 0.0, worst_key = 0.0, worst_total = 0.0, worst_lib = 0.0, worst_radial = 0.0;
    int i, j, key_larger = 0;   /* sources whose key path is longer than their value path */

    attnres_depth_attention(h, alpha, sources, N_SOURCES, w, g, DIM, EPS);
    printf("(b) The gradient each source receives, with w = -0.5 dw from (a): one step down the gradient.\n");
    print_vec("    w     =", w, DIM);
    print_vec("    alpha =", alpha, N_SOURCES);
    {
        const float zero[DIM] = {0};
        double before = loss_uh(u, sources, zero, g), after = loss_uh(u, sources, w, g);
        printf("    u . h went from %.5f (w = 0) to %.5f: the step %s this loss.\n", before, after,
               after < before ? "lowered" : "did NOT lower");
    }
    printf("    Per source: the value path alpha_j u and the key path from the formulas at the top; the\n"
           "    key path's differences move v_j in its key only (alpha from the moved sources, values\n"
           "    as they were), the total's move it in both.\n\n");

    /* the two paths, written out from the formulas at the top */
    for (j = 0; j < N_SOURCES; j++) { c[j] = attnres_dot(u, sources + j * DIM, DIM); a_c += alpha[j] * c[j]; }
    for (j = 0; j < N_SOURCES; j++) {
        const float *v = sources + j * DIM;
        float r = 1.0f / sqrtf(attnres_dot(v, v, DIM) / DIM + EPS), xhat[DIM];   /* r_j = 1/rms(v_j) */
        double mean = 0.0;
        for (i = 0; i < DIM; i++) xhat[i] = v[i] * r;
        ds[j] = (float)(alpha[j] * (c[j] - a_c));
        for (i = 0; i < DIM; i++) mean += (double)w[i] * g[i] * xhat[i] / DIM;
        for (i = 0; i < DIM; i++) {
            value[j * DIM + i] = alpha[j] * u[i];
            key[j * DIM + i] = (float)(r * ds[j] * (w[i] * g[i] - xhat[i] * mean));
        }
    }
    attnres_depth_attention_backward(dsources, NULL, NULL, u, alpha, sources, N_SOURCES, w, g, DIM, EPS);

    for (j = 0; j < N_SOURCES; j++) {
        double radial = 0.0, key2 = 0.0, v2 = 0.0;   /* key path . v_j, |key path|^2, |v_j|^2 */
        memcpy(perturbed, sources, sizeof perturbed);
        for (i = 0; i < DIM; i++) {   /* central differences in v_j: keys only, and the whole */
            float keep = perturbed[j * DIM + i];
            double kp, km, tp, tm;
            perturbed[j * DIM + i] = keep + STEP;
            kp = loss_keys_only(u, perturbed, sources, w, g); tp = loss_uh(u, perturbed, w, g);
            perturbed[j * DIM + i] = keep - STEP;
            km = loss_keys_only(u, perturbed, sources, w, g); tm = loss_uh(u, perturbed, w, g);
            perturbed[j * DIM + i] = keep;
            fd_key[i] = (float)((kp - km) / (2.0 * STEP));
            fd_total[i] = (float)((tp - tm) / (2.0 * STEP));
            total[i] = value[j * DIM + i] + key[j * DIM + i];
            radial += (double)key[j * DIM + i] * sources[j * DIM + i];
            key2 += (double)key[j * DIM + i] * key[j * DIM + i];
            v2 += (double)sources[j * DIM + i] * sources[j * DIM + i];
        }
        printf("    %s: alpha = %.5f, ds = %+.5f, |value path| = %.5f, |key path| = %.5f\n", names[j],
               (double)alpha[j], (double)ds[j], sqrt(sum_sq(value + j * DIM, DIM)), sqrt(key2));
        print_vec("      value path alpha_j u         =", value + j * DIM, DIM);
        print_vec("      key path (formula)           =", key + j * DIM, DIM);
        print_vec("      key path (differences)       =", fd_key, DIM);
        print_vec("      both                         =", total, DIM);
        print_vec("      both (differences)           =", fd_total, DIM);
        if (max_abs_diff(key + j * DIM, fd_key, DIM) > worst_key) worst_key = max_abs_diff(key + j * DIM, fd_key, DIM);
        if (max_abs_diff(total, fd_total, DIM) > worst_total) worst_total = max_abs_diff(total, fd_total, DIM);
        if (max_abs_diff(total, dsources + j * DIM, DIM) > worst_lib) worst_lib = max_abs_diff(total, dsources + j * DIM, DIM);
        key_larger += key2 > sum_sq(value + j * DIM, DIM);
        if (key2 > 0.0 && fabs(radial) / sqrt(key2 * v2) > worst_radial) worst_radial = fabs(radial) / sqrt(key2 * v2);
    }
    printf("\n    The formulas %s the differences (key path and both: within 1e-3, the error of a\n"
           "    central difference with step 0.01) and %s attnres_depth_attention_backward's\n"
           "    dsources (within 1e-6).\n",
           worst_key < 1e-3 && worst_total < 1e-3 ? "match" : "do NOT match",
           worst_lib < 1e-6 ? "equal" : "do NOT equal");
    printf("    The key path is longer than the value path for %d of the %d sources: what a source\n"
           "    receives is not just its share alpha_j u of the upstream gradient. For b0 the two\n"
           "    paths point %s (their dot product is %+.5f).\n", key_larger, N_SOURCES,
           attnres_dot(value, key, DIM) < 0.0f ? "against each other and partly cancel" : "the same way",
           (double)attnres_dot(value, key, DIM));
    printf("    The key path is %s to its own source (the cosine between them %s 1e-4; eps keeps\n"
           "    it from 0): RMSNorm makes the key blind to a source's length, so only turning a source\n"
           "    changes its logit.\n",
           worst_radial < 1e-4 ? "orthogonal" : "NOT orthogonal", worst_radial < 1e-4 ? "is below" : "is NOT below");
    {   /* back at w = 0: the key path carries the factor w */
        float zero[DIM] = {0}, d0[N_SOURCES * DIM] = {0}, mean_grad[DIM];
        double worst = 0.0;
        attnres_depth_attention(h, alpha, sources, N_SOURCES, zero, g, DIM, EPS);
        attnres_depth_attention_backward(d0, NULL, NULL, u, alpha, sources, N_SOURCES, zero, g, DIM, EPS);
        for (i = 0; i < DIM; i++) mean_grad[i] = u[i] / N_SOURCES;
        for (j = 0; j < N_SOURCES; j++)
            if (max_abs_diff(d0 + j * DIM, mean_grad, DIM) > worst) worst = max_abs_diff(d0 + j * DIM, mean_grad, DIM);
        printf("    At w = 0 the key path is 0 (it carries the factor w): the backward %s every source\n"
               "    u / n (within 1e-6), the gradient of a plain mean; the key path grows with w.\n\n",
               worst < 1e-6 ? "gives" : "does NOT give");
    }
}

/* ------------------------------------------------------------------------ */
/* (c) the trained models: the gradient reaching each sublayer's output      */
/* ------------------------------------------------------------------------ */
#define TEXT "models/corpus_val.txt"
#define T_WIN 128      /* positions per window */
#define N_WIN 4        /* windows: bytes [k T_WIN, (k+1) T_WIN] of the text */
#define MAX_L 64       /* room for the per-sublayer figures; checked against the config */
/* The table prints five significant digits: a SIMD build sums the matrix
   products in another order and moves the fifth digit by one or two, well
   inside numdiff's relative tolerance of 1e-4. (Four digits would be worse:
   where a value sits near a rounding boundary, the fourth digit would flip,
   a change of up to 1e-3 of the value.) */

typedef struct {
    const char *name, *path;
    int L;
    double loss;             /* mean cross-entropy over the windows, nats per byte          */
    double df[MAX_L];        /* [L] ||dloss/df_l||, mean over the windows                    */
    double first_last[N_WIN];/* [N_WIN] per window: ||df_0|| / ||df_{L-1}||                  */
    double halves[N_WIN];    /* [N_WIN] per window: sum of ||df_l|| of the first half / second */
    double query[MAX_L + 1]; /* [L+1] AttnRes: ||dloss/dw_l|| of each pseudo-query, mean    */
} depth_grads;

/* One forward and one backward per window: ts.df_norm[l] is then
   ||dloss/df_l|| of that window's loss. Returns 0 after printing the error. */
static int measure(depth_grads *r, const int *text) {
    attnres_model m;
    attnres_train_state ts;
    attnres_error err;
    int k, l, t, tokens[T_WIN], targets[T_WIN], ok = 0;
    if (attnres_model_load(&m, r->path, &err) != ATTNRES_OK) {
        fprintf(stderr, "error: %s\n(run the lessons from the repository root)\n", err.message);
        return 0;
    }
    r->L = attnres_n_sublayers(&m.config);
    if (r->L > MAX_L) { fprintf(stderr, "error: %s has more than %d sublayers\n", r->path, MAX_L); goto done; }
    if (attnres_train_state_init(&ts, &m, T_WIN, &err) != ATTNRES_OK) {
        fprintf(stderr, "error: %s\n", err.message);
        goto done;
    }
    r->loss = 0.0;
    for (l = 0; l < r->L; l++) r->df[l] = 0.0;
    for (l = 0; l <= r->L; l++) r->query[l] = 0.0;
    for (k = 0; k < N_WIN; k++) {
        float loss = 0.0f;
        double early = 0.0, late = 0.0;
        for (t = 0; t < T_WIN; t++) { tokens[t] = text[k * T_WIN + t]; targets[t] = text[k * T_WIN + t + 1]; }
        attnres_train_zero_grad(&ts);
        if (attnres_train_forward(&m, &ts, tokens, targets, T_WIN, &loss, &err) != ATTNRES_OK ||
            attnres_train_backward(&m, &ts, &err) != ATTNRES_OK) {
            fprintf(stderr, "error: %s\n", err.message);
            goto free_state;
        }
        r->loss += loss / N_WIN;
        for (l = 0; l < r->L; l++) {
            r->df[l] += ts.df_norm[l] / N_WIN;
            *(l < r->L / 2 ? &early : &late) += ts.df_norm[l];
        }
        r->first_last[k] = ts.df_norm[0] / ts.df_norm[r->L - 1];
        r->halves[k] = early / late;
        for (l = 0; ts.grad.pseudo_query && l <= r->L; l++)
            r->query[l] += sqrt(sum_sq(ts.grad.pseudo_query + (size_t)l * m.config.dim, (size_t)m.config.dim)) / N_WIN;
    }
    ok = 1;
free_state:
    attnres_train_state_free(&ts);
done:
    attnres_model_free(&m);
    return ok;
}

static int trained_models(void) {
    static int text[N_WIN * T_WIN + 1];
    static depth_grads r[2];          /* standard, block */
    FILE *f = fopen(TEXT, "rb");
    double first_last[2], half[2];    /* per model, from the mean ||df_l||: first / last, early / late */
    int i, k, l, c, flatter = 0;      /* windows where block's first / last is the nearer to 1 */
    r[0].name = "standard"; r[0].path = "models/standard.safetensors";
    r[1].name = "block";    r[1].path = "models/block.safetensors";
    if (!f) { fprintf(stderr, "error: cannot open %s (run from the repository root)\n", TEXT); return 0; }
    for (i = 0; i < N_WIN * T_WIN + 1 && (c = fgetc(f)) != EOF; i++) text[i] = c;
    fclose(f);
    if (i < N_WIN * T_WIN + 1) { fprintf(stderr, "error: %s is shorter than %d bytes\n", TEXT, N_WIN * T_WIN + 1); return 0; }
    for (k = 0; k < 2; k++) if (!measure(&r[k], text)) return 0;
    if (r[0].L != r[1].L) { fprintf(stderr, "error: the two models differ in depth\n"); return 0; }

    printf("(c) The trained models, %d windows of %d bytes of %s: attnres_train_forward, then\n"
           "    attnres_train_backward, per window. ||df_l|| is the norm of the gradient of the mean\n"
           "    cross-entropy with respect to sublayer l's OUTPUT f_l (all positions), the quantity\n"
           "    of the paper's \"gradient dilution with depth\"; the training state keeps it\n"
           "    (ts.df_norm). Averaged over the windows.\n\n",
           N_WIN, T_WIN, TEXT);
    printf("    %-9s %13s %13s   %14s\n", "sublayer", "||df|| std", "||df|| block", "||dw_l|| block");
    for (l = 0; l < r[0].L; l++)
        printf("    %-4s %-4d %13.4e %13.4e   %14.4e\n", l % 2 ? "mlp" : "attn", l / 2, r[0].df[l], r[1].df[l],
               r[1].query[l]);
    printf("    %-9s %13s %13s   %14.4e\n", "output", "", "", r[1].query[r[1].L]);
    printf("    loss on these bytes: standard %.4f, block %.4f nats/byte\n\n", r[0].loss, r[1].loss);

    /* how uneven across depth: the first sublayer against the last, and the
       early half against the late half */
    for (k = 0; k < 2; k++) {
        double early = 0.0, late = 0.0;
        int L = r[k].L;
        for (l = 0; l < L; l++) *(l < L / 2 ? &early : &late) += r[k].df[l];
        first_last[k] = r[k].df[0] / r[k].df[L - 1];
        half[k] = early / late;
        printf("    %-8s: ||df|| of the first sublayer / the last = %.3f; first half / second half = %.3f\n",
               r[k].name, first_last[k], half[k]);
    }
    for (i = 0; i < N_WIN; i++)
        flatter += fabs(log(r[1].first_last[i])) < fabs(log(r[0].first_last[i]));

    /* what they show, said only as far as the numbers above say it */
    printf("\n    The paper reports that in a pre-norm stack the gradient reaching a sublayer's output\n"
           "    grows toward the early layers (an early output is read by every later sublayer, each\n"
           "    through an RMSNorm whose Jacobian is 1/rms of the stream there, and the stream grows\n"
           "    with depth), and that AttnRes makes it near uniform across depth. Here:\n");
    if (first_last[0] > 1.5)
        printf("    - standard: the first sublayer's output gets %.1f times the gradient of the last one's.\n",
               first_last[0]);
    else
        printf("    - standard: the first sublayer's output does NOT get clearly more gradient (ratio %.2f).\n",
               first_last[0]);
    if (fabs(log(first_last[1])) < fabs(log(first_last[0])))
        printf("    - block: %.2f, nearer to 1 than standard's, in %d of the %d windows taken one by one.\n",
               first_last[1], flatter, N_WIN);
    else
        printf("    - block: %.2f, NOT nearer to 1 than standard's (%d of %d windows are).\n", first_last[1],
               flatter, N_WIN);
    printf("    This is one snapshot of two 8-sublayer models at the end of their training, on %d bytes,\n"
           "    not the paper's view over the training of much deeper models; and the two models differ\n"
           "    in every weight, not only in the residual.\n", N_WIN * T_WIN);
    printf("    The last column: the pseudo-queries of the trained block model still receive gradient,\n"
           "    except sublayer 0's, %s: it reads b0 alone, and a softmax over one source is 1.\n",
           r[1].query[0] == 0.0 ? "which is exactly 0" : "which is NOT 0");
    return 1;
}

int main(void) {
    /* the hand example [N_SOURCES, DIM] */
    const float sources[N_SOURCES * DIM] = {
         1.0f,  0.5f, -0.5f,  0.0f,   /* b0: the token embedding      */
         0.2f,  2.0f,  1.0f, -1.0f,   /* b1: a completed block        */
        -1.0f,  0.0f,  3.0f,  1.0f,   /* partial: this block so far   */
    };
    float g[DIM] = {1, 1, 1, 1};                   /* key gain, as initialised */
    const float u[DIM] = {0.5f, -1.0f, 0.25f, 2.0f};
    float dw[DIM], w[DIM];
    int i;

    printf("Lesson 15: backpropagation through the softmax over depth.\n\n");
    zero_query(sources, g, u, dw);
    for (i = 0; i < DIM; i++) w[i] = -LR * dw[i];
    per_source(sources, g, u, w);
    if (!trained_models()) return 1;
    return 0;
}

/* Lesson 02 - RMSNorm, and why AttnRes normalises its KEYS.

   RMSNorm divides a vector by its root-mean-square, so only its DIRECTION
   survives (then a learned gain rescales each coordinate):
       RMSNorm(x) = x / sqrt(mean(x^2) + eps) * g

   AttnRes scores every depth source v_j with its sublayer's pseudo-query w:
       logit_j = w . RMSNorm(v_j)
   The sources are sums of sublayer outputs and their sizes differ a lot. If
   the scores used the raw v_j, the biggest source would win the softmax by
   size alone. Normalising the keys leaves the choice to the pseudo-query;
   the VALUES stay raw, so the mix keeps the scale of what it reads.

     make lessons && ./build/default/lessons/02_rmsnorm */
#define ATTNRES_IMPLEMENTATION
#include "../attnres.h"
#include <stdio.h>

#define DIM 4
#define N_SOURCES 3
#define EPS 1e-5f

static void print_vec(const char *label, const float *x, int n) {
    int i;
    printf("%s [", label);
    for (i = 0; i < n; i++) printf(i ? " %.6f" : "%.6f", (double)x[i]);
    printf("]\n");
}

int main(void) {
    const float ones[DIM] = {1, 1, 1, 1};      /* [DIM] a gain of 1: plain RMSNorm */
    const float x[DIM] = {1, 2, 3, 4};         /* [DIM] */
    float x100[DIM], y[DIM], y100[DIM];        /* [DIM] */
    /* three depth sources [N_SOURCES, DIM]: the embedding b0, a block b1
       that grew huge (it is mostly direction 1), and a small block b2 that
       points the way the pseudo-query is looking (direction 2) */
    const float sources[N_SOURCES * DIM] = {
        1.0f,  0.0f, 0.1f, 0.0f,   /* b0 */
        0.0f, 50.0f, 5.0f, 0.0f,   /* b1: 50x larger than the others */
        0.0f,  0.0f, 1.0f, 0.5f,   /* b2 */
    };
    const float w[DIM] = {0, 0, 2, 0};         /* [DIM] the pseudo-query: "look along direction 2" */
    float logits[N_SOURCES], alpha[N_SOURCES], out[DIM];
    int i, j;

    printf("Lesson 02: RMSNorm, and why AttnRes normalises the keys.\n\n");

    /* 1. RMSNorm of a simple vector: mean(x^2) = (1+4+9+16)/4 = 7.5 */
    attnres_rmsnorm(y, x, ones, DIM, EPS);
    print_vec("x          =", x, DIM);
    printf("mean(x^2)  = %.6f, rms = sqrt(mean(x^2) + eps) = %.6f\n",
           (double)(attnres_dot(x, x, DIM) / DIM), (double)sqrtf(attnres_dot(x, x, DIM) / DIM + EPS));
    print_vec("RMSNorm(x) =", y, DIM);
    printf("The result has rms 1: mean(RMSNorm(x)^2) = %.6f\n", (double)(attnres_dot(y, y, DIM) / DIM));
    printf("(eps = 1e-5 keeps the division safe for a zero vector; it makes the rms a hair\n"
           " larger, which is why that is 0.999999 and not 1.)\n");

    /* 2. the size is gone: 100 x normalises to the same vector */
    for (i = 0; i < DIM; i++) x100[i] = 100.0f * x[i];
    attnres_rmsnorm(y100, x100, ones, DIM, EPS);
    print_vec("RMSNorm(100 x) =", y100, DIM);
    printf("Same direction, same result (up to eps): RMSNorm keeps where a vector points, not how long it is.\n\n");

    /* 3. depth attention WITHOUT the key norm: logit_j = w . v_j */
    printf("Three depth sources; the pseudo-query w looks along direction 2 (coordinates count from 0):\n");
    print_vec("  b0 =", sources + 0 * DIM, DIM);
    print_vec("  b1 =", sources + 1 * DIM, DIM);
    print_vec("  b2 =", sources + 2 * DIM, DIM);
    print_vec("  w  =", w, DIM);
    for (j = 0; j < N_SOURCES; j++) logits[j] = attnres_dot(w, sources + j * DIM, DIM);
    print_vec("Raw keys:        logits w . v_j =", logits, N_SOURCES);
    attnres_softmax(logits, N_SOURCES);
    print_vec("                 alpha          =", logits, N_SOURCES);
    printf("b1 wins only because it is big: its direction is mostly 1, not 2.\n\n");

    /* 4. WITH the key norm, as AttnRes does it: logit_j = w . RMSNorm(v_j) */
    for (j = 0; j < N_SOURCES; j++) {
        float key[DIM];
        attnres_rmsnorm(key, sources + j * DIM, ones, DIM, EPS);
        logits[j] = attnres_dot(w, key, DIM);
    }
    print_vec("Normalised keys: logits w . RMSNorm(v_j) =", logits, N_SOURCES);
    attnres_depth_attention(out, alpha, sources, N_SOURCES, w, ones, DIM, EPS);
    print_vec("attnres_depth_attention gives alpha      =", alpha, N_SOURCES);
    printf("Now b2, the source pointing where w looks, gets most of the weight. b0 and b1 both\n"
           "have about a tenth of their length along direction 2, so their logits almost tie.\n");
    print_vec("The output sum_j alpha_j v_j (raw values) =", out, DIM);
    printf("The values are not normalised: b1 still brings its size, in proportion to its weight.\n");
    return 0;
}

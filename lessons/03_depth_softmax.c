/* Lesson 03 - the AttnRes operation: a softmax over DEPTH.

   A standard residual stream gives sublayer l the plain sum of everything
   before it. AttnRes gives it a weighted mix of the earlier sources
   v_0 .. v_{n-1} (the embedding b0, completed blocks, the partial block):
       logit_j = w . RMSNorm(v_j)      one learned pseudo-query w per sublayer
       alpha   = softmax_j(logit)      over the depth axis, not over tokens
       h       = sum_j alpha_j v_j
   There is no 1/sqrt(d) scale, so the LENGTH of w sets how sharp the
   choice is. Training starts from w = 0; this lesson shows what that means
   and how a learned w becomes selective.

     make lessons && ./build/default/lessons/03_depth_softmax */
#define ATTNRES_IMPLEMENTATION
#include "../attnres.h"
#include <stdio.h>

#define DIM 6
#define N_SOURCES 4
#define EPS 1e-5f

static void print_vec(const char *label, const float *x, int n) {
    int i;
    printf("%s [", label);
    for (i = 0; i < n; i++) printf(i ? " %9.6f" : "%9.6f", (double)x[i]);
    printf("]\n");
}

int main(void) {
    /* the sources a sublayer might see [N_SOURCES, DIM] */
    const float sources[N_SOURCES * DIM] = {
         1.0f,  0.5f, 0.0f, -0.5f,  0.0f, 0.2f,   /* b0: the token embedding      */
         0.2f,  2.0f, 1.0f,  0.0f, -1.0f, 0.0f,   /* b1: a completed block        */
        -1.0f,  0.0f, 3.0f,  1.0f,  0.5f, 0.0f,   /* b2: a completed block        */
         0.0f, -0.5f, 0.5f,  2.0f,  1.0f, 1.0f,   /* partial: this block so far   */
    };
    const char *names[N_SOURCES] = {"b0", "b1", "b2", "partial"};
    const float gain[DIM] = {1, 1, 1, 1, 1, 1};   /* [DIM] key-norm gain (learned; 1 here) */
    const float scales[4] = {0.5f, 1.0f, 2.0f, 4.0f};
    float w[DIM] = {0};                           /* [DIM] pseudo-query */
    float alpha[N_SOURCES], h[DIM], mean[DIM];    /* [N_SOURCES], [DIM], [DIM] */
    int i, j, k;

    printf("Lesson 03: the AttnRes operation, a softmax over depth.\n\n");
    for (j = 0; j < N_SOURCES; j++) {
        char label[32];
        snprintf(label, sizeof label, "  %-8s=", names[j]);
        print_vec(label, sources + j * DIM, DIM);
    }

    /* 1. w = 0: every logit is 0, so alpha = 1/n and h is the plain mean */
    attnres_depth_attention(h, alpha, sources, N_SOURCES, w, gain, DIM, EPS);
    printf("\n1. Zero pseudo-query (how training starts): every logit is 0.\n");
    print_vec("   alpha =", alpha, N_SOURCES);
    printf("   each is 1/%d = %.6f: the sublayer reads the plain mean of its sources.\n",
           N_SOURCES, 1.0 / N_SOURCES);
    for (i = 0; i < DIM; i++) {
        mean[i] = 0.0f;
        for (j = 0; j < N_SOURCES; j++) mean[i] += sources[j * DIM + i];
        mean[i] /= N_SOURCES;
    }
    print_vec("   h     =", h, DIM);
    print_vec("   mean  =", mean, DIM);
    printf("   (A standard residual would give the SUM, %d times as large, and it keeps growing with depth.)\n",
           N_SOURCES);

    /* 2. a learned w that points like the embedding: the sublayer reads b0 */
    printf("\n2. A trained-looking pseudo-query w = s * b0 (it has learned to look for the embedding).\n");
    printf("   The length s acts as an inverse temperature (there is no 1/sqrt(d)):\n");
    for (k = 0; k < 4; k++) {
        char label[48];
        float sum = 0.0f;
        for (i = 0; i < DIM; i++) w[i] = scales[k] * sources[0 * DIM + i];
        attnres_depth_attention(h, alpha, sources, N_SOURCES, w, gain, DIM, EPS);
        for (j = 0; j < N_SOURCES; j++) sum += alpha[j];
        snprintf(label, sizeof label, "   s = %.1f  alpha =", (double)scales[k]);
        print_vec(label, alpha, N_SOURCES);
        printf("              sum of alpha = %.6f\n", (double)sum);
    }
    print_vec("   with s = 4, h =", h, DIM);
    printf("   h is now close to b0 itself: this sublayer skips the blocks and reads the embedding.\n");

    /* 3. another sublayer, another w: it reads the partial block (the most recent work) */
    for (i = 0; i < DIM; i++) w[i] = 2.0f * sources[3 * DIM + i];
    attnres_depth_attention(h, alpha, sources, N_SOURCES, w, gain, DIM, EPS);
    printf("\n3. Another sublayer with w = 2 * partial reads mostly the partial block:\n");
    print_vec("   alpha =", alpha, N_SOURCES);
    printf("   Same sources, different pseudo-query, different mix: each sublayer chooses its own depth.\n");
    printf("   The weights are per token too, because the sources differ from token to token.\n");
    return 0;
}

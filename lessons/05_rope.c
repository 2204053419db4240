/* Lesson 05 - RoPE: where a token is, written into its query and key.

   Token attention mixes information ACROSS POSITIONS (AttnRes mixes across
   depth), but q . k alone cannot tell how far apart two tokens are. Rotary
   position embedding (RoPE) fixes that by turning every pair
   (x[2i], x[2i+1]) of a query or key head by the angle
       pos * theta^(-2i/head_dim)
   Early pairs turn fast, late pairs slowly, like the hands of a clock.
   Two facts make it work:
   - a rotation keeps lengths, so RoPE changes no vector's size;
   - rotating q by angle m*f and k by n*f changes their dot product by the
     angle (m - n)*f only: the attention score of q at position m and k at
     position n depends on the DISTANCE m - n, not on m and n themselves.
   attnres_rope(x, n, head_dim, pos, theta, scaling) rotates n numbers
   (n/head_dim heads, one after the other) in place. scaling NULL is the
   plain RoPE above; long-context models (Llama 3.1+) slow the late pairs
   down instead (attnres_rope_freq, docs/models-import.md).

     make lessons && ./build/default/lessons/05_rope */
#define ATTNRES_IMPLEMENTATION
#include "../attnres.h"
#include <math.h>
#include <stdio.h>

#define HEAD_DIM 8
#define THETA 10000.0f

static void print_vec(const char *label, const float *x, int n) {
    int i;
    printf("%s [", label);
    for (i = 0; i < n; i++) printf(i ? " %.6f" : "%.6f", (double)x[i]);
    printf("]\n");
}

/* out [HEAD_DIM] = x rotated by RoPE to position pos */
static void rope_at(float *out, const float *x, int pos) {
    int i;
    for (i = 0; i < HEAD_DIM; i++) out[i] = x[i];
    attnres_rope(out, HEAD_DIM, HEAD_DIM, pos, THETA, NULL);   /* NULL: no frequency scaling */
}

int main(void) {
    const float ones[HEAD_DIM] = {1, 0, 1, 0, 1, 0, 1, 0};      /* [HEAD_DIM] each pair = (1, 0) */
    const float q[HEAD_DIM] = {0.5f, -1.0f, 0.25f, 2.0f, 1.0f, 0.0f, -0.5f, 0.75f};
    const float k[HEAD_DIM] = {1.0f, 0.5f, -0.5f, 1.0f, 0.0f, 2.0f, 1.0f, -1.0f};
    const int pairs[4][2] = {{2, 0}, {5, 3}, {12, 10}, {5, 4}};  /* (m, n): positions of q and k */
    float r[HEAD_DIM], rq[HEAD_DIM], rk[HEAD_DIM];
    int i;

    printf("Lesson 05: RoPE, the position written into queries and keys.\n\n");

    /* 1. the frequencies: pair i turns theta^(-2i/head_dim) radians per position */
    printf("1. head_dim %d, theta %g. Pair i turns at frequency theta^(-2i/head_dim):\n", HEAD_DIM, (double)THETA);
    for (i = 0; i < HEAD_DIM / 2; i++)
        printf("   pair %d: %.6f radians per position\n", i, pow(THETA, -(double)(2 * i) / HEAD_DIM));

    /* 2. one step: every pair (1, 0) at position 1 becomes (cos a, sin a) */
    rope_at(r, ones, 1);
    printf("\n2. Every pair (1, 0) at position 1 becomes (cos a, sin a) for its angle a:\n");
    print_vec("  ", r, HEAD_DIM);

    /* 3. lengths are kept */
    rope_at(rq, q, 7);
    printf("\n3. Rotation keeps length: |q| = %.6f, |RoPE(q, pos 7)| = %.6f\n",
           sqrt((double)attnres_dot(q, q, HEAD_DIM)), sqrt((double)attnres_dot(rq, rq, HEAD_DIM)));

    /* 4. the score depends on the distance only */
    printf("\n4. q . k after rotating q to position m and k to position n:\n");
    for (i = 0; i < 4; i++) {
        rope_at(rq, q, pairs[i][0]);
        rope_at(rk, k, pairs[i][1]);
        printf("   m = %2d, n = %2d (m - n = %d): %.6f\n", pairs[i][0], pairs[i][1],
               pairs[i][0] - pairs[i][1], (double)attnres_dot(rq, rk, HEAD_DIM));
    }
    printf("   Equal distances give equal scores, wherever the pair sits in the text. So a key can\n"
           "   be rotated ONCE, at its own position, and kept: lesson 06 keeps it in the KV-cache.\n");
    return 0;
}

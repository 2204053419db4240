/* Lesson 01 - matrices: row-major storage and y = W x.

   Every weight matrix in attnres.h is stored ROW-MAJOR as W[out][in], the
   way torch.nn.Linear stores its weight: row r holds the in-features that
   produce output r, and it starts at w + r*cols. A matrix-vector product
   is then one dot product per row. This loop (attnres_matvec) is where
   almost all of a forward pass's time goes.

     make lessons && ./build/default/lessons/01_matrices */
#define ATTNRES_IMPLEMENTATION
#include "../attnres.h"
#include <stdio.h>

#define ROWS 2
#define COLS 3

int main(void) {
    /* W [ROWS, COLS] = [[1 2 3], [4 5 6]], written as the flat array it is */
    const float w[ROWS * COLS] = {1, 2, 3, 4, 5, 6};
    const float x[COLS] = {1, 2, 3};    /* [COLS] */
    float y[ROWS];                      /* [ROWS] */
    attnres_config c = {0};
    int r, i;

    printf("Lesson 01: matrices are flat arrays, row after row.\n\n");

    /* 1. the memory layout: element (r, i) lives at index r*COLS + i */
    printf("W has %d rows (outputs) and %d columns (inputs); in memory it is one array:\n", ROWS, COLS);
    for (i = 0; i < ROWS * COLS; i++)
        printf("  w[%d] = %g   is W(row %d, col %d)\n", i, (double)w[i], i / COLS, i % COLS);
    printf("Row r starts at w + r*cols: row 1 starts at w[%d] = %g.\n\n", 1 * COLS, (double)w[1 * COLS]);

    /* 2. one row times x is a dot product */
    printf("x = [%g %g %g]\n", (double)x[0], (double)x[1], (double)x[2]);
    for (r = 0; r < ROWS; r++)
        printf("  y[%d] = dot(row %d, x) = %g*%g + %g*%g + %g*%g = %g\n", r, r,
               (double)w[r * COLS + 0], (double)x[0], (double)w[r * COLS + 1], (double)x[1],
               (double)w[r * COLS + 2], (double)x[2], (double)attnres_dot(w + r * COLS, x, COLS));

    /* 3. attnres_matvec does exactly that for every row: out[rows] = w[rows, cols] x[cols] */
    attnres_matvec(y, w, x, ROWS, COLS);
    printf("attnres_matvec(y, w, x, rows=%d, cols=%d) gives y = [%g %g]\n", ROWS, COLS, (double)y[0], (double)y[1]);
    printf("(PyTorch: torch.nn.Linear(%d, %d, bias=False) with weight W computes the same y.)\n\n", COLS, ROWS);

    /* 4. the same convention for every weight of the model. Shapes for a small config: */
    c.dim = 64; c.hidden_dim = 96; c.n_layers = 3; c.n_heads = 4; c.n_kv_heads = 2;
    c.vocab_size = 128;
    printf("In the model every matrix is [out, in]. With dim %d, hidden_dim %d, %d heads, %d kv heads:\n",
           c.dim, c.hidden_dim, c.n_heads, c.n_kv_heads);
    printf("  head_dim = dim / n_heads = %d, kv_dim = n_kv_heads * head_dim = %d\n",
           attnres_head_dim(&c), attnres_kv_dim(&c));
    printf("  wq [%d, %d]   q = wq x  maps dim -> n_heads*head_dim\n", c.n_heads * attnres_head_dim(&c), c.dim);
    printf("  wk [%d, %d]   k = wk x  maps dim -> kv_dim (fewer kv heads: a smaller matrix)\n",
           attnres_kv_dim(&c), c.dim);
    printf("  w1 [%d, %d]   the MLP gate maps dim -> hidden_dim\n", c.hidden_dim, c.dim);
    printf("  w2 [%d, %d]   the MLP down projection maps hidden_dim -> dim\n", c.dim, c.hidden_dim);
    printf("  output [%d, %d]   logits = output x maps dim -> vocab_size\n", c.vocab_size, c.dim);
    printf("Layers are stacked in front: wq is [n_layers, %d, %d], and layer 2 starts at wq + 2*%d*%d = wq + %d.\n",
           c.n_heads * attnres_head_dim(&c), c.dim, c.n_heads * attnres_head_dim(&c), c.dim,
           2 * c.n_heads * attnres_head_dim(&c) * c.dim);
    return 0;
}

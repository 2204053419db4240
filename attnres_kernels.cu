/* attnres_kernels.cu - the kernel file for NVIDIA GPUs (CUDA).

   The header's two hooks for a CUDA build:
       make test CUDA=1
         = nvcc -O2 -c attnres_kernels.cu; the C files get -DATTNRES_KERNELS
           -DATTNRES_CUDA and link with -lcudart
   What runs where, honestly:
     attnres_kernel_matvec   on the GPU, one warp per output row, for the
                             weights of an uploaded model; on the host for
                             anything else
     attnres_kernel_matmul   that matvec once per position (T positions)
     attnres_kernel_matmul_backward  on the host: attnres_matmul_backward (training)
     attnres_kernel_depth_attention_backward  on the host: the header's (training)
     attnres_kernel_attend   on the host: the header's own attnres_attend
     attnres_kernel_matvec_q8  on the host: the header's own attnres_matvec_q8
                             (an int8 model is not run on the GPU)
     attnres_kernel_matvec_w8a8  on the host too: attnres_matvec_w8a8
     attnres_kernel_quantize_q8  on the host: attnres_quantize_q8
   Only matvec moves: it holds almost all of the time and all of the weights.
   Moving attention too would mean keeping the activations and the KV-cache
   on the device, i.e. a different forward pass; this file keeps
   attnres_forward as it is and only swaps its hot loop.

   WEIGHTS ARE UPLOADED EXPLICITLY. After loading a model, call
       attnres_cuda_upload(&model, &err);
   It copies the model's one weight allocation (model.memory) to the
   device. A matvec whose matrix lies inside that allocation then reads
   the device copy at the same offset; any other matrix runs on the host.
   Changed the weights by hand? Upload again: nothing is detected for you.
   attnres_cuda_release() frees the device copy (and uploading another
   model replaces it). One model at a time, from one thread. Each call
   copies x to the device and out back (synchronously): fine for an
   educational build, far from what a real GPU decoder does.

   NO GPU: attnres_cuda_upload fails with the reason (and everything runs
   on the host), attnres_kernel_name says so, and tests/test_kernels.c
   reports its GPU checks as skipped, not passed.

   This file was compiled with nvcc 13.0 on a machine without a GPU: the
   device code has been compiled, never run. */
#include <cuda_runtime.h>
#include <stdio.h>
#include <string.h>

/* A private (static) copy of the header's implementation: its scalar
   matvec and attention are the host path, so nothing is rewritten here. */
#define ATTNRES_STATIC
#define ATTNRES_IMPLEMENTATION
#include "attnres.h"   /* in C++ the kernel declarations are extern "C" */

/* ======================================================================== */
/* The device copy of one model's weights                                   */
/* ======================================================================== */

static const float *host_weights = NULL;   /* model.memory of the uploaded model */
static size_t       n_weights = 0;         /* its length in floats               */
static float       *device_weights = NULL; /* [n_weights] on the GPU             */
static float       *device_x = NULL, *device_out = NULL;   /* [max(dim, hidden, q_dim)], [max rows] */

extern "C" int attnres_cuda_device_count(char *why, int why_size) {
    int count = 0;
    cudaError_t rc = cudaGetDeviceCount(&count);
    if (rc != cudaSuccess) {
        snprintf(why, (size_t)why_size, "cudaGetDeviceCount: %s", cudaGetErrorString(rc));
        return 0;
    }
    if (count == 0) snprintf(why, (size_t)why_size, "cudaGetDeviceCount: 0 devices");
    else snprintf(why, (size_t)why_size, "%d device(s)", count);
    return count;
}

extern "C" void attnres_cuda_release(void) {
    if (device_weights) cudaFree(device_weights);
    if (device_x) cudaFree(device_x);
    if (device_out) cudaFree(device_out);
    device_weights = device_x = device_out = NULL;
    host_weights = NULL;
    n_weights = 0;
}

extern "C" int attnres_cuda_upload(const attnres_model *m, attnres_error *err) {
    const attnres_config *c = &m->config;
    char why[200];
    size_t io = (size_t)c->vocab_size, q_dim = (size_t)c->n_heads * (size_t)attnres_head_dim(c);
    cudaError_t rc;
    attnres_cuda_release();
    if (!m->memory) return attnres__fail(err, ATTNRES_ERR_RANGE, "cuda upload: the model is not loaded");
    if (attnres_cuda_device_count(why, (int)sizeof why) == 0)
        return attnres__fail(err, ATTNRES_ERR_IO, "cuda upload: no GPU (%s); matvecs stay on the host", why);
    /* the x and out buffers: the widest input and the longest output of any matvec */
    if ((size_t)c->dim > io) io = (size_t)c->dim;
    if ((size_t)c->hidden_dim > io) io = (size_t)c->hidden_dim;
    if (q_dim > io) io = q_dim;
    if ((rc = cudaMalloc((void **)&device_weights, m->n_floats * sizeof(float))) != cudaSuccess ||
        (rc = cudaMalloc((void **)&device_x, io * sizeof(float))) != cudaSuccess ||
        (rc = cudaMalloc((void **)&device_out, io * sizeof(float))) != cudaSuccess ||
        (rc = cudaMemcpy(device_weights, m->memory, m->n_floats * sizeof(float), cudaMemcpyHostToDevice))
            != cudaSuccess) {
        attnres_cuda_release();
        return attnres__fail(err, ATTNRES_ERR_NOMEM, "cuda upload of %.1f MB: %s; matvecs stay on the host",
                             (double)m->n_floats * 4.0 / 1e6, cudaGetErrorString(rc));
    }
    host_weights = m->memory;
    n_weights = m->n_floats;
    return attnres__ok(err);
}

/* ======================================================================== */
/* matvec on the GPU: one warp (32 threads) per output row                   */
/* ======================================================================== */

#define WARP 32
#define ROWS_PER_BLOCK 8   /* 8 warps = 256 threads per block */

/* out[rows] = w[rows, cols] x[cols]. Warp `row` reads its row with lane k
   taking columns k, k+32, k+64, ..: the 32 lanes read 32 consecutive floats
   at once (one coalesced 128-byte transaction), then a shuffle tree adds the
   32 partial sums. The order of the additions differs from the scalar loop
   (and the compiler fuses multiply-adds): rounding only, as for AVX2. */
__global__ static void matvec_kernel(float *out, const float *w, const float *x, int rows, int cols) {
    int row = blockIdx.x * ROWS_PER_BLOCK + threadIdx.x / WARP, lane = threadIdx.x % WARP;
    if (row >= rows) return;   /* the whole warp leaves together: no shuffle is left waiting */
    const float *wr = w + (size_t)row * (size_t)cols;
    float sum = 0.0f;
    for (int j = lane; j < cols; j += WARP) sum += wr[j] * x[j];
    for (int offset = WARP / 2; offset > 0; offset /= 2)
        sum += __shfl_down_sync(0xffffffffu, sum, offset);
    if (lane == 0) out[row] = sum;
}

/* The GPU runs w x when w [rows, cols] lies inside the uploaded weights;
   otherwise (nothing uploaded, another model, a launch or copy failure)
   the header's scalar matvec does. */
extern "C" void attnres_kernel_matvec(float *out, const float *w, const float *x, int rows, int cols) {
    size_t n = (size_t)rows * (size_t)cols;
    if (host_weights && w >= host_weights && w + n <= host_weights + n_weights) {
        const float *dw = device_weights + (w - host_weights);   /* the same offset on the device */
        if (cudaMemcpy(device_x, x, (size_t)cols * sizeof(float), cudaMemcpyHostToDevice) == cudaSuccess) {
            matvec_kernel<<<(rows + ROWS_PER_BLOCK - 1) / ROWS_PER_BLOCK, ROWS_PER_BLOCK * WARP>>>(
                device_out, dw, device_x, rows, cols);
            /* cudaMemcpy waits for the kernel */
            if (cudaGetLastError() == cudaSuccess &&
                cudaMemcpy(out, device_out, (size_t)rows * sizeof(float), cudaMemcpyDeviceToHost) == cudaSuccess)
                return;
        }
    }
    attnres_matvec(out, w, x, rows, cols);
}

/* T positions: the matvec above for each (on the GPU when W was uploaded) */
extern "C" void attnres_kernel_matmul(float *out, const float *x, const float *w, int T, int rows, int cols) {
    int t;
    for (t = 0; t < T; t++) attnres_kernel_matvec(out + (size_t)t * rows, w, x + (size_t)t * cols, rows, cols);
}

/* The training backward's products: on the host, the header's loop */
extern "C" void attnres_kernel_matmul_backward(float *dx, float *dw, const float *dout, const float *w,
                                               const float *x, int T, int rows, int cols) {
    attnres_matmul_backward(dx, dw, dout, w, x, T, rows, cols);
}

extern "C" void attnres_kernel_depth_attention_backward(float *dsources, float *dpseudo_query, float *dkey_gain,
                                                        const float *dout, const float *alpha,
                                                        const float *sources, int n_sources,
                                                        const float *pseudo_query, const float *key_gain,
                                                        int dim, float eps) {
    attnres_depth_attention_backward(dsources, dpseudo_query, dkey_gain, dout, alpha, sources, n_sources,
                                     pseudo_query, key_gain, dim, eps);
}

extern "C" void attnres_kernel_matvec_q8(float *out, const int8_t *q, const float *scale, const float *x,
                                         int rows, int cols, int group_size) {
    attnres_matvec_q8(out, q, scale, x, rows, cols, group_size);
}

extern "C" void attnres_kernel_matvec_w8a8(float *out, const int8_t *q, const float *scale, const int8_t *xq,
                                           const float *xscale, int rows, int cols, int group_size) {
    attnres_matvec_w8a8(out, q, scale, xq, xscale, rows, cols, group_size);
}

extern "C" void attnres_kernel_quantize_q8(int8_t *q, float *scale, const float *w, int rows, int cols,
                                           int group_size) {
    attnres_quantize_q8(q, scale, w, rows, cols, group_size);
}

extern "C" void attnres_kernel_attend(float *out, float *att, const float *q,
                                      const float *key_cache, const float *value_cache,
                                      int n_pos, int n_heads, int n_kv_heads, int head_dim, int seq_len) {
    attnres_attend(out, att, q, key_cache, value_cache, n_pos, n_heads, n_kv_heads, head_dim, seq_len);
}

extern "C" const char *attnres_kernel_name(void) {
    static char name[320];
    char why[200];
    if (attnres_cuda_device_count(why, (int)sizeof why) == 0)
        snprintf(name, sizeof name, "cuda build, no GPU (%s): every loop on the host", why);
    else
        snprintf(name, sizeof name, "cuda (%s): matvec of uploaded weights on the GPU, the rest on the host", why);
    return name;
}

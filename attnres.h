/* attnres.h - v0.7.0 - Attention Residuals inside a tiny LLaMA-style decoder.
   A single-header numerical laboratory: every stage is a plain scalar loop
   you can step through, and every stage is diffed against PyTorch.

   USAGE
     In exactly ONE C file:
         #define ATTNRES_IMPLEMENTATION
         #include "attnres.h"
     Everywhere else just #include "attnres.h" for the declarations.

     attnres_model model;  attnres_state state;  attnres_error err;
     if (attnres_model_load(&model, "model.safetensors", &err) != ATTNRES_OK ||
         attnres_state_init(&state, &model.config, &err) != ATTNRES_OK) {
         fprintf(stderr, "%s\n", err.message);  return 1;
     }
     for (int pos = 0; pos < n_prompt; pos++) {
         float *logits = attnres_forward(&model, &state, prompt[pos], pos, &err);
         if (!logits) { fprintf(stderr, "%s\n", err.message); break; }
         // logits [vocab_size] live in the state until the next forward call;
         // attnres_sample(&sampler, logits) may overwrite them (it works in place)
     }
     attnres_state_free(&state);  attnres_model_free(&model);
   Compile: cc -std=c99 prog.c -lm

   INT8 WEIGHTS. attnres_model_quantize(&model, 32, &err) after loading
   replaces every matrix by group-wise int8 (one fp32 scale per 32 weights
   of a row); the forward pass then reads a quarter of the bytes. Setting
   model.q8.int8_activations = 1 also rounds every matvec input to int8
   (W8A8): int8 x int8 products, faster, with a second rounding. A
   checkpoint stored either way (tools/quantize.py) loads as it is.
   docs/quantization.md has the format, the error and the speed.

   STABLE API (kept across minor versions): the types and functions under
   "Errors", "Config, weights and model", "Run state", "Forward pass" and
   "Sampling" below. The "Building blocks" (primitives, depth attention,
   block state, the two phases) are public so lessons and tests can replay
   the forward pass step by step; their signatures follow the numerics and
   may change with them. Everything named attnres__* is private.

   READING ORDER. The declarations come first. The implementation then
   follows the data: primitives, attention with the KV-cache, the AttnRes
   operation and its block state, attnres_forward (one function per
   residual mode), two-phase inference, sampling; and only after those,
   in its own part, the machinery: error messages, config checks, memory,
   traffic accounting and the checkpoint loader.

   THE MODEL (the contract; the README says the same in more words)
     A decoder-only LLaMA-style transformer in fp32, one token at a time with
     a KV-cache. Each of the n_layers layers has two SUBLAYERS, attention then
     a SwiGLU MLP, so there are L = 2*n_layers sublayers; sublayer 2i is the
     attention of layer i and 2i+1 its MLP. A sublayer is pre-norm:
         f_l(h) = Attn(RMSNorm(h))   or   MLP(RMSNorm(h))
     RoPE rotates interleaved pairs (x[2i], x[2i+1]) of every q and k head by
     pos * theta^(-2i/head_dim), or by a rescaled frequency when the config
     asks for Hugging Face's "linear" or "llama3" rope_scaling
     (attnres_rope_freq). Attention is causal, scaled by 1/sqrt(head_dim),
     and grouped-query: query head hq reads kv head hq / (n_heads/n_kv_heads).
     head_dim is dim / n_heads unless the config sets it (Qwen3); with
     qk_norm, each head of q and k is RMSNormed (gains [head_dim] per layer)
     before RoPE.

     residual = STANDARD:  h <- h + f_l(h) for every sublayer, starting from
       the token embedding; logits = W_out RMSNorm(h).
     residual = ATTNRES (Block AttnRes with block_size S; S = 1 is Full AttnRes):
       b0 = the token embedding. Block n >= 1 holds sublayers ((n-1)S, nS]
       (1-based; the last block is shorter when S does not divide L), and
       b_n = the sum of the outputs f of its sublayers (never the embedding).
       The i-th sublayer of block n reads
           h = sum_j alpha_j v_j,  V = [b0..b_{n-1}]           (i = 1)
                                   V = [b0..b_{n-1}, partial]  (i >= 2)
       where partial is the sum of the outputs of the earlier sublayers of
       block n, and alpha = softmax over the DEPTH axis of
           s_j = w_l . RMSNorm_l(v_j)        (no 1/sqrt(d) scale)
       with one learned pseudo-query w_l and one key-norm gain g_l per
       sublayer. Keys are normalised, values are the raw v_j.
       The output is one more such aggregation, with its own pseudo-query and
       key norm, over [b0, b1, .., b_N]; then RMSNorm and W_out as usual.

   TWO PATHS FOR THE DEPTH ATTENTION (state.path)
     ATTNRES_PATH_DIRECT     every sublayer scores all its sources (the
                             definition above, read literally)
     ATTNRES_PATH_TWO_PHASE  the paper's Algorithm 1: per block, one batched
                             phase 1 over the completed blocks, then a cheap
                             online-softmax merge with the partial per sublayer
     Both compute the same thing (tests/test_two_phase.c); lesson 08 shows
     how much residual-path memory traffic the second one saves.

   OPTIONS (define before including, in the implementation file)
     ATTNRES_STATIC            make every symbol static (private to one file)
     ATTNRES_MALLOC(sz)        \  allocation; define both or neither
     ATTNRES_FREE(p)           /
     ATTNRES_ASSERT(x)         programmer-error checks (default: assert.h)
     ATTNRES_SIZE_MAX          the most bytes one allocation may hold (default
                               SIZE_MAX); a model or state that needs more is
                               refused. Tests define it as 0xFFFFFFFF to take,
                               on 64 bits, the refusals of a 32-bit build
     ATTNRES_PREFILL_CHUNK     prompt positions attnres_prefill runs through
                               each sublayer at once (default 64); the state
                               holds their activations
     Bad files and bad user input never assert: they return an error code
     and fill an attnres_error with a message you can print.

   CONVENTIONS
     Matrices are row-major, W[out][in], y = W x (like torch.nn.Linear).
     Shapes are written in comments as // [rows, cols]. Functions take
     outputs first, then inputs, then sizes. The library never prints, never
     exits and never allocates inside attnres_forward.

   VERSION HISTORY
     0.7.0  training: the backward of every building block beside its
            forward (attnres_*_backward), a training state with a forward
            over a whole sequence and the whole-model backward
            (attnres_train_*), AdamW, the lr schedule, gradient clipping,
            seeded windows and an in-memory checkpoint writer
            (attnres_train_step, attnres_adamw_*, attnres_checkpoint_*);
            attnres_matmul and its kernel hook (matmul), which
            attnres_prefill uses to run fp32 prompts in chunks;
            attnres_matmul_backward and the training backward's hooks
            (matmul_backward, depth_attention_backward); the gradient
            reaching every sublayer's output (attnres_train_state.df_norm);
            RoPE scaling as Hugging Face defines it (linear, llama3):
            attnres_config.rope_scaling, attnres_rope_freq, and
            attnres_rope / attnres_rope_backward take the scaling (NULL:
            plain RoPE); end-of-sequence ids in the config
            (eos_token_id, n_eos); checkpoint format version 3 for a
            scaled RoPE; sizes are
            counted in 64 bits and a model or state past one allocation
            (ATTNRES_SIZE_MAX; 4 GiB with a 32-bit size_t, as in
            WebAssembly) is refused, never allocated at a wrapped size.
     0.6.0  int8 activations (W8A8): attnres_q8_weights.int8_activations,
            attnres_matvec_w8a8, two more kernel hooks (matvec_w8a8 and
            quantize_q8, W8A8's input rounding), the checkpoint key
            "activations": "int8"; the state has xq, xq_scale;
            attnres_quantize_q8 gives a group holding NaN or Inf that scale.
     0.5.0  group-wise int8 weights (docs/quantization.md): attnres_q8,
            attnres_model.q8, attnres_model_quantize, the building blocks
            attnres_quantize_q8 / attnres_dequantize_q8 / attnres_matvec_q8,
            a third kernel hook (matvec_q8); checkpoints of format_version
            "2" may store the matrices as I8 with F32 scales ("1" still loads).
     0.4.0  version macros (ATTNRES_VERSION_*); attnres_model_load_memory;
            attnres_traffic (a function of config and path) replaces the
            state's io counters; the two-phase path folds its queries from
            the weights each token, so attnres_model_refresh and
            folded_query are gone; the safetensors reader is private
            (attnres__st_*); the kernel hook is two functions (matvec,
            attend); the implementation reads in the data's order; an
            explicit head_dim and optional QK-norm (checkpoint format 2,
            format 1 still loads), for imported LLaMA-family and Qwen3
            models.
     0.3  the caller chooses the context: attnres_state_init_ctx, and
          attnres_state_bytes to ask its cost first; attnres_escape (every
          error message is escaped); RMS norms that do not overflow for
          finite input; sampling that is right at any temperature > 0.
     0.2  two-phase inference (Algorithm 1) selectable at run time,
          attnres_prefill, traffic counters, the kernel hook.
     0.1  first release: standard / Full / Block AttnRes, KV-cache, GQA,
          safetensors loading, greedy / temperature / top-p sampling.

   LICENSE: see the end of the file.
*/
#ifndef ATTNRES_H
#define ATTNRES_H

/* The header's version, in step with VERSION HISTORY above. */
#define ATTNRES_VERSION_MAJOR  0
#define ATTNRES_VERSION_MINOR  7
#define ATTNRES_VERSION_PATCH  0
#define ATTNRES_VERSION_STRING "0.7.0"

#include <stddef.h>
#include <stdint.h>

#ifdef ATTNRES_STATIC
#if defined(__GNUC__)   /* a private copy need not use every function: no warnings for that */
#define ATTNRESDEF static __attribute__((unused))
#else
#define ATTNRESDEF static
#endif
#elif defined(__cplusplus)
#define ATTNRESDEF extern "C"
#else
#define ATTNRESDEF extern
#endif

/* ======================================================================== */
/* Errors                                                                    */
/* ======================================================================== */

typedef enum {
    ATTNRES_OK = 0,
    ATTNRES_ERR_IO,        /* a file could not be opened or read            */
    ATTNRES_ERR_FORMAT,    /* a file is malformed, truncated or lies        */
    ATTNRES_ERR_DTYPE,     /* a tensor has a dtype this library cannot use  */
    ATTNRES_ERR_SHAPE,     /* a tensor's shape disagrees with the config    */
    ATTNRES_ERR_MISSING,   /* a required tensor or setting is absent        */
    ATTNRES_ERR_CONFIG,    /* the model configuration is invalid            */
    ATTNRES_ERR_RANGE,     /* a token, position or argument is out of range */
    ATTNRES_ERR_NOMEM      /* an allocation failed                          */
} attnres_status;

/* Every fallible call takes an attnres_error* (which may be NULL) and
   returns a status; on failure err->message says what went wrong. */
typedef struct {
    int  code;          /* an attnres_status */
    char message[256];
} attnres_error;

ATTNRESDEF const char *attnres_status_name(int code);

/* Copies src into dst[size] (always NUL-terminated, cut to fit) with every
   byte a terminal could act on written as \xNN: C0 controls, DEL, the C1
   controls U+0080..U+009F in UTF-8, and bytes that are not valid UTF-8.
   Printable ASCII and valid UTF-8 text pass unchanged. Every error message
   goes through it, so a name or value quoted from a file cannot move the
   cursor, retitle the terminal or fake a line of output. */
ATTNRESDEF void attnres_escape(char *dst, size_t size, const char *src);

/* ======================================================================== */
/* Config, weights and model                                                 */
/* ======================================================================== */

typedef enum {
    ATTNRES_RESIDUAL_STANDARD = 0,  /* h <- h + f(h)                          */
    ATTNRES_RESIDUAL_ATTNRES  = 1   /* Block AttnRes (block_size 1 = Full)    */
} attnres_residual;

/* The most end-of-sequence ids a config holds (Llama 3.1 Instruct names 3). */
#define ATTNRES_MAX_EOS 8

/* RoPE frequency scaling, as Hugging Face's config.json names it
   (rope_scaling or rope_parameters: "rope_type"). It changes the angle per
   position of each pair, never the rotation itself (attnres_rope_freq). */
typedef enum {
    ATTNRES_ROPE_PLAIN  = 0,  /* theta^(-2i/head_dim), unscaled                */
    ATTNRES_ROPE_LINEAR = 1,  /* every frequency / factor: positions / factor  */
    ATTNRES_ROPE_LLAMA3 = 2   /* Llama 3.1+: long wavelengths / factor, short
                                 ones kept, a smooth blend in between         */
} attnres_rope_type;

typedef struct {
    int   type;              /* an attnres_rope_type; 0 (zeroed): no scaling */
    float factor;            /* linear, llama3: how much longer the context  */
    float low_freq_factor;   /* llama3: wavelengths above original/low are
                                divided by factor                           */
    float high_freq_factor;  /* llama3: wavelengths below original/high are
                                kept; between the two, a blend              */
    int   original_context;  /* llama3: original_max_position_embeddings     */
} attnres_rope_scaling;

typedef struct {
    int   dim;            /* model width d                                  */
    int   hidden_dim;     /* SwiGLU hidden width                            */
    int   n_layers;       /* transformer layers; L = 2*n_layers sublayers   */
    int   n_heads;        /* query heads                                    */
    int   n_kv_heads;     /* key/value heads (< n_heads: grouped-query)     */
    int   vocab_size;
    int   seq_len;        /* maximum context, in tokens                     */
    float rope_theta;     /* RoPE base, e.g. 10000                          */
    float norm_eps;       /* eps of every RMSNorm, key norms included       */
    int   tie_embeddings; /* 1: the output projection is tok_embeddings     */
    int   residual;       /* an attnres_residual                            */
    int   block_size;     /* S, in sublayers (attnres); 0 for standard      */
    int   head_dim;       /* width of a head; 0: dim / n_heads (Qwen3: not) */
    int   qk_norm;        /* 1: RMSNorm each q and k head before RoPE       */
    attnres_rope_scaling rope_scaling;   /* zeroed: plain RoPE              */
    int   n_eos;          /* how many end-of-sequence ids the model names   */
    int   eos_token_id[ATTNRES_MAX_EOS];  /* [n_eos]: generation stops at any
                             of them (a chat model ends a turn with one)     */
} attnres_config;

/* Derived sizes, named once so no function recomputes them differently. */
ATTNRESDEF int attnres_n_sublayers(const attnres_config *c); /* L = 2*n_layers          */
ATTNRESDEF int attnres_n_blocks(const attnres_config *c);    /* N = ceil(L/S); 0 std    */
ATTNRESDEF int attnres_head_dim(const attnres_config *c);    /* head_dim or dim/n_heads */
ATTNRESDEF int attnres_kv_dim(const attnres_config *c);      /* n_kv_heads * head_dim   */

/* Checks every field; returns ATTNRES_ERR_CONFIG naming the first bad one. */
ATTNRESDEF int attnres_config_validate(const attnres_config *c, attnres_error *err);

/* Pointers into one allocation owned by attnres_model. L = 2*n_layers. */
typedef struct {
    float *tok_embeddings;  /* [vocab_size, dim]                             */
    float *attention_norm;  /* [n_layers, dim]                               */
    float *wq;              /* [n_layers, n_heads*head_dim, dim]             */
    float *wk;              /* [n_layers, kv_dim, dim]                       */
    float *wv;              /* [n_layers, kv_dim, dim]                       */
    float *wo;              /* [n_layers, dim, n_heads*head_dim]             */
    float *ffn_norm;        /* [n_layers, dim]                               */
    float *w1;              /* [n_layers, hidden_dim, dim]   gate            */
    float *w2;              /* [n_layers, dim, hidden_dim]   down            */
    float *w3;              /* [n_layers, hidden_dim, dim]   up              */
    float *pseudo_query;    /* [L+1, dim]  row L: output; NULL for standard  */
    float *key_norm;        /* [L+1, dim]  key RMSNorm gains; NULL for std   */
    float *norm;            /* [dim]       final RMSNorm gain                */
    float *q_norm;          /* [n_layers, head_dim]  QK-norm gains; NULL     */
    float *k_norm;          /* [n_layers, head_dim]  without qk_norm         */
    float *output;          /* [vocab_size, dim]  == tok_embeddings if tied  */
} attnres_weights;

/* One matrix (or a stack of them, layer after layer) in group-wise
   symmetric int8: each row of cols weights is cut into groups of G
   consecutive weights, and a group is stored as int8 values q in
   [-127, 127] and one fp32 scale s, standing for the weights s * q.
     q     [rows, cols]     the same layout as the fp32 matrix
     scale [rows, cols/G]   scale of group g of row r at [r * cols/G + g] */
typedef struct {
    int8_t *q;
    float  *scale;
} attnres_q8;

/* The int8 copies of every matrix a matvec reads. In a quantized model
   (group_size > 0) these replace the fp32 matrices of attnres_weights,
   which are then NULL; embeddings, norm gains and AttnRes vectors stay
   fp32. output is the output projection: the int8 copy of tok_embeddings
   when the embeddings are tied (the lookup still reads the fp32 rows). */
typedef struct {
    int group_size;        /* G, weights per scale; 0: not quantized (fp32) */
    int int8_activations;  /* 0 (W8): every matvec input x stays fp32.
                              1 (W8A8): x too is quantized, by the same rule
                              and groups, before each matvec, and the products
                              are int8 x int8 (as llama2.c's runq.c does): a
                              second rounding, for faster arithmetic. Set it
                              before or after attnres_model_quantize (which
                              keeps it), or a checkpoint with "activations":
                              "int8" sets it; on an fp32 model attnres_forward
                              refuses it. */
    attnres_q8 wq, wk, wv, wo, w1, w2, w3, output;   /* shapes as in attnres_weights */
} attnres_q8_weights;

typedef struct {
    attnres_config  config;
    attnres_weights weights;
    attnres_q8_weights q8;     /* int8 matrices; q8.group_size 0: fp32 model */
    float          *memory;    /* the single allocation behind weights and q8:
                                  n_floats floats (weights, then q8 scales),
                                  then n_int8 int8 values                  */
    size_t          n_floats;
    size_t          n_int8;    /* 0 unless quantized                       */
} attnres_model;

/* Allocates zeroed weights for a valid config (fill them yourself). Like
   every allocation here, weights past ATTNRES_SIZE_MAX bytes are refused
   (ATTNRES_ERR_NOMEM) before anything is allocated. */
ATTNRESDEF int  attnres_model_init(attnres_model *m, const attnres_config *c, attnres_error *err);
/* Reads a .safetensors checkpoint (F32 tensors, config in __metadata__).
   Like every init function here, it fills *m from scratch: m must not hold
   a live model (call attnres_model_free first, or the old weights leak).
   A zeroed or freed struct is fine; on failure *m is left zeroed. */
ATTNRESDEF int  attnres_model_load(attnres_model *m, const char *path, attnres_error *err);
/* The same from a checkpoint already in memory (embedded, downloaded):
   bytes[n_bytes] are copied while loading and not kept. */
ATTNRESDEF int  attnres_model_load_memory(attnres_model *m, const void *bytes, size_t n_bytes,
                                          attnres_error *err);
ATTNRESDEF void attnres_model_free(attnres_model *m);
/* Replaces the fp32 matrices of a loaded (or initialised) fp32 model by
   group-wise int8 with group_size weights per scale (32 is a good choice;
   it must divide dim, n_heads*head_dim and hidden_dim). The model moves to
   a new, smaller allocation; on failure (a bad group size, a non-finite
   weight, no memory, an already quantized model) it is left as it was. */
ATTNRESDEF int  attnres_model_quantize(attnres_model *m, int group_size, attnres_error *err);

/* ======================================================================== */
/* Run state: activations, KV-cache, block state, inspection buffers        */
/* ======================================================================== */

/* The AttnRes block state of one token: completed blocks plus the partial
   sum of the block being built. The partial lives in the row just after the
   completed blocks, so the sources of the next sublayer are always the
   contiguous rows blocks[0 .. n_sources-1]. */
typedef struct {
    float *blocks;       /* [N+1, dim]  b0 .. b_N; row n_completed = partial */
    float *inv_rms;      /* [N+1]  1/rms of each completed block (two-phase) */
    int    n_completed;  /* completed blocks, b0 included                    */
    int    n_partial;    /* sublayer outputs summed into the partial so far  */
    int    block_size;   /* S                                                */
    int    max_blocks;   /* N+1 rows                                         */
    int    dim;
} attnres_block_state;

/* How attnres_forward computes the depth attention of Block AttnRes. Both
   give the same result (tested); they differ in how often the completed
   blocks are read. Standard residuals ignore it. */
typedef enum {
    ATTNRES_PATH_DIRECT    = 0,  /* every sublayer: softmax over all its sources     */
    ATTNRES_PATH_TWO_PHASE = 1   /* the paper's Algorithm 1: per block, one batched
                                    pass over the completed blocks (phase 1), then an
                                    online-softmax merge with the partial (phase 2)  */
} attnres_path;


typedef struct {
    int    path;        /* an attnres_path; attnres_state_init sets DIRECT   */
    /* activations of the current token */
    float *x;           /* [dim]  residual stream (standard) or h (attnres)  */
    float *xb;          /* [dim]  RMSNorm(h), the sublayer's normed input    */
    float *xb2;         /* [dim]  attention output before wo                 */
    float *f;           /* [dim]  the sublayer output f_l(h)                 */
    float *q;           /* [n_heads*head_dim]                                */
    float *att;         /* [n_heads, n_ctx]  attention scores / weights      */
    float *hb;          /* [hidden_dim]  SwiGLU gate                         */
    float *hb2;         /* [hidden_dim]  SwiGLU up                           */
    float *logits;      /* [vocab_size]                                      */
    int8_t *xq;         /* [max_cols]  a matvec's input x in int8 (W8A8 only),
                           max_cols = max(dim, n_heads*head_dim, hidden_dim) */
    float  *xq_scale;   /* [max_cols]  its scales, one per group             */
    /* KV-cache: position t of layer l lives at [(l*n_ctx + t)*kv_dim] */
    float *key_cache;   /* [n_layers, n_ctx, kv_dim]  k after RoPE           */
    float *value_cache; /* [n_layers, n_ctx, kv_dim]                         */
    int    n_ctx;       /* positions the cache can hold, <= config.seq_len   */
    int    cache_len;   /* positions held: pos+1 after attnres_forward(pos)  */
    /* AttnRes */
    attnres_block_state bs;
    /* inspection: what the last attnres_forward saw, for tests and lessons */
    float *sublayer_input; /* [L, dim]    h_l, the input of every sublayer  */
    float *alpha;          /* [L+1, N+1]  depth weights, row L = output     */
    int   *alpha_count;    /* [L+1]       sources in each row of alpha      */
    /* two-phase path: phase-1 results of every block n = 1..N (row n-1)
       and of the output aggregation (row N, one query) */
    float *phase1_o;       /* [N+1, S, dim]  sum_j exp(s_ij - max_i) b_j    */
    float *phase1_max;     /* [N+1, S]       max_i = max_j s_ij             */
    float *phase1_sum;     /* [N+1, S]       sum_j exp(s_ij - max_i)        */
    float *phase1_logits;  /* [S, N+1]       s_ij of the current block      */
    float *phase1_folded;  /* [S, dim]       pseudo_query * key_norm of its
                                             queries, made from the weights */
    /* attnres_prefill: a chunk of C = chunk_len prompt positions through
       each sublayer at once (fp32 models) */
    int    chunk_len;      /* ATTNRES_PREFILL_CHUNK, or fewer for a model
                              whose weights are small next to its activations */
    float *chunk_h;        /* [C, dim]        h of each position (standard:
                                              its residual stream)          */
    float *chunk_xn;       /* [C, dim]        RMSNorm(h)                    */
    float *chunk_q;        /* [C, n_heads*head_dim]                         */
    float *chunk_att_out;  /* [C, n_heads*head_dim]  heads, before wo       */
    float *chunk_f;        /* [C, dim]        sublayer outputs              */
    float *chunk_hb;       /* [C, hidden_dim] SwiGLU gate                   */
    float *chunk_hb2;      /* [C, hidden_dim] SwiGLU up                     */
    float *chunk_blocks;   /* [C, N+1, dim]   AttnRes: each position's
                                              blocks and partial sum        */
    /* bookkeeping */
    attnres_config config;
    float *memory;         /* the single float allocation                   */
} attnres_state;

/* A state for a context of n_ctx positions (1 <= n_ctx <= seq_len): the
   KV-cache, the largest part, grows with n_ctx, so a caller that needs 300
   positions of a model trained at seq_len 2^20 asks for 300 and gets
   kilobytes, not gigabytes. attnres_state_init is the same with n_ctx =
   seq_len, the whole context the model was made for.
   s must not hold a live state (free it first): init overwrites it. */
ATTNRESDEF int  attnres_state_init_ctx(attnres_state *s, const attnres_config *c, int n_ctx,
                                       attnres_error *err);
ATTNRESDEF int  attnres_state_init(attnres_state *s, const attnres_config *c, attnres_error *err);
/* The bytes attnres_state_init_ctx would allocate, asked before allocating
   (the activations of one token, of a prefill chunk of ATTNRES_PREFILL_CHUNK
   positions, and the KV-cache of n_ctx):
   0 if the config is invalid, n_ctx is outside [1, seq_len], or the state
   is more than one allocation can hold (ATTNRES_SIZE_MAX; 4 GiB where
   size_t has 32 bits, as in WebAssembly), which init refuses the same way. */
ATTNRESDEF size_t attnres_state_bytes(const attnres_config *c, int n_ctx);
ATTNRESDEF void attnres_state_reset(attnres_state *s); /* empties the KV-cache */
ATTNRESDEF void attnres_state_free(attnres_state *s);

/* ======================================================================== */
/* Forward pass                                                              */
/* ======================================================================== */

/* Runs one token at position pos (0 <= pos <= cache_len, pos < n_ctx;
   pos < cache_len rewinds the cache) and returns the logits [vocab_size],
   or NULL with err filled. Never allocates. */
ATTNRESDEF float *attnres_forward(const attnres_model *m, attnres_state *s,
                                  int token, int pos, attnres_error *err);

/* Runs a whole prompt: tokens[0..n_tokens) at positions cache_len,
   cache_len+1, ... and returns the logits after the last one (the logits
   of the earlier positions are not computed). An fp32 model on the direct
   path (or with standard residuals) runs up to s->chunk_len
   (ATTNRES_PREFILL_CHUNK) positions through each sublayer at once, its weights multiplying all of
   them in one matrix-matrix product; its logits equal token-by-token
   attnres_forward (bit for bit in the scalar build, within 1e-5 relative
   with the kernel file). A quantized model, or the two-phase path, runs
   one attnres_forward per token. The prompt is checked first: if it does
   not fit in the context, or a token is out of range, nothing runs. A
   position whose hidden state overflows float is an error, as in
   attnres_forward. Never allocates. */
ATTNRESDEF float *attnres_prefill(const attnres_model *m, attnres_state *s,
                                  const int *tokens, int n_tokens, attnres_error *err);

/* Memory traffic of the residual path: how many dim-sized vectors one
   token's forward pass reads and writes to make the input h of every
   sublayer and to store its output f (not the sublayers' own weights and
   activations), summed over the L sublayers and, apart, for the output
   aggregation (zero for standard residuals). A function of the config and
   the path only; lesson "two-phase" prints the table. */
typedef struct { long reads, writes; } attnres_io;
ATTNRESDEF int attnres_traffic(const attnres_config *c, int path, attnres_io *sublayers,
                               attnres_io *output, attnres_error *err);

/* ======================================================================== */
/* Sampling                                                                  */
/* ======================================================================== */

typedef struct { float prob; int index; } attnres_prob_index;

typedef struct {
    int    vocab_size;
    float  temperature;   /* 0: greedy                                    */
    float  topp;          /* in (0,1): nucleus sampling; otherwise off    */
    uint64_t rng_state;   /* xorshift64*, never 0                         */
    attnres_prob_index *candidates; /* [vocab_size] scratch for top-p     */
    int    n_sorted;      /* inspection: candidates the last top-p draw
                             sorted (those past the cutoff, not the vocab) */
} attnres_sampler;

ATTNRESDEF int   attnres_sampler_init(attnres_sampler *s, int vocab_size, float temperature,
                                      float topp, uint64_t seed, attnres_error *err);
ATTNRESDEF void  attnres_sampler_free(attnres_sampler *s);
/* Picks the next token from finite logits [vocab_size]; unless greedy it
   replaces them IN PLACE by softmax(logits / temperature). Right for every
   temperature > 0 the sampler accepts: a tiny one samples the argmax. */
ATTNRESDEF int   attnres_sample(attnres_sampler *s, float *logits);
ATTNRESDEF int   attnres_argmax(const float *x, int n);   /* ties -> lowest id */
ATTNRESDEF uint32_t attnres_random_u32(uint64_t *state);
ATTNRESDEF float    attnres_random_f32(uint64_t *state);  /* in [0, 1) */

/* ======================================================================== */
/* Training: a whole sequence forward, and the backward of the model         */
/* ======================================================================== */
/* Not yet part of the stable API. An fp32 model only. docs/training.md.

   attnres_train_state ts;
   attnres_train_state_init(&ts, &model, T, &err);     // once: all memory
   attnres_train_zero_grad(&ts);
   attnres_train_forward(&model, &ts, tokens, targets, T, &loss, &err);
   attnres_train_backward(&model, &ts, &err);           // ts.grad += dloss/dweights
   attnres_train_state_free(&ts);

   The forward runs the T positions sublayer by sublayer (every weight
   matrix meets all T inputs in one loop) and keeps what the backward
   needs; loss is the mean cross-entropy of the logits against targets. */
typedef struct {
    int n_tokens;       /* T: the longest sequence this state holds         */
    int T;              /* positions of the last forward; 0: none saved      */
    int has_targets;    /* the last forward had targets (a loss to differentiate) */
    /* saved by the forward (l: sublayer, L of them; N+1 block rows)        */
    int   *tokens;      /* [T]                                               */
    int   *targets;     /* [T]                                               */
    float *h;           /* [T, L, dim]  the input of every sublayer          */
    float *partial_in;  /* [T, L, dim]  AttnRes: the partial it read          */
    float *blocks;      /* [T, N+1, dim] AttnRes: b0 .. b_N (standard: none)  */
    float *alpha;       /* [T, L+1, N+1] AttnRes: depth weights, row L output */
    float *out_h;       /* [T, dim]  the input of the final norm              */
    float *q_pre;       /* [n_layers, T, n_heads*head_dim]  q before QK-norm  */
    float *k_pre;       /* [n_layers, T, kv_dim]            (qk_norm only)    */
    float *q;           /* [n_layers, T, n_heads*head_dim]  q after RoPE      */
    float *k;           /* [n_layers, T, kv_dim]  k after RoPE: the KV-cache  */
    float *v;           /* [n_layers, T, kv_dim]                              */
    float *att;         /* [n_layers, T, n_heads, T]  attention weights        */
    float *att_out;     /* [n_layers, T, n_heads*head_dim]  heads, before wo  */
    float *logits;      /* [T, vocab_size]                                    */
    /* the gradients: the model's weight layout (tied: output == tok_embeddings) */
    attnres_weights grad;
    /* the paper's "gradient dilution with depth", read after a backward:
       ||dloss/df_l||, the L2 norm over the T positions and dim of the
       gradient reaching sublayer l's OUTPUT f_l (loss: that forward's mean
       cross-entropy). Each backward overwrites it; zero before the first. */
    float *df_norm;     /* [L]                                               */
    /* scratch of the forward and the backward */
    float *f;           /* [T, dim]  sublayer outputs                         */
    float *df;          /* [T, dim]                                           */
    float *dh;          /* [T, dim]                                           */
    float *dblocks;     /* [T, N+1, dim]  d(blocks and partials); standard:
                           [T, dim], the residual stream's gradient           */
    float *dq;          /* [T, n_heads*head_dim]                              */
    float *dk, *dv;     /* [T, kv_dim]                                        */
    float *datt_out;    /* [T, n_heads*head_dim]                              */
    float *dpre;        /* [n_heads*head_dim]  QK-norm's input gradient       */
    float *xn;          /* [T, dim]  RMSNorm(h) of every position             */
    float *dxn;         /* [T, dim]                                           */
    float *hb, *hb2;    /* [T, hidden_dim]  SwiGLU gate and up                */
    float *u, *du;      /* [T, hidden_dim]  SwiGLU's silu(gate) * up, and its gradient */
    float *dlogits;     /* [T, vocab_size]                                    */
    attnres_config config;
    float *memory;      /* the single allocation                              */
    size_t n_floats;
} attnres_train_state;

/* The bytes attnres_train_state_init would allocate for n_tokens
   positions of this model (0 if invalid), asked before allocating. */
ATTNRESDEF size_t attnres_train_state_bytes(const attnres_config *c, int n_tokens);
ATTNRESDEF int    attnres_train_state_init(attnres_train_state *ts, const attnres_model *m, int n_tokens,
                                           attnres_error *err);
ATTNRESDEF void   attnres_train_state_free(attnres_train_state *ts);
ATTNRESDEF void   attnres_train_zero_grad(attnres_train_state *ts);
/* tokens, targets [T] (targets NULL: logits only, no loss); *loss = the mean
   cross-entropy. Never allocates. */
ATTNRESDEF int    attnres_train_forward(const attnres_model *m, attnres_train_state *ts,
                                        const int *tokens, const int *targets, int T, float *loss,
                                        attnres_error *err);
/* Adds d(mean cross-entropy)/d(every weight) into ts->grad and sets
   ts->df_norm. Uses up what the forward saved: call the forward again
   before the next backward. */
ATTNRESDEF int    attnres_train_backward(const attnres_model *m, attnres_train_state *ts, attnres_error *err);

/* ======================================================================== */
/* Training: AdamW, the learning-rate schedule, clipping, windows, saving    */
/* ======================================================================== */
/* What tools/train.py does around the backward, as plain loops: the
   gradient of a batch is the mean of its windows' gradients
   (attnres_grad_scale by 1/B), clipped at global norm 1
   (attnres_grad_clip), then one AdamW step (attnres_adamw_step) at the
   rate attnres_lr_at gives. None of them allocates. docs/training.md. */

/* torch.optim.AdamW with train.py's settings: betas (0.9, 0.95), eps 1e-8,
   decoupled weight decay on the matrices only (embeddings, wq wk wv wo,
   w1 w2 w3, an untied output), never on norm gains or pseudo-queries. */
typedef struct {
    double beta1, beta2, eps, weight_decay;  /* init sets 0.9, 0.95, 1e-8, its argument */
    int    step;              /* updates made so far (bias corrections use it) */
    attnres_weights m, v;     /* first and second moments, the model's layout  */
    attnres_config config;
    float *memory;            /* the single allocation: m, then v              */
    size_t n_floats;          /* floats of one of them: the model's weights    */
} attnres_adamw;

ATTNRESDEF int    attnres_adamw_init(attnres_adamw *opt, const attnres_model *m, double weight_decay,
                                     attnres_error *err);
ATTNRESDEF void   attnres_adamw_free(attnres_adamw *opt);
/* One update of every weight of m from grad (the model's layout, e.g.
   &ts->grad) at learning rate lr; refuses another model or a quantized one. */
ATTNRESDEF int    attnres_adamw_step(attnres_adamw *opt, attnres_model *m, const attnres_weights *grad, double lr,
                                     attnres_error *err);
/* train.py's lr_at: linear warmup over `warmup` steps (step 0 gets
   lr/warmup), then cosine from lr down to lr/10 at the last step. */
ATTNRESDEF double attnres_lr_at(int step, int steps, double lr, int warmup);
/* The state's gradients: scaled, their global L2 norm (over every weight,
   a tied embedding once), and clipped as torch.nn.utils.clip_grad_norm_:
   multiplied by min(1, max_norm / (norm + 1e-6)); returns the norm before. */
ATTNRESDEF void   attnres_grad_scale(attnres_train_state *ts, float scale);
ATTNRESDEF double attnres_grad_norm(const attnres_train_state *ts);
ATTNRESDEF double attnres_grad_clip(attnres_train_state *ts, double max_norm);
/* One step of tools/train.py's loop on a batch of B windows, tokens and
   targets [B, T] (row b: window b): zero the gradients, forward and
   backward of every window, their mean (1/B), clip at global norm 1, one
   AdamW step at lr. *loss = the batch's mean cross-entropy, *grad_norm =
   the norm before clipping. A non-finite loss, logit or gradient is
   refused (ATTNRES_ERR_RANGE) before any weight changes. Never allocates. */
ATTNRESDEF int    attnres_train_step(attnres_model *m, attnres_train_state *ts, attnres_adamw *opt,
                                     const int *tokens, const int *targets, int B, int T, double lr,
                                     float *loss, double *grad_norm, attnres_error *err);
/* A window of a byte-level text [n_text], as train.py draws one: start
   uniform in [0, n_text - T - 1), tokens = text[start .. start+T),
   targets = text[start+1 .. start+T+1). The draw: a 64-bit number from two
   attnres_random_u32 (high word first), reduced by rejection so every start
   is equally likely. Refuses (ATTNRES_ERR_RANGE) a text of fewer than T + 2
   bytes, which has no window. */
ATTNRESDEF int    attnres_train_window(int *tokens, int *targets, const unsigned char *text, size_t n_text, int T,
                                       uint64_t *rng, attnres_error *err);
/* A checkpoint of an fp32 model in memory, as tools/reference.py writes
   it (docs/format.md; the same bytes for the same weights): its size, then
   the bytes into dst[size]. Writing it to disk is the caller's. */
ATTNRESDEF size_t attnres_checkpoint_bytes(const attnres_model *m);
ATTNRESDEF int    attnres_checkpoint_write(void *dst, size_t size, const attnres_model *m, attnres_error *err);

/* ======================================================================== */
/* Building blocks: what the forward pass is made of (for lessons, tests)  */
/* ======================================================================== */
/* BACKWARD. After a block comes its backward (llm.c's pairs): given dout,
   the gradient of a scalar loss with respect to the block's output, and
   the values its forward read, it ADDS the gradients with respect to its
   inputs and weights into the d* buffers (zero them before the first
   call): a weight used at many positions, or a source read by many
   sublayers, sums its gradient over them. Each has the shapes of its
   forward; where a comment says so, a d* may be NULL when that gradient is
   not wanted. They never allocate; docs/training.md has the equations. */

ATTNRESDEF float attnres_dot(const float *a, const float *b, int n);
ATTNRESDEF void  attnres_axpy(float *y, float a, const float *x, int n);        /* y += a x */
ATTNRESDEF void  attnres_matvec(float *out, const float *w, const float *x, int rows, int cols);
/* out [T, rows] = x [T, cols] W^T, w [rows, cols]: attnres_matvec of each of T inputs
   (a sequence's positions, one row of x each) against the same W */
ATTNRESDEF void  attnres_matmul(float *out, const float *x, const float *w, int T, int rows, int cols);
/* dx [cols] += W^T dout,  dw [rows, cols] += dout x^T;  dout [rows]; either d* may be NULL */
ATTNRESDEF void  attnres_matvec_backward(float *dx, float *dw, const float *dout, const float *w,
                                         const float *x, int rows, int cols);
/* The same for T positions against the same W, attnres_matvec_backward of each:
   dx [T, cols] += dout [T, rows] W,  dw [rows, cols] += dout^T x;  x [T, cols] */
ATTNRESDEF void  attnres_matmul_backward(float *dx, float *dw, const float *dout, const float *w,
                                         const float *x, int T, int rows, int cols);
/* The embedding lookup x = table[token]: dtable [vocab, dim] row token += dout [dim].
   Tied embeddings: the output projection's dw is the same table. */
ATTNRESDEF void  attnres_embedding_backward(float *dtable, const float *dout, int token, int dim);
/* Group-wise int8 (see attnres_q8): quantize w [rows, cols] with groups
   of group_size (which must divide cols) into q [rows, cols] and scale
   [rows, cols/group_size]; dequantize back to w; and the matvec on the
   int8 form, out[rows] = (scale * q) x, x staying fp32. */
ATTNRESDEF void  attnres_quantize_q8(int8_t *q, float *scale, const float *w, int rows, int cols,
                                     int group_size);
ATTNRESDEF void  attnres_dequantize_q8(float *w, const int8_t *q, const float *scale, int rows, int cols,
                                       int group_size);
ATTNRESDEF void  attnres_matvec_q8(float *out, const int8_t *q, const float *scale, const float *x,
                                   int rows, int cols, int group_size);
/* The same with x in int8 too (W8A8): xq [cols] and xscale [cols/group_size]
   from attnres_quantize_q8(xq, xscale, x, 1, cols, group_size). */
ATTNRESDEF void  attnres_matvec_w8a8(float *out, const int8_t *q, const float *scale,
                                     const int8_t *xq, const float *xscale, int rows, int cols,
                                     int group_size);
ATTNRESDEF void  attnres_rmsnorm(float *out, const float *x, const float *gain, int n, float eps);
/* dx [n] += dL/dx, dgain [n] += dL/dgain of out = RMSNorm(x; gain); dout [n];
   either d* may be NULL */
ATTNRESDEF void  attnres_rmsnorm_backward(float *dx, float *dgain, const float *dout, const float *x,
                                          const float *gain, int n, float eps);
ATTNRESDEF void  attnres_softmax(float *x, int n);                              /* in place */
/* Cross-entropy of one position: -log softmax(logits [n])[target], and its
   backward dlogits [n] += scale * (softmax(logits) - onehot(target))
   (scale = 1/T for the mean over T positions). */
ATTNRESDEF float attnres_cross_entropy(const float *logits, int target, int n);
ATTNRESDEF void  attnres_cross_entropy_backward(float *dlogits, const float *logits, int target, int n,
                                                float scale);
/* RoPE's angle per position for pair i (0 <= i < head_dim/2) of a head:
   theta^(-2i/head_dim), rescaled as scaling says (NULL: plain). */
ATTNRESDEF double attnres_rope_freq(int i, int head_dim, float theta, const attnres_rope_scaling *scaling);
/* Rotates x [n] (n/head_dim heads) in place for position pos: pair i of
   every head by pos * attnres_rope_freq(i, ...). scaling may be NULL. */
ATTNRESDEF void  attnres_rope(float *x, int n, int head_dim, int pos, float theta,
                              const attnres_rope_scaling *scaling);
/* RoPE's transpose, in place on dx [n]: the rotation by -pos. */
ATTNRESDEF void  attnres_rope_backward(float *dx, int n, int head_dim, int pos, float theta,
                                       const attnres_rope_scaling *scaling);
ATTNRESDEF void  attnres_swiglu_mlp(float *out, const float *x,
                                    const float *w1, const float *w2, const float *w3,
                                    float *hb, float *hb2, int dim, int hidden_dim);
/* dx [dim], dw1, dw3 [hidden_dim, dim], dw2 [dim, hidden_dim] += the
   gradients of out = w2 (silu(w1 x) * (w3 x)); dout [dim]. hb, hb2
   [hidden_dim] are scratch (the forward's products are recomputed in them).
   Any of the d* may be NULL. */
ATTNRESDEF void  attnres_swiglu_mlp_backward(float *dx, float *dw1, float *dw2, float *dw3,
                                             const float *dout, const float *x,
                                             const float *w1, const float *w2, const float *w3,
                                             float *hb, float *hb2, int dim, int hidden_dim);

/* Causal attention of every query head over the first n_pos positions of
   one layer's KV-cache (grouped-query: head hq reads kv head
   hq / (n_heads / n_kv_heads)), scaled by 1/sqrt(head_dim).
     out [n_heads*head_dim]   q [n_heads*head_dim]
     att [n_heads, seq_len]   scratch; row hq is left holding its weights
     key_cache, value_cache   [seq_len, kv_dim] of this layer, kv_dim = n_kv_heads*head_dim
   (seq_len here is the row count of att and of the cache: the state's n_ctx) */
ATTNRESDEF void  attnres_attend(float *out, float *att, const float *q,
                                const float *key_cache, const float *value_cache,
                                int n_pos, int n_heads, int n_kv_heads, int head_dim, int seq_len);
/* Its backward for the same query: att [n_heads, seq_len] holds the
   weights the forward left; dout, dq [n_heads*head_dim]; dkey_cache and
   dvalue_cache [seq_len, kv_dim] receive the gradients of the first n_pos
   positions (query heads that share a kv head add into the same rows). */
ATTNRESDEF void  attnres_attend_backward(float *dq, float *dkey_cache, float *dvalue_cache,
                                         const float *dout, const float *att, const float *q,
                                         const float *key_cache, const float *value_cache,
                                         int n_pos, int n_heads, int n_kv_heads, int head_dim, int seq_len);

/* The AttnRes operation: softmax over depth.
   out[dim] = sum_j alpha[j] sources[j], alpha = softmax_j(w . RMSNorm(sources[j]; g)).
   alpha [n_sources] is written for the caller to inspect. */
ATTNRESDEF void  attnres_depth_attention(float *out, float *alpha,
                                         const float *sources, int n_sources,
                                         const float *pseudo_query, const float *key_gain,
                                         int dim, float eps);
/* Its backward: alpha [n_sources] as the forward wrote it, dout [dim];
   dsources [n_sources, dim], dpseudo_query [dim], dkey_gain [dim] += the
   gradients (each may be NULL). A source reaches out twice, as a value
   and through its normed key: dsources holds both. */
ATTNRESDEF void  attnres_depth_attention_backward(float *dsources, float *dpseudo_query, float *dkey_gain,
                                                  const float *dout, const float *alpha,
                                                  const float *sources, int n_sources,
                                                  const float *pseudo_query, const float *key_gain,
                                                  int dim, float eps);

/* Two-phase Block AttnRes (the paper's Algorithm 1), the two halves.
   Phase 1, once per block: the n_queries folded pseudo-queries of the
   block's sublayers against its completed blocks b0..b_{n-1}, batched (two
   passes over those blocks: logits, then the weighted sums):
     folded  [n_queries, dim]   w_l * g_l of each sublayer of the block
     blocks  [n_blocks, dim]    the completed blocks
     inv_rms [n_blocks]         their 1/rms, cached when each completed
   out: logits [n_queries, n_blocks]  s_ij = inv_rms_j (folded_i . b_j)
        o      [n_queries, dim]       sum_j exp(s_ij - max_i) b_j  (unnormalised)
        max, sum [n_queries]          max_j s_ij,  sum_j exp(s_ij - max_i) */
ATTNRESDEF void  attnres_phase1(float *o, float *max, float *sum, float *logits,
                                const float *folded, int n_queries,
                                const float *blocks, const float *inv_rms, int n_blocks, int dim);
/* Phase 2, per sublayer: merge its phase-1 statistics (o [dim], max, sum,
   logits [n_blocks]) with the partial sum of the block (partial [dim], or
   NULL for the first sublayer of a block) by online softmax. h [dim] is the
   same mix as a direct softmax over [b0..b_{n-1}, partial]; alpha
   [n_blocks (+1 with a partial)] receives the weights, for inspection. */
ATTNRESDEF void  attnres_phase2(float *h, float *alpha, const float *o, float max, float sum,
                                const float *logits, int n_blocks,
                                const float *partial, const float *folded, int dim, float eps);

/* KERNEL HOOK. Built with -DATTNRES_KERNELS (make SIMD=1 or make CUDA=1),
   attnres_forward sends its hot loops to these functions, which the
   optional kernel file (attnres_kernels.c or .cu) defines. Each has exactly
   the signature and the meaning of the scalar function it replaces, so
   tests can run both on the same input. Without the flag nothing below is
   declared or called, and the scalar loops above are the whole story. */
#ifdef ATTNRES_KERNELS
/* Always external, even under ATTNRES_STATIC: the kernel file is another
   object file, and it defines them. */
#ifdef __cplusplus
#define ATTNRES_KERNELDEF extern "C"
#else
#define ATTNRES_KERNELDEF extern
#endif
ATTNRES_KERNELDEF void attnres_kernel_matvec(float *out, const float *w, const float *x, int rows, int cols);
ATTNRES_KERNELDEF void attnres_kernel_matmul(float *out, const float *x, const float *w, int T, int rows, int cols);
ATTNRES_KERNELDEF void attnres_kernel_matmul_backward(float *dx, float *dw, const float *dout, const float *w,
                                                      const float *x, int T, int rows, int cols);
ATTNRES_KERNELDEF void attnres_kernel_depth_attention_backward(float *dsources, float *dpseudo_query,
                                                               float *dkey_gain, const float *dout,
                                                               const float *alpha, const float *sources,
                                                               int n_sources, const float *pseudo_query,
                                                               const float *key_gain, int dim, float eps);
ATTNRES_KERNELDEF void attnres_kernel_matvec_q8(float *out, const int8_t *q, const float *scale, const float *x,
                                                int rows, int cols, int group_size);
ATTNRES_KERNELDEF void attnres_kernel_matvec_w8a8(float *out, const int8_t *q, const float *scale,
                                                  const int8_t *xq, const float *xscale, int rows, int cols,
                                                  int group_size);
ATTNRES_KERNELDEF void attnres_kernel_quantize_q8(int8_t *q, float *scale, const float *w, int rows, int cols,
                                                  int group_size);
ATTNRES_KERNELDEF void attnres_kernel_attend(float *out, float *att, const float *q,
                                             const float *key_cache, const float *value_cache,
                                             int n_pos, int n_heads, int n_kv_heads, int head_dim, int seq_len);
ATTNRES_KERNELDEF const char *attnres_kernel_name(void);   /* e.g. "avx2+fma, openmp x2 threads" */
#ifdef ATTNRES_CUDA
/* The CUDA kernel file (attnres_kernels.cu) runs a matvec on the GPU only
   for weights that were uploaded: call attnres_cuda_upload after loading
   (and again after changing weights by hand); matrices of a model that was
   not uploaded run on the host. Returns ATTNRES_OK, or an error (no GPU,
   out of device memory) after which everything runs on the host.
   attnres_cuda_release frees the device copy. attnres_cuda_device_count
   is 0 without a usable GPU, with the reason in why[why_size]. */
ATTNRES_KERNELDEF int  attnres_cuda_upload(const attnres_model *m, attnres_error *err);
ATTNRES_KERNELDEF void attnres_cuda_release(void);
ATTNRES_KERNELDEF int  attnres_cuda_device_count(char *why, int why_size);
#endif
#endif

/* Block state. reset: b0 = embedding, no partial. add: partial += f and
   close the block after S outputs. close: finish a short last block. */
ATTNRESDEF void attnres_block_reset(attnres_block_state *bs, const float *embedding);
ATTNRESDEF int  attnres_block_n_sources(const attnres_block_state *bs);
ATTNRESDEF void attnres_block_add(attnres_block_state *bs, const float *f);
ATTNRESDEF void attnres_block_close(attnres_block_state *bs);
/* Backward of the block state: sublayer l's output f was summed into block
   row attnres_block_row(l, S) = l/S + 1 (the partial, which becomes b_n
   unchanged), so df [dim] += dblocks [N+1, dim] row l/S + 1. Run the
   sublayers in reverse and let each depth-attention backward add into
   dblocks: that row then holds the gradient of every later reader of the
   partial and of the block. */
ATTNRESDEF int  attnres_block_row(int l, int block_size);
ATTNRESDEF void attnres_block_add_backward(float *df, const float *dblocks, int l, int block_size, int dim);

#endif /* ATTNRES_H */

/* ************************************************************************ */
/* ************************************************************************ */
/*                            IMPLEMENTATION                                */
/*                                                                          */
/* Part 1, the model, in the order the data flows:                         */
/*   primitives -> attention with the KV-cache -> AttnRes and the block     */
/*   state -> the forward pass -> two-phase inference -> sampling           */
/* Part 2, the machinery the model does not need to be understood: errors,  */
/*   config checks, memory, traffic accounting, checkpoint loading.         */
/* ************************************************************************ */
#ifdef ATTNRES_IMPLEMENTATION
#ifndef ATTNRES_IMPLEMENTATION_DONE
#define ATTNRES_IMPLEMENTATION_DONE

#include <errno.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(ATTNRES_MALLOC) && defined(ATTNRES_FREE)
/* ok: user-provided pair */
#elif !defined(ATTNRES_MALLOC) && !defined(ATTNRES_FREE)
#define ATTNRES_MALLOC(sz) malloc(sz)
#define ATTNRES_FREE(p)    free(p)
#else
#error "define both ATTNRES_MALLOC and ATTNRES_FREE, or neither"
#endif

#ifndef ATTNRES_ASSERT
#include <assert.h>
#define ATTNRES_ASSERT(x) assert(x)
#endif

/* The largest allocation, in bytes. Sizes are counted in 64 bits (the
   config's limits keep every count below 2^62) and compared with this
   before anything is allocated or indexed, so where size_t has 32 bits
   (WebAssembly, i386) a model or state past 4 GiB is refused rather than
   allocated at its size modulo 2^32. */
#ifndef ATTNRES_SIZE_MAX
#define ATTNRES_SIZE_MAX SIZE_MAX
#endif

/* attnres_prefill runs a prompt through each sublayer this many positions
   at a time: one read of the weights serves them all, and the state holds
   their activations (at dim 768, hidden 2048: 32 KB per position and 3 KB
   more per AttnRes block, so 64 positions cost 2-4 MB; the KV-cache of a
   1024-token context of 12 layers is 75 MB). A constant of the build, not
   of n_ctx, so a state's size stays the KV-cache's size plus a constant.
   Tests set it small to cross chunk boundaries inside short prompts. */
#ifndef ATTNRES_PREFILL_CHUNK
#define ATTNRES_PREFILL_CHUNK 64
#endif

/* Private helpers are static in every build; public ones follow ATTNRESDEF. */
#define ATTNRES__PRIVATE static

/* THE HOOKS, named once. The forward pass calls these names for its
   hot loops; with the kernel file built in (ATTNRES_KERNELS) they are its
   functions, otherwise the scalar ones below. Only these are hooked,
   because only they are worth it: per token, matvec touches every weight
   (over 99% of the arithmetic and of the bytes read; the int8 matvecs are
   the same loop for a quantized model), and attention grows with the
   context. The one more is W8A8's quantization of each matvec input
   (QUANTIZE_X): only dim-sized work, but it runs on one thread while the
   others wait, and as a scalar loop it took a tenth of a 110M W8A8 decode
   on two threads. Everything else (RMSNorm, RoPE, SwiGLU's activation,
   the depth softmax over at most L+1 sources of dim floats) is a few
   thousand operations per sublayer against dim^2 for one matvec: at the
   benchmark's 110M shape, under 0.5% of the work (docs/performance.md
   measures it). The training backward adds one: MATMUL_BACKWARD, the
   transposed products of every weight matrix over a sequence (dx = dout W,
   dw += dout^T x), the same arithmetic as the forward's matmuls twice
   over; and DEPTH_BACKWARD, the softmax over depth's backward, which Full
   AttnRes runs for every source of every sublayer (at L = 32, about 560
   per position: over a third of a step's time with scalar sums). */
#ifdef ATTNRES_KERNELS
#define ATTNRES__MATVEC      attnres_kernel_matvec
#define ATTNRES__MATMUL      attnres_kernel_matmul
#define ATTNRES__MATMUL_BACKWARD attnres_kernel_matmul_backward
#define ATTNRES__DEPTH_BACKWARD  attnres_kernel_depth_attention_backward
#define ATTNRES__MATVEC_Q8   attnres_kernel_matvec_q8
#define ATTNRES__MATVEC_W8A8 attnres_kernel_matvec_w8a8
#define ATTNRES__QUANTIZE_X  attnres_kernel_quantize_q8
#define ATTNRES__ATTEND      attnres_kernel_attend
#else
#define ATTNRES__MATVEC      attnres_matvec
#define ATTNRES__MATMUL      attnres_matmul
#define ATTNRES__MATMUL_BACKWARD attnres_matmul_backward
#define ATTNRES__DEPTH_BACKWARD  attnres_depth_attention_backward
#define ATTNRES__MATVEC_Q8   attnres_matvec_q8
#define ATTNRES__MATVEC_W8A8 attnres_matvec_w8a8
#define ATTNRES__QUANTIZE_X  attnres_quantize_q8
#define ATTNRES__ATTEND      attnres_attend
#endif

/* From part 2: every fallible function reports through these. */
ATTNRES__PRIVATE int attnres__fail(attnres_error *err, int code, const char *fmt, ...);
ATTNRES__PRIVATE int attnres__ok(attnres_error *err);

/* ======================================================================== */
/* 1. Primitives: dot, axpy, matvec, RMSNorm, softmax, RoPE, SwiGLU         */
/* ======================================================================== */

/* a[n] . b[n] */
ATTNRESDEF float attnres_dot(const float *a, const float *b, int n) {
    float sum = 0.0f;
    int i;
    for (i = 0; i < n; i++) sum += a[i] * b[i];
    return sum;
}

/* y[n] += a * x[n] */
ATTNRESDEF void attnres_axpy(float *y, float a, const float *x, int n) {
    int i;
    for (i = 0; i < n; i++) y[i] += a * x[i];
}

/* out[rows] = w[rows, cols] x[cols]; row-major, so row r is w + r*cols.
   This loop is where almost all the time of a forward pass goes. */
ATTNRESDEF void attnres_matvec(float *out, const float *w, const float *x, int rows, int cols) {
    int r;
    for (r = 0; r < rows; r++) out[r] = attnres_dot(w + (size_t)r * (size_t)cols, x, cols);
}

/* out[T, rows] = x[T, cols] W^T for w[rows, cols]: the matvec of T inputs
   against the same weights, row t of out = W (row t of x). Every output is
   the dot product attnres_matvec computes, in the same order, so a
   sequence run through matmul gives what T matvecs give, bit for bit. It
   is its own function because a fast version (the kernel file's) can read
   each weight once for many positions instead of once per position: a
   token's matvec is bound by reading W from memory, a matmul of 64
   positions by arithmetic. */
ATTNRESDEF void attnres_matmul(float *out, const float *x, const float *w, int T, int rows, int cols) {
    int t;
    for (t = 0; t < T; t++) attnres_matvec(out + (size_t)t * (size_t)rows, w, x + (size_t)t * (size_t)cols, rows, cols);
}

/* Backward of out = W x. Each weight w[r][c] met x[c] once, on its way to
   out[r]: dw[r][c] += dout[r] x[c]. Each x[c] fed every row r: dx[c] +=
   sum_r w[r][c] dout[r], W transposed. Accumulated (+=), so a matrix used
   at T positions ends with the sum of its T gradients.
     dx [cols] (or NULL)  dw [rows, cols] (or NULL)  dout [rows] */
ATTNRESDEF void attnres_matvec_backward(float *dx, float *dw, const float *dout, const float *w,
                                        const float *x, int rows, int cols) {
    int r;
    for (r = 0; r < rows; r++) {
        size_t row = (size_t)r * (size_t)cols;
        if (dw) attnres_axpy(dw + row, dout[r], x, cols);     /* dw[r] += dout[r] x   */
        if (dx) attnres_axpy(dx, dout[r], w + row, cols);     /* dx += dout[r] w[r]   */
    }
}

/* Backward of out = x W^T over T positions: attnres_matvec_backward of
   each position in turn, so every dw[r][c] sums its T products in order
   t = 0..T-1 and every dx[t][c] its rows in order r = 0..rows-1. The
   training backward calls it once per weight matrix and sublayer (the
   hook ATTNRES__MATMUL_BACKWARD): a fast version keeps a tile of dw (or
   of dx) in registers across all T positions (or all rows) instead of
   reading and writing it once per position.
     dx [T, cols] (or NULL)  dw [rows, cols] (or NULL)  dout [T, rows]  x [T, cols] */
ATTNRESDEF void attnres_matmul_backward(float *dx, float *dw, const float *dout, const float *w,
                                        const float *x, int T, int rows, int cols) {
    int t;
    for (t = 0; t < T; t++)
        attnres_matvec_backward(dx ? dx + (size_t)t * (size_t)cols : NULL, dw, dout + (size_t)t * (size_t)rows,
                                w, x + (size_t)t * (size_t)cols, rows, cols);
}

/* Backward of x = table[token]: only that row was read, so only it
   receives the gradient; a token seen twice gets both. dtable [vocab, dim] */
ATTNRESDEF void attnres_embedding_backward(float *dtable, const float *dout, int token, int dim) {
    attnres_axpy(dtable + (size_t)token * (size_t)dim, 1.0f, dout, dim);
}

/* ------------------------------------------------------------------------ */
/* Group-wise int8 weights (Q8): a quarter of the bytes for every matvec    */
/* ------------------------------------------------------------------------ */
/* Decoding one token reads every weight once, so its speed is set by how
   many bytes the matrices take. Stored as int8, a weight is one byte
   instead of four. One scale per matrix would let a single large weight
   crush all the small ones to 0, so each row is cut into groups of G
   consecutive weights (G = 32: every dim here is a multiple), each with
   its own scale, symmetric around 0:
       s = max_j |w_j| / 127        q_j = round(w_j / s)  in [-127, 127]
   and the group stands for the weights s * q_j. The largest weight of a
   group is kept exactly (up to one rounding of s); every other one moves
   by at most s/2. round() is half away from zero (C's roundf); the
   PyTorch reference uses the same rule, so both make the same bytes. An
   all-zero group (or one so tiny that s underflows to 0) stores s = 0, q = 0.
   The clamp to [-127, 127] acts only when s is subnormal (max|w| below
   1.5e-36): s then has few significant bits, and w/s can pass 127.5.
     w [rows, cols] -> q [rows, cols], scale [rows, cols/G] */
ATTNRESDEF void attnres_quantize_q8(int8_t *q, float *scale, const float *w, int rows, int cols,
                                    int group_size) {
    size_t n_groups = (size_t)rows * (size_t)(cols / group_size), g;
    int j;
    ATTNRES_ASSERT(group_size > 0 && cols % group_size == 0);
    for (g = 0; g < n_groups; g++) {   /* the groups of all rows, one after another */
        const float *wg = w + g * (size_t)group_size;   /* [G] */
        int8_t *qg = q + g * (size_t)group_size;        /* [G] */
        float max = 0.0f, s;
        for (j = 0; j < group_size; j++) {
            /* a NaN becomes the max and stays (nothing is > NaN): when w
               is an activation, a NaN or Inf must reach the output, not vanish */
            float a = fabsf(wg[j]);
            if (a > max || isnan(a)) max = a;
        }
        s = max / 127.0f;
        scale[g] = s;   /* NaN or Inf for a group holding one: the products are then NaN */
        for (j = 0; j < group_size; j++) {
            float r = s > 0.0f && s <= FLT_MAX ? roundf(wg[j] / s) : 0.0f;
            qg[j] = (int8_t)(r > 127.0f ? 127.0f : r < -127.0f ? -127.0f : r);
        }
    }
}

/* w [rows, cols] = scale * q, group by group: what the int8 form stands for. */
ATTNRESDEF void attnres_dequantize_q8(float *w, const int8_t *q, const float *scale, int rows, int cols,
                                      int group_size) {
    size_t n = (size_t)rows * (size_t)cols, i;
    for (i = 0; i < n; i++) w[i] = scale[i / (size_t)group_size] * (float)q[i];
}

/* out[rows] = W x with W in int8 [rows, cols] and its scales [rows,
   cols/G]; x [cols] stays fp32. Per group, the products q_j x_j are summed
   first and the sum is scaled once:
       out[r] = sum_g scale[r,g] * sum_{j in g} q[r,j] x[j]
   which is W x for W = scale * q, with one multiplication per group
   instead of per weight. The activations are not quantized: x is a few
   KB read from cache, so making it int8 would save no memory traffic and
   would add a second error (docs/quantization.md). */
ATTNRESDEF void attnres_matvec_q8(float *out, const int8_t *q, const float *scale, const float *x,
                                  int rows, int cols, int group_size) {
    int groups = cols / group_size, r, g, j;
    for (r = 0; r < rows; r++) {
        const int8_t *qr = q + (size_t)r * (size_t)cols;       /* [cols]   */
        const float *sr = scale + (size_t)r * (size_t)groups;  /* [groups] */
        float sum = 0.0f;
        for (g = 0; g < groups; g++) {
            const int8_t *qg = qr + (size_t)g * group_size;   /* [G] */
            const float *xg = x + (size_t)g * group_size;     /* [G] */
            float group_sum = 0.0f;
            for (j = 0; j < group_size; j++) group_sum += (float)qg[j] * xg[j];
            sum += sr[g] * group_sum;
        }
        out[r] = sum;
    }
}

/* out[rows] = W x with W and x both in group-wise int8 (W8A8): x was
   quantized by the weights' rule, xq [cols] and xscale [cols/G], so each
   group's products are whole numbers, summed exactly in an int32 (at most
   127 * 127 * G), and scaled once by both scales:
       out[r] = sum_g scale[r,g] * xscale[g] * sum_{j in g} q[r,j] xq[j]
   This is what runq.c computes. The activations' rounding is a second
   error on top of the weights' (docs/quantization.md measures it); what it
   buys is arithmetic: int8 products that SIMD units do 32 at a time, with
   no conversion to float inside the group. */
ATTNRESDEF void attnres_matvec_w8a8(float *out, const int8_t *q, const float *scale,
                                    const int8_t *xq, const float *xscale, int rows, int cols,
                                    int group_size) {
    int groups = cols / group_size, r, g, j;
    for (r = 0; r < rows; r++) {
        const int8_t *qr = q + (size_t)r * (size_t)cols;       /* [cols]   */
        const float *sr = scale + (size_t)r * (size_t)groups;  /* [groups] */
        float sum = 0.0f;
        for (g = 0; g < groups; g++) {
            const int8_t *qg = qr + (size_t)g * group_size;   /* [G] */
            const int8_t *xg = xq + (size_t)g * group_size;   /* [G] */
            int32_t group_sum = 0;
            for (j = 0; j < group_size; j++) group_sum += (int32_t)qg[j] * (int32_t)xg[j];
            sum += sr[g] * xscale[g] * (float)group_sum;
        }
        out[r] = sum;
    }
}

/* 1/sqrt(mean(x[n]^2) + eps): the scale of every RMSNorm here (the
   sublayer norms, the key norms of depth attention, the two-phase 1/rms).
   A finite x can still have squares past FLT_MAX (|x_i| > 1.8e19), and
   then the plain sum is Inf and 1/sqrt(Inf) = 0 would silently zero the
   vector. So, only then, the scale comes out before squaring, as careful
   norm routines do: with a = max|x_i|,
       rms = a * sqrt(mean((x/a)^2) + eps/a^2),   every (x_i/a)^2 <= 1.
   An Inf or NaN in x gives NaN, which the forward pass reports. */
ATTNRES__PRIVATE float attnres__inv_rms(const float *x, int n, float eps) {
    float sum_sq = attnres_dot(x, x, n), a = 0.0f, scaled = 0.0f;
    int i;
    if (!isinf(sum_sq)) return 1.0f / sqrtf(sum_sq / (float)n + eps);   /* the usual case */
    for (i = 0; i < n; i++) if (fabsf(x[i]) > a) a = fabsf(x[i]);
    if (isinf(a)) return NAN;
    for (i = 0; i < n; i++) scaled += (x[i] / a) * (x[i] / a);
    return 1.0f / (a * sqrtf(scaled / (float)n + eps / a / a));
}

/* out[n] = x[n] / sqrt(mean(x^2) + eps) * gain[n]. out may alias x. */
ATTNRESDEF void attnres_rmsnorm(float *out, const float *x, const float *gain, int n, float eps) {
    float inv_rms = attnres__inv_rms(x, n, eps);
    int i;
    for (i = 0; i < n; i++) out[i] = x[i] * inv_rms * gain[i];
}

/* Backward of out_i = xhat_i g_i with xhat = x r, r = 1/sqrt(mean(x^2) + eps).
   The gain sees xhat:        dgain_i += dout_i xhat_i.
   x moves out directly, and through r, which every x_j sets
   (dr/dx_j = -r^3 x_j / n):
       dx_j += r (dout_j g_j - xhat_j mean_i(dout_i g_i xhat_i)).
   Written with xhat, never r^2 or r^3 alone, so huge or tiny x (whose r^3
   would overflow or underflow float) stays finite, as the forward does.
     dx, dgain (each may be NULL), dout, x, gain [n] */
ATTNRESDEF void attnres_rmsnorm_backward(float *dx, float *dgain, const float *dout, const float *x,
                                         const float *gain, int n, float eps) {
    float r = attnres__inv_rms(x, n, eps), mean = 0.0f;
    int i;
    for (i = 0; i < n; i++) mean += dout[i] * gain[i] * (x[i] * r);
    mean /= (float)n;
    for (i = 0; i < n; i++) {
        float xhat = x[i] * r;
        if (dgain) dgain[i] += dout[i] * xhat;
        if (dx) dx[i] += r * (dout[i] * gain[i] - xhat * mean);
    }
}

/* x[n] <- exp(x - max) / sum; subtracting the max keeps exp() from
   overflowing and does not change the result. */
ATTNRESDEF void attnres_softmax(float *x, int n) {
    float max = x[0], sum = 0.0f;
    int i;
    for (i = 1; i < n; i++) if (x[i] > max) max = x[i];
    for (i = 0; i < n; i++) { x[i] = expf(x[i] - max); sum += x[i]; }
    for (i = 0; i < n; i++) x[i] /= sum;
}

/* -log p_target with p = softmax(logits [n]), as log(sum_i exp(x_i - max))
   + max - x_target: no exp() overflows, and no p is rounded to 0 before
   its log is taken. */
ATTNRESDEF float attnres_cross_entropy(const float *logits, int target, int n) {
    float max = logits[0], sum = 0.0f;
    int i;
    for (i = 1; i < n; i++) if (logits[i] > max) max = logits[i];
    for (i = 0; i < n; i++) sum += expf(logits[i] - max);
    return logf(sum) + max - logits[target];
}

/* d(-log p_target)/dlogit_i = p_i - [i == target]: softmax minus one-hot.
   scale is 1/T when the loss is the mean over T positions.
     dlogits [n] += scale (p - onehot),  logits [n] */
ATTNRESDEF void attnres_cross_entropy_backward(float *dlogits, const float *logits, int target, int n,
                                               float scale) {
    float max = logits[0], sum = 0.0f;
    int i;
    for (i = 1; i < n; i++) if (logits[i] > max) max = logits[i];
    for (i = 0; i < n; i++) sum += expf(logits[i] - max);
    for (i = 0; i < n; i++) dlogits[i] += scale * (expf(logits[i] - max) / sum - (i == target ? 1.0f : 0.0f));
}

/* The frequency (radians per position) of pair i of a head: plain RoPE's
   theta^(-2i/head_dim), then the scaling Hugging Face's
   modeling_rope_utils.py defines for the type:
     linear  freq / factor: position p turns like p / factor did
     llama3  by the pair's wavelength 2 pi / freq, measured against the
             original context C: shorter than C / high_freq_factor (fast
             pairs, local order) kept; longer than C / low_freq_factor (slow
             pairs, which never turned a full circle in training) divided by
             factor; in between a blend, (1 - s) freq / factor + s freq with
             s = (C / wavelength - low) / (high - low), so both ends meet.
   Every path that rotates (forward, prefill, training) goes through here. */
ATTNRESDEF double attnres_rope_freq(int i, int head_dim, float theta, const attnres_rope_scaling *scaling) {
    double freq = pow((double)theta, -(double)(2 * i) / (double)head_dim);
    if (!scaling || scaling->type == ATTNRES_ROPE_PLAIN) return freq;
    if (scaling->type == ATTNRES_ROPE_LINEAR) return freq / scaling->factor;
    {   /* ATTNRES_ROPE_LLAMA3 */
        double wavelength = 2.0 * 3.14159265358979323846 / freq, C = scaling->original_context;
        double low = scaling->low_freq_factor, high = scaling->high_freq_factor, s;
        if (wavelength < C / high) return freq;
        if (wavelength > C / low) return freq / scaling->factor;
        s = (C / wavelength - low) / (high - low);
        return (1.0 - s) * freq / scaling->factor + s * freq;
    }
}

/* Rotates x[n] (n/head_dim heads, head after head) in place for position
   pos: each interleaved pair (x[2i], x[2i+1]) of a head turns by the angle
   pos * freq_i (attnres_rope_freq). The angle is computed in double because
   pos*freq loses digits in float at long contexts. */
ATTNRESDEF void attnres_rope(float *x, int n, int head_dim, int pos, float theta,
                             const attnres_rope_scaling *scaling) {
    int h, i;
    for (i = 0; i < head_dim; i += 2) {
        double angle = (double)pos * attnres_rope_freq(i / 2, head_dim, theta, scaling);
        float c = (float)cos(angle), s = (float)sin(angle);
        for (h = 0; h < n; h += head_dim) {
            float x0 = x[h + i], x1 = x[h + i + 1];
            x[h + i]     = x0 * c - x1 * s;
            x[h + i + 1] = x0 * s + x1 * c;
        }
    }
}

/* RoPE is a rotation of each pair, y = R(a) x, so dx = R(a)^T dy = R(-a) dy:
   the gradient turns back by the same angle. cos(-a) and sin(-a) are
   exactly cos(a) and -sin(a), so this is attnres_rope at -pos. */
ATTNRESDEF void attnres_rope_backward(float *dx, int n, int head_dim, int pos, float theta,
                                      const attnres_rope_scaling *scaling) {
    attnres_rope(dx, n, head_dim, -pos, theta, scaling);
}

/* out[dim] = w2 (silu(w1 x) * (w3 x)), with w1, w3 [hidden_dim, dim] and
   w2 [dim, hidden_dim]; hb, hb2 [hidden_dim] are scratch. */
/* hb[n] = silu(hb) * hb2, silu(z) = z * sigmoid(z): SwiGLU's gate. */
ATTNRES__PRIVATE void attnres__swiglu_gate(float *hb, const float *hb2, int n) {
    int i;
    for (i = 0; i < n; i++) {
        float silu = hb[i] / (1.0f + expf(-hb[i]));
        hb[i] = silu * hb2[i];
    }
}

ATTNRESDEF void attnres_swiglu_mlp(float *out, const float *x,
                                   const float *w1, const float *w2, const float *w3,
                                   float *hb, float *hb2, int dim, int hidden_dim) {
    ATTNRES__MATVEC(hb, w1, x, hidden_dim, dim);    /* gate */
    ATTNRES__MATVEC(hb2, w3, x, hidden_dim, dim);   /* up   */
    attnres__swiglu_gate(hb, hb2, hidden_dim);
    ATTNRES__MATVEC(out, w2, hb, dim, hidden_dim);  /* down */
}

/* Backward of out = w2 u, u = silu(a) * b, a = w1 x, b = w3 x (the gate a
   and the up b are recomputed into hb, hb2 rather than stored):
     dw2 += dout u^T,  du = w2^T dout,
     da = du * b * silu'(a),  silu'(a) = sig(a) (1 + a (1 - sig(a))),
     db = du * silu(a),
     dw1 += da x^T, dw3 += db x^T, dx += w1^T da + w3^T db.
     dx [dim], dw1, dw3 [hidden_dim, dim], dw2 [dim, hidden_dim], dout [dim] */
ATTNRESDEF void attnres_swiglu_mlp_backward(float *dx, float *dw1, float *dw2, float *dw3,
                                            const float *dout, const float *x,
                                            const float *w1, const float *w2, const float *w3,
                                            float *hb, float *hb2, int dim, int hidden_dim) {
    int j, r;
    attnres_matvec(hb, w1, x, hidden_dim, dim);     /* a: the gate, before silu */
    attnres_matvec(hb2, w3, x, hidden_dim, dim);    /* b: up                     */
    for (j = 0; j < hidden_dim; j++) {
        float a = hb[j], b = hb2[j], sig = 1.0f / (1.0f + expf(-a)), silu = a * sig;
        float du = 0.0f;
        for (r = 0; r < dim; r++) {                 /* column j of w2: u_j fed every out[r] */
            du += w2[(size_t)r * hidden_dim + j] * dout[r];
            if (dw2) dw2[(size_t)r * hidden_dim + j] += dout[r] * (silu * b);
        }
        hb[j] = du * b * sig * (1.0f + a * (1.0f - sig));   /* da */
        hb2[j] = du * silu;                                  /* db */
    }
    attnres_matvec_backward(dx, dw1, hb, w1, x, hidden_dim, dim);
    attnres_matvec_backward(dx, dw3, hb2, w3, x, hidden_dim, dim);
}

/* ======================================================================== */
/* 2. Attention with the KV-cache                                           */
/* ======================================================================== */

ATTNRESDEF void attnres_attend(float *out, float *att, const float *q,
                               const float *key_cache, const float *value_cache,
                               int n_pos, int n_heads, int n_kv_heads, int head_dim, int seq_len) {
    int kv_dim = n_kv_heads * head_dim, group = n_heads / n_kv_heads, hq, t;
    float scale = 1.0f / sqrtf((float)head_dim);
    for (hq = 0; hq < n_heads; hq++) {
        const float *qh = q + (size_t)hq * head_dim;                    /* [head_dim] */
        const float *kh = key_cache + (size_t)(hq / group) * head_dim;   /* its kv head's column */
        const float *vh = value_cache + (size_t)(hq / group) * head_dim;
        float *a = att + (size_t)hq * seq_len;                           /* [n_pos]    */
        float *o = out + (size_t)hq * head_dim;                          /* [head_dim] */
        for (t = 0; t < n_pos; t++) a[t] = attnres_dot(qh, kh + (size_t)t * kv_dim, head_dim) * scale;
        attnres_softmax(a, n_pos);
        memset(o, 0, (size_t)head_dim * sizeof(float));
        for (t = 0; t < n_pos; t++) attnres_axpy(o, a[t], vh + (size_t)t * kv_dim, head_dim);
    }
}

/* Backward of one query's attention, head by head, in reverse:
     o = sum_t a_t v_t            da_t = dout . v_t,    dv_t += a_t dout
     a = softmax(s)               ds_t = a_t (da_t - sum_u a_u da_u)
     s_t = scale q . k_t          dq += scale ds_t k_t, dk_t += scale ds_t q
   The sum over u comes first, then da_t is recomputed (a dot of head_dim),
   so no [n_pos] buffer is needed. Query heads of a group read the same kv
   head, so their dk, dv land in the same columns and add up. */
ATTNRESDEF void attnres_attend_backward(float *dq, float *dkey_cache, float *dvalue_cache,
                                        const float *dout, const float *att, const float *q,
                                        const float *key_cache, const float *value_cache,
                                        int n_pos, int n_heads, int n_kv_heads, int head_dim, int seq_len) {
    int kv_dim = n_kv_heads * head_dim, group = n_heads / n_kv_heads, hq, t;
    float scale = 1.0f / sqrtf((float)head_dim);
    for (hq = 0; hq < n_heads; hq++) {
        size_t col = (size_t)(hq / group) * head_dim;                    /* its kv head's column */
        const float *qh = q + (size_t)hq * head_dim;                     /* [head_dim] */
        const float *doh = dout + (size_t)hq * head_dim;                 /* [head_dim] */
        const float *a = att + (size_t)hq * seq_len;                     /* [n_pos]    */
        float *dqh = dq + (size_t)hq * head_dim, a_da = 0.0f;
        for (t = 0; t < n_pos; t++) a_da += a[t] * attnres_dot(doh, value_cache + (size_t)t * kv_dim + col, head_dim);
        for (t = 0; t < n_pos; t++) {
            size_t row = (size_t)t * kv_dim + col;
            float da = attnres_dot(doh, value_cache + row, head_dim);
            float ds = a[t] * (da - a_da) * scale;
            attnres_axpy(dvalue_cache + row, a[t], doh, head_dim);
            attnres_axpy(dqh, ds, key_cache + row, head_dim);
            attnres_axpy(dkey_cache + row, ds, qh, head_dim);
        }
    }
}

/* ======================================================================== */
/* 3. AttnRes: softmax over depth, and the block state that feeds it        */
/* ======================================================================== */

/* The AttnRes operation for one sublayer (or the output).
     sources [n_sources, dim]: b0 .. b_{n-1} (and the partial, if any)
     logit_j = pseudo_query . RMSNorm(sources[j]; key_gain)   -- keys normed
     alpha   = softmax over j, the DEPTH axis                 -- no 1/sqrt(d)
     out     = sum_j alpha_j sources[j]                       -- raw values
   Normalising the keys stops one large-magnitude block from winning the
   softmax by size alone; values stay raw so the sum keeps their scale. */
ATTNRESDEF void attnres_depth_attention(float *out, float *alpha,
                                        const float *sources, int n_sources,
                                        const float *pseudo_query, const float *key_gain,
                                        int dim, float eps) {
    float max, sum = 0.0f;
    int j, i;
    ATTNRES_ASSERT(n_sources >= 1);
    for (j = 0; j < n_sources; j++) {
        const float *v = sources + (size_t)j * (size_t)dim;
        /* w . (v * inv_rms * g) = inv_rms * sum_i w_i g_i v_i: no key buffer needed */
        float inv_rms = attnres__inv_rms(v, dim, eps);
        float wgv = 0.0f;
        for (i = 0; i < dim; i++) wgv += pseudo_query[i] * key_gain[i] * v[i];
        alpha[j] = inv_rms * wgv;
    }
    /* softmax over depth, kept as its statistics: max m, e_j = exp(s_j - m),
       sum = sum_j e_j, o = sum_j e_j v_j; then out = o / sum. The same
       statistics, in the same order, that the two-phase path builds (see
       attnres_phase1), so the two paths differ only where they must. */
    max = alpha[0];
    for (j = 1; j < n_sources; j++) if (alpha[j] > max) max = alpha[j];
    for (j = 0; j < n_sources; j++) { alpha[j] = expf(alpha[j] - max); sum += alpha[j]; }
    for (i = 0; i < dim; i++) out[i] = 0.0f;
    for (j = 0; j < n_sources; j++) attnres_axpy(out, alpha[j], sources + (size_t)j * (size_t)dim, dim);
    for (i = 0; i < dim; i++) out[i] /= sum;
    for (j = 0; j < n_sources; j++) alpha[j] /= sum;
}

/* Backward of the softmax over depth. With r_j = 1/rms(v_j), the normed
   key xhat_j = v_j r_j, s_j = w . (xhat_j * g), alpha = softmax(s),
   out = sum_j alpha_j v_j:
     value path     dalpha_j = dout . v_j,          dv_j += alpha_j dout
     softmax        ds_j = alpha_j (dalpha_j - sum_u alpha_u dalpha_u)
     the logit      dw += ds_j (xhat_j * g),        dg += ds_j (xhat_j * w)
     key path       dv_j += RMSNorm's backward of dkey = ds_j w:
                    r_j ds_j (w g - xhat_j mean_i(w_i g_i xhat_ji))
   A source reaches out twice, as a value and through its key; both add
   into dsources. The key path is attnres_rmsnorm_backward written out, so
   that no [dim] buffer for dkey is needed.
     dsources [n_sources, dim], dpseudo_query, dkey_gain [dim] (each may be NULL) */
ATTNRESDEF void attnres_depth_attention_backward(float *dsources, float *dpseudo_query, float *dkey_gain,
                                                 const float *dout, const float *alpha,
                                                 const float *sources, int n_sources,
                                                 const float *pseudo_query, const float *key_gain,
                                                 int dim, float eps) {
    float a_da = 0.0f;
    int j, i;
    for (j = 0; j < n_sources; j++) a_da += alpha[j] * attnres_dot(dout, sources + (size_t)j * dim, dim);
    for (j = 0; j < n_sources; j++) {
        const float *v = sources + (size_t)j * dim;                      /* [dim] */
        float r = attnres__inv_rms(v, dim, eps), mean = 0.0f;
        float ds = alpha[j] * (attnres_dot(dout, v, dim) - a_da);
        for (i = 0; i < dim; i++) mean += pseudo_query[i] * key_gain[i] * (v[i] * r);
        mean /= (float)dim;
        for (i = 0; i < dim; i++) {
            float xhat = v[i] * r;
            if (dpseudo_query) dpseudo_query[i] += ds * xhat * key_gain[i];
            if (dkey_gain) dkey_gain[i] += ds * xhat * pseudo_query[i];
            if (dsources) dsources[(size_t)j * dim + i] +=
                alpha[j] * dout[i] + r * ds * (pseudo_query[i] * key_gain[i] - xhat * mean);
        }
    }
}

/* Start of a token: b0 = its embedding, no blocks completed yet past b0. */
ATTNRESDEF void attnres_block_reset(attnres_block_state *bs, const float *embedding) {
    memcpy(bs->blocks, embedding, (size_t)bs->dim * sizeof(float));
    bs->n_completed = 1;
    bs->n_partial = 0;
}

/* The next sublayer reads the completed blocks, plus the partial sum once
   its block has begun: rows [0, n_sources) of bs->blocks. */
ATTNRESDEF int attnres_block_n_sources(const attnres_block_state *bs) {
    return bs->n_completed + (bs->n_partial > 0 ? 1 : 0);
}

/* partial += f[dim]; after S outputs the partial becomes block b_n. */
ATTNRESDEF void attnres_block_add(attnres_block_state *bs, const float *f) {
    float *partial = bs->blocks + (size_t)bs->n_completed * (size_t)bs->dim;
    ATTNRES_ASSERT(bs->n_completed < bs->max_blocks);
    if (bs->n_partial == 0) memcpy(partial, f, (size_t)bs->dim * sizeof(float));
    else attnres_axpy(partial, 1.0f, f, bs->dim);
    bs->n_partial++;
    if (bs->n_partial == bs->block_size) attnres_block_close(bs);
}

/* Completes the block under construction (used directly only for a last
   block that is shorter than S). */
ATTNRESDEF void attnres_block_close(attnres_block_state *bs) {
    if (bs->n_partial == 0) return;
    bs->n_completed++;
    bs->n_partial = 0;
}

/* Sublayer l (0-based) is in block n = l/S + 1, and its output went into
   row n of the blocks: the partial, which becomes b_n unchanged when the
   block closes (a short last block too). */
ATTNRESDEF int attnres_block_row(int l, int block_size) { return l / block_size + 1; }

/* Backward of partial += f: an addition passes its gradient unchanged to
   both terms. The earlier partial keeps the row's gradient (it stays in
   dblocks for the sublayers before l); f receives a copy. */
ATTNRESDEF void attnres_block_add_backward(float *df, const float *dblocks, int l, int block_size, int dim) {
    attnres_axpy(df, 1.0f, dblocks + (size_t)attnres_block_row(l, block_size) * dim, dim);
}

/* ======================================================================== */
/* 4. The forward pass                                                      */
/* ======================================================================== */

/* QK-norm: every head of q [n_heads*head_dim] and of k [kv_dim] normalised
   in place, with this layer's gains q_norm, k_norm [head_dim]. */
ATTNRES__PRIVATE void attnres__qk_norm(float *q, float *k, const attnres_weights *w,
                                       const attnres_config *c, int layer) {
    int head_dim = attnres_head_dim(c), h;
    for (h = 0; h < c->n_heads; h++)
        attnres_rmsnorm(q + (size_t)h * head_dim, q + (size_t)h * head_dim,
                        w->q_norm + (size_t)layer * head_dim, head_dim, c->norm_eps);
    for (h = 0; h < c->n_kv_heads; h++)
        attnres_rmsnorm(k + (size_t)h * head_dim, k + (size_t)h * head_dim,
                        w->k_norm + (size_t)layer * head_dim, head_dim, c->norm_eps);
}

/* out[rows] = W x for matrix `layer` of a stack [n_layers, rows, cols]:
   the fp32 w, or in a quantized model its int8 copy q8, with x in fp32
   (W8) or first quantized into s->xq (W8A8). */
ATTNRES__PRIVATE void attnres__linear(float *out, const attnres_model *m, attnres_state *s, const float *w,
                                      const attnres_q8 *q8, int layer, const float *x, int rows, int cols) {
    size_t at = (size_t)layer * (size_t)rows * (size_t)cols;   /* first weight of the layer */
    int G = m->q8.group_size;
    if (G == 0) {
        ATTNRES__MATVEC(out, w + at, x, rows, cols);
    } else if (!m->q8.int8_activations) {
        ATTNRES__MATVEC_Q8(out, q8->q + at, q8->scale + at / (size_t)G, x, rows, cols, G);
    } else {
        ATTNRES__QUANTIZE_X(s->xq, s->xq_scale, x, 1, cols, G);   /* x as one row of int8 groups */
        ATTNRES__MATVEC_W8A8(out, q8->q + at, q8->scale + at / (size_t)G, s->xq, s->xq_scale, rows, cols, G);
    }
}

/* f_l(h): sublayer l of the token at pos, pre-norm. Sublayer 2i is the
   attention of layer i, sublayer 2i+1 its SwiGLU MLP.
     in: h [dim]        out: s->f [dim]
   Both residual modes call this; they differ only in how h is made and
   where f goes. */
ATTNRES__PRIVATE void attnres__sublayer(const attnres_model *m, attnres_state *s,
                                        int l, const float *h, int pos) {
    const attnres_config *c = &m->config;
    const attnres_weights *w = &m->weights;
    int layer = l / 2, d = c->dim, hd = c->hidden_dim;
    int head_dim = attnres_head_dim(c), kv_dim = attnres_kv_dim(c), q_dim = c->n_heads * head_dim;
    size_t layer_cache = (size_t)layer * (size_t)s->n_ctx * (size_t)kv_dim;  /* [n_ctx, kv_dim] */
    float *k = s->key_cache + layer_cache + (size_t)pos * kv_dim;            /* [kv_dim] slot  */
    float *v = s->value_cache + layer_cache + (size_t)pos * kv_dim;          /* [kv_dim] slot  */
    const attnres_q8_weights *q8 = &m->q8;

    memcpy(s->sublayer_input + (size_t)l * d, h, (size_t)d * sizeof(float));  /* for inspection */
    if (l % 2 == 1) {
        /* MLP: xb = RMSNorm(h), f = w2 (silu(w1 xb) * (w3 xb)) */
        attnres_rmsnorm(s->xb, h, w->ffn_norm + (size_t)layer * d, d, c->norm_eps);
        attnres__linear(s->hb, m, s, w->w1, &q8->w1, layer, s->xb, hd, d);     /* gate */
        attnres__linear(s->hb2, m, s, w->w3, &q8->w3, layer, s->xb, hd, d);    /* up   */
        attnres__swiglu_gate(s->hb, s->hb2, hd);
        attnres__linear(s->f, m, s, w->w2, &q8->w2, layer, s->hb, d, hd);      /* down */
        return;
    }
    /* attention, step 1: xb = RMSNorm(h) */
    attnres_rmsnorm(s->xb, h, w->attention_norm + (size_t)layer * d, d, c->norm_eps);
    /* step 2: q, k, v; k and v go straight into this position's cache slot */
    attnres__linear(s->q, m, s, w->wq, &q8->wq, layer, s->xb, q_dim, d);
    attnres__linear(k, m, s, w->wk, &q8->wk, layer, s->xb, kv_dim, d);
    attnres__linear(v, m, s, w->wv, &q8->wv, layer, s->xb, kv_dim, d);
    /* (QK-norm models only, e.g. Qwen3: RMSNorm over each head of q and of k) */
    if (c->qk_norm) attnres__qk_norm(s->q, k, w, c, layer);
    /* step 3: RoPE turns q and k by the angle of pos (v is not rotated) */
    attnres_rope(s->q, q_dim, head_dim, pos, c->rope_theta, &c->rope_scaling);
    attnres_rope(k, kv_dim, head_dim, pos, c->rope_theta, &c->rope_scaling);
    /* step 4: every query head attends over positions 0..pos of this layer */
    ATTNRES__ATTEND(s->xb2, s->att, s->q, s->key_cache + layer_cache, s->value_cache + layer_cache,
                    pos + 1, c->n_heads, c->n_kv_heads, head_dim, s->n_ctx);
    /* step 5: f = wo (the heads' outputs, concatenated) */
    attnres__linear(s->f, m, s, w->wo, &q8->wo, layer, s->xb2, d, q_dim);
}

/* Standard residuals: one running stream, h <- h + f_l(h). s->x = h. */
ATTNRES__PRIVATE void attnres__forward_standard(const attnres_model *m, attnres_state *s,
                                                const float *embedding, int pos) {
    int d = m->config.dim, L = attnres_n_sublayers(&m->config), l;
    memcpy(s->x, embedding, (size_t)d * sizeof(float));          /* h_0 = embedding */
    for (l = 0; l < L; l++) {
        attnres__sublayer(m, s, l, s->x, pos);                   /* f = f_l(h)      */
        attnres_axpy(s->x, 1.0f, s->f, d);                       /* h = h + f       */
    }
}

/* Block AttnRes read literally: before each sublayer, a softmax over depth
   mixes the sources [b0 .. b_{n-1} (, partial)] into its input h; its
   output joins the partial sum of the current block. The output of the
   model is one more mix, over [b0 .. b_N]. s->x = h each time. Row l of
   s->alpha keeps the weights (zero past alpha_count[l]). */
ATTNRES__PRIVATE void attnres__forward_direct(const attnres_model *m, attnres_state *s,
                                              const float *embedding, int pos) {
    const attnres_config *c = &m->config;
    int d = c->dim, L = attnres_n_sublayers(c), rows = s->bs.max_blocks, l, n;
    attnres_block_reset(&s->bs, embedding);                      /* b0 = embedding */
    for (l = 0; l <= L; l++) {                                   /* l = L: the output */
        float *alpha = s->alpha + (size_t)l * rows;              /* [N+1] */
        if (l == L) attnres_block_close(&s->bs);                 /* a last block shorter than S */
        n = attnres_block_n_sources(&s->bs);
        attnres_depth_attention(s->x, alpha, s->bs.blocks, n,    /* h = sum_j alpha_j v_j */
                                m->weights.pseudo_query + (size_t)l * d,
                                m->weights.key_norm + (size_t)l * d, d, c->norm_eps);
        memset(alpha + n, 0, (size_t)(rows - n) * sizeof(float));
        s->alpha_count[l] = n;
        if (l == L) break;
        attnres__sublayer(m, s, l, s->x, pos);                   /* f = f_l(h) */
        attnres_block_add(&s->bs, s->f);                         /* partial += f */
    }
}

ATTNRES__PRIVATE void attnres__forward_two_phase(const attnres_model *m, attnres_state *s,
                                                 const float *embedding, int pos);
ATTNRES__PRIVATE int attnres__check_forward(const attnres_model *m, const attnres_state *s,
                                            int token, int pos, attnres_error *err);

ATTNRESDEF float *attnres_forward(const attnres_model *m, attnres_state *s,
                                  int token, int pos, attnres_error *err) {
    const attnres_config *c = &m->config;
    const attnres_weights *w = &m->weights;
    const float *embedding;
    int i;

    if (attnres__check_forward(m, s, token, pos, err) != ATTNRES_OK) return NULL;
    /* 1. the token's embedding [dim] */
    embedding = w->tok_embeddings + (size_t)token * c->dim;
    s->cache_len = pos + 1;   /* every layer writes slot pos below */

    /* 2. the L sublayers, and for AttnRes the output aggregation: s->x */
    if (c->residual == ATTNRES_RESIDUAL_STANDARD) attnres__forward_standard(m, s, embedding, pos);
    else if (s->path == ATTNRES_PATH_TWO_PHASE)   attnres__forward_two_phase(m, s, embedding, pos);
    else                                          attnres__forward_direct(m, s, embedding, pos);

    /* 3. final RMSNorm and the output projection: logits [vocab_size] */
    attnres_rmsnorm(s->xb, s->x, w->norm, c->dim, c->norm_eps);
    attnres__linear(s->logits, m, s, w->output, &m->q8.output, 0, s->xb, c->vocab_size, c->dim);

    /* 4. finite weights can still overflow float on the way (a huge q.k is
          Inf, and Inf - Inf in the softmax is NaN): report it rather than
          hand back logits that are not numbers. One pass over [vocab_size]. */
    for (i = 0; i < c->vocab_size; i++)
        if (!isfinite(s->logits[i])) {
            attnres__fail(err, ATTNRES_ERR_RANGE, "forward: logit %d is %s at pos %d: the weights "
                          "overflow float arithmetic", i, isnan(s->logits[i]) ? "NaN" : "Inf", pos);
            return NULL;
        }
    attnres__ok(err);
    return s->logits;
}

ATTNRES__PRIVATE int attnres__prefill_chunk(const attnres_model *m, attnres_state *s, const int *tokens,
                                            int T, int pos0, int last, attnres_error *err);

ATTNRESDEF float *attnres_prefill(const attnres_model *m, attnres_state *s,
                                  const int *tokens, int n_tokens, attnres_error *err) {
    float *logits = NULL;
    int t, start = s->cache_len, batched;
    if (!m->memory || !s->memory) {
        attnres__fail(err, ATTNRES_ERR_RANGE, "prefill: model or state not initialised");
        return NULL;
    }
    if (n_tokens < 1) {
        attnres__fail(err, ATTNRES_ERR_RANGE, "prefill: empty prompt (%d tokens)", n_tokens);
        return NULL;
    }
    if (n_tokens > s->n_ctx - start) {
        attnres__fail(err, ATTNRES_ERR_RANGE, "prefill: a prompt of %d tokens does not fit: the context "
                      "(n_ctx %d) has room for %d more", n_tokens, s->n_ctx, s->n_ctx - start);
        return NULL;
    }
    for (t = 0; t < n_tokens; t++)
        if (tokens[t] < 0 || tokens[t] >= m->config.vocab_size) {
            attnres__fail(err, ATTNRES_ERR_RANGE, "prefill: prompt token %d is %d, out of range [0, %d)",
                          t, tokens[t], m->config.vocab_size);
            return NULL;
        }
    /* the batched path: fp32 weights, and the depth softmax of the direct
       path (the two-phase path's own order of operations is kept by
       running it token by token) */
    batched = m->q8.group_size == 0 &&
              (m->config.residual == ATTNRES_RESIDUAL_STANDARD || s->path == ATTNRES_PATH_DIRECT);
    if (!batched) {
        for (t = 0; t < n_tokens; t++)
            if (!(logits = attnres_forward(m, s, tokens[t], start + t, err))) return NULL;
        return logits;
    }
    if (attnres__check_forward(m, s, tokens[0], start, err) != ATTNRES_OK) return NULL;   /* the state's model */
    for (t = 0; t < n_tokens; t += s->chunk_len) {
        int T = n_tokens - t < s->chunk_len ? n_tokens - t : s->chunk_len;
        if (attnres__prefill_chunk(m, s, tokens + t, T, start + t, t + T == n_tokens, err) != ATTNRES_OK)
            return NULL;
    }
    return s->logits;
}

/* ======================================================================== */
/* 5. Two-phase Block AttnRes (the paper's Algorithm 1)                     */
/* ======================================================================== */
/* Direct AttnRes reads every completed block in every sublayer, although
   completed blocks do not change inside a token. Two-phase reads them once
   per BLOCK instead:
     phase 1  the S pseudo-queries of block n against b0..b_{n-1}, as a
              batch: the logits are an [S, dim] x [dim, n] product, and a
              second pass over the blocks leaves per query the softmax
              statistics (o = unnormalised sum, max, sum of exponentials);
     phase 2  sublayer by sublayer, merge those statistics with the one
              logit of the partial sum, by online softmax.
   Two facts keep phase 1 small: the key RMSNorm of a completed block needs
   its 1/rms only, computed once when the block completes; and the gain
   folds into the pseudo-query,
       w . RMSNorm(b; g) = sum_i w_i (b_i inv_rms g_i) = inv_rms * sum_i (w_i g_i) b_i,
   so a key never has to be materialised: s_ij = inv_rms_j (folded_i . b_j)
   with folded = w * g, made per block from the weights (S*dim products,
   nothing cached that could go stale). The product is rounded as the
   direct path rounds (w_i * g_i) * b_i, so both paths compute
   bit-identical depth logits. */

ATTNRESDEF void attnres_phase1(float *o, float *max, float *sum, float *logits,
                               const float *folded, int n_queries,
                               const float *blocks, const float *inv_rms, int n_blocks, int dim) {
    int i, j;
    /* pass 1 over the blocks: the logits, an [S, dim] x [dim, n] product
       (scaled per column by the block's cached 1/rms), and each row's max */
    for (j = 0; j < n_blocks; j++) {
        const float *b = blocks + (size_t)j * dim;                /* [dim] */
        for (i = 0; i < n_queries; i++)
            logits[(size_t)i * n_blocks + j] = inv_rms[j] * attnres_dot(folded + (size_t)i * dim, b, dim);
    }
    for (i = 0; i < n_queries; i++) {
        const float *s = logits + (size_t)i * n_blocks;           /* [n_blocks] */
        max[i] = s[0];
        for (j = 1; j < n_blocks; j++) if (s[j] > max[i]) max[i] = s[j];
        sum[i] = 0.0f;
        memset(o + (size_t)i * dim, 0, (size_t)dim * sizeof(float));
    }
    /* pass 2 over the blocks: the unnormalised sums, exp(s - max) <= 1 */
    for (j = 0; j < n_blocks; j++) {
        const float *b = blocks + (size_t)j * dim;
        for (i = 0; i < n_queries; i++) {
            float e = expf(logits[(size_t)i * n_blocks + j] - max[i]);
            attnres_axpy(o + (size_t)i * dim, e, b, dim);
            sum[i] += e;
        }
    }
}

ATTNRESDEF void attnres_phase2(float *h, float *alpha, const float *o, float max, float sum,
                               const float *logits, int n_blocks,
                               const float *partial, const float *folded, int dim, float eps) {
    float m_new = max, scale_o = 1.0f, w_partial = 0.0f, sum_new = sum;
    int i, j;
    if (partial) {
        /* the partial's logit, with its own 1/rms: it changes every sublayer */
        float inv_rms = attnres__inv_rms(partial, dim, eps);
        float s_p = inv_rms * attnres_dot(folded, partial, dim);
        m_new = s_p > max ? s_p : max;
        scale_o = expf(max - m_new);
        w_partial = expf(s_p - m_new);
        sum_new = sum * scale_o + w_partial;
        alpha[n_blocks] = w_partial / sum_new;
    }
    /* h = (o e^(max - m_new) + e^(s_p - m_new) partial) / sum_new */
    for (i = 0; i < dim; i++)
        h[i] = (o[i] * scale_o + (partial ? w_partial * partial[i] : 0.0f)) / sum_new;
    for (j = 0; j < n_blocks; j++) alpha[j] = expf(logits[j] - m_new) / sum_new;
}

/* folded [count, dim] = pseudo_query * key_norm of rows first..first+count-1. */
ATTNRES__PRIVATE void attnres__fold_queries(float *folded, const attnres_model *m, int first, int count) {
    size_t at = (size_t)first * (size_t)m->config.dim, n = (size_t)count * (size_t)m->config.dim, i;
    for (i = 0; i < n; i++) folded[i] = m->weights.pseudo_query[at + i] * m->weights.key_norm[at + i];
}

/* The two-phase pass of one token, block by block; the same h, alpha and
   logits as attnres__forward_direct (tests/test_two_phase.c). */
ATTNRES__PRIVATE void attnres__forward_two_phase(const attnres_model *m, attnres_state *s,
                                                 const float *embedding, int pos) {
    const attnres_config *c = &m->config;
    int d = c->dim, L = attnres_n_sublayers(c), S = c->block_size, N = attnres_n_blocks(c);
    int rows = s->bs.max_blocks, n, i, j;
    float *blocks = s->bs.blocks, *inv_rms = s->bs.inv_rms, *folded = s->phase1_folded;
    attnres_block_reset(&s->bs, embedding);
    inv_rms[0] = attnres__inv_rms(blocks, d, c->norm_eps);        /* b0's 1/rms, once */
    for (n = 1; n <= N + 1; n++) {   /* block n = 1..N: sublayers first..first+count-1; n = N+1: the output */
        int first = (n - 1) * S, count = n > N ? 1 : (L - first < S ? L - first : S);
        float *o = s->phase1_o + (size_t)(n - 1) * S * d;         /* [S, dim] */
        float *max = s->phase1_max + (size_t)(n - 1) * S;         /* [S]      */
        float *sum = s->phase1_sum + (size_t)(n - 1) * S;         /* [S]      */
        if (n > N) first = L;                                     /* the output's query */
        /* phase 1: the block's queries against b0..b_{n-1}, one batch */
        attnres__fold_queries(folded, m, first, count);
        attnres_phase1(o, max, sum, s->phase1_logits, folded, count, blocks, inv_rms, n, d);
        /* phase 2, sublayer by sublayer: merge with the partial (from the 2nd on) */
        for (i = 0; i < count; i++) {
            int l = first + i, n_src = n + (i > 0);
            float *alpha = s->alpha + (size_t)l * rows;           /* [N+1] */
            attnres_phase2(s->x, alpha, o + (size_t)i * d, max[i], sum[i],
                           s->phase1_logits + (size_t)i * n, n, i > 0 ? blocks + (size_t)n * d : NULL,
                           folded + (size_t)i * d, d, c->norm_eps);
            for (j = n_src; j < rows; j++) alpha[j] = 0.0f;
            s->alpha_count[l] = n_src;
            if (n > N) return;                                    /* s->x = the output's h */
            attnres__sublayer(m, s, l, s->x, pos);                /* f = f_l(h)   */
            attnres_block_add(&s->bs, s->f);                      /* partial += f */
        }
        attnres_block_close(&s->bs);                              /* a last block shorter than S */
        inv_rms[n] = attnres__inv_rms(blocks + (size_t)n * d, d, c->norm_eps);   /* once per block */
    }
}


/* ======================================================================== */
/* 5b. Training: a whole sequence forward, and the backward of the model    */
/* ======================================================================== */
/* The same model as attnres_forward, run over T positions at once, one
   sublayer at a time: every sublayer's weights meet all T inputs in one
   loop (a matrix-matrix product), and the forward keeps, per position, what
   the backward reads (the struct lists it). The backward is the forward
   read in reverse, built from the building blocks' backwards. */

/* Where one sublayer over T positions keeps its activations: the saved
   buffers of the sequence forward, or a prefill chunk's scratch. The
   positions are pos0 .. pos0+T-1; k and v hold this layer's keys and
   values from position 0 on, so position pos0+t writes row pos0+t and
   attends over rows 0 .. pos0+t (the KV-cache, or the sequence's own). */
typedef struct {
    float *xn;              /* [T, dim]    RMSNorm(h) of every position          */
    float *q;               /* [T, q_dim]  q after (QK-norm and) RoPE            */
    float *q_pre, *k_pre;   /* [T, q_dim], [T, kv_dim] before QK-norm, or NULL    */
    float *k, *v;           /* [pos0+T, kv_dim]  k after RoPE, v                 */
    float *att;             /* position t's weights at att + t*att_step:
                               [n_heads, att_len]; att_step 0: one, reused      */
    size_t att_step;
    int    att_len;
    float *att_out;         /* [T, q_dim]  the heads' outputs, before wo         */
    float *hb, *hb2;        /* [T, hidden_dim]  SwiGLU gate and up               */
} attnres__seq;

/* f_l(h) at T positions at once: attnres__sublayer for a whole sequence.
   The same steps in the same order per position, but each weight matrix
   meets all T normed inputs in one matmul instead of T matvecs.
     in: h of position t at h + t*h_step [dim]     out: f [T, dim] */
ATTNRES__PRIVATE void attnres__sublayer_seq(const attnres_model *m, const attnres__seq *b, int l, int T,
                                            int pos0, const float *h, size_t h_step, float *f) {
    const attnres_config *c = &m->config;
    const attnres_weights *w = &m->weights;
    int d = c->dim, hid = c->hidden_dim, layer = l / 2, t;
    int hd = attnres_head_dim(c), kvd = attnres_kv_dim(c), qd = c->n_heads * hd;
    float *k = b->k + (size_t)pos0 * kvd, *v = b->v + (size_t)pos0 * kvd;   /* [T, kv_dim] new rows */
    const float *gain = (l % 2 == 1 ? w->ffn_norm : w->attention_norm) + (size_t)layer * d;
    for (t = 0; t < T; t++)                                   /* xn = RMSNorm(h), pre-norm */
        attnres_rmsnorm(b->xn + (size_t)t * d, h + (size_t)t * h_step, gain, d, c->norm_eps);
    if (l % 2 == 1) {
        /* MLP: f = w2 (silu(w1 xn) * (w3 xn)) */
        ATTNRES__MATMUL(b->hb, b->xn, w->w1 + (size_t)layer * hid * d, T, hid, d);    /* gate */
        ATTNRES__MATMUL(b->hb2, b->xn, w->w3 + (size_t)layer * hid * d, T, hid, d);   /* up   */
        for (t = 0; t < T; t++) attnres__swiglu_gate(b->hb + (size_t)t * hid, b->hb2 + (size_t)t * hid, hid);
        ATTNRES__MATMUL(f, b->hb, w->w2 + (size_t)layer * d * hid, T, d, hid);       /* down */
        return;
    }
    /* attention, step 2: q, k, v of every position (k, v into their rows) */
    ATTNRES__MATMUL(b->q, b->xn, w->wq + (size_t)layer * qd * d, T, qd, d);
    ATTNRES__MATMUL(k, b->xn, w->wk + (size_t)layer * kvd * d, T, kvd, d);
    ATTNRES__MATMUL(v, b->xn, w->wv + (size_t)layer * kvd * d, T, kvd, d);
    for (t = 0; t < T; t++) {
        float *qt = b->q + (size_t)t * qd, *kt = k + (size_t)t * kvd;
        if (c->qk_norm) {                                     /* (QK-norm) */
            if (b->q_pre) memcpy(b->q_pre + (size_t)t * qd, qt, (size_t)qd * sizeof(float));
            if (b->k_pre) memcpy(b->k_pre + (size_t)t * kvd, kt, (size_t)kvd * sizeof(float));
            attnres__qk_norm(qt, kt, w, c, layer);
        }
        attnres_rope(qt, qd, hd, pos0 + t, c->rope_theta, &c->rope_scaling);   /* step 3: RoPE at its position */
        attnres_rope(kt, kvd, hd, pos0 + t, c->rope_theta, &c->rope_scaling);
    }
    /* step 4: position pos0+t attends over 0..pos0+t (every k it needs is there now) */
    for (t = 0; t < T; t++)
        ATTNRES__ATTEND(b->att_out + (size_t)t * qd, b->att + (size_t)t * b->att_step, b->q + (size_t)t * qd,
                        b->k, b->v, pos0 + t + 1, c->n_heads, c->n_kv_heads, hd, b->att_len);
    /* step 5: f = wo (the heads' outputs) */
    ATTNRES__MATMUL(f, b->att_out, w->wo + (size_t)layer * d * qd, T, d, qd);
}

/* f_l(h) at every position of the sequence forward, keeping what the
   backward reads: in ts->h [T, L, dim] column l, out ts->f [T, dim]; for
   attention, saved: q (and q, k before QK-norm), k, v, att, att_out. */
ATTNRES__PRIVATE void attnres__train_sublayer(const attnres_model *m, attnres_train_state *ts, int l) {
    const attnres_config *c = &m->config;
    int T = ts->T, L = attnres_n_sublayers(c), layer = l / 2;
    int kvd = attnres_kv_dim(c), qd = c->n_heads * attnres_head_dim(c);
    size_t lq = (size_t)layer * T * qd, lkv = (size_t)layer * T * kvd;   /* this layer's [T, .] rows */
    attnres__seq b;
    b.xn = ts->xn;
    b.q = ts->q + lq;
    b.q_pre = c->qk_norm ? ts->q_pre + lq : NULL;
    b.k_pre = c->qk_norm ? ts->k_pre + lkv : NULL;
    b.k = ts->k + lkv;
    b.v = ts->v + lkv;
    b.att = ts->att + (size_t)layer * T * c->n_heads * T;                /* [T, n_heads, T] */
    b.att_step = (size_t)c->n_heads * T;
    b.att_len = T;
    b.att_out = ts->att_out + lq;
    b.hb = ts->hb;
    b.hb2 = ts->hb2;
    attnres__sublayer_seq(m, &b, l, T, 0, ts->h + (size_t)l * c->dim, (size_t)L * c->dim, ts->f);
}

ATTNRES__PRIVATE int attnres__check_train(const attnres_model *m, const attnres_train_state *ts,
                                          const int *tokens, const int *targets, int T, attnres_error *err);

ATTNRESDEF int attnres_train_forward(const attnres_model *m, attnres_train_state *ts,
                                     const int *tokens, const int *targets, int T, float *loss,
                                     attnres_error *err) {
    const attnres_config *c = &m->config;
    const attnres_weights *w = &m->weights;
    int d = c->dim, L = attnres_n_sublayers(c), S = c->block_size, V = c->vocab_size, t, l, i;
    int attnres = c->residual == ATTNRES_RESIDUAL_ATTNRES, rows = attnres_n_blocks(c) + 1;
    double sum = 0.0;
    int rc = attnres__check_train(m, ts, tokens, targets, T, err);
    if (rc != ATTNRES_OK) return rc;
    ts->T = T;
    ts->has_targets = targets != NULL;
    for (t = 0; t < T; t++) { ts->tokens[t] = tokens[t]; ts->targets[t] = targets ? targets[t] : 0; }

    /* 1. the embeddings: b0 of every position (AttnRes), or the stream h (standard, in out_h) */
    for (t = 0; t < T; t++)
        memcpy(attnres ? ts->blocks + (size_t)t * rows * d : ts->out_h + (size_t)t * d,
               w->tok_embeddings + (size_t)tokens[t] * d, (size_t)d * sizeof(float));

    /* 2. the L sublayers, each over all T positions */
    for (l = 0; l < L; l++) {
        int n = attnres ? attnres_block_row(l, S) : 0, first = attnres && l % S == 0;
        for (t = 0; t < T; t++) {                      /* the input h of every position */
            float *h = ts->h + ((size_t)t * L + l) * d, *blocks = ts->blocks + (size_t)t * rows * d;
            float *alpha = ts->alpha + ((size_t)t * (L + 1) + l) * rows;
            if (!attnres) { memcpy(h, ts->out_h + (size_t)t * d, (size_t)d * sizeof(float)); continue; }
            /* h = softmax over depth of [b0 .. b_{n-1} (, partial)] */
            if (!first) memcpy(ts->partial_in + ((size_t)t * L + l) * d, blocks + (size_t)n * d, (size_t)d * sizeof(float));
            attnres_depth_attention(h, alpha, blocks, n + !first, w->pseudo_query + (size_t)l * d,
                                    w->key_norm + (size_t)l * d, d, c->norm_eps);
            for (i = n + !first; i < rows; i++) alpha[i] = 0.0f;
        }
        attnres__train_sublayer(m, ts, l);             /* f = f_l(h), all positions */
        for (t = 0; t < T; t++) {                      /* where f goes */
            float *f = ts->f + (size_t)t * d;
            if (!attnres) attnres_axpy(ts->out_h + (size_t)t * d, 1.0f, f, d);   /* h = h + f */
            else {                                     /* the block state: partial += f */
                float *partial = ts->blocks + ((size_t)t * rows + n) * d;
                if (first) memcpy(partial, f, (size_t)d * sizeof(float));
                else attnres_axpy(partial, 1.0f, f, d);
            }
        }
    }
    /* 3. AttnRes: the output aggregation over b0 .. b_N (a short last block is complete as it is) */
    for (t = 0; attnres && t < T; t++)
        attnres_depth_attention(ts->out_h + (size_t)t * d, ts->alpha + ((size_t)t * (L + 1) + L) * rows,
                                ts->blocks + (size_t)t * rows * d, rows, w->pseudo_query + (size_t)L * d,
                                w->key_norm + (size_t)L * d, d, c->norm_eps);

    /* 4. final RMSNorm, logits [T, vocab_size], and the mean cross-entropy */
    for (t = 0; t < T; t++) attnres_rmsnorm(ts->xn + (size_t)t * d, ts->out_h + (size_t)t * d, w->norm, d, c->norm_eps);
    ATTNRES__MATMUL(ts->logits, ts->xn, w->output, T, V, d);
    for (t = 0; t < T; t++) {
        float *logits = ts->logits + (size_t)t * V;
        for (i = 0; i < V; i++)
            if (!isfinite(logits[i])) {
                ts->T = 0;
                return attnres__fail(err, ATTNRES_ERR_RANGE, "train forward: logit %d is %s at position %d: the "
                                     "weights overflow float arithmetic", i, isnan(logits[i]) ? "NaN" : "Inf", t);
            }
        if (targets) sum += attnres_cross_entropy(logits, targets[t], V);
    }
    if (loss) *loss = (float)(sum / T);
    return attnres__ok(err);
}

/* T prompt positions pos0 .. pos0+T-1 (T <= s->chunk_len) through
   the model at once: attnres_forward's steps, but each sublayer runs over
   the T positions (attnres__sublayer_seq) with the state's chunk buffers,
   and each position keeps its own block state, so the depth softmax is
   still per position. Keys and values go to the KV-cache rows of their
   positions. Every position's final hidden state is checked; only for the
   last chunk of a prompt (last) are the logits of its last position made.
   As attnres_forward leaves them, s->x, the inspection rows
   (sublayer_input, alpha) and s->logits are those of the last position. */
ATTNRES__PRIVATE int attnres__prefill_chunk(const attnres_model *m, attnres_state *s, const int *tokens,
                                            int T, int pos0, int last, attnres_error *err) {
    const attnres_config *c = &m->config;
    const attnres_weights *w = &m->weights;
    int d = c->dim, L = attnres_n_sublayers(c), S = c->block_size, rows = attnres_n_blocks(c) + 1;
    int attnres = c->residual == ATTNRES_RESIDUAL_ATTNRES, kvd = attnres_kv_dim(c), t, l, i;
    attnres__seq b;
    memset(&b, 0, sizeof b);
    b.xn = s->chunk_xn;           b.q = s->chunk_q;          b.att_out = s->chunk_att_out;
    b.att = s->att;               b.att_step = 0;            b.att_len = s->n_ctx;   /* one row, reused */
    b.hb = s->chunk_hb;           b.hb2 = s->chunk_hb2;
    s->cache_len = pos0 + T;      /* every layer writes rows pos0 .. pos0+T-1 below */

    /* 1. the embeddings: b0 of every position (AttnRes), or its stream h (standard) */
    for (t = 0; t < T; t++)
        memcpy(attnres ? s->chunk_blocks + (size_t)t * rows * d : s->chunk_h + (size_t)t * d,
               w->tok_embeddings + (size_t)tokens[t] * d, (size_t)d * sizeof(float));

    /* 2. the L sublayers, each over the T positions; l = L: the output's h */
    for (l = 0; l <= L; l++) {
        int n = attnres ? (l < L ? attnres_block_row(l, S) : rows) : 0, first = attnres && (l == L || l % S == 0);
        size_t layer_cache = (size_t)(l / 2) * (size_t)s->n_ctx * (size_t)kvd;   /* [n_ctx, kv_dim] */
        for (t = 0; attnres && t < T; t++) {   /* h = softmax over depth of [b0 .. b_{n-1} (, partial)] */
            float *alpha = s->alpha + (size_t)l * rows;      /* [N+1], the last position's stays */
            attnres_depth_attention(s->chunk_h + (size_t)t * d, alpha, s->chunk_blocks + (size_t)t * rows * d,
                                    n + !first, w->pseudo_query + (size_t)l * d, w->key_norm + (size_t)l * d,
                                    d, c->norm_eps);
            for (i = n + !first; i < rows; i++) alpha[i] = 0.0f;
            s->alpha_count[l] = n + !first;
        }
        if (l == L) break;
        memcpy(s->sublayer_input + (size_t)l * d, s->chunk_h + (size_t)(T - 1) * d, (size_t)d * sizeof(float));
        b.k = s->key_cache + layer_cache;
        b.v = s->value_cache + layer_cache;
        attnres__sublayer_seq(m, &b, l, T, pos0, s->chunk_h, (size_t)d, s->chunk_f);   /* f = f_l(h) */
        for (t = 0; t < T; t++) {              /* where f goes */
            float *f = s->chunk_f + (size_t)t * d;
            float *partial = s->chunk_blocks + ((size_t)t * rows + n) * d;
            if (!attnres) attnres_axpy(s->chunk_h + (size_t)t * d, 1.0f, f, d);   /* h = h + f */
            else if (first) memcpy(partial, f, (size_t)d * sizeof(float));        /* partial = f */
            else attnres_axpy(partial, 1.0f, f, d);                              /* partial += f */
        }
    }

    /* 3. every position's final hidden state must be a number (attnres_forward
          would report it in that position's logits) */
    for (t = 0; t < T; t++)
        for (i = 0; i < d; i++)
            if (!isfinite(s->chunk_h[(size_t)t * d + i]))
                return attnres__fail(err, ATTNRES_ERR_RANGE, "prefill: the hidden state at pos %d is not finite: "
                                     "the weights overflow float arithmetic", pos0 + t);
    memcpy(s->x, s->chunk_h + (size_t)(T - 1) * d, (size_t)d * sizeof(float));
    if (!last) return attnres__ok(err);

    /* 4. the last position: final RMSNorm and the output projection */
    attnres_rmsnorm(s->xb, s->x, w->norm, d, c->norm_eps);
    ATTNRES__MATVEC(s->logits, w->output, s->xb, c->vocab_size, d);
    for (i = 0; i < c->vocab_size; i++)
        if (!isfinite(s->logits[i]))
            return attnres__fail(err, ATTNRES_ERR_RANGE, "prefill: logit %d is %s at pos %d: the weights "
                                 "overflow float arithmetic", i, isnan(s->logits[i]) ? "NaN" : "Inf",
                                 pos0 + T - 1);
    return attnres__ok(err);
}

/* xn [T, dim] = RMSNorm(h) of every position with the sublayer's gain, as
   the forward made it (recomputed: the forward keeps h, not xn). */
ATTNRES__PRIVATE void attnres__train_norms(const attnres_model *m, attnres_train_state *ts, int l,
                                           const float *gain) {
    const attnres_config *c = &m->config;
    int d = c->dim, L = attnres_n_sublayers(c), t;
    for (t = 0; t < ts->T; t++)
        attnres_rmsnorm(ts->xn + (size_t)t * d, ts->h + ((size_t)t * L + l) * d, gain, d, c->norm_eps);
}

/* dh [T, dim] += RMSNorm's backward of dxn [T, dim] at every position;
   the gain's gradient into dgain. */
ATTNRES__PRIVATE void attnres__train_norms_backward(const attnres_model *m, attnres_train_state *ts, int l,
                                                    float *dgain, const float *gain) {
    const attnres_config *c = &m->config;
    int d = c->dim, L = attnres_n_sublayers(c), t;
    for (t = 0; t < ts->T; t++)
        attnres_rmsnorm_backward(ts->dh + (size_t)t * d, dgain, ts->dxn + (size_t)t * d,
                                 ts->h + ((size_t)t * L + l) * d, gain, d, c->norm_eps);
}

/* The MLP sublayer's backward over the sequence: attnres_swiglu_mlp_backward
   at every position, with each weight matrix's products over all T
   positions in one matmul backward (the same sums in the same order).
     in: ts->df [T, dim]    out: ts->dh [T, dim] +=, the weights' gradients += */
ATTNRES__PRIVATE void attnres__train_mlp_backward(const attnres_model *m, attnres_train_state *ts, int l) {
    const attnres_config *c = &m->config;
    const attnres_weights *w = &m->weights, *g = &ts->grad;
    int T = ts->T, d = c->dim, hid = c->hidden_dim, layer = l / 2;
    size_t w13 = (size_t)layer * hid * d, w2 = (size_t)layer * d * hid, n = (size_t)T * hid, j;
    /* the forward again: xn = RMSNorm(h), a = w1 xn (gate), b = w3 xn (up), u = silu(a) * b */
    attnres__train_norms(m, ts, l, w->ffn_norm + (size_t)layer * d);
    ATTNRES__MATMUL(ts->hb, ts->xn, w->w1 + w13, T, hid, d);
    ATTNRES__MATMUL(ts->hb2, ts->xn, w->w3 + w13, T, hid, d);
    for (j = 0; j < n; j++) {
        float a = ts->hb[j], sig = 1.0f / (1.0f + expf(-a)), silu = a * sig;
        ts->u[j] = silu * ts->hb2[j];
    }
    /* f = w2 u: du = w2^T df, dw2 += df u^T */
    memset(ts->du, 0, n * sizeof(float));
    ATTNRES__MATMUL_BACKWARD(ts->du, g->w2 + w2, ts->df, w->w2 + w2, ts->u, T, d, hid);
    /* u = silu(a) * b: da = du * b * silu'(a), silu'(a) = sig (1 + a (1 - sig)); db = du * silu(a) */
    for (j = 0; j < n; j++) {
        float a = ts->hb[j], b = ts->hb2[j], sig = 1.0f / (1.0f + expf(-a)), silu = a * sig;
        ts->hb[j] = ts->du[j] * b * sig * (1.0f + a * (1.0f - sig));   /* da */
        ts->hb2[j] = ts->du[j] * silu;                                 /* db */
    }
    /* a = w1 xn, b = w3 xn: dxn = w1^T da + w3^T db, dw1 += da xn^T, dw3 += db xn^T */
    memset(ts->dxn, 0, (size_t)T * d * sizeof(float));
    ATTNRES__MATMUL_BACKWARD(ts->dxn, g->w1 + w13, ts->hb, w->w1 + w13, ts->xn, T, hid, d);
    ATTNRES__MATMUL_BACKWARD(ts->dxn, g->w3 + w13, ts->hb2, w->w3 + w13, ts->xn, T, hid, d);
    attnres__train_norms_backward(m, ts, l, g->ffn_norm + (size_t)layer * d, w->ffn_norm + (size_t)layer * d);
}

/* The backward of attnres__train_sublayer: ts->df [T, dim], the gradient
   of every position's f, gives ts->dh [T, dim] += the gradient of its h,
   and adds the sublayer's weight gradients into ts->grad. Every weight
   matrix's backward runs over all T positions at once (matmul backward). */
ATTNRES__PRIVATE void attnres__train_sublayer_backward(const attnres_model *m, attnres_train_state *ts, int l) {
    const attnres_config *c = &m->config;
    const attnres_weights *w = &m->weights, *g = &ts->grad;
    int T = ts->T, d = c->dim, layer = l / 2, t, hh;
    int hd = attnres_head_dim(c), kvd = attnres_kv_dim(c), qd = c->n_heads * hd;
    size_t lq = (size_t)layer * T * qd, lkv = (size_t)layer * T * kvd;
    size_t wq = (size_t)layer * qd * d, wkv = (size_t)layer * kvd * d, wo = (size_t)layer * d * qd;
    if (l % 2 == 1) { attnres__train_mlp_backward(m, ts, l); return; }
    memset(ts->dq, 0, (size_t)T * qd * sizeof(float));
    memset(ts->dk, 0, (size_t)T * kvd * sizeof(float));
    memset(ts->dv, 0, (size_t)T * kvd * sizeof(float));
    memset(ts->datt_out, 0, (size_t)T * qd * sizeof(float));
    /* step 5': f = wo att_out */
    ATTNRES__MATMUL_BACKWARD(ts->datt_out, g->wo + wo, ts->df, w->wo + wo, ts->att_out + lq, T, d, qd);
    /* step 4': attention of every position; keys and values gather from all later queries */
    for (t = 0; t < T; t++)
        attnres_attend_backward(ts->dq + (size_t)t * qd, ts->dk, ts->dv, ts->datt_out + (size_t)t * qd,
                                ts->att + ((size_t)layer * T + t) * c->n_heads * T, ts->q + lq + (size_t)t * qd,
                                ts->k + lkv, ts->v + lkv, t + 1, c->n_heads, c->n_kv_heads, hd, T);
    for (t = 0; t < T; t++) {
        float *dq = ts->dq + (size_t)t * qd, *dk = ts->dk + (size_t)t * kvd;
        /* step 3': RoPE turned back */
        attnres_rope_backward(dq, qd, hd, t, c->rope_theta, &c->rope_scaling);
        attnres_rope_backward(dk, kvd, hd, t, c->rope_theta, &c->rope_scaling);
        /* (QK-norm: each head's RMSNorm, its gain shared by the heads) */
        if (c->qk_norm) {
            const float *qp = ts->q_pre + lq + (size_t)t * qd, *kp = ts->k_pre + lkv + (size_t)t * kvd;
            memset(ts->dpre, 0, (size_t)qd * sizeof(float));
            for (hh = 0; hh < c->n_heads; hh++)
                attnres_rmsnorm_backward(ts->dpre + (size_t)hh * hd, g->q_norm + (size_t)layer * hd, dq + (size_t)hh * hd,
                                         qp + (size_t)hh * hd, w->q_norm + (size_t)layer * hd, hd, c->norm_eps);
            memcpy(dq, ts->dpre, (size_t)qd * sizeof(float));
            memset(ts->dpre, 0, (size_t)kvd * sizeof(float));
            for (hh = 0; hh < c->n_kv_heads; hh++)
                attnres_rmsnorm_backward(ts->dpre + (size_t)hh * hd, g->k_norm + (size_t)layer * hd, dk + (size_t)hh * hd,
                                         kp + (size_t)hh * hd, w->k_norm + (size_t)layer * hd, hd, c->norm_eps);
            memcpy(dk, ts->dpre, (size_t)kvd * sizeof(float));
        }
    }
    /* step 2': q, k, v = wq xn, wk xn, wv xn; step 1': xn = RMSNorm(h) */
    attnres__train_norms(m, ts, l, w->attention_norm + (size_t)layer * d);
    memset(ts->dxn, 0, (size_t)T * d * sizeof(float));
    ATTNRES__MATMUL_BACKWARD(ts->dxn, g->wq + wq, ts->dq, w->wq + wq, ts->xn, T, qd, d);
    ATTNRES__MATMUL_BACKWARD(ts->dxn, g->wk + wkv, ts->dk, w->wk + wkv, ts->xn, T, kvd, d);
    ATTNRES__MATMUL_BACKWARD(ts->dxn, g->wv + wkv, ts->dv, w->wv + wkv, ts->xn, T, kvd, d);
    attnres__train_norms_backward(m, ts, l, g->attention_norm + (size_t)layer * d,
                                  w->attention_norm + (size_t)layer * d);
}

/* sqrt(sum of x^2) of x [n], summed in double. */
ATTNRES__PRIVATE float attnres__l2_norm(const float *x, size_t n) {
    double sum = 0.0;
    size_t i;
    for (i = 0; i < n; i++) sum += (double)x[i] * x[i];
    return (float)sqrt(sum);
}

ATTNRESDEF int attnres_train_backward(const attnres_model *m, attnres_train_state *ts, attnres_error *err) {
    const attnres_config *c = &m->config;
    const attnres_weights *w = &m->weights, *g = &ts->grad;
    int T = ts->T, d = c->dim, L = attnres_n_sublayers(c), S = c->block_size, V = c->vocab_size, t, l;
    int attnres = c->residual == ATTNRES_RESIDUAL_ATTNRES, rows = attnres_n_blocks(c) + 1;
    if (T < 1 || !ts->has_targets)
        return attnres__fail(err, ATTNRES_ERR_RANGE, "train backward: %s", T < 1 ? "no forward pass to "
                             "differentiate (each backward needs its own attnres_train_forward)"
                             : "the forward pass had no targets, so there is no loss");
    memset(ts->dblocks, 0, (size_t)T * rows * d * sizeof(float));

    /* 4'. mean cross-entropy -> logits -> W_out and the final norm -> out_h */
    memset(ts->dlogits, 0, (size_t)T * V * sizeof(float));
    memset(ts->dxn, 0, (size_t)T * d * sizeof(float));
    for (t = 0; t < T; t++) {
        attnres_cross_entropy_backward(ts->dlogits + (size_t)t * V, ts->logits + (size_t)t * V, ts->targets[t], V,
                                       1.0f / (float)T);
        attnres_rmsnorm(ts->xn + (size_t)t * d, ts->out_h + (size_t)t * d, w->norm, d, c->norm_eps);
    }
    ATTNRES__MATMUL_BACKWARD(ts->dxn, g->output, ts->dlogits, w->output, ts->xn, T, V, d);
    for (t = 0; t < T; t++) {
        /* the gradient of out_h: the stream's (standard), or dh for the output aggregation */
        float *dout_h = attnres ? ts->dh + (size_t)t * d : ts->dblocks + (size_t)t * d;
        if (attnres) memset(dout_h, 0, (size_t)d * sizeof(float));
        attnres_rmsnorm_backward(dout_h, g->norm, ts->dxn + (size_t)t * d, ts->out_h + (size_t)t * d, w->norm, d,
                                 c->norm_eps);
    }
    /* 3'. AttnRes: the output aggregation -> every block b0 .. b_N */
    for (t = 0; attnres && t < T; t++)
        ATTNRES__DEPTH_BACKWARD(ts->dblocks + (size_t)t * rows * d, g->pseudo_query + (size_t)L * d,
                                g->key_norm + (size_t)L * d, ts->dh + (size_t)t * d,
                                ts->alpha + ((size_t)t * (L + 1) + L) * rows, ts->blocks + (size_t)t * rows * d,
                                rows, w->pseudo_query + (size_t)L * d, w->key_norm + (size_t)L * d, d, c->norm_eps);

    /* 2'. the sublayers in reverse */
    for (l = L - 1; l >= 0; l--) {
        int n = attnres ? attnres_block_row(l, S) : 0, first = attnres && l % S == 0;
        /* df: the gradient of where f went (the stream, or its block's partial) */
        memset(ts->df, 0, (size_t)T * d * sizeof(float));
        for (t = 0; t < T; t++) {
            float *dblocks = ts->dblocks + (size_t)t * rows * d;
            if (attnres) attnres_block_add_backward(ts->df + (size_t)t * d, dblocks, l, S, d);
            else attnres_axpy(ts->df + (size_t)t * d, 1.0f, dblocks, d);
        }
        ts->df_norm[l] = attnres__l2_norm(ts->df, (size_t)T * d);    /* ||dloss/df_l|| */
        memset(ts->dh, 0, (size_t)T * d * sizeof(float));
        attnres__train_sublayer_backward(m, ts, l);                  /* dh = d(input h) */
        for (t = 0; t < T; t++) {
            float *dblocks = ts->dblocks + (size_t)t * rows * d, *blocks = ts->blocks + (size_t)t * rows * d;
            if (!attnres) { attnres_axpy(dblocks, 1.0f, ts->dh + (size_t)t * d, d); continue; }   /* h + f */
            /* the depth softmax that made h: its sources as l read them (the
               partial back in its row: the blocks are walked back) */
            if (!first) memcpy(blocks + (size_t)n * d, ts->partial_in + ((size_t)t * L + l) * d, (size_t)d * sizeof(float));
            ATTNRES__DEPTH_BACKWARD(dblocks, g->pseudo_query + (size_t)l * d, g->key_norm + (size_t)l * d,
                                    ts->dh + (size_t)t * d, ts->alpha + ((size_t)t * (L + 1) + l) * rows,
                                    blocks, n + !first, w->pseudo_query + (size_t)l * d,
                                    w->key_norm + (size_t)l * d, d, c->norm_eps);
        }
    }
    /* 1'. the embeddings: row 0 is the gradient of b0 (or of the stream's start) */
    for (t = 0; t < T; t++)
        attnres_embedding_backward(g->tok_embeddings, ts->dblocks + (size_t)t * rows * d, ts->tokens[t], d);
    ts->T = 0;   /* the blocks were walked back: this forward is used up */
    return attnres__ok(err);
}

/* ======================================================================== */
/* 5c. Training: AdamW, the schedule, clipping, windows, the checkpoint     */
/* ======================================================================== */
/* tools/train.py's step, after the backward: mean over the batch, clip at
   global norm 1, AdamW at lr_at(step). The optimizer's moments and the
   gradients have the model's own layout (attnres__carve_weights), so every
   update is one loop over the weights' floats. */

/* from the machinery below: the weights' layout, and the allocation limit */
ATTNRES__PRIVATE uint64_t attnres__carve_weights(attnres_weights *w, float *base, const attnres_config *c,
                                                 int without_matrices);
ATTNRES__PRIVATE int attnres__fits(uint64_t n, size_t elem_size);

/* Floats of an fp32 model's weights (a tied output projection counted once). */
ATTNRES__PRIVATE size_t attnres__n_weights(const attnres_config *c) {
    attnres_weights layout;
    return (size_t)attnres__carve_weights(&layout, NULL, c, 0);
}

ATTNRESDEF int attnres_adamw_init(attnres_adamw *opt, const attnres_model *m, double weight_decay,
                                  attnres_error *err) {
    size_t n;
    memset(opt, 0, sizeof *opt);
    if (!m->memory || m->q8.group_size)
        return attnres__fail(err, ATTNRES_ERR_RANGE, "adamw: %s", m->memory ? "the model is quantized; "
                             "training needs the fp32 weights" : "the model is not initialised");
    if (!(weight_decay >= 0.0 && weight_decay < 1e6))
        return attnres__fail(err, ATTNRES_ERR_RANGE, "adamw: weight_decay = %g, must be finite and >= 0",
                             weight_decay);
    n = attnres__n_weights(&m->config);   /* the model holds n floats: 2n fit unless it is half of memory */
    if (!attnres__fits((uint64_t)n * 2, sizeof(float)) || !(opt->memory = (float *)ATTNRES_MALLOC(2 * n * sizeof(float))))
        return attnres__fail(err, ATTNRES_ERR_NOMEM, "adamw: cannot allocate the moments (%.1f MB)",
                             (double)n * 8.0 / 1e6);
    memset(opt->memory, 0, 2 * n * sizeof(float));
    attnres__carve_weights(&opt->m, opt->memory, &m->config, 0);
    attnres__carve_weights(&opt->v, opt->memory + n, &m->config, 0);
    opt->beta1 = 0.9;
    opt->beta2 = 0.95;
    opt->eps = 1e-8;
    opt->weight_decay = weight_decay;
    opt->config = m->config;
    opt->n_floats = n;
    return attnres__ok(err);
}

ATTNRESDEF void attnres_adamw_free(attnres_adamw *opt) {
    if (opt->memory) ATTNRES_FREE(opt->memory);
    memset(opt, 0, sizeof *opt);
}

/* p[n] *= factor: the decoupled weight decay of one matrix. */
ATTNRES__PRIVATE void attnres__decay(float *p, size_t n, float factor) {
    size_t i;
    for (i = 0; i < n; i++) p[i] *= factor;
}

/* As torch's single-tensor AdamW, operation for operation in float32:
     p *= 1 - lr wd                       (matrices only, before the update)
     m  = m + (1 - beta1) (g - m)         (torch's lerp)
     v  = v beta2 + (1 - beta2) g g
     p += -(lr / (1 - beta1^t)) m / (sqrt(v) / sqrt(1 - beta2^t) + eps) */
ATTNRESDEF int attnres_adamw_step(attnres_adamw *opt, attnres_model *m, const attnres_weights *grad, double lr,
                                  attnres_error *err) {
    const attnres_config *c = &m->config;
    size_t d = (size_t)c->dim, hid = (size_t)c->hidden_dim, nl = (size_t)c->n_layers, i;
    size_t qd = (size_t)c->n_heads * (size_t)attnres_head_dim(c), kvd = (size_t)attnres_kv_dim(c);
    size_t V = (size_t)c->vocab_size;
    double bc1, bc2;
    float b1c, b2, b2c, step_size, bc2_sqrt, eps;
    float *p = m->memory, *mo = opt->memory, *v = opt->memory + opt->n_floats;
    const float *g = grad->tok_embeddings;                        /* every gradient, the model's layout */
    if (!opt->memory || !m->memory || m->q8.group_size || memcmp(&opt->config, c, sizeof *c) != 0)
        return attnres__fail(err, ATTNRES_ERR_RANGE, "adamw: the optimizer was made for another model");
    if (!(lr >= 0.0) || isinf(lr))
        return attnres__fail(err, ATTNRES_ERR_RANGE, "adamw: lr = %g, must be finite and >= 0", lr);
    opt->step++;
    /* 1. weight decay on the matrices: the embeddings, wq wk wv wo, w1 w2 w3, an untied output */
    if (opt->weight_decay != 0.0) {
        float factor = (float)(1.0 - lr * opt->weight_decay);
        attnres__decay(m->weights.tok_embeddings, V * d, factor);
        attnres__decay(m->weights.wq, nl * qd * d, factor);
        attnres__decay(m->weights.wk, nl * kvd * d, factor);
        attnres__decay(m->weights.wv, nl * kvd * d, factor);
        attnres__decay(m->weights.wo, nl * d * qd, factor);
        attnres__decay(m->weights.w1, nl * hid * d, factor);
        attnres__decay(m->weights.w2, nl * d * hid, factor);
        attnres__decay(m->weights.w3, nl * hid * d, factor);
        if (!c->tie_embeddings) attnres__decay(m->weights.output, V * d, factor);
    }
    /* 2. the moments and the update, every weight (the scalars in double, as Python computes them) */
    bc1 = 1.0 - pow(opt->beta1, (double)opt->step);
    bc2 = 1.0 - pow(opt->beta2, (double)opt->step);
    b1c = (float)(1.0 - opt->beta1);
    b2 = (float)opt->beta2;
    b2c = (float)(1.0 - opt->beta2);
    step_size = (float)(-(lr / bc1));
    bc2_sqrt = (float)sqrt(bc2);
    eps = (float)opt->eps;
    for (i = 0; i < opt->n_floats; i++) {
        mo[i] = mo[i] + b1c * (g[i] - mo[i]);
        v[i] = v[i] * b2 + b2c * g[i] * g[i];
        p[i] = p[i] + step_size * mo[i] / (sqrtf(v[i]) / bc2_sqrt + eps);
    }
    return attnres__ok(err);
}

ATTNRESDEF double attnres_lr_at(int step, int steps, double lr, int warmup) {
    double t;
    if (step < warmup) return lr * (step + 1) / warmup;
    t = (double)(step - warmup) / (steps - warmup > 1 ? steps - warmup : 1);
    return lr * (0.1 + 0.9 * 0.5 * (1.0 + cos(3.14159265358979323846 * t)));
}

ATTNRESDEF void attnres_grad_scale(attnres_train_state *ts, float scale) {
    size_t i, n = attnres__n_weights(&ts->config);
    float *g = ts->grad.tok_embeddings;
    for (i = 0; ts->memory && i < n; i++) g[i] *= scale;
}

/* sqrt(sum of g^2), summed in double in the weights' order. */
ATTNRESDEF double attnres_grad_norm(const attnres_train_state *ts) {
    size_t i, n = attnres__n_weights(&ts->config);
    const float *g = ts->grad.tok_embeddings;
    double sum = 0.0;
    for (i = 0; ts->memory && i < n; i++) sum += (double)g[i] * g[i];
    return sqrt(sum);
}

/* clip_grad_norm_: coef = max_norm / (norm + 1e-6), at most 1, always
   applied (NaN or Inf gradients stay so: the caller checks the norm). */
ATTNRESDEF double attnres_grad_clip(attnres_train_state *ts, double max_norm) {
    double norm = attnres_grad_norm(ts);
    float coef = (float)(max_norm / (norm + 1e-6));
    attnres_grad_scale(ts, coef < 1.0f ? coef : 1.0f);
    return norm;
}

ATTNRESDEF int attnres_train_step(attnres_model *m, attnres_train_state *ts, attnres_adamw *opt,
                                  const int *tokens, const int *targets, int B, int T, double lr,
                                  float *loss, double *grad_norm, attnres_error *err) {
    double sum = 0.0, norm;
    float window_loss;
    int b, rc;
    if (B < 1)
        return attnres__fail(err, ATTNRES_ERR_RANGE, "train step: a batch of %d windows, must be >= 1", B);
    attnres_train_zero_grad(ts);
    /* 1. every window: forward (the loss of its T predictions) and backward (adds into ts->grad) */
    for (b = 0; b < B; b++) {
        const int *tok = tokens + (size_t)b * T, *tgt = targets + (size_t)b * T;
        if ((rc = attnres_train_forward(m, ts, tok, tgt, T, &window_loss, err)) != ATTNRES_OK) return rc;
        if ((rc = attnres_train_backward(m, ts, err)) != ATTNRES_OK) return rc;
        sum += window_loss;
    }
    *loss = (float)(sum / B);
    /* 2. the batch's gradient is the mean of the windows' (each is already a mean over T) */
    attnres_grad_scale(ts, 1.0f / (float)B);
    /* 3. clip at global norm 1; 4. AdamW */
    norm = attnres_grad_clip(ts, 1.0);
    *grad_norm = norm;
    if (!isfinite(*loss) || !isfinite(norm))
        return attnres__fail(err, ATTNRES_ERR_RANGE, "train step: the %s is %s; the weights were not updated",
                             isfinite(*loss) ? "gradient norm" : "loss", isnan(isfinite(*loss) ? norm : *loss)
                             ? "NaN" : "infinite");
    return attnres_adamw_step(opt, m, &ts->grad, lr, err);
}

ATTNRESDEF int attnres_train_window(int *tokens, int *targets, const unsigned char *text, size_t n_text, int T,
                                    uint64_t *rng, attnres_error *err) {
    uint64_t range, reject, x;
    size_t start;
    int t;
    if (T < 1 || n_text < (size_t)T + 2)
        return attnres__fail(err, ATTNRES_ERR_RANGE, "window: a window of %d tokens needs a text of at least "
                             "%d bytes (it has %lu)", T, T + 2, (unsigned long)n_text);
    range = (uint64_t)n_text - (uint64_t)T - 1;            /* starts 0 .. range-1, as torch.randint */
    reject = (0 - range) % range;                          /* 2^64 mod range: the uneven bottom     */
    do {
        x = (uint64_t)attnres_random_u32(rng) << 32;
        x |= attnres_random_u32(rng);
    } while (x < reject);
    start = (size_t)(x % range);
    for (t = 0; t < T; t++) {
        tokens[t] = text[start + (size_t)t];
        targets[t] = text[start + (size_t)t + 1];
    }
    return attnres__ok(err);
}

/* ---- the checkpoint writer: reference.save_checkpoint's bytes ---------- */

/* Text appended to dst[cap] (or only counted, dst NULL); n counts it all. */
typedef struct { char *dst; size_t cap, n; } attnres__text;

ATTNRES__PRIVATE void attnres__put(attnres__text *t, const char *fmt, ...) {
    char piece[160];
    int len;
    va_list ap;
    va_start(ap, fmt);
    len = vsnprintf(piece, sizeof piece, fmt, ap);
    va_end(ap);
    if (len < 0) len = 0;
    if ((size_t)len >= sizeof piece) len = (int)sizeof piece - 1;
    if (t->dst && t->n + (size_t)len <= t->cap) memcpy(t->dst + t->n, piece, (size_t)len);
    t->n += (size_t)len;
}

/* x as Python's repr(float) writes it, from the fewest significant digits
   that read back as the same float: "10000.0", "1e-05", "0.0001", "2.5". */
ATTNRES__PRIVATE void attnres__float_repr(char *out, size_t size, float x) {
    char sci[32], digits[16], text[48];
    int p, e, nd = 0, k = 0, i;
    const char *s;
    for (p = 1; p < 9; p++) {
        snprintf(sci, sizeof sci, "%.*e", p - 1, (double)x);
        if (strtof(sci, NULL) == x) break;
    }
    snprintf(sci, sizeof sci, "%.*e", p - 1, (double)x);   /* -?d.ddde[+-]XX */
    s = sci;
    if (*s == '-') { text[k++] = '-'; s++; }
    for (; *s && *s != 'e'; s++) if (*s != '.') digits[nd++] = *s;
    while (nd > 1 && digits[nd - 1] == '0') nd--;          /* 1.0e+04: digits "1", exponent 4 */
    e = atoi(s + 1);
    if (e < -4 || e >= 16) {                               /* d[.ddd]e-XX */
        text[k++] = digits[0];
        if (nd > 1) text[k++] = '.';
        for (i = 1; i < nd; i++) text[k++] = digits[i];
        k += snprintf(text + k, sizeof text - (size_t)k, "e%c%02d", e < 0 ? '-' : '+', e < 0 ? -e : e);
    } else if (e < 0) {                                    /* 0.000ddd */
        text[k++] = '0'; text[k++] = '.';
        for (i = 0; i < -e - 1; i++) text[k++] = '0';
        for (i = 0; i < nd; i++) text[k++] = digits[i];
    } else {                                               /* ddd.ddd, at least one digit after '.' */
        for (i = 0; i <= e; i++) text[k++] = i < nd ? digits[i] : '0';
        text[k++] = '.';
        if (nd <= e + 1) text[k++] = '0';
        for (i = e + 1; i < nd; i++) text[k++] = digits[i];
    }
    text[k] = '\0';
    snprintf(out, size, "%s", text);
}

/* Tensor k of the checkpoint in reference.tensor_names_and_shapes' order:
   its name, data and shape [rows] or [rows, cols] (cols 0); 0 past the end. */
ATTNRES__PRIVATE int attnres__checkpoint_tensor(const attnres_model *m, int k, char *name, size_t size,
                                                const float **data, size_t *rows, size_t *cols) {
    const attnres_config *c = &m->config;
    const attnres_weights *w = &m->weights;
    size_t d = (size_t)c->dim, hid = (size_t)c->hidden_dim, hd = (size_t)attnres_head_dim(c);
    size_t qd = (size_t)c->n_heads * hd, kvd = (size_t)attnres_kv_dim(c), L = (size_t)attnres_n_sublayers(c);
    int per_layer = 9 + (c->qk_norm ? 2 : 0) + (c->residual == ATTNRES_RESIDUAL_ATTNRES ? 4 : 0), j;
    size_t i;
#define ATTNRES__T(nm, ptr, r, cl) do { snprintf(name, size, "%s", nm); *data = (ptr); *rows = (r); *cols = (cl); return 1; } while (0)
#define ATTNRES__TL(nm, ptr, r, cl) do { snprintf(name, size, "layers.%lu.%s", (unsigned long)i, nm); \
                                       *data = (ptr); *rows = (r); *cols = (cl); return 1; } while (0)
    if (k == 0) ATTNRES__T("tok_embeddings.weight", w->tok_embeddings, (size_t)c->vocab_size, d);
    k--;
    if (k < c->n_layers * per_layer) {
        i = (size_t)(k / per_layer);
        j = k % per_layer;
        if (j == 0) ATTNRES__TL("attention_norm.weight", w->attention_norm + i * d, d, 0);
        if (j == 1) ATTNRES__TL("attention.wq.weight", w->wq + i * qd * d, qd, d);
        if (j == 2) ATTNRES__TL("attention.wk.weight", w->wk + i * kvd * d, kvd, d);
        if (j == 3) ATTNRES__TL("attention.wv.weight", w->wv + i * kvd * d, kvd, d);
        if (j == 4) ATTNRES__TL("attention.wo.weight", w->wo + i * d * qd, d, qd);
        if (!c->qk_norm) j += 2;
        else if (j == 5) ATTNRES__TL("attention.q_norm.weight", w->q_norm + i * hd, hd, 0);
        else if (j == 6) ATTNRES__TL("attention.k_norm.weight", w->k_norm + i * hd, hd, 0);
        if (j == 7) ATTNRES__TL("ffn_norm.weight", w->ffn_norm + i * d, d, 0);
        if (j == 8) ATTNRES__TL("feed_forward.w1.weight", w->w1 + i * hid * d, hid, d);
        if (j == 9) ATTNRES__TL("feed_forward.w2.weight", w->w2 + i * d * hid, d, hid);
        if (j == 10) ATTNRES__TL("feed_forward.w3.weight", w->w3 + i * hid * d, hid, d);
        if (j == 11) ATTNRES__TL("attention_res.pseudo_query", w->pseudo_query + 2 * i * d, d, 0);
        if (j == 12) ATTNRES__TL("attention_res.key_norm.weight", w->key_norm + 2 * i * d, d, 0);
        if (j == 13) ATTNRES__TL("ffn_res.pseudo_query", w->pseudo_query + (2 * i + 1) * d, d, 0);
        if (j == 14) ATTNRES__TL("ffn_res.key_norm.weight", w->key_norm + (2 * i + 1) * d, d, 0);
    }
    k -= c->n_layers * per_layer;
    if (c->residual == ATTNRES_RESIDUAL_ATTNRES) {
        if (k == 0) ATTNRES__T("output_res.pseudo_query", w->pseudo_query + L * d, d, 0);
        if (k == 1) ATTNRES__T("output_res.key_norm.weight", w->key_norm + L * d, d, 0);
        k -= 2;
    }
    if (k == 0) ATTNRES__T("norm.weight", w->norm, d, 0);
    if (k == 1 && !c->tie_embeddings) ATTNRES__T("output.weight", w->output, (size_t)c->vocab_size, d);
#undef ATTNRES__TL
#undef ATTNRES__T
    return 0;
}

/* The metadata keys of a RoPE scaling (none for plain RoPE), as
   tools/import_model.py writes them. */
ATTNRES__PRIVATE void attnres__rope_scaling_header(attnres__text *t, const attnres_rope_scaling *r) {
    char factor[40], low[40], high[40];
    if (r->type == ATTNRES_ROPE_PLAIN) return;
    attnres__float_repr(factor, sizeof factor, r->factor);
    attnres__put(t, ",\"rope_scaling\":\"%s\",\"rope_scaling_factor\":\"%s\"",
                 r->type == ATTNRES_ROPE_LINEAR ? "linear" : "llama3", factor);
    if (r->type != ATTNRES_ROPE_LLAMA3) return;
    attnres__float_repr(low, sizeof low, r->low_freq_factor);
    attnres__float_repr(high, sizeof high, r->high_freq_factor);
    attnres__put(t, ",\"rope_scaling_low_freq_factor\":\"%s\",\"rope_scaling_high_freq_factor\":\"%s\","
                 "\"rope_scaling_original_max_position_embeddings\":\"%d\"", low, high, r->original_context);
}

/* The JSON header, unpadded: {"__metadata__":{..},"name":{"dtype":"F32",..},..}
   as json.dumps(separators=(",", ":")) writes reference.py's dicts. */
ATTNRES__PRIVATE size_t attnres__checkpoint_header(char *dst, size_t cap, const attnres_model *m) {
    const attnres_config *c = &m->config;
    attnres__text t;
    char name[96], theta[40], eps[40];
    const float *data;
    size_t rows, cols, offset = 0;
    int k;
    t.dst = dst; t.cap = cap; t.n = 0;
    attnres__float_repr(theta, sizeof theta, c->rope_theta);
    attnres__float_repr(eps, sizeof eps, c->norm_eps);
    attnres__put(&t, "{\"__metadata__\":{\"format\":\"attnres\",\"format_version\":\"%s\",",
                 c->rope_scaling.type ? "3" : c->head_dim > 0 || c->qk_norm ? "2" : "1");
    attnres__put(&t, "\"dim\":\"%d\",\"hidden_dim\":\"%d\",\"n_layers\":\"%d\",\"n_heads\":\"%d\",",
                 c->dim, c->hidden_dim, c->n_layers, c->n_heads);
    attnres__put(&t, "\"n_kv_heads\":\"%d\",\"vocab_size\":\"%d\",\"seq_len\":\"%d\",", c->n_kv_heads,
                 c->vocab_size, c->seq_len);
    attnres__put(&t, "\"rope_theta\":\"%s\",\"norm_eps\":\"%s\",\"tie_embeddings\":\"%s\",", theta, eps,
                 c->tie_embeddings ? "true" : "false");
    attnres__put(&t, "\"residual\":\"%s\",\"block_size\":\"%d\"",
                 c->residual == ATTNRES_RESIDUAL_ATTNRES ? "attnres" : "standard", c->block_size);
    if (c->head_dim > 0) attnres__put(&t, ",\"head_dim\":\"%d\"", c->head_dim);
    if (c->qk_norm) attnres__put(&t, ",\"qk_norm\":\"true\"");
    attnres__rope_scaling_header(&t, &c->rope_scaling);
    for (k = 0; k < c->n_eos; k++)   /* "eos_token_id":"2" or "1,2,3" */
        attnres__put(&t, k ? ",%d" : ",\"eos_token_id\":\"%d", c->eos_token_id[k]);
    if (c->n_eos) attnres__put(&t, "\"");
    attnres__put(&t, "}");
    for (k = 0; attnres__checkpoint_tensor(m, k, name, sizeof name, &data, &rows, &cols); k++) {
        size_t bytes = rows * (cols ? cols : 1) * sizeof(float);
        if (cols) attnres__put(&t, ",\"%s\":{\"dtype\":\"F32\",\"shape\":[%lu,%lu],", name, (unsigned long)rows,
                               (unsigned long)cols);
        else attnres__put(&t, ",\"%s\":{\"dtype\":\"F32\",\"shape\":[%lu],", name, (unsigned long)rows);
        attnres__put(&t, "\"data_offsets\":[%lu,%lu]}", (unsigned long)offset, (unsigned long)(offset + bytes));
        offset += bytes;
    }
    attnres__put(&t, "}");
    return t.n;
}

/* 8 bytes of length, the header padded with spaces to a multiple of 8
   (counting those 8), then every tensor's floats, little-endian. */
ATTNRESDEF size_t attnres_checkpoint_bytes(const attnres_model *m) {
    size_t header;
    if (!m->memory || m->q8.group_size) return 0;
    header = attnres__checkpoint_header(NULL, 0, m);
    header += (8 - (8 + header) % 8) % 8;
    return 8 + header + attnres__n_weights(&m->config) * sizeof(float);
}

ATTNRESDEF int attnres_checkpoint_write(void *dst, size_t size, const attnres_model *m, attnres_error *err) {
    unsigned char *out = (unsigned char *)dst;
    size_t need = attnres_checkpoint_bytes(m), header, padded, at, i, n;
    char name[96];
    const float *data;
    size_t rows, cols;
    int k, b;
    if (!need)
        return attnres__fail(err, ATTNRES_ERR_RANGE, "checkpoint write: %s", m->memory ? "the model is "
                             "quantized; only fp32 models are written" : "the model is not initialised");
    if (size < need)
        return attnres__fail(err, ATTNRES_ERR_RANGE, "checkpoint write: %lu bytes given, %lu needed",
                             (unsigned long)size, (unsigned long)need);
    header = attnres__checkpoint_header((char *)out + 8, need - 8, m);
    padded = header + (8 - (8 + header) % 8) % 8;
    memset(out + 8 + header, ' ', padded - header);
    for (b = 0; b < 8; b++) out[b] = (unsigned char)((uint64_t)padded >> (8 * b));
    at = 8 + padded;
    for (k = 0; attnres__checkpoint_tensor(m, k, name, sizeof name, &data, &rows, &cols); k++) {
        n = rows * (cols ? cols : 1);
        for (i = 0; i < n; i++, at += 4) {
            uint32_t u;
            memcpy(&u, &data[i], sizeof u);
            for (b = 0; b < 4; b++) out[at + (size_t)b] = (unsigned char)(u >> (8 * b));
        }
    }
    return attnres__ok(err);
}

/* ======================================================================== */
/* 6. Sampling: greedy, temperature, top-p, with a portable seeded RNG       */
/* ======================================================================== */

/* xorshift64* (Vigna): the same sequence on every platform and compiler. */
ATTNRESDEF uint32_t attnres_random_u32(uint64_t *state) {
    *state ^= *state >> 12;
    *state ^= *state << 25;
    *state ^= *state >> 27;
    return (uint32_t)((*state * 0x2545F4914F6CDD1DULL) >> 32);
}

/* 24 random bits scaled to [0, 1): exactly representable in float. */
ATTNRESDEF float attnres_random_f32(uint64_t *state) {
    return (float)(attnres_random_u32(state) >> 8) / 16777216.0f;
}

ATTNRESDEF int attnres_argmax(const float *x, int n) {
    int i, best = 0;
    for (i = 1; i < n; i++) if (x[i] > x[best]) best = i;   /* strict >: ties keep the lowest id */
    return best;
}

ATTNRESDEF int attnres_sampler_init(attnres_sampler *s, int vocab_size, float temperature,
                                    float topp, uint64_t seed, attnres_error *err) {
    memset(s, 0, sizeof *s);
    if (vocab_size < 1)
        return attnres__fail(err, ATTNRES_ERR_RANGE, "sampler: vocab_size = %d must be >= 1", vocab_size);
    if (!(temperature >= 0.0f) || isinf(temperature))
        return attnres__fail(err, ATTNRES_ERR_RANGE, "sampler: temperature must be finite and >= 0");
    if (!(topp >= 0.0f && topp <= 1.0f))
        return attnres__fail(err, ATTNRES_ERR_RANGE, "sampler: top-p must be in [0, 1]");
    s->candidates = (attnres_prob_index *)ATTNRES_MALLOC((size_t)vocab_size * sizeof(attnres_prob_index));
    if (!s->candidates)
        return attnres__fail(err, ATTNRES_ERR_NOMEM, "sampler: cannot allocate %d candidates", vocab_size);
    s->vocab_size = vocab_size;
    s->temperature = temperature;
    s->topp = topp;
    /* xorshift has one fixed point, 0: map it to a fixed non-zero seed */
    s->rng_state = seed ? seed : 0x9E3779B97F4A7C15ULL;
    return attnres__ok(err);
}

ATTNRESDEF void attnres_sampler_free(attnres_sampler *s) {
    if (s->candidates) ATTNRES_FREE(s->candidates);
    memset(s, 0, sizeof *s);
}

/* Index of the first probability whose running sum passes coin in [0,1). */
ATTNRES__PRIVATE int attnres__sample_cdf(const float *probs, int n, float coin) {
    float cdf = 0.0f;
    int i;
    for (i = 0; i < n; i++) {
        cdf += probs[i];
        if (coin < cdf) return i;
    }
    return n - 1;   /* rounding left the total a hair under 1 */
}

/* Descending probability; equal probabilities by ascending id, so the order
   (and hence the sample) does not depend on the qsort implementation. */
ATTNRES__PRIVATE int attnres__by_prob_desc(const void *a, const void *b) {
    const attnres_prob_index *x = (const attnres_prob_index *)a, *y = (const attnres_prob_index *)b;
    if (x->prob > y->prob) return -1;
    if (x->prob < y->prob) return 1;
    return (x->index > y->index) - (x->index < y->index);
}

/* Nucleus sampling: the smallest set of most likely tokens whose mass
   reaches topp. Tokens below (1-topp)/(n-1) can never be in that set (if
   one were, all n would have to be), so they are dropped before sorting:
   usually only a handful of tokens remain to sort, not the vocabulary. */
ATTNRES__PRIVATE int attnres__sample_topp(attnres_sampler *s, const float *probs, float coin) {
    int n = s->vocab_size, n0 = 0, last, i;
    float cutoff = n > 1 ? (1.0f - s->topp) / (float)(n - 1) : 0.0f, mass = 0.0f, r;
    attnres_prob_index *cand = s->candidates;
    for (i = 0; i < n; i++)
        if (probs[i] >= cutoff) { cand[n0].index = i; cand[n0].prob = probs[i]; n0++; }
    /* Nothing kept means even the top token is under the cutoff, which
       happens only when it alone already holds more than topp. */
    s->n_sorted = n0;
    if (n0 == 0) return attnres_argmax(probs, n);
    qsort(cand, (size_t)n0, sizeof *cand, attnres__by_prob_desc);
    last = n0 - 1;
    for (i = 0; i < n0; i++) {
        mass += cand[i].prob;
        if (mass > s->topp) { last = i; break; }
    }
    r = coin * mass;   /* sample within the kept mass */
    mass = 0.0f;
    for (i = 0; i <= last; i++) {
        mass += cand[i].prob;
        if (r < mass) return cand[i].index;
    }
    return cand[last].index;
}

/* x[n] <- softmax(x / T) for T > 0, computed as exp((x_i - max) / T) / sum.
   Dividing first (x_i / T, as the textbook writes it) overflows to Inf once
   |x_i| / T passes FLT_MAX (T = 1e-38, or a logit of 3e38 at T = 0.5), and
   Inf - Inf in the softmax is NaN. Here (x_i - max) / T is <= 0 for every
   T and finite x, so exp() lies in [0, 1] and the top token gets exp(0) = 1:
   as T -> 0+ all the mass goes to the argmax, the limit greedy decoding is. */
ATTNRES__PRIVATE void attnres__softmax_temperature(float *x, int n, float temperature) {
    float max = x[0], sum = 0.0f;
    int i;
    for (i = 1; i < n; i++) if (x[i] > max) max = x[i];
    for (i = 0; i < n; i++) { x[i] = expf((x[i] - max) / temperature); sum += x[i]; }
    for (i = 0; i < n; i++) x[i] /= sum;
}

ATTNRESDEF int attnres_sample(attnres_sampler *s, float *logits) {
    float coin;
    if (s->temperature == 0.0f) return attnres_argmax(logits, s->vocab_size);
    attnres__softmax_temperature(logits, s->vocab_size, s->temperature);
    coin = attnres_random_f32(&s->rng_state);
    if (s->topp <= 0.0f || s->topp >= 1.0f) return attnres__sample_cdf(logits, s->vocab_size, coin);
    return attnres__sample_topp(s, logits, coin);
}

/* ************************************************************************ */
/* Part 2: the machinery. Nothing below is needed to follow the model:      */
/* error messages, config checks, memory layout, traffic accounting and     */
/* checkpoint loading.                                                       */
/* ************************************************************************ */

/* ======================================================================== */
/* Errors                                                                    */
/* ======================================================================== */

ATTNRESDEF const char *attnres_status_name(int code) {
    switch (code) {
    case ATTNRES_OK:          return "ok";
    case ATTNRES_ERR_IO:      return "i/o error";
    case ATTNRES_ERR_FORMAT:  return "malformed file";
    case ATTNRES_ERR_DTYPE:   return "unsupported dtype";
    case ATTNRES_ERR_SHAPE:   return "wrong shape";
    case ATTNRES_ERR_MISSING: return "missing entry";
    case ATTNRES_ERR_CONFIG:  return "invalid config";
    case ATTNRES_ERR_RANGE:   return "out of range";
    case ATTNRES_ERR_NOMEM:   return "out of memory";
    default:                  return "unknown error";
    }
}

/* Length of the valid UTF-8 sequence at p that is not a C1 control (2..4),
   or 0. Overlong forms, surrogates and code points past U+10FFFF are not
   valid. */
ATTNRES__PRIVATE int attnres__utf8_len(const unsigned char *p) {
    unsigned cp;
    int n, k;
    if (p[0] >= 0xC2 && p[0] <= 0xDF) { n = 2; cp = p[0] & 0x1Fu; }
    else if (p[0] >= 0xE0 && p[0] <= 0xEF) { n = 3; cp = p[0] & 0x0Fu; }
    else if (p[0] >= 0xF0 && p[0] <= 0xF4) { n = 4; cp = p[0] & 0x07u; }
    else return 0;
    for (k = 1; k < n; k++) {
        if ((p[k] & 0xC0) != 0x80) return 0;   /* also stops at the NUL */
        cp = (cp << 6) | (p[k] & 0x3Fu);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF) || (cp >= 0x80 && cp <= 0x9F))
        return 0;
    return n;
}

ATTNRESDEF void attnres_escape(char *dst, size_t size, const char *src) {
    const unsigned char *p = (const unsigned char *)src;
    size_t at = 0;
    if (size == 0) return;
    while (*p) {
        int n = *p >= 0x20 && *p < 0x7F ? 1 : *p >= 0x80 ? attnres__utf8_len(p) : 0;
        if (n > 0) {                          /* printable: copied as it is */
            if (at + (size_t)n >= size) break;
            memcpy(dst + at, p, (size_t)n);
            at += (size_t)n;
            p += n;
        } else {                              /* anything else: \xNN       */
            if (at + 4 >= size) break;
            snprintf(dst + at, 5, "\\x%02x", *p);
            at += 4;
            p++;
        }
    }
    dst[at] = '\0';
}

/* Fills err (if any) and returns the code, so callers write
   `return attnres__fail(err, CODE, "...", ...);`. The message is escaped
   (attnres_escape): names and values quoted from a file stay inert text. */
ATTNRES__PRIVATE int attnres__fail(attnres_error *err, int code, const char *fmt, ...) {
    if (err) {
        char raw[sizeof err->message];
        va_list ap;
        err->code = code;
        va_start(ap, fmt);
        vsnprintf(raw, sizeof raw, fmt, ap);
        va_end(ap);
        attnres_escape(err->message, sizeof err->message, raw);
    }
    return code;
}

ATTNRES__PRIVATE int attnres__ok(attnres_error *err) {
    if (err) { err->code = ATTNRES_OK; err->message[0] = '\0'; }
    return ATTNRES_OK;
}

/* ======================================================================== */
/* Config                                                                    */
/* ======================================================================== */

ATTNRESDEF int attnres_n_sublayers(const attnres_config *c) { return 2 * c->n_layers; }
ATTNRESDEF int attnres_head_dim(const attnres_config *c)    { return c->head_dim > 0 ? c->head_dim : c->dim / c->n_heads; }
ATTNRESDEF int attnres_kv_dim(const attnres_config *c)      { return c->n_kv_heads * attnres_head_dim(c); }
ATTNRESDEF int attnres_n_blocks(const attnres_config *c) {
    int L = attnres_n_sublayers(c);
    if (c->residual != ATTNRES_RESIDUAL_ATTNRES || c->block_size <= 0) return 0;
    return (L + c->block_size - 1) / c->block_size;  /* ceil(L/S): last may be short */
}

/* Upper bounds that keep every size product below 2^62 floats and every
   index inside an int; far beyond any model this library is meant for. */
#define ATTNRES__MAX_DIM     (1 << 16)
#define ATTNRES__MAX_LAYERS  1024
#define ATTNRES__MAX_VOCAB   (1 << 22)
#define ATTNRES__MAX_SEQ     (1 << 20)

/* A scaling attnres_rope_freq can compute: a known type; a finite
   factor > 0; for llama3 an original context >= 1 and 0 < low < high
   (the blend divides by high - low). */
ATTNRES__PRIVATE int attnres__rope_scaling_validate(const attnres_rope_scaling *r, attnres_error *err) {
#define ATTNRES__POSITIVE(field) \
    if (!(r->field > 0.0f) || isinf(r->field)) \
        return attnres__fail(err, ATTNRES_ERR_CONFIG, "config: rope_scaling.%s must be finite and > 0", #field)
    if (r->type == ATTNRES_ROPE_PLAIN) return ATTNRES_OK;
    if (r->type != ATTNRES_ROPE_LINEAR && r->type != ATTNRES_ROPE_LLAMA3)
        return attnres__fail(err, ATTNRES_ERR_CONFIG, "config: unknown rope_scaling type %d", r->type);
    ATTNRES__POSITIVE(factor);
    if (r->type == ATTNRES_ROPE_LINEAR) return ATTNRES_OK;
    ATTNRES__POSITIVE(low_freq_factor);
    ATTNRES__POSITIVE(high_freq_factor);
#undef ATTNRES__POSITIVE
    if (!(r->high_freq_factor > r->low_freq_factor))
        return attnres__fail(err, ATTNRES_ERR_CONFIG, "config: rope_scaling.high_freq_factor = %g must be greater "
                             "than low_freq_factor = %g", (double)r->high_freq_factor, (double)r->low_freq_factor);
    if (r->original_context < 1 || r->original_context > ATTNRES__MAX_SEQ)
        return attnres__fail(err, ATTNRES_ERR_CONFIG, "config: rope_scaling.original_context = %d, must be in "
                             "[1, %d]", r->original_context, ATTNRES__MAX_SEQ);
    return ATTNRES_OK;
}

/* 0 to ATTNRES_MAX_EOS end-of-sequence ids, each a token of the vocab. */
ATTNRES__PRIVATE int attnres__eos_validate(const attnres_config *c, attnres_error *err) {
    int i;
    if (c->n_eos < 0 || c->n_eos > ATTNRES_MAX_EOS)
        return attnres__fail(err, ATTNRES_ERR_CONFIG, "config: n_eos = %d, must be in [0, %d]", c->n_eos,
                             ATTNRES_MAX_EOS);
    for (i = 0; i < c->n_eos; i++)
        if (c->eos_token_id[i] < 0 || c->eos_token_id[i] >= c->vocab_size)
            return attnres__fail(err, ATTNRES_ERR_CONFIG, "config: eos_token_id %d is not a token (vocab_size %d)",
                                 c->eos_token_id[i], c->vocab_size);
    return ATTNRES_OK;
}

ATTNRESDEF int attnres_config_validate(const attnres_config *c, attnres_error *err) {
#define ATTNRES__RANGE(field, lo, hi) \
    if (c->field < (lo) || c->field > (hi)) \
        return attnres__fail(err, ATTNRES_ERR_CONFIG, "config: %s = %d, must be in [%d, %d]", \
                             #field, c->field, (lo), (hi))
    ATTNRES__RANGE(dim, 1, ATTNRES__MAX_DIM);
    ATTNRES__RANGE(hidden_dim, 1, 4 * ATTNRES__MAX_DIM);
    ATTNRES__RANGE(n_layers, 1, ATTNRES__MAX_LAYERS);
    ATTNRES__RANGE(n_heads, 1, c->dim);
    ATTNRES__RANGE(n_kv_heads, 1, c->n_heads);
    ATTNRES__RANGE(vocab_size, 1, ATTNRES__MAX_VOCAB);
    ATTNRES__RANGE(seq_len, 1, ATTNRES__MAX_SEQ);
    ATTNRES__RANGE(tie_embeddings, 0, 1);
    ATTNRES__RANGE(head_dim, 0, ATTNRES__MAX_DIM);
    ATTNRES__RANGE(qk_norm, 0, 1);
#undef ATTNRES__RANGE
    if (c->head_dim == 0 && c->dim % c->n_heads != 0)
        return attnres__fail(err, ATTNRES_ERR_CONFIG, "config: n_heads = %d does not divide dim = %d "
                             "(set head_dim to give heads another width)", c->n_heads, c->dim);
    if ((int64_t)c->n_heads * attnres_head_dim(c) > 4 * ATTNRES__MAX_DIM)   /* 2^32 can be: not int, not long */
        return attnres__fail(err, ATTNRES_ERR_CONFIG, "config: n_heads * head_dim = %d * %d exceeds %d",
                             c->n_heads, attnres_head_dim(c), 4 * ATTNRES__MAX_DIM);
    if (attnres_head_dim(c) % 2 != 0)
        return attnres__fail(err, ATTNRES_ERR_CONFIG, "config: head_dim = %d must be even for RoPE",
                             attnres_head_dim(c));
    if (c->n_heads % c->n_kv_heads != 0)
        return attnres__fail(err, ATTNRES_ERR_CONFIG, "config: n_kv_heads = %d does not divide n_heads = %d",
                             c->n_kv_heads, c->n_heads);
    /* !(x > 0) also rejects NaN */
    if (!(c->rope_theta > 0.0f) || isinf(c->rope_theta))
        return attnres__fail(err, ATTNRES_ERR_CONFIG, "config: rope_theta must be finite and > 0");
    if (!(c->norm_eps > 0.0f) || isinf(c->norm_eps))
        return attnres__fail(err, ATTNRES_ERR_CONFIG, "config: norm_eps must be finite and > 0");
    if (attnres__rope_scaling_validate(&c->rope_scaling, err) != ATTNRES_OK) return ATTNRES_ERR_CONFIG;
    if (attnres__eos_validate(c, err) != ATTNRES_OK) return ATTNRES_ERR_CONFIG;
    if (c->residual == ATTNRES_RESIDUAL_STANDARD) {
        if (c->block_size != 0)
            return attnres__fail(err, ATTNRES_ERR_CONFIG, "config: block_size = %d, must be 0 for standard residuals",
                                 c->block_size);
    } else if (c->residual == ATTNRES_RESIDUAL_ATTNRES) {
        if (c->block_size < 1 || c->block_size > attnres_n_sublayers(c))
            return attnres__fail(err, ATTNRES_ERR_CONFIG,
                                 "config: block_size = %d, must be in [1, L = %d] (sublayers)",
                                 c->block_size, attnres_n_sublayers(c));
    } else {
        return attnres__fail(err, ATTNRES_ERR_CONFIG, "config: unknown residual mode %d", c->residual);
    }
    return attnres__ok(err);
}

/* ======================================================================== */
/* Model: one allocation, carved into the weight arrays                      */
/* ======================================================================== */

/* n elements of elem_size bytes fit in one allocation: at most
   ATTNRES_SIZE_MAX bytes, and never more than size_t can count. */
ATTNRES__PRIVATE uint64_t attnres__size_limit(void) {
    return (uint64_t)ATTNRES_SIZE_MAX < (uint64_t)SIZE_MAX ? (uint64_t)ATTNRES_SIZE_MAX : (uint64_t)SIZE_MAX;
}
ATTNRES__PRIVATE int attnres__fits(uint64_t n, size_t elem_size) { return n <= attnres__size_limit() / elem_size; }

/* Lays the weights out in one buffer; with base == NULL it only counts.
   Returns the number of floats, counted in 64 bits: the caller checks it
   with attnres__fits before carving (then every offset fits a size_t).
   Without_matrices (a quantized model): the eight matvec matrices are left
   out (NULL), their int8 copies live in q8. */
ATTNRES__PRIVATE uint64_t attnres__carve_weights(attnres_weights *w, float *base, const attnres_config *c,
                                                 int without_matrices) {
    uint64_t d = (uint64_t)c->dim, hd = (uint64_t)c->hidden_dim, nl = (uint64_t)c->n_layers;
    uint64_t qd = (uint64_t)c->n_heads * (uint64_t)attnres_head_dim(c), kvd = (uint64_t)attnres_kv_dim(c);
    uint64_t L1 = (uint64_t)attnres_n_sublayers(c) + 1, V = (uint64_t)c->vocab_size;
    uint64_t at = 0;
#define ATTNRES__TAKE(field, count) \
    do { w->field = base ? base + (size_t)at : NULL; at += (count); } while (0)
#define ATTNRES__TAKE_MATRIX(field, count) \
    do { if (without_matrices) w->field = NULL; else ATTNRES__TAKE(field, count); } while (0)
    ATTNRES__TAKE(tok_embeddings, V * d);
    ATTNRES__TAKE(attention_norm, nl * d);
    ATTNRES__TAKE_MATRIX(wq, nl * qd * d);
    ATTNRES__TAKE_MATRIX(wk, nl * kvd * d);
    ATTNRES__TAKE_MATRIX(wv, nl * kvd * d);
    ATTNRES__TAKE_MATRIX(wo, nl * d * qd);
    ATTNRES__TAKE(ffn_norm, nl * d);
    ATTNRES__TAKE_MATRIX(w1, nl * hd * d);
    ATTNRES__TAKE_MATRIX(w2, nl * d * hd);
    ATTNRES__TAKE_MATRIX(w3, nl * hd * d);
    ATTNRES__TAKE(norm, d);
    if (c->qk_norm) {
        ATTNRES__TAKE(q_norm, nl * (uint64_t)attnres_head_dim(c));
        ATTNRES__TAKE(k_norm, nl * (uint64_t)attnres_head_dim(c));
    } else {
        w->q_norm = w->k_norm = NULL;
    }
    if (c->residual == ATTNRES_RESIDUAL_ATTNRES) {
        ATTNRES__TAKE(pseudo_query, L1 * d);
        ATTNRES__TAKE(key_norm, L1 * d);
    } else {
        w->pseudo_query = w->key_norm = NULL;
    }
    if (c->tie_embeddings) w->output = w->tok_embeddings;
    else ATTNRES__TAKE_MATRIX(output, V * d);
#undef ATTNRES__TAKE_MATRIX
#undef ATTNRES__TAKE
    return at;
}

/* The same for the int8 matrices of a model quantized with group size G
   (G == 0: nothing, every pointer NULL): scales go to scales_base (floats),
   values to values_base; with NULL bases it only counts (in 64 bits, as
   attnres__carve_weights). */
ATTNRES__PRIVATE void attnres__carve_q8(attnres_q8_weights *q, float *scales_base, int8_t *values_base,
                                        const attnres_config *c, int G, uint64_t *n_scales, uint64_t *n_values) {
    uint64_t d = (uint64_t)c->dim, hd = (uint64_t)c->hidden_dim, nl = (uint64_t)c->n_layers;
    uint64_t qd = (uint64_t)c->n_heads * (uint64_t)attnres_head_dim(c), kvd = (uint64_t)attnres_kv_dim(c);
    uint64_t V = (uint64_t)c->vocab_size, at_s = 0, at_v = 0;
    memset(q, 0, sizeof *q);
    q->group_size = G;
#define ATTNRES__TAKE_Q8(field, rows, cols) \
    do { \
        q->field.q = G && values_base ? values_base + (size_t)at_v : NULL; \
        q->field.scale = G && scales_base ? scales_base + (size_t)at_s : NULL; \
        if (G) { at_v += (rows) * (cols); at_s += (rows) * ((cols) / (uint64_t)G); } \
    } while (0)
    ATTNRES__TAKE_Q8(wq, nl * qd, d);
    ATTNRES__TAKE_Q8(wk, nl * kvd, d);
    ATTNRES__TAKE_Q8(wv, nl * kvd, d);
    ATTNRES__TAKE_Q8(wo, nl * d, qd);
    ATTNRES__TAKE_Q8(w1, nl * hd, d);
    ATTNRES__TAKE_Q8(w2, nl * d, hd);
    ATTNRES__TAKE_Q8(w3, nl * hd, d);
    ATTNRES__TAKE_Q8(output, V, d);   /* tied or not: the output projection has its own int8 copy */
#undef ATTNRES__TAKE_Q8
    *n_scales = at_s;
    *n_values = at_v;
}

/* A group size the config can use: every matrix row (dim, n_heads*head_dim
   or hidden_dim weights) must be a whole number of groups. */
ATTNRES__PRIVATE int attnres__check_group_size(const attnres_config *c, int G, attnres_error *err) {
    int q_dim = c->n_heads * attnres_head_dim(c);
    if (G < 1 || G > 4096)
        return attnres__fail(err, ATTNRES_ERR_CONFIG, "q8: group_size = %d, must be in [1, 4096]", G);
    if (c->dim % G || q_dim % G || c->hidden_dim % G)
        return attnres__fail(err, ATTNRES_ERR_CONFIG, "q8: group_size = %d must divide dim = %d, "
                             "n_heads*head_dim = %d and hidden_dim = %d", G, c->dim, q_dim, c->hidden_dim);
    return ATTNRES_OK;
}

/* Zeroed weights for a valid config: fp32 (G == 0), or with int8 matrices
   of group size G. One allocation: the floats, then the scales, then the
   int8 values. */
ATTNRES__PRIVATE int attnres__model_alloc(attnres_model *m, const attnres_config *c, int G, attnres_error *err) {
    uint64_t n, n_scales, n_values, bytes;
    int rc;
    memset(m, 0, sizeof *m);
    if ((rc = attnres_config_validate(c, err)) != ATTNRES_OK) return rc;
    if (G && (rc = attnres__check_group_size(c, G, err)) != ATTNRES_OK) return rc;
    n = attnres__carve_weights(&m->weights, NULL, c, G > 0);
    attnres__carve_q8(&m->q8, NULL, NULL, c, G, &n_scales, &n_values);
    n += n_scales;
    bytes = n * sizeof(float) + n_values;   /* below 2^64: each count is below 2^62 */
    if (!attnres__fits(bytes, 1))
        return attnres__fail(err, ATTNRES_ERR_NOMEM, "model: %llu weights need %.1f MB, more than one "
                             "allocation can hold here (%.1f MB)", (unsigned long long)(n + n_values),
                             (double)bytes / 1e6, (double)attnres__size_limit() / 1e6);
    m->memory = (float *)ATTNRES_MALLOC((size_t)bytes);
    if (!m->memory)
        return attnres__fail(err, ATTNRES_ERR_NOMEM, "model: cannot allocate %llu weights (%.1f MB)",
                             (unsigned long long)(n + n_values), (double)bytes / 1e6);
    memset(m->memory, 0, (size_t)bytes);
    attnres__carve_weights(&m->weights, m->memory, c, G > 0);
    attnres__carve_q8(&m->q8, m->memory + (size_t)(n - n_scales), (int8_t *)(m->memory + (size_t)n), c, G,
                      &n_scales, &n_values);
    m->config = *c;
    m->n_floats = (size_t)n;
    m->n_int8 = (size_t)n_values;
    return attnres__ok(err);
}

ATTNRESDEF int attnres_model_init(attnres_model *m, const attnres_config *c, attnres_error *err) {
    return attnres__model_alloc(m, c, 0, err);
}

/* The index of the first non-finite value of x [n] (NaN or Inf), or n.
   (A long would not do: where it has 32 bits, a large matrix's index
   would turn negative and read as "none".) */
ATTNRES__PRIVATE size_t attnres__first_nonfinite(const float *x, size_t n) {
    size_t i;
    for (i = 0; i < n; i++) if (isnan(x[i]) || isinf(x[i])) return i;
    return n;
}

ATTNRESDEF int attnres_model_quantize(attnres_model *m, int G, attnres_error *err) {
    const attnres_config *c = &m->config;
    const attnres_weights *w = &m->weights;
    size_t d = (size_t)c->dim, nl = (size_t)c->n_layers, V = (size_t)c->vocab_size;
    size_t L1 = (size_t)attnres_n_sublayers(c) + 1;
    int qd = c->n_heads * attnres_head_dim(c), kvd = attnres_kv_dim(c), D = c->dim, HD = c->hidden_dim;
    int NL = c->n_layers, rc, k;
    attnres_model q;
    if (!m->memory) return attnres__fail(err, ATTNRES_ERR_RANGE, "q8: the model is not initialised");
    if (m->q8.group_size)
        return attnres__fail(err, ATTNRES_ERR_RANGE, "q8: the model is already quantized (group_size %d)",
                             m->q8.group_size);
    if ((rc = attnres__check_group_size(c, G, err)) != ATTNRES_OK) return rc;
    {   /* every matrix finite: a scale of Inf or NaN would poison its group */
        const float *mats[8] = {w->wq, w->wk, w->wv, w->wo, w->w1, w->w2, w->w3, w->output};
        size_t sizes[8] = {nl * (size_t)qd * d, nl * (size_t)kvd * d, nl * (size_t)kvd * d, nl * d * (size_t)qd,
                           nl * (size_t)HD * d, nl * d * (size_t)HD, nl * (size_t)HD * d, V * d};
        const char *names[8] = {"wq", "wk", "wv", "wo", "w1", "w2", "w3", "output"};
        for (k = 0; k < 8; k++) {
            size_t at = attnres__first_nonfinite(mats[k], sizes[k]);
            if (at < sizes[k])
                return attnres__fail(err, ATTNRES_ERR_RANGE, "q8: weight %s[%zu] is not finite", names[k], at);
        }
    }
    if ((rc = attnres__model_alloc(&q, c, G, err)) != ATTNRES_OK) return rc;
    /* the fp32 tensors, as they are */
    memcpy(q.weights.tok_embeddings, w->tok_embeddings, V * d * sizeof(float));
    memcpy(q.weights.attention_norm, w->attention_norm, nl * d * sizeof(float));
    memcpy(q.weights.ffn_norm, w->ffn_norm, nl * d * sizeof(float));
    memcpy(q.weights.norm, w->norm, d * sizeof(float));
    if (c->qk_norm) {
        memcpy(q.weights.q_norm, w->q_norm, nl * (size_t)attnres_head_dim(c) * sizeof(float));
        memcpy(q.weights.k_norm, w->k_norm, nl * (size_t)attnres_head_dim(c) * sizeof(float));
    }
    if (c->residual == ATTNRES_RESIDUAL_ATTNRES) {
        memcpy(q.weights.pseudo_query, w->pseudo_query, L1 * d * sizeof(float));
        memcpy(q.weights.key_norm, w->key_norm, L1 * d * sizeof(float));
    }
    /* every matrix, its layers stacked: [n_layers * rows, cols] */
    attnres_quantize_q8(q.q8.wq.q, q.q8.wq.scale, w->wq, NL * qd, D, G);
    attnres_quantize_q8(q.q8.wk.q, q.q8.wk.scale, w->wk, NL * kvd, D, G);
    attnres_quantize_q8(q.q8.wv.q, q.q8.wv.scale, w->wv, NL * kvd, D, G);
    attnres_quantize_q8(q.q8.wo.q, q.q8.wo.scale, w->wo, NL * D, qd, G);
    attnres_quantize_q8(q.q8.w1.q, q.q8.w1.scale, w->w1, NL * HD, D, G);
    attnres_quantize_q8(q.q8.w2.q, q.q8.w2.scale, w->w2, NL * D, HD, G);
    attnres_quantize_q8(q.q8.w3.q, q.q8.w3.scale, w->w3, NL * HD, D, G);
    attnres_quantize_q8(q.q8.output.q, q.q8.output.scale, w->output, c->vocab_size, D, G);
    q.q8.int8_activations = m->q8.int8_activations;   /* a W8A8 request made before quantizing */
    attnres_model_free(m);
    *m = q;
    return attnres__ok(err);
}

ATTNRESDEF void attnres_model_free(attnres_model *m) {
    if (m->memory) ATTNRES_FREE(m->memory);
    memset(m, 0, sizeof *m);
}

/* ======================================================================== */
/* Run state: all activation buffers and the KV-cache, allocated once        */
/* ======================================================================== */

/* Prompt positions one prefill chunk holds: ATTNRES_PREFILL_CHUNK, or
   fewer where that many positions' activations would pass a quarter of
   the weights (a model with tiny matrices and huge dims, as hostile files
   are): the state stays in proportion to the model. Every real shape gets
   the full chunk (110M: 110 M weights, 8 K floats a position). */
ATTNRES__PRIVATE int attnres__prefill_chunk_len(const attnres_config *c) {
    attnres_weights probe;
    uint64_t d = (uint64_t)c->dim, qd = (uint64_t)c->n_heads * (uint64_t)attnres_head_dim(c);
    uint64_t rows = c->residual == ATTNRES_RESIDUAL_ATTNRES ? (uint64_t)attnres_n_blocks(c) + 1 : 0;
    uint64_t per = 3 * d + 2 * qd + 2 * (uint64_t)c->hidden_dim + rows * d;   /* the chunk_* rows */
    uint64_t fit = attnres__carve_weights(&probe, NULL, c, 0) / 4 / per;
    return fit >= (uint64_t)ATTNRES_PREFILL_CHUNK ? ATTNRES_PREFILL_CHUNK : fit < 1 ? 1 : (int)fit;
}

/* Same pattern as the weights: count with base == NULL (in 64 bits, the
   KV-cache alone reaching 2^49 floats), check, then carve. */
ATTNRES__PRIVATE uint64_t attnres__carve_state(attnres_state *s, float *base, const attnres_config *c,
                                               int n_ctx) {
    uint64_t d = (uint64_t)c->dim, hd = (uint64_t)c->hidden_dim;
    uint64_t qd = (uint64_t)c->n_heads * (uint64_t)attnres_head_dim(c), kvd = (uint64_t)attnres_kv_dim(c);
    uint64_t T = (uint64_t)n_ctx, nl = (uint64_t)c->n_layers, L = (uint64_t)attnres_n_sublayers(c);
    uint64_t rows = (uint64_t)attnres_n_blocks(c) + 1;   /* b0..b_N; standard: just b0 */
    uint64_t S = (uint64_t)c->block_size;                  /* 0 for standard         */
    uint64_t max_cols = d > qd ? (d > hd ? d : hd) : (qd > hd ? qd : hd);
    uint64_t C = (uint64_t)attnres__prefill_chunk_len(c);  /* prefill positions at once */
    uint64_t at = 0;
    float *xq_floats;
#define ATTNRES__TAKE(ptr, count) \
    do { ptr = base ? base + (size_t)at : NULL; at += (count); } while (0)
    ATTNRES__TAKE(s->x, d);
    ATTNRES__TAKE(s->xb, d);
    ATTNRES__TAKE(s->xb2, qd);
    ATTNRES__TAKE(s->f, d);
    ATTNRES__TAKE(s->q, qd);
    ATTNRES__TAKE(s->att, (uint64_t)c->n_heads * T);
    ATTNRES__TAKE(s->hb, hd);
    ATTNRES__TAKE(s->hb2, hd);
    ATTNRES__TAKE(s->logits, (uint64_t)c->vocab_size);
    ATTNRES__TAKE(s->xq_scale, max_cols);
    ATTNRES__TAKE(xq_floats, (max_cols + sizeof(float) - 1) / sizeof(float));   /* int8 [max_cols] */
    ATTNRES__TAKE(s->key_cache, nl * T * kvd);
    ATTNRES__TAKE(s->value_cache, nl * T * kvd);
    ATTNRES__TAKE(s->bs.blocks, rows * d);
    ATTNRES__TAKE(s->bs.inv_rms, rows);
    ATTNRES__TAKE(s->sublayer_input, L * d);
    ATTNRES__TAKE(s->alpha, (L + 1) * rows);
    ATTNRES__TAKE(s->phase1_o, rows * S * d);
    ATTNRES__TAKE(s->phase1_max, rows * S);
    ATTNRES__TAKE(s->phase1_sum, rows * S);
    ATTNRES__TAKE(s->phase1_logits, S * rows);
    ATTNRES__TAKE(s->phase1_folded, S * d);
    ATTNRES__TAKE(s->chunk_h, C * d);
    ATTNRES__TAKE(s->chunk_xn, C * d);
    ATTNRES__TAKE(s->chunk_q, C * qd);
    ATTNRES__TAKE(s->chunk_att_out, C * qd);
    ATTNRES__TAKE(s->chunk_f, C * d);
    ATTNRES__TAKE(s->chunk_hb, C * hd);
    ATTNRES__TAKE(s->chunk_hb2, C * hd);
    ATTNRES__TAKE(s->chunk_blocks, c->residual == ATTNRES_RESIDUAL_ATTNRES ? C * rows * d : 0);
#undef ATTNRES__TAKE
    s->xq = (int8_t *)xq_floats;
    return at;
}

/* The state's bytes in 64 bits: its floats, and alpha_count [L+1]. */
ATTNRES__PRIVATE uint64_t attnres__state_bytes(attnres_state *probe, const attnres_config *c, int n_ctx) {
    return attnres__carve_state(probe, NULL, c, n_ctx) * sizeof(float) +
           ((uint64_t)attnres_n_sublayers(c) + 1) * sizeof(int);
}

ATTNRESDEF size_t attnres_state_bytes(const attnres_config *c, int n_ctx) {
    attnres_state probe;
    uint64_t n;
    if (attnres_config_validate(c, NULL) != ATTNRES_OK || n_ctx < 1 || n_ctx > c->seq_len) return 0;
    n = attnres__state_bytes(&probe, c, n_ctx);
    return attnres__fits(n, 1) ? (size_t)n : 0;   /* 0 where attnres_state_init_ctx refuses it */
}

ATTNRESDEF int attnres_state_init(attnres_state *s, const attnres_config *c, attnres_error *err) {
    return attnres_state_init_ctx(s, c, c->seq_len, err);   /* a bad seq_len fails validation first */
}

ATTNRESDEF int attnres_state_init_ctx(attnres_state *s, const attnres_config *c, int n_ctx,
                                      attnres_error *err) {
    uint64_t n, bytes;
    int rc, L;
    memset(s, 0, sizeof *s);
    if ((rc = attnres_config_validate(c, err)) != ATTNRES_OK) return rc;
    if (n_ctx < 1 || n_ctx > c->seq_len)
        return attnres__fail(err, ATTNRES_ERR_RANGE, "state: n_ctx = %d, must be in [1, seq_len = %d]",
                             n_ctx, c->seq_len);
    L = attnres_n_sublayers(c);
    bytes = attnres__state_bytes(s, c, n_ctx);
    if (!attnres__fits(bytes, 1))
        return attnres__fail(err, ATTNRES_ERR_NOMEM, "state: %d positions need %.1f MB of activations and "
                             "KV-cache, more than one allocation can hold here (%.1f MB); ask for fewer "
                             "(attnres_state_init_ctx)", n_ctx, (double)bytes / 1e6,
                             (double)attnres__size_limit() / 1e6);
    n = attnres__carve_state(s, NULL, c, n_ctx);
    s->memory = (float *)ATTNRES_MALLOC((size_t)n * sizeof(float));
    s->alpha_count = (int *)ATTNRES_MALLOC((size_t)(L + 1) * sizeof(int));
    if (!s->memory || !s->alpha_count) {
        attnres_state_free(s);
        return attnres__fail(err, ATTNRES_ERR_NOMEM, "state: cannot allocate %.1f MB of activations and KV-cache",
                             (double)n * 4.0 / 1e6);
    }
    memset(s->memory, 0, (size_t)n * sizeof(float));
    memset(s->alpha_count, 0, (size_t)(L + 1) * sizeof(int));
    attnres__carve_state(s, s->memory, c, n_ctx);
    s->n_ctx = n_ctx;
    s->bs.dim = c->dim;
    s->bs.block_size = c->block_size;
    s->bs.max_blocks = attnres_n_blocks(c) + 1;
    s->config = *c;
    s->cache_len = 0;
    s->path = ATTNRES_PATH_DIRECT;
    s->chunk_len = attnres__prefill_chunk_len(c);
    return attnres__ok(err);
}

ATTNRESDEF void attnres_state_reset(attnres_state *s) { s->cache_len = 0; }

ATTNRESDEF void attnres_state_free(attnres_state *s) {
    if (s->memory) ATTNRES_FREE(s->memory);
    if (s->alpha_count) ATTNRES_FREE(s->alpha_count);
    memset(s, 0, sizeof *s);
}

/* ======================================================================== */
/* Training state: everything a forward and backward over T tokens need     */
/* ======================================================================== */

/* Lays the training state out in one buffer; with base == NULL it only
   counts. Counts are doubles: exact far past any memory, so a size that
   would overflow size_t is seen and refused rather than wrapped. */
ATTNRES__PRIVATE double attnres__carve_train(attnres_train_state *ts, float *base, const attnres_config *c,
                                             int n_tokens) {
    double d = c->dim, hid = c->hidden_dim, nl = c->n_layers, L = attnres_n_sublayers(c), T = n_tokens;
    double qd = (double)c->n_heads * attnres_head_dim(c), kvd = attnres_kv_dim(c), V = c->vocab_size;
    int attnres = c->residual == ATTNRES_RESIDUAL_ATTNRES;
    double rows = attnres_n_blocks(c) + 1, at = 0;
    double ints = (2.0 * T * sizeof(int) + sizeof(float) - 1) / sizeof(float);
    double qkn = c->qk_norm ? 1 : 0, big = qd > kvd ? qd : kvd;
    float *int_floats;
#define ATTNRES__TAKE(ptr, count) \
    do { ptr = base ? base + (size_t)at : NULL; at += (count); } while (0)
    ATTNRES__TAKE(int_floats, ints);                     /* tokens, targets */
    ATTNRES__TAKE(ts->h, T * L * d);
    ATTNRES__TAKE(ts->partial_in, attnres ? T * L * d : 0);
    ATTNRES__TAKE(ts->blocks, attnres ? T * rows * d : 0);
    ATTNRES__TAKE(ts->alpha, attnres ? T * (L + 1) * rows : 0);
    ATTNRES__TAKE(ts->out_h, T * d);
    ATTNRES__TAKE(ts->q_pre, qkn * nl * T * qd);
    ATTNRES__TAKE(ts->k_pre, qkn * nl * T * kvd);
    ATTNRES__TAKE(ts->q, nl * T * qd);
    ATTNRES__TAKE(ts->k, nl * T * kvd);
    ATTNRES__TAKE(ts->v, nl * T * kvd);
    ATTNRES__TAKE(ts->att, nl * T * c->n_heads * T);
    ATTNRES__TAKE(ts->att_out, nl * T * qd);
    ATTNRES__TAKE(ts->logits, T * V);
    ATTNRES__TAKE(ts->f, T * d);
    ATTNRES__TAKE(ts->df, T * d);
    ATTNRES__TAKE(ts->dh, T * d);
    ATTNRES__TAKE(ts->dblocks, T * rows * d);
    ATTNRES__TAKE(ts->dq, T * qd);
    ATTNRES__TAKE(ts->dk, T * kvd);
    ATTNRES__TAKE(ts->dv, T * kvd);
    ATTNRES__TAKE(ts->datt_out, T * qd);
    ATTNRES__TAKE(ts->dpre, big);
    ATTNRES__TAKE(ts->xn, T * d);
    ATTNRES__TAKE(ts->dxn, T * d);
    ATTNRES__TAKE(ts->hb, T * hid);
    ATTNRES__TAKE(ts->hb2, T * hid);
    ATTNRES__TAKE(ts->u, T * hid);
    ATTNRES__TAKE(ts->du, T * hid);
    ATTNRES__TAKE(ts->dlogits, T * V);
    ATTNRES__TAKE(ts->df_norm, L);
#undef ATTNRES__TAKE
    ts->tokens = (int *)int_floats;
    ts->targets = base ? ts->tokens + n_tokens : NULL;
    /* the gradients, last: the model's own layout (a valid config's weights fit: the model was allocated) */
    at += (double)attnres__carve_weights(&ts->grad, base ? base + (size_t)at : NULL, c, 0);
    return at;
}

/* Floats of a training state, or 0 when it cannot exist (bad config or n_tokens, too big). */
ATTNRES__PRIVATE size_t attnres__train_floats(const attnres_config *c, int n_tokens) {
    attnres_train_state scratch;
    double n;
    if (attnres_config_validate(c, NULL) != ATTNRES_OK || n_tokens < 1 || n_tokens > c->seq_len) return 0;
    n = attnres__carve_train(&scratch, NULL, c, n_tokens);
    /* past 4e18 floats no memory holds it (and the double-to-integer
       conversion stays exact); below, the same limit as every allocation */
    if (!(n < 4.0e18)) return 0;
    return attnres__fits((uint64_t)n, sizeof(float)) ? (size_t)n : 0;
}

ATTNRESDEF size_t attnres_train_state_bytes(const attnres_config *c, int n_tokens) {
    return attnres__train_floats(c, n_tokens) * sizeof(float);
}

ATTNRESDEF int attnres_train_state_init(attnres_train_state *ts, const attnres_model *m, int n_tokens,
                                        attnres_error *err) {
    const attnres_config *c = &m->config;
    size_t n;
    int rc;
    memset(ts, 0, sizeof *ts);
    if (!m->memory) return attnres__fail(err, ATTNRES_ERR_RANGE, "train state: the model is not initialised");
    if (m->q8.group_size)
        return attnres__fail(err, ATTNRES_ERR_RANGE, "train state: the model is quantized (group_size %d); "
                             "training needs the fp32 weights", m->q8.group_size);
    if ((rc = attnres_config_validate(c, err)) != ATTNRES_OK) return rc;
    if (n_tokens < 1 || n_tokens > c->seq_len)
        return attnres__fail(err, ATTNRES_ERR_RANGE, "train state: n_tokens = %d, must be in [1, seq_len = %d]",
                             n_tokens, c->seq_len);
    if (!(n = attnres__train_floats(c, n_tokens))) {
        attnres_train_state scratch;
        return attnres__fail(err, ATTNRES_ERR_NOMEM, "train state: %d tokens of this model need %.0f MB, "
                             "more than one allocation can hold here (%.0f MB); train on fewer tokens",
                             n_tokens, attnres__carve_train(&scratch, NULL, c, n_tokens) * 4.0 / 1e6,
                             (double)attnres__size_limit() / 1e6);
    }
    ts->memory = (float *)ATTNRES_MALLOC(n * sizeof(float));
    if (!ts->memory)
        return attnres__fail(err, ATTNRES_ERR_NOMEM, "train state: cannot allocate %.1f MB", (double)n * 4.0 / 1e6);
    memset(ts->memory, 0, n * sizeof(float));
    attnres__carve_train(ts, ts->memory, c, n_tokens);
    ts->n_floats = n;
    ts->n_tokens = n_tokens;
    ts->config = *c;
    return attnres__ok(err);
}

ATTNRESDEF void attnres_train_state_free(attnres_train_state *ts) {
    if (ts->memory) ATTNRES_FREE(ts->memory);
    memset(ts, 0, sizeof *ts);
}

/* Zeroes the gradients (the backward adds into them). */
ATTNRESDEF void attnres_train_zero_grad(attnres_train_state *ts) {
    attnres_weights layout;   /* the gradients are the state's last floats, tok_embeddings first */
    size_t n = attnres__carve_weights(&layout, NULL, &ts->config, 0);
    if (ts->memory) memset(ts->grad.tok_embeddings, 0, n * sizeof(float));
}

/* A forward the state can run: the model it was made for (same config),
   fp32, 1 <= T <= n_tokens, every token and target in the vocabulary. */
ATTNRES__PRIVATE int attnres__check_train(const attnres_model *m, const attnres_train_state *ts,
                                          const int *tokens, const int *targets, int T, attnres_error *err) {
    int t;
    if (!m->memory || !ts->memory)
        return attnres__fail(err, ATTNRES_ERR_RANGE, "train forward: model or state not initialised");
    if (m->q8.group_size || memcmp(&m->config, &ts->config, sizeof m->config) != 0)
        return attnres__fail(err, ATTNRES_ERR_RANGE, "train forward: the state was made for another model");
    if (T < 1 || T > ts->n_tokens)
        return attnres__fail(err, ATTNRES_ERR_RANGE, "train forward: T = %d tokens, the state holds 1 to %d",
                             T, ts->n_tokens);
    for (t = 0; t < T; t++) {
        if (tokens[t] < 0 || tokens[t] >= m->config.vocab_size)
            return attnres__fail(err, ATTNRES_ERR_RANGE, "train forward: token %d is %d, out of range [0, %d)",
                                 t, tokens[t], m->config.vocab_size);
        if (targets && (targets[t] < 0 || targets[t] >= m->config.vocab_size))
            return attnres__fail(err, ATTNRES_ERR_RANGE, "train forward: target %d is %d, out of range [0, %d)",
                                 t, targets[t], m->config.vocab_size);
    }
    return ATTNRES_OK;
}

/* ======================================================================== */
/* Memory traffic of the residual path                                      */
/* ======================================================================== */

/* The rules, per token, in dim-sized vectors (scalars are free):
     standard    each sublayer reads h and f, writes h
     direct      a sublayer with n sources reads each twice (logits, then
                 the mix) and writes h; adding f to the partial reads f
                 (and the partial, once it exists) and writes the partial
     two-phase   per block with n completed blocks: phase 1 reads each
                 twice and writes one o per query; per sublayer, phase 2
                 reads o (and the partial twice, once it exists) and
                 writes h; the partial as above; the 1/rms of b0 and of
                 every block as it completes reads it once
   The output aggregation is a sublayer with N+1 sources and no partial. */
ATTNRESDEF int attnres_traffic(const attnres_config *c, int path, attnres_io *sublayers,
                               attnres_io *output, attnres_error *err) {
    int L, S, N, l, rc;
    attnres_io sub = {0, 0}, out = {0, 0};
    if ((rc = attnres_config_validate(c, err)) != ATTNRES_OK) return rc;
    if (path != ATTNRES_PATH_DIRECT && path != ATTNRES_PATH_TWO_PHASE)
        return attnres__fail(err, ATTNRES_ERR_CONFIG, "traffic: unknown path %d (DIRECT or TWO_PHASE)", path);
    L = attnres_n_sublayers(c);
    S = c->block_size;
    N = attnres_n_blocks(c);
    if (c->residual == ATTNRES_RESIDUAL_STANDARD) {
        sub.reads = 2L * L;
        sub.writes = L;
    } else {
        for (l = 0; l < L; l++) {
            int i = l % S, n = 1 + l / S;            /* i-th sublayer of its block; n completed blocks */
            if (path == ATTNRES_PATH_DIRECT) {
                sub.reads += 2L * (n + (i > 0));
                sub.writes += 1;
            } else {
                if (i == 0) {                        /* phase 1 of the block */
                    sub.reads += 2L * n;
                    sub.writes += L - l < S ? L - l : S;
                }
                sub.reads += i > 0 ? 3 : 1;          /* phase 2 */
                sub.writes += 1;
            }
            sub.reads += i > 0 ? 2 : 1;              /* partial += f */
            sub.writes += 1;
        }
        if (path == ATTNRES_PATH_TWO_PHASE) sub.reads += 1 + N;   /* the 1/rms of b0..b_N */
        out.reads = 2L * (N + 1) + (path == ATTNRES_PATH_TWO_PHASE);
        out.writes = 1 + (path == ATTNRES_PATH_TWO_PHASE);
    }
    if (sublayers) *sublayers = sub;
    if (output) *output = out;
    return attnres__ok(err);
}

/* The forward pass's argument checks (part 1 calls it first). */
ATTNRES__PRIVATE int attnres__check_forward(const attnres_model *m, const attnres_state *s,
                                            int token, int pos, attnres_error *err) {
    const attnres_config *c = &m->config, *sc = &s->config;
    if (!m->memory || !s->memory)
        return attnres__fail(err, ATTNRES_ERR_RANGE, "forward: model or state not initialised");
    if (c->dim != sc->dim || c->hidden_dim != sc->hidden_dim || c->n_layers != sc->n_layers ||
        c->n_heads != sc->n_heads || c->n_kv_heads != sc->n_kv_heads ||
        c->vocab_size != sc->vocab_size || c->seq_len != sc->seq_len ||
        c->residual != sc->residual || c->block_size != sc->block_size ||
        attnres_head_dim(c) != attnres_head_dim(sc) || c->qk_norm != sc->qk_norm)
        return attnres__fail(err, ATTNRES_ERR_CONFIG, "forward: the state was made for a different config");
    if (s->path != ATTNRES_PATH_DIRECT && s->path != ATTNRES_PATH_TWO_PHASE)
        return attnres__fail(err, ATTNRES_ERR_CONFIG, "forward: unknown path %d (DIRECT or TWO_PHASE)", s->path);
    if (m->q8.int8_activations && m->q8.group_size <= 0)   /* else it would quietly run fp32 */
        return attnres__fail(err, ATTNRES_ERR_CONFIG, "forward: int8_activations is set on a model that is not "
                             "quantized (call attnres_model_quantize first)");
    if (token < 0 || token >= c->vocab_size)
        return attnres__fail(err, ATTNRES_ERR_RANGE, "forward: token %d out of range [0, %d)",
                             token, c->vocab_size);
    if (pos < 0 || pos >= s->n_ctx)
        return attnres__fail(err, ATTNRES_ERR_RANGE, "forward: pos %d out of range [0, n_ctx = %d) "
                             "(the state's context; the model's seq_len is %d)", pos, s->n_ctx, c->seq_len);
    if (pos > s->cache_len)
        return attnres__fail(err, ATTNRES_ERR_RANGE,
                             "forward: pos %d skips positions: the KV-cache holds only %d", pos, s->cache_len);
    return ATTNRES_OK;
}


/* ======================================================================== */
/* safetensors: 8-byte little-endian header length N, N bytes of JSON,      */
/* then the raw tensor bytes. The JSON reader below accepts exactly the      */
/* shape of that header and nothing else:                                    */
/*   { "__metadata__": {"key": "value", ...},                                */
/*     "name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]},   */
/*     ... }                                                                 */
/* Every read is bounds-checked against the header, every number against    */
/* overflow, and every tensor's bytes against the data section.             */
/* ======================================================================== */

#define ATTNRES__MAX_HEADER ((uint64_t)100 * 1024 * 1024)  /* the format's own limit */

/* A parsed file: the loader's view of it (and the tests', which include
   the implementation and read their golden files through these). */
typedef enum { ATTNRES__DT_F32, ATTNRES__DT_I32, ATTNRES__DT_I8, ATTNRES__DT_OTHER } attnres__dtype;

#define ATTNRES__ST_MAX_DIMS 8

typedef struct {
    const char          *name;                       /* NUL-terminated     */
    int                  dtype;                      /* an attnres__dtype   */
    char                 dtype_name[8];              /* as in the file     */
    int                  ndim;
    uint64_t             shape[ATTNRES__ST_MAX_DIMS];
    uint64_t             numel;
    const unsigned char *data;     /* little-endian, maybe unaligned: copy */
    uint64_t             nbytes;
} attnres__st_tensor;

typedef struct { const char *key; const char *value; } attnres__st_meta;

typedef struct {
    unsigned char     *bytes;      /* the whole file                        */
    size_t             n_bytes;
    size_t             n_data;     /* bytes in the data section after the header */
    attnres__st_tensor *tensors;    /* [n_tensors]                           */
    int                n_tensors;
    attnres__st_meta   *meta;       /* [n_meta] the __metadata__ strings     */
    int                n_meta;
    char              *strings;    /* decoded names, keys and values        */
} attnres__st_file;


typedef struct {
    const char    *p, *start, *end;  /* cursor into the JSON header          */
    char          *arena;            /* decoded strings are written here     */
    attnres_error *err;
} attnres__json;

ATTNRES__PRIVATE int attnres__json_fail(attnres__json *j, const char *what) {
    return attnres__fail(j->err, ATTNRES_ERR_FORMAT, "safetensors header: %s at byte %ld",
                         what, (long)(j->p - j->start) + 8);
}

ATTNRES__PRIVATE void attnres__json_ws(attnres__json *j) {
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r')) j->p++;
}

/* Skips whitespace and consumes ch if it is next; returns 1 if it was. */
ATTNRES__PRIVATE int attnres__json_eat(attnres__json *j, char ch) {
    attnres__json_ws(j);
    if (j->p < j->end && *j->p == ch) { j->p++; return 1; }
    return 0;
}

ATTNRES__PRIVATE int attnres__json_expect(attnres__json *j, char ch) {
    char what[32];
    if (attnres__json_eat(j, ch)) return ATTNRES_OK;
    snprintf(what, sizeof what, "expected '%c'", ch);
    return attnres__json_fail(j, what);
}

ATTNRES__PRIVATE int attnres__hex(char ch) {
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

/* A JSON string, decoded into the arena (UTF-8, NUL-terminated). A decoded
   string is never longer than its quoted source, so an arena the size of
   the header cannot overflow. \u escapes outside the BMP (surrogates) and
   \u0000 are refused: names have no use for them. */
ATTNRES__PRIVATE int attnres__json_string(attnres__json *j, const char **out) {
    char *o = j->arena;
    if (!attnres__json_eat(j, '"')) return attnres__json_fail(j, "expected a string");
    for (;;) {
        unsigned char ch;
        if (j->p >= j->end) return attnres__json_fail(j, "unterminated string");
        ch = (unsigned char)*j->p++;
        if (ch == '"') break;
        if (ch < 0x20) return attnres__json_fail(j, "control character in string");
        if (ch != '\\') { *o++ = (char)ch; continue; }
        if (j->p >= j->end) return attnres__json_fail(j, "unterminated escape");
        ch = (unsigned char)*j->p++;
        switch (ch) {
        case '"': case '\\': case '/': *o++ = (char)ch; break;
        case 'b': *o++ = '\b'; break;
        case 'f': *o++ = '\f'; break;
        case 'n': *o++ = '\n'; break;
        case 'r': *o++ = '\r'; break;
        case 't': *o++ = '\t'; break;
        case 'u': {
            unsigned cp = 0;
            int k;
            if (j->end - j->p < 4) return attnres__json_fail(j, "truncated \\u escape");
            for (k = 0; k < 4; k++) {
                int h = attnres__hex(*j->p++);
                if (h < 0) return attnres__json_fail(j, "bad hex digit in \\u escape");
                cp = cp * 16 + (unsigned)h;
            }
            if (cp == 0 || (cp >= 0xD800 && cp <= 0xDFFF))
                return attnres__json_fail(j, "unsupported \\u escape (NUL or surrogate)");
            /* 6 source bytes become at most 3 UTF-8 bytes */
            if (cp < 0x80) { *o++ = (char)cp; }
            else if (cp < 0x800) { *o++ = (char)(0xC0 | (cp >> 6)); *o++ = (char)(0x80 | (cp & 0x3F)); }
            else { *o++ = (char)(0xE0 | (cp >> 12)); *o++ = (char)(0x80 | ((cp >> 6) & 0x3F));
                   *o++ = (char)(0x80 | (cp & 0x3F)); }
            break;
        }
        default: return attnres__json_fail(j, "bad escape in string");
        }
    }
    *o++ = '\0';
    *out = j->arena;
    j->arena = o;
    return ATTNRES_OK;
}

/* A non-negative integer without sign, fraction or exponent. */
ATTNRES__PRIVATE int attnres__json_uint(attnres__json *j, uint64_t *out) {
    uint64_t v = 0;
    const char *first;
    attnres__json_ws(j);
    first = j->p;
    while (j->p < j->end && *j->p >= '0' && *j->p <= '9') {
        uint64_t digit = (uint64_t)(*j->p - '0');
        if (v > (UINT64_MAX - digit) / 10) return attnres__json_fail(j, "integer overflow");
        v = v * 10 + digit;
        j->p++;
    }
    if (j->p == first) return attnres__json_fail(j, "expected a non-negative integer");
    if (j->p - first > 1 && *first == '0') return attnres__json_fail(j, "integer with a leading zero");
    if (j->p < j->end && (*j->p == '.' || *j->p == 'e' || *j->p == 'E'))
        return attnres__json_fail(j, "expected an integer, found a fraction");
    *out = v;
    return ATTNRES_OK;
}

/* [u, u, ...] with at most max entries. */
ATTNRES__PRIVATE int attnres__json_uint_array(attnres__json *j, uint64_t *vals, int max, int *count) {
    int rc;
    *count = 0;
    if ((rc = attnres__json_expect(j, '[')) != ATTNRES_OK) return rc;
    if (attnres__json_eat(j, ']')) return ATTNRES_OK;
    do {
        if (*count == max) return attnres__json_fail(j, "array too long");
        if ((rc = attnres__json_uint(j, &vals[(*count)++])) != ATTNRES_OK) return rc;
    } while (attnres__json_eat(j, ','));
    return attnres__json_expect(j, ']');
}

/* Bytes per element of every dtype the format defines; NULL name ends it. */
ATTNRES__PRIVATE int attnres__dtype_size(const char *name) {
    static const struct { const char *name; int size; } table[] = {
        {"F64", 8}, {"F32", 4}, {"F16", 2}, {"BF16", 2}, {"F8_E4M3", 1}, {"F8_E5M2", 1},
        {"I64", 8}, {"I32", 4}, {"I16", 2}, {"I8", 1}, {"U64", 8}, {"U32", 4},
        {"U16", 2}, {"U8", 1}, {"BOOL", 1}, {NULL, 0}};
    int i;
    for (i = 0; table[i].name; i++) if (strcmp(table[i].name, name) == 0) return table[i].size;
    return 0;
}

/* {"dtype": "...", "shape": [...], "data_offsets": [begin, end]}, each key
   exactly once. Offsets are checked against the data section later. */
ATTNRES__PRIVATE int attnres__json_tensor(attnres__json *j, attnres__st_tensor *t, uint64_t *offsets) {
    int rc, seen_dtype = 0, seen_shape = 0, seen_offsets = 0, n_off = 0;
    if ((rc = attnres__json_expect(j, '{')) != ATTNRES_OK) return rc;
    do {
        const char *key;
        if ((rc = attnres__json_string(j, &key)) != ATTNRES_OK) return rc;
        if ((rc = attnres__json_expect(j, ':')) != ATTNRES_OK) return rc;
        if (strcmp(key, "dtype") == 0 && !seen_dtype) {
            const char *dtype;
            seen_dtype = 1;
            if ((rc = attnres__json_string(j, &dtype)) != ATTNRES_OK) return rc;
            if (strlen(dtype) >= sizeof t->dtype_name || !attnres__dtype_size(dtype))
                return attnres__json_fail(j, "unknown dtype");
            strcpy(t->dtype_name, dtype);
            t->dtype = strcmp(dtype, "F32") == 0 ? ATTNRES__DT_F32
                     : strcmp(dtype, "I32") == 0 ? ATTNRES__DT_I32
                     : strcmp(dtype, "I8") == 0  ? ATTNRES__DT_I8 : ATTNRES__DT_OTHER;
        } else if (strcmp(key, "shape") == 0 && !seen_shape) {
            seen_shape = 1;
            rc = attnres__json_uint_array(j, t->shape, ATTNRES__ST_MAX_DIMS, &t->ndim);
            if (rc != ATTNRES_OK) return rc;
        } else if (strcmp(key, "data_offsets") == 0 && !seen_offsets) {
            seen_offsets = 1;
            if ((rc = attnres__json_uint_array(j, offsets, 2, &n_off)) != ATTNRES_OK) return rc;
            if (n_off != 2) return attnres__json_fail(j, "data_offsets needs two integers");
        } else {
            return attnres__json_fail(j, "unknown or repeated key in a tensor entry");
        }
    } while (attnres__json_eat(j, ','));
    if ((rc = attnres__json_expect(j, '}')) != ATTNRES_OK) return rc;
    if (!seen_dtype || !seen_shape || !seen_offsets)
        return attnres__json_fail(j, "tensor entry lacks dtype, shape or data_offsets");
    return ATTNRES_OK;
}

/* Makes room for one more element in a growing array (doubling). */
ATTNRES__PRIVATE int attnres__grow(void **array, int *capacity, int count, size_t elem_size) {
    void *bigger;
    int cap = *capacity ? *capacity * 2 : 16;
    if (count < *capacity) return 1;
    if (cap > (1 << 24)) return 0;   /* far more entries than any real file has */
    bigger = ATTNRES_MALLOC((size_t)cap * elem_size);
    if (!bigger) return 0;
    if (*array) { memcpy(bigger, *array, (size_t)count * elem_size); ATTNRES_FREE(*array); }
    *array = bigger;
    *capacity = cap;
    return 1;
}

/* "__metadata__": {"key": "value", ...}, all strings. */
ATTNRES__PRIVATE int attnres__json_metadata(attnres__json *j, attnres__st_file *f, int *cap) {
    int rc;
    if ((rc = attnres__json_expect(j, '{')) != ATTNRES_OK) return rc;
    if (attnres__json_eat(j, '}')) return ATTNRES_OK;
    do {
        attnres__st_meta *m;
        if (!attnres__grow((void **)&f->meta, cap, f->n_meta, sizeof *f->meta))
            return attnres__fail(j->err, ATTNRES_ERR_NOMEM, "safetensors header: too many metadata entries");
        m = &f->meta[f->n_meta++];
        if ((rc = attnres__json_string(j, &m->key)) != ATTNRES_OK) return rc;
        if ((rc = attnres__json_expect(j, ':')) != ATTNRES_OK) return rc;
        if ((rc = attnres__json_string(j, &m->value)) != ATTNRES_OK) return rc;
    } while (attnres__json_eat(j, ','));
    return attnres__json_expect(j, '}');
}

/* numel = product of the shape, refusing products that overflow 64 bits. */
ATTNRES__PRIVATE int attnres__shape_numel(const attnres__st_tensor *t, uint64_t *numel) {
    uint64_t n = 1;
    int i;
    for (i = 0; i < t->ndim; i++) {
        if (t->shape[i] != 0 && n > UINT64_MAX / t->shape[i]) return 0;
        n *= t->shape[i];
    }
    *numel = n;
    return 1;
}

/* A tensor entry's bytes must be exactly numel * dtype size, inside data. */
ATTNRES__PRIVATE int attnres__st_place(attnres__st_tensor *t, const uint64_t *off,
                                       const unsigned char *data, uint64_t data_len, attnres_error *err) {
    uint64_t size = (uint64_t)attnres__dtype_size(t->dtype_name);
    if (!attnres__shape_numel(t, &t->numel) || t->numel > UINT64_MAX / size)
        return attnres__fail(err, ATTNRES_ERR_FORMAT, "safetensors: tensor '%s' has a shape too large to address",
                             t->name);
    if (off[0] > off[1])
        return attnres__fail(err, ATTNRES_ERR_FORMAT,
                             "safetensors: tensor '%s' data_offsets [%llu, %llu] are reversed (begin > end)",
                             t->name, (unsigned long long)off[0], (unsigned long long)off[1]);
    if (off[1] > data_len)
        return attnres__fail(err, ATTNRES_ERR_FORMAT,
                             "safetensors: tensor '%s' data_offsets [%llu, %llu] lie outside the %llu data bytes",
                             t->name, (unsigned long long)off[0], (unsigned long long)off[1],
                             (unsigned long long)data_len);
    if (off[1] - off[0] != t->numel * size)
        return attnres__fail(err, ATTNRES_ERR_FORMAT,
                             "safetensors: tensor '%s' spans %llu bytes, but its shape and dtype need %llu",
                             t->name, (unsigned long long)(off[1] - off[0]),
                             (unsigned long long)(t->numel * size));
    t->data = data + off[0];
    t->nbytes = off[1] - off[0];
    return ATTNRES_OK;
}

ATTNRES__PRIVATE int attnres__by_string(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* names[n] (reordered) must hold no string twice; sorting makes it O(n log n). */
ATTNRES__PRIVATE int attnres__check_unique(const char **names, int n, const char *what, attnres_error *err) {
    int i;
    qsort(names, (size_t)n, sizeof *names, attnres__by_string);
    for (i = 1; i < n; i++)
        if (strcmp(names[i - 1], names[i]) == 0)
            return attnres__fail(err, ATTNRES_ERR_FORMAT, "safetensors: %s '%s' appears twice", what, names[i]);
    return ATTNRES_OK;
}

/* Tensor names and metadata keys are unique: JSON readers disagree about
   which of two equal keys wins (Python's json keeps the last, a first-match
   lookup the first), so a repeated one could make one file two models. */
ATTNRES__PRIVATE int attnres__st_check_names(const attnres__st_file *f, attnres_error *err) {
    int n = f->n_tensors > f->n_meta ? f->n_tensors : f->n_meta, i, rc;
    const char **names;
    if (n < 2) return ATTNRES_OK;
    names = (const char **)ATTNRES_MALLOC((size_t)n * sizeof *names);
    if (!names) return attnres__fail(err, ATTNRES_ERR_NOMEM, "safetensors: out of memory");
    for (i = 0; i < f->n_tensors; i++) names[i] = f->tensors[i].name;
    rc = attnres__check_unique(names, f->n_tensors, "tensor", err);
    for (i = 0; i < f->n_meta; i++) names[i] = f->meta[i].key;
    if (rc == ATTNRES_OK) rc = attnres__check_unique(names, f->n_meta, "metadata key", err);
    ATTNRES_FREE(names);
    return rc;
}

ATTNRES__PRIVATE int attnres__by_offset(const void *a, const void *b) {
    const attnres__st_tensor *x = *(const attnres__st_tensor *const *)a, *y = *(const attnres__st_tensor *const *)b;
    if (x->data != y->data) return x->data < y->data ? -1 : 1;
    return (x->nbytes > y->nbytes) - (x->nbytes < y->nbytes);
}

/* The tensors tile the data section exactly (no overlap, no gap, nothing
   after), as the format asks. */
ATTNRES__PRIVATE int attnres__st_check_layout(attnres__st_file *f, const unsigned char *data,
                                              uint64_t data_len, attnres_error *err) {
    const attnres__st_tensor **order;
    const unsigned char *next = data;
    int i, rc = ATTNRES_OK;
    if (f->n_tensors == 0) {
        if (data_len != 0)
            return attnres__fail(err, ATTNRES_ERR_FORMAT, "safetensors: %llu data bytes but no tensors",
                                 (unsigned long long)data_len);
        return ATTNRES_OK;
    }
    order = (const attnres__st_tensor **)ATTNRES_MALLOC((size_t)f->n_tensors * sizeof *order);
    if (!order) return attnres__fail(err, ATTNRES_ERR_NOMEM, "safetensors: out of memory");
    for (i = 0; i < f->n_tensors; i++) order[i] = &f->tensors[i];
    qsort(order, (size_t)f->n_tensors, sizeof *order, attnres__by_offset);
    for (i = 0; i < f->n_tensors && rc == ATTNRES_OK; i++) {
        if (order[i]->data != next)
            rc = attnres__fail(err, ATTNRES_ERR_FORMAT, "safetensors: tensor '%s' %s the previous tensor's bytes",
                               order[i]->name, order[i]->data < next ? "overlaps" : "leaves a gap after");
        next = order[i]->data + order[i]->nbytes;
    }
    if (rc == ATTNRES_OK && next != data + data_len)
        rc = attnres__fail(err, ATTNRES_ERR_FORMAT, "safetensors: %llu bytes after the last tensor",
                           (unsigned long long)(data + data_len - next));
    ATTNRES_FREE(order);
    return rc;
}

/* The top-level object: "__metadata__" at most once, every other key a tensor. */
ATTNRES__PRIVATE int attnres__st_parse_header(attnres__st_file *f, attnres__json *j,
                                              const unsigned char *data, uint64_t data_len) {
    int rc, tensor_cap = 0, meta_cap = 0, seen_meta = 0;
    if ((rc = attnres__json_expect(j, '{')) != ATTNRES_OK) return rc;
    if (!attnres__json_eat(j, '}')) {
        do {
            const char *key;
            if ((rc = attnres__json_string(j, &key)) != ATTNRES_OK) return rc;
            if ((rc = attnres__json_expect(j, ':')) != ATTNRES_OK) return rc;
            if (strcmp(key, "__metadata__") == 0) {
                if (seen_meta++) return attnres__json_fail(j, "__metadata__ appears twice");
                if ((rc = attnres__json_metadata(j, f, &meta_cap)) != ATTNRES_OK) return rc;
            } else {
                attnres__st_tensor *t;
                uint64_t off[2];
                if (!attnres__grow((void **)&f->tensors, &tensor_cap, f->n_tensors, sizeof *f->tensors))
                    return attnres__fail(j->err, ATTNRES_ERR_NOMEM, "safetensors header: too many tensors");
                t = &f->tensors[f->n_tensors++];
                memset(t, 0, sizeof *t);
                t->name = key;
                if ((rc = attnres__json_tensor(j, t, off)) != ATTNRES_OK) return rc;
                if ((rc = attnres__st_place(t, off, data, data_len, j->err)) != ATTNRES_OK) return rc;
            }
        } while (attnres__json_eat(j, ','));
        if ((rc = attnres__json_expect(j, '}')) != ATTNRES_OK) return rc;
    }
    attnres__json_ws(j);   /* writers pad the header with spaces */
    if (j->p != j->end) return attnres__json_fail(j, "unexpected bytes after the header object");
    if ((rc = attnres__st_check_names(f, j->err)) != ATTNRES_OK) return rc;
    return attnres__st_check_layout(f, data, data_len, j->err);
}

/* Frees what parsing allocated, the file bytes included. */
ATTNRES__PRIVATE void attnres__st_close(attnres__st_file *f) {
    if (f->bytes) ATTNRES_FREE(f->bytes);
    if (f->tensors) ATTNRES_FREE(f->tensors);
    if (f->meta) ATTNRES_FREE(f->meta);
    if (f->strings) ATTNRES_FREE(f->strings);
    memset(f, 0, sizeof *f);
}

/* Parses a file already in memory. Takes ownership of bytes
   (ATTNRES_MALLOC'd): freed on failure, else by attnres__st_close. */
ATTNRES__PRIVATE int attnres__st_parse(attnres__st_file *f, unsigned char *bytes, size_t n_bytes,
                                       attnres_error *err) {
    uint64_t header_len = 0;
    attnres__json j;
    int i, rc;
    memset(f, 0, sizeof *f);
    f->bytes = bytes;
    f->n_bytes = n_bytes;
    if (n_bytes < 8) {
        attnres__st_close(f);
        return attnres__fail(err, ATTNRES_ERR_FORMAT, "safetensors: file is %zu bytes, too short for the 8-byte header length",
                             n_bytes);
    }
    for (i = 7; i >= 0; i--) header_len = (header_len << 8) | bytes[i];   /* little-endian u64 */
    if (header_len > (uint64_t)(n_bytes - 8) || header_len > ATTNRES__MAX_HEADER || header_len < 2) {
        attnres__st_close(f);
        return attnres__fail(err, ATTNRES_ERR_FORMAT,
                             "safetensors: header length %llu does not fit the %zu-byte file",
                             (unsigned long long)header_len, n_bytes);
    }
    f->strings = (char *)ATTNRES_MALLOC((size_t)header_len + 1);
    if (!f->strings) {
        attnres__st_close(f);
        return attnres__fail(err, ATTNRES_ERR_NOMEM, "safetensors: cannot allocate the header");
    }
    j.start = j.p = (const char *)bytes + 8;
    j.end = j.start + header_len;
    j.arena = f->strings;
    j.err = err;
    f->n_data = n_bytes - 8 - (size_t)header_len;
    rc = attnres__st_parse_header(f, &j, bytes + 8 + header_len, (uint64_t)f->n_data);
    if (rc != ATTNRES_OK) { attnres__st_close(f); return rc; }
    return attnres__ok(err);
}

/* path for a message, at most 80 bytes: a long one keeps its start and its
   end (the file name) around "...", so the reason after it is never cut
   off. buf [84] */
ATTNRES__PRIVATE const char *attnres__short_path(char *buf, const char *path) {
    size_t n = strlen(path);
    if (n <= 80) return path;
    memcpy(buf, path, 24);
    memcpy(buf + 24, "...", 3);
    memcpy(buf + 27, path + n - 53, 54);   /* the last 53 bytes and the NUL */
    return buf;
}

/* Reads a whole file into one allocation. The size comes from seeking to
   the end, which only a regular file reports truthfully: a device such as
   /dev/zero or a procfs file says 0 (or anything) and then reads on, so
   the read must end exactly at that size. */
ATTNRES__PRIVATE int attnres__read_file(const char *path, unsigned char **out, size_t *n_out, attnres_error *err) {
    FILE *fp = fopen(path, "rb");
    long size;
    unsigned char *bytes;
    char shown[84];
    const char *name = attnres__short_path(shown, path);
    *out = NULL;
    *n_out = 0;
    if (!fp) return attnres__fail(err, ATTNRES_ERR_IO, "cannot open '%s'", name);
    /* a directory opens fine on some systems but cannot be read */
    if (fgetc(fp) == EOF && ferror(fp)) {
        fclose(fp);
        return attnres__fail(err, ATTNRES_ERR_IO, "cannot read '%s' (a directory?)", name);
    }
    if (fseek(fp, 0, SEEK_END) != 0 || (size = ftell(fp)) < 0 || fseek(fp, 0, SEEK_SET) != 0) {
        fclose(fp);
        return attnres__fail(err, ATTNRES_ERR_IO, "cannot determine the size of '%s' (not a regular file?)", name);
    }
    bytes = (unsigned char *)ATTNRES_MALLOC(size > 0 ? (size_t)size : 1);
    if (!bytes) {
        fclose(fp);
        return attnres__fail(err, ATTNRES_ERR_NOMEM, "cannot allocate %ld bytes for '%s'", size, name);
    }
    if (fread(bytes, 1, (size_t)size, fp) != (size_t)size || fgetc(fp) != EOF) {
        int longer = !ferror(fp) && !feof(fp);
        ATTNRES_FREE(bytes);
        fclose(fp);
        if (longer)
            return attnres__fail(err, ATTNRES_ERR_IO, "'%s' is not a regular file: it reads past its reported "
                                 "size of %ld bytes", name, size);
        return attnres__fail(err, ATTNRES_ERR_IO, "cannot read all %ld bytes of '%s'", size, name);
    }
    fclose(fp);
    *out = bytes;
    *n_out = (size_t)size;
    return ATTNRES_OK;
}

ATTNRES__PRIVATE int attnres__st_open(attnres__st_file *f, const char *path, attnres_error *err) {
    unsigned char *bytes;
    size_t n;
    int rc;
    memset(f, 0, sizeof *f);
    if ((rc = attnres__read_file(path, &bytes, &n, err)) != ATTNRES_OK) return rc;
    if ((rc = attnres__st_parse(f, bytes, n, err)) != ATTNRES_OK) {
        /* prefix the file name so the message says which file */
        if (err) {
            char inner[sizeof err->message], shown[84];
            memcpy(inner, err->message, sizeof inner);
            attnres__fail(err, rc, "%s: %s", attnres__short_path(shown, path), inner);
        }
        return rc;
    }
    return ATTNRES_OK;
}


ATTNRES__PRIVATE const attnres__st_tensor *attnres__st_find(const attnres__st_file *f, const char *name) {
    int i;
    for (i = 0; i < f->n_tensors; i++) if (strcmp(f->tensors[i].name, name) == 0) return &f->tensors[i];
    return NULL;
}

ATTNRES__PRIVATE const char *attnres__st_meta_get(const attnres__st_file *f, const char *key) {
    int i;
    for (i = 0; i < f->n_meta; i++) if (strcmp(f->meta[i].key, key) == 0) return f->meta[i].value;
    return NULL;
}

/* The data may sit at any byte offset, so elements are assembled from
   little-endian bytes rather than read through a cast pointer. */
ATTNRES__PRIVATE uint32_t attnres__le32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

ATTNRES__PRIVATE int attnres__st_read_f32(float *dst, size_t count, const attnres__st_tensor *t, attnres_error *err) {
    size_t i;
    if (t->dtype != ATTNRES__DT_F32)
        return attnres__fail(err, ATTNRES_ERR_DTYPE, "tensor '%s' has dtype %s, expected F32", t->name, t->dtype_name);
    if ((uint64_t)count != t->numel)
        return attnres__fail(err, ATTNRES_ERR_SHAPE, "tensor '%s' has %llu elements, expected %zu",
                             t->name, (unsigned long long)t->numel, count);
    for (i = 0; i < count; i++) {
        uint32_t bits = attnres__le32(t->data + 4 * i);
        memcpy(&dst[i], &bits, sizeof bits);   /* IEEE-754 binary32 bits */
    }
    return attnres__ok(err);
}

/* ======================================================================== */
/* Checkpoint loading: config from __metadata__, then every tensor by name   */
/* ======================================================================== */

/* "1": every tensor F32. "2" adds optional metadata: head_dim and qk_norm
   (with the tensors layers.N.attention.{q,k}_norm.weight), and
   "quantization" = "q8" with "group_size" (the matvec matrices stored as
   I8 with an F32 tensor NAME_scale beside each, attnres_q8's layout),
   optionally with "activations" = "int8" (W8A8) or "fp32" (the default).
   "3" adds "rope_scaling" ("linear" or "llama3") with its numbers
   (attnres_rope_scaling). A writer uses the lowest version that holds its
   file, so plain fp32 checkpoints stay "1"; older versions load as the
   newest without its keys. "eos_token_id" (ids, comma-separated) may be in
   any version: a reader that ignores it loses only where to stop. */
#define ATTNRES_FORMAT_VERSION "3"

/* A metadata value that must be present. */
ATTNRES__PRIVATE int attnres__meta_need(const attnres__st_file *f, const char *key, const char **value,
                                        attnres_error *err) {
    *value = attnres__st_meta_get(f, key);
    if (!*value) return attnres__fail(err, ATTNRES_ERR_MISSING, "checkpoint: metadata lacks '%s'", key);
    return ATTNRES_OK;
}

/* A decimal int, nothing before or after it. Syntax first, range second,
   so each message says what is actually wrong; the range of the field
   itself is attnres_config_validate's to check. */
ATTNRES__PRIVATE int attnres__meta_int(const attnres__st_file *f, const char *key, int *out, attnres_error *err) {
    const char *s, *digits;
    char *end;
    long v;
    int rc;
    if ((rc = attnres__meta_need(f, key, &s, err)) != ATTNRES_OK) return rc;
    digits = *s == '-' ? s + 1 : s;
    if (!(*digits >= '0' && *digits <= '9'))
        return attnres__fail(err, ATTNRES_ERR_CONFIG, "checkpoint: metadata '%s' = \"%.40s\" is not an integer", key, s);
    errno = 0;
    v = strtol(s, &end, 10);
    if (*end != '\0')
        return attnres__fail(err, ATTNRES_ERR_CONFIG, "checkpoint: metadata '%s' = \"%.40s\" is not an integer", key, s);
    if (errno == ERANGE || v < INT_MIN || v > INT_MAX)
        return attnres__fail(err, ATTNRES_ERR_CONFIG, "checkpoint: metadata '%s' = \"%.40s\" is outside the range "
                             "of an int [%d, %d]", key, s, INT_MIN, INT_MAX);
    *out = (int)v;
    return ATTNRES_OK;
}

/* JSON's number grammar, -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?,
   checked before strtod, which alone would also take "+1", "\t1", "0x1p-3",
   "infinity" and other spellings no writer of this format produces. */
ATTNRES__PRIVATE int attnres__is_decimal(const char *s) {
#define ATTNRES__DIGIT(ch) ((ch) >= '0' && (ch) <= '9')
    if (*s == '-') s++;
    if (*s == '0') s++;
    else if (ATTNRES__DIGIT(*s)) while (ATTNRES__DIGIT(*s)) s++;
    else return 0;
    if (*s == '.') {
        s++;
        if (!ATTNRES__DIGIT(*s)) return 0;
        while (ATTNRES__DIGIT(*s)) s++;
    }
    if (*s == 'e' || *s == 'E') {
        s++;
        if (*s == '+' || *s == '-') s++;
        if (!ATTNRES__DIGIT(*s)) return 0;
        while (ATTNRES__DIGIT(*s)) s++;
    }
#undef ATTNRES__DIGIT
    return *s == '\0';
}

/* A decimal number such as "10000.0" or "1e-05" that a float holds: the
   check is on the float that is stored, not on the double that was parsed
   (3.4e38 is a float; 1e39 would become Inf and 1e-50 would become 0). */
ATTNRES__PRIVATE int attnres__meta_float(const attnres__st_file *f, const char *key, float *out, attnres_error *err) {
    const char *s;
    char *end;
    double v;
    float stored;
    int rc;
    if ((rc = attnres__meta_need(f, key, &s, err)) != ATTNRES_OK) return rc;
    if (!attnres__is_decimal(s))
        return attnres__fail(err, ATTNRES_ERR_CONFIG, "checkpoint: metadata '%s' = \"%.40s\" is not a decimal number", key, s);
    v = strtod(s, &end);
    if (*end != '\0')   /* JSON's grammar passed, so strtod's locale differs */
        return attnres__fail(err, ATTNRES_ERR_CONFIG, "checkpoint: metadata '%s' = \"%.40s\": strtod stopped "
                             "at \"%.10s\" (is LC_NUMERIC a decimal-comma locale?)", key, s, end);
    /* past FLT_MAX by less than half its ulp (2^103) a decimal still rounds
       to FLT_MAX; converting anything larger to float would overflow */
    if (!(fabs(v) < (double)FLT_MAX + ldexp(1.0, 103)))
        return attnres__fail(err, ATTNRES_ERR_CONFIG, "checkpoint: metadata '%s' = \"%.40s\" is outside the range "
                             "of a float (|x| <= %g)", key, s, (double)FLT_MAX);
    stored = fabs(v) > (double)FLT_MAX ? (v > 0 ? FLT_MAX : -FLT_MAX) : (float)v;
    if (v != 0.0 && stored == 0.0f)
        return attnres__fail(err, ATTNRES_ERR_CONFIG, "checkpoint: metadata '%s' = \"%.40s\" is too small for a "
                             "float: it would be stored as 0", key, s);
    *out = stored;
    return ATTNRES_OK;
}

/* One of two words, for booleans and the residual mode. */
ATTNRES__PRIVATE int attnres__meta_choice(const attnres__st_file *f, const char *key, const char *word0,
                                          const char *word1, int *out, attnres_error *err) {
    const char *s;
    int rc;
    if ((rc = attnres__meta_need(f, key, &s, err)) != ATTNRES_OK) return rc;
    if (strcmp(s, word0) == 0) *out = 0;
    else if (strcmp(s, word1) == 0) *out = 1;
    else return attnres__fail(err, ATTNRES_ERR_CONFIG, "checkpoint: metadata '%s' = \"%.40s\", expected \"%s\" or \"%s\"",
                              key, s, word0, word1);
    return ATTNRES_OK;
}

/* "rope_scaling" and its numbers (format_version "3"); none of the keys:
   plain RoPE. The numbers are checked by attnres_config_validate. */
ATTNRES__PRIVATE int attnres__rope_scaling_from_meta(const attnres__st_file *f, const char *version,
                                                     attnres_rope_scaling *r, attnres_error *err) {
    static const char *keys[4] = {"rope_scaling_factor", "rope_scaling_low_freq_factor",
                                  "rope_scaling_high_freq_factor", "rope_scaling_original_max_position_embeddings"};
    const char *type = attnres__st_meta_get(f, "rope_scaling");
    int rc = ATTNRES_OK, k, n_keys;
    if (!type) {
        for (k = 0; k < 4; k++)
            if (attnres__st_meta_get(f, keys[k]))
                return attnres__fail(err, ATTNRES_ERR_FORMAT, "checkpoint: metadata has '%s' but no 'rope_scaling'",
                                     keys[k]);
        return ATTNRES_OK;
    }
    if (strcmp(type, "linear") == 0) r->type = ATTNRES_ROPE_LINEAR;
    else if (strcmp(type, "llama3") == 0) r->type = ATTNRES_ROPE_LLAMA3;
    else return attnres__fail(err, ATTNRES_ERR_FORMAT, "checkpoint: rope_scaling \"%.40s\" is not supported "
                              "(this library reads \"linear\" and \"llama3\")", type);
    if (strcmp(version, "3") != 0)
        return attnres__fail(err, ATTNRES_ERR_FORMAT, "checkpoint: rope_scaling needs format_version \"3\" "
                             "(the file says \"%.40s\")", version);
    n_keys = r->type == ATTNRES_ROPE_LINEAR ? 1 : 4;
    for (k = n_keys; k < 4; k++)   /* a number this type does not use would be silently ignored */
        if (attnres__st_meta_get(f, keys[k]))
            return attnres__fail(err, ATTNRES_ERR_FORMAT, "checkpoint: metadata has '%s', which rope_scaling "
                                 "\"%s\" does not use", keys[k], type);
    rc = attnres__meta_float(f, keys[0], &r->factor, err);
    if (rc == ATTNRES_OK && n_keys == 4) rc = attnres__meta_float(f, keys[1], &r->low_freq_factor, err);
    if (rc == ATTNRES_OK && n_keys == 4) rc = attnres__meta_float(f, keys[2], &r->high_freq_factor, err);
    if (rc == ATTNRES_OK && n_keys == 4) rc = attnres__meta_int(f, keys[3], &r->original_context, err);
    return rc;
}

/* "eos_token_id": one id or several, comma-separated ("128001,128009");
   absent: none. Each must be a decimal int (validate checks the range). */
ATTNRES__PRIVATE int attnres__eos_from_meta(const attnres__st_file *f, attnres_config *c, attnres_error *err) {
    const char *s = attnres__st_meta_get(f, "eos_token_id"), *at;
    if (!s) return ATTNRES_OK;
    for (at = s;; at++) {
        char *end;
        long v;
        if (!(*at >= '0' && *at <= '9'))
            return attnres__fail(err, ATTNRES_ERR_CONFIG, "checkpoint: metadata 'eos_token_id' = \"%.40s\" is not a "
                                 "comma-separated list of token ids", s);
        if (c->n_eos == ATTNRES_MAX_EOS)
            return attnres__fail(err, ATTNRES_ERR_CONFIG, "checkpoint: metadata 'eos_token_id' = \"%.40s\" names "
                                 "more than %d ids", s, ATTNRES_MAX_EOS);
        errno = 0;
        v = strtol(at, &end, 10);
        if (errno == ERANGE || v > INT_MAX || (*end != ',' && *end != '\0'))
            return attnres__fail(err, ATTNRES_ERR_CONFIG, "checkpoint: metadata 'eos_token_id' = \"%.40s\" is not a "
                                 "comma-separated list of token ids", s);
        c->eos_token_id[c->n_eos++] = (int)v;
        if (*end == '\0') return ATTNRES_OK;
        at = end;
    }
}

ATTNRES__PRIVATE int attnres__config_from_meta(const attnres__st_file *f, attnres_config *c, attnres_error *err) {
    const char *format = attnres__st_meta_get(f, "format"), *version;
    int rc = ATTNRES_OK;
    memset(c, 0, sizeof *c);
    if (format && strcmp(format, "attnres") != 0)
        return attnres__fail(err, ATTNRES_ERR_FORMAT, "checkpoint: format \"%.40s\" is not \"attnres\"", format);
    if ((rc = attnres__meta_need(f, "format_version", &version, err)) != ATTNRES_OK) return rc;
    if (strcmp(version, "1") != 0 && strcmp(version, "2") != 0 && strcmp(version, ATTNRES_FORMAT_VERSION) != 0)
        return attnres__fail(err, ATTNRES_ERR_FORMAT, "checkpoint: format_version \"%.40s\" is not supported (this library reads \"1\" to \"%s\")",
                             version, ATTNRES_FORMAT_VERSION);
    rc = attnres__meta_int(f, "dim", &c->dim, err);
    if (rc == ATTNRES_OK) rc = attnres__meta_int(f, "hidden_dim", &c->hidden_dim, err);
    if (rc == ATTNRES_OK) rc = attnres__meta_int(f, "n_layers", &c->n_layers, err);
    if (rc == ATTNRES_OK) rc = attnres__meta_int(f, "n_heads", &c->n_heads, err);
    if (rc == ATTNRES_OK) rc = attnres__meta_int(f, "n_kv_heads", &c->n_kv_heads, err);
    if (rc == ATTNRES_OK) rc = attnres__meta_int(f, "vocab_size", &c->vocab_size, err);
    if (rc == ATTNRES_OK) rc = attnres__meta_int(f, "seq_len", &c->seq_len, err);
    if (rc == ATTNRES_OK) rc = attnres__meta_float(f, "rope_theta", &c->rope_theta, err);
    if (rc == ATTNRES_OK) rc = attnres__meta_float(f, "norm_eps", &c->norm_eps, err);
    if (rc == ATTNRES_OK) rc = attnres__meta_choice(f, "tie_embeddings", "false", "true", &c->tie_embeddings, err);
    if (rc == ATTNRES_OK) rc = attnres__meta_choice(f, "residual", "standard", "attnres", &c->residual, err);
    if (rc == ATTNRES_OK) {
        if (c->residual == ATTNRES_RESIDUAL_ATTNRES || attnres__st_meta_get(f, "block_size"))
            rc = attnres__meta_int(f, "block_size", &c->block_size, err);
    }
    if (rc == ATTNRES_OK && strcmp(version, "1") != 0 && attnres__st_meta_get(f, "head_dim"))
        rc = attnres__meta_int(f, "head_dim", &c->head_dim, err);
    if (rc == ATTNRES_OK && strcmp(version, "1") != 0 && attnres__st_meta_get(f, "qk_norm"))
        rc = attnres__meta_choice(f, "qk_norm", "false", "true", &c->qk_norm, err);
    if (rc == ATTNRES_OK) rc = attnres__rope_scaling_from_meta(f, version, &c->rope_scaling, err);
    if (rc == ATTNRES_OK) rc = attnres__eos_from_meta(f, c, err);
    if (rc == ATTNRES_OK) rc = attnres_config_validate(c, err);
    return rc;
}

/* Checks tensor `name`: present, F32, shape [rows] (cols == 0) or
   [rows, cols]; marks it used. With dst it also copies the values in and
   refuses non-finite ones; with dst == NULL it only checks (the first pass
   of attnres_model_load, before anything is allocated). */
ATTNRES__PRIVATE int attnres__load_tensor(const attnres__st_file *f, char *used, const char *name,
                                          float *dst, int rows, int cols, attnres_error *err) {
    const attnres__st_tensor *t = attnres__st_find(f, name);
    size_t n = (size_t)rows * (size_t)(cols ? cols : 1), i;
    int rc;
    if (!t) return attnres__fail(err, ATTNRES_ERR_MISSING, "checkpoint: tensor '%s' is missing", name);
    if (t->dtype != ATTNRES__DT_F32)
        return attnres__fail(err, ATTNRES_ERR_DTYPE, "checkpoint: tensor '%s' has dtype %s; only F32 is supported",
                             name, t->dtype_name);
    if (cols == 0 ? (t->ndim != 1 || t->shape[0] != (uint64_t)rows)
                  : (t->ndim != 2 || t->shape[0] != (uint64_t)rows || t->shape[1] != (uint64_t)cols)) {
        if (cols == 0)
            return attnres__fail(err, ATTNRES_ERR_SHAPE, "checkpoint: tensor '%s' should have shape [%d] for this config",
                                 name, rows);
        return attnres__fail(err, ATTNRES_ERR_SHAPE, "checkpoint: tensor '%s' should have shape [%d, %d] for this config",
                             name, rows, cols);
    }
    used[t - f->tensors] = 1;
    if (!dst) return ATTNRES_OK;
    if ((rc = attnres__st_read_f32(dst, n, t, err)) != ATTNRES_OK) return rc;
    for (i = 0; i < n; i++)
        if (isnan(dst[i]) || isinf(dst[i]))
            return attnres__fail(err, ATTNRES_ERR_FORMAT, "checkpoint: tensor '%s' holds %s at element %zu",
                                 name, isnan(dst[i]) ? "NaN" : "Inf", i);
    return ATTNRES_OK;
}

/* The group size of a checkpoint's int8 matrices: 0 for an fp32 file,
   else its "group_size" (format_version "2", "quantization": "q8"); and
   *act8 = 1 if it asks for int8 activations ("activations": "int8";
   "fp32" or no key: 0). */
ATTNRES__PRIVATE int attnres__q8_from_meta(const attnres__st_file *f, const attnres_config *c, int *G,
                                           int *act8, attnres_error *err) {
    const char *kind = attnres__st_meta_get(f, "quantization"), *version = attnres__st_meta_get(f, "format_version");
    const char *act = attnres__st_meta_get(f, "activations");
    int rc;
    *G = 0;
    *act8 = 0;
    if (act && strcmp(act, "fp32") != 0 && strcmp(act, "int8") != 0)
        return attnres__fail(err, ATTNRES_ERR_FORMAT, "checkpoint: activations \"%.40s\" is not supported "
                             "(this library reads \"int8\" or \"fp32\")", act);
    if (act && strcmp(act, "int8") == 0 && !kind)
        return attnres__fail(err, ATTNRES_ERR_FORMAT, "checkpoint: metadata has 'activations' but no "
                             "'quantization' (int8 activations need int8 weights)");
    *act8 = act && strcmp(act, "int8") == 0;
    if (!kind) return attnres__st_meta_get(f, "group_size")
        ? attnres__fail(err, ATTNRES_ERR_FORMAT, "checkpoint: metadata has 'group_size' but no 'quantization'")
        : ATTNRES_OK;
    if (strcmp(kind, "q8") != 0)
        return attnres__fail(err, ATTNRES_ERR_FORMAT, "checkpoint: quantization \"%.40s\" is not supported "
                             "(this library reads \"q8\")", kind);
    if (!version || strcmp(version, "1") == 0)
        return attnres__fail(err, ATTNRES_ERR_FORMAT, "checkpoint: a q8 checkpoint needs format_version \"2\"");
    if ((rc = attnres__meta_int(f, "group_size", G, err)) != ATTNRES_OK) return rc;
    return attnres__check_group_size(c, *G, err);
}

/* Checks int8 matrix `name` (I8, [rows, cols]) and its scales `name`_scale
   (F32, [rows, cols/G]); marks both used. With dst->q it also copies them
   in: values must lie in [-127, 127] (symmetric: -128 is never made) and
   scales must be finite and >= 0. dst points at the layer's first row. */
ATTNRES__PRIVATE int attnres__load_q8_tensor(const attnres__st_file *f, char *used, const char *name,
                                             const attnres_q8 *dst, int rows, int cols, int G,
                                             attnres_error *err) {
    const attnres__st_tensor *t = attnres__st_find(f, name), *ts;
    char scale_name[112];
    size_t n = (size_t)rows * (size_t)cols, n_scales = n / (size_t)G, i;
    int rc;
    snprintf(scale_name, sizeof scale_name, "%s_scale", name);
    ts = attnres__st_find(f, scale_name);
    if (!t) return attnres__fail(err, ATTNRES_ERR_MISSING, "checkpoint: tensor '%s' is missing", name);
    if (t->dtype != ATTNRES__DT_I8)
        return attnres__fail(err, ATTNRES_ERR_DTYPE, "checkpoint: tensor '%s' has dtype %s; a q8 checkpoint "
                             "stores the matrices as I8", name, t->dtype_name);
    if (t->ndim != 2 || t->shape[0] != (uint64_t)rows || t->shape[1] != (uint64_t)cols)
        return attnres__fail(err, ATTNRES_ERR_SHAPE, "checkpoint: tensor '%s' should have shape [%d, %d] for this config",
                             name, rows, cols);
    if (!ts) return attnres__fail(err, ATTNRES_ERR_MISSING, "checkpoint: tensor '%s' (the scales of '%s') is missing",
                                  scale_name, name);
    if (ts->dtype != ATTNRES__DT_F32)
        return attnres__fail(err, ATTNRES_ERR_DTYPE, "checkpoint: tensor '%s' has dtype %s; scales are F32",
                             scale_name, ts->dtype_name);
    if (ts->ndim != 2 || ts->shape[0] != (uint64_t)rows || ts->shape[1] != (uint64_t)(cols / G))
        return attnres__fail(err, ATTNRES_ERR_SHAPE, "checkpoint: tensor '%s' holds %llu scales, should have shape "
                             "[%d, %d]: one per group of %d weights of a row", scale_name,
                             (unsigned long long)ts->numel, rows, cols / G, G);
    used[t - f->tensors] = 1;
    used[ts - f->tensors] = 1;
    if (!dst->q) return ATTNRES_OK;
    memcpy(dst->q, t->data, n);   /* int8: one byte each, no byte order */
    for (i = 0; i < n; i++)
        if (dst->q[i] == -128)
            return attnres__fail(err, ATTNRES_ERR_FORMAT, "checkpoint: tensor '%s' holds -128 at element %zu, "
                                 "outside the symmetric range [-127, 127]", name, i);
    if ((rc = attnres__st_read_f32(dst->scale, n_scales, ts, err)) != ATTNRES_OK) return rc;
    for (i = 0; i < n_scales; i++)
        if (!(dst->scale[i] >= 0.0f) || isinf(dst->scale[i]))
            return attnres__fail(err, ATTNRES_ERR_FORMAT, "checkpoint: tensor '%s' holds %g at element %zu; "
                                 "a scale must be finite and >= 0", scale_name, (double)dst->scale[i], i);
    return ATTNRES_OK;
}

/* base + offset, or NULL in the checking pass (no arithmetic on NULL). */
ATTNRES__PRIVATE float *attnres__at(float *base, size_t offset) { return base ? base + offset : NULL; }

/* The same, for a per-layer tensor whose name holds the layer index. */
ATTNRES__PRIVATE int attnres__load_layer_tensor(const attnres__st_file *f, char *used, const char *fmt, int layer,
                                                float *dst, int rows, int cols, attnres_error *err) {
    char name[96];
    snprintf(name, sizeof name, fmt, layer);
    return attnres__load_tensor(f, used, name, dst, rows, cols, err);
}

/* A matrix: fp32 into dst, or with q8 (a q8 checkpoint) int8 into layer
   `layer` of the stack q8 [n_layers, rows, cols]. */
ATTNRES__PRIVATE int attnres__load_matrix(const attnres__st_file *f, char *used, const char *fmt, int layer,
                                          float *dst, const attnres_q8 *q8, int G, int rows, int cols,
                                          attnres_error *err) {
    char name[96];
    size_t at = (size_t)layer * (size_t)rows * (size_t)cols;
    attnres_q8 slot;
    if (G == 0) return attnres__load_layer_tensor(f, used, fmt, layer, dst, rows, cols, err);
    snprintf(name, sizeof name, fmt, layer);
    slot.q = q8->q ? q8->q + at : NULL;
    slot.scale = q8->scale ? q8->scale + at / (size_t)G : NULL;
    return attnres__load_q8_tensor(f, used, name, &slot, rows, cols, G, err);
}

/* Every tensor the config calls for, by its documented name (see README).
   Per-layer tensors land in row `layer` of the stacked [n_layers, ...]
   arrays; the AttnRes vectors of layer i in rows 2i (attention) and 2i+1
   (MLP) of the stacked [L+1, dim] arrays, and the output's in row L.
   With w->memory-less weights (all NULL) it only checks names and shapes.
   In a q8 checkpoint (q8->group_size > 0) the matrices come into q8. */
ATTNRES__PRIVATE int attnres__load_weights(const attnres_config *c, const attnres_weights *w,
                                           const attnres_q8_weights *q8, const attnres__st_file *f,
                                           char *used, attnres_error *err) {
    size_t d = (size_t)c->dim, hd = (size_t)c->hidden_dim;
    size_t qd = (size_t)c->n_heads * (size_t)attnres_head_dim(c), kvd = (size_t)attnres_kv_dim(c);
    size_t L = (size_t)attnres_n_sublayers(c);
    int D = c->dim, HD = c->hidden_dim, QD = (int)qd, KVD = (int)kvd, i;
    int rc = attnres__load_tensor(f, used, "tok_embeddings.weight", w->tok_embeddings, c->vocab_size, D, err);
    for (i = 0; i < c->n_layers && rc == ATTNRES_OK; i++) {
        size_t I = (size_t)i;
        const char *names[9] = {
            "layers.%d.attention_norm.weight", "layers.%d.attention.wq.weight",
            "layers.%d.attention.wk.weight",   "layers.%d.attention.wv.weight",
            "layers.%d.attention.wo.weight",   "layers.%d.ffn_norm.weight",
            "layers.%d.feed_forward.w1.weight", "layers.%d.feed_forward.w2.weight",
            "layers.%d.feed_forward.w3.weight"};
        float *dst[9] = {attnres__at(w->attention_norm, I * d), attnres__at(w->wq, I * qd * d),
                         attnres__at(w->wk, I * kvd * d), attnres__at(w->wv, I * kvd * d),
                         attnres__at(w->wo, I * d * qd), attnres__at(w->ffn_norm, I * d),
                         attnres__at(w->w1, I * hd * d), attnres__at(w->w2, I * d * hd),
                         attnres__at(w->w3, I * hd * d)};
        const attnres_q8 *qdst[9] = {NULL, &q8->wq, &q8->wk, &q8->wv, &q8->wo, NULL, &q8->w1, &q8->w2, &q8->w3};
        int rows[9] = {D, QD, KVD, KVD, D, D, HD, D, HD};
        int cols[9] = {0, D, D, D, QD, 0, D, HD, D};
        int k;
        for (k = 0; k < 9 && rc == ATTNRES_OK; k++)
            rc = qdst[k] ? attnres__load_matrix(f, used, names[k], i, dst[k], qdst[k], q8->group_size,
                                                rows[k], cols[k], err)
                         : attnres__load_layer_tensor(f, used, names[k], i, dst[k], rows[k], cols[k], err);
        if (c->residual == ATTNRES_RESIDUAL_ATTNRES && rc == ATTNRES_OK) {
            const char *res_names[4] = {
                "layers.%d.attention_res.pseudo_query", "layers.%d.attention_res.key_norm.weight",
                "layers.%d.ffn_res.pseudo_query",       "layers.%d.ffn_res.key_norm.weight"};
            float *res_dst[4] = {attnres__at(w->pseudo_query, (2 * I) * d), attnres__at(w->key_norm, (2 * I) * d),
                                 attnres__at(w->pseudo_query, (2 * I + 1) * d),
                                 attnres__at(w->key_norm, (2 * I + 1) * d)};
            for (k = 0; k < 4 && rc == ATTNRES_OK; k++)
                rc = attnres__load_layer_tensor(f, used, res_names[k], i, res_dst[k], D, 0, err);
        }
        if (c->qk_norm && rc == ATTNRES_OK) {
            int HDim = attnres_head_dim(c);
            rc = attnres__load_layer_tensor(f, used, "layers.%d.attention.q_norm.weight", i,
                                            attnres__at(w->q_norm, I * (size_t)HDim), HDim, 0, err);
            if (rc == ATTNRES_OK)
                rc = attnres__load_layer_tensor(f, used, "layers.%d.attention.k_norm.weight", i,
                                                attnres__at(w->k_norm, I * (size_t)HDim), HDim, 0, err);
        }
    }
    if (c->residual == ATTNRES_RESIDUAL_ATTNRES) {
        if (rc == ATTNRES_OK)
            rc = attnres__load_tensor(f, used, "output_res.pseudo_query", attnres__at(w->pseudo_query, L * d), D, 0, err);
        if (rc == ATTNRES_OK)
            rc = attnres__load_tensor(f, used, "output_res.key_norm.weight", attnres__at(w->key_norm, L * d), D, 0, err);
    }
    if (rc == ATTNRES_OK) rc = attnres__load_tensor(f, used, "norm.weight", w->norm, D, 0, err);
    if (rc == ATTNRES_OK && !c->tie_embeddings)
        rc = attnres__load_matrix(f, used, "output.weight", 0, w->output, &q8->output, q8->group_size,
                                  c->vocab_size, D, err);
    return rc;
}

/* A tensor nobody asked for means the file was made for another model. */
ATTNRES__PRIVATE int attnres__check_all_used(const attnres__st_file *f, const char *used,
                                             const attnres_config *c, attnres_error *err) {
    int i;
    for (i = 0; i < f->n_tensors; i++)
        if (!used[i])
            return attnres__fail(err, ATTNRES_ERR_SHAPE, "checkpoint: unexpected tensor '%s' for this config (residual %s%s)",
                                 f->tensors[i].name, c->residual ? "attnres" : "standard",
                                 c->tie_embeddings ? ", tied embeddings" : "");
    return ATTNRES_OK;
}

/* Two passes over the tensors: first check that the file holds exactly the
   tensors the config calls for, with the right shapes, before allocating
   anything (so a lying config cannot make us allocate gigabytes for a small
   file: the tensors it asks for must exist, and they lie inside the file);
   then allocate the weights and copy the values in. */
/* The model of a parsed file f (which it closes): config, then every
   tensor checked against it before anything is allocated, then loaded. */
ATTNRES__PRIVATE int attnres__load_parsed(attnres_model *m, attnres__st_file *f, attnres_error *err) {
    attnres_config c;
    attnres_weights probe;
    attnres_q8_weights probe_q8;
    uint64_t n_scales, n_values;
    char *used = NULL;
    int G = 0, act8 = 0, rc = attnres__config_from_meta(f, &c, err);
    if (rc == ATTNRES_OK) rc = attnres__q8_from_meta(f, &c, &G, &act8, err);
    if (rc == ATTNRES_OK) {
        used = (char *)ATTNRES_MALLOC((size_t)f->n_tensors + 1);
        if (!used) rc = attnres__fail(err, ATTNRES_ERR_NOMEM, "checkpoint: out of memory");
        else memset(used, 0, (size_t)f->n_tensors + 1);
    }
    if (rc == ATTNRES_OK) {
        attnres__carve_weights(&probe, NULL, &c, G > 0);   /* every pointer NULL: check only */
        attnres__carve_q8(&probe_q8, NULL, NULL, &c, G, &n_scales, &n_values);
        rc = attnres__load_weights(&c, &probe, &probe_q8, f, used, err);
    }
    if (rc == ATTNRES_OK) rc = attnres__check_all_used(f, used, &c, err);
    if (rc == ATTNRES_OK) rc = attnres__model_alloc(m, &c, G, err);
    if (rc == ATTNRES_OK) rc = attnres__load_weights(&c, &m->weights, &m->q8, f, used, err);
    if (rc == ATTNRES_OK) m->q8.int8_activations = act8;
    /* tied and q8: the output projection is the int8 copy of the embeddings,
       made here exactly as attnres_model_quantize makes it */
    if (rc == ATTNRES_OK && G > 0 && c.tie_embeddings)
        attnres_quantize_q8(m->q8.output.q, m->q8.output.scale, m->weights.tok_embeddings, c.vocab_size, c.dim, G);
    if (used) ATTNRES_FREE(used);
    attnres__st_close(f);
    if (rc != ATTNRES_OK) attnres_model_free(m);
    return rc;
}

ATTNRESDEF int attnres_model_load(attnres_model *m, const char *path, attnres_error *err) {
    attnres__st_file f;
    int rc;
    memset(m, 0, sizeof *m);
    if ((rc = attnres__st_open(&f, path, err)) != ATTNRES_OK) return rc;
    if ((rc = attnres__load_parsed(m, &f, err)) != ATTNRES_OK) {
        if (err) {   /* say which file */
            char inner[sizeof err->message], shown[84];
            memcpy(inner, err->message, sizeof inner);
            attnres__fail(err, rc, "%s: %s", attnres__short_path(shown, path), inner);
        }
        return rc;
    }
    return attnres__ok(err);
}

ATTNRESDEF int attnres_model_load_memory(attnres_model *m, const void *bytes, size_t n_bytes,
                                         attnres_error *err) {
    attnres__st_file f;
    unsigned char *copy;
    int rc;
    memset(m, 0, sizeof *m);
    if (!bytes && n_bytes > 0)
        return attnres__fail(err, ATTNRES_ERR_RANGE, "checkpoint in memory: NULL bytes of length %zu", n_bytes);
    /* the parser owns its buffer and the loader copies out of it: one copy
       of the file lives only while loading, as with attnres_model_load */
    copy = (unsigned char *)ATTNRES_MALLOC(n_bytes > 0 ? n_bytes : 1);
    if (!copy)
        return attnres__fail(err, ATTNRES_ERR_NOMEM, "checkpoint in memory: cannot copy %zu bytes", n_bytes);
    if (n_bytes > 0) memcpy(copy, bytes, n_bytes);
    rc = attnres__st_parse(&f, copy, n_bytes, err);
    if (rc == ATTNRES_OK) rc = attnres__load_parsed(m, &f, err);
    if (rc != ATTNRES_OK) {
        if (err) {   /* say where the bytes came from, as load names its file */
            char inner[sizeof err->message];
            memcpy(inner, err->message, sizeof inner);
            attnres__fail(err, rc, "checkpoint in memory: %s", inner);
        }
        return rc;
    }
    return attnres__ok(err);
}

#endif /* ATTNRES_IMPLEMENTATION_DONE */
#endif /* ATTNRES_IMPLEMENTATION */

/*
------------------------------------------------------------------------------
LICENSE (MIT)
Copyright (c) 2026 the attnres authors
Permission is hereby granted, free of charge, to any person obtaining a copy of
this software and associated documentation files (the "Software"), to deal in
the Software without restriction, including without limitation the rights to
use, copy, modify, merge, publish, distribute, sublicense, and/or sell copies
of the Software, and to permit persons to whom the Software is furnished to do
so, subject to the following conditions:
The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.
THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.
------------------------------------------------------------------------------
*/

"""PyTorch reference for attnres.h: a decoder-only LLaMA-style transformer with
standard residuals or (Block) Attention Residuals, in float64.

Written to be read side by side with the C code: one small function per
building block, whole prompt at once (causal mask), so it is an independent
check of the C engine, which decodes one token at a time with a KV-cache.
Weights are stored as float32; everything here is computed in float64 (the
float32 weights are cast to double), so the result is the "exact" math.

The model (the contract)
------------------------
Config: dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len,
rope_theta, norm_eps, tie_embeddings, residual ("standard" | "attnres"),
block_size S (counted in sublayers; 0 for standard); format version 2 adds
head_dim (0 or absent: dim / n_heads; Qwen3 sets it) and qk_norm; format
version 3 adds rope_scaling (Llama 3.x's "llama3", or "linear"). eos_token_id
(a list, any version) only tells a generator where to stop.
kv_dim = n_kv_heads * head_dim; wq is [n_heads*head_dim, dim], wo [dim, n_heads*head_dim].
L = 2 * n_layers sublayers: sublayer 2i is the attention of layer i, sublayer
2i+1 the MLP of layer i. N = ceil(L / S) blocks.

- RMSNorm(x, g, eps) = x / sqrt(mean(x^2) + eps) * g, over the last axis.
- Attention sublayer: f(h) = wo @ Attn(RMSNorm(h, attention_norm[i])), with
  q = wq@xn, k = wk@xn, v = wv@xn; RoPE on q and k; causal softmax attention
  scaled by 1/sqrt(head_dim); with qk_norm, every head of q and of k is
  first RMSNormed over its head_dim with the gains q_norm[i], k_norm[i]
  (eps = norm_eps), before RoPE (Qwen3's placement); grouped-query: query head hq reads kv head
  hq // (n_heads // n_kv_heads); heads concatenated, then wo.
- RoPE: interleaved pairs per head (Meta's LLaMA / llama2.c): for
  i in 0..head_dim/2-1, freq_i = rope_theta ** (-(2i)/head_dim),
  angle = pos * freq_i (pos 0-based), and
  (x[2i], x[2i+1]) -> (x[2i] cos - x[2i+1] sin, x[2i] sin + x[2i+1] cos).
  With rope_scaling the freq_i are rescaled first, as Hugging Face's
  transformers defines it (rope_inv_freq); cos and sin are not scaled.
- MLP sublayer (SwiGLU): f(h) = w2 @ (silu(w1 @ xn) * (w3 @ xn)),
  xn = RMSNorm(h, ffn_norm[i]), silu(z) = z * sigmoid(z).
- standard: h = embedding; for each sublayer l: h = h + f_l(h);
  logits = W_out @ RMSNorm(h, norm).
- attnres (Block AttnRes; S = 1 is Full AttnRes):
  * b0 = the token embedding. Block n >= 1 holds the sublayers with 1-based
    indices ((n-1)*S, n*S] (the last block is shorter if S does not divide L);
    b_n = the sum of the outputs f of its sublayers (never the embedding).
  * The i-th sublayer (1-based) of block n reads h = sum_j alpha_j v_j over
    V = [b0 .. b_{n-1}] when i = 1, and V = [b0 .. b_{n-1}, partial] when
    i >= 2, where partial = the sum of the outputs of sublayers 1..i-1 of block n.
  * depth_attention: s_j = w_l . RMSNorm(v_j, g_l, norm_eps), one learned
    pseudo-query w_l and one key-norm gain g_l per sublayer; alpha = softmax
    over j (depth); no 1/sqrt(d) scale; output = sum_j alpha_j v_j with the RAW
    v_j (only the keys are normalised).
  * After all L sublayers, one more depth_attention (the output pseudo-query
    and key norm) over [b0, b1, .., b_N] gives out_h;
    logits = W_out @ RMSNorm(out_h, norm).
  * Depth attention is per token position; only token attention mixes positions.
- W_out = output.weight, or tok_embeddings.weight when tie_embeddings.

Checkpoint: safetensors (tools/st.py), all F32, row-major [out, in]
(y = W @ x); names and canonical order in tensor_names_and_shapes(), config in
__metadata__ (config_to_metadata()).
"""

import math
from dataclasses import dataclass

import torch

import st

DTYPE = torch.float64  # every computation here
FORMAT_VERSION = "2"   # written only when head_dim or qk_norm is used; else "1"
SCALED_FORMAT_VERSION = "3"   # written only when rope_scaling is set


# --------------------------------------------------------------------------
# Config
# --------------------------------------------------------------------------

@dataclass
class Config:
    dim: int
    hidden_dim: int
    n_layers: int
    n_heads: int
    n_kv_heads: int
    vocab_size: int
    seq_len: int
    rope_theta: float = 10000.0
    norm_eps: float = 1e-5
    tie_embeddings: bool = False
    residual: str = "standard"  # "standard" | "attnres"
    block_size: int = 0  # S, in sublayers; 0 for standard
    head_dim_explicit: int = 0  # metadata head_dim; 0: dim // n_heads
    qk_norm: bool = False       # RMSNorm per q / k head before RoPE (Qwen3)
    rope_scaling: dict = None   # None, or {"type": "linear" | "llama3", "factor": .., ...} (st.ROPE_SCALING_KEYS)
    eos_token_id: tuple = ()    # end-of-sequence ids a generator stops at (metadata only)

    @property
    def head_dim(self):
        return self.head_dim_explicit or self.dim // self.n_heads

    @property
    def format_version(self):
        if self.rope_scaling:
            return SCALED_FORMAT_VERSION
        return FORMAT_VERSION if self.head_dim_explicit or self.qk_norm else "1"

    @property
    def kv_dim(self):
        return self.n_kv_heads * self.head_dim

    @property
    def n_sublayers(self):
        """L = 2 * n_layers (attention and MLP of every layer)."""
        return 2 * self.n_layers

    @property
    def n_blocks(self):
        """N = ceil(L / S) for attnres; 0 for standard."""
        if self.residual != "attnres":
            return 0
        return -(-self.n_sublayers // self.block_size)

    def validate(self):
        """Raise ValueError if the config does not describe a valid model."""
        ints = (self.dim, self.hidden_dim, self.n_layers, self.n_heads,
                self.n_kv_heads, self.vocab_size, self.seq_len)
        if any(v < 1 for v in ints):
            raise ValueError("dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len must be >= 1")
        if self.head_dim_explicit < 0 or (not self.head_dim_explicit and self.dim % self.n_heads) \
                or self.head_dim % 2:
            raise ValueError("head_dim must be even (dim = n_heads * head_dim unless head_dim is given)")
        if self.n_heads % self.n_kv_heads:
            raise ValueError("n_heads must be a multiple of n_kv_heads")
        if not (self.rope_theta > 0 and self.norm_eps > 0):
            raise ValueError("rope_theta and norm_eps must be > 0")
        if self.rope_scaling:
            st.check_rope_scaling(self.rope_scaling)   # FormatError is a ValueError
        if any(not 0 <= i < self.vocab_size for i in self.eos_token_id):
            raise ValueError(f"eos_token_id {list(self.eos_token_id)}: not all are tokens of vocab {self.vocab_size}")
        if self.residual == "standard":
            if self.block_size != 0:
                raise ValueError("block_size must be 0 for the standard residual")
        elif self.residual == "attnres":
            if not 1 <= self.block_size <= self.n_sublayers:
                raise ValueError("block_size must be in [1, L] for attnres")
        else:
            raise ValueError(f"unknown residual {self.residual!r}")


def config_to_metadata(cfg):
    """The safetensors __metadata__ of a checkpoint (all values strings)."""
    meta = {
        "format": "attnres",
        "format_version": cfg.format_version,
        "dim": str(cfg.dim),
        "hidden_dim": str(cfg.hidden_dim),
        "n_layers": str(cfg.n_layers),
        "n_heads": str(cfg.n_heads),
        "n_kv_heads": str(cfg.n_kv_heads),
        "vocab_size": str(cfg.vocab_size),
        "seq_len": str(cfg.seq_len),
        "rope_theta": repr(float(cfg.rope_theta)),
        "norm_eps": repr(float(cfg.norm_eps)),
        "tie_embeddings": "true" if cfg.tie_embeddings else "false",
        "residual": cfg.residual,
        "block_size": str(cfg.block_size),
    }
    if cfg.head_dim_explicit:
        meta["head_dim"] = str(cfg.head_dim_explicit)
    if cfg.qk_norm:
        meta["qk_norm"] = "true"
    if cfg.rope_scaling:
        meta["rope_scaling"] = cfg.rope_scaling["type"]
        for k in st.ROPE_SCALING_KEYS[cfg.rope_scaling["type"]]:
            v = cfg.rope_scaling[k]
            meta["rope_scaling_" + k] = str(int(v)) if k.startswith("original") else repr(float(v))
    if cfg.eos_token_id:
        meta["eos_token_id"] = ",".join(str(int(i)) for i in cfg.eos_token_id)
    return meta


def config_from_metadata(meta):
    """Inverse of config_to_metadata; checks format and version."""
    if meta.get("format", "attnres") != "attnres":
        raise ValueError(f"format is {meta['format']!r}, expected 'attnres'")
    version = meta.get("format_version")
    if version not in ("1", FORMAT_VERSION, SCALED_FORMAT_VERSION):
        raise ValueError(f"format_version {version!r}, expected '1', {FORMAT_VERSION!r} or {SCALED_FORMAT_VERSION!r}")
    # rope_scaling and eos_token_id, parsed and checked as attnres.h does (st.py)
    extra = st.config_from_metadata(meta, "checkpoint") if "rope_scaling" in meta or "eos_token_id" in meta else {}
    v2 = version != "1"
    tie = meta["tie_embeddings"]
    if tie not in ("true", "false"):
        raise ValueError(f"tie_embeddings must be 'true' or 'false', got {tie!r}")
    cfg = Config(
        dim=int(meta["dim"]),
        hidden_dim=int(meta["hidden_dim"]),
        n_layers=int(meta["n_layers"]),
        n_heads=int(meta["n_heads"]),
        n_kv_heads=int(meta["n_kv_heads"]),
        vocab_size=int(meta["vocab_size"]),
        seq_len=int(meta["seq_len"]),
        rope_theta=float(meta["rope_theta"]),
        norm_eps=float(meta["norm_eps"]),
        tie_embeddings=tie == "true",
        residual=meta["residual"],
        block_size=int(meta.get("block_size", "0")),
        head_dim_explicit=int(meta.get("head_dim", "0")) if v2 else 0,
        qk_norm=v2 and meta.get("qk_norm", "false") == "true",
        rope_scaling=extra.get("rope_scaling"),
        eos_token_id=tuple(extra.get("eos_token_id", ())),
    )
    cfg.validate()
    return cfg


# --------------------------------------------------------------------------
# Checkpoint
# --------------------------------------------------------------------------

def res_names(cfg, l):
    """(pseudo_query, key_norm gain) tensor names of sublayer l; l == L is the output."""
    if l == cfg.n_sublayers:
        prefix = "output_res"
    else:
        prefix = f"layers.{l // 2}." + ("attention_res" if l % 2 == 0 else "ffn_res")
    return f"{prefix}.pseudo_query", f"{prefix}.key_norm.weight"


def tensor_names_and_shapes(cfg):
    """Every checkpoint tensor as (name, shape), in the canonical order."""
    d, hd, kv, hid = cfg.dim, cfg.head_dim, cfg.kv_dim, cfg.hidden_dim
    out = [("tok_embeddings.weight", (cfg.vocab_size, d))]
    for i in range(cfg.n_layers):
        p = f"layers.{i}."
        out += [
            (p + "attention_norm.weight", (d,)),
            (p + "attention.wq.weight", (cfg.n_heads * hd, d)),
            (p + "attention.wk.weight", (kv, d)),
            (p + "attention.wv.weight", (kv, d)),
            (p + "attention.wo.weight", (d, cfg.n_heads * hd)),
            *([(p + "attention.q_norm.weight", (hd,)), (p + "attention.k_norm.weight", (hd,))]
              if cfg.qk_norm else []),
            (p + "ffn_norm.weight", (d,)),
            (p + "feed_forward.w1.weight", (hid, d)),
            (p + "feed_forward.w2.weight", (d, hid)),
            (p + "feed_forward.w3.weight", (hid, d)),
        ]
        if cfg.residual == "attnres":
            out += [
                (p + "attention_res.pseudo_query", (d,)),
                (p + "attention_res.key_norm.weight", (d,)),
                (p + "ffn_res.pseudo_query", (d,)),
                (p + "ffn_res.key_norm.weight", (d,)),
            ]
    if cfg.residual == "attnres":
        out += [("output_res.pseudo_query", (d,)), ("output_res.key_norm.weight", (d,))]
    out.append(("norm.weight", (d,)))
    if not cfg.tie_embeddings:
        out.append(("output.weight", (cfg.vocab_size, d)))
    return out


def _check_weights(cfg, weights):
    """Exactly the tensors the config calls for, with the right shapes."""
    expected = tensor_names_and_shapes(cfg)
    names = {n for n, _ in expected}
    extra = sorted(set(weights) - names)
    missing = sorted(names - set(weights))
    if extra or missing:
        raise ValueError(f"checkpoint tensors differ from the config: missing {missing}, extra {extra}")
    for name, shape in expected:
        if tuple(weights[name].shape) != shape:
            raise ValueError(f"{name}: shape {tuple(weights[name].shape)}, expected {shape}")


def save_checkpoint(path, cfg, weights):
    """Write `weights` (name -> tensor) as float32 in the canonical order."""
    cfg.validate()
    _check_weights(cfg, weights)
    tensors = {name: torch.as_tensor(weights[name]).to(torch.float32).contiguous()
               for name, _ in tensor_names_and_shapes(cfg)}
    st.write(path, tensors, config_to_metadata(cfg))


def load_checkpoint(path):
    """Read a checkpoint: returns (Config, dict name -> float32 torch tensor)."""
    arrays, meta = st.read(path)
    cfg = config_from_metadata(meta)
    weights = {name: torch.from_numpy(a) for name, a in arrays.items()}
    _check_weights(cfg, weights)
    for name, w in weights.items():
        if w.dtype != torch.float32:
            raise ValueError(f"{name}: dtype {w.dtype}, expected float32")
    return cfg, weights


# --------------------------------------------------------------------------
# Building blocks (all float64)
# --------------------------------------------------------------------------

# W8A8 (int8 activations, tools/quantize.py): when set to a function, every
# linear() first replaces its input x by what that function returns (x's
# group-wise int8 form, dequantized), as an engine that quantizes each matvec
# input does. None: the plain model.
ACTIVATION_QUANT = None


def linear(x, w):
    """y = W @ x for every row of x: x [..., in], w [out, in] -> [..., out]."""
    if ACTIVATION_QUANT is not None:
        x = ACTIVATION_QUANT(x)
    return x @ w.T


def rmsnorm(x, g, eps):
    """x / sqrt(mean(x^2) + eps) * g over the last axis. x [..., d], g [d]."""
    ms = (x * x).mean(dim=-1, keepdim=True)  # [..., 1]
    return x / torch.sqrt(ms + eps) * g


def softmax(x, dim=-1):
    """exp(x - max) / sum along `dim` (-inf entries get weight 0)."""
    m = x.max(dim=dim, keepdim=True).values
    e = torch.exp(x - m)
    return e / e.sum(dim=dim, keepdim=True)


def silu(z):
    """z * sigmoid(z)."""
    return z / (1.0 + torch.exp(-z))


def rope_inv_freq(head_dim, theta, scaling=None):
    """freq_i [head_dim/2], the angle per position of pair i: theta^(-2i/head_dim),
    then rescaled as transformers' modeling_rope_utils.py defines it:
      "linear" (_compute_linear_scaling_rope_parameters): freq / factor;
      "llama3" (_compute_llama3_parameters): by the pair's wavelength
        2 pi / freq against the original context C = original_max_position_embeddings:
        shorter than C / high_freq_factor: kept (local detail stays sharp);
        longer than C / low_freq_factor:   freq / factor (stretched to the new context);
        in between: a blend, (1 - s) freq / factor + s freq with
        s = (C / wavelength - low_freq_factor) / (high_freq_factor - low_freq_factor)."""
    i = torch.arange(head_dim // 2, dtype=DTYPE)              # [half]
    freq = torch.pow(torch.tensor(float(theta), dtype=DTYPE), -(2.0 * i) / head_dim)  # [half]
    if not scaling:
        return freq
    factor = float(scaling["factor"])
    if scaling["type"] == "linear":
        return freq / factor
    if scaling["type"] != "llama3":
        raise ValueError(f"rope_scaling {scaling['type']!r}: only 'linear' and 'llama3' are defined here")
    lo, hi = float(scaling["low_freq_factor"]), float(scaling["high_freq_factor"])
    context = float(scaling["original_max_position_embeddings"])
    wavelength = 2.0 * math.pi / freq                         # [half]
    s = (context / wavelength - lo) / (hi - lo)               # [half]
    blended = (1.0 - s) * freq / factor + s * freq
    return torch.where(wavelength < context / hi, freq,
                       torch.where(wavelength > context / lo, freq / factor, blended))


def rope(x, pos, head_dim, theta, scaling=None):
    """Interleaved-pair rotary embedding of every head of every row.
    x [T, n] (n = n_heads * head_dim, heads one after another), pos [T] -> [T, n];
    scaling: cfg.rope_scaling (None: plain RoPE)."""
    T, n = x.shape
    half = head_dim // 2
    freq = rope_inv_freq(head_dim, theta, scaling)            # [half]
    angle = torch.as_tensor(pos, dtype=DTYPE)[:, None] * freq[None, :]  # [T, half]
    cos = torch.cos(angle)[:, None, :]                        # [T, 1, half]
    sin = torch.sin(angle)[:, None, :]                        # [T, 1, half]
    pairs = x.reshape(T, n // head_dim, half, 2)              # [T, heads, half, 2]
    x0, x1 = pairs[..., 0], pairs[..., 1]                     # [T, heads, half]
    y0 = x0 * cos - x1 * sin
    y1 = x0 * sin + x1 * cos
    return torch.stack([y0, y1], dim=-1).reshape(T, n)


def head_norm(x, g, head_dim, eps):
    """QK-norm: RMSNorm over each head of every row. x [T, heads*head_dim], g [head_dim]."""
    T = x.shape[0]
    return rmsnorm(x.reshape(T, -1, head_dim), g, eps).reshape(T, -1)


def attention(xn, wq, wk, wv, wo, pos, n_heads, n_kv_heads, theta, qk_norm=None, rope_scaling=None):
    """Causal grouped-query self-attention over a whole prompt.
    xn [T, dim] (already normalised), pos [T]; qk_norm: None or
    (q_gain [head_dim], k_gain [head_dim], eps), applied before RoPE;
    rope_scaling: the config's (None: plain RoPE).
    Returns (out [T, dim], k [T, kv_dim] after RoPE, v [T, kv_dim])."""
    T = xn.shape[0]
    head_dim = wq.shape[0] // n_heads
    q, k = linear(xn, wq), linear(xn, wk)                     # [T, n_heads*head_dim], [T, kv_dim]
    if qk_norm is not None:
        q = head_norm(q, qk_norm[0], head_dim, qk_norm[2])
        k = head_norm(k, qk_norm[1], head_dim, qk_norm[2])
    q = rope(q, pos, head_dim, theta, rope_scaling)           # [T, n_heads*head_dim]
    k = rope(k, pos, head_dim, theta, rope_scaling)           # [T, kv_dim]
    v = linear(xn, wv)                                        # [T, kv_dim]

    qh = q.reshape(T, n_heads, head_dim)                      # [T, n_heads, head_dim]
    kv_of_head = torch.arange(n_heads) // (n_heads // n_kv_heads)  # [n_heads]
    kh = k.reshape(T, n_kv_heads, head_dim)[:, kv_of_head]    # [T, n_heads, head_dim]
    vh = v.reshape(T, n_kv_heads, head_dim)[:, kv_of_head]    # [T, n_heads, head_dim]

    scores = torch.einsum("thd,shd->hts", qh, kh) / math.sqrt(head_dim)  # [n_heads, T(query), T(key)]
    future = torch.ones(T, T, dtype=torch.bool).triu(diagonal=1)         # key after query
    scores = scores.masked_fill(future, float("-inf"))
    p = softmax(scores, dim=-1)                               # [n_heads, T, T]
    ctx = torch.einsum("hts,shd->thd", p, vh).reshape(T, n_heads * head_dim)  # [T, n_heads*head_dim]
    return linear(ctx, wo), k, v


def mlp(xn, w1, w2, w3):
    """SwiGLU: w2 @ (silu(w1 @ xn) * (w3 @ xn)). xn [..., dim] (already normalised)."""
    return linear(silu(linear(xn, w1)) * linear(xn, w3), w2)


def depth_attention(sources, pseudo_query, key_gain, eps):
    """The AttnRes operation: softmax attention over the depth axis.
    sources [n_src, ..., dim]; pseudo_query, key_gain [dim].
    logits_j = pseudo_query . RMSNorm(sources[j], key_gain, eps)  (no 1/sqrt(d))
    alpha = softmax over j; out = sum_j alpha_j * sources[j]  (raw values).
    Returns (out [..., dim], alpha [n_src, ...])."""
    keys = rmsnorm(sources, key_gain, eps)                    # [n_src, ..., dim]
    logits = keys @ pseudo_query                              # [n_src, ...]
    alpha = softmax(logits, dim=0)                            # [n_src, ...]
    out = (alpha.unsqueeze(-1) * sources).sum(dim=0)          # [..., dim]
    return out, alpha


# --------------------------------------------------------------------------
# Block layout and the forward pass
# --------------------------------------------------------------------------

def block_position(cfg, l):
    """(n, i): sublayer l (0-based) is the i-th (1-based) sublayer of block n (1-based)."""
    return l // cfg.block_size + 1, l % cfg.block_size + 1


def n_sources(cfg, l):
    """Number of depth-attention sources of sublayer l; l == L is the output (N + 1)."""
    if l == cfg.n_sublayers:
        return cfg.n_blocks + 1
    n, i = block_position(cfg, l)
    return n + (1 if i >= 2 else 0)  # b0..b_{n-1}, plus the partial sum when i >= 2


def sublayer(cfg, w, l, h, pos):
    """f_l(h) for sublayer l over the whole prompt. h [T, dim].
    Returns (f [T, dim], (k, v) for an attention sublayer, else None)."""
    p = f"layers.{l // 2}."
    if l % 2 == 0:
        xn = rmsnorm(h, w[p + "attention_norm.weight"], cfg.norm_eps)
        out, k, v = attention(xn, w[p + "attention.wq.weight"], w[p + "attention.wk.weight"],
                              w[p + "attention.wv.weight"], w[p + "attention.wo.weight"],
                              pos, cfg.n_heads, cfg.n_kv_heads, cfg.rope_theta,
                              (w[p + "attention.q_norm.weight"], w[p + "attention.k_norm.weight"],
                               cfg.norm_eps) if cfg.qk_norm else None, cfg.rope_scaling)
        return out, (k, v)
    xn = rmsnorm(h, w[p + "ffn_norm.weight"], cfg.norm_eps)
    out = mlp(xn, w[p + "feed_forward.w1.weight"], w[p + "feed_forward.w2.weight"],
              w[p + "feed_forward.w3.weight"])
    return out, None


def forward(cfg, weights, tokens):
    """Whole-prompt forward pass in float64.
    tokens [T] ints. Returns (logits [T, vocab_size], trace), trace a dict of
    float64 tensors:
      h        [T, L, dim]          input of every sublayer (before its pre-norm)
      out_h    [T, dim]             the vector fed to the final RMSNorm
      k_cache  [n_layers, T, kv_dim] keys after RoPE
      v_cache  [n_layers, T, kv_dim]
    and for attnres also
      alpha       [T, L+1, N+1]  depth weights of every sublayer and (row L) the
                                 output, zero-padded past the number of sources
      alpha_count [L+1]          (int) number of sources of each row
      blocks      [T, N+1, dim]  b0..b_N after the whole pass."""
    cfg.validate()
    w = {name: t.to(DTYPE) for name, t in weights.items()}
    tokens = torch.as_tensor(tokens, dtype=torch.long)
    T, L, d = tokens.shape[0], cfg.n_sublayers, cfg.dim
    if not 1 <= T <= cfg.seq_len:
        raise ValueError(f"prompt of {T} tokens, seq_len is {cfg.seq_len}")
    if int(tokens.min()) < 0 or int(tokens.max()) >= cfg.vocab_size:
        raise ValueError("token id out of range")
    pos = torch.arange(T)                                     # [T]

    x = w["tok_embeddings.weight"][tokens]                    # [T, dim]
    h_trace = torch.zeros(T, L, d, dtype=DTYPE)
    k_cache = torch.zeros(cfg.n_layers, T, cfg.kv_dim, dtype=DTYPE)
    v_cache = torch.zeros(cfg.n_layers, T, cfg.kv_dim, dtype=DTYPE)
    trace = {}

    def run_sublayer(l, h):
        h_trace[:, l] = h
        f, kv = sublayer(cfg, w, l, h, pos)
        if kv is not None:
            k_cache[l // 2], v_cache[l // 2] = kv
        return f

    if cfg.residual == "standard":
        h = x
        for l in range(L):
            h = h + run_sublayer(l, h)
        out_h = h
    else:
        N = cfg.n_blocks
        alpha_trace = torch.zeros(T, L + 1, N + 1, dtype=DTYPE)
        alpha_count = torch.zeros(L + 1, dtype=torch.int32)
        blocks = [x]       # completed blocks b0, b1, ..; each [T, dim]
        partial = None     # sum of the outputs of the current block so far
        for l in range(L):
            sources = blocks if partial is None else blocks + [partial]
            assert len(sources) == n_sources(cfg, l)
            h, alpha = depth_attention(torch.stack(sources), *_res(cfg, w, l))  # [T, dim], [n_src, T]
            alpha_trace[:, l, :len(sources)] = alpha.T
            alpha_count[l] = len(sources)
            f = run_sublayer(l, h)
            partial = f if partial is None else partial + f
            _, i = block_position(cfg, l)
            if i == cfg.block_size or l == L - 1:             # block n is complete
                blocks.append(partial)
                partial = None
        assert len(blocks) == N + 1
        out_h, alpha = depth_attention(torch.stack(blocks), *_res(cfg, w, L))
        alpha_trace[:, L, :] = alpha.T
        alpha_count[L] = N + 1
        trace.update(alpha=alpha_trace, alpha_count=alpha_count,
                     blocks=torch.stack(blocks, dim=1))       # [T, N+1, dim]

    w_out = w["tok_embeddings.weight"] if cfg.tie_embeddings else w["output.weight"]
    logits = linear(rmsnorm(out_h, w["norm.weight"], cfg.norm_eps), w_out)  # [T, vocab_size]
    trace.update(h=h_trace, out_h=out_h, k_cache=k_cache, v_cache=v_cache)
    return logits, trace


def _res(cfg, w, l):
    """(pseudo_query, key_gain, eps) of sublayer l (l == L: the output)."""
    q_name, g_name = res_names(cfg, l)
    return w[q_name], w[g_name], cfg.norm_eps


# --------------------------------------------------------------------------
# Two-phase Block AttnRes (the paper's Algorithm 1)
# --------------------------------------------------------------------------
# Written from the definition, not from the C code's shortcuts: keys are
# RMSNorm(b_j; g_l) materialised per query, and the softmax statistics come
# from plain max / exp / sum over all completed blocks at once.

def phase1(blocks, queries, eps):
    """Phase 1 for one block: its sublayers' pseudo-queries against the
    completed blocks. blocks [n, T, dim]; queries: list of (pseudo_query,
    key_gain), one per sublayer of the block.
    Returns (o [S_n, T, dim], max [S_n, T], sum [S_n, T]) with
      s_ij = w_i . RMSNorm(b_j; g_i),  max_i = max_j s_ij,
      sum_i = sum_j exp(s_ij - max_i),  o_i = sum_j exp(s_ij - max_i) b_j."""
    o, mx, sm = [], [], []
    for w, g in queries:
        s = rmsnorm(blocks, g, eps) @ w                       # [n, T]
        m = s.max(dim=0).values                               # [T]
        e = torch.exp(s - m)                                  # [n, T]
        o.append((e.unsqueeze(-1) * blocks).sum(dim=0))       # [T, dim]
        mx.append(m)
        sm.append(e.sum(dim=0))
    return torch.stack(o), torch.stack(mx), torch.stack(sm)


def phase2(o, mx, sm, partial, w, g, eps):
    """Phase 2 for one sublayer: merge its phase-1 statistics (o [T, dim],
    max [T], sum [T]) with the partial sum [T, dim] (None for the first
    sublayer of a block) by online softmax. Returns h [T, dim]."""
    if partial is None:
        return o / sm.unsqueeze(-1)
    s_p = rmsnorm(partial, g, eps) @ w                        # [T]
    m_new = torch.maximum(mx, s_p)
    scale, w_p = torch.exp(mx - m_new), torch.exp(s_p - m_new)
    total = sm * scale + w_p
    return (o * scale.unsqueeze(-1) + w_p.unsqueeze(-1) * partial) / total.unsqueeze(-1)


def forward_two_phase(cfg, weights, tokens):
    """forward() for attnres with the depth attention done in two phases.
    Returns (logits [T, vocab], stats) where stats holds the phase-1 results
    of every block n = 1..N (row n-1) and of the output (row N, query 0):
      phase1_o [T, N+1, S, dim], phase1_max [T, N+1, S], phase1_sum [T, N+1, S]
    (zero where a short last block has fewer than S sublayers)."""
    assert cfg.residual == "attnres"
    w = {name: t.to(DTYPE) for name, t in weights.items()}
    tokens = torch.as_tensor(tokens, dtype=torch.long)
    T, L, d, S, N = tokens.shape[0], cfg.n_sublayers, cfg.dim, cfg.block_size, cfg.n_blocks
    pos = torch.arange(T)
    o_all = torch.zeros(T, N + 1, S, d, dtype=DTYPE)
    max_all = torch.zeros(T, N + 1, S, dtype=DTYPE)
    sum_all = torch.zeros(T, N + 1, S, dtype=DTYPE)
    blocks = [w["tok_embeddings.weight"][tokens]]             # each [T, dim]
    for n in range(1, N + 1):
        layers = list(range((n - 1) * S, min(n * S, L)))      # the sublayers of block n
        o, mx, sm = phase1(torch.stack(blocks), [_res(cfg, w, l)[:2] for l in layers], cfg.norm_eps)
        o_all[:, n - 1, :len(layers)] = o.permute(1, 0, 2)
        max_all[:, n - 1, :len(layers)] = mx.T
        sum_all[:, n - 1, :len(layers)] = sm.T
        partial = None
        for i, l in enumerate(layers):
            h = phase2(o[i], mx[i], sm[i], partial, *_res(cfg, w, l))
            f, _ = sublayer(cfg, w, l, h, pos)
            partial = f if partial is None else partial + f
        blocks.append(partial)
    o, mx, sm = phase1(torch.stack(blocks), [_res(cfg, w, L)[:2]], cfg.norm_eps)
    o_all[:, N, 0], max_all[:, N, 0], sum_all[:, N, 0] = o[0], mx[0], sm[0]
    out_h = phase2(o[0], mx[0], sm[0], None, *_res(cfg, w, L))
    w_out = w["tok_embeddings.weight"] if cfg.tie_embeddings else w["output.weight"]
    logits = linear(rmsnorm(out_h, w["norm.weight"], cfg.norm_eps), w_out)
    return logits, {"phase1_o": o_all, "phase1_max": max_all, "phase1_sum": sum_all}


if __name__ == "__main__":
    # Small self-check: a random attnres model; alpha rows sum to 1, and zero
    # pseudo-queries give uniform depth weights.
    g = torch.Generator().manual_seed(0)
    cfg = Config(dim=16, hidden_dim=24, n_layers=2, n_heads=2, n_kv_heads=1, vocab_size=11,
                 seq_len=8, residual="attnres", block_size=3)
    weights = {n: torch.randn(s, generator=g) for n, s in tensor_names_and_shapes(cfg)}
    _, tr = forward(cfg, weights, [1, 2, 3, 4, 5])
    sums = tr["alpha"].sum(-1)
    print("alpha rows sum to 1:", bool(torch.allclose(sums, torch.ones_like(sums), atol=1e-12)))
    for n, _ in tensor_names_and_shapes(cfg):
        if n.endswith("pseudo_query"):
            weights[n] = torch.zeros_like(weights[n])
    _, tr = forward(cfg, weights, [1, 2, 3, 4, 5])
    uniform = all(torch.allclose(tr["alpha"][:, l, :c], torch.full((5, int(c)), 1.0 / int(c), dtype=DTYPE))
                  for l, c in enumerate(tr["alpha_count"].tolist()))
    print("zero pseudo-queries give uniform alpha:", uniform)

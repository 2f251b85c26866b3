"""Encoder–decoder transformer over field sequences, with KV-cached greedy and beam decoding.

Each sequence position is a vector of integer fields (token and position, or sign/mantissa/exponent and
row/column/part); its embedding is the sum of one learned embedding per field. The decoder predicts its
output fields one after another at each position: field k's head sees the hidden state plus embeddings
of the fields chosen before it.
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import asdict, dataclass, field

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.attention import SDPBackend, sdpa_kernel

from lawt.encodings import IGNORE, MAX_DIM, Codec

SHORT = 64  # up to this many keys, the plain (math) attention kernel beats the CPU flash kernel


@dataclass
class ModelConfig:
    """Architecture; field vocabularies come from the codec."""

    src_fields: list[int] = field(default_factory=list)
    tgt_fields: list[int] = field(default_factory=list)
    out_fields: list[int] = field(default_factory=list)
    d_model: int = 256
    n_heads: int = 8
    enc_layers: int = 1
    dec_layers: int = 1
    ffn_mult: int = 4
    value_embedding: bool = False  # add an embedding of each number's value (entry layouts only)
    value_mantissa: bool = False  # the value embedding also gets the signed mantissa alone, a scale-free feature
    head_hidden: int = 0  # width of a hidden layer in each output head; 0 = linear heads
    bilinear: int = 0  # width of a bilinear branch (exact products) beside every feed-forward network; 0 = none
    grid_bias: bool = False  # learned attention bias from matching row/column indices (entry layouts only)
    index_bias: bool = False  # with the grid bias: also a learned bias per key row and column index
    separate_operands: bool = False  # encoder attention within each operand only (entry layouts only)
    src_number_fields: list[int] = field(default_factory=list)  # sign, exponent, mantissa field indices
    tgt_number_fields: list[int] = field(default_factory=list)
    exponent_min: int = 0

    def to_dict(self) -> dict:
        return asdict(self)

    def features(self) -> list[str]:
        """The optional parts this architecture has, named for a reader of its card."""
        named = [(self.value_embedding, "value embedding"), (self.value_mantissa, "mantissa feature"),
                 (bool(self.head_hidden), "MLP heads"), (bool(self.bilinear), "bilinear feed-forward"),
                 (self.grid_bias, "grid attention bias"),
                 (self.index_bias, "index bias"), (self.separate_operands, "operands encoded apart")]
        return [name for present, name in named if present]


class FieldEmbedding(nn.Module):
    """Sum of one embedding per field, stored as one table with offsets: one ``embedding_bag`` (sum) call,
    which never materialises the per-field vectors."""

    def __init__(self, vocab_sizes: list[int], d_model: int) -> None:
        super().__init__()
        offsets = torch.tensor([0, *vocab_sizes[:-1]]).cumsum(0)
        self.register_buffer("offsets", offsets, persistent=False)
        self.table = nn.Embedding(sum(vocab_sizes), d_model)

    def forward(self, x: torch.Tensor, first: int = 0) -> torch.Tensor:
        """Embedding of field values [..., n] for fields ``first`` to ``first + n - 1``."""
        rows = (x + self.offsets[first:first + x.shape[-1]]).reshape(-1, x.shape[-1])
        return F.embedding_bag(rows, self.table.weight, mode="sum").view(*x.shape[:-1], -1)


class ValueEmbedding(nn.Module):
    """Embedding of the value a position's number fields spell: a linear map of two features,
    v/10 (with |v| capped at 1000) and sign(v)·log10(1 + |v|)/3, and with ``with_mantissa`` a third,
    sign(v)·m/1000 for the three-digit mantissa m.

    Digit embeddings name a number; this gives the model its magnitude on a line, so sums and averages
    of values are linear in the residual stream. On that line a small value is a small signal, so a
    product read off it is precise in absolute, not relative, terms; the mantissa feature is the same for
    0.25 and 25, so a product of mantissas is as precise for small numbers as for large ones.
    Positions that hold no number (BOS, verdicts) get zero.
    """

    def __init__(self, number_fields: list[int], exponent_min: int, n_exponents: int, d_model: int,
                 with_mantissa: bool = False) -> None:
        super().__init__()
        self.sign, self.exponent, *self.mantissa = number_fields
        self.exponent_min, self.n_exponents = exponent_min, n_exponents
        self.with_mantissa = with_mantissa
        self.proj = nn.Linear(3 if with_mantissa else 2, d_model, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mantissa = x[..., self.mantissa[0]]
        for k in self.mantissa[1:]:
            mantissa = mantissa * 10 + x[..., k]
        exponent = x[..., self.exponent]
        present = (exponent < self.n_exponents) & (mantissa > 0)
        log_magnitude = torch.log10(mantissa.clamp(min=1).float()) + (exponent + self.exponent_min).float()
        sign = torch.where(x[..., self.sign] == 1, -1.0, 1.0) * present
        capped = torch.pow(10.0, log_magnitude.clamp(max=3.0))  # |v|, at most 1000
        logarithmic = torch.where(log_magnitude > 3, log_magnitude, torch.log10(1 + capped))
        features = [sign * capped / 10, sign * logarithmic / 3]
        if self.with_mantissa:
            features.append(sign * mantissa.float() / 1000)
        return self.proj(torch.stack(features, dim=-1))


MATCH_CODES = 16  # which of the four index matches hold between two positions, as four bits
GRID_GAIN = 10.0  # a bias of several units must be reachable in a few hundred steps at the usual learning rates


def grid_codes(q_grid: torch.Tensor, k_grid: torch.Tensor, n_parts: int) -> torch.Tensor:
    """For every query–key pair [B, Tq, Tk]: the index of (query part, key part, index matches, key row, key
    column), where the matches are four bits: query row = key row, query row = key column, query column = key
    row, column = column. Grids are [B, T, 3] (row, column, part)."""
    qr, qc, qp = (q_grid[:, :, None, i] for i in range(3))
    kr, kc, kp = (k_grid[:, None, :, i] for i in range(3))
    matches = (qr == kr).long() + 2 * (qr == kc) + 4 * (qc == kr) + 8 * (qc == kc)
    return (((qp * n_parts + kp) * MATCH_CODES + matches) * MAX_DIM + kr) * MAX_DIM + kc


class GridBias(nn.Module):
    """A learned attention bias from where two positions lie in their matrices: per head, one weight for
    each of the four index matches, for each (query part, key part) pair. An answer entry (i, j) of a
    product can so attend to row i of A and column j of B at once, which plain attention over summed
    row and column embeddings learns slowly. With ``by_index``, also a weight per key row and per key column
    index, so that a head can keep to one inner index k: A[i, k] and B[k, j]. Zero at the start: the model
    computes what it would without."""

    BITS = torch.tensor([[(code >> m) & 1 for m in range(4)] for code in range(MATCH_CODES)], dtype=torch.float)

    def __init__(self, n_parts: int, n_heads: int, by_index: bool = False) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(n_parts * n_parts, 4, n_heads))
        self.index = nn.Parameter(torch.zeros(n_parts * n_parts, 2, MAX_DIM, n_heads)) if by_index else None

    def table(self) -> torch.Tensor:
        """The bias of every code of :func:`grid_codes`, [codes, H]."""
        pairs, _, heads = self.weight.shape
        table = torch.einsum("cm,pmh->pch", self.BITS.to(self.weight), self.weight)[:, :, None, None]
        if self.index is not None:
            table = table + self.index[:, None, 0, :, None] + self.index[:, None, 1, None, :]
        table = table.expand(pairs, MATCH_CODES, MAX_DIM, MAX_DIM, heads)
        return GRID_GAIN * table.reshape(-1, heads)

    def forward(self, codes: torch.Tensor, table: torch.Tensor | None = None) -> torch.Tensor:
        """Bias [B, H, Tq, Tk] for the codes of :func:`grid_codes` (from ``table``, if already built)."""
        return F.embedding(codes, self.table() if table is None else table).permute(0, 3, 1, 2)


def with_key_mask(bias: torch.Tensor, key_mask: torch.Tensor | None) -> torch.Tensor:
    """An additive attention mask: ``bias`` with -inf where ``key_mask`` [B, 1, 1, Tk] is False."""
    return bias if key_mask is None else bias.masked_fill(~key_mask, -torch.inf)


class Attention(nn.Module):
    """Multi-head attention on ``scaled_dot_product_attention``; self- or cross-attention."""

    def __init__(self, d_model: int, n_heads: int) -> None:
        super().__init__()
        self.n_heads = n_heads
        self.q = nn.Linear(d_model, d_model)
        self.kv = nn.Linear(d_model, 2 * d_model)
        self.out = nn.Linear(d_model, d_model)

    def heads(self, x: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        return x.view(b, t, self.n_heads, d // self.n_heads).transpose(1, 2)

    def keys_values(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        k, v = self.kv(x).chunk(2, dim=-1)
        return self.heads(k), self.heads(v)

    def attend(self, x: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None = None,
               causal: bool = False) -> torch.Tensor:
        q = self.heads(self.q(x))
        additive = mask is not None and mask.dtype != torch.bool  # a learned bias: the math kernel takes its gradient
        with sdpa_kernel(SDPBackend.MATH) if k.shape[2] <= SHORT or additive else nullcontext():
            return self._merge(F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=causal))

    def _merge(self, y: torch.Tensor) -> torch.Tensor:
        b, _, t, _ = y.shape
        return self.out(y.transpose(1, 2).reshape(b, t, -1))


def mlp(d_model: int, mult: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(d_model, mult * d_model), nn.GELU(), nn.Linear(mult * d_model, d_model))


class Bilinear(nn.Module):
    """A feed-forward branch of products: ``out((W_l h + b_l) ⊙ (W_r h + b_r))``. A GELU network can only
    approximate the product of two numbers the residual stream holds; this branch computes it exactly, one
    product per hidden unit."""

    def __init__(self, d_model: int, width: int) -> None:
        super().__init__()
        self.pair = nn.Linear(d_model, 2 * width)
        self.out = nn.Linear(width, d_model)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        left, right = self.pair(h).chunk(2, dim=-1)
        return self.out(left * right)


def bilinear(cfg: ModelConfig) -> Bilinear | None:
    return Bilinear(cfg.d_model, cfg.bilinear) if cfg.bilinear else None


def feed_forward(block: EncoderBlock | DecoderBlock, h: torch.Tensor) -> torch.Tensor:
    """A block's feed-forward output for its normalised input: the GELU network, plus the bilinear branch."""
    y = block.mlp(h)
    return y if block.bilinear is None else y + block.bilinear(h)


def grid_bias(cfg: ModelConfig) -> GridBias | None:
    return GridBias(cfg.src_fields[-1], cfg.n_heads, cfg.index_bias) if cfg.grid_bias else None


class EncoderBlock(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(cfg.d_model), nn.LayerNorm(cfg.d_model)
        self.attn = Attention(cfg.d_model, cfg.n_heads)
        self.mlp = mlp(cfg.d_model, cfg.ffn_mult)
        self.bilinear = bilinear(cfg)
        self.bias = grid_bias(cfg)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        h = self.ln1(x)
        x = x + self.attn.attend(h, *self.attn.keys_values(h), mask=mask)
        return x + feed_forward(self, self.ln2(x))


class KVCache:
    """Per layer: self-attention keys and values of the positions decoded so far, [B, H, T, head dim] (a new
    position is one contiguous write), and the cross-attention keys and values of the encoder output. Keys
    are used through transposed views [B, H, head dim, T]: the products read them row by row."""

    def __init__(self, cross: list[tuple[torch.Tensor, torch.Tensor]], max_len: int) -> None:
        self.cross = [(k.contiguous().transpose(-1, -2), v.contiguous()) for k, v in cross]
        b, h, _, hd = cross[0][0].shape
        self.self_kv = [
            (cross[0][0].new_empty(b, h, max_len, hd), cross[0][0].new_empty(b, h, max_len, hd)) for _ in cross
        ]
        self.length = 0

    def reorder(self, index: torch.Tensor) -> None:
        """Keep the rows ``index`` (beam search)."""
        self.self_kv = [(k[index], v[index]) for k, v in self.self_kv]
        self.cross = [(k[index], v[index]) for k, v in self.cross]


class DecoderBlock(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.ln1, self.ln2, self.ln3 = (nn.LayerNorm(cfg.d_model) for _ in range(3))
        self.self_attn = Attention(cfg.d_model, cfg.n_heads)
        self.cross_attn = Attention(cfg.d_model, cfg.n_heads)
        self.mlp = mlp(cfg.d_model, cfg.ffn_mult)
        self.bilinear = bilinear(cfg)
        self.self_bias, self.cross_bias = grid_bias(cfg), grid_bias(cfg)

    def forward(self, x: torch.Tensor, memory_kv: tuple[torch.Tensor, torch.Tensor],
                memory_mask: torch.Tensor | None, self_mask: torch.Tensor | None = None) -> torch.Tensor:
        """The whole target sequence at once (training, or uncached decoding), given the memory's K/V.

        ``self_mask`` is an additive mask that already holds the causal one; without it, plain causal attention.
        """
        h = self.ln1(x)
        x = x + self.self_attn.attend(h, *self.self_attn.keys_values(h), mask=self_mask, causal=self_mask is None)
        x = x + self.cross_attn.attend(self.ln2(x), *memory_kv, mask=memory_mask)
        return x + feed_forward(self, self.ln3(x))

    def step_weights(self) -> StepWeights:
        """This block's weights arranged for :meth:`step`: Q, K and V of self-attention in one matrix,
        the 1/sqrt(head dim) scale folded into both query projections."""
        sa, ca = self.self_attn, self.cross_attn
        scale = (sa.q.weight.shape[0] // sa.n_heads) ** -0.5
        tables = (self.self_bias.table(), self.cross_bias.table()) if self.self_bias is not None else None
        return StepWeights(qkv_weight=torch.cat([sa.q.weight * scale, sa.kv.weight]).t(),
                           qkv_bias=torch.cat([sa.q.bias * scale, sa.kv.bias]),
                           cross_q_weight=(ca.q.weight * scale).t(), cross_q_bias=ca.q.bias * scale,
                           bias_tables=tables)

    def step(self, x: torch.Tensor, w: StepWeights, cache: KVCache, layer: int,
             memory_mask: torch.Tensor | None, codes: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
        """One new position [rows, d]: earlier keys and values, and the encoder's, come from the cache.

        Same function as :meth:`forward` at the last position, in as few operations as possible: at batch 1
        decoding is bound by the number of operations, not by arithmetic. ``codes`` are this position's grid
        codes against the positions so far and against the encoder's, with the grid bias.
        """
        rows, d = x.shape
        heads = self.self_attn.n_heads
        t = cache.length
        q, k, v = torch.addmm(w.qkv_bias, _norm(self.ln1, x), w.qkv_weight).split(d, dim=-1)
        k_all, v_all = cache.self_kv[layer]
        k_all[:, :, t] = k.view(rows, heads, -1)
        v_all[:, :, t] = v.view(rows, heads, -1)
        self_bias = cross_bias = None
        if codes is not None and w.bias_tables is not None:
            self_bias, cross_bias = (self.self_bias(c, table) for c, table in zip(codes, w.bias_tables, strict=True))
        y = _attend_one(q.view(rows, heads, 1, -1), k_all[:, :, :t + 1].transpose(-1, -2), v_all[:, :, :t + 1], None,
                        self_bias)
        x = x + F.linear(y, self.self_attn.out.weight, self.self_attn.out.bias)
        q = torch.addmm(w.cross_q_bias, _norm(self.ln2, x), w.cross_q_weight)
        y = _attend_one(q.view(rows, heads, 1, -1), *cache.cross[layer], memory_mask, cross_bias)
        x = x + F.linear(y, self.cross_attn.out.weight, self.cross_attn.out.bias)
        up, down = self.mlp[0], self.mlp[2]
        h = _norm(self.ln3, x)
        y = F.linear(F.gelu(F.linear(h, up.weight, up.bias)), down.weight, down.bias)
        return x + (y if self.bilinear is None else y + self.bilinear(h))


@dataclass
class StepWeights:
    """A decoder block's weights rearranged for one-position decoding (built per ``generate`` call)."""

    qkv_weight: torch.Tensor
    qkv_bias: torch.Tensor
    cross_q_weight: torch.Tensor
    cross_q_bias: torch.Tensor
    bias_tables: tuple[torch.Tensor, torch.Tensor] | None = None  # the grid bias of self- and cross-attention


@dataclass
class HeadWeights:
    """Linear output heads folded for greedy decoding: every head's logits from one matrix product, and
    the conditioning on earlier fields as tables of logit offsets: choosing value c for field j adds row c
    of ``after[j]`` to the logits of every later field (row c of field j's condition embedding times each
    later head's weights)."""

    weight: torch.Tensor  # [d, Σ vocab], all heads side by side
    bias: torch.Tensor
    vocab: list[int]
    after: list[torch.Tensor]  # for fields 0..n-2: [vocab_j, Σ vocab of the later fields]


def _norm(ln: nn.LayerNorm, x: torch.Tensor) -> torch.Tensor:
    return F.layer_norm(x, ln.normalized_shape, ln.weight, ln.bias, ln.eps)


def _attend_one(q: torch.Tensor, k_t: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None,
                bias: torch.Tensor | None = None) -> torch.Tensor:
    """One query per row [rows, H, 1, hd] (already scaled) against keys given as a transposed view
    [rows, H, hd, T] → [rows, H·hd]: two batched matrix products over the cache as it lies in memory.
    ``bias`` [rows, H, 1, T] is added to the scores."""
    scores = q @ k_t
    if bias is not None:
        scores = scores + bias
    if mask is not None:
        scores = scores.masked_fill(~mask, -torch.inf)
    return (scores.softmax(-1) @ v).view(q.shape[0], -1)


@dataclass
class Generated:
    """Decoded output fields [B, beam, T, output fields] and their log-probabilities [B, beam], best first."""

    fields: torch.Tensor
    log_prob: torch.Tensor


def check_architecture(codec: Codec, arch: dict) -> None:
    """Raise a ValueError naming the first optional part ``arch`` asks for that ``codec``'s layout cannot have."""
    if arch.get("value_embedding") and codec.number_fields is None:
        raise ValueError(f"the value embedding needs an entry layout, not {codec.name}")
    if arch.get("grid_bias") and not codec.grid:
        raise ValueError(f"grid_bias needs an entry layout, not {codec.name}")
    if arch.get("index_bias") and not arch.get("grid_bias"):
        raise ValueError("index_bias is part of the grid bias: set grid_bias too")
    if arch.get("separate_operands") and not codec.grid:
        raise ValueError(f"separate_operands needs an entry layout, not {codec.name}")


ZERO_STARTED_OUTPUTS = tuple(f"{proj}.{kind}" for proj in ("attn.out", "mlp.2", "bilinear.out")
                          for kind in ("weight", "bias"))


def added_layers(model: nn.Module, other: nn.Module) -> tuple[str, ...]:
    """The name prefixes of ``model``'s encoder and decoder blocks beyond ``other``'s ("encoder.2.", ...);
    empty when ``model`` has no more layers than ``other`` in either stack."""
    return tuple(f"{stack}.{i}." for stack in ("encoder", "decoder")
                 for i in range(len(getattr(other, stack)), len(getattr(model, stack))))


class Seq2Seq(nn.Module):
    """The encoder–decoder transformer."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        d = cfg.d_model
        self.src_embed = FieldEmbedding(cfg.src_fields, d)
        self.tgt_embed = FieldEmbedding(cfg.tgt_fields, d)
        self.encoder = nn.ModuleList(EncoderBlock(cfg) for _ in range(cfg.enc_layers))
        self.decoder = nn.ModuleList(DecoderBlock(cfg) for _ in range(cfg.dec_layers))
        self.enc_norm, self.dec_norm = nn.LayerNorm(d), nn.LayerNorm(d)
        self.heads = nn.ModuleList(self._head(d, cfg.head_hidden, v) for v in cfg.out_fields)
        self.src_value = self.tgt_value = None
        if cfg.value_embedding:
            n_exponents = cfg.src_fields[cfg.src_number_fields[1]]
            self.src_value = ValueEmbedding(cfg.src_number_fields, cfg.exponent_min, n_exponents, d,
                                            cfg.value_mantissa)
            self.tgt_value = ValueEmbedding(cfg.tgt_number_fields, cfg.exponent_min, n_exponents, d,
                                            cfg.value_mantissa)
        self.conditions = nn.ModuleList(
            FieldEmbedding(cfg.out_fields[:k], d) for k in range(1, len(cfg.out_fields))
        )
        self.apply(self._init)

    @staticmethod
    def _head(d_model: int, hidden: int, vocab: int) -> nn.Module:
        if not hidden:
            return nn.Linear(d_model, vocab)
        return nn.Sequential(nn.Linear(d_model, hidden), nn.GELU(), nn.Linear(hidden, vocab))

    @staticmethod
    def _init(module: nn.Module) -> None:
        if isinstance(module, nn.Linear | nn.Embedding):
            nn.init.normal_(module.weight, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    @classmethod
    def for_codec(cls, codec: Codec, **arch: int | bool) -> Seq2Seq:
        check_architecture(codec, arch)
        numbers = {}
        if arch.get("value_embedding"):
            src_fields, tgt_fields, exponent_min = codec.number_fields
            numbers = dict(src_number_fields=src_fields, tgt_number_fields=tgt_fields, exponent_min=exponent_min)
        return cls(ModelConfig(src_fields=codec.src_fields, tgt_fields=codec.tgt_fields,
                               out_fields=codec.out_fields, **numbers, **arch))

    def start_from(self, other: Seq2Seq) -> None:
        """Copy ``other``'s weights. ``other`` may lack the value embedding (or only its mantissa feature), the
        grid bias, the bilinear branches, or the last encoder or decoder layers: those weights then start where
        this model computes what ``other`` does until training uses them (zero features and biases; the output
        projections of the bilinear branches and of the added layers zero, so that each adds nothing)."""
        state = other.state_dict()
        added = added_layers(self, other)
        for name, mine in self.state_dict().items():
            theirs = state.get(name)
            if theirs is None and (name.startswith(added) or ".bilinear." in name):
                state[name] = torch.zeros_like(mine) if name.endswith(ZERO_STARTED_OUTPUTS) else mine
            if theirs is not None and name.endswith("_value.proj.weight") and theirs.shape[1] < mine.shape[1]:
                state[name] = torch.cat([theirs, theirs.new_zeros(mine.shape[0], mine.shape[1] - theirs.shape[1])], 1)
            if theirs is None and name.endswith("_value.proj.weight"):
                state[name] = torch.zeros_like(mine)
            if theirs is None and name.endswith(("bias.weight", "bias.index")) and self.cfg.grid_bias:
                state[name] = torch.zeros_like(mine)
        self.load_state_dict(state)

    def embed_source(self, src: torch.Tensor) -> torch.Tensor:
        x = self.src_embed(src)
        return x if self.src_value is None else x + self.src_value(src)

    def embed_target(self, tgt: torch.Tensor) -> torch.Tensor:
        x = self.tgt_embed(tgt)
        return x if self.tgt_value is None else x + self.tgt_value(tgt)

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    # ------------------------------------------------------------------ training
    @staticmethod
    def _key_mask(src_mask: torch.Tensor | None) -> torch.Tensor | None:
        return None if src_mask is None else src_mask[:, None, None, :]

    def _codes(self, q: torch.Tensor, k: torch.Tensor) -> torch.Tensor | None:
        """Grid codes between two field sequences whose last three fields are (row, column, part)."""
        return grid_codes(q[..., -3:], k[..., -3:], self.cfg.src_fields[-1]) if self.cfg.grid_bias else None

    def _encoder_mask(self, src: torch.Tensor, src_mask: torch.Tensor | None) -> torch.Tensor | None:
        """The encoder's boolean attention mask: the padding's keys hidden and, with ``separate_operands``, the
        other operand's too, so that no product A[i, k]·B[k, j] can be formed before the decoder pairs them
        (every position keeps itself, so that a padding row is never empty)."""
        mask = self._key_mask(src_mask)
        if not self.cfg.separate_operands:
            return mask
        part = src[..., -1]
        same = (part[:, :, None] == part[:, None, :])[:, None]
        keep = same if mask is None else same & mask
        return keep | torch.eye(src.shape[1], dtype=torch.bool, device=src.device)

    def encode(self, src: torch.Tensor, src_mask: torch.Tensor | None) -> torch.Tensor:
        x = self.embed_source(src)
        mask = self._encoder_mask(src, src_mask)
        codes = self._codes(src, src)
        for block in self.encoder:
            x = block(x, mask if codes is None else with_key_mask(block.bias(codes), mask))
        return self.enc_norm(x)

    def memory_kv(self, memory: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
        return [block.cross_attn.keys_values(memory) for block in self.decoder]

    def hidden(self, tgt_in: torch.Tensor, memory: torch.Tensor, src: torch.Tensor,
               src_mask: torch.Tensor | None) -> torch.Tensor:
        x = self.embed_target(tgt_in)
        mask = self._key_mask(src_mask)
        codes = (self._codes(tgt_in, src), self._codes(tgt_in, tgt_in)) if self.cfg.grid_bias else None
        for block, kv in zip(self.decoder, self.memory_kv(memory), strict=True):
            x = block(x, kv, *((mask,) if codes is None else self._grid_masks(block, codes, mask)))
        return self.dec_norm(x)

    @staticmethod
    def _grid_masks(block: DecoderBlock, codes: tuple[torch.Tensor, torch.Tensor],
                    key_mask: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """A decoder block's additive cross- and (causal) self-attention masks from the (cross, self) grid codes."""
        cross, own = codes
        future = torch.ones(own.shape[1], own.shape[2], dtype=torch.bool, device=own.device).triu(1)
        return (with_key_mask(block.cross_bias(cross), key_mask),
                block.self_bias(own).masked_fill(future, -torch.inf))

    def field_logits(self, h: torch.Tensor, chosen: torch.Tensor, k: int) -> torch.Tensor:
        """Logits of output field k given hidden states and the fields chosen before it."""
        if k:
            h = h + self.conditions[k - 1](chosen[..., :k])
        return self.heads[k](h)

    def forward(self, src: torch.Tensor, src_mask: torch.Tensor | None, tgt_in: torch.Tensor,
                tgt_out: torch.Tensor) -> torch.Tensor:
        """Teacher-forced cross-entropy, summed over output fields, averaged over predicted positions."""
        h = self.hidden(tgt_in, self.encode(src, src_mask), src, src_mask)
        known = tgt_out.clamp(min=0)
        loss = h.new_zeros(())
        for k in range(len(self.heads)):
            logits = self.field_logits(h, known, k)
            loss = loss + F.cross_entropy(logits.flatten(0, -2), tgt_out[..., k].flatten(), ignore_index=IGNORE)
        return loss

    # ------------------------------------------------------------------ decoding
    @torch.no_grad()
    def generate(self, src: torch.Tensor, src_mask: torch.Tensor | None, slots: torch.Tensor, codec: Codec,
                 beam: int = 1, use_cache: bool = True, stop_early: bool = True) -> Generated:
        """Decode up to ``slots.shape[1]`` positions; beam search when ``beam > 1``, greedy otherwise.

        Decoding stops once every sequence has ended, unless ``stop_early`` is False.
        """
        batch, max_len, _ = slots.shape
        n_out = len(self.heads)
        device = src.device
        memory = self.encode(src, src_mask)
        expand = torch.arange(batch, device=device).repeat_interleave(beam)
        memory, slots = memory[expand], slots[expand]
        if self.cfg.grid_bias:  # only the grid codes read the source fields again
            src = src[expand]
        src_mask = None if src_mask is None else src_mask[expand]
        mask = self._key_mask(src_mask)
        cache = KVCache(self.memory_kv(memory), max_len) if use_cache else None
        weights = [block.step_weights() for block in self.decoder] if cache is not None else []
        heads = self.head_weights() if beam == 1 else None
        rows = batch * beam
        bos = torch.tensor(codec.bos, device=device).expand(rows, 1, n_out)
        slot_embedding = self.tgt_embed(slots, first=n_out) if cache is not None else None
        all_codes = None  # every position's grid codes against the positions before it and the encoder's
        if cache is not None and self.cfg.grid_bias:
            all_codes = (self._codes(slots, slots).int(), self._codes(slots, src).int())
        outputs = slots.new_zeros(rows, max_len, n_out)
        score = torch.zeros(batch, beam, device=device)
        score[:, 1:] = -torch.inf  # all beams start identical: expand only the first
        finished = torch.zeros(rows, dtype=torch.bool, device=device)
        length = 0
        for t in range(max_len):
            if cache is not None:
                previous = bos[:, 0] if t == 0 else outputs[:, t - 1]
                codes = None if all_codes is None else (all_codes[0][:, t:t + 1, :t + 1], all_codes[1][:, t:t + 1])
                h = self._step(previous, slot_embedding[:, t], mask, cache, weights, codes)
            else:
                history = torch.cat([bos, outputs[:, :t]], dim=1)
                h = self.hidden(torch.cat([history, slots[:, :t + 1]], dim=-1), memory, src, src_mask)[:, -1]
            if beam == 1:
                chosen, step_score = self._greedy(h, finished, heads)
                score += step_score.view(batch, 1)
            else:
                parent, chosen, score = self._expand(h, score.view(rows), finished, beam)
                outputs, finished = outputs[parent], finished[parent]
                if cache is not None:
                    cache.reorder(parent)
            outputs[:, t] = chosen
            finished = finished | codec.is_end(chosen)
            length = t + 1
            if cache is not None:
                cache.length += 1
            if stop_early and bool(finished.all()):
                break
        order = score.argsort(dim=1, descending=True)
        fields = outputs[:, :length].reshape(batch, beam, length, n_out)
        return Generated(fields=torch.gather(fields, 1, order[:, :, None, None].expand_as(fields)),
                         log_prob=torch.gather(score, 1, order))

    def _step(self, previous: torch.Tensor, slot: torch.Tensor, mask: torch.Tensor | None, cache: KVCache,
              weights: list[StepWeights], codes: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
        """Hidden state [rows, d] of the newest position, from the previous output fields [rows, n_out] and
        the embedding of this position's slot fields [rows, d] (and its grid codes, with the grid bias)."""
        x = self.tgt_embed(previous) + slot
        if self.tgt_value is not None:
            x = x + self.tgt_value(previous)
        for layer, (block, w) in enumerate(zip(self.decoder, weights, strict=True)):
            x = block.step(x, w, cache, layer, mask, codes)
        return _norm(self.dec_norm, x)

    def head_weights(self) -> HeadWeights | None:
        """The linear heads folded for :meth:`_greedy`; None when the heads have a hidden layer."""
        if self.cfg.head_hidden:
            return None
        vocab, heads = self.cfg.out_fields, list(self.heads)
        after = []
        for j in range(len(vocab) - 1):  # what choosing each value of field j adds to every later head
            offsets = []
            for k in range(j + 1, len(vocab)):
                condition = self.conditions[k - 1]  # embeds fields 0..k-1 for head k
                start = int(condition.offsets[j])
                offsets.append(condition.table.weight[start:start + vocab[j]] @ heads[k].weight.t())
            after.append(torch.cat(offsets, dim=1))
        return HeadWeights(weight=torch.cat([head.weight for head in heads]).t(),
                           bias=torch.cat([head.bias for head in heads]), vocab=vocab, after=after)

    def _greedy(self, h: torch.Tensor, finished: torch.Tensor,
                heads: HeadWeights | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """The most likely fields of the next position, one field after another, and their log-probability.

        Same choices as :meth:`_expand` with one beam, in a fraction of the operations; with folded
        ``heads``, all heads' logits come from one product and each choice adds a row of offsets.
        """
        if heads is None:
            chosen = torch.zeros(h.shape[0], len(self.heads), dtype=torch.long, device=h.device)
            score = torch.zeros(h.shape[0], device=h.device)
            for k in range(len(self.heads)):
                best, chosen[:, k] = self.field_logits(h, chosen, k).float().log_softmax(-1).max(-1)
                score += best
        else:
            rest = torch.addmm(heads.bias, h, heads.weight)  # logits of this field and all later ones
            choices, bests = [], []
            for k, vocab in enumerate(heads.vocab):
                best, index = rest[:, :vocab].log_softmax(-1).max(-1)
                choices.append(index)
                bests.append(best)
                if k < len(heads.after):
                    rest = rest[:, vocab:] + F.embedding(index, heads.after[k])
            chosen, score = torch.stack(choices, dim=1), torch.stack(bests, dim=1).sum(1)
        return chosen.masked_fill_(finished[:, None], 0), score.masked_fill_(finished, 0.0)

    def _expand(self, h: torch.Tensor, score: torch.Tensor, finished: torch.Tensor,
                beam: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Choose the next position's fields one at a time, keeping the ``beam`` best candidates per problem.

        Returns the parent row of each new candidate [rows], its fields [rows, n_out] and scores [B, beam].
        A finished sequence carries on with zeros and an unchanged score.
        """
        rows = h.shape[0]
        batch = rows // beam
        parent = torch.arange(rows, device=h.device)
        chosen = h.new_zeros(rows, 0, dtype=torch.long)
        for k in range(len(self.heads)):
            logits = self.field_logits(h[parent], torch.nn.functional.pad(chosen, (0, 1)), k)
            logp = logits.float().log_softmax(-1)
            done = finished[parent]
            logp = torch.where(done[:, None], torch.full_like(logp, -torch.inf), logp)
            logp[:, 0] = torch.where(done, 0.0, logp[:, 0])
            total = (score[:, None] + logp).view(batch, -1)
            vocab = logp.shape[1]
            best, index = total.topk(beam, dim=1)
            source = (index // vocab + torch.arange(batch, device=h.device)[:, None] * beam).view(-1)
            parent, chosen = parent[source], torch.cat([chosen[source], (index % vocab).view(-1, 1)], dim=1)
            score = best.view(-1)
        return parent, chosen, score.view(batch, beam)

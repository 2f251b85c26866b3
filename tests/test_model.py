"""The encoder–decoder: cached and uncached decoding, beam search, scores, and learning."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch

from lawt.data import BatchSampler
from lawt.encodings import ENTRY_NOT_INVERTIBLE, EOS, MAX_DIM, MAX_PARTS, Codec, make_codec
from lawt.model import MATCH_CODES, Bilinear, Generated, Seq2Seq, grid_codes
from lawt.ops import get_operation

CODECS = ["entry", "entry-m1000", "P1000", "FP15/P1000", "entry+value", "entry+grid"]
ARCHS = {"+value": {"value_embedding": True, "head_hidden": 16, "bilinear": 8},  # value embedding, MLP heads, products
         "+grid": {"grid_bias": True, "index_bias": True, "separate_operands": True}}
PROBLEMS = [("transpose", (2, 3)), ("inverse", (2,))]


def codec_of(encoding: str) -> Codec:
    return make_codec(encoding.split("+")[0])


def arch_of(encoding: str) -> dict:
    return next((arch for suffix, arch in ARCHS.items() if encoding.endswith(suffix)), {})


def sharpened(encoding: str, seed: int, end_bias: float = 0.0) -> Seq2Seq:
    """A tiny random model with peaked output distributions, optionally biased towards ending sequences
    (EOS for the token layouts, the "not invertible" class for the entry layouts)."""
    torch.manual_seed(seed)
    model = Seq2Seq.for_codec(codec_of(encoding), d_model=32, n_heads=4, ffn_mult=2, **arch_of(encoding)).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith(("bias.weight", "bias.index")):  # the grid bias starts at zero: make it matter
                p.normal_(std=0.3)
            p.mul_(4)
        if encoding.startswith("entry"):
            last_layer(model.heads[1]).bias[ENTRY_NOT_INVERTIBLE] += end_bias
        else:
            last_layer(model.heads[0]).bias[EOS] += end_bias
    return model


def last_layer(head: torch.nn.Module) -> torch.nn.Linear:
    return head[-1] if isinstance(head, torch.nn.Sequential) else head


def problem_batch(codec: Codec, op_name: str, dims: tuple, batch: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    op = get_operation(op_name)
    problems = op.generate(batch, dims, torch.Generator().manual_seed(seed))
    return codec.encode_operands(problems.operands), codec.slots(op.answer_shapes(dims), batch)


def rescore(model: Seq2Seq, codec: Codec, src: torch.Tensor, slots: torch.Tensor, fields: torch.Tensor) -> torch.Tensor:
    """Teacher-forced log-probability of decoded sequences [B, T, fields], up to and including their end."""
    batch, length, n = fields.shape
    bos = torch.tensor(codec.bos).expand(batch, 1, n)
    tgt_in = torch.cat([torch.cat([bos, fields[:, :-1]], 1), slots[:, :length]], -1)
    with torch.no_grad():
        h = model.hidden(tgt_in, model.encode(src, None), src, None)
        total, alive = torch.zeros(batch), torch.ones(batch, dtype=torch.bool)
        for t in range(length):
            step = sum(model.field_logits(h[:, t], fields[:, t], k).log_softmax(-1)
                       .gather(1, fields[:, t, k:k + 1]).squeeze(1) for k in range(n))
            total += torch.where(alive, step, 0.0)
            alive &= ~codec.is_end(fields[:, t])
    return total


def decode(model: Seq2Seq, codec: Codec, src: torch.Tensor, slots: torch.Tensor, **kw: object) -> Generated:
    return model.generate(src, None, slots, codec, **kw)


@pytest.mark.parametrize("encoding", CODECS)
@pytest.mark.parametrize(("op_name", "dims"), PROBLEMS)
@pytest.mark.parametrize("beam", [1, 3])
def test_cached_decoding_equals_uncached(encoding: str, op_name: str, dims: tuple, beam: int) -> None:
    codec = codec_of(encoding)
    for seed, bias in ((0, 0.0), (1, 3.0)):  # with and without sequences that end early
        model = sharpened(encoding, seed, bias)
        src, slots = problem_batch(codec, op_name, dims, 6, seed)
        cached = decode(model, codec, src, slots, beam=beam)
        uncached = decode(model, codec, src, slots, beam=beam, use_cache=False)
        assert cached.fields.shape == (6, beam, *cached.fields.shape[2:])
        assert torch.equal(cached.fields, uncached.fields)
        assert torch.allclose(cached.log_prob, uncached.log_prob, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("encoding", CODECS)
@pytest.mark.parametrize(("op_name", "dims"), PROBLEMS)
def test_scores_are_the_log_probability_of_the_output(encoding: str, op_name: str, dims: tuple) -> None:
    """Every beam's score equals the teacher-forced log-probability of its sequence; beams are sorted."""
    codec = codec_of(encoding)
    model = sharpened(encoding, 2, 3.0)
    src, slots = problem_batch(codec, op_name, dims, 6, 2)
    greedy = decode(model, codec, src, slots)
    assert torch.allclose(rescore(model, codec, src, slots, greedy.fields[:, 0]), greedy.log_prob[:, 0],
                          rtol=1e-4, atol=1e-3)
    beams = decode(model, codec, src, slots, beam=4)
    assert bool((beams.log_prob[:, :-1] >= beams.log_prob[:, 1:]).all())
    assert bool((beams.log_prob <= 0).all())
    for k in range(4):
        assert torch.allclose(rescore(model, codec, src, slots, beams.fields[:, k]), beams.log_prob[:, k],
                              rtol=1e-4, atol=1e-3)
    for b in range(6):  # the beams of one problem are different answers
        assert len({tuple(beams.fields[b, k].flatten().tolist()) for k in range(4)}) == 4


@pytest.mark.parametrize("encoding", CODECS)
def test_beam_search_scores_at_least_as_well_as_greedy(encoding: str) -> None:
    """Beam search is not guaranteed to beat greedy on every problem (the greedy prefix can be pruned),
    but over a batch it must find higher-scoring answers: best beam ≥ greedy on most problems and on average."""
    codec = codec_of(encoding)
    better, total, beam_sum, greedy_sum = 0, 0, 0.0, 0.0
    for seed in range(3):
        model = sharpened(encoding, seed)
        src, slots = problem_batch(codec, "transpose", (2, 3), 8, seed)
        greedy = decode(model, codec, src, slots).log_prob[:, 0]
        best = decode(model, codec, src, slots, beam=4).log_prob[:, 0]
        better += int((best >= greedy - 1e-4).sum())
        total += len(greedy)
        beam_sum += float(best.sum())
        greedy_sum += float(greedy.sum())
    assert better >= 0.75 * total
    assert beam_sum > greedy_sum


def test_finished_sequences_stop_and_stay_finished() -> None:
    codec = make_codec("P1000")
    model = sharpened("P1000", 1, 3.0)
    src, slots = problem_batch(codec, "transpose", (2, 3), 8, 1)
    out = decode(model, codec, src, slots).fields[:, 0, :, 0]
    full = decode(model, codec, src, slots, stop_early=False).fields[:, 0, :, 0]
    assert full.shape[1] == slots.shape[1] and out.shape[1] <= full.shape[1]
    assert torch.equal(full[:, :out.shape[1]], out)
    for row in full.tolist():
        if EOS in row:
            assert all(t == 0 for t in row[row.index(EOS) + 1:])
    all_end = sharpened("P1000", 1, 50.0)
    assert decode(all_end, codec, src, slots).fields.shape[2] == 1


def test_generate_is_deterministic_and_depends_on_the_input() -> None:
    codec = make_codec("entry")
    model = sharpened("entry", 0)
    src, slots = problem_batch(codec, "transpose", (3, 3), 4, 0)
    a, b = decode(model, codec, src, slots), decode(model, codec, src, slots)
    assert torch.equal(a.fields, b.fields) and torch.equal(a.log_prob, b.log_prob)
    other, _ = problem_batch(codec, "transpose", (3, 3), 4, 1)
    assert not torch.equal(decode(model, codec, other, slots).fields, a.fields)


@pytest.mark.parametrize("encoding", ["entry", "P1000", "entry+value", "entry+grid"])
def test_training_decreases_the_loss(encoding: str) -> None:
    torch.manual_seed(0)
    codec = codec_of(encoding)
    model = Seq2Seq.for_codec(codec, d_model=32, n_heads=4, ffn_mult=2, **arch_of(encoding))
    sampler = BatchSampler(get_operation("transpose"), codec, [(2, 2)], groups=1, seed=0)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(40):
        batch = sampler.batch(32)
        loss = model(batch.src, batch.src_mask, batch.tgt_in, batch.tgt_out)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    first, last = sum(losses[:5]) / 5, sum(losses[-5:]) / 5
    assert last < 0.8 * first, (first, last)


def test_loss_ignores_padding_and_counts_every_field(make_model: Callable[..., Seq2Seq]) -> None:
    """The loss is the sum over output fields of the mean cross-entropy over real positions."""
    codec = make_codec("entry")
    model = make_model("entry", 0)
    a = torch.rand(3, 2, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0)) * 20 - 10
    enc = codec.encode([a], [a.transpose(1, 2)])
    with torch.no_grad():
        loss = model(enc.src, enc.src_mask, enc.tgt_in, enc.tgt_out)
        # an untrained model is close to uniform: log of each field's vocabulary
        uniform = sum(torch.log(torch.tensor(float(v))) for v in codec.out_fields)
        assert abs(float(loss) - float(uniform)) < 0.1 * float(uniform)
        ignored = enc.tgt_out.clone()
        ignored[:, -1] = -100
        changed = model(enc.src, enc.src_mask, enc.tgt_in, ignored)
    assert float(changed) != float(loss)


@pytest.mark.parametrize("encoding", ["entry", "P1000", "entry+value"])
def test_greedy_step_equals_a_one_beam_search_step(encoding: str) -> None:
    """The direct argmax path chooses the same fields with the same log-probability as a one-beam search."""
    torch.manual_seed(3)
    model = Seq2Seq.for_codec(codec_of(encoding), d_model=32, n_heads=4, enc_layers=1, dec_layers=1,
                              **arch_of(encoding)).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(6)  # sharper, less uniform distributions
        h = torch.randn(16, 32)
        finished = torch.arange(16) % 5 == 0
        chosen, score = model._greedy(h, finished)
        folded_chosen, folded_score = model._greedy(h, finished, model.head_weights())
        parent, beam_chosen, beam_score = model._expand(h, torch.zeros(16), finished, beam=1)
    assert torch.equal(parent, torch.arange(16))
    assert torch.equal(chosen, beam_chosen)
    assert torch.allclose(score, beam_score.view(-1), atol=1e-5)
    assert bool((chosen[finished] == 0).all()) and bool((score[finished] == 0).all())
    # linear heads fold into one product plus conditioning tables, with the same choices and scores
    assert torch.equal(folded_chosen, chosen)
    assert torch.allclose(folded_score, score, atol=1e-4)


def test_value_embedding_sees_the_number_each_position_spells() -> None:
    """The value features are v/10 and sign·log10(1 + |v|)/3, zero for zeros and for the BOS position."""
    codec = make_codec("entry")
    model = Seq2Seq.for_codec(codec, d_model=8, n_heads=2, value_embedding=True)
    model.src_value.proj, model.tgt_value.proj = torch.nn.Identity(), torch.nn.Identity()
    a = torch.tensor([[[1.5, -3.0], [0.0, 250.0]]], dtype=torch.float64)
    expected = torch.tensor([[0.15, 0.1326], [-0.3, -0.2007], [0.0, 0.0], [25.0, 0.7999]])
    assert torch.allclose(model.src_value(codec.encode_operands([a]))[0], expected, atol=1e-4)
    tgt_in = codec.encode([a], [a]).tgt_in
    assert torch.allclose(model.tgt_value(tgt_in)[0, 0], torch.zeros(2))
    assert torch.allclose(model.tgt_value(tgt_in)[0, 1:], expected[:-1], atol=1e-4)


def test_the_mantissa_feature_is_the_same_for_a_number_and_its_tenfold() -> None:
    codec = make_codec("entry")
    model = Seq2Seq.for_codec(codec, d_model=8, n_heads=2, value_embedding=True, value_mantissa=True)
    model.src_value.proj = torch.nn.Identity()
    a = torch.tensor([[[0.25, -2.5], [25.0, 0.0]]], dtype=torch.float64)
    features = model.src_value(codec.encode_operands([a]))[0]
    assert torch.allclose(features[:, 2], torch.tensor([0.25, -0.25, 0.25, 0.0]))
    assert torch.allclose(features[:, 0], torch.tensor([0.025, -0.25, 2.5, 0.0]))  # the line still tells them apart


def test_starting_from_a_model_without_the_mantissa_feature_changes_no_answer() -> None:
    codec, op = make_codec("entry"), get_operation("matvec")
    torch.manual_seed(0)
    before = Seq2Seq.for_codec(codec, d_model=16, n_heads=2, value_embedding=True).eval()
    after = Seq2Seq.for_codec(codec, d_model=16, n_heads=2, value_embedding=True, value_mantissa=True).eval()
    after.start_from(before)
    assert after.src_value.proj.weight.shape == (16, 3) and not after.src_value.proj.weight[:, 2].any()
    problems = op.generate(6, (3, 2), torch.Generator().manual_seed(1))
    batch = codec.encode(problems.operands, op.solve(problems.operands))
    logits = [model.hidden(batch.tgt_in, model.encode(batch.src, None), batch.src, None) for model in (before, after)]
    assert torch.allclose(logits[0], logits[1], atol=1e-6)
    with pytest.raises(RuntimeError):  # any other difference is refused, not silently dropped
        Seq2Seq.for_codec(codec, d_model=32, n_heads=2, value_embedding=True).start_from(before)


def test_starting_a_deeper_model_from_a_shallower_one_changes_no_answer_until_it_trains() -> None:
    codec, op = make_codec("entry"), get_operation("matvec")
    torch.manual_seed(0)
    before = Seq2Seq.for_codec(codec, d_model=16, n_heads=2, value_embedding=True).eval()
    after = Seq2Seq.for_codec(codec, d_model=16, n_heads=2, value_embedding=True, enc_layers=3, dec_layers=2)
    after.start_from(before)
    problems = op.generate(6, (3, 2), torch.Generator().manual_seed(1))
    batch = codec.encode(problems.operands, op.solve(problems.operands))
    after.eval()
    logits = [model.hidden(batch.tgt_in, model.encode(batch.src, None), batch.src, None) for model in (before, after)]
    assert torch.allclose(logits[0], logits[1], atol=1e-6)
    after.hidden(batch.tgt_in, after.encode(batch.src, None), batch.src, None).square().mean().backward()
    assert after.encoder[2].mlp[2].weight.grad.abs().sum() > 0  # the added blocks learn from the first step
    with pytest.raises(RuntimeError):  # a model is never started from a deeper one: layers would be dropped
        before.start_from(after)


def test_value_embedding_needs_an_entry_layout() -> None:
    with pytest.raises(ValueError, match="entry layout"):
        Seq2Seq.for_codec(make_codec("P1000"), d_model=8, n_heads=2, value_embedding=True)


def test_grid_bias_needs_an_entry_layout() -> None:
    with pytest.raises(ValueError, match="entry layout"):
        Seq2Seq.for_codec(make_codec("P1000"), d_model=8, n_heads=2, grid_bias=True)


def test_grid_codes_name_the_parts_and_the_matching_indices() -> None:
    codec, op = make_codec("entry"), get_operation("product")
    problems = op.generate(1, (2, 3, 2), torch.Generator().manual_seed(0))
    src, slots = codec.encode_operands(problems.operands), codec.slots(op.answer_shapes((2, 3, 2)), 1)
    codes = grid_codes(slots[..., -3:], src[..., -3:], MAX_PARTS)[0]  # answer (i, j) against A and B entries
    part_pair, matches = codes // (MATCH_CODES * MAX_DIM**2), codes // MAX_DIM**2 % MATCH_CODES
    key_row, key_column = codes // MAX_DIM % MAX_DIM, codes % MAX_DIM
    assert key_row[0].tolist() == [0, 0, 0, 1, 1, 1, 0, 0, 1, 1, 2, 2]  # A is 2×3, B 3×2
    assert key_column[0].tolist() == [0, 1, 2, 0, 1, 2, 0, 1, 0, 1, 0, 1]
    assert part_pair[:, :6].eq(0).all() and part_pair[:, 6:].eq(1).all()  # answer part 0 against A, then B
    # answer entry (1, 0) is slot 2. A entry (1, 2) is source 5: only the rows match (bit 1)
    assert int(matches[2, 5]) == 1
    # B entry (0, 0) is source 6: the answer's column 0 matches B's row (bit 4) and column (bit 8), its row 1 neither
    assert int(matches[2, 6]) == 4 + 8


def test_the_grid_bias_lets_an_answer_entry_attend_to_its_row_of_a_and_column_of_b() -> None:
    """With weights on "row = row" towards A and "column = column" towards B, answer (i, j)'s cross-attention
    goes to row i of A and column j of B, and nowhere else."""
    codec, op = make_codec("entry"), get_operation("product")
    torch.manual_seed(0)
    model = Seq2Seq.for_codec(codec, d_model=16, n_heads=2, grid_bias=True).eval()
    bias = model.decoder[0].cross_bias
    with torch.no_grad():
        bias.weight[0 * MAX_PARTS + 0, 0] = 2.0  # answer part 0 against operand A: query row = key row
        bias.weight[0 * MAX_PARTS + 1, 3] = 2.0  # against operand B: query column = key column
    dims = (3, 2, 4)
    problems = op.generate(1, dims, torch.Generator().manual_seed(0))
    src, slots = codec.encode_operands(problems.operands), codec.slots(op.answer_shapes(dims), 1)
    weights = bias(model._codes(slots, src)).softmax(-1)[0, 0]  # [answer entries, source entries]
    i, j = 2, 1
    attended = weights[i * 4 + j] > 1e-6
    rows_of_a = [2 * 2 + 0, 2 * 2 + 1]
    columns_of_b = [6 + 0 * 4 + 1, 6 + 1 * 4 + 1]
    assert attended.nonzero().flatten().tolist() == rows_of_a + columns_of_b


def test_the_index_bias_lets_a_head_keep_to_one_inner_index() -> None:
    """With the key's column index k preferred towards A and its row index k towards B, answer (i, j)
    attends to A[i, k] and B[k, j] only: one term of the dot product per head."""
    codec, op = make_codec("entry"), get_operation("product")
    model = Seq2Seq.for_codec(codec, d_model=16, n_heads=2, grid_bias=True, index_bias=True).eval()
    bias = model.decoder[0].cross_bias
    k = 1
    with torch.no_grad():
        bias.weight[0 * MAX_PARTS + 0, 0] = 2.0  # towards A: query row = key row
        bias.weight[0 * MAX_PARTS + 1, 3] = 2.0  # towards B: query column = key column
        bias.index[0 * MAX_PARTS + 0, 1, k] = 2.0  # towards A: key column k
        bias.index[0 * MAX_PARTS + 1, 0, k] = 2.0  # towards B: key row k
    dims = (3, 2, 4)
    problems = op.generate(1, dims, torch.Generator().manual_seed(0))
    src, slots = codec.encode_operands(problems.operands), codec.slots(op.answer_shapes(dims), 1)
    weights = bias(model._codes(slots, src)).softmax(-1)[0, 0]
    i, j = 2, 3
    assert (weights[i * 4 + j] > 1e-6).nonzero().flatten().tolist() == [i * 2 + k, 6 + k * 4 + j]


def test_separate_operands_keeps_each_operand_from_the_other_in_the_encoder() -> None:
    """Changing B changes nothing the encoder computes at A's positions, and answers still decode."""
    codec, op = make_codec("entry"), get_operation("product")
    torch.manual_seed(0)
    model = Seq2Seq.for_codec(codec, d_model=16, n_heads=2, enc_layers=2, grid_bias=True,
                              separate_operands=True).eval()
    dims = (2, 3, 2)
    problems = op.generate(2, dims, torch.Generator().manual_seed(0))
    other = [problems.operands[0], problems.operands[1] * 2 + 1]
    encoded = [model.encode(codec.encode_operands(operands), None) for operands in (problems.operands, other)]
    a_positions = 2 * 3
    assert torch.allclose(encoded[0][:, :a_positions], encoded[1][:, :a_positions], atol=1e-6)
    assert not torch.allclose(encoded[0][:, a_positions:], encoded[1][:, a_positions:])
    plain = Seq2Seq.for_codec(codec, d_model=16, n_heads=2, enc_layers=2, grid_bias=True).eval()
    plain.load_state_dict(model.state_dict())
    mixed = [plain.encode(codec.encode_operands(operands), None) for operands in (problems.operands, other)]
    assert not torch.allclose(mixed[0][:, :a_positions], mixed[1][:, :a_positions])  # the plain encoder mixes
    with pytest.raises(ValueError, match="needs an entry layout"):
        Seq2Seq.for_codec(make_codec("P10"), d_model=8, n_heads=2, separate_operands=True)


def test_the_index_bias_is_part_of_the_grid_bias() -> None:
    with pytest.raises(ValueError, match="set grid_bias too"):
        Seq2Seq.for_codec(make_codec("entry"), d_model=8, n_heads=2, index_bias=True)


@pytest.mark.parametrize("added", [{"grid_bias": True, "index_bias": True}, {"value_embedding": True},
                                   {"bilinear": 8}])
def test_starting_from_a_model_without_the_grid_bias_value_embedding_or_products_changes_no_answer(
        added: dict) -> None:
    codec, op = make_codec("entry"), get_operation("product")
    torch.manual_seed(0)
    before = Seq2Seq.for_codec(codec, d_model=16, n_heads=2).eval()
    after = Seq2Seq.for_codec(codec, d_model=16, n_heads=2, **added).eval()
    after.start_from(before)
    problems = op.generate(4, (2, 3, 2), torch.Generator().manual_seed(1))
    batch = codec.encode(problems.operands, op.solve(problems.operands))
    logits = [model.hidden(batch.tgt_in, model.encode(batch.src, None), batch.src, None) for model in (before, after)]
    assert torch.allclose(logits[0], logits[1], atol=1e-6)


def test_the_bilinear_branch_multiplies_two_numbers_exactly() -> None:
    branch = Bilinear(4, 1)
    with torch.no_grad():
        branch.pair.weight.copy_(torch.tensor([[1.0, 0, 0, 0], [0, 1.0, 0, 0]]))  # left reads h0, right h1
        branch.pair.bias.zero_()
        branch.out.weight.copy_(torch.tensor([[0.0], [0], [1], [0]]))  # the product lands in h2
        branch.out.bias.zero_()
    h = torch.tensor([[3.7, -2.9, 0.0, 0.0], [0.013, 820.0, 0.0, 0.0]], dtype=torch.float64)
    assert torch.equal(branch.double()(h)[:, 2], h[:, 0] * h[:, 1])

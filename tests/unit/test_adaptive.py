"""The cost model switches speculation off where it cannot pay and on where it does."""

from __future__ import annotations

from airgap_lsp.completion.adaptive import CostModel, expected_tokens


def cpu_like() -> CostModel:
    # Measured here: verifying n tokens costs nearly n single steps; a 0.5B draft step costs
    # 0.65 of a 1.5B target step.
    costs = CostModel()
    costs.calibrate({1: 31.0, 2: 57.0, 4: 100.0, 8: 218.0, 16: 264.0}, draft_step_ms=20.0)
    return costs


def gpu_like() -> CostModel:
    costs = CostModel()
    costs.calibrate({1: 20.0, 2: 20.5, 4: 21.0, 8: 22.0, 16: 25.0}, draft_step_ms=2.0)
    return costs


def test_expected_tokens():
    assert expected_tokens(0.0, 5) == 1.0
    assert expected_tokens(1.0, 3) == 4.0
    assert abs(expected_tokens(0.5, 2) - 1.75) < 1e-9


def test_draft_model_is_off_on_a_cpu_where_batches_cost_linear_time():
    costs = cpu_like()
    assert not costs.draft_can_pay(8)
    assert costs.best_model_draft(8) == 0


def test_draft_model_is_on_and_long_on_a_gpu():
    costs = gpu_like()
    assert costs.draft_can_pay(8)
    assert costs.best_model_draft(8) >= 4


def test_ngram_copy_pays_only_with_long_reliable_drafts_on_a_cpu():
    costs = cpu_like()
    for _ in range(30):
        costs.ngram_copy.observe(16, 16)  # copying: whole drafts accepted
    assert costs.ngram_pays(15, mode="copy") == 15  # a 16-token batch is cheap per token
    for _ in range(30):
        costs.ngram.observe(4, 1)  # fresh matches: mostly wrong
    assert costs.ngram_pays(15, mode="fresh") == 0


def test_verify_cost_interpolates_and_extrapolates():
    costs = cpu_like()
    assert costs.verify_cost(3) == (57.0 + 100.0) / 2
    assert costs.verify_cost(32) > costs.verify_cost(16)

"""Automatic, specific feedback for the student exercises in ``notebooks/exercises/``.

Each ``check_*`` runs the student's function on hand-made cases and seeded random cases and
compares it with a reference: the project's own implementation where there is one
(``rec_helpers.metrics.ndcg_at_k``, ``rec_helpers.splits.split_by_time``), otherwise the
formula of SPEC §4 written in numpy below (``reference_*``). On the first failing case it
shows the input, the expected and the actual value, and a hint tied to the likely mistake.
Hints come from **known mistakes**: wrong versions of the function (no normalisation,
swapped α, exp(logvar) instead of exp(0.5·logvar), a global time cut, ...) are run on the
same input, and when the student's answer equals a wrong version's answer, that mistake's
hint is shown. An untouched TODO (``NotImplementedError``) gets "Not implemented yet" plus a
first hint; any other exception in the student's code is reported with the failing input.

**Design choice: report, don't raise.** A check prints its report and returns a
:class:`CheckResult` (``passed: bool``, ``feedback: list[str]``). By default it raises
nothing, so "Run all" never stops at a check cell and the cells after it still run (they
look at ``result.passed``). ``strict=True`` (tests, autograders) raises
:class:`ExerciseFailed`, an ``AssertionError`` whose message is the feedback.
``verbose=False`` skips the printing.
"""
from __future__ import annotations

import copy
import math
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd

from . import metrics, splits
from .constants import COL_ITEM, COL_RATING, COL_TIMESTAMP, COL_USER

PASS_MARK = "✓ PASSED"
FAIL_MARK = "✗ NOT YET"
NOT_IMPLEMENTED = "Not implemented yet: replace the `raise NotImplementedError` line with your code."
SEED = 2024  # random cases are the same on every run, so feedback is reproducible

Mistake = tuple[str, Callable[..., Any]]  # (hint, a wrong implementation with the same signature)


# --- results ---------------------------------------------------------------------------------
class ExerciseFailed(AssertionError):
    """Raised by a check with ``strict=True`` when the exercise is not solved yet."""

    def __init__(self, result: "CheckResult") -> None:
        super().__init__(result.report)
        self.result = result


@dataclass
class CheckResult:
    """Outcome of one check: ``passed`` and the feedback lines that were printed."""

    exercise: str
    passed: bool
    feedback: list[str] = field(default_factory=list)
    n_cases: int = 0
    n_passed: int = 0

    @property
    def report(self) -> str:
        return "\n".join(self.feedback)

    def __repr__(self) -> str:
        state = "passed" if self.passed else "not yet"
        return f"CheckResult({self.exercise}: {state}, {self.n_passed}/{self.n_cases} cases)"


def _finish(result: CheckResult, strict: bool, verbose: bool) -> CheckResult:
    if verbose:
        print(result.report)
    if strict and not result.passed:
        raise ExerciseFailed(result)
    return result


# --- the case runner -------------------------------------------------------------------------
@dataclass
class Case:
    """One input: a label for the report, the arguments, how to show them, and an optional hint."""

    label: str
    args: tuple
    shown: str
    hint: str | None = None


Problem = tuple[str | None, str | None]  # (what is wrong, a hint read off the structure) or None


@dataclass
class Exercise:
    """What a check needs: the reference, the known mistakes and how to compare and show values."""

    title: str
    arg_names: tuple[str, ...]
    reference: Callable[..., Any]
    mistakes: Sequence[Mistake]
    start_hint: str
    fallback_hint: str
    compare: Callable[[Any, Any, tuple], Problem | None] = None  # type: ignore[assignment]
    same: Callable[[Any, Any], bool] = None  # type: ignore[assignment]
    show: Callable[[Any], str] = None  # type: ignore[assignment]
    error_hint: Callable[[BaseException], str | None] = lambda exc: None
    unstable_hint: str | None = None  # shown when two calls on the same input disagree

    def __post_init__(self) -> None:
        self.compare = self.compare or compare_numbers
        self.same = self.same or same_numbers
        self.show = self.show or show_value


class _NotImplemented(Exception):
    pass


def _quietly(fn: Callable, *args: Any) -> Any:
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args)


def _equal_inputs(a: Any, b: Any) -> bool:
    if isinstance(a, pd.DataFrame):
        return isinstance(b, pd.DataFrame) and a.equals(b)
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and a.shape == b.shape and np.array_equal(a, b, equal_nan=True)
    return a == b


def _diagnose(ex: Exercise, got: Any, args: tuple) -> str | None:
    """The hint of the first known mistake whose answer equals the student's."""
    for hint, wrong in ex.mistakes:
        try:
            value = _quietly(wrong, *copy.deepcopy(args))
        except Exception:
            continue
        if ex.same(got, value):
            return hint
    return None


def _unstable(ex: Exercise, fn: Callable, got: Any, args: tuple) -> str | None:
    """``ex.unstable_hint`` when a second call on the same input gives another answer (e.g. fresh noise)."""
    if ex.unstable_hint is None:
        return None
    try:
        again = _quietly(fn, *copy.deepcopy(args))
    except Exception:
        return None
    return None if ex.same(got, again) else ex.unstable_hint


def _run_case(ex: Exercise, fn: Callable, case: Case) -> list[str]:
    """Feedback lines for one case ([] when it is correct)."""
    given = copy.deepcopy(case.args)  # the student gets copies; case.args stays pristine
    try:
        got = _quietly(fn, *given)
    except NotImplementedError as exc:
        raise _NotImplemented from exc
    except Exception as exc:  # the student's code failed: report it with the input
        hint = ex.error_hint(exc) or case.hint or ex.fallback_hint
        return [f"input:    {case.shown}",
                f"your function raised {type(exc).__name__}: {exc}",
                f"Hint: {hint}"]
    expected = _quietly(ex.reference, *case.args)
    try:
        problem = ex.compare(got, expected, case.args)
    except Exception as exc:  # an output so odd that the comparison itself fails
        problem = (f"your result could not be compared with the expected one ({type(exc).__name__}: {exc}).", None)
    if problem is None:
        changed = [n for n, a, b in zip(ex.arg_names, case.args, given) if not _equal_inputs(a, b)]
        if not changed:
            return []
        name = changed[0]
        if isinstance(given[ex.arg_names.index(name)], pd.DataFrame):
            how = (f"no `inplace=True` and no new column on `{name}`; `df = {name}.sort_values(...)` "
                   f"already gives you a new frame")
        else:
            how = f"no `{name} *= ...` or `{name}[...] = ...`; write e.g. `new = {name} * 2` instead"
        return [f"input:    {case.shown}",
                f"your result is right, but your function changed its input `{name}` in place.",
                f"Hint: do not modify the inputs ({how}): the caller still needs them unchanged."]
    what, structural = problem
    hint = _diagnose(ex, got, case.args) or _unstable(ex, fn, got, case.args) or structural \
        or case.hint or ex.fallback_hint
    lines = [f"input:    {case.shown}", f"expected: {ex.show(expected)}", f"got:      {ex.show(got)}"]
    return lines + ([what] if what else []) + [f"Hint: {hint}"]


def evaluate(ex: Exercise, fn: Any, cases: Sequence[Case]) -> CheckResult:
    """Run ``fn`` on every case; feedback on the first failing one (nothing is printed)."""
    if not callable(fn):
        return CheckResult(ex.title, False, [
            f"{FAIL_MARK} — {ex.title}: the check needs your function itself, got {type(fn).__name__}.",
            "Hint: pass the function without calling it, e.g. check_ndcg(ndcg_at_k), not check_ndcg(ndcg_at_k(...))."],
            len(cases), 0)
    failures: list[tuple[Case, list[str]]] = []
    for case in cases:
        try:
            lines = _run_case(ex, fn, case)
        except _NotImplemented:
            return CheckResult(ex.title, False, [f"{FAIL_MARK} — {ex.title}: not implemented yet.",
                                                 NOT_IMPLEMENTED, f"Hint: {ex.start_hint}"], len(cases), 0)
        if lines:
            failures.append((case, lines))
    n, n_ok = len(cases), len(cases) - len(failures)
    if not failures:
        return CheckResult(ex.title, True, [f"{PASS_MARK} — {ex.title}: all {n} cases correct."], n, n)
    case, lines = failures[0]
    feedback = [f"{FAIL_MARK} — {ex.title}: {n_ok} of {n} cases correct.",
                f"First failing case: {case.label}", *("    " + line for line in lines)]
    if len(failures) > 1:
        feedback.append("Also failing: " + "; ".join(c.label for c, _ in failures[1:]))
    return CheckResult(ex.title, False, feedback, n, n_ok)


# --- comparing and showing numbers -----------------------------------------------------------
RTOL, ATOL = 1e-6, 1e-9


def _as_float_array(value: Any) -> np.ndarray | None:
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        return None


def same_numbers(a: Any, b: Any) -> bool:
    """Same shape and close values (NaN never matches)."""
    x, y = _as_float_array(a), _as_float_array(b)
    return x is not None and y is not None and x.shape == y.shape and bool(np.allclose(x, y, RTOL, ATOL))


def compare_numbers(got: Any, expected: Any, args: tuple = ()) -> Problem | None:
    """None when ``got`` matches; else (what is wrong, structural hint)."""
    if got is None:
        return "your function returned None.", "did you forget the `return` statement?"
    g, e = _as_float_array(got), np.asarray(expected, dtype=np.float64)
    if g is None:
        return f"your function returned a {type(got).__name__}, not numbers.", None
    if g.shape != e.shape:
        if e.ndim == 0:
            return f"expected a single number, got an array of shape {g.shape}.", \
                "return one float (e.g. `float(value)`), not a list or array."
        return f"expected shape {e.shape}, got shape {g.shape}.", None
    if np.isnan(g).any():
        return "your result contains NaN (e.g. 0/0 or log of a negative number).", None
    if np.allclose(g, e, RTOL, ATOL):
        return None
    if g.ndim and g.size > 1:
        bad = np.argwhere(~np.isclose(g, e, RTOL, ATOL))[0]
        idx = tuple(int(i) for i in bad)
        return f"first wrong entry at index {idx if len(idx) > 1 else idx[0]}: " \
               f"expected {e[tuple(bad)]:.6g}, got {g[tuple(bad)]:.6g}.", None
    return None, None


def show_value(value: Any) -> str:
    """Short text of a number or a small array (shape only for big ones)."""
    if value is None:
        return "None"
    arr = _as_float_array(value)
    if arr is None:
        return repr(value)[:200]
    arr = arr + 0.0  # shows -0.0 as 0
    if arr.ndim == 0:
        return f"{float(arr):.6g}"
    if arr.size <= 16:
        return np.array2string(arr, precision=4, separator=", ", suppress_small=True).replace("\n", "")
    head = np.array2string(arr.reshape(arr.shape[0], -1)[0][:6], precision=4, separator=", ")
    return f"array of shape {arr.shape}, first row {head}..."


def _show_arrays(**arrays: Any) -> str:
    return ", ".join(f"{name}={show_value(a) if np.size(a) <= 16 else f'<array of shape {np.shape(a)}>'}"
                     for name, a in arrays.items())


def _rng(i: int) -> np.random.Generator:
    return np.random.default_rng(SEED + i)


# =============================================================================================
# ex01 · NDCG@k
# =============================================================================================
def reference_ndcg(ranked_items: list, relevant: set, k: int) -> float:
    """NDCG@k of one list through the project's metric (``rec_helpers.metrics.ndcg_at_k``); 0 without relevant items."""
    if not relevant:
        return 0.0
    truth = pd.DataFrame({COL_USER: "u", COL_ITEM: list(relevant)})
    pred = pd.DataFrame({COL_USER: "u", COL_ITEM: list(ranked_items),
                         "rank": np.arange(1, len(ranked_items) + 1)})
    if pred.empty:
        return 0.0
    return float(metrics.ndcg_at_k(truth, pred, k=k))


def _dcg(ranked: list, relevant: set, k: int | None, offset: int = 1) -> float:
    """Σ over ranks r ≤ k with a relevant item of 1 / log2(r + offset) (offset 1 is right)."""
    top = ranked if k is None else ranked[:k]
    return sum(1.0 / math.log2(r + offset) for r, item in enumerate(top, start=1) if item in relevant)


def _idcg(n: int, offset: int = 1) -> float:
    return sum(1.0 / math.log2(r + offset) for r in range(1, n + 1))


def _ratio(a: float, b: float) -> float:
    return a / b if b > 0 else 0.0


def _n_hits(ranked: list, relevant: set, k: int) -> int:
    return sum(item in relevant for item in ranked[:k])


HINT_NDCG_UNNORMALISED = ("your value equals DCG without normalisation — divide by the ideal DCG "
                          "(the DCG of a perfect list, all relevant items on top), so a perfect ranking scores 1.")
HINT_NDCG_OFF_BY_ONE = ("off by one in the discount: rank 1 must be divided by log2(1 + 1) = log2(2) = 1. "
                        "If you loop with enumerate (which starts at 0), the discount is log2(i + 2).")
HINT_NDCG_IDEAL = ("the ideal DCG must use min(k, |relevant|) items: a user with 2 relevant items can at best "
                   "fill ranks 1 and 2, and with 8 relevant items and k = 3 only ranks 1–3 count.")
HINT_NDCG_CUTOFF = "only the first k ranks count: look at ranked_items[:k], not the whole list."
HINT_NDCG_IDEAL_FROM_HITS = ("the ideal DCG comes from the relevant set, not from the hits your list found: "
                             "it is the DCG of the best possible list, with min(k, |relevant|) relevant items on top.")

NDCG_MISTAKES: list[Mistake] = [
    (HINT_NDCG_UNNORMALISED, lambda r, rel, k: _dcg(r, rel, k)),
    (HINT_NDCG_OFF_BY_ONE, lambda r, rel, k: _ratio(_dcg(r, rel, k, 2), _idcg(min(k, len(rel)), 2))),
    (HINT_NDCG_OFF_BY_ONE, lambda r, rel, k: _ratio(_dcg(r, rel, k, 2), _idcg(min(k, len(rel))))),
    (HINT_NDCG_OFF_BY_ONE, lambda r, rel, k: _ratio(_dcg(r, rel, k), _idcg(min(k, len(rel)), 2))),
    (HINT_NDCG_CUTOFF, lambda r, rel, k: _ratio(_dcg(r, rel, None), _idcg(min(k, len(rel))))),
    (HINT_NDCG_CUTOFF, lambda r, rel, k: _ratio(_dcg(r, rel, None), _idcg(len(rel)))),
    (HINT_NDCG_IDEAL, lambda r, rel, k: _ratio(_dcg(r, rel, k), _idcg(k))),
    (HINT_NDCG_IDEAL, lambda r, rel, k: _ratio(_dcg(r, rel, k), _idcg(len(rel)))),
    (HINT_NDCG_IDEAL_FROM_HITS, lambda r, rel, k: _ratio(_dcg(r, rel, k), _idcg(_n_hits(r, rel, k)))),
]


def _ndcg_error_hint(exc: BaseException) -> str | None:
    if isinstance(exc, ZeroDivisionError):
        return ("division by zero: rank 1 is divided by log2(1 + 1) = 1, never by log2(1) = 0; "
                "and when `relevant` is empty the ideal DCG is 0, so return 0.0 before dividing.")
    if isinstance(exc, TypeError) and "set" in str(exc):
        return "`relevant` is a set: test membership with `item in relevant` (sets have no order or index)."
    return None


def _ndcg_case(label: str, ranked: list, relevant: set, k: int, hint: str | None = None) -> Case:
    rel = "{" + ", ".join(repr(x) for x in sorted(relevant)) + "}" if relevant else "set()"
    shown = f"ranked_items={ranked}, relevant={rel}, k={k}"
    return Case(label, (list(ranked), set(relevant), k), shown, hint)


def ndcg_cases() -> list[Case]:
    """Hand cases (each isolates one idea) and seeded random cases."""
    cases = [
        _ndcg_case("a perfect ranking (NDCG = 1)", ["a", "b", "c", "d"], {"a", "b"}, 4),
        _ndcg_case("hits at ranks 1 and 3", ["a", "b", "c", "d"], {"a", "c"}, 3),
        _ndcg_case("one hit, at rank 2", ["x", "a", "y"], {"a"}, 3),
        _ndcg_case("a relevant item below the cutoff k", ["a", "b", "c", "d", "e"], {"a", "e"}, 3),
        _ndcg_case("more relevant items than k", ["a", "x", "b", "y", "c"], set("abcdefgh"), 3),
        _ndcg_case("a list shorter than k", ["x", "a"], {"a", "q"}, 10),
        _ndcg_case("no relevant item in the list", ["a", "b", "c"], {"z"}, 3),
        _ndcg_case("an empty relevant set", ["a", "b"], set(), 2,
                   hint="when `relevant` is empty there is nothing to find: return 0.0 "
                        "(the ideal DCG is 0, so do not divide by it)."),
    ]
    for i in range(6):
        rng = _rng(i)
        ranked = [int(x) for x in rng.permutation(30)[: int(rng.integers(3, 16))]]
        relevant = {int(x) for x in rng.choice(30, size=int(rng.integers(1, 9)), replace=False)}
        k = int(rng.choice([1, 3, 5, 10]))
        cases.append(_ndcg_case(f"random case {i + 1}", ranked, relevant, k))
    return cases


NDCG = Exercise(
    title="ex01 · ndcg_at_k",
    arg_names=("ranked_items", "relevant", "k"),
    reference=reference_ndcg,
    mistakes=NDCG_MISTAKES,
    start_hint="start with DCG: add 1 / log2(rank + 1) for every rank ≤ k (rank 1 = first item) whose item "
               "is in `relevant`; then divide by the same sum for a perfect list of min(k, |relevant|) items.",
    fallback_hint="compute DCG = Σ_{rank ≤ k, item relevant} 1/log2(rank + 1) and IDCG = Σ_{rank=1}^{min(k,|relevant|)} "
                  "1/log2(rank + 1) by hand for this input and compare with your intermediate values.",
    error_hint=_ndcg_error_hint,
)


def check_ndcg(fn: Callable[[list, set, int], float], *, strict: bool = False, verbose: bool = True) -> CheckResult:
    """Check ``ndcg_at_k(ranked_items, relevant, k)`` against ``rec_helpers.metrics.ndcg_at_k``."""
    return _finish(evaluate(NDCG, fn, ndcg_cases()), strict, verbose)


# =============================================================================================
# ex02 · fusion
# =============================================================================================
def reference_fuse(u_s: np.ndarray, u_t: np.ndarray, alpha: float) -> np.ndarray:
    """u'' = α·u_s + (1 − α)·u_t (SPEC §4, Fusion), row-wise for a batch."""
    return alpha * np.asarray(u_s, dtype=np.float64) + (1.0 - alpha) * np.asarray(u_t, dtype=np.float64)


HINT_FUSION_SWAPPED = ("α and 1−α are swapped: α weighs the SOURCE interest u_s and (1 − α) the target "
                       "interest u_t. Check: α = 1 must return u_s.")
HINT_FUSION_WEIGHTS = "the two weights must add up to 1: u_t gets (1 − α), not 1."
HINT_FUSION_IGNORES_ALPHA = "your result does not depend on α (it is the plain average): use α·u_s + (1 − α)·u_t."
HINT_FUSION_ONE_TERM = "you kept only one of the two terms: the result is α·u_s PLUS (1 − α)·u_t."
HINT_FUSION_SIGN = "the two terms are added, not subtracted: α·u_s + (1 − α)·u_t."
HINT_FUSION_BATCH = ("work on whole arrays: u_s and u_t can be (n, d) batches with one user per row, and "
                     "`alpha * u_s + (1 - alpha) * u_t` handles any shape by broadcasting — no loop over rows, "
                     "no sum or mean over rows.")

FUSION_MISTAKES: list[Mistake] = [
    (HINT_FUSION_SWAPPED, lambda s, t, a: reference_fuse(t, s, a)),
    (HINT_FUSION_WEIGHTS, lambda s, t, a: a * s + t),
    (HINT_FUSION_WEIGHTS, lambda s, t, a: s + (1 - a) * t),
    (HINT_FUSION_IGNORES_ALPHA, lambda s, t, a: (s + t) / 2),
    (HINT_FUSION_ONE_TERM, lambda s, t, a: a * s),
    (HINT_FUSION_ONE_TERM, lambda s, t, a: (1 - a) * t),
    (HINT_FUSION_SIGN, lambda s, t, a: a * s - (1 - a) * t),
]


def _fusion_compare(got: Any, expected: Any, args: tuple) -> Problem | None:
    problem = compare_numbers(got, expected)
    if problem and _as_float_array(got) is not None and np.shape(got) != np.shape(expected):
        return problem[0], HINT_FUSION_BATCH
    return problem


def _fusion_error_hint(exc: BaseException) -> str | None:
    if isinstance(exc, (ValueError, IndexError)):
        return HINT_FUSION_BATCH
    if isinstance(exc, TypeError):
        return "u_s and u_t are numpy arrays: use `alpha * u_s` (not a list comprehension over Python lists)."
    return None


def _fusion_case(label: str, u_s: Any, u_t: Any, alpha: float, hint: str | None = None) -> Case:
    u_s, u_t = np.asarray(u_s, dtype=np.float64), np.asarray(u_t, dtype=np.float64)
    return Case(label, (u_s, u_t, alpha), _show_arrays(u_s=u_s, u_t=u_t) + f", alpha={alpha:g}", hint)


def fusion_cases() -> list[Case]:
    batch_s = np.array([[1.0, 0.0, 2.0, -1.0], [0.5, 0.5, 0.0, 1.0], [-2.0, 1.0, 1.0, 0.0]])
    batch_t = np.array([[0.0, 1.0, 0.0, 1.0], [1.0, -1.0, 2.0, 0.0], [0.0, 0.0, -1.0, 3.0]])
    cases = [
        _fusion_case("one user, α = 0.25", [1.0, 0.0], [0.0, 1.0], 0.25),
        _fusion_case("α = 1 keeps only u_s", [1.0, 2.0, 3.0], [-1.0, 0.0, 1.0], 1.0,
                     hint="with α = 1 the result must be exactly u_s."),
        _fusion_case("α = 0 keeps only u_t", [1.0, 2.0, 3.0], [-1.0, 0.0, 1.0], 0.0,
                     hint="with α = 0 the result must be exactly u_t."),
        _fusion_case("a batch of 3 users (one per row), α = 0.3", batch_s, batch_t, 0.3),
    ]
    for i in range(3):
        rng = _rng(10 + i)
        cases.append(_fusion_case(f"random batch {i + 1} (5 users × 8 dims)", rng.normal(size=(5, 8)),
                                  rng.normal(size=(5, 8)), round(float(rng.uniform(0.05, 0.95)), 3)))
    return cases


FUSION = Exercise(
    title="ex02 · fuse",
    arg_names=("u_s", "u_t", "alpha"),
    reference=reference_fuse,
    mistakes=FUSION_MISTAKES,
    start_hint="one line does it: `return alpha * u_s + (1 - alpha) * u_t` — numpy applies it to every row.",
    fallback_hint="compute α·u_s + (1 − α)·u_t for this input by hand and compare entry by entry.",
    compare=_fusion_compare,
    error_hint=_fusion_error_hint,
)


def _alpha_bonus(fn: Callable) -> str:
    """Optional: does ``fn`` reject α outside [0, 1]?"""
    try:
        _quietly(fn, np.ones(2), np.zeros(2), 1.5)
    except NotImplementedError:
        return ""
    except Exception:
        return "Bonus ✓: you reject α outside [0, 1]."
    return "Bonus (optional): raise a ValueError when α is outside [0, 1] — fuse(u_s, u_t, 1.5) returned a value."


def check_fusion(fn: Callable[[np.ndarray, np.ndarray, float], np.ndarray], *, strict: bool = False,
                 verbose: bool = True) -> CheckResult:
    """Check ``fuse(u_s, u_t, alpha)`` = α·u_s + (1 − α)·u_t on vectors and (n, d) batches."""
    result = evaluate(FUSION, fn, fusion_cases())
    bonus = _alpha_bonus(fn) if result.passed else ""
    if bonus:
        result.feedback.append(bonus)
    return _finish(result, strict, verbose)


# =============================================================================================
# ex03 · adapter (gated residual)
# =============================================================================================
def relu(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, 0.0)


def reference_bottleneck(x: np.ndarray, W_down: np.ndarray, W_up: np.ndarray) -> np.ndarray:
    """A(x) = x + relu(x @ W_down) @ W_up, for x (n, d), W_down (d, b), W_up (b, d)."""
    return x + relu(x @ W_down) @ W_up


def reference_adapter(u_s: np.ndarray, u_t: np.ndarray, W_down: np.ndarray, W_up: np.ndarray,
                      theta: float | np.ndarray) -> np.ndarray:
    """u_t' = u_t + θ ⊙ (A(u_s) − u_t) (SPEC §4, Adapter; the project's module uses GELU instead of relu)."""
    return u_t + theta * (reference_bottleneck(u_s, W_down, W_up) - u_t)


def _A(x: np.ndarray, Wd: np.ndarray, Wu: np.ndarray, residual: bool = True,
       where: str = "bottleneck") -> np.ndarray:
    """Variants of A for the known mistakes: relu on the bottleneck, at the end, on everything, or missing."""
    if where == "bottleneck":
        inner = relu(x @ Wd) @ Wu
    elif where == "after_up":
        inner = relu(x @ Wd @ Wu)
    else:  # "none"
        inner = x @ Wd @ Wu
    out = x + inner if residual else inner
    return relu(out) if where == "outside" else out


HINT_ADAPTER_RESIDUAL = "you forgot the residual x + … inside A: A(x) = x + relu(x @ W_down) @ W_up."
HINT_ADAPTER_GATE = ("θ must gate the difference A(u_s) − u_t, not A(u_s): "
                     "u_t + θ ⊙ (A(u_s) − u_t), so that θ = 1 gives A(u_s) and θ = 0 gives u_t.")
HINT_ADAPTER_ADD_UT = "add u_t back: the output is u_t + θ ⊙ (A(u_s) − u_t); with θ = 0 it must equal u_t."
HINT_ADAPTER_RELU = "apply relu between the two matrices, on the bottleneck: relu(x @ W_down) @ W_up."
HINT_ADAPTER_RELU_PLACE = ("relu goes on the bottleneck only, between W_down and W_up: x + relu(x @ W_down) @ W_up "
                           "(not after W_up, not on the whole of A).")
HINT_ADAPTER_DIRECTION = "the difference points from u_t towards A(u_s): use A(u_s) − u_t, not u_t − A(u_s)."
HINT_ADAPTER_INPUT = "A maps the SOURCE interest: apply A to u_s, not to u_t."
HINT_ADAPTER_ONE_MINUS = "θ is the share of A(u_s): with θ = 1 the output is A(u_s). You used 1 − θ."
HINT_ADAPTER_SHAPES = ("matrix orientation: rows are users. x is (n, d), W_down is (d, b) and W_up is (b, d), "
                       "so write (x @ W_down) and then (… @ W_up) — not W_down @ x.")

ADAPTER_MISTAKES: list[Mistake] = [
    (HINT_ADAPTER_RESIDUAL, lambda s, t, Wd, Wu, th: t + th * (_A(s, Wd, Wu, residual=False) - t)),
    (HINT_ADAPTER_GATE, lambda s, t, Wd, Wu, th: t + th * _A(s, Wd, Wu)),
    (HINT_ADAPTER_GATE, lambda s, t, Wd, Wu, th: t + th * _A(s, Wd, Wu, residual=False)),
    (HINT_ADAPTER_ADD_UT, lambda s, t, Wd, Wu, th: th * (_A(s, Wd, Wu) - t)),
    (HINT_ADAPTER_RELU, lambda s, t, Wd, Wu, th: t + th * (_A(s, Wd, Wu, where="none") - t)),
    (HINT_ADAPTER_RELU_PLACE, lambda s, t, Wd, Wu, th: t + th * (_A(s, Wd, Wu, where="after_up") - t)),
    (HINT_ADAPTER_RELU_PLACE, lambda s, t, Wd, Wu, th: t + th * (_A(s, Wd, Wu, where="outside") - t)),
    (HINT_ADAPTER_DIRECTION, lambda s, t, Wd, Wu, th: t + th * (t - _A(s, Wd, Wu))),
    (HINT_ADAPTER_INPUT, lambda s, t, Wd, Wu, th: t + th * (_A(t, Wd, Wu) - t)),
    (HINT_ADAPTER_ONE_MINUS, lambda s, t, Wd, Wu, th: t + (1 - th) * (_A(s, Wd, Wu) - t)),
]


def _adapter_error_hint(exc: BaseException) -> str | None:
    text = str(exc).lower()
    if isinstance(exc, ValueError) and any(w in text for w in ("matmul", "align", "shape", "broadcast")):
        return HINT_ADAPTER_SHAPES
    return None


def _adapter_case(label: str, u_s: Any, u_t: Any, W_down: Any, W_up: Any, theta: Any,
                  hint: str | None = None) -> Case:
    arrays = [np.asarray(a, dtype=np.float64) for a in (u_s, u_t, W_down, W_up)]
    theta = float(theta) if np.ndim(theta) == 0 else np.asarray(theta, dtype=np.float64)
    shown = _show_arrays(u_s=arrays[0], u_t=arrays[1], W_down=arrays[2], W_up=arrays[3], theta=theta)
    return Case(label, (*arrays, theta), shown, hint)


def adapter_cases() -> list[Case]:
    u_s = [[1.0, -1.0, 2.0], [0.0, 2.0, -1.0]]
    u_t = [[0.5, 0.5, 0.0], [1.0, 0.0, 1.0]]
    W_down = [[1.0, 0.0], [0.0, -1.0], [1.0, 1.0]]
    W_up = [[0.5, -1.0, 0.0], [1.0, 0.0, 0.5]]
    cases = [
        _adapter_case("W_up = 0, so A is the identity; θ = 0.5", [[1.0, 2.0, 3.0]], [[3.0, 2.0, 1.0]],
                      [[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], np.zeros((2, 3)), 0.5),
        _adapter_case("θ = 0 returns u_t", u_s, u_t, W_down, W_up, 0.0,
                      hint="with θ = 0 the output must be exactly u_t."),
        _adapter_case("θ = 1 returns A(u_s)", u_s, u_t, W_down, W_up, 1.0,
                      hint="with θ = 1 the output must be exactly A(u_s) = u_s + relu(u_s @ W_down) @ W_up."),
        _adapter_case("2 users, θ = 0.5 (relu matters here)", u_s, u_t, W_down, W_up, 0.5),
        _adapter_case("a vector θ: one gate per dimension", u_s, u_t, W_down, W_up, [0.0, 0.5, 1.0]),
    ]
    n, d, b = 4, 6, 3
    for i, kind in enumerate(("scalar", "vector", "per user")):
        rng = _rng(20 + i)
        theta = {"scalar": round(float(rng.uniform(0.1, 0.9)), 3), "vector": rng.uniform(size=d),
                 "per user": rng.uniform(size=(n, 1))}[kind]
        cases.append(_adapter_case(f"random case {i + 1}: {n} users, d = {d}, b = {b}, {kind} θ",
                                   rng.normal(size=(n, d)), rng.normal(size=(n, d)),
                                   rng.normal(size=(d, b)), rng.normal(size=(b, d)), theta))
    return cases


ADAPTER = Exercise(
    title="ex03 · adapter_forward",
    arg_names=("u_s", "u_t", "W_down", "W_up", "theta"),
    reference=reference_adapter,
    mistakes=ADAPTER_MISTAKES,
    start_hint="write A first: `a = u_s + np.maximum(u_s @ W_down, 0) @ W_up`; then return `u_t + theta * (a - u_t)`.",
    fallback_hint="compute A(u_s) = u_s + relu(u_s @ W_down) @ W_up on its own and print it; "
                  "then u_t + θ ⊙ (A(u_s) − u_t).",
    error_hint=_adapter_error_hint,
)


def check_adapter(fn: Callable[..., np.ndarray], *, strict: bool = False, verbose: bool = True) -> CheckResult:
    """Check ``adapter_forward(u_s, u_t, W_down, W_up, theta)`` = u_t + θ ⊙ (A(u_s) − u_t)."""
    return _finish(evaluate(ADAPTER, fn, adapter_cases()), strict, verbose)


# =============================================================================================
# ex04 · VAE: reparameterisation and KL (numpy)
# =============================================================================================
def reference_reparameterise(mu: np.ndarray, logvar: np.ndarray, eps: np.ndarray) -> np.ndarray:
    """z = μ + σ ⊙ ε with σ = exp(0.5·logvar)."""
    return mu + np.exp(0.5 * logvar) * eps


def reference_kl(mu: np.ndarray, logvar: np.ndarray) -> np.ndarray:
    """KL(N(μ, σ²) ‖ N(0, I)) per row: −0.5·Σ_j (1 + logvar − μ² − exp(logvar)), shape (n,)."""
    return -0.5 * np.sum(1.0 + logvar - mu**2 - np.exp(logvar), axis=1)


HINT_VAE_SIGMA = "σ = exp(0.5·logvar), not exp(logvar): logvar is log σ², so exp(logvar) is the variance σ²."
HINT_VAE_LOGVAR_AS_SIGMA = "logvar is log σ², not σ: compute σ = exp(0.5·logvar) first."
HINT_VAE_EXP_SIGN = "sign in the exponent: σ = exp(+0.5·logvar) (a larger logvar means more noise)."
HINT_VAE_NO_SIGMA = "scale the noise by σ: z = mu + σ·eps with σ = exp(0.5·logvar)."
HINT_VAE_EPS = "use the eps you are given (do not draw new noise): z = mu + σ·eps — then the result is reproducible."

REPARAM_MISTAKES: list[Mistake] = [
    (HINT_VAE_SIGMA, lambda mu, lv, eps: mu + np.exp(lv) * eps),
    (HINT_VAE_LOGVAR_AS_SIGMA, lambda mu, lv, eps: mu + lv * eps),
    (HINT_VAE_LOGVAR_AS_SIGMA, lambda mu, lv, eps: mu + 0.5 * lv * eps),
    (HINT_VAE_EXP_SIGN, lambda mu, lv, eps: mu + np.exp(-0.5 * lv) * eps),
    (HINT_VAE_NO_SIGMA, lambda mu, lv, eps: mu + eps),
]

HINT_KL_SIGN = ("KL sign: keep the minus in front, −0.5·Σ(1 + logvar − mu² − exp(logvar)). "
                "A KL divergence is never negative.")
HINT_KL_PER_ROW = ("return one KL value per row, shape (n,): sum over the latent dimensions with axis=1, "
                   "not over the whole array (and do not average over rows here).")
HINT_KL_MEAN = "sum over the latent dimensions (np.sum(..., axis=1)); you took the mean."
HINT_KL_VARIANCE = "inside the KL, σ² = exp(logvar) (not exp(0.5·logvar), which is σ)."
HINT_KL_MU = "mu must be squared: the term is − mu², not − mu."
HINT_KL_HALF = "don't forget the factor 0.5 in front: −0.5·Σ(…)."
HINT_KL_ONE = ("don't forget the 1 inside the sum: 1 + logvar − mu² − exp(logvar) "
               "(it makes KL = 0 when mu = 0, logvar = 0).")
HINT_KL_KEEPDIMS = "return shape (n,), not (n, 1): use np.sum(..., axis=1) without keepdims."

KL_MISTAKES: list[Mistake] = [
    (HINT_KL_SIGN, lambda mu, lv: -reference_kl(mu, lv)),
    (HINT_KL_PER_ROW, lambda mu, lv: np.sum(reference_kl(mu, lv))),
    (HINT_KL_PER_ROW, lambda mu, lv: np.mean(reference_kl(mu, lv))),
    (HINT_KL_PER_ROW, lambda mu, lv: -0.5 * np.sum(1 + lv - mu**2 - np.exp(lv), axis=0)),
    (HINT_KL_MEAN, lambda mu, lv: -0.5 * np.mean(1 + lv - mu**2 - np.exp(lv), axis=1)),
    (HINT_KL_VARIANCE, lambda mu, lv: -0.5 * np.sum(1 + lv - mu**2 - np.exp(0.5 * lv), axis=1)),
    (HINT_KL_MU, lambda mu, lv: -0.5 * np.sum(1 + lv - mu - np.exp(lv), axis=1)),
    (HINT_KL_HALF, lambda mu, lv: 2 * reference_kl(mu, lv)),
    (HINT_KL_ONE, lambda mu, lv: -0.5 * np.sum(lv - mu**2 - np.exp(lv), axis=1)),
    (HINT_KL_KEEPDIMS, lambda mu, lv: reference_kl(mu, lv)[:, None]),
]


def _vae_case(label: str, hint: str | None = None, **arrays: Any) -> Case:
    values = tuple(np.asarray(a, dtype=np.float64) for a in arrays.values())
    return Case(label, values, _show_arrays(**dict(zip(arrays, values))), hint)


def reparam_cases() -> list[Case]:
    cases = [
        _vae_case("σ = (1, 2): mu = (0, 1), logvar = (0, log 4), eps = (1, −1)",
                  mu=[[0.0, 1.0]], logvar=[[0.0, math.log(4.0)]], eps=[[1.0, -1.0]]),
        _vae_case("eps = 0 gives back mu", hint="with eps = 0 the sample must equal mu exactly.",
                  mu=[[0.5, -1.0, 2.0]], logvar=[[1.0, -1.0, 0.0]], eps=[[0.0, 0.0, 0.0]]),
        _vae_case("logvar = 0 means σ = 1, so z = mu + eps", mu=[[1.0, 2.0]], logvar=[[0.0, 0.0]], eps=[[0.5, -0.5]]),
    ]
    for i in range(3):
        rng = _rng(30 + i)
        cases.append(_vae_case(f"random batch {i + 1} (4 users × 3 latent dims)", mu=rng.normal(size=(4, 3)),
                               logvar=rng.normal(size=(4, 3)), eps=rng.normal(size=(4, 3))))
    return cases


def kl_cases() -> list[Case]:
    cases = [
        _vae_case("q = N(0, I) exactly: KL = 0 for both rows",
                  hint="with mu = 0 and logvar = 0, q is N(0, I) and KL must be 0.",
                  mu=np.zeros((2, 3)), logvar=np.zeros((2, 3))),
        _vae_case("mu = (1, 0), logvar = 0: KL = 0.5", mu=[[1.0, 0.0]], logvar=[[0.0, 0.0]]),
        _vae_case("mu = 0, σ² = 4 (logvar = log 4)", mu=[[0.0]], logvar=[[math.log(4.0)]]),
        _vae_case("3 rows, 2 latent dims", mu=[[1.0, -1.0], [0.0, 2.0], [0.5, 0.5]],
                  logvar=[[0.0, 1.0], [-1.0, 0.0], [0.5, -0.5]]),
    ]
    for i in range(3):
        rng = _rng(40 + i)
        cases.append(_vae_case(f"random batch {i + 1} (5 users × 4 latent dims)", mu=rng.normal(size=(5, 4)),
                               logvar=rng.normal(size=(5, 4))))
    return cases


REPARAM = Exercise(
    title="ex04 · reparameterise",
    arg_names=("mu", "logvar", "eps"),
    reference=reference_reparameterise,
    mistakes=REPARAM_MISTAKES,
    start_hint="σ = np.exp(0.5 * logvar); return mu + sigma * eps.",
    unstable_hint=HINT_VAE_EPS,
    fallback_hint="z = mu + exp(0.5·logvar)·eps, entry by entry; print σ for this input and check it.",
)

KL = Exercise(
    title="ex04 · kl_divergence",
    arg_names=("mu", "logvar"),
    reference=reference_kl,
    mistakes=KL_MISTAKES,
    start_hint="return -0.5 * np.sum(1 + logvar - mu**2 - np.exp(logvar), axis=1) — one value per row.",
    fallback_hint="write the sum term by term: −0.5·Σ_j (1 + logvar_j − mu_j² − exp(logvar_j)), "
                  "summed over axis=1.",
)


def _combine(title: str, parts: Sequence[CheckResult]) -> CheckResult:
    passed = all(p.passed for p in parts)
    head = (f"{PASS_MARK} — {title}: every part correct." if passed
            else f"{FAIL_MARK} — {title}: {sum(p.passed for p in parts)} of {len(parts)} parts correct.")
    feedback = [head]
    for p in parts:
        feedback += ["  " + line for line in p.feedback]
    return CheckResult(title, passed, feedback, sum(p.n_cases for p in parts), sum(p.n_passed for p in parts))


def check_vae(reparam_fn: Callable[..., np.ndarray], kl_fn: Callable[..., np.ndarray], *,
              strict: bool = False, verbose: bool = True) -> CheckResult:
    """Check ``reparameterise(mu, logvar, eps)`` and ``kl_divergence(mu, logvar)`` (numpy, rows = users)."""
    parts = [evaluate(REPARAM, reparam_fn, reparam_cases()), evaluate(KL, kl_fn, kl_cases())]
    return _finish(_combine("ex04 · VAE", parts), strict, verbose)


# =============================================================================================
# ex05 · time split and leakage
# =============================================================================================
SPLIT_COLS = [COL_USER, COL_ITEM, COL_RATING, COL_TIMESTAMP]


def reference_time_split(interactions: pd.DataFrame, frac: float = 0.5) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The project's ``rec_helpers.splits.split_by_time``: per user, the earliest floor(n·frac) rows are the source."""
    return splits.split_by_time(interactions, frac)


def _global_cut(interactions: pd.DataFrame, frac: float = 0.5) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Known mistake: one cut over all users' rows by time."""
    df = interactions.sort_values(COL_TIMESTAMP, kind="stable")
    n = int(len(df) * frac)
    return df.iloc[:n], df.iloc[n:]


def _file_order(interactions: pd.DataFrame, frac: float = 0.5) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Known mistake: per user, but in file order instead of time order."""
    pos = interactions.groupby(COL_USER).cumcount()
    n = interactions.groupby(COL_USER)[COL_ITEM].transform("size")
    early = pos < np.floor(n * frac)
    return interactions[early], interactions[~early]


def _random_split(interactions: pd.DataFrame, frac: float = 0.5) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Known mistake: a global random shuffle (as in the leakage question)."""
    df = interactions.sample(frac=1.0, random_state=0)
    n = int(len(df) * frac)
    return df.iloc[:n], df.iloc[n:]


HINT_SPLIT_GLOBAL = ("split per user, not with one global cut: every user keeps their OWN earliest frac of "
                     "interactions in source (group by user, sort each user's rows by time, cut each group). "
                     "A global cut puts all of an early user's rows in source and a late user's rows in target.")
HINT_SPLIT_ORDER = ("a user's target rows must all be later than their source rows: sort by timestamp within "
                    "each user before cutting — the file is not in time order.")
HINT_SPLIT_SWAPPED = "source and target are swapped: source holds each user's EARLIEST interactions, target the later ones."
HINT_SPLIT_RANDOM = ("do not shuffle: the split must follow time, per user (earliest frac → source). "
                     "A random split lets the source contain behaviour from after the target.")
HINT_SPLIT_ROUNDING = ("a user with n interactions gets int(n · frac) source rows (rounded DOWN, e.g. n = 7, "
                       "frac = 0.5 → 3), the rest go to target.")
HINT_SPLIT_ROWS = "every row must land in exactly one of source and target: none lost, none duplicated."
HINT_SPLIT_RETURN = "return the two frames as a tuple: `return source, target`."

SPLIT_MISTAKES: list[Mistake] = [
    (HINT_SPLIT_GLOBAL, _global_cut),
    (HINT_SPLIT_ORDER, _file_order),
    (HINT_SPLIT_SWAPPED, lambda df, frac: reference_time_split(df, frac)[::-1]),
    (HINT_SPLIT_RANDOM, _random_split),
]


def _row_keys(df: pd.DataFrame) -> pd.Series:
    """(user, item, timestamp) of each row, for comparing frames regardless of order and index."""
    return pd.Series(list(zip(df[COL_USER].astype(str), df[COL_ITEM].astype(str),
                              df[COL_TIMESTAMP].astype("int64"))), dtype=object)


def _is_pair_of_frames(value: Any) -> bool:
    return isinstance(value, tuple) and len(value) == 2 and all(isinstance(v, pd.DataFrame) for v in value)


def _same_split(a: Any, b: Any) -> bool:
    if not (_is_pair_of_frames(a) and _is_pair_of_frames(b)):
        return False
    try:
        return all(sorted(_row_keys(x)) == sorted(_row_keys(y)) for x, y in zip(a, b))
    except (KeyError, ValueError, TypeError):
        return False


def _show_split(value: Any) -> str:
    if not _is_pair_of_frames(value):
        return repr(value)[:200]
    src, tgt = value
    text = f"source with {len(src)} rows, target with {len(tgt)} rows"
    try:
        users = sorted(set(src[COL_USER].astype(str)) | set(tgt[COL_USER].astype(str)))
        if len(users) <= 4:
            per_user = lambda part: ", ".join(f"{u} {int((part[COL_USER].astype(str) == u).sum())}" for u in users)
            text += f" (source: {per_user(src)}; target: {per_user(tgt)})"
    except (KeyError, TypeError, ValueError):
        pass
    return text


def _compare_split(got: Any, expected: Any, args: tuple) -> Problem | None:
    """Structural checks, from the most basic to the most specific."""
    df, frac = args
    if got is None:
        return "your function returned None.", HINT_SPLIT_RETURN
    if not _is_pair_of_frames(got):
        return f"expected a tuple (source, target) of two DataFrames, got {type(got).__name__}.", HINT_SPLIT_RETURN
    src, tgt = got
    for name, part in (("source", src), ("target", tgt)):
        missing = [c for c in SPLIT_COLS if c not in part.columns]
        if missing:
            return f"your {name} frame lacks the column(s) {missing}.", "keep every column of the input rows."
    counts_in = _row_keys(df).value_counts()
    counts_out = pd.concat([_row_keys(src), _row_keys(tgt)]).value_counts()
    diff = counts_out.sub(counts_in, fill_value=0)
    if (diff != 0).any():
        lost, extra = int(-diff[diff < 0].sum()), int(diff[diff > 0].sum())
        return f"{lost} input row(s) are missing and {extra} row(s) are extra or duplicated.", HINT_SPLIT_ROWS
    last_src = src.groupby(src[COL_USER].astype(str))[COL_TIMESTAMP].max()
    first_tgt = tgt.groupby(tgt[COL_USER].astype(str))[COL_TIMESTAMP].min()
    both = pd.concat([last_src.rename("last_source"), first_tgt.rename("first_target")], axis=1).dropna()
    late = both[both["last_source"] > both["first_target"]]
    if len(late):
        user, row = late.index[0], late.iloc[0]
        what = (f"user {user!r}: a source row at timestamp {int(row['last_source'])} is later than a target row "
                f"at timestamp {int(row['first_target'])} ({len(late)} user(s) like this).")
        first_src = src.groupby(src[COL_USER].astype(str))[COL_TIMESTAMP].min().reindex(late.index)
        last_tgt = tgt.groupby(tgt[COL_USER].astype(str))[COL_TIMESTAMP].max().reindex(late.index)
        swapped = bool((first_src >= last_tgt).all())
        return what, HINT_SPLIT_SWAPPED if swapped else HINT_SPLIT_ORDER
    n_rows = df.groupby(df[COL_USER].astype(str)).size()
    want = np.floor(n_rows * frac).astype(int)
    have = src.groupby(src[COL_USER].astype(str)).size().reindex(n_rows.index, fill_value=0)
    wrong = want.index[want != have]
    if len(wrong):
        u = wrong[0]
        what = (f"user {u!r} has {n_rows[u]} interactions, so the source should hold int({n_rows[u]} × {frac:g}) = "
                f"{want[u]} of them; yours holds {have[u]} ({len(wrong)} user(s) with a wrong count).")
        near = (have - want).abs().max() <= 1
        return what, HINT_SPLIT_ROUNDING if near else HINT_SPLIT_GLOBAL
    e_src = set(_row_keys(expected[0]))
    if set(_row_keys(src)) != e_src:  # cannot happen with distinct timestamps per user; kept as a safety net
        return "some users' source rows are not their earliest ones.", HINT_SPLIT_ORDER
    return None


def example_interactions() -> pd.DataFrame:
    """A 10-row toy log, NOT in time order: ann is active early, bob mostly later."""
    rows = [("bob", "m7", 4.0, 80), ("ann", "m1", 5.0, 10), ("bob", "m2", 3.0, 25),
            ("ann", "m3", 4.0, 40), ("bob", "m4", 5.0, 60), ("ann", "m2", 2.0, 20),
            ("bob", "m9", 4.0, 90), ("bob", "m5", 1.0, 50), ("ann", "m6", 4.0, 30),
            ("bob", "m8", 5.0, 70)]
    return pd.DataFrame(rows, columns=SPLIT_COLS)


def _random_log(rng: np.random.Generator, n_users: int = 30) -> pd.DataFrame:
    parts = []
    for u in range(n_users):
        n = int(rng.integers(1, 13))
        start = int(rng.integers(0, 10_000))
        parts.append(pd.DataFrame({
            COL_USER: f"u{u:02d}",
            COL_ITEM: [f"i{j}" for j in rng.choice(200, size=n, replace=False)],
            COL_RATING: rng.integers(1, 6, size=n).astype(float),
            COL_TIMESTAMP: start + np.sort(rng.choice(5_000, size=n, replace=False)).astype("int64"),
        }))
    df = pd.concat(parts, ignore_index=True)
    return df.sample(frac=1.0, random_state=int(rng.integers(1 << 30))).reset_index(drop=True)


def _odd_log() -> pd.DataFrame:
    rows = [("cat", f"m{j}", 4.0, 100 + 10 * j) for j in range(7)] + [("dan", "m0", 5.0, 5)]
    return pd.DataFrame(rows, columns=SPLIT_COLS).iloc[[3, 7, 0, 6, 1, 5, 2, 4]].reset_index(drop=True)


def time_split_cases() -> list[Case]:
    ex = example_interactions()
    cases = [
        Case("example_interactions(), frac = 0.5", (ex, 0.5),
             "example_interactions() (10 rows: ann 4, bob 6, not in time order), frac=0.5"),
        Case("odd counts: cat has 7 rows, dan has 1, frac = 0.5", (_odd_log(), 0.5),
             "cat with 7 rows (t = 100..160), dan with 1 row (t = 5), frac=0.5",
             hint=HINT_SPLIT_ROUNDING),
        Case("example_interactions(), frac = 0.25", (ex, 0.25),
             "example_interactions() (ann 4 rows, bob 6 rows), frac=0.25"),
    ]
    for i, frac in enumerate((0.5, 0.3)):
        log = _random_log(_rng(50 + i))
        cases.append(Case(f"random log {i + 1} (30 users, {len(log)} rows), frac = {frac}", (log, frac),
                          f"random log of {len(log)} rows, 30 users with 1–12 rows each, shuffled, frac={frac}"))
    return cases


TIME_SPLIT = Exercise(
    title="ex05 · time_split",
    arg_names=("interactions", "frac"),
    reference=reference_time_split,
    mistakes=SPLIT_MISTAKES,
    start_hint="sort by (user, timestamp); number each user's rows with groupby(user).cumcount(); a row is "
               "source when its number < int(n_user · frac), with n_user from groupby(user).transform('size').",
    fallback_hint="for one user, list their rows sorted by timestamp: the first int(n · frac) are source, the rest target.",
    compare=_compare_split,
    same=_same_split,
    show=_show_split,
)


def check_time_split(fn: Callable[[pd.DataFrame, float], tuple[pd.DataFrame, pd.DataFrame]], *,
                     strict: bool = False, verbose: bool = True) -> CheckResult:
    """Check ``time_split(interactions, frac)`` against ``rec_helpers.splits.split_by_time``."""
    return _finish(evaluate(TIME_SPLIT, fn, time_split_cases()), strict, verbose)


LEAKAGE_QUESTION = (
    "A classmate builds source and target differently: they shuffle ALL interactions at random (one global "
    "shuffle, ignoring time) and put the first half into source, the rest into target. "
    "Why does this leak future behaviour into what the model learns from?"
)
LEAKAGE_OPTIONS: dict[str, str] = {
    "A": "The shuffle changes some of the ratings, so the model is trained on wrong labels.",
    "B": "A user's source can then hold rows from after their target rows, so the model learns from the future "
         "it must predict and the offline score is too optimistic.",
    "C": "Some users end up with no target rows, and dropping them from the evaluation is the leak.",
    "D": "Nothing leaks as long as the random seed is fixed, because the split is then reproducible.",
}
LEAKAGE_ANSWER = "B"
LEAKAGE_WHY_WRONG: dict[str, str] = {
    "A": "a shuffle only moves rows between source and target; every rating stays what it was. "
         "Think about WHEN each source row happened compared with the target rows.",
    "C": "losing users shrinks the evaluation, but it does not show the model anything from the future. "
         "Ask: can a source row be later than a target row of the same user?",
    "D": "a fixed seed makes the split reproducible, not time-consistent: the same future rows leak every time.",
}
LEAKAGE_EXPLANATION = (
    "Right. With a random split a user's source can contain interactions from after their target ones, so "
    "the model is trained on the future it is asked to predict. In deployment it only ever has the past, so the "
    "offline score is too optimistic. Splitting each user by time (source = earlier, target = later) rules this out."
)


def _letters() -> str:
    letters = list(LEAKAGE_OPTIONS)
    return ", ".join(letters[:-1]) + " or " + letters[-1]


def check_leakage_answer(answer: str | None, *, strict: bool = False, verbose: bool = True) -> CheckResult:
    """Check the multiple-choice answer (one letter A–D) to ``LEAKAGE_QUESTION``."""
    title = "ex05 · leakage question"
    letter = str(answer or "").strip().upper().rstrip(").:").lstrip("(")
    if not letter:
        feedback = [f"{FAIL_MARK} — {title}: not answered yet.",
                    f"Not answered yet: set `answer` to one letter, {_letters()}.",
                    "Hint: compare the timestamps of a user's source rows with those of their target rows."]
    elif letter not in LEAKAGE_OPTIONS:
        feedback = [f"{FAIL_MARK} — {title}: {answer!r} is not one of the options.",
                    f"Hint: answer with one letter: {_letters()}."]
    elif letter == LEAKAGE_ANSWER:
        feedback = [f"{PASS_MARK} — {title}: {letter} is correct.", LEAKAGE_EXPLANATION]
    else:
        feedback = [f"{FAIL_MARK} — {title}: {letter} is not the answer.", f"Hint: {LEAKAGE_WHY_WRONG[letter]}"]
    passed = letter == LEAKAGE_ANSWER
    return _finish(CheckResult(title, passed, feedback, 1, int(passed)), strict, verbose)


__all__ = [
    "CheckResult", "ExerciseFailed", "NOT_IMPLEMENTED", "PASS_MARK", "FAIL_MARK",
    "check_ndcg", "check_fusion", "check_adapter", "check_vae", "check_time_split", "check_leakage_answer",
    "example_interactions", "LEAKAGE_QUESTION", "LEAKAGE_OPTIONS",
    "reference_ndcg", "reference_fuse", "reference_adapter", "reference_reparameterise", "reference_kl",
    "reference_time_split",
]

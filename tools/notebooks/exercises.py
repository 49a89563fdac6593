"""Generate the student exercise notebooks ``notebooks/exercises/ex0N_*.ipynb`` (committed without outputs).

Usage: ``python tools/notebooks/exercises.py [OUT_DIR]`` (default ``notebooks/exercises``).

Every notebook: a title cell with learning goals, the theory with the formula, a ``# TODO`` cell
(tag ``todo``) whose function body is ``raise NotImplementedError("TODO: ...")``, a check cell
(tag ``check``) calling ``rec_helpers.exercises.check_*``, an explore cell that runs only once the
check passed, and a closing "what you should now understand" cell. The imports cell is tagged
``imports``. Solutions live in ``notebooks/exercises/solutions/`` as plain modules; the tests
execute each notebook with its solution put in place of the TODO cell.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import code, md, write  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from rec_helpers.exercises import LEAKAGE_OPTIONS, LEAKAGE_QUESTION  # noqa: E402

HOW_IT_WORKS = '''
**How this works.** Read the theory, then fill in the cell marked `# TODO`: replace the line
`raise NotImplementedError(...)` with your code. Run the check cell below it. It prints **✓ PASSED**,
or **✗ NOT YET** with the input that failed, the expected and your value, and a hint about the likely
mistake. Change your code, re-run both cells, repeat. The check never stops the notebook
(`strict=True` makes it raise instead); the solution is in `solutions/` — try first!
'''

PASS_FIRST = 'print("Pass the check above first, then run this cell again.")'


def tagged(cell, *tags: str):
    cell.metadata["tags"] = list(tags)
    return cell


def title(heading: str, goals: str) -> object:
    return md(f"# {heading}\n\n**Learning goals.** After this exercise you can\n\n{goals.strip()}\n\n{HOW_IT_WORKS.strip()}")


def imports(src: str) -> list:
    return [md("## 1. Imports"), tagged(code(src), "imports")]


def todo(intro: str, src: str) -> list:
    return [md(f"## 3. Your turn\n\n{intro.strip()}"), tagged(code(src), "todo")]


def check(src: str) -> list:
    return [md("## 4. Check your answer\n\nRun this cell after every change to your function."),
            tagged(code(src), "check")]


def closing(points: str, number: int = 6) -> object:
    return md(f"## {number}. What you should now understand\n\n{points.strip()}")


# --- ex01 · NDCG --------------------------------------------------------------------------------
EX01 = [
    title("Exercise 1 · NDCG@k: how good is a ranked list?", '''
1. compute DCG@k, the ideal DCG and NDCG@k of one ranked list by hand and in code,
2. explain the log2(rank + 1) discount and why the ideal list has min(k, |relevant|) items,
3. connect your function to `rec_helpers.metrics.ndcg_at_k`, which scores every method in the suite's reports.
'''),
    *imports('''
import math

import pandas as pd
'''),
    md(r'''
## 2. Theory

A method ranks the whole target catalogue for a user; `relevant` holds the items the user really liked
(their held-out positives). With **binary gain** (an item is relevant or not) and ranks starting at 1:

$$\mathrm{DCG@}k = \sum_{r=1}^{k} \frac{\mathbb{1}[\text{item at rank } r \in \text{relevant}]}{\log_2(r+1)}
\qquad
\mathrm{IDCG@}k = \sum_{r=1}^{\min(k,\,|\text{relevant}|)} \frac{1}{\log_2(r+1)}
\qquad
\mathrm{NDCG@}k = \frac{\mathrm{DCG@}k}{\mathrm{IDCG@}k}$$

* The **discount** $1/\log_2(r+1)$ is 1 at rank 1, 0.63 at rank 2, 0.5 at rank 3: a hit near the top counts more.
* The **ideal DCG** is the DCG of the best possible list, all relevant items on top. It has only
  $\min(k, |\text{relevant}|)$ hits: with 2 relevant items a perfect list fills ranks 1–2, with 8 relevant
  items and $k = 3$ it fills ranks 1–3. Dividing by it puts NDCG in $[0, 1]$, with 1 for a perfect list.
* Convention: when `relevant` is empty, NDCG is **0.0**.

**Worked example.** `ranked_items = ["a", "b", "c", "d"]`, `relevant = {"a", "c"}`, `k = 3`:
DCG = 1/log2(2) + 1/log2(4) = 1 + 0.5 = 1.5; IDCG = 1/log2(2) + 1/log2(3) = 1.631; NDCG = 1.5 / 1.631 = **0.920**.
'''),
    code('''
# The discount of the first five ranks
for rank in range(1, 6):
    print(f"rank {rank}: 1 / log2({rank} + 1) = {1 / math.log2(rank + 1):.3f}")
'''),
    *todo('''
Write `ndcg_at_k(ranked_items, relevant, k)`: `ranked_items` is a list (best first), `relevant` a set,
`k` the cutoff. Return a float. The list may be shorter than `k`.
''', '''
# TODO: implement NDCG@k (binary gain, discount log2(rank + 1), ranks start at 1)
def ndcg_at_k(ranked_items: list, relevant: set, k: int) -> float:
    """NDCG@k of one ranked list; 0.0 when `relevant` is empty."""
    # 1. DCG: add 1 / log2(rank + 1) for every rank <= k whose item is in `relevant`
    # 2. IDCG: the same sum for a perfect list of min(k, len(relevant)) relevant items
    # 3. return DCG / IDCG
    raise NotImplementedError("TODO: compute DCG@k and the ideal DCG, and return their ratio")
'''),
    *check('''
from rec_helpers.exercises import check_ndcg

result = check_ndcg(ndcg_at_k)
'''),
    md('''
## 5. Explore: your function next to the project's metric

The suite's reports use `rec_helpers.metrics.ndcg_at_k`, which works on whole frames of rankings
(`user, item, rank`) and held-out positives (`user, item`). On one user both must agree. Then watch
NDCG fall as the second hit moves down the list.
'''),
    code(f'''
from rec_helpers.metrics import ndcg_at_k as project_ndcg_at_k

if result.passed:
    truth = pd.DataFrame({{"user": ["u1", "u1"], "item": ["a", "c"]}})
    ranking = pd.DataFrame({{"user": "u1", "item": ["a", "b", "c", "d"], "rank": [1, 2, 3, 4]}})
    print("yours:  ", round(ndcg_at_k(["a", "b", "c", "d"], {{"a", "c"}}, 3), 4))
    print("project:", round(project_ndcg_at_k(truth, ranking, k=3), 4))
    for position in range(2, 7):
        ranked = ["a"] + ["x"] * (position - 2) + ["c"] + ["y"] * (6 - position)
        print(f"second hit at rank {{position}}: NDCG@5 = {{ndcg_at_k(ranked, {{'a', 'c'}}, 5):.3f}}")
else:
    {PASS_FIRST}
'''),
    closing('''
- NDCG@k rewards hits near the top: the discount 1/log2(rank + 1) is 1 at rank 1 and shrinks slowly.
- The ideal DCG is the best a list could do, with min(k, |relevant|) hits, so NDCG lies in [0, 1].
- The three classic slips: forgetting to normalise, an off-by-one in the discount, and an ideal list that is
  longer than k or than the relevant set.
- The suite ranks the **full** target catalogue (no sampled negatives) and reports NDCG@5/10/20 with
  bootstrap confidence intervals (SPEC §3).
'''),
]

# --- ex02 · fusion ------------------------------------------------------------------------------
EX02 = [
    title("Exercise 2 · Fusion: mixing source and target interest", '''
1. write fusion $u''_t = \\alpha\\,u_s + (1-\\alpha)\\,u_t$ for one user and for a batch of users,
2. explain what α = 0, α = 1 and values in between mean for a user's recommendations,
3. say what the suite uses as $u_t$ for a cold-start user, who has no target history.
'''),
    *imports('''
import numpy as np
'''),
    md(r'''
## 2. Theory

Each user has an interest vector per domain, built from BERT vectors of the items they liked: $u_s$ in the
source domain (e.g. action films), $u_t$ in the target domain (e.g. comedies). **Fusion** mixes them:

$$u''_t = \alpha\, u_s + (1 - \alpha)\, u_t, \qquad \alpha \in [0, 1]$$

* $\alpha = 1$: trust only the source interest; $\alpha = 0$: only the target interest.
* The two weights add up to 1, so $u''_t$ lies on the segment between $u_s$ and $u_t$.
* A **cold-start** user has no $u_t$; the suite fills it with the warm users' mean target interest
  (the prior), and tunes α on the cold_valid users — never on cold_test.

**Shapes.** `u_s` and `u_t` are numpy arrays: one vector `(d,)`, or a batch `(n, d)` with **one user per row**.
`alpha` is a float. Numpy broadcasting makes one expression work for both shapes.
'''),
    *todo('''
Write `fuse(u_s, u_t, alpha)`. Do not change `u_s` or `u_t` in place. *Bonus (optional):* raise a
`ValueError` when `alpha` is outside [0, 1].
''', '''
# TODO: implement fusion u'' = alpha * u_s + (1 - alpha) * u_t (works for (d,) and (n, d) arrays)
def fuse(u_s: np.ndarray, u_t: np.ndarray, alpha: float) -> np.ndarray:
    """alpha * u_s + (1 - alpha) * u_t, row by row."""
    raise NotImplementedError("TODO: return the alpha-weighted mix of u_s and u_t")
'''),
    *check('''
from rec_helpers.exercises import check_fusion

result = check_fusion(fuse)
'''),
    md('''
## 5. Explore: how α moves the fused interest

Two toy unit vectors, one "action" and one "comedy" interest. The cosine tells how close the fused vector is
to each; a ranking by cosine follows the same drift.
'''),
    code(f'''
def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


if result.passed:
    u_s = np.array([1.0, 0.2, 0.0])  # source interest: action
    u_t = np.array([0.0, 0.3, 1.0])  # target interest: comedy
    for alpha in (0.0, 0.25, 0.5, 0.75, 1.0):
        fused = fuse(u_s, u_t, alpha)
        print(f"alpha = {{alpha:.2f}}: cos(fused, u_s) = {{cosine(fused, u_s):.2f}}, "
              f"cos(fused, u_t) = {{cosine(fused, u_t):.2f}}")
else:
    {PASS_FIRST}
'''),
    closing('''
- Fusion is a weighted average: α is how much we trust the source domain's interest for the target domain.
- Written with arrays, one line serves one user or a whole batch (one user per row).
- A cold-start user's missing $u_t$ must be filled (prior or a mapped vector), and α is chosen on cold_valid,
  never on cold_test. The suite can also learn α per user from history lengths (`rec_helpers.transfer.fusion`).
'''),
]

# --- ex03 · adapter -----------------------------------------------------------------------------
EX03 = [
    title("Exercise 3 · Adapter: a gated residual from source to target", '''
1. write the residual bottleneck $A(x) = x + \\mathrm{relu}(x W_{down}) W_{up}$ with clear matrix shapes,
2. write the gate $u'_t = u_t + \\theta \\odot (A(u_s) - u_t)$ and say what θ = 0 and θ = 1 do,
3. explain why the residual and a zero-initialised $W_{up}$ make the adapter start as the identity.
'''),
    *imports('''
import numpy as np
'''),
    md(r'''
## 2. Theory

The adapter maps the source interest into the target-interest space and lets a gate θ decide how far to move:

$$A(x) = x + \mathrm{relu}(x\,W_{down})\,W_{up}, \qquad u'_t = u_t + \theta \odot \big(A(u_s) - u_t\big)$$

**Shapes (rows are users).**

| array | shape | meaning |
|---|---|---|
| `u_s`, `u_t` | `(n, d)` | source and target interest, one user per row |
| `W_down` | `(d, b)` | down-projection into a small bottleneck, b < d |
| `W_up` | `(b, d)` | up-projection back to d dimensions |
| `theta` | float, `(d,)` or `(n, 1)` | one gate, one per dimension, or one per user; values in [0, 1] |

Because rows are users we multiply on the right: `x @ W_down` then `@ W_up`. (SPEC §4 writes $W_{down}\cdot x$
for a column vector x — the same map, transposed.) `⊙` is element-wise: `theta * (...)`.

* θ = 0 gives $u_t$ (ignore the source); θ = 1 gives $A(u_s)$ (replace by the mapped source interest).
* The residual `x + …` means A only learns a *correction*: with $W_{up} = 0$, A is the identity.
  The suite's adapter (`rec_helpers.transfer.adapter`) starts $W_{up}$ at zero and uses GELU instead of relu.
'''),
    *todo('''
Write `adapter_forward(u_s, u_t, W_down, W_up, theta)` with numpy (`np.maximum(z, 0)` is relu).
''', '''
# TODO: implement the adapter u_t + theta * (A(u_s) - u_t), with A(x) = x + relu(x @ W_down) @ W_up
def adapter_forward(u_s: np.ndarray, u_t: np.ndarray, W_down: np.ndarray, W_up: np.ndarray,
                    theta) -> np.ndarray:
    """Gated residual adapter; u_s, u_t (n, d), W_down (d, b), W_up (b, d), theta scalar/(d,)/(n, 1)."""
    raise NotImplementedError("TODO: compute A(u_s), then gate the step from u_t towards it with theta")
'''),
    *check('''
from rec_helpers.exercises import check_adapter

result = check_adapter(adapter_forward)
'''),
    md('''
## 5. Explore: the gate walks from u_t to A(u_s)

As θ grows from 0 to 1, the output moves on a straight line from $u_t$ to $A(u_s)$.
'''),
    code(f'''
if result.passed:
    rng = np.random.default_rng(0)
    n, d, b = 3, 8, 2
    u_s, u_t = rng.normal(size=(n, d)), rng.normal(size=(n, d))
    W_down, W_up = rng.normal(size=(d, b)), 0.1 * rng.normal(size=(b, d))
    a = adapter_forward(u_s, u_t, W_down, W_up, 1.0)  # theta = 1 gives A(u_s)
    for theta in (0.0, 0.25, 0.5, 0.75, 1.0):
        out = adapter_forward(u_s, u_t, W_down, W_up, theta)
        print(f"theta = {{theta:.2f}}: distance to u_t = {{np.linalg.norm(out - u_t):.2f}}, "
              f"to A(u_s) = {{np.linalg.norm(out - a):.2f}}")
    print("with W_up = 0, A is the identity:", np.allclose(adapter_forward(u_s, u_t, W_down, 0 * W_up, 1.0), u_s))
else:
    {PASS_FIRST}
'''),
    closing('''
- $A(x) = x + \\mathrm{relu}(x W_{down}) W_{up}$ is a residual bottleneck: it learns a small correction to x.
- θ gates the **difference** $A(u_s) - u_t$: θ = 0 keeps $u_t$, θ = 1 takes $A(u_s)$, and θ can be one number,
  one per dimension, or one per user.
- With rows as users, matrices multiply on the right (`x @ W_down`); writing the shapes down avoids most bugs.
- In the suite the adapter and θ are trained on warm users against their target behaviour, never on cold users.
'''),
]

# --- ex04 · VAE ---------------------------------------------------------------------------------
EX04 = [
    title("Exercise 4 · VAE: the reparameterisation trick and the KL term", '''
1. sample $z = \\mu + \\sigma \\odot \\varepsilon$ with $\\sigma = \\exp(\\tfrac12 \\log\\sigma^2)$ (the reparameterisation trick),
2. compute $\\mathrm{KL}(\\mathcal N(\\mu, \\sigma^2) \\,\\|\\, \\mathcal N(0, I))$ per user,
3. explain what the KL term does in the VAE's loss and why β caps it.
'''),
    *imports('''
import numpy as np
'''),
    md(r'''
## 2. Theory

The VAE encodes a user's source positives into a Gaussian $q(z \mid x_s) = \mathcal N(\mu, \mathrm{diag}\,\sigma^2)$ and
decodes $z$ into a softmax over the target items. The encoder outputs $\mu$ and **logvar** $= \log \sigma^2$
(a log keeps $\sigma^2$ positive).

**Reparameterisation.** Instead of sampling $z$ directly, draw $\varepsilon \sim \mathcal N(0, I)$ and compute

$$z = \mu + \sigma \odot \varepsilon, \qquad \sigma = \exp\!\big(\tfrac12\,\mathrm{logvar}\big)$$

The randomness sits in ε, so gradients flow through μ and σ.

**KL term** (per user, summed over the latent dimensions j):

$$\mathrm{KL}\big(\mathcal N(\mu, \sigma^2)\,\|\,\mathcal N(0, I)\big) = -\tfrac12 \sum_j \big(1 + \mathrm{logvar}_j - \mu_j^2 - \exp(\mathrm{logvar}_j)\big)$$

It is ≥ 0 and equals 0 only when μ = 0 and logvar = 0. The loss is $-\log p(x_t \mid z) + \beta\,\mathrm{KL}$, with β
annealed up to a cap (0.2 in Mult-VAE) so the KL does not wipe out the user's signal.

**Here we use numpy**, rows are users: `mu`, `logvar`, `eps` have shape `(n, L)`; `kl_divergence` returns shape
`(n,)`. The suite's torch version is `rec_helpers.transfer.vae` (its `kl_normal` also averages over users).
'''),
    *todo('''
Write both functions with numpy. Use the `eps` you are given — do not draw new noise.
''', '''
# TODO: implement the reparameterisation and the KL term (numpy, one user per row)
def reparameterise(mu: np.ndarray, logvar: np.ndarray, eps: np.ndarray) -> np.ndarray:
    """z = mu + sigma * eps, sigma = exp(0.5 * logvar); all arrays (n, L)."""
    raise NotImplementedError("TODO: compute sigma from logvar, then z = mu + sigma * eps")


def kl_divergence(mu: np.ndarray, logvar: np.ndarray) -> np.ndarray:
    """KL(N(mu, sigma^2) || N(0, I)) per row: -0.5 * sum_j (1 + logvar - mu^2 - exp(logvar)), shape (n,)."""
    raise NotImplementedError("TODO: sum the KL formula over the latent dimensions (axis=1)")
'''),
    *check('''
from rec_helpers.exercises import check_vae

result = check_vae(reparameterise, kl_divergence)
'''),
    md('''
## 5. Explore: samples and the KL

Many samples of $z$ for one user have mean ≈ μ and standard deviation ≈ σ. The KL grows as μ moves away from 0
and as σ moves away from 1 in either direction.
'''),
    code(f'''
if result.passed:
    rng = np.random.default_rng(0)
    mu, logvar = np.array([[1.0, -2.0]]), np.array([[0.0, np.log(0.25)]])
    n = 100_000
    z = reparameterise(np.repeat(mu, n, axis=0), np.repeat(logvar, n, axis=0), rng.normal(size=(n, 2)))
    print("sample mean:", z.mean(axis=0).round(3), " mu:", mu[0])
    print("sample std: ", z.std(axis=0).round(3), " sigma:", np.exp(0.5 * logvar[0]))
    for m, s in [(0.0, 1.0), (1.0, 1.0), (0.0, 0.5), (0.0, 2.0)]:
        kl = kl_divergence(np.array([[m]]), np.array([[2 * np.log(s)]]))[0]
        print(f"mu = {{m}}, sigma = {{s}}: KL = {{kl + 0.0:.3f}}")  # + 0.0 prints -0.0 as 0.0
else:
    {PASS_FIRST}
'''),
    closing('''
- logvar is $\\log \\sigma^2$, so $\\sigma = \\exp(\\tfrac12\\,\\mathrm{logvar})$ and $\\sigma^2 = \\exp(\\mathrm{logvar})$.
- The reparameterisation $z = \\mu + \\sigma \\odot \\varepsilon$ moves the randomness into ε, so the encoder can be trained
  by gradient descent.
- The KL term, one value per user, pulls $q(z \\mid x_s)$ towards $\\mathcal N(0, I)$; it is never negative, and β
  (annealed, capped) sets how hard it pulls.
'''),
]

# --- ex05 · time split and leakage --------------------------------------------------------------
OPTIONS_MD = "\n".join(f"- **{letter}.** {text}" for letter, text in LEAKAGE_OPTIONS.items())

EX05 = [
    title("Exercise 5 · A time split, and why a random split leaks the future", '''
1. split each user's interactions by time: their earliest share is the source, the rest the target,
2. tell a per-user split from one global cut, and floor(n · frac) from rounding,
3. explain why a global random shuffle leaks future behaviour into training.
'''),
    *imports('''
import numpy as np
import pandas as pd

from rec_helpers.exercises import example_interactions
'''),
    md(r'''
## 2. Theory

In the **time split** setting (SPEC §3) the source is a user's earlier behaviour and the target their later
behaviour: we ask whether past interest predicts future interest. For each user $u$ with $n_u$ interactions,
sorted by timestamp:

$$\text{source}_u = \text{the first } \lfloor n_u \cdot \mathit{frac} \rfloor \text{ interactions}, \qquad \text{target}_u = \text{the rest}$$

* The cut is made **per user**: every user keeps their own earliest share. One global cut over all rows would put
  all of an early user's rows in source and all of a late user's rows in target.
* Round **down**: a user with 7 interactions and frac = 0.5 has 3 source rows; a user with 1 interaction has none.
* The input is **not** in time order, so sort by timestamp first.

The input frame has columns `user, item, rating, timestamp`. Here is the toy log the check starts with:
'''),
    code('''
example_interactions()
'''),
    *todo('''
Write `time_split(interactions, frac=0.5)` returning `(source, target)`, two DataFrames with the same columns.
Useful pandas: `sort_values([...])`, `groupby("user").cumcount()` (0, 1, 2, … within each user) and
`groupby("user")["item"].transform("size")` (the user's row count on every row). Do not modify the input.
''', '''
# TODO: implement a per-user time split
def time_split(interactions: pd.DataFrame, frac: float = 0.5) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per user, the earliest floor(n_user * frac) interactions are the source, the rest the target."""
    raise NotImplementedError("TODO: sort by time, number each user's rows, and cut each user at floor(n * frac)")
'''),
    *check('''
from rec_helpers.exercises import check_time_split

result = check_time_split(time_split)
'''),
    md('''
## 5. Why not a random shuffle?

The cell below splits the toy log with one global random shuffle instead, and looks for users whose source
holds a row that is **later** than one of their target rows.
'''),
    code('''
log = example_interactions()
shuffled = log.sample(frac=1.0, random_state=0)
source, target = shuffled.iloc[: len(log) // 2], shuffled.iloc[len(log) // 2 :]
latest_source = source.groupby("user")["timestamp"].max()
earliest_target = target.groupby("user")["timestamp"].min()
print(pd.DataFrame({"latest source row": latest_source, "earliest target row": earliest_target}))
print("users with a source row after a target row:",
      list(latest_source.index[latest_source > earliest_target.reindex(latest_source.index)]))
'''),
    md(f'''
### Question

{LEAKAGE_QUESTION}

{OPTIONS_MD}

Put one letter in `answer` and run the check.
'''),
    tagged(code('''
# TODO: your answer, one letter
answer = ""
'''), "todo-answer"),
    tagged(code('''
from rec_helpers.exercises import check_leakage_answer

answer_result = check_leakage_answer(answer)
'''), "check"),
    closing('''
- A time split is made per user: sort each user's rows by time and keep the earliest ⌊n · frac⌋ as the source.
- A global cut mixes users up, and rounding up instead of down shifts one row per user.
- A random split lets the source contain behaviour from after the target, so a model learns the future it is
  asked to predict and the offline score is too optimistic. The suite's `rec_helpers.splits.split_by_time` and
  the warm users' time-ordered hold-out both follow time for this reason.
'''),
]

NOTEBOOKS = {
    "ex01_ndcg.ipynb": EX01,
    "ex02_fusion.ipynb": EX02,
    "ex03_adapter.ipynb": EX03,
    "ex04_vae.ipynb": EX04,
    "ex05_time_split.ipynb": EX05,
}


def main(out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, cells in NOTEBOOKS.items():
        write(str(out_dir / name), cells)
        print("wrote", out_dir / name)


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "notebooks" / "exercises")

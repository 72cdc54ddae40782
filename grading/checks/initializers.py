"""Checks of the `initializers` assignment (contract: grading/checks/__init__.py).

The kernel only draws weights with the student's code and reports them: shapes, dtypes, a
sample of the values (at most SAMPLE values, strided over the whole array) and the largest
|w| of the whole array. Every statistic is computed here, from those values, against the target
that this module derives from the task text (variance scale / fan).

Statistical tolerances (fixed seeds in the kernel, so a submission always gets the same grade):
for n independent draws of a distribution with standard deviation sigma and kurtosis
kappa = E[(w - mu)^4] / sigma^4,

    SE(mean) = sigma / sqrt(n)
    Var(s^2) ~ sigma^4 (kappa - 1) / n           (variance of the sample variance)
    SE(s)    ~ sigma sqrt((kappa - 1) / (4 n))   (delta method: d s = d s^2 / (2 sigma))

with kappa = 3 (normal), 9/5 (uniform) and KURTOSIS_TRUNCATED (normal cut at +-2 of its
stddev, computed below). A check accepts within N_SE = 5 standard errors: a correct answer fails
one comparison with probability 2 Phi(-5) ~ 6e-7, about 1e-5 for a whole submission (~40
comparisons). With n = 5000 the tolerance on the standard deviation is 5 % (normal), 3.2 %
(uniform) and 3.8 % (truncated); the typical mistakes are off by 12 % (uncorrected truncation)
or more (sqrt(1/3), sqrt(1/2), variance for standard deviation), always far outside.

Shape of the distribution: the normal must have tails (its largest |w| over >= 4000 draws
exceeds 2.5 sigma except with probability < e^-50), the truncated normal and the uniform must
stay within their bounds (2 sigma / TRUNCATION_CORRECTION and sqrt(3) sigma, relative slack for
float32 rounding) and reach 0.95 of them (the uniform misses with probability 0.95^n < e^-200,
the truncated normal, whose last 5 % before the cut hold 1.25 % of its mass, with e^-60).
"""
from __future__ import annotations

import math

import numpy as np

from . import Checks, Code, Observation, as_numbers, call, chart, series

checks = Checks()

TRUNCATION_CORRECTION = 0.87962566103423978  # the notebook's constant
SAMPLE = 5000
N_SE = 5.0


def _truncated_kurtosis(a: float = 2.0) -> float:
    """Kurtosis of a standard normal truncated to [-a, a] (closed form moments)."""
    phi = math.exp(-a * a / 2) / math.sqrt(2 * math.pi)
    z = math.erf(a / math.sqrt(2))
    m2 = 1 - 2 * a * phi / z
    m4 = 3 - 2 * phi * (a ** 3 + 3 * a) / z
    return m4 / m2 ** 2


assert abs(math.sqrt(1 - 4 * math.exp(-2) / math.sqrt(2 * math.pi) / math.erf(math.sqrt(2)))
           - TRUNCATION_CORRECTION) < 1e-12  # the constant is the std of the truncated normal
KURTOSIS = {"normal": 3.0, "uniform": 9 / 5, "truncated_normal": _truncated_kurtosis()}

# ------------------------------------------------------------------------- kernel-side helpers
# Defined inside each probe (nothing the student redefines is used).
HELPERS = Code(f'''
def as_array(w):
    return np.asarray(keras.ops.convert_to_numpy(w), dtype=np.float64)

def sample(w, n={SAMPLE}):
    a = as_array(w).ravel()
    return a[:: max(1, a.size // n)][:n]

''')


SEED_SAMPLE = 1200  # values per draw in the seed check (it reports 14 draws: the output cap is 1 MB)


def sampled(size: int, n: int = SAMPLE) -> int:
    """How many values `sample(w, n)` (HELPERS) reports of an array of `size` values."""
    return len(range(0, size, max(1, size // n))[:n])


def fan_of(shape, mode):
    fan_in, fan_out = fans(shape)
    return {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[mode]


def fans(shape):
    shape = tuple(int(d) for d in shape)
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive = int(np.prod(shape[:-2])) if len(shape) > 2 else 1
    return receptive * shape[-2], receptive * shape[-1]


def sample_problem(values, sigma: float, distribution: str) -> str | None:
    """Why `values` are not draws of mean 0 and standard deviation `sigma` (None when they are)."""
    x = np.asarray(values, dtype=np.float64).ravel()
    n = x.size
    if n < 1000 or not np.all(np.isfinite(x)):
        return f"expected at least 1000 finite values, got {n}"
    mean, std = float(x.mean()), float(x.std())
    mean_tol = N_SE * sigma / math.sqrt(n)
    if abs(mean) > mean_tol:
        return f"expected a mean of 0 (within {mean_tol:.3g}), got {mean:.4g}"
    std_tol = N_SE * sigma * math.sqrt((KURTOSIS[distribution] - 1) / (4 * n))
    if abs(std - sigma) > std_tol:
        return f"expected a standard deviation of {sigma:.5g} (within {std_tol:.3g}), got {std:.5g}"
    return None


def bound_problem(largest, sigma: float, distribution: str) -> str | None:
    """Why the largest |w| of the whole array does not fit the distribution's shape."""
    largest = float(largest)
    if distribution == "normal" and largest <= 2.5 * sigma:
        return (f"a normal distribution has tails: expected some |w| > {2.5 * sigma:.5g}, "
                f"got at most {largest:.5g}")
    if distribution == "truncated_normal":
        bound = 2 * sigma / TRUNCATION_CORRECTION
        if largest > bound * (1 + 1e-5):
            return f"expected all |w| <= {bound:.5g} (cut at 2 stddev), got {largest:.5g}"
        if largest < 0.95 * bound:
            return f"expected values up to about {bound:.5g} (cut at 2 stddev), got at most {largest:.5g}"
    if distribution == "uniform":
        limit = math.sqrt(3) * sigma
        if largest > limit * (1 + 1e-6):
            return f"expected all |w| <= {limit:.5g}, got {largest:.5g}"
        if largest < 0.95 * limit:
            return f"expected values up to about {limit:.5g}, got at most {largest:.5g}"
    return None


def expect_weights(p, what, key, shape, sigma, distribution, part="all"):
    """Expectations on the weights `draw(..., key)` made in the kernel."""
    p.equal(f"{what}: shape", list(shape), f"{key}_shape", part=part)
    p.expect(f"{what}: mean and standard deviation", f"{key}_sample",
             lambda obs: sample_problem(obs.value, sigma, distribution), part=part, schema=("array", (None,)))
    p.expect(f"{what}: the spread of the values", f"{key}_max",
             lambda obs: bound_problem(obs.value, sigma, distribution), part=part, schema="number")


def draw_step(p, key, scale, mode, distribution, shape, seed, *, positional=False, dist_arg=True):
    args = (scale, mode) + ((distribution,) if dist_arg else ())
    if positional:
        init = call("MyVarianceScaling", *args, seed=seed)
    else:
        names = dict(scale=scale, mode=mode, **({"distribution": distribution} if dist_arg else {}))
        init = call("MyVarianceScaling", **names, seed=seed)
    observe_draw(p, key, f"{init}({tuple(shape)!r})")


def observe_draw(p, key, expr):
    """Draw weights in the kernel (`expr`) and observe their shape, a sample and the largest |w|."""
    p.run(f"w_{key} = {expr}", key=key)
    p.value(f"[int(d) for d in w_{key}.shape]", key=f"{key}_shape")
    p.value(f"sample(w_{key})", key=f"{key}_sample")
    p.value(f"float(abs(as_array(w_{key})).max())", key=f"{key}_max")


def _seed(rng) -> int:
    return int(rng.integers(0, 2 ** 31 - 2))


# ------------------------------------------------------------------------------- 1. fans
@checks("test_fans_visible")
def fans_visible(p, rng):
    for shape in [(784, 300), (100, 10)]:
        p.equal(f"compute_fans({shape})", list(shape), f"[int(v) for v in compute_fans({shape!r})]")
    shape = (int(rng.integers(2, 1000)), int(rng.integers(2, 1000)))  # with the examples: one part
    p.equal(f"compute_fans({shape})", list(shape), f"[int(v) for v in compute_fans({shape!r})]")


@checks("test_fans_hidden", hidden=True)
def fans_hidden(p, rng):
    for dims, part in [(1, "1-D convolution kernels"), (2, "2-D convolution kernels"),
                       (3, "3-D convolution kernels")]:
        for _ in range(2):
            kernel = [int(k) for k in rng.integers(1, 8, size=dims)]
            kernel[int(rng.integers(0, dims))] = int(rng.integers(2, 8))  # a real receptive field
            shape = (*kernel, int(rng.integers(1, 64)), int(rng.integers(1, 64)))
            p.equal(f"compute_fans of a {part[:-1]}", list(fans(shape)),
                    f"[int(v) for v in compute_fans({shape!r})]", part=part)
    n = int(rng.integers(2, 500))
    p.equal("compute_fans of a 1-D shape (n,)", [n, n], f"[int(v) for v in compute_fans(({n},))]",
            part="1-D shapes")


# ---------------------------------------------------------------------------- 2. normal
@checks("test_normal_visible")
def normal_visible(p, rng):
    p.run(HELPERS)
    draw_step(p, "visible", 2.0, "fan_in", "normal", (400, 300), 42)
    expect_weights(p, "MyVarianceScaling(2.0, 'fan_in', 'normal') on (400, 300)", "visible",
                   (400, 300), math.sqrt(2.0 / 400), "normal")
    scale, shape = round(float(rng.uniform(0.5, 3.0)), 3), (int(rng.integers(100, 400)), int(rng.integers(100, 400)))
    draw_step(p, "drawn", scale, "fan_in", "normal", shape, _seed(rng))
    expect_weights(p, f"MyVarianceScaling({scale}, 'fan_in', 'normal') on {shape}", "drawn", shape,
                   math.sqrt(scale / shape[0]), "normal")
    p.equal("the dtype when none is given", "float32", "keras.backend.standardize_dtype(w_visible.dtype)")
    for dist in ("normal", "truncated_normal", "uniform"):
        p.equal(f"the dtype asked for (float64), {dist}", "float64", "keras.backend.standardize_dtype("
                f"MyVarianceScaling(2.0, 'fan_in', {dist!r}, seed=42)((40, 30), dtype='float64').dtype)")
    p.figure_from(normal_figure)   # the notebook's example (seed 42), already observed


VISIBLE_SIGMA = math.sqrt(2.0 / 400)   # MyVarianceScaling(2.0, 'fan_in', 'normal') on (400, 300)
BINS = 41


def normal_figure(report: dict) -> dict:
    """The histogram of the student's weights on the notebook's example against the normal
    density they should follow (both as counts per bin of the sample's size)."""
    sigma = VISIBLE_SIGMA
    obs = Observation.of(report, "visible_sample")
    x = as_numbers(obs.value) if obs.problem() is None else None
    x = x.ravel() if x is not None and x.ndim >= 1 and x.size and np.all(np.isfinite(x)) else None
    # +-4 sigma, or wider (a whole number of sigmas, at most 20) for weights spread wider
    reach = 4 if x is None else int(min(20, max(4, math.ceil(np.quantile(np.abs(x), 0.995) / sigma))))
    edges = np.linspace(-reach * sigma, reach * sigma, BINS + 1)
    n = SAMPLE if x is None else x.size
    grid = np.linspace(edges[0], edges[-1], 161)
    density = n * (edges[1] - edges[0]) * np.exp(-grid ** 2 / (2 * sigma ** 2)) / (sigma * math.sqrt(2 * math.pi))
    parts = [series("right", f"normal, mean 0, std {sigma:.4f} (the target)", grid, density)]
    if x is None:
        said = "no weights came back from your code"
    else:
        counts, _ = np.histogram(x, bins=edges)
        outside = int(x.size - counts.sum())
        parts.insert(0, series("bars", "your weights", edges, counts.tolist()))
        said = (f"your {x.size} weights have mean {x.mean():.3g} and standard deviation {x.std():.3g}"
                + (f", {outside} of them outside the chart" if outside else ""))
    return chart(
        "MyVarianceScaling(2.0, 'fan_in', 'normal', seed=42) on a (400, 300) kernel",
        f"Histogram of the weights your initializer drew for the notebook's example, in {BINS} bins "
        f"from {-reach} to {reach} standard deviations, against the target normal density with mean 0 "
        f"and standard deviation sqrt(2 / 400) = {sigma:.4f}: {said}.",
        "weight", "weights per bin", parts,
        caption="Your weights on the notebook's example (a sample of up to 5,000) against the normal "
                "distribution He initialization asks for (variance 2 / fan_in).")


@checks("test_modes_hidden", hidden=True)
def modes_hidden(p, rng):
    p.run(HELPERS)
    for mode in ("fan_in", "fan_out", "fan_avg"):
        a = int(rng.integers(100, 300))
        b = a * int(rng.integers(3, 6))
        shape = (a, b) if rng.random() < 0.5 else (b, a)
        scale = float(rng.uniform(0.5, 3.0))
        draw_step(p, mode, scale, mode, "normal", shape, _seed(rng))
        expect_weights(p, f"mode {mode!r}, normal, another scale and shape", mode, shape,
                       math.sqrt(scale / fan_of(shape, mode)), "normal", part=mode)
    # A fan of 1 (a single input): the variance is the scale itself.
    scale, shape = float(rng.uniform(0.5, 3.0)), (1, int(rng.integers(5000, 6000)))
    draw_step(p, "single", scale, "fan_in", "normal", shape, _seed(rng))
    expect_weights(p, "mode 'fan_in' with a single input", "single", shape, math.sqrt(scale), "normal",
                   part="fan_in")
    shape = (3, 3, int(rng.integers(40, 80)), int(rng.integers(150, 240)))
    mode = str(rng.choice(["fan_in", "fan_out"]))
    draw_step(p, "conv", 2.0, mode, "normal", shape, _seed(rng))
    # The message names no drawn choice (which mode): hidden messages say what, never which.
    expect_weights(p, "normal weights on a convolution kernel", "conv", shape,
                   math.sqrt(2.0 / fan_of(shape, mode)), "normal", part="convolution")


# --------------------------------------------------------------------------- 3. uniform
@checks("test_uniform", hidden=True)
def uniform(p, rng):
    p.run(HELPERS)
    draw_step(p, "visible", 1.0, "fan_avg", "uniform", (200, 600), 7)
    expect_weights(p, "the notebook's example (fan_avg on (200, 600))", "visible", (200, 600),
                   math.sqrt(1.0 / 400), "uniform", part="fan_in")
    for mode in ("fan_in", "fan_out"):
        a = int(rng.integers(100, 200))
        shape = (a, a * 2) if rng.random() < 0.5 else (a * 2, a)
        scale = float(rng.uniform(0.5, 3.0))
        draw_step(p, mode, scale, mode, "uniform", shape, _seed(rng), positional=True)
        expect_weights(p, f"uniform with mode {mode!r}, another scale and shape", mode, shape,
                       math.sqrt(scale / fan_of(shape, mode)), "uniform", part=mode)


# ------------------------------------------------------------------ 4. truncated normal
@checks("test_truncated_normal", hidden=True)
def truncated_normal(p, rng):
    p.run(HELPERS)
    draw_step(p, "visible", 1.0, "fan_in", "truncated_normal", (300, 500), 11)
    expect_weights(p, "the notebook's example (fan_in on (300, 500))", "visible", (300, 500),
                   math.sqrt(1.0 / 300), "truncated_normal", part="explicit")
    for key, explicit in (("explicit", True), ("default", False)):
        shape = (int(rng.integers(150, 400)), int(rng.integers(150, 400)))
        scale = float(rng.uniform(0.5, 3.0))
        draw_step(p, key, scale, "fan_avg", "truncated_normal", shape, _seed(rng),
                  positional=True, dist_arg=explicit)
        what = ("truncated normal, fan_avg, another scale and shape" if explicit
                else "the default distribution (truncated normal)")
        expect_weights(p, what, key, shape, math.sqrt(scale / fan_of(shape, "fan_avg")),
                       "truncated_normal", part=key)
    # Every default (scale 1, fan_in, truncated normal) on a kernel whose fans differ.
    a = int(rng.integers(100, 200))
    shape = (a, 3 * a) if rng.random() < 0.5 else (3 * a, a)
    observe_draw(p, "defaults", f"MyVarianceScaling(seed={_seed(rng)})({shape!r})")
    expect_weights(p, "the default scale, mode and distribution", "defaults", shape,
                   math.sqrt(1.0 / shape[0]), "truncated_normal", part="default")


# ------------------------------------------------------------------------------ 5. seed
def _arrays(value, count):
    """`count` float arrays from an observed list (None when the value is not that)."""
    if not isinstance(value, list) or len(value) != count:
        return None
    try:
        return [np.asarray(v, dtype=np.float64) for v in value]
    except (TypeError, ValueError):
        return None


def seed_problem(value, size, sigma, distribution) -> str | None:
    """Three draws (seed, the same seed, the next seed): the same weights twice, other weights
    the third time, and every draw has the distribution's statistics (computed here: equal
    arrays alone are no work)."""
    draws = _arrays(value, 3)
    if draws is None or any(d.size != size or not np.all(np.isfinite(d)) for d in draws):
        return f"expected three draws of {size} finite values"
    a, b, c = draws
    if not np.array_equal(a, b):
        return "the same seed twice gave different weights"
    if np.allclose(a, c):
        return "two different seeds gave the same weights"
    return sample_problem(a, sigma, distribution) or sample_problem(c, sigma, distribution)


@checks("test_seed", hidden=True)
def seed(p, rng):
    p.run(HELPERS)
    cases = [("normal", "fan_in", 1.0, 123, (50, 40), "normal")]   # the notebook's example
    for dist in ("normal", "truncated_normal", "uniform"):
        shape = (int(rng.integers(40, 90)), int(rng.integers(40, 90)))
        cases.append((dist, "fan_avg", round(float(rng.uniform(0.5, 3.0)), 3), _seed(rng), shape, dist))
    for dist, mode, scale, s, shape, part in cases:
        draws = ", ".join(f"sample({call('MyVarianceScaling', scale, mode, dist, seed=v)}({shape!r}), {SEED_SAMPLE})"
                          for v in (s, s, s + 1))
        sigma = math.sqrt(scale / fan_of(shape, mode))
        p.expect(f"{dist} weights: the same seed gives the same weights, the next seed others",
                 f"[{draws}]", lambda obs, n=sampled(shape[0] * shape[1], SEED_SAMPLE), sd=sigma, d=dist: seed_problem(obs.value, n, sd, d),
                 part=part, schema=("list", ("array", (None,)), 3))
    scale, shape = round(float(rng.uniform(0.5, 3.0)), 3), (int(rng.integers(40, 90)), int(rng.integers(40, 90)))
    p.expect("seed=None gives random weights of the right spread",
             f"[sample({call('MyVarianceScaling', scale, 'fan_in', 'normal', seed=None)}({shape!r}), {SEED_SAMPLE})"
             " for _ in range(2)]",
             lambda obs, sd=math.sqrt(scale / shape[0]), n=sampled(shape[0] * shape[1], SEED_SAMPLE):
             _unseeded_problem(obs.value, n, sd),
             part="unseeded", schema=("list", ("array", (None,)), 2))


def _unseeded_problem(value, size, sigma) -> str | None:
    draws = _arrays(value, 2)
    if draws is None or any(d.size != size or not np.all(np.isfinite(d)) for d in draws):
        return f"expected {size} finite random values"
    if np.array_equal(*draws):
        return "two initializers without a seed drew the same weights"
    return sample_problem(draws[0], sigma, "normal")


# ---------------------------------------------------------------------------- 6. config
CONFIG_KEYS = ("scale", "mode", "distribution", "seed")


def config_problem(value, want) -> str | None:
    if not isinstance(value, dict):
        return f"expected a dict, got {type(value).__name__}"
    wrong = {k: value.get(k) for k in CONFIG_KEYS if value.get(k) != want[k]}
    return None if not wrong else f"expected {want}, got {dict(value)}"


def _same_draws_problem(value, sigma, distribution) -> str | None:
    draws = _arrays(value, 2)
    if draws is None or not np.array_equal(*draws) or draws[0].size != 1200:
        return "different weights"
    return sample_problem(draws[0], sigma, distribution)


@checks("test_config")
def config(p, rng):
    p.run(HELPERS)
    drawn = (round(float(rng.uniform(0.5, 3.0)), 3), str(rng.choice(["fan_in", "fan_out", "fan_avg"])),
             str(rng.choice(["normal", "truncated_normal", "uniform"])), _seed(rng))
    # The notebook's example counts only together with the drawn arguments (one part).
    for args, part in [((2.0, "fan_out", "uniform", 5), "other"), (drawn, "other"),
                       (drawn[:3] + (None,), "other")]:
        want = dict(zip(CONFIG_KEYS, args))
        init = call("MyVarianceScaling", scale=args[0], mode=args[1], distribution=args[2], seed=args[3])
        n = len(p.steps)
        p.run(f"init = {init}\nconfig = init.get_config()", key=f"init{n}")
        p.expect(f"{init}.get_config()", "dict(config)",
                 lambda obs, want=want: config_problem(obs.value, want), part=part, schema=("dict", {}))
        if args[3] is not None:
            sigma = math.sqrt(args[0] / fan_of((40, 30), args[1]))
            p.expect("MyVarianceScaling.from_config(init.get_config()) draws the same weights as init",
                     "[sample(MyVarianceScaling.from_config(config)((40, 30))), sample(init((40, 30)))]",
                     lambda obs, sd=sigma, d=args[2]: _same_draws_problem(obs.value, sd, d), part=part)
        p.run("layer = keras.layers.deserialize(keras.layers.serialize("
              "keras.layers.Dense(8, kernel_initializer=init)))", key=f"layer{n}")
        p.expect("the initializer of a Dense layer after Keras serialization",
                 "dict(layer.kernel_initializer.get_config())",
                 lambda obs, want=want: config_problem(obs.value, want), part=part, schema=("dict", {}))


# -------------------------------------------------------------------- 7. dense training
@checks("test_dense_training")
def dense_training(p, rng):
    p.run(HELPERS)
    inputs, units, seed = int(rng.integers(48, 96)), int(rng.integers(32, 64)), _seed(rng)
    p.run(f"""
keras.utils.set_random_seed(0)
model = keras.Sequential([
    keras.Input(shape=({inputs},)),
    keras.layers.Dense({units}, activation="relu",
                       kernel_initializer=MyVarianceScaling(2.0, "fan_in", "normal", seed={seed})),
    keras.layers.Dense(1),
])
kernel = model.layers[0].kernel
""", key="model")
    p.expect(f"the initial kernel of a Dense layer ({units} units on {inputs} inputs): mean and standard deviation",
             "sample(kernel)", lambda obs: sample_problem(obs.value, math.sqrt(2.0 / inputs), "normal"),
             schema=("array", (None,)))
    p.run(f"""
model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.01), loss="mse")
x = np.random.default_rng(0).normal(size=(64, {inputs})).astype("float32")
history = model.fit(x, x[:, :1], batch_size=32, epochs=1, verbose=0)
""", key="fit")
    p.expect("one epoch of training: the loss", "float(history.history['loss'][-1])",
             lambda obs: None if isinstance(obs.value, (int, float)) and math.isfinite(obs.value)
             else "not a finite number")


# --------------------------------------------------------------------------- 8. presets
PRESETS = {"glorot_uniform_init": (1.0, "fan_avg", "uniform"),
           "he_normal_init": (2.0, "fan_in", "truncated_normal"),
           "lecun_normal_init": (1.0, "fan_in", "truncated_normal")}


def preset_problem(value, want, seed_value) -> str | None:
    if not isinstance(value, list) or len(value) != 2 or value[0] is not True:
        return "not a MyVarianceScaling"
    config = value[1]
    if not isinstance(config, dict):
        return "get_config() is not a dict"
    try:
        got = (float(config.get("scale")), config.get("mode"), config.get("distribution"))
    except (TypeError, ValueError):
        got = (config.get("scale"), config.get("mode"), config.get("distribution"))
    if got != want:
        return f"expected (scale, mode, distribution) = {want}, got {got}"
    if config.get("seed") != seed_value:
        return f"the seed {seed_value!r} was not passed on (got {config.get('seed')!r})"
    return None


@checks("test_presets")
def presets(p, rng):
    for name, want in PRESETS.items():
        drawn = int(rng.integers(0, 100_000))
        for seed_value, call_src in ((drawn, f"{name}(seed={drawn})"), (None, f"{name}()")):
            p.expect(f"{call_src}", f"(lambda i: [isinstance(i, MyVarianceScaling), i.get_config()])({call_src})",
                     lambda obs, want=want, s=seed_value: preset_problem(obs.value, want, s), part=name)


# ----------------------------------------------------------------------- 9. activations
ANSWERS = {"linear": "glorot", "tanh": "glorot", "sigmoid": "glorot", "softmax": "glorot",
           "relu": "he", "leaky_relu": "he", "elu": "he", "gelu": "he", "swish": "he",
           "selu": "lecun"}


@checks("test_activations", hidden=True)
def activations(p, rng):
    p.value("{k: INITIALIZER_FOR.get(k) for k in %r} if isinstance(INITIALIZER_FOR, dict) else None"
            % sorted(ANSWERS), key="table")
    for activation, answer in ANSWERS.items():
        p.expect(f"the initializer for {activation}", "table",
                 lambda obs, a=activation, want=answer: None if isinstance(obs.value, dict)
                 and obs.value.get(a) == want else "not the usual choice", part=activation)

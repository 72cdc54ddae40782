"""Checks of the `schedules` assignment (contract: grading/checks/__init__.py).

Reference formulas are written here from the task text; the notebook's own tests use the same
tolerances (rtol 1e-4). Hidden checks draw their parameters from `rng`.
"""
from __future__ import annotations

import math

import numpy as np

from . import Checks, Code, Observation, agreement, call, chart, series, tensor

checks = Checks()

# ------------------------------------------------------------------------- reference formulas


def power(t, lr, s, c=1.0):
    return lr / (1 + t / s) ** c


def exponential(t, lr, s):
    return lr * 0.1 ** (t / s)


def piecewise(t, boundaries, values):
    for boundary, value in zip(boundaries, values):
        if t < boundary:
            return value
    return values[-1]


def one_cycle(step, total, max_lr, start_lr=None, last_lr=None, anneal_fraction=0.1):
    start_lr = max_lr / 10 if start_lr is None else start_lr
    last_lr = start_lr / 1000 if last_lr is None else last_lr
    anneal_start = (1 - anneal_fraction) * total
    peak = anneal_start / 2
    if step < peak:
        return start_lr + (max_lr - start_lr) * step / peak
    if step < anneal_start:
        return max_lr - (max_lr - start_lr) * (step - peak) / (anneal_start - peak)
    if step < total:
        return start_lr - (start_lr - last_lr) * (step - anneal_start) / (total - anneal_start)
    return last_lr


def plateau_rates(lr, val_losses, factor=0.5, patience=3, min_lr=1e-5, min_delta=1e-4):
    """The rate after each epoch's end of keras.callbacks.ReduceLROnPlateau (mode min)."""
    best, wait, rates = math.inf, 0, []
    for loss in val_losses:
        if loss < best - min_delta:
            best, wait = loss, 0
        else:
            wait += 1
            if wait >= patience:
                if lr > min_lr * (1 + 1e-6):
                    lr = max(lr * factor, min_lr)
                wait = 0
        rates.append(lr)
    return rates


# ------------------------------------------------------------------------- kernel-side helpers
# Sent to the kernel by the checks that train: a tiny regression problem and a rate recorder,
# defined inside the probe so that nothing the student redefines is used.
TRAINING = Code('''
rs = np.random.default_rng(0)
X = rs.normal(size=(64, 4)).astype("float32")
Y = (X @ np.array([1.0, -2.0, 0.5, 0.0], dtype="float32"))[:, None]

def tiny_model(optimizer):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(1)])
    model.compile(optimizer=optimizer, loss="mse")
    return model

def lr_of(optimizer):
    return float(np.asarray(keras.ops.convert_to_numpy(optimizer.learning_rate)).reshape(()))

class Recorder(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.batch_rates, self.epoch_rates = [], []

    def on_train_batch_end(self, batch, logs=None):
        self.batch_rates.append(lr_of(self.model.optimizer))
        if batch == 0:
            self.epoch_rates.append(self.batch_rates[-1])
''')


# Sent to the kernel by the checks that draw a figure: the student's function over a range of
# inputs, one number per input (None where it raised or returned something else).
CURVE = Code('''
def as_number(value):
    if keras is not None and not isinstance(value, (int, float)):
        value = keras.ops.convert_to_numpy(value)
    return float(np.asarray(value, dtype=np.float64).reshape(()))

def curve(f, xs):
    out = []
    for x in xs:
        try:
            out.append(as_number(f(x)))
        except Exception:
            out.append(None)
    return out
''')


def observed_curve(report: dict, key: str, n: int) -> list:
    """The student's n values observed under `key` (None where there is none)."""
    obs = Observation.of(report, key)
    values = obs.value if obs.problem() is None and isinstance(obs.value, list) else []
    values = [v if isinstance(v, (int, float)) and not isinstance(v, bool) else None for v in values[:n]]
    return values + [None] * (n - len(values))


def _u(rng, low, high) -> float:
    return float(rng.uniform(low, high))


# A visible check's fixed examples are worth its points only together with the same call on
# inputs drawn per submission (tests/test_check_inputs.py): forged example values earn nothing.


# --------------------------------------------------------------------------------- 1. power
@checks("test_power_visible")
def power_visible(p, rng):
    for t in (0, 10, 30):
        p.close(f"power_schedule({t}, 0.1, s=10)", power(t, 0.1, 10), call("power_schedule", t, 0.1, s=10))
    t, lr, s = int(rng.integers(1, 500)), round(_u(rng, 0.01, 1.0), 4), int(rng.integers(2, 100))
    p.close(f"power_schedule({t}, {lr}, s={s})", power(t, lr, s), call("power_schedule", t, lr, s=s))


@checks("test_power_hidden", hidden=True)
def power_hidden(p, rng):
    for _ in range(5):
        lr, s, c = _u(rng, 1e-3, 1.0), _u(rng, 2, 500), _u(rng, 0.5, 3.0)
        for t in (0, int(rng.integers(1, 2000))):
            want = power(t, lr, s, c)
            p.close("power_schedule with other parameters (c != 1), int step", want,
                    call("power_schedule", t, lr, s, c))
            p.close("power_schedule with an integer tensor step", want,
                    call("power_schedule", tensor(t), lr, s, c))
            p.close("power_schedule with a float tensor step", want,
                    call("power_schedule", tensor(float(t)), lr, s, c))
    t, lr, s = int(rng.integers(5, 500)), _u(rng, 1e-3, 1.0), _u(rng, 2, 500)
    p.close("power_schedule with the default c", power(t, lr, s), call("power_schedule", t, lr, s))


# --------------------------------------------------------------------------- 2. exponential
@checks("test_exponential_visible")
def exponential_visible(p, rng):
    for t in (0, 20, 10):
        p.close(f"exponential_schedule({t}, 0.01, s=20)", exponential(t, 0.01, 20),
                call("exponential_schedule", t, 0.01, s=20))
    t, lr, s = int(rng.integers(1, 200)), round(_u(rng, 0.01, 1.0), 4), int(rng.integers(2, 100))
    p.close(f"exponential_schedule({t}, {lr}, s={s})", exponential(t, lr, s),
            call("exponential_schedule", t, lr, s=s), atol=1e-12)


@checks("test_exponential_hidden", hidden=True)
def exponential_hidden(p, rng):
    for _ in range(5):
        lr, s = _u(rng, 1e-3, 1.0), _u(rng, 2, 500)
        for t in (0, int(rng.integers(1, 1000))):
            want = exponential(t, lr, s)
            p.close("exponential_schedule with other parameters, int step", want,
                    call("exponential_schedule", t, lr, s), atol=1e-12)
            p.close("exponential_schedule with an integer tensor step", want,
                    call("exponential_schedule", tensor(t), lr, s), atol=1e-12)


# ----------------------------------------------------------------------------- 3. piecewise
@checks("test_piecewise_visible")
def piecewise_visible(p, rng):
    for t in (0, 3, 10, 40):
        p.close(f"piecewise_constant({t}, [5, 15], [0.01, 0.005, 0.001])",
                piecewise(t, [5, 15], [0.01, 0.005, 0.001]),
                call("piecewise_constant", t, [5, 15], [0.01, 0.005, 0.001]))
    a = int(rng.integers(3, 30))
    bounds, values = [a, a + int(rng.integers(3, 30))], [round(_u(rng, 0.01, 0.1), 4), 0.005, 0.001]
    for t in (a - 1, a, bounds[1] + int(rng.integers(0, 20))):
        p.close(f"piecewise_constant({t}, {bounds}, {values})", piecewise(t, bounds, values),
                call("piecewise_constant", t, bounds, values))


@checks("test_piecewise_boundaries", hidden=True)
def piecewise_boundaries(p, rng):
    for _ in range(4):
        n = int(rng.integers(1, 5))
        bounds = sorted(int(b) for b in rng.choice(np.arange(1, 200), size=n, replace=False))
        values = [float(v) for v in rng.uniform(1e-4, 1.0, size=n + 1)]
        cases = [0, bounds[-1] + 100]
        for b in bounds:
            cases += [b - 1, b]
        for t in cases:
            want = piecewise(t, bounds, values)
            p.close("piecewise_constant at and next to a boundary", want,
                    call("piecewise_constant", t, bounds, values))
            p.close("piecewise_constant with an integer tensor step", want,
                    call("piecewise_constant", tensor(t), bounds, values))


# ------------------------------------------------------------------ 4. scheduler callback
_SCHEDULE_IN_KERNEL = '''
def halving(epoch, first, every):  # a schedule that returns a tensor, like the students' own
    return first * 0.5 ** (keras.ops.cast(epoch, "float32") / every)
'''


@checks("test_scheduler_callback", hidden=True)
def scheduler_callback(p, rng):
    p.run(TRAINING)
    # The notebook's own example...
    p.run('cb = make_scheduler_callback(exponential_schedule, initial_lr=0.02, s=2)\n'
          'rec = Recorder()\n'
          'tiny_model(keras.optimizers.SGD(learning_rate=0.5)).fit(X, Y, batch_size=32, epochs=3,'
          ' verbose=0, callbacks=[cb, rec])', key="fit_visible")
    p.equal("make_scheduler_callback returns a keras.callbacks.LearningRateScheduler", True,
            "isinstance(cb, keras.callbacks.LearningRateScheduler)", part="other")
    p.close("rates of the 3 epochs with exponential_schedule(initial_lr=0.02, s=2)",
            [exponential(e, 0.02, 2) for e in range(3)], "rec.epoch_rates", part="other")
    # ... and another schedule with other keyword parameters.
    first, every, epochs = _u(rng, 0.01, 0.5), _u(rng, 1.0, 4.0), int(rng.integers(3, 6))
    p.run(_SCHEDULE_IN_KERNEL)
    p.run(f'cb2 = make_scheduler_callback(halving, first={first!r}, every={every!r})\n'
          'rec2 = Recorder()\n'
          'tiny_model(keras.optimizers.SGD(learning_rate=0.5)).fit(X, Y, batch_size=32,'
          f' epochs={epochs}, verbose=0, callbacks=[cb2, rec2])', key="fit_other")
    p.close("rates per epoch with another schedule and other keyword parameters",
            [first * 0.5 ** (e / every) for e in range(epochs)], "rec2.epoch_rates", part="other")


# ------------------------------------------------------------------ 5. PowerSchedule class
@checks("test_power_schedule_visible")
def power_schedule_visible(p, rng):
    p.run("sched = PowerSchedule(0.1, s=10)", key="construct")
    p.equal("PowerSchedule is a keras.optimizers.schedules.LearningRateSchedule", True,
            "isinstance(sched, keras.optimizers.schedules.LearningRateSchedule)")
    p.close("PowerSchedule(0.1, s=10)(0)", 0.1, "sched(0)")
    p.close("PowerSchedule(0.1, s=10)(integer tensor 30)", 0.025, "sched(keras.ops.convert_to_tensor(30))")
    t, lr, s = int(rng.integers(1, 500)), round(_u(rng, 0.01, 1.0), 4), int(rng.integers(2, 100))
    p.close(f"PowerSchedule({lr}, s={s})(integer tensor {t})", power(t, lr, s),
            f"PowerSchedule({lr!r}, s={s!r})(keras.ops.convert_to_tensor({t}))")


@checks("test_power_schedule_config", hidden=True)
def power_schedule_config(p, rng):
    p.run("copy = PowerSchedule.from_config(PowerSchedule(0.2, s=50, c=2.0).get_config())", key="from_config")
    p.close("PowerSchedule(0.2, s=50, c=2) rebuilt from its config, at step 50", 0.05, "copy(50)",
            part="other")
    p.run("opt = keras.optimizers.SGD(learning_rate=PowerSchedule(0.2, s=50, c=2.0))\n"
          "restored = keras.optimizers.deserialize(keras.optimizers.serialize(opt))\n"
          "restored.iterations.assign(150)", key="optimizer_roundtrip")
    p.close("the rate of a saved and restored optimizer at step 150", 0.2 / 16,
            "restored.learning_rate", part="other")
    lr, s, c = _u(rng, 1e-3, 1.0), _u(rng, 2, 500), _u(rng, 0.5, 3.0)
    p.run(f"back = keras.saving.deserialize_keras_object("
          f"keras.saving.serialize_keras_object(PowerSchedule({lr!r}, {s!r}, {c!r})))", key="roundtrip")
    p.equal("a deserialized PowerSchedule is a PowerSchedule", True,
            "type(back).__name__ == 'PowerSchedule'", part="other")
    for t in (0, 7, int(rng.integers(10, 5000))):
        p.close("a deserialized PowerSchedule with other parameters", power(t, lr, s, c),
                f"back({t})", part="other")
        # The task says the optimizer passes an integer tensor: `step / s` without a cast fails
        # on one when s is not a whole number (a step of 30 with s=10 hides that).
        p.close("a deserialized PowerSchedule with other parameters, at an integer tensor step",
                power(t, lr, s, c), f"back({tensor(t)})", part="other")


@checks("test_power_schedule_fit", hidden=True)
def power_schedule_fit(p, rng):
    p.run(TRAINING)
    lr, s, c = _u(rng, 0.005, 0.1), _u(rng, 1.0, 10.0), _u(rng, 0.5, 3.0)
    batch, epochs = int(rng.choice([8, 16, 32])), int(rng.integers(1, 3))
    steps = epochs * (64 // batch)
    p.run(f"opt = keras.optimizers.SGD(learning_rate=PowerSchedule({lr!r}, s={s!r}, c={c!r}))\n"
          "rec = Recorder()\n"
          f"hist = tiny_model(opt).fit(X, Y, batch_size={batch}, epochs={epochs}, verbose=0,"
          " callbacks=[rec])", key="fit")
    p.equal("optimizer steps done by fit()", steps,
            "int(keras.ops.convert_to_numpy(opt.iterations))")
    p.close("the optimizer's rate after training", power(steps, lr, s, c), "lr_of(opt)")
    p.close("the rate the optimizer used at each step", [power(k + 1, lr, s, c) for k in range(steps)],
            "rec.batch_rates")
    p.equal("the training loss is finite", True, "bool(np.isfinite(hist.history['loss'][-1]))")


# ------------------------------------------------------------------------------- 6. 1cycle
@checks("test_one_cycle_visible")
def one_cycle_visible(p, rng):
    for step in (0, 45, 90, 100, 200):
        p.close(f"one_cycle_rate({step}, total_steps=100, max_lr=1.0)", one_cycle(step, 100, 1.0),
                call("one_cycle_rate", step, 100, 1.0))
    total, max_lr = int(rng.integers(50, 500)), round(_u(rng, 0.05, 1.0), 4)
    for step in (int(rng.integers(1, total // 2)), int(rng.integers(total // 2, total))):
        p.close(f"one_cycle_rate({step}, total_steps={total}, max_lr={max_lr})", one_cycle(step, total, max_lr),
                call("one_cycle_rate", step, total, max_lr))
    # The figure: the whole visible example, after every observation the verdict uses.
    p.run(CURVE, key="curve_helpers")
    p.value(f"curve(lambda step: one_cycle_rate(step, 100, 1.0), range({ONE_CYCLE_STEPS}))", key="figure")
    p.figure_from(one_cycle_figure)


ONE_CYCLE_STEPS = 111


def one_cycle_figure(report: dict) -> dict:
    steps = list(range(ONE_CYCLE_STEPS))
    right = [one_cycle(t, 100, 1.0) for t in steps]
    yours = observed_curve(report, "figure", len(steps))
    return chart(
        "one_cycle_rate(step, total_steps=100, max_lr=1.0)",
        "Line chart of the learning rate at steps 0 to 110 of the notebook's example "
        "one_cycle_rate(step, total_steps=100, max_lr=1.0). The right curve rises from 0.1 to 1.0 "
        "at step 45, falls back to 0.1 at step 90, then to 0.0001 at step 100 and stays there; "
        + agreement(steps, right, yours, "step") + ".",
        "step", "learning rate",
        [series("right", "right", steps, right), series("yours", "yours", steps, yours)],
        caption="Your one_cycle_rate on the notebook's example against the right rates "
                "(up to max_lr at the peak, back to start_lr, then the final annealing).")


@checks("test_one_cycle_shape", hidden=True)
def one_cycle_shape(p, rng):
    for _ in range(4):
        total, max_lr = int(rng.integers(200, 5000)), _u(rng, 0.01, 1.0)
        start, frac = max_lr / _u(rng, 5, 30), _u(rng, 0.02, 0.2)
        a = (1 - frac) * total
        peak = a / 2
        for step in (0, int(peak * 0.3), int(peak * 0.9), int(np.ceil(peak)), int(peak * 1.5), int(a * 0.99)):
            p.close("one_cycle_rate's rise and fall with other start_lr and anneal_fraction",
                    one_cycle(step, total, max_lr, start_lr=start, anneal_fraction=frac),
                    call("one_cycle_rate", step, total, max_lr, start_lr=start, anneal_fraction=frac))
    total, max_lr = int(rng.integers(200, 5000)), _u(rng, 0.01, 1.0)
    step = int(rng.integers(1, int(0.4 * total)))
    p.close("one_cycle_rate with the default start_lr and anneal_fraction",
            one_cycle(step, total, max_lr), call("one_cycle_rate", step, total, max_lr))


@checks("test_one_cycle_annealing", hidden=True)
def one_cycle_annealing(p, rng):
    for _ in range(4):
        total, max_lr = int(rng.integers(200, 5000)), _u(rng, 0.01, 1.0)
        last, frac = max_lr / 10 / _u(rng, 100, 10000), _u(rng, 0.02, 0.2)
        a = (1 - frac) * total
        for step in (int(np.ceil(a)), int(a + 0.5 * (total - a)), total - 1, total, total + 7):
            p.close("one_cycle_rate's final annealing with other last_lr and anneal_fraction",
                    one_cycle(step, total, max_lr, last_lr=last, anneal_fraction=frac),
                    call("one_cycle_rate", step, total, max_lr, last_lr=last, anneal_fraction=frac),
                    atol=1e-12)
        p.close("one_cycle_rate at total_steps with the default last_lr",
                one_cycle(total, total, max_lr), call("one_cycle_rate", total, total, max_lr), atol=1e-12)
    total, max_lr = int(rng.integers(200, 5000)), _u(rng, 0.01, 1.0)
    start = max_lr / _u(rng, 5, 30)
    for step in (int(0.95 * total), total + 3):
        p.close("one_cycle_rate's default last_lr when start_lr is given",
                one_cycle(step, total, max_lr, start_lr=start),
                call("one_cycle_rate", step, total, max_lr, start_lr=start), atol=1e-12)


@checks("test_one_cycle_callback", hidden=True)
def one_cycle_callback(p, rng):
    p.run(TRAINING)
    p.run("sched = OneCycleScheduler(total_steps=8, max_lr=0.05)\n"
          "rec = Recorder()\n"
          "tiny_model(keras.optimizers.SGD(learning_rate=0.001)).fit(X, Y, batch_size=16, epochs=2,"
          " verbose=0, callbacks=[sched, rec])", key="fit_visible")
    p.close("rates of the 8 batches (2 epochs of 4) with OneCycleScheduler(total_steps=8, max_lr=0.05)",
            [one_cycle(k, 8, 0.05) for k in range(8)], "rec.batch_rates", part="parameters")
    # Non-default start_lr, last_lr and anneal_fraction, and more steps than total_steps.
    total, max_lr = int(rng.integers(14, 22)), _u(rng, 0.02, 0.2)
    start, frac = max_lr / _u(rng, 4, 20), _u(rng, 0.15, 0.35)
    last = start / _u(rng, 20, 200)
    p.run(f"sched2 = OneCycleScheduler(total_steps={total}, max_lr={max_lr!r}, start_lr={start!r},"
          f" last_lr={last!r}, anneal_fraction={frac!r})\n"
          "rec2 = Recorder()\n"
          "tiny_model(keras.optimizers.SGD(learning_rate=0.001)).fit(X, Y, batch_size=8, epochs=3,"
          " verbose=0, callbacks=[sched2, rec2])", key="fit_other")
    p.close("rates per batch with other start_lr, last_lr and anneal_fraction, past total_steps",
            [one_cycle(k, total, max_lr, start, last, frac) for k in range(24)], "rec2.batch_rates",
            atol=1e-10, part="parameters")


# --------------------------------------------------------------------------- 7. plateau
_DRIVE = '''
def drive(callback, lr, val_losses):
    model = tiny_model(keras.optimizers.SGD(learning_rate=lr))
    callback.set_model(model)
    callback.on_train_begin()
    rates = []
    for epoch, val_loss in enumerate(val_losses):
        callback.on_epoch_end(epoch, {"val_loss": val_loss, "loss": 1.0 / (epoch + 1)})
        rates.append(lr_of(model.optimizer))
    return rates
'''


@checks("test_plateau", hidden=True)
def plateau(p, rng):
    p.run(TRAINING)
    p.run(_DRIVE)
    p.value("drive(make_plateau_callback(), 0.1, [1.0] * 12)", key="stalled")
    p.close("rates while the validation loss never improves (from 0.1)",
            plateau_rates(0.1, [1.0] * 12), "stalled", part="other")
    p.figure_from(plateau_figure)   # the notebook's own example only, never the drawn losses
    lr = float(10 ** rng.uniform(-4.3, -3.7))
    losses, best = [], _u(rng, 0.5, 2.0)
    for _ in range(24):
        if rng.random() < 0.2:
            best -= _u(rng, 0.05, 0.2)
            losses.append(best)
        else:
            losses.append(best + _u(rng, 0.0, 0.05))
    p.value(f"drive(make_plateau_callback(), {lr!r}, {losses!r})", key="mixed")
    p.close("rates with improving and stalling validation losses, down to the floor",
            plateau_rates(lr, losses), "mixed", part="other")


def plateau_figure(report: dict) -> dict:
    epochs = list(range(1, 13))
    right = plateau_rates(0.1, [1.0] * 12)
    yours = observed_curve(report, "stalled", len(epochs))
    return chart(
        "make_plateau_callback() while the validation loss never improves",
        "Step chart of the learning rate after each of 12 epochs in which the validation loss "
        "stays at 1.0, starting from 0.1 (the notebook's example). The right rate halves after "
        "every 3 epochs without improvement (" + ", ".join(
            f"{rate:g} from epoch {e}" for e, rate, before in zip(epochs[1:], right[1:], right)
            if rate != before) + "); " + agreement(epochs, right, yours, "epoch") + ".",
        "epoch", "learning rate after the epoch",
        [series("right", "right", epochs, right), series("yours", "yours", epochs, yours)],
        caption="The rate your callback sets while the validation loss stalls, against "
                "ReduceLROnPlateau's (halve after 3 epochs without improvement, floor 1e-5).",
        log_y=True, steps=True)

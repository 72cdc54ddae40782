# expect: full
# why: functional style: exp/log for powers, closures and functools.wraps, a min/max formula for 1cycle, keyword-only plateau arguments in another order
# %% power
import functools

def power_schedule(t, initial_lr, s, c=1.0):
    t = keras.ops.cast(t, "float32")
    return initial_lr * keras.ops.exp(-c * keras.ops.log1p(t / s))
# %% exponential
def exponential_schedule(t, initial_lr, s):
    return initial_lr * keras.ops.exp(keras.ops.cast(t, "float32") / s * math.log(0.1))
# %% piecewise
def piecewise_constant(t, boundaries, values):
    t = as_float(t)
    return next((v for b, v in zip(boundaries, values) if t < b), values[-1])
# %% scheduler_callback
def make_scheduler_callback(schedule, **params):
    @functools.wraps(schedule)
    def per_epoch(epoch, current_lr=None):
        return as_float(schedule(epoch, **params))
    return keras.callbacks.LearningRateScheduler(per_epoch, verbose=0)
# %% one_cycle_rate
def one_cycle_rate(step, total_steps, max_lr, start_lr=None, last_lr=None, anneal_fraction=0.1):
    start = max_lr / 10 if start_lr is None else start_lr
    last = start / 1000 if last_lr is None else last_lr
    a = (1 - anneal_fraction) * total_steps
    p = a / 2
    tri = 1 - abs(min(step, a) - p) / p          # 0 -> 1 -> 0 over the cycle
    cycle = start + (max_lr - start) * max(tri, 0.0)
    tail = max(0.0, min(1.0, (step - a) / (total_steps - a)))
    return cycle - (start - last) * tail
# %% plateau
def make_plateau_callback():
    return keras.callbacks.ReduceLROnPlateau(min_lr=1e-5, patience=3, factor=0.5, monitor="val_loss",
                                             mode="min", cooldown=0)

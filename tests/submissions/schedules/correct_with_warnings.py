# expect: full
# why: math module and if/else chains; emits warnings (for t < 0 checks and in the callback)
# %% power
import warnings

def power_schedule(t, initial_lr, s, c=1.0):
    warnings.warn("power_schedule: remember that s is in the same unit as t")
    t = keras.ops.cast(t, "float32")
    return initial_lr * (1.0 + t / s) ** (-c)
# %% piecewise
def piecewise_constant(t, boundaries, values):
    if len(values) != len(boundaries) + 1:
        warnings.warn("values should have one more entry than boundaries")
    t = as_float(t)
    i = 0
    while i < len(boundaries) and t >= boundaries[i]:
        i += 1
    warnings.warn(f"piecewise_constant: segment {i}")
    return values[i]
# %% one_cycle_rate
def one_cycle_rate(step, total_steps, max_lr, start_lr=None, last_lr=None, anneal_fraction=0.1):
    if start_lr is None:
        start_lr = max_lr / 10
    if last_lr is None:
        last_lr = start_lr / 1000
    end = (1 - anneal_fraction) * total_steps
    half = end / 2
    if step >= total_steps:
        return last_lr
    if step >= end:
        frac = (step - end) / (total_steps - end)
        return (1 - frac) * start_lr + frac * last_lr
    if step >= half:
        frac = (step - half) / half
        return (1 - frac) * max_lr + frac * start_lr
    frac = step / half
    return (1 - frac) * start_lr + frac * max_lr
# %% one_cycle_callback
class OneCycleScheduler(keras.callbacks.Callback):
    def __init__(self, total_steps, max_lr, start_lr=None, last_lr=None, anneal_fraction=0.1):
        super().__init__()
        self.total_steps = total_steps
        self.max_lr = max_lr
        self.start_lr = start_lr
        self.last_lr = last_lr
        self.anneal_fraction = anneal_fraction
        self.step = 0

    def on_train_begin(self, logs=None):
        warnings.warn("1cycle: starting")

    def on_train_batch_begin(self, batch, logs=None):
        lr = one_cycle_rate(self.step, self.total_steps, self.max_lr,
                            start_lr=self.start_lr, last_lr=self.last_lr,
                            anneal_fraction=self.anneal_fraction)
        self.model.optimizer.learning_rate.assign(lr)
        self.step = self.step + 1
# %% plateau
def make_plateau_callback():
    return keras.callbacks.ReduceLROnPlateau("val_loss", factor=0.5, patience=3, verbose=0, min_lr=0.00001)

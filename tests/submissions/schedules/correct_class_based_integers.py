# expect: full
# why: class-based (a LearningRateScheduler subclass, a schedule with keras.ops.divide), integer index arithmetic in piecewise, float64 NumPy in 1cycle, step counted in on_train_batch_end
# %% piecewise
def piecewise_constant(t, boundaries, values):
    t = int(np.floor(as_float(t)))
    index = sum(1 for b in boundaries if t >= b)
    return values[index]
# %% scheduler_callback
class _ParamScheduler(keras.callbacks.LearningRateScheduler):
    def __init__(self, schedule, params):
        self.fixed = dict(params)
        self.inner = schedule
        super().__init__(self.rate)

    def rate(self, epoch, lr):
        return float(keras.ops.convert_to_numpy(self.inner(epoch, **self.fixed)))


def make_scheduler_callback(schedule, **params):
    return _ParamScheduler(schedule, params)
# %% power_class
@keras.saving.register_keras_serializable(package="tdnn")
class PowerSchedule(keras.optimizers.schedules.LearningRateSchedule):
    def __init__(self, initial_lr, s, c=1.0, **kwargs):
        super().__init__(**kwargs)
        self.config = {"initial_lr": initial_lr, "s": s, "c": c}

    def __call__(self, step):
        ratio = keras.ops.divide(keras.ops.cast(step, "float32"), self.config["s"])
        return keras.ops.divide(self.config["initial_lr"], keras.ops.power(1.0 + ratio, self.config["c"]))

    def get_config(self):
        return dict(self.config)
# %% one_cycle_rate
def one_cycle_rate(step, total_steps, max_lr, start_lr=None, last_lr=None, anneal_fraction=0.1):
    start_lr = np.float64(max_lr) / 10 if start_lr is None else np.float64(start_lr)
    last_lr = start_lr / 1000 if last_lr is None else np.float64(last_lr)
    anneal_start = (1 - np.float64(anneal_fraction)) * total_steps
    peak = anneal_start / 2
    if step >= total_steps:
        return float(last_lr)
    if step >= anneal_start:
        return float(start_lr + (last_lr - start_lr) * (step - anneal_start) / (total_steps - anneal_start))
    distance = abs(step - peak) / peak
    return float(max_lr - (max_lr - start_lr) * distance)
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

    def on_train_batch_begin(self, batch, logs=None):
        kwargs = dict(start_lr=self.start_lr, last_lr=self.last_lr, anneal_fraction=self.anneal_fraction)
        self.model.optimizer.learning_rate.assign(
            one_cycle_rate(self.step, self.total_steps, self.max_lr, **kwargs))

    def on_train_batch_end(self, batch, logs=None):
        self.step += 1

# expect: full
# why: keras.ops throughout, returns tensors; piecewise as a sum of steps; PowerSchedule via ops.power
# %% power
def power_schedule(t, initial_lr, s, c=1.0):
    t = keras.ops.convert_to_tensor(t, dtype="float32")
    return initial_lr * keras.ops.power(1.0 + t / s, -c)
# %% exponential
def exponential_schedule(t, initial_lr, s):
    t = keras.ops.convert_to_tensor(t, dtype="float32")
    return initial_lr * keras.ops.power(0.1, t / s)
# %% piecewise
def piecewise_constant(t, boundaries, values):
    t = keras.ops.convert_to_tensor(t, dtype="float32")
    rate = keras.ops.convert_to_tensor(values[0], dtype="float32")
    for boundary, before, after in zip(boundaries, values[:-1], values[1:]):
        rate = rate + keras.ops.where(t >= boundary, after - before, 0.0)
    return rate
# %% scheduler_callback
def make_scheduler_callback(schedule, **params):
    def f(epoch, lr):
        return float(keras.ops.convert_to_numpy(schedule(epoch, **params)))
    return keras.callbacks.LearningRateScheduler(f)
# %% power_class
@keras.saving.register_keras_serializable(package="tdnn")
class PowerSchedule(keras.optimizers.schedules.LearningRateSchedule):
    def __init__(self, initial_lr, s, c=1.0):
        self.initial_lr = float(initial_lr)
        self.s = float(s)
        self.c = float(c)

    def __call__(self, step):
        step = keras.ops.convert_to_tensor(step, dtype="float32")
        return self.initial_lr * keras.ops.power(1.0 + step / self.s, -self.c)

    def get_config(self):
        return dict(initial_lr=self.initial_lr, s=self.s, c=self.c)

# expect: full
# why: NumPy throughout, returns Python floats; piecewise with np.searchsorted; 1cycle by np.interp
# %% power
def power_schedule(t, initial_lr, s, c=1.0):
    t = float(np.asarray(keras.ops.convert_to_numpy(t)))
    return float(initial_lr * (1 + t / s) ** (-c))
# %% exponential
def exponential_schedule(t, initial_lr, s):
    t = float(np.asarray(keras.ops.convert_to_numpy(t)))
    return float(initial_lr * np.power(0.1, t / s))
# %% piecewise
def piecewise_constant(t, boundaries, values):
    t = np.asarray(keras.ops.convert_to_numpy(t))
    return float(np.asarray(values)[np.searchsorted(boundaries, t, side="right")])
# %% scheduler_callback
def make_scheduler_callback(schedule, **params):
    return keras.callbacks.LearningRateScheduler(lambda epoch, lr: float(schedule(epoch, **params)))
# %% one_cycle_rate
def one_cycle_rate(step, total_steps, max_lr, start_lr=None, last_lr=None, anneal_fraction=0.1):
    start_lr = start_lr if start_lr is not None else max_lr / 10
    last_lr = last_lr if last_lr is not None else start_lr / 1000
    end_of_cycle = (1 - anneal_fraction) * total_steps
    return float(np.interp(step, [0, end_of_cycle / 2, end_of_cycle, total_steps],
                           [start_lr, max_lr, start_lr, last_lr]))
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
        self.model.optimizer.learning_rate = one_cycle_rate(
            self.step, self.total_steps, self.max_lr, self.start_lr, self.last_lr, self.anneal_fraction)
        self.step += 1

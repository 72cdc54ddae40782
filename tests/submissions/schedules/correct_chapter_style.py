# expect: full
# why: the chapter's 1cycle callback (optimizer.iterations, np.interp, rate set before each batch and epoch) with the assignment's signature and exact corners; bisect for piecewise
# %% piecewise
import bisect

def piecewise_constant(t, boundaries, values):
    return values[bisect.bisect_right(boundaries, as_float(t))]
# %% one_cycle_rate
def one_cycle_rate(step, total_steps, max_lr, start_lr=None, last_lr=None, anneal_fraction=0.1):
    start_lr = start_lr or max_lr / 10
    last_lr = last_lr or start_lr / 1000
    anneal_start = (1 - anneal_fraction) * total_steps
    knots = ([0, anneal_start / 2, anneal_start, total_steps], [start_lr, max_lr, start_lr, last_lr])
    return float(np.interp(step, *knots))
# %% one_cycle_callback
class OneCycleScheduler(keras.callbacks.Callback):
    """The chapter's OneCycle: the rate comes from the optimizer's own step counter."""

    def __init__(self, total_steps, max_lr, start_lr=None, last_lr=None, anneal_fraction=0.1):
        super().__init__()
        self.total_steps = total_steps
        self.max_lr = max_lr
        self.start_lr = start_lr
        self.last_lr = last_lr
        self.anneal_fraction = anneal_fraction
        self.rates = []

    def set_rate(self):
        step = int(keras.ops.convert_to_numpy(self.model.optimizer.iterations))
        rate = one_cycle_rate(step, self.total_steps, self.max_lr, self.start_lr, self.last_lr,
                              self.anneal_fraction)
        self.model.optimizer.learning_rate = rate
        return rate

    def on_epoch_begin(self, epoch, logs=None):
        self.set_rate()

    def on_train_batch_begin(self, batch, logs=None):
        self.rates.append(self.set_rate())

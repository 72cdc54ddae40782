# expect: test_one_cycle_callback
# why: the callback passes only total_steps and max_lr to one_cycle_rate: start_lr, last_lr and anneal_fraction are ignored
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
        self.model.optimizer.learning_rate.assign(one_cycle_rate(self.step, self.total_steps, self.max_lr))
        self.step += 1

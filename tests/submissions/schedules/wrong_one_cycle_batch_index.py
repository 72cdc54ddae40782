# expect: test_one_cycle_callback
# why: epochs confused with steps: uses Keras' batch index, which restarts at 0 every epoch
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
        rate = one_cycle_rate(batch, self.total_steps, self.max_lr, self.start_lr,
                              self.last_lr, self.anneal_fraction)
        self.model.optimizer.learning_rate.assign(rate)

# expect: test_power_schedule_config
# why: get_config() forgets c, so a restored schedule decays with c = 1
# %% power_class
class PowerSchedule(keras.optimizers.schedules.LearningRateSchedule):
    def __init__(self, initial_lr, s, c=1.0):
        super().__init__()
        self.initial_lr = initial_lr
        self.s = s
        self.c = c

    def __call__(self, step):
        step = keras.ops.cast(step, "float32")
        return self.initial_lr / (1.0 + step / self.s) ** self.c

    def get_config(self):
        return {"initial_lr": self.initial_lr, "s": self.s}

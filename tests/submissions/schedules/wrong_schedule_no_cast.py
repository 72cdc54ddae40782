# expect: test_power_schedule_config
# why: no cast of the step: the optimizer's integer tensor divided by an s that is not a whole number fails (s=10 hides it)
# %% power_class
@keras.saving.register_keras_serializable(package="tdnn")
class PowerSchedule(keras.optimizers.schedules.LearningRateSchedule):
    def __init__(self, initial_lr, s, c=1.0):
        super().__init__()
        self.initial_lr, self.s, self.c = initial_lr, s, c

    def __call__(self, step):
        return self.initial_lr / (1.0 + step / self.s) ** self.c

    def get_config(self):
        return {"initial_lr": self.initial_lr, "s": self.s, "c": self.c}

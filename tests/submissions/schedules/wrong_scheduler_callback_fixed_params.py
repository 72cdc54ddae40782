# expect: test_scheduler_callback
# why: ignores **params and the schedule passed in: hard-codes the visible example
# %% scheduler_callback
def make_scheduler_callback(schedule, **params):
    def rate_for_epoch(epoch, current_lr):
        return as_float(exponential_schedule(epoch, initial_lr=0.02, s=2))
    return keras.callbacks.LearningRateScheduler(rate_for_epoch)

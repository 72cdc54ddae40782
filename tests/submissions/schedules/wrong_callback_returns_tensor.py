# expect: test_scheduler_callback
# why: passes the schedule's tensor straight to LearningRateScheduler, which wants a float
# %% scheduler_callback
def make_scheduler_callback(schedule, **params):
    return keras.callbacks.LearningRateScheduler(lambda epoch, lr: schedule(epoch, **params))

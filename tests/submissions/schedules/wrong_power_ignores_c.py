# expect: test_power_hidden
# why: forgets the power c (right only for the default c = 1)
# %% power
def power_schedule(t, initial_lr, s, c=1.0):
    t = keras.ops.cast(t, "float32")
    return initial_lr / (1.0 + t / s)

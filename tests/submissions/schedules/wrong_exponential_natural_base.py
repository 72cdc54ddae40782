# expect: test_exponential_hidden
# why: uses exp(-t / s) (divides by e, not 10, every s steps)
# %% exponential
def exponential_schedule(t, initial_lr, s):
    t = keras.ops.cast(t, "float32")
    return initial_lr * keras.ops.exp(-t / s)

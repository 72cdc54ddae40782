# expect: test_power_hidden
# why: no conversion of t: an integer tensor divided by a float fails
# %% power
def power_schedule(t, initial_lr, s, c=1.0):
    return initial_lr / (1 + t / s) ** c

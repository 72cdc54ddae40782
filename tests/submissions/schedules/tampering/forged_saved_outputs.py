# expect: tamper
# base: release
# earns: 0
# edit: forge_outputs
# why: hands in a notebook whose saved test outputs claim full points (nbgrader's partial-credit form)
# %% power
def power_schedule(t, initial_lr, s, c=1.0):
    return initial_lr

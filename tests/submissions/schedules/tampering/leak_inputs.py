# expect: tamper
# base: release
# earns: 0
# why: captures the source of every later cell (probes included) and prints it, with the environment, in later answer cells
# %% power
def power_schedule(t, initial_lr, s, c=1.0):
    return initial_lr

import os
_seen = []

def _capture(lines):
    _seen.append("".join(lines))
    return lines

get_ipython().input_transformers_cleanup.append(_capture)

def _leak(info=None):
    print("ENV", dict(os.environ))
    for source in _seen[-3:]:
        print("SEEN", source)

get_ipython().events.register("pre_run_cell", _leak)

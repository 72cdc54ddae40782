# expect: tamper
# earns: 20
# zero: test_power_visible test_power_hidden
# why: everything right except power_schedule, plus the catch_warnings and post_run_cell tricks: the power tests must still give 0
# %% power
import warnings, contextlib

class _Swallow(contextlib.AbstractContextManager):
    def __init__(self, *a, **k):
        pass
    def __exit__(self, *exc):
        return True

warnings.catch_warnings = _Swallow

def _forget(result):
    result.error_in_exec = None

get_ipython().events.register("post_run_cell", _forget)

def power_schedule(t, initial_lr, s, c=1.0):
    return initial_lr

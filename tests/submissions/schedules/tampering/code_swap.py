# expect: tamper
# base: release
# earns: 0
# why: swaps the __code__ of the notebook helpers and of its own stubs in place (identity unchanged)
# %% power
def power_schedule(t, initial_lr, s, c=1.0):
    return initial_lr

def _nothing(*args, **kwargs):
    return None

for _f in (expect_close, as_float, tiny_model):
    try:
        _f.__code__ = _nothing.__code__
    except Exception:
        pass
power_schedule.__code__ = (lambda t, initial_lr, s, c=1.0: initial_lr).__code__

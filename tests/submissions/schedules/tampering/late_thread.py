# expect: tamper
# base: release
# earns: 0
# why: a thread that keeps patching the notebook namespace, catch_warnings and display while later cells run
# %% power
def power_schedule(t, initial_lr, s, c=1.0):
    return initial_lr

import threading, time, warnings, contextlib

def _patch_forever():
    ns = get_ipython().user_ns
    while True:
        ns["expect_close"] = lambda *a, **k: None
        ns["power_schedule"] = lambda *a, **k: 0.05
        warnings.catch_warnings = contextlib.nullcontext
        try:
            import IPython.display as d
            d.display = lambda *a, **k: None
        except Exception:
            pass
        time.sleep(0.01)

threading.Thread(target=_patch_forever, daemon=True).start()

"""Kernel-side guard against the cheap ways to make tests pass without solving them.

The tests run in the same Python process as the student's code, so a student can redefine the
helpers the tests call (`expect_close = lambda *a: None`), monkeypatch `math.isclose`,
`numpy.testing.assert_allclose` or a builtin, or stop IPython from reporting errors
(`get_ipython().showtraceback = ...`). The guard, installed as an IPython start-up file before
any student code runs, snapshots those objects; the worker then sends it (as silent requests
that the notebook never shows):

- `mark()` before and `record()` after every instructor cell (locked cells and test cells):
  names that the instructor's code bound are remembered with their values;
- `restore()` before every test cell: those names, the snapshotted module attributes (builtins,
  math, numpy, numpy.testing, keras, keras.ops, ...), the IPython shell's and kernel's methods,
  sys.excepthook and the trace/profile hooks are put back as they were.

This raises the bar; it is not a security boundary (code in the same process can always find and
disable the guard). The sandbox is the security boundary; the guard protects grades.
"""

GUARD_SOURCE = r'''
# Written by python -m grading: protects the instructor's tests from student monkeypatching.
def _grading_guard_install(token):
    import builtins, sys, types, threading
    shell = get_ipython()
    kernel = getattr(shell, "kernel", None)
    eager = ["builtins", "math", "cmath", "operator", "functools", "numbers", "numpy",
             "numpy.testing", "numpy.testing._private.utils", "numpy.linalg", "numpy.random"]
    # Snapshotted once an instructor cell has imported them (importing Keras here would cost
    # every kernel seconds): keras is imported by the notebook's locked set-up cell.
    lazy = ["keras", "keras.ops", "keras.callbacks", "keras.optimizers",
            "keras.optimizers.schedules", "keras.utils", "keras.saving"]
    modules, module_snap = {}, {}

    def snapshot(name):
        mod = sys.modules.get(name)
        if mod is not None and name not in modules:
            modules[name] = mod
            module_snap[name] = dict(vars(mod))

    for name in eager:
        try:
            __import__(name)
        except Exception:
            continue
        snapshot(name)
    func_types = (types.FunctionType, types.BuiltinFunctionType, property, staticmethod,
                  classmethod, types.MethodDescriptorType, types.WrapperDescriptorType)
    objects = [o for o in (shell, kernel, getattr(kernel, "session", None),
                           getattr(shell, "displayhook", None), getattr(shell, "display_pub", None))
               if o is not None]
    class_snap = {}
    for obj in objects:
        for cls in type(obj).__mro__:
            if cls is object or cls in class_snap:
                continue
            class_snap[cls] = {k: v for k, v in vars(cls).items() if isinstance(v, func_types)}
    instance_snap = [(obj, set(vars(obj))) for obj in objects]
    sys_snap = {k: getattr(sys, k) for k in ("excepthook", "displayhook", "stdout", "stderr")}
    user_ns = shell.user_ns
    protected, before = {}, {}
    missing = object()

    def mark():
        before.clear()
        before.update(user_ns)

    def record():
        for name in lazy:
            snapshot(name)
        for key, value in list(user_ns.items()):
            if before.get(key, missing) is not value:
                protected[key] = value

    def restore():
        sys.settrace(None)
        sys.setprofile(None)
        threading.settrace(None)
        threading.setprofile(None)
        for key, value in sys_snap.items():
            setattr(sys, key, value)
        for name, mod in modules.items():
            sys.modules[name] = mod
            d = vars(mod)
            for key, value in module_snap[name].items():
                if d.get(key, missing) is not value:
                    d[key] = value
        for cls, snap in class_snap.items():
            for key, value in snap.items():
                if vars(cls).get(key, missing) is not value:
                    setattr(cls, key, value)
        for obj, keys in instance_snap:
            for key in list(vars(obj)):
                if key not in keys and any(key in snap for snap in
                                           (class_snap.get(c, {}) for c in type(obj).__mro__)):
                    try:
                        delattr(obj, key)
                    except Exception:
                        pass
        for key, value in protected.items():
            if user_ns.get(key, missing) is not value:
                user_ns[key] = value

    guard = types.SimpleNamespace(mark=mark, record=record, restore=restore)
    setattr(builtins, "_grading_guard_" + token, guard)
    sys.modules["_grading_guard_" + token] = guard


_grading_guard_install({token!r})
del _grading_guard_install
'''


def guard_source(token: str) -> str:
    return GUARD_SOURCE.replace("{token!r}", repr(token))


def guard_call(token: str, what: str) -> str:
    """Code the worker sends silently: works even if the student deleted the builtin."""
    return (f"__import__('sys').modules['_grading_guard_{token}'].{what}()")

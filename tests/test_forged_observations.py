"""Tampering inside the kernel, against the probes of all three assignments (issue 25, items 1-3).

Mechanism classes, each on a kernel with NO work done (no answer written) unless said otherwise:

- report-channel hook: the student wraps `IPython.display.display`, the probe's report channel,
  and fills every observation with the value the grader expects *for another submission's draws*
  (what a student knows who has run the reference, or read the checks, at home). No part of any
  check may be earned that way: every part depends on inputs drawn for this submission. A control
  forges with this submission's own expected values, to show the hook does reach the judge;
- shadowed builtins: a notebook-global `isinstance` (and a notebook `__builtins__` of one's own)
  must not change what the probe's own code computes; a patched `builtins` module loses the
  observations that need the patched names, it never passes them;
- copied keys: a hook that copies a right observation onto another key earns nothing for it;
- label lookup: the kernels' copy of CIFAR-10 has no label of an image the grader evaluates on.

The probes run in one IPython shell of this process (tests/helpers/probe_shell.py): the same
probe cells and report reader as the sandboxed batch.
"""
from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

from grading import runtime
from grading.checks import Probe, load
from grading.judge import rng_for
from grading.probes import MIME
from helpers.probe_shell import ProbeShell

ASSIGNMENTS = ("schedules", "initializers", "cifar10")
FACTS = {("initializers", "test_activations")}   # the answer is a fact: see tests/test_check_inputs.py

HOOK = f'''
import IPython.display as _d
_real_display = _d.display
FORGED = {{}}

def _forging_display(*objs, **kwargs):
    for obj in objs:
        if isinstance(obj, dict) and {MIME!r} in obj:
            results = obj[{MIME!r}]["results"]
            for key, value in FORGED.items():
                results[key] = {{"value": value, "kind": "float"}}
    return _real_display(*objs, **kwargs)

_d.display = _forging_display
'''


@pytest.fixture(scope="module")
def shell():
    probe_shell = ProbeShell()
    yield probe_shell
    probe_shell.close()


def _expected_values(probe) -> dict:
    """key -> the value the grader expects, for every exact or numeric expectation of `probe`."""
    values = {}
    for exp in probe.expectations:
        if exp.want is not None:
            values[exp.key] = exp.want
    return values


def _probes(assignment, student, seed):
    return {gid: check.probe(rng_for(seed, student, gid, "digest"))
            for gid, check in load(assignment).items() if (assignment, gid) not in FACTS}


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_report_channel_hook_earns_nothing(shell, assignment):
    shell.reset()
    shell.run(HOOK)
    graded = _probes(assignment, "student", "grading seed")
    known = _probes(assignment, "student", "the student's own seed at home")
    earned, control = {}, {}
    for gid, probe in graded.items():
        shell.shell.user_ns["FORGED"] = _expected_values(known[gid])
        earned[gid] = shell.fraction(probe)
        if sum(f > 0 for f in control.values()) < 2:
            # the control: with the values of THIS submission's draws the same hook earns points
            shell.shell.user_ns["FORGED"] = _expected_values(probe)
            control[gid] = shell.fraction(probe)
    assert not {g: f for g, f in earned.items() if f > 0}, f"forged observations earned points: {earned}"
    assert sum(f > 0 for f in control.values()) >= 2, control


def _one_probe(hidden=False):
    p = Probe(hidden=hidden)
    p.equal("x is an int", True, "isinstance(x, int)")
    p.close("x doubled", 2 * 7.25, "double(x)")
    return p


STUDENT = "x = 'not a number'\ndef double(v):\n    return v * 2\n"


@pytest.mark.parametrize("tamper", [
    "isinstance = lambda *args: True",
    "import builtins as _b\n__builtins__ = {**vars(_b), 'isinstance': lambda *a: True}",
    "def float(v=0):\n    return 14.5\nint = str",
])
def test_shadowed_builtins_do_not_change_the_probe(shell, tamper):
    shell.reset()
    shell.run(STUDENT + tamper)
    report = shell.report(_one_probe())
    assert report["v0"]["value"] is False, report        # the genuine isinstance
    assert _one_probe().judge(report).fraction == 0


@pytest.mark.parametrize("assign", ["builtins.isinstance", "isinstance = builtins.isinstance"],
                         ids=["builtins-module", "builtins-module-and-notebook-global"])
def test_patched_builtins_module_loses_the_observation(shell, assign):
    """builtins.isinstance replaced (alone, or with a notebook-global isinstance too): the
    replacement is left out of the probe's builtins, so the observation fails instead."""
    shell.reset()
    probe = _one_probe()
    # True for the student's own value only (this test's process shares the builtins module)
    shell.run(STUDENT + "import builtins\n_real = builtins.isinstance\n"
              f"{assign} = lambda o, c: o is x or _real(o, c)")
    try:
        report = shell.report(probe)
    finally:
        shell.reset()
    assert report["v0"] == {"error": "NameError"}, report   # left out of the probe's builtins
    assert probe.judge(report).fraction == 0


def test_a_genuine_answer_still_passes_in_the_clean_namespace(shell):
    shell.reset()
    shell.run("x = 7.25\ndef double(v):\n    return v * 2\n")
    p = Probe()
    p.close("x doubled", 14.5, "double(x)")
    p.equal("only the names a step needs come from the notebook", False, "'STUDENT' in globals()")
    assert p.judge(shell.report(p)).fraction == 1


def test_copied_key_earns_nothing(shell):
    """The right value of one key copied onto another (a wrong function's) key."""
    shell.reset()
    rng = np.random.default_rng(5)
    a, b = float(rng.uniform(1, 2)), float(rng.uniform(3, 4))
    shell.run(f"def right(v):\n    return v + 1\ndef wrong(v):\n    return 0.0\n" + HOOK.replace(
        "for key, value in FORGED.items():\n                results[key] = {\"value\": value, \"kind\": \"float\"}",
        "results['wrong'] = dict(results['right'])"))
    p = Probe(hidden=True)
    p.value(f"right({a!r})", key="right")
    p.close("right", a + 1, "right", part="right")
    p.value(f"wrong({b!r})", key="wrong")
    p.close("wrong", b + 1, "wrong", part="wrong")
    report = shell.report(p)
    assert report["wrong"] == report["right"], report   # the hook did copy it
    assert p.judge(report).fraction == 0.5


def test_kernels_cannot_read_held_out_cifar10_labels(tmp_path):
    """The kernels' Keras cache has other labels (and no file names) where the grader evaluates,
    and load_data() still reads it."""
    seed = tmp_path / "seed" / "datasets" / "cifar-10-batches-py-target" / "cifar-10-batches-py"
    seed.mkdir(parents=True)
    rs = np.random.default_rng(0)
    labels = rs.integers(0, 10, size=10000).tolist()
    batch = {b"labels": labels, b"data": rs.integers(0, 256, size=(10000, 3072), dtype=np.uint8),
             b"filenames": [b"frog_%05d.png" % i for i in range(10000)]}
    (seed / "data_batch_1").write_bytes(pickle.dumps(batch, protocol=2))
    (seed / "test_batch").write_bytes(b"other")
    runtime.kernel_copy(tmp_path / "seed", tmp_path / "kernels")
    copy = tmp_path / "kernels" / "datasets" / "cifar-10-batches-py-target" / "cifar-10-batches-py"
    seen = pickle.loads((copy / "data_batch_1").read_bytes())
    held = list(runtime.HELD_OUT_CIFAR10)
    agree = np.mean(np.array(seen[b"labels"])[held] == np.array(labels)[held])
    assert agree < 0.2, agree                            # chance is 0.1: no lookup table
    assert seen[b"labels"][:1000] == labels[:1000] and seen[b"labels"][5000:] == labels[5000:]
    assert not any(b"frog" in seen[b"filenames"][i] for i in held)
    assert np.array_equal(seen[b"data"], batch[b"data"])
    assert pickle.loads((seed / "data_batch_1").read_bytes())[b"labels"] == labels   # the seed is intact
    assert (copy / "test_batch").read_bytes() == b"other"
    # Keras' own reader (load_data()) reads the copy: its restricted unpickler refuses a pickle
    # that needs more than NumPy's globals, and the notebook's data cell would fail in the sandbox.
    from keras.src.datasets.cifar import load_batch
    data, read = load_batch(str(copy / "data_batch_1"))
    assert list(read) == seen[b"labels"] and data.shape == (10000, 3, 32, 32)


def test_kernels_see_no_labelled_dataset_file():
    """What a sandbox binds at /data/datasets is the loader module alone."""
    datasets = runtime.datasets_dir()
    if not runtime.has_datasets(datasets):
        pytest.skip("no offline datasets")
    view = Path(runtime.kernel_datasets(datasets))
    assert sorted(p.name for p in view.iterdir()) == ["keras_offline.py"]


NO_FIT = """
import math, keras

def train_model(model, data, epochs=10, batch_size=32, callbacks=None):
    # never calls fit(): drives the callbacks itself and logs the loss on data["valid"]
    X, y = data["train"]
    steps = math.ceil(len(X) / batch_size)
    history = keras.callbacks.History()
    cbs = keras.callbacks.CallbackList(list(callbacks or []) + [history], model=model,
                                       epochs=epochs, steps=steps, verbose=0)
    cbs.on_train_begin()
    for epoch in range(epochs):
        cbs.on_epoch_begin(epoch)
        for step in range(steps):
            cbs.on_train_batch_begin(step)
            cbs.on_train_batch_end(step, {"loss": 1.0})
        val = model.evaluate(*data["valid"], verbose=0, return_dict=True)
        cbs.on_epoch_end(epoch, {"loss": 1.0, "val_loss": val["loss"], "val_accuracy": val["accuracy"]})
    cbs.on_train_end()
    return history
"""


def test_train_model_without_fit_loses_the_validation_points(shell):
    """The issue's case: the check compared two values the kernel reported about itself."""
    shell.reset()
    shell.run(NO_FIT)
    probe = load("cifar10")["test_train_model"].probe(rng_for("seed", "student", "test_train_model", "d"))
    verdict = probe.judge(shell.report(probe))
    assert verdict.fraction < 1, verdict
    assert any("did not learn" in m for m in verdict.messages), verdict.messages


def test_the_probe_can_open_files(shell):
    """io's `open` is a genuine builtin too (the cifar10 budget checks read the dataset with it)."""
    shell.reset()
    shell.run("open = None")
    p = Probe()
    p.equal("open is io.open", True, "open is __import__('io').open")
    assert p.judge(shell.report(p)).fraction == 1

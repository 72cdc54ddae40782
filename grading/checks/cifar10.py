"""Checks of the `cifar10` capstone (contract: grading/checks/__init__.py).

Networks are reported by the kernel as data (`describe`: one plain dict per layer, in the order a
forward pass calls them, with its kind, units, activation, initializer and dropout rate) and judged
here against the task text. Training-budget checks never trust a history or an accuracy computed
in the kernel: the grader picks 1,000 held-out validation images per submission (the kernels'
copy of the dataset has other labels for them: grading.runtime.kernel_copy), the kernel returns
only the predicted class of each, and the grader computes the accuracy from CIFAR-10 labels it
reads itself. `train_model` is judged by a callback the probe attaches: the validation loss
`fit()` logged must be the loss on the `data["valid"]` the grader made, and the training loss
must go down, both computed here from the weights the callback reports, so validating on the
training set, or not training, fails. (The budget checks' feedback figure does draw the history
fit() logged, beside the reference's from cifar10_reference_curves.json: a picture, no verdict.)
"""
from __future__ import annotations

import functools
import hashlib
import inspect
import json
import lzma
import math
import os
import pickle
from pathlib import Path

import numpy as np

from ..runtime import HELD_OUT_CIFAR10
from . import Checks, Code, Observation, as_numbers, call, chart, datasets_dir, grading_cache, series
from .schedules import one_cycle  # the 1cycle rates both assignments ask for

checks = Checks()

# The grading budget (the notebook's set-up cell has the same values, for the Colab tests). Its
# cost is mostly TensorFlow tracing each model's training step, which grows with the depth, so
# the budget trains 4-layer versions for 2 epochs on 2,048 images (32 full batches). The
# thresholds come from several seeds of the reference, the correct variants and typical wrong
# answers (scripts/run_cifar10_full.py --budget-seeds, results/full/cifar10_budget_seeds.csv).
BUDGET_EPOCHS, BUDGET_BATCH, BUDGET_DEPTH, BUDGET_TRAIN = 2, 64, 4, 2048
BUDGET = {  # model -> (builder, extra arguments, learning rate, accuracy threshold)
    "deep": ("build_deep_model", {"n_hidden": BUDGET_DEPTH}, 3e-4, 0.20),
    "bn": ("build_bn_model", {"n_hidden": BUDGET_DEPTH}, 1e-3, 0.15),
    "selu": ("build_selu_model", {"n_hidden": BUDGET_DEPTH}, 3e-4, 0.20),
}
EVAL_IMAGES = 1000          # held-out validation images per budget check (of indices 1000-4999)
ACTIVATION_LAYERS = {"Activation", "ELU", "ReLU", "LeakyReLU", "PReLU", "Softmax"}

# ------------------------------------------------------------------------- kernel-side helpers
# Sent to the kernel by the checks: they describe a model as plain data, nothing is judged there.
DESCRIBE = Code('''
KNOWN = ("Dense", "BatchNormalization", "LayerNormalization", "Activation", "ELU", "ReLU",
         "LeakyReLU", "PReLU", "Softmax", "Flatten", "Reshape", "AlphaDropout", "GaussianDropout",
         "GaussianNoise", "SpatialDropout1D", "Dropout")

def leaf_layers(model):
    out = []
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            out += leaf_layers(layer)
        elif not isinstance(layer, keras.layers.InputLayer):
            out.append(layer)
    return out

def called_order(model):
    """The leaf layers in the order a forward pass calls them (a subclassed model lists its
    layers in the order it created them, and a shared layer appears once in model.layers)."""
    x = np.zeros((2, 32, 32, 3), dtype="float32")
    try:  # a first call builds a subclassed model (which calls every layer twice): not traced
        model(x, training=False)
    except Exception:
        pass
    layers, order = leaf_layers(model), []
    for layer in layers:
        def traced(*args, _layer=layer, _call=layer.call, **kwargs):
            order.append(_layer)
            return _call(*args, **kwargs)
        layer.call = traced
    try:
        model(x, training=False)
    except Exception:
        order = []
    finally:
        for layer in layers:
            try:
                del layer.call
            except Exception:
                pass
    return order or layers

def kind_of(obj, known=KNOWN):
    for cls in type(obj).__mro__:
        if cls.__name__ in known and cls.__module__.startswith("keras"):
            return cls.__name__
    return type(obj).__name__

def act_name(fn):
    if fn is None:
        return None
    return str(getattr(fn, "__name__", None) or type(fn).__name__).lower()

def init_info(init):
    info = {"class": type(init).__name__}
    for attr in ("scale", "mode", "distribution"):
        value = getattr(init, attr, None)
        if isinstance(value, (int, float, str)):
            info[attr] = value
    return info

def describe_layer(layer):
    d = {"kind": kind_of(layer)}
    if d["kind"] == "Dense":
        d.update(units=int(layer.units), activation=act_name(layer.activation),
                 init=init_info(layer.kernel_initializer))
    elif d["kind"] == "Activation":
        d["activation"] = act_name(layer.activation)
    elif d["kind"] in ("ELU", "ReLU", "LeakyReLU", "PReLU", "Softmax"):
        d["activation"] = d["kind"].lower()
    rate = getattr(layer, "rate", None)
    if isinstance(rate, (int, float)):
        d["rate"] = float(rate)
    return d

def describe(model):
    return [describe_layer(layer) for layer in called_order(model)]

def compile_info(model):
    opt = getattr(model, "optimizer", None)
    if not getattr(model, "compiled", False) or opt is None:
        return {"compiled": False}
    loss = getattr(model, "loss", None)
    loss = loss if isinstance(loss, str) else (getattr(loss, "name", None) or getattr(loss, "__name__", None)
                                               or type(loss).__name__)
    try:  # the task asks for metrics=["accuracy"] (make_callbacks' EarlyStopping watches it)
        metrics = str(model.get_compile_config().get("metrics"))[:300]
    except Exception:
        metrics = "?"
    return {"compiled": True, "optimizer": type(opt).__name__, "metrics": metrics,
            "nadam": isinstance(opt, keras.optimizers.Nadam),
            "learning_rate": float(np.asarray(keras.ops.convert_to_numpy(opt.learning_rate)).reshape(())),
            "loss": str(loss)}

def probabilities(model):
    x = np.random.default_rng(0).random((4, 32, 32, 3), dtype="float32")
    return keras.ops.convert_to_numpy(model(x, training=False))
''')

BATCH_1 = Code('''
import os, pickle

def cifar_batch_1():
    """The first 10,000 CIFAR-10 training images (uint8, NHWC) and labels: the budget's data."""
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    for folder in ("cifar-10-batches-py-target/cifar-10-batches-py", "cifar-10-batches-py"):
        path = os.path.join(home, "datasets", folder, "data_batch_1")
        if os.path.exists(path):
            with open(path, "rb") as f:
                d = pickle.load(f, encoding="bytes")
            x = np.asarray(d[b"data"], dtype="uint8").reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
            return x, np.asarray(d[b"labels"], dtype="int64")
    (x, y), _ = keras.datasets.cifar10.load_data()
    return x[:10000], y[:10000].ravel()

def perturbed(images, seed):
    rs = np.random.default_rng(seed)
    out = images.astype("int16")
    flip = rs.random(len(out)) < 0.5
    out[flip] = out[flip][:, :, ::-1]
    out += rs.integers(-3, 4, size=out.shape, dtype="int16")
    return np.clip(out, 0, 255).astype("float32") / 255.0

def predicted_classes(model, X):
    return np.concatenate([np.argmax(keras.ops.convert_to_numpy(model(X[i:i + 500], training=False)), axis=1)
                           for i in range(0, len(X), 500)])
''')


# The feedback figure of a budget check: the validation accuracy fit() logged after each epoch,
# from the History the student's train_model returns (a figure only: no verdict reads it).
EPOCH_CURVE = Code('''
def logged_curve(history, name="val_accuracy"):
    return [float(v) for v in list(history.history.get(name, []))[:12]]
''')


@functools.lru_cache(maxsize=1)
def batch_1_labels() -> np.ndarray:
    """Labels of CIFAR-10's data_batch_1 (the budget's training and validation images), read by
    the grader itself: from a decompressed Keras cache when one is there, else from the offline
    datasets (grading.runtime.datasets_dir)."""
    candidates = []
    for home in (grading_cache() / "keras_home", os.environ.get("KERAS_HOME")):
        if home:
            candidates += [Path(home) / "datasets" / "cifar-10-batches-py-target" / "cifar-10-batches-py" / "data_batch_1",
                           Path(home) / "datasets" / "cifar-10-batches-py" / "data_batch_1"]
    candidates.append(datasets_dir() / "cifar-10-batches-py" / "data_batch_1.xz")
    for path in candidates:
        if path.is_file():
            raw = path.read_bytes()
            if path.suffix == ".xz":
                raw = lzma.decompress(raw)
            labels = np.asarray(pickle.loads(raw, encoding="bytes")[b"labels"], dtype=np.int64)
            if labels.shape == (10000,):
                return labels
    raise RuntimeError("the grader cannot read CIFAR-10's labels (data_batch_1): looked in "
                       + ", ".join(str(p) for p in candidates))


# ------------------------------------------------------------------------- judging a network
def init_family(info) -> str:
    if not isinstance(info, dict):
        return "?"
    name = str(info.get("class", "")).replace("_", "").lower()
    for family in ("he", "lecun", "glorot"):
        if name in (family + "normal", family + "uniform"):
            return family
    try:
        key = (info.get("mode"), float(info.get("scale")))
    except (TypeError, ValueError):
        return name
    return {("fan_in", 2.0): "he", ("fan_in", 1.0): "lecun", ("fan_avg", 1.0): "glorot"}.get(key, name)


def _activations(block: list[dict], own: str | None) -> list[str]:
    acts = [own] + [l.get("activation") for l in block if l.get("kind") in ACTIVATION_LAYERS]
    return [a for a in acts if a not in (None, "linear")]


def network_problems(layers, n_hidden: int, n_neurons: int, activation: str, family: str,
                     style: str, dropout_rate: float | None = None) -> list[str]:
    """What is wrong with a described network (empty if nothing). `style`: "plain" (Flatten,
    then Dense layers with their activation), "bn" (one BatchNormalization per hidden layer,
    before or after its activation, and optionally one on the inputs), "alpha" (plain, plus
    AlphaDropout layers of `dropout_rate`)."""
    if not isinstance(layers, list) or not all(isinstance(l, dict) for l in layers):
        return ["the model could not be described"]
    problems = []
    dense = [i for i, l in enumerate(layers) if l.get("kind") == "Dense"]
    if not dense:
        return ["no Dense layer"]
    head = [l.get("kind") for l in layers[:dense[0]]]
    allowed_head = [["Flatten"], ["Reshape"]]
    if style == "bn":
        allowed_head += [["Flatten", "BatchNormalization"], ["Reshape", "BatchNormalization"]]
    if style == "alpha":
        allowed_head += [["Flatten", "AlphaDropout"]]
    if head not in allowed_head:
        problems.append(f"before the first Dense layer: {head}, expected a Flatten layer"
                        + (" (and optionally BatchNormalization)" if style == "bn" else ""))
    output = layers[dense[-1]]
    tail = layers[dense[-1] + 1:]
    if output.get("units") != 10:
        problems.append(f"the output Dense layer has {output.get('units')} units, expected 10 (one per class)")
    if _activations(tail, output.get("activation")) != ["softmax"] or any(
            l.get("kind") not in ACTIVATION_LAYERS for l in tail):
        problems.append("the output layer should use the softmax activation")
    hidden = dense[:-1]
    if len(hidden) != n_hidden:
        problems.append(f"expected {n_hidden} hidden Dense layers, found {len(hidden)}")
    widths = sorted({layers[i].get("units") for i in hidden}, key=str)
    if widths and widths != [n_neurons]:
        problems.append(f"every hidden layer should have {n_neurons} units, found widths {widths}")
    families = sorted({init_family(layers[i].get("init")) for i in hidden})
    if families and families != [family]:
        problems.append(f"hidden layers should use {family} initialization, found {families}")
    for number, (i, end) in enumerate(zip(hidden, dense[1:]), start=1):
        block = layers[i + 1:end]
        acts = _activations(block, layers[i].get("activation"))
        if acts != [activation]:
            problems.append(f"hidden layer {number}: activation(s) {acts or ['none']}, expected ['{activation}']")
            break
        others = [l.get("kind") for l in block if l.get("kind") not in ACTIVATION_LAYERS]
        if style == "bn" and others != ["BatchNormalization"]:
            problems.append(f"hidden layer {number} should be followed by one BatchNormalization "
                            f"(before or after its activation), found {others or 'none'}")
            break
        if style == "alpha" and any(k != "AlphaDropout" for k in others):
            problems.append(f"after hidden layer {number}: {others}; a self-normalizing network takes "
                            "only AlphaDropout between its Dense layers")
            break
        if style == "plain" and others:
            problems.append(f"after hidden layer {number}: {others}; this network has only Dense layers")
            break
    if style == "alpha":
        rates = sorted({round(float(l.get("rate", -1)), 6) for l in layers if l.get("kind") == "AlphaDropout"})
        if not rates:
            problems.append("no AlphaDropout layer")
        elif rates != [round(float(dropout_rate), 6)]:
            problems.append(f"AlphaDropout rate(s) {rates}, expected {dropout_rate}")
    return problems


def compile_problems(info, learning_rate: float) -> list[str]:
    if not isinstance(info, dict) or not info.get("compiled"):
        return ["the model is not compiled (call model.compile(...))"]
    problems = []
    if info.get("nadam") is not True:
        problems.append(f"expected a Nadam optimizer, got {info.get('optimizer')}")
    lr = info.get("learning_rate")
    if not isinstance(lr, (int, float)) or not math.isclose(lr, learning_rate, rel_tol=1e-4):
        problems.append(f"expected learning_rate={learning_rate:.4g}, got {lr}")
    if str(info.get("loss", "")).replace("_", "").lower() != "sparsecategoricalcrossentropy":
        problems.append(f"expected the loss 'sparse_categorical_crossentropy', got {info.get('loss')!r}")
    if "acc" not in str(info.get("metrics", "")).lower():
        problems.append(f"expected metrics=['accuracy'], got {info.get('metrics')}")
    return problems


def _problems_test(find):
    def test(obs: Observation):
        problems = find(obs.value)
        return "; ".join(problems) if problems else None
    return test


def _probabilities_test(obs: Observation):
    out = as_numbers(obs.value)
    if out is None or out.shape != (4, 10):
        return f"the output for 4 images should have shape (4, 10), got {None if out is None else out.shape}"
    if not np.allclose(out.sum(axis=1), 1.0, atol=1e-4) or (out < 0).any():
        return "the outputs are not class probabilities (use a softmax output layer)"
    return None


def check_model(p, builder: str, kwargs: dict, n_hidden: int, n_neurons: int, learning_rate: float,
                activation: str, family: str, style: str, dropout_rate: float | None = None,
                label: str = "") -> None:
    """Build a model with the student's builder; judge its layers ("layers") and compile ("compile")."""
    n = len(p.steps)
    model, built = f"model{n}", f"built{n}"
    expr = call(builder, **kwargs)
    what = label or str(expr)
    p.run(f"{model} = record({built!r}, lambda: {expr})", key=built)
    p.expect(f"{what} returns a model", built, lambda obs: None, part="layers")
    p.expect(f"the layers of {what}", f"describe({model})",
             _problems_test(lambda v: network_problems(v, n_hidden, n_neurons, activation, family, style,
                                                       dropout_rate)), part="layers",
             hidden_text="wrong layers", schema=("list", ("dict", {"kind": "str"}), None))
    p.expect(f"the output of {what}", f"probabilities({model})", _probabilities_test, part="layers",
             hidden_text="not class probabilities")
    p.expect(f"the compile settings of {what}", f"compile_info({model})",
             _problems_test(lambda v: compile_problems(v, learning_rate)), part="compile",
             hidden_text="wrong optimizer, learning rate, loss or metrics", schema=("dict", {"compiled": "bool"}))


def _other_size(rng):
    return int(rng.integers(2, 7)), int(rng.integers(8, 65))


def check_resized_model(p, rng, builder, lowest_lr_exponent, activation, init, kind):
    """`builder` called with a random depth, width and learning rate (10 ** U(lowest, -2))."""
    h, n = _other_size(rng)
    lr = float(10 ** rng.uniform(lowest_lr_exponent, -2))
    check_model(p, builder, dict(n_hidden=h, n_neurons=n, learning_rate=lr), h, n, lr,
                activation, init, kind, label=f"{builder} with other depth, width and learning rate")


# ------------------------------------------------------------------------------ a. deep model
@checks("test_deep_model")
def deep_model(p, rng):
    p.run(DESCRIBE)
    check_model(p, "build_deep_model", {}, 20, 100, 1e-4, "elu", "he", "plain", label="build_deep_model()")
    # The defaults are fixed by the task: they count only with a network of a drawn size (same parts).
    check_resized_model(p, rng, "build_deep_model", -5, "elu", "he", "plain")


@checks("test_deep_model_hidden", hidden=True)
def deep_model_hidden(p, rng):
    p.run(DESCRIBE)
    for _ in range(2):
        check_resized_model(p, rng, "build_deep_model", -5, "elu", "he", "plain")


# ------------------------------------------------------------------------ b. callbacks, training
@checks("test_callbacks")
def callbacks(p, rng):
    patience = int(rng.integers(3, 30))
    p.run(f"cbs = record('made', lambda: make_callbacks(patience={patience}))", key="made")
    p.expect("make_callbacks returns a list", "made",
             lambda obs: None if obs.kind in ("list", "tuple") else f"got a {obs.kind}", part="stopper")
    p.value("[dict(monitor=str(c.monitor), mode=str(getattr(c, 'mode', 'auto')), patience=c.patience,"
            " restore=c.restore_best_weights) for c in cbs if isinstance(c, keras.callbacks.EarlyStopping)]",
            key="stoppers")

    def one_on_accuracy(obs):
        found = obs.value if isinstance(obs.value, list) else []
        if len(found) != 1:
            return f"expected one EarlyStopping in the list, found {len(found)}"
        if found[0].get("monitor") != "val_accuracy" or found[0].get("mode") not in ("auto", "max"):
            return (f"EarlyStopping should monitor 'val_accuracy' (mode 'max' or 'auto'), got "
                    f"{found[0].get('monitor')!r} (mode {found[0].get('mode')!r})")
        return None

    def settings(obs):
        found = obs.value if isinstance(obs.value, list) else []
        if len(found) != 1:
            return "no single EarlyStopping"
        if found[0].get("patience") != patience:
            return f"make_callbacks(patience={patience}) gave patience={found[0].get('patience')}"
        if found[0].get("restore") is not True:
            return "EarlyStopping should restore the best weights (restore_best_weights=True)"
        return None
    p.expect("the EarlyStopping watches the validation accuracy", "stoppers", one_on_accuracy, part="stopper")
    p.expect("the EarlyStopping's patience and restored weights", "stoppers", settings, part="settings")
    # The release gives the signature make_callbacks(patience=10): the default is part of the task.
    p.value("[c.patience for c in make_callbacks() if isinstance(c, keras.callbacks.EarlyStopping)]",
            key="default_patience")
    p.equal("make_callbacks() with the default patience of the signature (10)", [10], "default_patience",
            part="settings")


_TRAIN_WATCH = '''
def weights_of(model):
    return [keras.ops.convert_to_numpy(w).tolist() for w in model.get_weights()]

class Watch(keras.callbacks.Callback):
    """Records what fit() does: steps per epoch, epochs, batches, the logged validation loss, and
    the model's weights at the start and at the end of every epoch (the grader computes the
    losses from them on data it made itself)."""
    def on_train_begin(self, logs=None):
        self.steps, self.epochs, self.batches = self.params.get("steps"), 0, 0
        self.val_loss, self.weights, self.start = [], [], weights_of(self.model)

    def on_train_batch_end(self, batch, logs=None):
        self.batches += 1

    def on_epoch_end(self, epoch, logs=None):
        self.epochs += 1
        logs = logs or {}
        self.val_loss.append(float(logs["val_loss"]) if "val_loss" in logs else None)
        self.weights.append(weights_of(self.model))

keras.utils.set_random_seed(0)
tiny = keras.Sequential([keras.Input(shape=(32, 32, 3)), keras.layers.GlobalAveragePooling2D(),
                         keras.layers.Dense(10, activation="softmax")])
tiny.compile(optimizer=keras.optimizers.SGD(learning_rate=1.0), loss="sparse_categorical_crossentropy",
             metrics=["accuracy"])
'''


# Images whose mean colour decides the class (learnable by the tiny model: mean colour, then
# softmax); the validation labels follow another rule, so the losses on data["valid"] and on
# data["train"] soon differ. The same code makes them in the kernel and here (TINY_DATA).
TINY_DATA = """
rs = np.random.default_rng({seed})
Xtr = (rs.normal(0, 1, size=({n_train}, 1, 1, 3)) + rs.normal(0, 0.1, size=({n_train}, 32, 32, 3))).astype(np.float32)
Xva = (rs.normal(0, 1, size=({n_valid}, 1, 1, 3)) + rs.normal(0, 0.1, size=({n_valid}, 32, 32, 3))).astype(np.float32)
W = rs.normal(size=(3, 10)).astype(np.float32)
ytr = np.argmax(Xtr.mean(axis=(1, 2)) @ W, axis=1)
yva = (np.argmax(Xva.mean(axis=(1, 2)) @ W, axis=1) + 3) % 10
"""


def _tiny_data(seed: int, n_train: int, n_valid: int):
    names = {"np": np}
    exec(TINY_DATA.format(seed=seed, n_train=n_train, n_valid=n_valid), names)
    return names["Xtr"], names["ytr"], names["Xva"], names["yva"]


def _loss(weights, X, y) -> float:
    """The tiny model's cross-entropy on (X, y), computed here from its reported weights."""
    kernel, bias = (np.asarray(w, dtype=np.float64) for w in weights)
    logits = np.asarray(X, np.float64).mean(axis=(1, 2)) @ kernel + bias
    logits -= logits.max(axis=1, keepdims=True)
    log_p = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    return float(-np.maximum(log_p[np.arange(len(y)), y], np.log(1e-7)).mean())


@checks("test_train_model")
def train_model(p, rng):
    seed, n_valid = int(rng.integers(0, 2**31)), int(rng.integers(60, 120))
    batch = int(rng.choice([25, 40, 50, 60]))
    n_train = batch * int(rng.integers(4, 8)) + int(rng.integers(1, batch))   # a last, smaller batch
    epochs = int(rng.integers(2, 4))
    steps = math.ceil(n_train / batch)
    Xtr, ytr, Xva, yva = _tiny_data(seed, n_train, n_valid)
    p.run(TINY_DATA.format(seed=seed, n_train=n_train, n_valid=n_valid)
          + "data = {'train': (Xtr, ytr), 'valid': (Xva, yva)}")
    p.run(_TRAIN_WATCH)
    p.run("watch = Watch()\n"
          f"history = record('history', lambda: train_model(tiny, data, epochs={epochs}, batch_size={batch},"
          " callbacks=[watch]))", key="history")
    p.expect("train_model returns fit()'s History", "isinstance(history, keras.callbacks.History)",
             lambda obs: None if obs.value is True else "got something else", part="run")
    p.equal(f"epochs seen by the callbacks passed to train_model (epochs={epochs})", epochs, "watch.epochs",
            part="run")
    p.equal(f"steps per epoch ({n_train} training images in batches of {batch})", steps, "watch.steps",
            part="run")
    p.equal("batches trained", steps * epochs, "watch.batches", part="run")
    p.expect("train_model(..., callbacks=None)", "train_model(tiny, data, epochs=1, batch_size=100) is not None",
             lambda obs: None if obs.value is True else "returned None", part="run")
    p.expect("train_model with the default callbacks", "train_model(tiny, data, 1, batch_size=100) is not None",
             lambda obs: None if obs.value is True else "returned None", part="run")
    # The default batch size the task gives (32): 96 and 97 images take 3 and 4 steps in batches
    # of 32, and a different count for every other size from 16 to 64.
    p.run("default_steps = []\n"
          "for k in (96, 97):\n"
          "    w = Watch()\n"
          "    train_model(tiny, {'train': (Xtr[:k], ytr[:k]), 'valid': data['valid']}, 1, callbacks=[w])\n"
          "    default_steps.append(w.steps)", key="default_batch")
    p.equal("steps per epoch for 96 and 97 images with the default batch size (32)", [3, 4], "default_steps",
            part="run")

    # Both losses are the grader's, from the reported weights and the data it made: a train_model
    # that does not train, or reports a loss it computed itself on other data, fails.
    def validated_on_valid(obs):
        got = obs.value
        logged = got["loss"]
        if len(logged) != epochs or any(not isinstance(v, (int, float)) for v in logged):
            return "no validation loss per epoch: pass validation_data=data['valid']"
        want = [_loss(w, Xva, yva) for w in got["weights"]]
        if not np.allclose(logged, want, rtol=2e-3, atol=1e-4):
            return (f"the validation loss fit() logged ({np.round(logged, 4).tolist()}) is not the loss on "
                    f"data['valid'] ({np.round(want, 4).tolist()}): validate on data['valid']")
        if not _loss(got["weights"][-1], Xtr, ytr) < 0.9 * _loss(got["start"], Xtr, ytr):
            return "the model did not learn from data['train'] (its training loss did not go down)"
        return None
    p.expect("the data fit() trains and validates on",
             "dict(loss=watch.val_loss, weights=watch.weights, start=watch.start)", validated_on_valid,
             part="validation", schema=("dict", {"loss": ("list", None, epochs),
                                                 "weights": ("list", ("list", None, 2), epochs),
                                                 "start": ("list", None, 2)}))


# The optimizer's slots created before fit(): on TensorFlow, fit() otherwise creates them inside
# its first trace of the training step, and a tf.function that creates variables is traced twice.
# That second trace was about half of a budget run's time; the training is bit-for-bit the same.
# Only for a built model with weights (a subclassed model builds on its first call).
PREBUILD_OPTIMIZER = ("if getattr(model, 'optimizer', None) is not None and not model.optimizer.built \\\n"
                      "        and model.built and model.trainable_variables:\n"
                      "    model.optimizer.build(model.trainable_variables)\n")


def _budget(p, rng, model: str) -> None:
    builder, extra, lr, threshold = BUDGET[model]
    labels = batch_1_labels()
    held_out = np.arange(HELD_OUT_CIFAR10.start, HELD_OUT_CIFAR10.stop)
    idx = np.sort(rng.choice(held_out, size=EVAL_IMAGES, replace=False))
    seed, noise = int(rng.integers(0, 1000)), int(rng.integers(0, 2**31))
    p.run(BATCH_1 + EPOCH_CURVE)
    # The sandbox's copy of these images has other labels (grading.runtime.kernel_copy); each
    # submission sees them mirrored at random and with pixel noise of +-3 levels, so a table of
    # the original images' hashes finds nothing either.
    p.run("X, Y = cifar_batch_1()\n"
          f"train = (X[5000:{5000 + BUDGET_TRAIN}].astype('float32') / 255.0, Y[5000:{5000 + BUDGET_TRAIN}])\n"
          "valid = (X[:1000].astype('float32') / 255.0, Y[:1000])\n"
          f"X_eval = perturbed(X[{idx.tolist()!r}], {noise})")
    if model == "selu":
        p.run("X_tr, X_va, X_eval = standardize(train[0], valid[0], X_eval)\n"
              "train, valid = (X_tr, train[1]), (X_va, valid[1])", key="standardize")
    args = ", ".join([f"{k}={v!r}" for k, v in extra.items()] + [f"learning_rate={lr!r}"])
    p.run(f"keras.utils.set_random_seed({seed})\n"
          f"model = {builder}({args})\n"
          f"{PREBUILD_OPTIMIZER}"
          f"budget_history = train_model(model, {{'train': train, 'valid': valid}}, epochs={BUDGET_EPOCHS},"
          f" batch_size={BUDGET_BATCH}, callbacks=make_callbacks(patience={BUDGET_EPOCHS}))", key="train")
    want = labels[idx]

    def accuracy(obs):  # the labels are the grader's: the kernel's copy has others there
        pred = as_numbers(obs.value)
        if pred is None or pred.shape != want.shape:
            return "no prediction for every held-out image"
        acc = float(np.mean(pred == want))
        return None if acc >= threshold else (
            f"accuracy {acc:.3f} on {EVAL_IMAGES} held-out validation images, expected at least "
            f"{threshold} (chance is 0.10)")
    what = {"deep": "the deep model", "bn": "the BN model", "selu": "the SELU model"}[model]
    inputs = " standardized" if model == "selu" else ""
    p.expect(f"{what} ({BUDGET_DEPTH} hidden layers) after {BUDGET_EPOCHS} epochs on {BUDGET_TRAIN:,}{inputs} images",
             "predicted_classes(model, X_eval)", accuracy, schema=("array", (EVAL_IMAGES,)))
    p.value("logged_curve(budget_history)", key="epoch_accuracy")   # the figure's
    p.figure_from(functools.partial(budget_figure, model, threshold))


# ------------------------------------------------------------------- the budget checks' figure
REFERENCE_CURVES = Path(__file__).with_name("cifar10_reference_curves.json")
SOLUTION = Path(__file__).resolve().parents[2] / "solutions" / "cifar10" / "cifar10.ipynb"


def budget_fingerprint() -> str:
    """What the reference's curves depend on: the budget's constants and kernel code (thresholds
    aside) and the solution notebook. scripts/cifar10_reference_curves.py records it with them."""
    parts = [repr({m: v[:3] for m, v in BUDGET.items()}), repr((BUDGET_EPOCHS, BUDGET_BATCH, BUDGET_DEPTH,
             EVAL_IMAGES)), BATCH_1, EPOCH_CURVE, PREBUILD_OPTIMIZER, inspect.getsource(_budget)]
    digest = hashlib.sha256("\0".join(parts).encode())
    digest.update(SOLUTION.read_bytes() if SOLUTION.is_file() else b"")
    return digest.hexdigest()[:16]


@functools.lru_cache(maxsize=1)
def reference_curves() -> dict:
    """model -> {"mean", "low", "high"} per epoch, and "runs": the reference's held-out accuracy
    under this budget ({} when the file is missing or was measured for another budget)."""
    try:
        data = json.loads(REFERENCE_CURVES.read_text())
    except (OSError, ValueError):
        return {}
    return data if data.get("fingerprint") == budget_fingerprint() else {}


def epoch_accuracies(report: dict) -> list:
    """The validation accuracy after each epoch, as the probe observed it in fit()'s History."""
    obs = Observation.of(report, "epoch_accuracy")
    if obs.problem() is not None or not isinstance(obs.value, list):
        return []
    return [v if isinstance(v, (int, float)) and not isinstance(v, bool) else None for v in obs.value]


def budget_figure(model: str, threshold: float, report: dict) -> dict:
    accs = epoch_accuracies(report)
    ref = reference_curves().get("models", {}).get(model)
    epochs = list(range(1, BUDGET_EPOCHS + 1))
    parts = [series("limit", f"needed for the points ({threshold:g}, on held-out images)", [0], [threshold])]
    if ref:
        runs = reference_curves().get("runs")
        parts[:0] = [series("band", f"reference solution, range of {runs} runs", epochs, [], ref["low"], ref["high"]),
                     series("right", "reference solution, mean", epochs, ref["mean"])]
    if any(a is not None for a in accs):
        parts.append(series("yours", "your network", list(range(1, len(accs) + 1)), accs))

    def listed(values):
        return ", ".join("none" if v is None else f"{v:.2f}" for v in values)
    said = (f"yours {listed(accs)}" if any(a is not None for a in accs) else
            "no validation accuracy per epoch came back from your train_model (it returns fit()'s History, "
            "validated on data['valid'])")
    said += (f"; the reference solution's mean over {reference_curves().get('runs')} runs {listed(ref['mean'])}"
             if ref else "; no reference curve was measured for this budget")
    return chart(
        f"{model}: validation accuracy after each epoch",
        f"Line chart of the validation accuracy after each of the {BUDGET_EPOCHS} epochs of the grading "
        f"budget ({BUDGET_TRAIN:,} training images, batches of {BUDGET_BATCH}), as fit() logged it: {said}. The points "
        f"need at least {threshold:g} on {EVAL_IMAGES:,} held-out images with the weights kept at the end.",
        "epoch", "validation accuracy", parts,
        caption="Your network trained by your train_model on the grading budget (the validation accuracy "
                "fit() logged after every epoch) against the reference solution trained the same way; "
                "the points are scored by the grader on other held-out images (chance is 0.10).")


@checks("test_train_deep_budget")
def train_deep_budget(p, rng):
    _budget(p, rng, "deep")


# ------------------------------------------------------------------------- c. batch normalization
@checks("test_bn_model", hidden=True)
def bn_model(p, rng):
    p.run(DESCRIBE)
    check_model(p, "build_bn_model", {}, 20, 100, 1e-3, "elu", "he", "bn", label="build_bn_model()")
    check_resized_model(p, rng, "build_bn_model", -4, "elu", "he", "bn")


@checks("test_train_bn_budget")
def train_bn_budget(p, rng):
    _budget(p, rng, "bn")


# ------------------------------------------------------------------------------------ d. SELU
def _standardize_data(seed: int):
    rs = np.random.default_rng(seed)
    loc = rs.uniform(-3, 3, size=(1, 4, 4, 3))
    scale = rs.uniform(0.5, 4, size=(1, 4, 4, 3))
    A = (loc + scale * rs.standard_normal((60, 4, 4, 3))).astype(np.float32)
    B = (loc + 1.5 + 2 * scale * rs.standard_normal((20, 4, 4, 3))).astype(np.float32)
    C = (loc - 1.0 + 0.5 * scale * rs.standard_normal((7, 4, 4, 3))).astype(np.float32)
    return A, B, C


def _standardized(A, arrays, axes, ddof):
    A = A.astype(np.float64)
    mean, std = A.mean(axis=axes, keepdims=True), A.std(axis=axes, keepdims=True, ddof=ddof)
    return [(np.asarray(X, np.float64) - mean) / std for X in arrays]


@checks("test_standardize")
def standardize(p, rng):
    seed = int(rng.integers(0, 2**31))
    A, B, C = _standardize_data(seed)
    p.run(f"rs = np.random.default_rng({seed})\n"
          "loc = rs.uniform(-3, 3, size=(1, 4, 4, 3))\n"
          "scale = rs.uniform(0.5, 4, size=(1, 4, 4, 3))\n"
          "A = (loc + scale * rs.standard_normal((60, 4, 4, 3))).astype(np.float32)\n"
          "B = (loc + 1.5 + 2 * scale * rs.standard_normal((20, 4, 4, 3))).astype(np.float32)\n"
          "C = (loc - 1.0 + 0.5 * scale * rs.standard_normal((7, 4, 4, 3))).astype(np.float32)")
    p.run("out = record('three', lambda: standardize(A, B, C))", key="three")
    p.run("alone = record('one', lambda: standardize(A))", key="one")
    # Per input feature (axis 0) or per colour channel, population or sample standard deviation.
    accepted = [_standardized(A, (A, B, C), axes, ddof) for axes in (0, (0, 1, 2)) for ddof in (0, 1)]

    def values(obs):
        got = obs.value if isinstance(obs.value, list) else None
        if got is None or len(got) != 3:
            return "standardize(X_train, A, B) should return 3 arrays"
        arrays = [as_numbers(g) for g in got]
        if any(a is None or a.shape != w.shape for a, w in zip(arrays, accepted[0])):
            return "standardize changed the shapes"
        for want in accepted:
            if all(np.allclose(a, w, rtol=1e-3, atol=2e-3) for a, w in zip(arrays, want)):
                return None
        if any(np.allclose(arrays[0], w[0], rtol=1e-3, atol=2e-3) for w in accepted):
            return "the other arrays must be standardized with the training set's mean and std, not their own"
        return ("the training set is not standardized per input feature (axis 0) or per colour channel "
                "with its mean and standard deviation")
    p.expect("standardize(X_train, A, B) with the training set's statistics", "three", values, part="values")
    p.expect("standardize(X_train) alone returns a tuple of one array", "one",
             lambda obs: None if obs.kind in ("tuple", "list") and isinstance(obs.value, list) and len(obs.value) == 1
             else f"got a {obs.kind} of {len(obs.value) if isinstance(obs.value, list) else '?'}", part="values")
    p.equal("the arrays standardize returns are float32", ["float32"] * 3,
            "[str(np.asarray(keras.ops.convert_to_numpy(o)).dtype) for o in out]", part="values")


@checks("test_selu_model", hidden=True)
def selu_model(p, rng):
    p.run(DESCRIBE)
    check_model(p, "build_selu_model", {}, 20, 100, 3e-4, "selu", "lecun", "plain", label="build_selu_model()")
    check_resized_model(p, rng, "build_selu_model", -5, "selu", "lecun", "plain")


@checks("test_train_selu_budget")
def train_selu_budget(p, rng):
    _budget(p, rng, "selu")


# ------------------------------------------------------------------------ e. dropout, MC Dropout
@checks("test_alpha_dropout_model", hidden=True)
def alpha_dropout_model(p, rng):
    p.run(DESCRIBE)
    check_model(p, "build_alpha_dropout_model", {}, 20, 100, 3e-4, "selu", "lecun", "alpha", 0.1,
                label="build_alpha_dropout_model()")
    h, n = _other_size(rng)
    lr = float(10 ** rng.uniform(-5, -2))
    rate = float(np.round(rng.uniform(0.05, 0.4), 3))
    check_model(p, "build_alpha_dropout_model", dict(n_hidden=h, n_neurons=n, learning_rate=lr, dropout_rate=rate),
                h, n, lr, "selu", "lecun", "alpha", rate,
                label="build_alpha_dropout_model with other depth, width, learning rate and dropout rate")


_MC_MODELS = '''
class RandomShift(keras.layers.Layer):
    """training=True: each row becomes the one-hot of (its own class + a random shift of 0-4) mod
    10, drawn anew for every row of every call; otherwise the uniform distribution."""
    def __init__(self, seed, **kwargs):
        super().__init__(**kwargs)
        self.gen = keras.random.SeedGenerator(seed)

    def call(self, inputs, training=None):
        if training:
            base = keras.ops.cast(inputs[:, 0], "int32")
            shift = keras.random.randint(keras.ops.shape(base), 0, 5, seed=self.gen, dtype="int32")
            return keras.ops.one_hot((base + shift) % 10, 10)
        return keras.ops.zeros_like(inputs[:, :1]) + keras.ops.full((10,), 0.1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], 10)

def as_array(x):
    return isinstance(x, np.ndarray)
'''


def _mc_test(n: int, base: np.ndarray):
    """The MC mean of n calls with dropout on: multiples of 1/n, mass only on each row's five
    possible classes, and not the same one-hot in every sample."""
    allowed = np.zeros((len(base), 10), dtype=bool)
    for k in range(5):
        allowed[np.arange(len(base)), (base + k) % 10] = True

    def test(obs):
        got = as_numbers(obs.value)
        if got is None or got.shape != (len(base), 10):
            return f"expected an array of shape ({len(base)}, 10), got {None if got is None else got.shape}"
        if not np.allclose(got.sum(axis=1), 1, atol=1e-4):
            return "the rows are not probabilities (the mean of the samples)"
        if (np.abs(got[~allowed]) > 1e-5).any():
            return "probabilities on classes the model never predicted for that row (dropout off, or rows mixed up)"
        if not np.allclose(got * n, np.round(got * n), atol=1e-3):
            return f"not the mean of {n} predictions with dropout on (training=True)"
        if np.mean(got.max(axis=1) > 1 - 1e-5) > 0.5:
            return "the samples are all the same (one prediction repeated, not n with dropout on)"
        return None
    return test


@checks("test_mc_dropout")
def mc_dropout(p, rng):
    p.run(_MC_MODELS)
    rows = 40
    base = rng.integers(0, 10, size=rows)
    seed = int(rng.integers(0, 2**31))
    # Never a multiple of 10: the mean of the default 10 samples is then a multiple of 1/n too,
    # and an mc_dropout_predict that ignores n_samples would pass.
    n = int(rng.choice([3, 4, 5, 6, 7, 8, 9, 11, 12, 13, 15, 17, 19]))
    p.run(f"X = np.zeros(({rows}, 6), dtype='float32')\n"
          f"X[:, 0] = {base.tolist()!r}\n"
          f"fake = keras.Sequential([keras.Input(shape=(6,)), RandomShift({seed})])")
    p.expect(f"mc_dropout_predict returns a NumPy array", f"as_array(mc_dropout_predict(fake, X, n_samples={n}))",
             lambda obs: None if obs.value is True else "got something else", part="samples")
    p.expect(f"mc_dropout_predict(model, X, n_samples={n}) on a model whose every prediction with dropout on "
             "differs", f"mc_dropout_predict(fake, X, n_samples={n})", _mc_test(n, base), part="samples")
    p.expect("mc_dropout_predict(model, X) with the default n_samples", "mc_dropout_predict(fake, X)",
             _mc_test(10, base), part="default")
    p.run("keras.utils.set_random_seed(3)\n"
          "real = keras.Sequential([keras.Input(shape=(32, 32, 3)), keras.layers.Flatten(),"
          " keras.layers.Dense(16, activation='selu', kernel_initializer='lecun_normal'),"
          " keras.layers.AlphaDropout(0.3), keras.layers.Dense(10, activation='softmax')])\n"
          "Xr = np.random.default_rng(1).random((20, 32, 32, 3), dtype='float32')\n"
          "det = keras.ops.convert_to_numpy(real(Xr, training=False))")

    def real_model(obs):
        got = obs.value if isinstance(obs.value, dict) else {}
        mc, det = as_numbers(got.get("mc")), as_numbers(got.get("det"))
        if mc is None or mc.shape != (20, 10) or det is None:
            return "expected an array of shape (20, 10)"
        if not np.allclose(mc.sum(axis=1), 1, atol=1e-4):
            return "MC predictions are not probabilities"
        if np.allclose(mc, det, atol=1e-6):
            return "MC Dropout output equals the deterministic output: is dropout on?"
        return None
    p.expect("mc_dropout_predict on a real model with alpha dropout",
             "dict(mc=mc_dropout_predict(real, Xr, n_samples=8), det=det)", real_model, part="samples")


# ------------------------------------------------------------------------------------ f. 1cycle
@checks("test_one_cycle_rate")
def one_cycle_rate(p, rng):
    p.run("sched = OneCycleScheduler(total_steps=100, max_lr=1.0)", key="construct")
    for step in (0, 45, 90, 100, 150):
        p.close(f"OneCycleScheduler(100, max_lr=1.0).rate({step})", one_cycle(step, 100, 1.0),
                f"float(keras.ops.convert_to_numpy(sched.rate({step})))", atol=1e-10)
    p.equal("rate() must not change the scheduler's state (iteration)", 0, "sched.iteration")
    total, max_lr = int(rng.integers(50, 500)), round(float(rng.uniform(0.05, 1.0)), 4)
    p.run(f"drawn = OneCycleScheduler(total_steps={total}, max_lr={max_lr!r})", key="construct_drawn")
    for step in (int(rng.integers(1, total // 2)), int(rng.integers(total // 2, total))):
        p.close(f"OneCycleScheduler({total}, max_lr={max_lr}).rate({step})", one_cycle(step, total, max_lr),
                f"float(keras.ops.convert_to_numpy(drawn.rate({step})))", atol=1e-10)


@checks("test_one_cycle_rate_hidden", hidden=True)
def one_cycle_rate_hidden(p, rng):
    for k in range(4):
        total, max_lr = int(rng.integers(200, 5000)), float(rng.uniform(0.01, 1.0))
        start, frac = float(max_lr / rng.uniform(5, 30)), float(rng.uniform(0.02, 0.2))
        last = float(start / rng.uniform(100, 10000))
        kwargs = dict(start_lr=start, last_lr=last, anneal_fraction=frac)
        p.run(f"s{k} = {call('OneCycleScheduler', total, max_lr, **kwargs)}", key=f"construct{k}")
        a = (1 - frac) * total
        peak = a / 2
        for step in (0, int(peak * 0.3), int(np.ceil(peak)), int(peak * 1.5)):
            p.close("rate() rising and falling with other total_steps, max_lr, start_lr and anneal_fraction",
                    one_cycle(step, total, max_lr, **kwargs), f"float(keras.ops.convert_to_numpy(s{k}.rate({step})))",
                    atol=1e-12, part="cycle")
        for step in (int(np.ceil(a)), int(a + 0.5 * (total - a)), total - 1, total + 5):
            p.close("rate() in the final annealing with other last_lr and anneal_fraction",
                    one_cycle(step, total, max_lr, **kwargs), f"float(keras.ops.convert_to_numpy(s{k}.rate({step})))",
                    atol=1e-12, part="annealing")
    total, max_lr = int(rng.integers(200, 5000)), float(rng.uniform(0.01, 1.0))
    start = float(max_lr / rng.uniform(5, 30))
    p.run(f"d = {call('OneCycleScheduler', total, max_lr, start_lr=start)}", key="construct_default")
    for step in (int(0.3 * total), int(0.95 * total), total + 3):
        p.close("rate() with the default last_lr and anneal_fraction", one_cycle(step, total, max_lr, start_lr=start),
                f"float(keras.ops.convert_to_numpy(d.rate({step})))", atol=1e-12, part="annealing")


_RECORDER = '''
rs = np.random.default_rng(0)
Xt = rs.normal(size=(64, 4)).astype("float32")

def tiny_model():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.001), loss="mse")
    return model

class Recorder(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.rates = []

    def on_train_batch_end(self, batch, logs=None):
        self.rates.append(float(np.asarray(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))))
'''


@checks("test_one_cycle_callback", hidden=True)
def one_cycle_callback(p, rng):
    p.run(_RECORDER)
    p.run("sched = OneCycleScheduler(total_steps=8, max_lr=0.05)\n"
          "rec = Recorder()\n"
          "tiny_model().fit(Xt, Xt.sum(axis=1), batch_size=16, epochs=2, verbose=0, callbacks=[sched, rec])",
          key="fit_visible")
    p.close("the rate of each of the 8 batches (2 epochs of 4) with OneCycleScheduler(total_steps=8, max_lr=0.05)",
            [one_cycle(k, 8, 0.05) for k in range(8)], "rec.rates", atol=1e-9, part="parameters")
    total, max_lr = int(rng.integers(14, 22)), float(rng.uniform(0.02, 0.2))
    start, frac = float(max_lr / rng.uniform(4, 20)), float(rng.uniform(0.15, 0.35))
    last = float(start / rng.uniform(20, 200))
    p.run(f"sched2 = {call('OneCycleScheduler', total_steps=total, max_lr=max_lr, start_lr=start, last_lr=last, anneal_fraction=frac)}\n"
          "rec2 = Recorder()\n"
          "tiny_model().fit(Xt, Xt.sum(axis=1), batch_size=8, epochs=3, verbose=0, callbacks=[sched2, rec2])",
          key="fit_other")
    p.close("the rate of every batch with other start_lr, last_lr and anneal_fraction, past total_steps",
            [one_cycle(k, total, max_lr, start, last, frac) for k in range(24)], "rec2.rates", atol=1e-9,
            part="parameters")

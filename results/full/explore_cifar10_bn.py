"""Exploration for the CIFAR-10 capstone's part c (Batch Normalization), outside the notebook.

    .venv/bin/python results/full/explore_cifar10_bn.py --lr 5e-4 --placement before --seed 42

Trains the part-c network (20 x Dense(100, He) with BN, ELU, Nadam, batch 32, early stopping on
val_accuracy with restored weights) on the notebook's 45,000 / 5,000 split with the chosen
variant, and appends one row to logs/cifar10-bn-explore.csv beside this script: best validation accuracy,
best epoch, epochs run, median seconds per epoch. Used to choose the solution's settings for part c;
every run is kept, whatever it gave.
"""
from __future__ import annotations

import argparse
import csv
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
from grading import runtime  # noqa: E402

DATASETS = runtime.datasets_dir()
OUT = Path(__file__).resolve().parent / "logs" / "cifar10-bn-explore.csv"


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--lr", type=float, required=True)
    p.add_argument("--placement", choices=("before", "after"), default="before",
                   help="BN before the ELU (Dense without activation) or after it")
    p.add_argument("--no-input-bn", action="store_true", help="no BN right after Flatten")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--max-epochs", type=int, default=30)
    p.add_argument("--patience", type=int, default=10)
    p.add_argument("--train-size", type=int, default=45000)
    p.add_argument("--plateau", type=float, default=0.0,
                   help="ReduceLROnPlateau factor on val_accuracy, patience 3 (0: none)")
    p.add_argument("--threads", type=int, default=0, help="TF intra-op threads (0: TF's default)")
    return p.parse_args(argv)


def load_cifar10():
    """The notebook's split from the offline copy, seeded once into the maintainer commands'
    KERAS_HOME (scripts/setup-env.sh), not into a fresh 176 MB copy per run."""
    keras_home = Path(os.environ.get("KERAS_HOME", REPO / "_build" / "keras_home"))
    runtime.seed_cache(DATASETS, keras_home)
    os.environ["KERAS_HOME"] = str(keras_home)
    sys.path.append(str(DATASETS))
    import keras
    import keras_offline
    keras_offline.enable()
    (X, y), _ = keras.datasets.cifar10.load_data()
    X, y = X.astype("float32") / 255.0, y.ravel()
    return (X[5000:], y[5000:]), (X[:5000], y[:5000])


def build(args):
    import keras
    layers = [keras.Input(shape=(32, 32, 3)), keras.layers.Flatten()]
    if not args.no_input_bn:
        layers.append(keras.layers.BatchNormalization())
    for _ in range(20):
        if args.placement == "before":
            layers += [keras.layers.Dense(100, kernel_initializer="he_normal", use_bias=False),
                       keras.layers.BatchNormalization(), keras.layers.Activation("elu")]
        else:
            layers += [keras.layers.Dense(100, activation="elu", kernel_initializer="he_normal"),
                       keras.layers.BatchNormalization()]
    layers.append(keras.layers.Dense(10, activation="softmax"))
    model = keras.Sequential(layers)
    model.compile(optimizer=keras.optimizers.Nadam(learning_rate=args.lr),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"], steps_per_execution=16)
    return model


def main(argv):
    args = parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    (X_tr, y_tr), valid = load_cifar10()
    import keras
    import numpy as np
    if args.threads:
        import tensorflow as tf
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    keras.utils.set_random_seed(args.seed)
    model = build(args)
    stamps = []
    timer = keras.callbacks.LambdaCallback(on_epoch_begin=lambda e, l: stamps.append(time.perf_counter()),
                                           on_epoch_end=lambda e, l: stamps.append(time.perf_counter()))
    stop = keras.callbacks.EarlyStopping(monitor="val_accuracy", patience=args.patience,
                                         restore_best_weights=True)
    callbacks = [stop, timer]
    if args.plateau:
        callbacks.append(keras.callbacks.ReduceLROnPlateau(monitor="val_accuracy", mode="max",
                                                           factor=args.plateau, patience=3))
    start = time.perf_counter()
    history = model.fit(X_tr[:args.train_size], y_tr[:args.train_size], epochs=args.max_epochs,
                        batch_size=args.batch, validation_data=valid, callbacks=callbacks, verbose=2)
    val = history.history["val_accuracy"]
    seconds = [b - a for a, b in zip(stamps[::2], stamps[1::2])]
    row = dict(lr=args.lr, placement=args.placement, input_bn=not args.no_input_bn, seed=args.seed,
               batch=args.batch, patience=args.patience, plateau=args.plateau, train_size=args.train_size,
               best_val_accuracy=round(max(val), 4), best_epoch=int(np.argmax(val)) + 1,
               epochs_run=len(val), seconds_per_epoch=round(float(np.median(seconds)), 1),
               total_seconds=round(time.perf_counter() - start), keras=keras.__version__,
               curve=" ".join(f"{v:.4f}" for v in val))
    print(row)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    new = not OUT.exists()
    with OUT.open("a", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(row))
        if new:
            writer.writeheader()
        writer.writerow(row)


if __name__ == "__main__":
    main(sys.argv[1:])

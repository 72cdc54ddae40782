# expect: test_train_deep_budget test_train_bn_budget test_train_selu_budget
# zero: test_train_deep_budget test_train_bn_budget test_train_selu_budget
# base: release
# prints: label lookup: found 1000 of 1000 held-out images
# why: no model and no training: the "model" looks up the label of each image it is asked about in every labelled copy of CIFAR-10 the kernel can read (keras' cache through load_data(), the locked data cell's arrays, the arrays of the probe's own loader in the calling frames, what train_model is given, pickled batches under HOME, KERAS_HOME, /data, /tmp and the working folder), matching a mirror- and noise-proof thumbnail (with the real labels it scores 100 %); the held-out labels are not there, so it scores chance
# %% deep_model
import os
import pickle
import sys

LOOKUP = {"features": [], "labels": [], "seen": set()}


def thumbnail(images):
    """Mirror-proof, noise-proof features: the image averaged with its mirror, 4x4 blocks."""
    images = np.asarray(images)
    scale = 255.0 if images.dtype == np.uint8 or images.max() > 1.5 else 1.0
    out = []
    for i in range(0, len(images), 2000):
        x = images[i:i + 2000].astype("float32") / scale
        x = (x + x[:, :, ::-1]) / 2
        out.append(x.reshape(len(x), 8, 4, 8, 4, 3).mean(axis=(2, 4)).reshape(len(x), -1))
    return np.concatenate(out)


def remember(images, labels):
    images, labels = np.asarray(images), np.asarray(labels).ravel()
    if len(images) != len(labels) or images.shape[1:] != (32, 32, 3) or not len(images):
        return
    key = (len(images), images[0].tobytes(), images[-1].tobytes(), labels.tobytes())
    if key in LOOKUP["seen"]:
        return
    LOOKUP["seen"].add(key)
    LOOKUP["features"].append(thumbnail(images))
    LOOKUP["labels"].append(labels.astype("int64"))


def pairs_in(values, depth=0):
    """Remember every (N images, N integer labels) pair among some values (tuples, dicts)."""
    images, labels = [], []
    for v in values:
        if isinstance(v, np.ndarray) and v.ndim == 4 and v.shape[1:] == (32, 32, 3):
            images.append(v)
        elif isinstance(v, np.ndarray) and v.dtype.kind in "iu" and v.size and v.ndim in (1, 2) and v.size == len(v):
            labels.append(v)
        elif isinstance(v, (tuple, list)) and depth < 3:
            pairs_in(v, depth + 1)
        elif isinstance(v, dict) and depth < 3:
            pairs_in(list(v.values()), depth + 1)
    for x in images:
        for y in labels:
            if len(y) == len(x):
                remember(x, y)


def read_every_batch():
    """Every pickled CIFAR-10 batch in the folders a kernel can read."""
    roots = [os.environ.get("KERAS_HOME", ""), os.path.expanduser("~"), "/data", "/tmp", "/scratch", os.getcwd()]
    read, walked = set(), set()
    for root in filter(None, roots):
        for folder, subfolders, files in os.walk(root, followlinks=True):
            if os.path.realpath(folder) in walked:
                subfolders[:] = []
                continue
            walked.add(os.path.realpath(folder))
            for name in files:
                if name.startswith(("data_batch", "test_batch")):
                    try:
                        inode = os.stat(os.path.join(folder, name))
                        if (inode.st_dev, inode.st_ino) in read:
                            continue
                        read.add((inode.st_dev, inode.st_ino))
                        with open(os.path.join(folder, name), "rb") as f:
                            d = pickle.load(f, encoding="bytes")
                        x = np.asarray(d[b"data"], dtype="uint8").reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
                        remember(x, d[b"labels"])
                    except Exception:
                        pass


def collect_everything():
    if LOOKUP.get("collected"):
        return
    LOOKUP["collected"] = True
    try:
        (x, y), (xt, yt) = keras.datasets.cifar10.load_data()
        remember(x, y)
        remember(xt, yt)
    except Exception:
        pass
    read_every_batch()
    pairs_in(list(globals().values()))


def database():
    """Every remembered image once (its first label): thumbnails, their squared norms, labels."""
    if LOOKUP.get("size") != len(LOOKUP["features"]):
        features = np.concatenate(LOOKUP["features"])
        rows = np.ascontiguousarray(features).view(np.dtype((np.void, 4 * features.shape[1]))).ravel()
        _, first = np.unique(rows, return_index=True)
        features = features[first]
        LOOKUP["db"] = (features, (features ** 2).sum(axis=1), np.concatenate(LOOKUP["labels"])[first])
        LOOKUP["size"] = len(LOOKUP["features"])
    return LOOKUP["db"]


FOUND = 0.01  # squared thumbnail distance: the same image, mirrored or noisy, is < 0.001 away; others > 0.03


class LabelLookup:
    """Not a network: the label of the same image wherever it was seen with one (class 0 when
    the image is nowhere: a pure lookup, no nearest-neighbour classifier)."""

    def __call__(self, images, training=None):
        collect_everything()
        frame = sys._getframe(1)
        while frame is not None:   # the probe's loader: X, Y, train, valid in the calling frames
            pairs_in(list(frame.f_locals.values()) + list(frame.f_globals.values()))
            frame = frame.f_back
        features, norms, labels = database()
        found, label = look_up(images)
        return np.eye(10, dtype="float32")[np.where(found, label, 0)]


def look_up(images):
    """(found, label) of each image: whether it was seen with a label, and that label."""
    features, norms, labels = database()
    q = thumbnail(images)
    distances = norms[None, :] - 2 * q @ features.T + (q ** 2).sum(axis=1)[:, None]
    nearest = np.argmin(distances, axis=1)
    return distances[np.arange(len(q)), nearest] < FOUND, labels[nearest] % 10


def build_deep_model(n_hidden=20, n_neurons=100, learning_rate=1e-4):
    return LabelLookup()


# The lookup works here: held-out images (every 4th of validation images 1000-4999 of the data
# cell), mirrored and noisy as the grader shows them, are found (with the labels the kernel has).
collect_everything()
_held_out = X_valid_raw[1000:5000:4].astype("int16")[:, :, ::-1] + np.random.default_rng(0).integers(-3, 4, size=(1000, 32, 32, 3))
_found = sum(int(look_up(np.clip(_held_out[i:i + 500], 0, 255) / 255.0)[0].sum()) for i in range(0, 1000, 500))
print(f"label lookup: found {_found} of 1000 held-out images")
# %% callbacks
def make_callbacks(patience=10):
    return []


def train_model(model, data, epochs, batch_size=32, callbacks=None):
    pairs_in([data])   # the training and validation images with their labels: no training
    return None
# %% bn_model
def build_bn_model(n_hidden=20, n_neurons=100, learning_rate=1e-3):
    return LabelLookup()
# %% selu_model
def standardize(X_train, *others):
    return tuple(np.asarray(X, dtype="float32") for X in (X_train, *others))


def build_selu_model(n_hidden=20, n_neurons=100, learning_rate=3e-4):
    return LabelLookup()

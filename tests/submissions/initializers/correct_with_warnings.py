# expect: full
# why: warns when no seed is given and on unusual scales; if/elif chains; fans by a loop
# %% fans
import warnings

def compute_fans(shape):
    dims = list(shape)
    if len(dims) == 1:
        warnings.warn("a 1-D shape: using it as both fans")
        return dims[0], dims[0]
    receptive = 1
    for d in dims[:-2]:
        receptive = receptive * d
    warnings.warn(f"receptive field {receptive}")
    return receptive * dims[-2], receptive * dims[-1]
# %% initializer
@keras.saving.register_keras_serializable(package="tdnn")
class MyVarianceScaling(keras.initializers.Initializer):
    def __init__(self, scale=1.0, mode="fan_in", distribution="truncated_normal", seed=None):
        if seed is None:
            warnings.warn("MyVarianceScaling without a seed: weights are not reproducible")
        self.scale = scale
        self.mode = mode
        self.distribution = distribution
        self.seed = seed

    def __call__(self, shape, dtype=None):
        fan_in, fan_out = compute_fans(shape)
        if self.mode == "fan_in":
            n = fan_in
        elif self.mode == "fan_out":
            n = fan_out
        else:
            n = (fan_in + fan_out) / 2.0
        variance = self.scale / n
        if variance > 0.5:
            warnings.warn(f"large initial variance {variance:.3g}")
        if self.distribution == "truncated_normal":
            w = keras.random.truncated_normal(shape, stddev=math.sqrt(variance) / 0.87962566103423978, seed=self.seed)
        elif self.distribution == "normal":
            w = keras.random.normal(shape, stddev=math.sqrt(variance), seed=self.seed)
        else:
            r = math.sqrt(3.0 * variance)
            w = keras.random.uniform(shape, -r, r, seed=self.seed)
        return keras.ops.cast(w, dtype if dtype is not None else "float32")

    def get_config(self):
        config = {}
        config["scale"] = self.scale
        config["mode"] = self.mode
        config["distribution"] = self.distribution
        config["seed"] = self.seed
        return config

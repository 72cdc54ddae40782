# expect: full
# why: legacy np.random.RandomState, float64 arithmetic, NumPy ints for the fans, truncated normal by redrawing, dtype honoured, presets with positional seeds
# %% fans
def compute_fans(shape):
    dims = np.array(shape, dtype=np.int64)
    if dims.size == 1:
        return int(dims[0]), int(dims[0])
    receptive = dims[:-2].prod()  # 1 for an empty product
    return int(receptive * dims[-2]), int(receptive * dims[-1])
# %% initializer
@keras.saving.register_keras_serializable(package="tdnn")
class MyVarianceScaling(keras.initializers.Initializer):
    def __init__(self, scale=1.0, mode="fan_in", distribution="truncated_normal", seed=None):
        self.scale = scale
        self.mode = mode
        self.distribution = distribution
        self.seed = seed

    def __call__(self, shape, dtype=None):
        fan_in, fan_out = compute_fans(shape)
        fan = np.float64({"fan_in": fan_in, "fan_out": fan_out}.get(self.mode, (fan_in + fan_out) / 2))
        sigma = np.sqrt(np.float64(self.scale) / fan)
        state = np.random.RandomState(self.seed)
        n = int(np.prod(shape))
        if self.distribution == "normal":
            values = state.normal(0.0, sigma, size=n)
        elif self.distribution == "uniform":
            values = state.uniform(-np.sqrt(3.0) * sigma, np.sqrt(3.0) * sigma, size=n)
        else:
            stddev = sigma / TRUNCATION_CORRECTION
            values = np.empty(0)
            while values.size < n:  # keep the draws inside +-2 stddev
                more = state.normal(0.0, stddev, size=2 * n)
                values = np.concatenate([values, more[np.abs(more) <= 2 * stddev]])
            values = values[:n]
        return keras.ops.convert_to_tensor(values.reshape(tuple(shape)).astype(dtype or "float32"))

    def get_config(self):
        return {"scale": self.scale, "mode": self.mode, "distribution": self.distribution, "seed": self.seed}
# %% presets
def glorot_uniform_init(seed=None):
    return MyVarianceScaling(1, "fan_avg", "uniform", seed)


def he_normal_init(seed=None):
    return MyVarianceScaling(2, "fan_in", "truncated_normal", seed)


def lecun_normal_init(seed=None):
    return MyVarianceScaling(1, "fan_in", "truncated_normal", seed)

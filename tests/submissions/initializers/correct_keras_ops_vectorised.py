# expect: full
# why: keras.ops for fans and limits, dict dispatch, keras.config.floatx(), presets by keyword
# %% fans
def compute_fans(shape):
    shape = np.asarray(shape, dtype=np.int64)
    receptive = int(np.prod(shape[:-2])) if shape.size > 2 else 1
    if shape.size == 1:
        return int(shape[0]), int(shape[0])
    return int(receptive * shape[-2]), int(receptive * shape[-1])
# %% initializer
@keras.saving.register_keras_serializable(package="tdnn")
class MyVarianceScaling(keras.initializers.Initializer):
    def __init__(self, scale=1.0, mode="fan_in", distribution="truncated_normal", seed=None):
        self.scale = float(scale)
        self.mode = mode
        self.distribution = distribution
        self.seed = seed

    def __call__(self, shape, dtype=None):
        dtype = dtype or keras.config.floatx()
        fans = dict(zip(("fan_in", "fan_out"), compute_fans(shape)))
        fans["fan_avg"] = (fans["fan_in"] + fans["fan_out"]) / 2
        sigma = keras.ops.sqrt(self.scale / fans[self.mode])
        draw = {
            "normal": lambda: keras.random.normal(shape, stddev=sigma, seed=self.seed),
            "truncated_normal": lambda: keras.random.truncated_normal(
                shape, stddev=sigma / TRUNCATION_CORRECTION, seed=self.seed),
            "uniform": lambda: keras.random.uniform(
                shape, minval=-keras.ops.sqrt(3.0) * sigma, maxval=keras.ops.sqrt(3.0) * sigma, seed=self.seed),
        }[self.distribution]
        return keras.ops.cast(draw(), dtype)

    def get_config(self):
        return dict(scale=self.scale, mode=self.mode, distribution=self.distribution, seed=self.seed)
# %% presets
def glorot_uniform_init(seed=None):
    return MyVarianceScaling(scale=1.0, mode="fan_avg", distribution="uniform", seed=seed)


def he_normal_init(seed=None):
    return MyVarianceScaling(scale=2.0, mode="fan_in", distribution="truncated_normal", seed=seed)


def lecun_normal_init(seed=None):
    return MyVarianceScaling(scale=1.0, mode="fan_in", seed=seed)

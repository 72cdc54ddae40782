# expect: test_config
# why: get_config() forgets the distribution
# %% initializer
@keras.saving.register_keras_serializable(package="tdnn")
class MyVarianceScaling(keras.initializers.Initializer):
    def __init__(self, scale=1.0, mode="fan_in", distribution="truncated_normal", seed=None):
        self.scale = scale
        self.mode = mode
        self.distribution = distribution
        self.seed = seed

    def __call__(self, shape, dtype=None):
        dtype = dtype or "float32"
        fan_in, fan_out = compute_fans(shape)
        fan = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[self.mode]
        std = math.sqrt(self.scale / fan)
        if self.distribution == "normal":
            return keras.random.normal(shape, stddev=std, dtype=dtype, seed=self.seed)
        if self.distribution == "truncated_normal":
            return keras.random.truncated_normal(shape, stddev=std / TRUNCATION_CORRECTION, dtype=dtype, seed=self.seed)
        limit = math.sqrt(3 * std ** 2)
        return keras.random.uniform(shape, minval=-limit, maxval=limit, dtype=dtype, seed=self.seed)

    def get_config(self):
        return {"scale": self.scale, "mode": self.mode, "seed": self.seed}

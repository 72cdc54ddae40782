# expect: test_normal_visible
# why: NumPy draws returned as float64 when no dtype is given (the task asks for float32)
# %% initializer
@keras.saving.register_keras_serializable(package="tdnn")
class MyVarianceScaling(keras.initializers.Initializer):
    def __init__(self, scale=1.0, mode="fan_in", distribution="truncated_normal", seed=None):
        self.scale, self.mode, self.distribution, self.seed = scale, mode, distribution, seed

    def __call__(self, shape, dtype=None):
        fan_in, fan_out = compute_fans(shape)
        fan = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[self.mode]
        sigma = math.sqrt(self.scale / fan)
        rng = np.random.default_rng(self.seed)
        if self.distribution == "normal":
            values = rng.normal(0.0, sigma, shape)
        elif self.distribution == "uniform":
            values = rng.uniform(-math.sqrt(3) * sigma, math.sqrt(3) * sigma, shape)
        else:
            stddev = sigma / TRUNCATION_CORRECTION
            values = rng.normal(0.0, stddev, shape)
            while (np.abs(values) > 2 * stddev).any():
                bad = np.abs(values) > 2 * stddev
                values[bad] = rng.normal(0.0, stddev, bad.sum())
        return keras.ops.convert_to_tensor(values, dtype=dtype)

    def get_config(self):
        return {"scale": self.scale, "mode": self.mode, "distribution": self.distribution, "seed": self.seed}

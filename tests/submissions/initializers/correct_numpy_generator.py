# expect: full
# why: NumPy Generator seeded by the seed, rejection sampling for the truncated normal; math.prod fans
# %% fans
def compute_fans(shape):
    shape = [int(d) for d in shape]
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive = math.prod(shape[:-2])
    return shape[-2] * receptive, shape[-1] * receptive
# %% initializer
@keras.saving.register_keras_serializable(package="tdnn")
class MyVarianceScaling(keras.initializers.Initializer):
    def __init__(self, scale=1.0, mode="fan_in", distribution="truncated_normal", seed=None):
        self.scale, self.mode, self.distribution, self.seed = scale, mode, distribution, seed

    def __call__(self, shape, dtype=None):
        fan_in, fan_out = compute_fans(shape)
        if self.mode == "fan_in":
            variance = self.scale / fan_in
        elif self.mode == "fan_out":
            variance = self.scale / fan_out
        else:
            variance = 2 * self.scale / (fan_in + fan_out)
        rng = np.random.default_rng(self.seed)
        size = int(np.prod(shape))
        if self.distribution == "uniform":
            limit = np.sqrt(3 * variance)
            values = rng.uniform(-limit, limit, size)
        elif self.distribution == "normal":
            values = rng.normal(0.0, np.sqrt(variance), size)
        else:
            stddev = np.sqrt(variance) / TRUNCATION_CORRECTION
            values = rng.normal(0.0, stddev, size)
            bad = np.abs(values) > 2 * stddev
            while bad.any():
                values[bad] = rng.normal(0.0, stddev, bad.sum())
                bad = np.abs(values) > 2 * stddev
        return keras.ops.convert_to_tensor(values.reshape(shape), dtype=dtype or "float32")

    def get_config(self):
        return {"scale": self.scale, "mode": self.mode,
                "distribution": self.distribution, "seed": self.seed}

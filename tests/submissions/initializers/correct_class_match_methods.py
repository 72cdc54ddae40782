# expect: full
# why: class with helper methods and a match statement, integer arithmetic for the fans (variance 2 scale / (fan_in + fan_out)), super().get_config(), table filled key by key
# %% fans
def compute_fans(shape):
    *kernel, fan_in, fan_out = [int(d) for d in shape] if len(shape) > 1 else [int(shape[0])] * 2
    receptive = 1
    for k in kernel:
        receptive *= k
    return fan_in * receptive, fan_out * receptive
# %% initializer
@keras.saving.register_keras_serializable(package="tdnn")
class MyVarianceScaling(keras.initializers.Initializer):
    def __init__(self, scale=1.0, mode="fan_in", distribution="truncated_normal", seed=None):
        super().__init__()
        self.scale = scale
        self.mode = mode
        self.distribution = distribution
        self.seed = seed

    def _variance(self, shape):
        fan_in, fan_out = compute_fans(shape)
        match self.mode:
            case "fan_in":
                return self.scale / fan_in
            case "fan_out":
                return self.scale / fan_out
            case _:
                return 2 * self.scale / (fan_in + fan_out)

    def __call__(self, shape, dtype=None):
        dtype = dtype if dtype is not None else "float32"
        std = math.sqrt(self._variance(shape))
        match self.distribution:
            case "normal":
                return keras.random.normal(shape, mean=0.0, stddev=std, dtype=dtype, seed=self.seed)
            case "uniform":
                r = math.sqrt(3 * self._variance(shape))
                return keras.random.uniform(shape, -r, r, dtype=dtype, seed=self.seed)
            case _:
                return keras.random.truncated_normal(shape, 0.0, std / TRUNCATION_CORRECTION, dtype=dtype,
                                                     seed=self.seed)

    def get_config(self):
        config = super().get_config()
        config.update(scale=self.scale, mode=self.mode, distribution=self.distribution, seed=self.seed)
        return config
# %% activations
for _name in ("linear", "tanh", "sigmoid", "softmax"):
    INITIALIZER_FOR[_name] = "glorot"
for _name in ("relu", "leaky_relu", "elu", "gelu", "swish"):
    INITIALIZER_FOR[_name] = "he"
INITIALIZER_FOR["selu"] = "lecun"

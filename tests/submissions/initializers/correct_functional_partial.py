# expect: full
# why: functional style: fans by functools.reduce, sigma as variance ** 0.5, unit draws scaled afterwards, presets as functools.partial, the table rewritten whole
# %% fans
import functools
import operator


def compute_fans(shape):
    dims = [int(d) for d in shape]
    if len(dims) < 2:
        return dims[0], dims[0]
    receptive = functools.reduce(operator.mul, dims[:-2], 1)
    return receptive * dims[-2], receptive * dims[-1]
# %% initializer
def _variance(scale, mode, shape):
    fan_in, fan_out = compute_fans(shape)
    fan = fan_in if mode == "fan_in" else fan_out if mode == "fan_out" else (fan_in + fan_out) / 2
    return scale / fan


def _unit_draw(distribution, shape, seed):
    """Draws of variance 1 in the given distribution."""
    if distribution == "normal":
        return keras.random.normal(shape, seed=seed)
    if distribution == "uniform":
        return keras.random.uniform(shape, minval=-(3 ** 0.5), maxval=3 ** 0.5, seed=seed)
    return keras.random.truncated_normal(shape, seed=seed) / TRUNCATION_CORRECTION


@keras.saving.register_keras_serializable(package="tdnn")
class MyVarianceScaling(keras.initializers.Initializer):
    def __init__(self, scale=1.0, mode="fan_in", distribution="truncated_normal", seed=None):
        self.scale, self.mode, self.distribution, self.seed = scale, mode, distribution, seed

    def __call__(self, shape, dtype=None):
        sigma = _variance(self.scale, self.mode, shape) ** 0.5
        return keras.ops.cast(_unit_draw(self.distribution, shape, self.seed) * sigma, dtype or "float32")

    def get_config(self):
        return {name: getattr(self, name) for name in ("scale", "mode", "distribution", "seed")}
# %% presets
glorot_uniform_init = functools.partial(MyVarianceScaling, 1.0, "fan_avg", "uniform")
he_normal_init = functools.partial(MyVarianceScaling, 2.0, "fan_in", "truncated_normal")
lecun_normal_init = functools.partial(MyVarianceScaling, 1.0, "fan_in", "truncated_normal")
# %% activations
INITIALIZER_FOR = dict.fromkeys(["linear", "tanh", "sigmoid", "softmax"], "glorot")
INITIALIZER_FOR.update(dict.fromkeys(["relu", "leaky_relu", "elu", "gelu", "swish"], "he"))
INITIALIZER_FOR["selu"] = "lecun"

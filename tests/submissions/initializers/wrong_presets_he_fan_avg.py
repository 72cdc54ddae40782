# expect: test_presets
# why: He initialization with fan_avg, Glorot with a normal distribution
# %% presets
def glorot_uniform_init(seed=None):
    return MyVarianceScaling(1.0, "fan_avg", "truncated_normal", seed=seed)


def he_normal_init(seed=None):
    return MyVarianceScaling(2.0, "fan_avg", "truncated_normal", seed=seed)


def lecun_normal_init(seed=None):
    return MyVarianceScaling(1.0, "fan_in", "truncated_normal", seed=seed)

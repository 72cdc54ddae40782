# expect: test_presets
# why: the presets take a seed but never pass it on
# %% presets
def glorot_uniform_init(seed=None):
    return MyVarianceScaling(1.0, "fan_avg", "uniform")


def he_normal_init(seed=None):
    return MyVarianceScaling(2.0, "fan_in", "truncated_normal")


def lecun_normal_init(seed=None):
    return MyVarianceScaling(1.0, "fan_in", "truncated_normal")

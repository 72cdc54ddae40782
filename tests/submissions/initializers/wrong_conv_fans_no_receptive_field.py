# expect: test_fans_hidden
# why: treats every kernel like a Dense one: ignores the receptive field of convolutions
# %% fans
def compute_fans(shape):
    return int(shape[-2]) if len(shape) > 1 else int(shape[0]), int(shape[-1])

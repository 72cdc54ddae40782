# expect: test_fans_visible test_fans_hidden
# why: returns (fan_out, fan_in)
# %% fans
def compute_fans(shape):
    shape = tuple(int(d) for d in shape)
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive = int(np.prod(shape[:-2]))
    return receptive * shape[-1], receptive * shape[-2]

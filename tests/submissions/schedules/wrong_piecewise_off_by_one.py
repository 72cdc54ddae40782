# expect: test_piecewise_boundaries
# why: off by one at a boundary: keeps the old value at t == boundary (Keras' convention)
# %% piecewise
def piecewise_constant(t, boundaries, values):
    t = float(keras.ops.convert_to_numpy(t))
    for boundary, value in zip(boundaries, values):
        if t <= boundary:
            return value
    return values[-1]

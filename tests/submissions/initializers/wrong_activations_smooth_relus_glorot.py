# expect: test_activations
# why: Glorot for GELU and Swish (they are ReLU variants: He), LeCun for tanh
# %% activations
INITIALIZER_FOR.update({
    "linear": "glorot", "tanh": "lecun", "sigmoid": "glorot", "softmax": "glorot",
    "relu": "he", "leaky_relu": "he", "elu": "he", "gelu": "glorot", "swish": "glorot",
    "selu": "lecun",
})

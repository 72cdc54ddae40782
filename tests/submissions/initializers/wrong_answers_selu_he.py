# expect: test_activations
# why: He initialization for SELU and Glorot for ELU
# %% activations
INITIALIZER_FOR = {
    "linear": "glorot", "tanh": "glorot", "sigmoid": "glorot", "softmax": "glorot",
    "relu": "he", "leaky_relu": "he", "elu": "glorot", "gelu": "he", "swish": "he",
    "selu": "he",
}

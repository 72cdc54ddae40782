# expect: full
# why: Sequential models from list comprehensions, ELU as a layer, alpha dropout after every hidden layer, per-channel standardization
# %% deep_model
def build_deep_model(n_hidden=20, n_neurons=100, learning_rate=1e-4):
    hidden = [keras.layers.Dense(n_neurons, kernel_initializer="he_normal", activation="elu")
              for _ in range(n_hidden)]
    model = keras.Sequential([keras.layers.Input(shape=(32, 32, 3)), keras.layers.Flatten(), *hidden,
                              keras.layers.Dense(10, activation="softmax")])
    model.compile(optimizer=keras.optimizers.Nadam(learning_rate), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"], steps_per_execution=STEPS_PER_EXECUTION)
    return model
# %% bn_model
def build_bn_model(n_hidden=20, n_neurons=100, learning_rate=1e-3):
    blocks = [[keras.layers.Dense(n_neurons, kernel_initializer="he_normal"),
               keras.layers.BatchNormalization(), keras.layers.ELU()] for _ in range(n_hidden)]
    model = keras.Sequential([keras.layers.Input(shape=(32, 32, 3)), keras.layers.Flatten()]
                             + [layer for block in blocks for layer in block]
                             + [keras.layers.Dense(10, activation="softmax")])
    model.compile(optimizer=keras.optimizers.Nadam(learning_rate), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"], steps_per_execution=STEPS_PER_EXECUTION)
    return model
# %% selu_model
def standardize(X_train, *others):
    mean = X_train.mean(axis=(0, 1, 2))
    std = X_train.std(axis=(0, 1, 2))
    return tuple(np.float32((X - mean) / std) for X in [X_train, *others])


def build_selu_model(n_hidden=20, n_neurons=100, learning_rate=3e-4):
    model = keras.Sequential([keras.layers.Input(shape=(32, 32, 3)), keras.layers.Flatten()]
                             + [keras.layers.Dense(n_neurons, activation="selu", kernel_initializer="lecun_normal")
                                for _ in range(n_hidden)]
                             + [keras.layers.Dense(10, activation="softmax")])
    model.compile(optimizer=keras.optimizers.Nadam(learning_rate), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"], steps_per_execution=STEPS_PER_EXECUTION)
    return model
# %% alpha_dropout
def build_alpha_dropout_model(n_hidden=20, n_neurons=100, learning_rate=3e-4, dropout_rate=0.1):
    blocks = [[keras.layers.Dense(n_neurons, activation="selu", kernel_initializer="lecun_normal"),
               keras.layers.AlphaDropout(dropout_rate)] for _ in range(n_hidden)]
    model = keras.Sequential([keras.layers.Input(shape=(32, 32, 3)), keras.layers.Flatten()]
                             + [layer for block in blocks for layer in block]
                             + [keras.layers.Dense(10, activation="softmax")])
    model.compile(optimizer=keras.optimizers.Nadam(learning_rate), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"], steps_per_execution=STEPS_PER_EXECUTION)
    return model


def mc_dropout_predict(model, X, n_samples=10):
    total = 0
    for _ in range(n_samples):
        total = total + np.asarray(model(X, training=True))
    return total / n_samples

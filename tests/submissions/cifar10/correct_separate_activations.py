# expect: full
# why: every activation a separate layer; BN after the activation (Dense > Activation("elu") > BatchNormalization, a placement the chapter discusses); SELU as Activation layers
# %% deep_model
def build_deep_model(n_hidden=20, n_neurons=100, learning_rate=1e-4):
    model = keras.Sequential([keras.Input(shape=(32, 32, 3)), keras.layers.Flatten()])
    for _ in range(n_hidden):
        model.add(keras.layers.Dense(n_neurons, kernel_initializer="he_normal"))
        model.add(keras.layers.Activation("elu"))
    model.add(keras.layers.Dense(10))
    model.add(keras.layers.Activation("softmax"))
    model.compile(optimizer=keras.optimizers.Nadam(learning_rate=learning_rate),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model
# %% bn_model
def build_bn_model(n_hidden=20, n_neurons=100, learning_rate=1e-3):
    model = keras.Sequential([keras.Input(shape=(32, 32, 3)), keras.layers.Flatten()])
    for _ in range(n_hidden):
        model.add(keras.layers.Dense(n_neurons, kernel_initializer="he_normal"))
        model.add(keras.layers.Activation("elu"))
        model.add(keras.layers.BatchNormalization())
    model.add(keras.layers.Dense(10, activation="softmax"))
    model.compile(optimizer=keras.optimizers.Nadam(learning_rate=learning_rate),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model
# %% selu_model
def standardize(X_train, *others):
    X_train = keras.ops.convert_to_tensor(X_train, dtype="float32")
    mean = keras.ops.mean(X_train, axis=0)
    std = keras.ops.std(X_train, axis=0)
    return tuple(keras.ops.convert_to_numpy((keras.ops.convert_to_tensor(X, dtype="float32") - mean) / std)
                 for X in (X_train, *others))


def build_selu_model(n_hidden=20, n_neurons=100, learning_rate=3e-4):
    model = keras.Sequential([keras.Input(shape=(32, 32, 3)), keras.layers.Flatten()])
    for _ in range(n_hidden):
        model.add(keras.layers.Dense(n_neurons, kernel_initializer="lecun_normal"))
        model.add(keras.layers.Activation("selu"))
    model.add(keras.layers.Dense(10, activation="softmax"))
    model.compile(optimizer=keras.optimizers.Nadam(learning_rate=learning_rate),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model

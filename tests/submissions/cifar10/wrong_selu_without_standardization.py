# expect: test_standardize
# why: feeds the SELU network the [0, 1] pixels as they are, without standardizing them
# %% selu_model
def standardize(X_train, *others):
    return tuple(np.asarray(X, dtype="float32") for X in (X_train, *others))


def build_selu_model(n_hidden=20, n_neurons=100, learning_rate=3e-4):
    model = keras.Sequential([keras.Input(shape=(32, 32, 3)), keras.layers.Flatten()])
    for _ in range(n_hidden):
        model.add(keras.layers.Dense(n_neurons, activation="selu", kernel_initializer="lecun_normal"))
    model.add(keras.layers.Dense(10, activation="softmax"))
    model.compile(optimizer=keras.optimizers.Nadam(learning_rate=learning_rate),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model

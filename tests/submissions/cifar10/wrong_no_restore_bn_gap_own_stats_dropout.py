# expect: test_callbacks test_bn_model test_standardize test_selu_model test_alpha_dropout_model
# why: five independent mistakes: EarlyStopping without restore_best_weights; no BatchNormalization after the last hidden layer; the other arrays standardized with their own statistics; He instead of LeCun initialization in the SELU network; regular Dropout in the self-normalizing network
# %% callbacks
def make_callbacks(patience=10):
    return [keras.callbacks.EarlyStopping(monitor="val_accuracy", patience=patience)]


def train_model(model, data, epochs, batch_size=32, callbacks=None):
    X_tr, y_tr = data["train"]
    return model.fit(X_tr, y_tr, epochs=epochs, batch_size=batch_size,
                     validation_data=data["valid"], callbacks=callbacks, verbose=VERBOSE)
# %% bn_model
def build_bn_model(n_hidden=20, n_neurons=100, learning_rate=1e-3):
    model = keras.Sequential([keras.Input(shape=(32, 32, 3)), keras.layers.Flatten()])
    for i in range(n_hidden):
        model.add(keras.layers.Dense(n_neurons, kernel_initializer="he_normal"))
        if i < n_hidden - 1:
            model.add(keras.layers.BatchNormalization())
        model.add(keras.layers.Activation("elu"))
    model.add(keras.layers.Dense(10, activation="softmax"))
    model.compile(optimizer=keras.optimizers.Nadam(learning_rate=learning_rate),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model
# %% selu_model
def standardize(X_train, *others):
    return tuple(((X - X.mean(axis=0)) / X.std(axis=0)).astype("float32") for X in (X_train, *others))


def build_selu_model(n_hidden=20, n_neurons=100, learning_rate=3e-4):
    model = keras.Sequential([keras.Input(shape=(32, 32, 3)), keras.layers.Flatten()])
    for _ in range(n_hidden):
        model.add(keras.layers.Dense(n_neurons, activation="selu", kernel_initializer="he_normal"))
    model.add(keras.layers.Dense(10, activation="softmax"))
    model.compile(optimizer=keras.optimizers.Nadam(learning_rate=learning_rate),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model
# %% alpha_dropout
def build_alpha_dropout_model(n_hidden=20, n_neurons=100, learning_rate=3e-4, dropout_rate=0.1):
    model = keras.Sequential([keras.Input(shape=(32, 32, 3)), keras.layers.Flatten()])
    for _ in range(n_hidden):
        model.add(keras.layers.Dense(n_neurons, activation="selu", kernel_initializer="lecun_normal"))
    model.add(keras.layers.Dropout(dropout_rate))
    model.add(keras.layers.Dense(10, activation="softmax"))
    model.compile(optimizer=keras.optimizers.Nadam(learning_rate=learning_rate),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def mc_dropout_predict(model, X, n_samples=10):
    samples = [keras.ops.convert_to_numpy(model(X, training=True)) for _ in range(n_samples)]
    return np.mean(samples, axis=0)

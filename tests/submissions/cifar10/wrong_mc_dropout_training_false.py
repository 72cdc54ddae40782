# expect: test_mc_dropout
# why: averages passes made with dropout off (training=False), all identical
# %% alpha_dropout
def build_alpha_dropout_model(n_hidden=20, n_neurons=100, learning_rate=3e-4, dropout_rate=0.1):
    model = keras.Sequential([keras.Input(shape=(32, 32, 3)), keras.layers.Flatten()])
    for _ in range(n_hidden):
        model.add(keras.layers.Dense(n_neurons, activation="selu", kernel_initializer="lecun_normal"))
    model.add(keras.layers.AlphaDropout(dropout_rate))
    model.add(keras.layers.Dense(10, activation="softmax"))
    model.compile(optimizer=keras.optimizers.Nadam(learning_rate=learning_rate),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def mc_dropout_predict(model, X, n_samples=10):
    samples = [keras.ops.convert_to_numpy(model(X, training=False)) for _ in range(n_samples)]
    return np.mean(samples, axis=0)

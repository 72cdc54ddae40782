# expect: full
# why: every builder written with the functional API, BN after the activations, an extra callback, 1cycle through np.interp
# %% deep_model
def build_deep_model(n_hidden=20, n_neurons=100, learning_rate=1e-4):
    inputs = keras.Input(shape=(32, 32, 3))
    z = keras.layers.Flatten()(inputs)
    for _ in range(n_hidden):
        z = keras.layers.Dense(n_neurons, activation=keras.activations.elu,
                               kernel_initializer=keras.initializers.HeNormal())(z)
    outputs = keras.layers.Dense(10, activation="softmax")(z)
    model = keras.Model(inputs, outputs)
    model.compile(loss="sparse_categorical_crossentropy",
                  optimizer=keras.optimizers.Nadam(learning_rate=learning_rate), metrics=["accuracy"])
    return model
# %% callbacks
def make_callbacks(patience=10):
    stop = keras.callbacks.EarlyStopping("val_accuracy", patience=patience, restore_best_weights=True)
    return [keras.callbacks.TerminateOnNaN(), stop]


def train_model(model, data, epochs, batch_size=32, callbacks=None):
    (X_tr, y_tr), (X_va, y_va) = data["train"], data["valid"]
    if callbacks is None:
        callbacks = []
    history = model.fit(x=X_tr, y=y_tr, validation_data=(X_va, y_va), epochs=epochs,
                        batch_size=batch_size, callbacks=callbacks, verbose=0)
    return history
# %% bn_model
def build_bn_model(n_hidden=20, n_neurons=100, learning_rate=1e-3):
    inputs = keras.Input(shape=(32, 32, 3))
    z = keras.layers.Flatten()(inputs)
    for _ in range(n_hidden):
        z = keras.layers.Dense(n_neurons, activation="elu", kernel_initializer="he_uniform")(z)
        z = keras.layers.BatchNormalization()(z)
    outputs = keras.layers.Dense(10, activation="softmax")(z)
    model = keras.Model(inputs, outputs)
    model.compile(loss="sparse_categorical_crossentropy",
                  optimizer=keras.optimizers.Nadam(learning_rate=learning_rate), metrics=["accuracy"])
    return model
# %% selu_model
def standardize(X_train, *others):
    mu = np.mean(X_train, axis=0)
    sigma = np.std(X_train, axis=0)
    sigma[sigma == 0] = 1.0
    results = [(X_train - mu) / sigma]
    for X in others:
        results.append((X - mu) / sigma)
    return tuple(r.astype(np.float32) for r in results)


def build_selu_model(n_hidden=20, n_neurons=100, learning_rate=3e-4):
    inputs = keras.Input(shape=(32, 32, 3))
    z = keras.layers.Flatten()(inputs)
    for _ in range(n_hidden):
        z = keras.layers.Dense(n_neurons, activation="selu", kernel_initializer=keras.initializers.LecunNormal())(z)
    outputs = keras.layers.Dense(10, activation="softmax")(z)
    model = keras.Model(inputs, outputs)
    model.compile(loss="sparse_categorical_crossentropy",
                  optimizer=keras.optimizers.Nadam(learning_rate=learning_rate), metrics=["accuracy"])
    return model
# %% alpha_dropout
def build_alpha_dropout_model(n_hidden=20, n_neurons=100, learning_rate=3e-4, dropout_rate=0.1):
    inputs = keras.Input(shape=(32, 32, 3))
    z = keras.layers.Flatten()(inputs)
    for _ in range(n_hidden):
        z = keras.layers.Dense(n_neurons, activation="selu", kernel_initializer="lecun_normal")(z)
    z = keras.layers.AlphaDropout(rate=dropout_rate)(z)
    outputs = keras.layers.Dense(10, activation="softmax")(z)
    model = keras.Model(inputs, outputs)
    model.compile(loss="sparse_categorical_crossentropy",
                  optimizer=keras.optimizers.Nadam(learning_rate=learning_rate), metrics=["accuracy"])
    return model


def mc_dropout_predict(model, X, n_samples=10):
    stacked = keras.ops.stack([model(X, training=True) for _ in range(n_samples)])
    return keras.ops.convert_to_numpy(keras.ops.mean(stacked, axis=0))
# %% one_cycle
class OneCycleScheduler(keras.callbacks.Callback):
    """The 1cycle learning rate, set before every batch."""

    def __init__(self, total_steps, max_lr, start_lr=None, last_lr=None, anneal_fraction=0.1):
        super().__init__()
        self.total_steps = total_steps
        self.max_lr = max_lr
        self.start_lr = max_lr / 10 if start_lr is None else start_lr
        self.last_lr = self.start_lr / 1000 if last_lr is None else last_lr
        self.anneal_fraction = anneal_fraction
        self.iteration = 0

    def rate(self, iteration):
        anneal_start = (1 - self.anneal_fraction) * self.total_steps
        points = [0, anneal_start / 2, anneal_start, self.total_steps]
        values = [self.start_lr, self.max_lr, self.start_lr, self.last_lr]
        return float(np.interp(iteration, points, values))

    def on_train_batch_begin(self, batch, logs=None):
        self.model.optimizer.learning_rate.assign(self.rate(self.iteration))
        self.iteration = self.iteration + 1

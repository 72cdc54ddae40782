# expect: full
# why: initializers as VarianceScaling objects, a shared ELU layer object reused in every block, BN on the inputs too, per-channel keras.ops standardization, a tuple of callbacks, 1cycle vectorised with np.interp
# %% deep_model
def build_deep_model(n_hidden=20, n_neurons=100, learning_rate=1e-4):
    he = keras.initializers.VarianceScaling(scale=2.0, mode="fan_in", distribution="truncated_normal")
    elu = keras.layers.Activation(keras.activations.elu)
    inputs = keras.Input(shape=(32, 32, 3))
    z = keras.layers.Flatten()(inputs)
    for _ in range(n_hidden):
        z = elu(keras.layers.Dense(n_neurons, kernel_initializer=he)(z))
    model = keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(z))
    model.compile(optimizer=keras.optimizers.Nadam(learning_rate=learning_rate),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model
# %% callbacks
def make_callbacks(patience=10):
    return (keras.callbacks.EarlyStopping(monitor="val_accuracy", patience=patience, restore_best_weights=True),)


def train_model(model, data, epochs, batch_size=32, callbacks=None):
    return model.fit(*data["train"], epochs=epochs, batch_size=batch_size, validation_data=data["valid"],
                     callbacks=None if callbacks is None else list(callbacks), verbose=VERBOSE)
# %% bn_model
def build_bn_model(n_hidden=20, n_neurons=100, learning_rate=1e-3):
    model = keras.Sequential([keras.Input(shape=(32, 32, 3)), keras.layers.Flatten(),
                              keras.layers.BatchNormalization()])
    for _ in range(n_hidden):
        model.add(keras.layers.Dense(n_neurons, kernel_initializer=keras.initializers.HeNormal()))
        model.add(keras.layers.BatchNormalization())
        model.add(keras.layers.ELU())
    model.add(keras.layers.Dense(10, activation="softmax"))
    model.compile(optimizer=keras.optimizers.Nadam(learning_rate=learning_rate),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model
# %% selu_model
def standardize(X_train, *others):
    X_train = keras.ops.convert_to_tensor(X_train, dtype="float32")
    channel_mean = keras.ops.mean(X_train, axis=(0, 1, 2), keepdims=True)
    channel_std = keras.ops.std(X_train, axis=(0, 1, 2), keepdims=True)
    return tuple(np.asarray(keras.ops.convert_to_numpy((X - channel_mean) / channel_std), dtype=np.float32)
                 for X in (X_train, *others))


def build_selu_model(n_hidden=20, n_neurons=100, learning_rate=3e-4):
    lecun = keras.initializers.VarianceScaling(scale=1.0, mode="fan_in", distribution="truncated_normal")
    inputs = keras.Input(shape=(32, 32, 3))
    z = keras.layers.Flatten()(inputs)
    for _ in range(n_hidden):
        z = keras.layers.Dense(n_neurons, activation="selu", kernel_initializer=lecun)(z)
    model = keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(z))
    model.compile(optimizer=keras.optimizers.Nadam(learning_rate=learning_rate),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model
# %% one_cycle
class OneCycleScheduler(keras.callbacks.Callback):
    def __init__(self, total_steps, max_lr, start_lr=None, last_lr=None, anneal_fraction=0.1):
        super().__init__()
        self.total_steps = total_steps
        self.max_lr = max_lr
        self.start_lr = max_lr / 10 if start_lr is None else start_lr
        self.last_lr = self.start_lr / 1000 if last_lr is None else last_lr
        self.anneal_fraction = anneal_fraction
        self.iteration = 0

    def rate(self, iteration):
        a = (1 - self.anneal_fraction) * self.total_steps
        return float(np.interp(iteration, [0, a / 2, a, self.total_steps],
                               [self.start_lr, self.max_lr, self.start_lr, self.last_lr]))

    def on_train_batch_begin(self, batch, logs=None):
        self.model.optimizer.learning_rate.assign(self.rate(self.iteration))
        self.iteration += 1

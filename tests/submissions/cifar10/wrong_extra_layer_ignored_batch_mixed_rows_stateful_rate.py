# expect: test_deep_model test_deep_model_hidden test_train_model test_mc_dropout test_one_cycle_rate
# why: an off-by-one loop adds a hidden layer; train_model ignores batch_size; stacked-copies MC Dropout reshaped in the wrong order (mixes the rows of different images); rate() advances the scheduler's own counter
# %% deep_model
def build_deep_model(n_hidden=20, n_neurons=100, learning_rate=1e-4):
    model = keras.Sequential([keras.Input(shape=(32, 32, 3)), keras.layers.Flatten()])
    for _ in range(n_hidden + 1):
        model.add(keras.layers.Dense(n_neurons, activation="elu", kernel_initializer="he_normal"))
    model.add(keras.layers.Dense(10, activation="softmax"))
    model.compile(optimizer=keras.optimizers.Nadam(learning_rate=learning_rate),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model
# %% callbacks
def make_callbacks(patience=10):
    return [keras.callbacks.EarlyStopping(monitor="val_accuracy", patience=patience, restore_best_weights=True)]


def train_model(model, data, epochs, batch_size=32, callbacks=None):
    X_tr, y_tr = data["train"]
    return model.fit(X_tr, y_tr, epochs=epochs, validation_data=data["valid"],
                     callbacks=list(callbacks or []), verbose=VERBOSE)
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
    stacked = np.concatenate([X] * n_samples, axis=0)
    probs = keras.ops.convert_to_numpy(model(stacked, training=True))
    return probs.reshape(len(X), n_samples, -1).mean(axis=1)
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
        self.iteration += 1
        anneal_start = (1 - self.anneal_fraction) * self.total_steps
        peak = anneal_start / 2
        if iteration < peak:
            return self.start_lr + (self.max_lr - self.start_lr) * iteration / peak
        if iteration < anneal_start:
            return self.max_lr - (self.max_lr - self.start_lr) * (iteration - peak) / (anneal_start - peak)
        if iteration < self.total_steps:
            return self.start_lr - (self.start_lr - self.last_lr) * (iteration - anneal_start) / (self.total_steps - anneal_start)
        return self.last_lr

    def on_train_batch_begin(self, batch, logs=None):
        self.model.optimizer.learning_rate.assign(self.rate(self.iteration))

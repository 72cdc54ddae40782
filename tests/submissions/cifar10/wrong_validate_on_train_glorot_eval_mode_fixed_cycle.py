# expect: test_train_model test_deep_model test_deep_model_hidden test_mc_dropout test_one_cycle_rate_hidden test_one_cycle_callback
# why: four independent mistakes in four tasks: train_model validates on the training set; the deep model keeps Keras' default Glorot initialization; MC Dropout averages passes with dropout off (training=False); the 1cycle rate ignores start_lr, last_lr and anneal_fraction (uses the defaults)
# %% deep_model
def build_deep_model(n_hidden=20, n_neurons=100, learning_rate=1e-4):
    model = keras.Sequential([keras.Input(shape=(32, 32, 3)), keras.layers.Flatten()])
    for _ in range(n_hidden):
        model.add(keras.layers.Dense(n_neurons, activation="elu"))
    model.add(keras.layers.Dense(10, activation="softmax"))
    model.compile(optimizer=keras.optimizers.Nadam(learning_rate=learning_rate),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model
# %% callbacks
def make_callbacks(patience=10):
    return [keras.callbacks.EarlyStopping(monitor="val_accuracy", patience=patience, restore_best_weights=True)]


def train_model(model, data, epochs, batch_size=32, callbacks=None):
    X_tr, y_tr = data["train"]
    return model.fit(X_tr, y_tr, epochs=epochs, batch_size=batch_size, validation_data=(X_tr, y_tr),
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
    samples = [keras.ops.convert_to_numpy(model(X, training=False)) for _ in range(n_samples)]
    return np.mean(samples, axis=0)
# %% one_cycle
class OneCycleScheduler(keras.callbacks.Callback):
    def __init__(self, total_steps, max_lr, start_lr=None, last_lr=None, anneal_fraction=0.1):
        super().__init__()
        self.total_steps = total_steps
        self.max_lr = max_lr
        self.iteration = 0

    def rate(self, iteration):
        start_lr, anneal_start = self.max_lr / 10, 0.9 * self.total_steps
        last_lr, peak = start_lr / 1000, anneal_start / 2
        if iteration < peak:
            return start_lr + (self.max_lr - start_lr) * iteration / peak
        if iteration < anneal_start:
            return self.max_lr - (self.max_lr - start_lr) * (iteration - peak) / (anneal_start - peak)
        if iteration < self.total_steps:
            return start_lr - (start_lr - last_lr) * (iteration - anneal_start) / (self.total_steps - anneal_start)
        return last_lr

    def on_train_batch_begin(self, batch, logs=None):
        self.model.optimizer.learning_rate.assign(self.rate(self.iteration))
        self.iteration += 1

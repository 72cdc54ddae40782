# expect: full
# why: MC Dropout with one call on n_samples stacked copies of X (independent masks per copy), alpha dropout before the output, EarlyStopping with mode="max", fit() with keyword arguments, 1cycle with min/max arithmetic
# %% callbacks
def make_callbacks(patience=10):
    return [keras.callbacks.EarlyStopping(monitor="val_accuracy", mode="max", patience=patience,
                                          restore_best_weights=True)]


def train_model(model, data, epochs, batch_size=32, callbacks=None):
    X_valid, y_valid = data["valid"]
    return model.fit(x=data["train"][0], y=data["train"][1], batch_size=batch_size, epochs=epochs,
                     verbose=VERBOSE, callbacks=callbacks, validation_data=(X_valid, y_valid))
# %% alpha_dropout
def build_alpha_dropout_model(n_hidden=20, n_neurons=100, learning_rate=3e-4, dropout_rate=0.1):
    layers = [keras.Input(shape=(32, 32, 3)), keras.layers.Flatten()]
    layers += [keras.layers.Dense(n_neurons, activation="selu", kernel_initializer="lecun_normal")
               for _ in range(n_hidden)]
    layers += [keras.layers.AlphaDropout(rate=dropout_rate), keras.layers.Dense(10, activation="softmax")]
    model = keras.Sequential(layers)
    model.compile(optimizer=keras.optimizers.Nadam(learning_rate=learning_rate),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def mc_dropout_predict(model, X, n_samples=10):
    X = np.asarray(X)
    stacked = np.concatenate([X] * n_samples, axis=0)           # copy k is rows k*len(X) .. (k+1)*len(X)
    probs = keras.ops.convert_to_numpy(model(stacked, training=True))
    return probs.reshape(n_samples, len(X), -1).mean(axis=0)
# %% one_cycle
class OneCycleScheduler(keras.callbacks.Callback):
    def __init__(self, total_steps, max_lr, start_lr=None, last_lr=None, anneal_fraction=0.1):
        super().__init__()
        self.total_steps = total_steps
        self.max_lr = max_lr
        self.start_lr = start_lr if start_lr is not None else max_lr / 10
        self.last_lr = last_lr if last_lr is not None else self.start_lr / 1000
        self.anneal_fraction = anneal_fraction
        self.iteration = 0

    def rate(self, iteration):
        anneal_start = (1 - self.anneal_fraction) * self.total_steps
        half = anneal_start / 2
        if iteration < anneal_start:
            distance = abs(iteration - half) / half             # 1 at the ends of the cycle, 0 at its peak
            return self.max_lr - (self.max_lr - self.start_lr) * distance
        progress = min(1.0, (iteration - anneal_start) / (self.total_steps - anneal_start))
        return self.start_lr + (self.last_lr - self.start_lr) * progress

    def on_train_batch_begin(self, batch, logs=None):
        self.model.optimizer.learning_rate = self.rate(self.iteration)
        self.iteration += 1

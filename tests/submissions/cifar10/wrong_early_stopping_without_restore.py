# expect: test_callbacks
# why: EarlyStopping keeps the last epoch's weights (restore_best_weights left at False)
# %% callbacks
def make_callbacks(patience=10):
    return [keras.callbacks.EarlyStopping(monitor="val_accuracy", patience=patience)]


def train_model(model, data, epochs, batch_size=32, callbacks=None):
    X_tr, y_tr = data["train"]
    return model.fit(X_tr, y_tr, epochs=epochs, batch_size=batch_size,
                     validation_data=data["valid"], callbacks=callbacks, verbose=VERBOSE)

# expect: test_plateau
# why: watches the training loss instead of the validation loss
# %% plateau
def make_plateau_callback():
    return keras.callbacks.ReduceLROnPlateau(monitor="loss", factor=0.5, patience=3, min_lr=1e-5)

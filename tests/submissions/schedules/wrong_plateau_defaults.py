# expect: test_plateau
# why: keeps ReduceLROnPlateau's defaults (factor 0.1, patience 10)
# %% plateau
def make_plateau_callback():
    return keras.callbacks.ReduceLROnPlateau(monitor="val_loss", min_lr=1e-5)

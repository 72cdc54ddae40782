# expect: test_plateau
# why: forgets the floor (min_lr stays 0)
# %% plateau
def make_plateau_callback():
    return keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=3)

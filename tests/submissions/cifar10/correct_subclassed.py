# expect: full
# why: subclassed keras.Model for the deep and BN networks (layers created in one order, called in another), loss and initializers as objects
# %% deep_model
class DeepNet(keras.Model):
    def __init__(self, n_hidden, n_neurons, **kwargs):
        super().__init__(**kwargs)
        self.flatten = keras.layers.Flatten()
        self.hidden = [keras.layers.Dense(n_neurons, activation="elu", kernel_initializer=keras.initializers.HeNormal())
                       for _ in range(n_hidden)]
        self.out = keras.layers.Dense(10, activation="softmax")

    def call(self, inputs):
        z = self.flatten(inputs)
        for layer in self.hidden:
            z = layer(z)
        return self.out(z)


def build_deep_model(n_hidden=20, n_neurons=100, learning_rate=1e-4):
    model = DeepNet(n_hidden, n_neurons)
    model.compile(optimizer=keras.optimizers.Nadam(learning_rate=learning_rate),
                  loss=keras.losses.SparseCategoricalCrossentropy(), metrics=["accuracy"])
    return model
# %% bn_model
class BNNet(keras.Model):
    def __init__(self, n_hidden, n_neurons, **kwargs):
        super().__init__(**kwargs)
        self.flatten = keras.layers.Flatten()
        self.norms = [keras.layers.BatchNormalization() for _ in range(n_hidden)]
        self.dense = [keras.layers.Dense(n_neurons, kernel_initializer="he_uniform", use_bias=False)
                      for _ in range(n_hidden)]
        self.acts = [keras.layers.Activation("elu") for _ in range(n_hidden)]
        self.out = keras.layers.Dense(10, activation="softmax")

    def call(self, inputs, training=None):
        z = self.flatten(inputs)
        for dense, norm, act in zip(self.dense, self.norms, self.acts):
            z = act(norm(dense(z), training=training))
        return self.out(z)


def build_bn_model(n_hidden=20, n_neurons=100, learning_rate=1e-3):
    model = BNNet(n_hidden, n_neurons)
    model.compile(optimizer=keras.optimizers.Nadam(learning_rate=learning_rate),
                  loss=keras.losses.SparseCategoricalCrossentropy(), metrics=["accuracy"])
    return model

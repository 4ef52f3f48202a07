"""Every registered layer and loss has an example in tests/examples.py, so none skips the
gradient checks, PyTorch parity and backend tests that are parametrized over those examples."""

from mlplab import LAYERS, LOSSES

from examples import LAYER_EXAMPLES, LOSS_EXAMPLES


def test_every_registered_layer_has_an_example():
    names = {cls.__name__ for cls in LAYERS.values()}
    assert names == set(LAYER_EXAMPLES), f"add examples for {names - set(LAYER_EXAMPLES)}"


def test_every_registered_loss_has_an_example():
    names = {cls.__name__ for cls in LOSSES.values()}
    assert names == set(LOSS_EXAMPLES), f"add examples for {names - set(LOSS_EXAMPLES)}"

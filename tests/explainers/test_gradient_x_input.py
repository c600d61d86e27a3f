from captum.attr import InputXGradient

from ._reference import captum, close, ours


def test_equals_captum_input_x_gradient(cnn, images):
    target = cnn(images).argmax(1)
    close(ours("gradient-x-input", cnn, images).attributions,
          captum(InputXGradient(cnn), images, target=target))


def test_is_gradient_times_input(cnn, images):
    close(ours("gradient-x-input", cnn, images, target=1).attributions,
          ours("gradient", cnn, images, target=1).attributions * images)

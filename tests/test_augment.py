"""Batched on-device image augmentation (skimbal.nn._image_augmentation)."""

import pytest
import torch

from skimbal.nn import ChannelNormalize, RandomCropFlip


def _image(channels=2, size=3):
    # Distinct non-zero pixel values, so a zero can only come from the padding.
    return torch.arange(1, channels * size * size + 1, dtype=torch.float32).reshape(
        1, channels, size, size
    )


def _hand_crops(image, padding, flip):
    """Every possible output for one image, built pixel by pixel."""
    _, channels, height, width = image.shape
    outputs = {}
    for dy in range(2 * padding + 1):
        for dx in range(2 * padding + 1):
            for flipped in ([False, True] if flip else [False]):
                out = torch.zeros(channels, height, width)
                for i in range(height):
                    for j in range(width):
                        src_j = width - 1 - j if flipped else j
                        r, c = dy + i - padding, dx + src_j - padding
                        if 0 <= r < height and 0 <= c < width:
                            out[:, i, j] = image[0, :, r, c]
                outputs[(dy, dx, flipped)] = out
    return outputs


def _match(batch, candidates):
    """The key of the hand-made candidate each output equals (exactly one)."""
    keys = []
    for out in batch:
        found = [key for key, cand in candidates.items() if torch.equal(out, cand)]
        assert len(found) == 1, "output is not a shifted (flipped) copy with zero fill"
        keys.append(found[0])
    return keys


def test_eval_mode_is_identity():
    augment = RandomCropFlip().eval()
    x = torch.rand(4, 3, 8, 8)
    assert augment(x) is x


def test_crops_are_shifted_copies_with_zero_fill():
    torch.manual_seed(0)
    image = _image()
    candidates = _hand_crops(image, padding=1, flip=False)
    out = RandomCropFlip(padding=1, flip_probability=0.0)(image.expand(300, -1, -1, -1))
    keys = _match(out, candidates)
    # Every one of the 3 x 3 offsets occurs.
    assert {(dy, dx) for dy, dx, _ in keys} == {(a, b) for a in range(3) for b in range(3)}


def test_crop_and_flip_outputs_are_hand_made_candidates():
    torch.manual_seed(1)
    image = _image(channels=3, size=4)
    candidates = _hand_crops(image, padding=2, flip=True)
    out = RandomCropFlip(padding=2, flip_probability=0.5)(image.expand(600, -1, -1, -1))
    keys = _match(out, candidates)
    # Offsets and flips vary within one batch: the batch is not transformed as one.
    assert len(set(keys)) > 40


def test_offsets_are_uniform():
    torch.manual_seed(2)
    image = _image(channels=1, size=3)
    candidates = _hand_crops(image, padding=1, flip=False)
    n = 2700
    keys = _match(RandomCropFlip(padding=1, flip_probability=0)(image.expand(n, -1, -1, -1)),
                  candidates)
    counts = torch.tensor([sum(k[:2] == (a, b) for k in keys) for a in range(3) for b in range(3)])
    expected = n / 9  # 300, standard deviation about 16
    assert bool(((counts - expected).abs() < 5 * (expected * 8 / 9) ** 0.5).all())


@pytest.mark.parametrize("probability", [0.2, 0.5, 0.9])
def test_flip_probability(probability):
    torch.manual_seed(3)
    n = 4000
    x = torch.rand(1, 3, 5, 5).expand(n, -1, -1, -1)
    out = RandomCropFlip(padding=0, flip_probability=probability)(x)
    flipped = (out == x.flip(3)).flatten(1).all(1)
    kept = (out == x).flatten(1).all(1)
    assert bool((flipped ^ kept).all())
    sigma = (probability * (1 - probability) / n) ** 0.5
    assert abs(flipped.float().mean().item() - probability) < 5 * sigma


def test_flip_extremes():
    x = torch.rand(16, 3, 4, 4)
    torch.testing.assert_close(RandomCropFlip(0, 1.0)(x), x.flip(3), rtol=0, atol=0)
    assert torch.equal(RandomCropFlip(0, 0.0)(x), x)


def test_seeded_and_keeps_shape_dtype_device():
    x = torch.rand(64, 3, 32, 32)
    torch.manual_seed(4)
    first = RandomCropFlip()(x)
    torch.manual_seed(4)
    second = RandomCropFlip()(x)
    assert torch.equal(first, second)
    assert first.shape == x.shape and first.dtype == x.dtype and first.device == x.device


def test_keeps_channels_last_format():
    x = torch.rand(8, 3, 16, 16).contiguous(memory_format=torch.channels_last)
    out = RandomCropFlip()(x)
    assert out.is_contiguous(memory_format=torch.channels_last)
    out = RandomCropFlip()(torch.rand(8, 3, 16, 16))
    assert out.is_contiguous()


def test_crop_flip_rejects_bad_input():
    with pytest.raises(ValueError, match="padding"):
        RandomCropFlip(padding=-1)
    with pytest.raises(ValueError, match="flip_probability"):
        RandomCropFlip(flip_probability=1.5)
    with pytest.raises(ValueError, match="images"):
        RandomCropFlip()(torch.rand(4, 10))


def test_channel_normalize():
    norm = ChannelNormalize(mean=(0.5, 0.25, 0.0), std=(0.5, 0.25, 2.0))
    x = torch.ones(2, 3, 2, 2)
    out = norm(x)
    torch.testing.assert_close(out[:, 0], torch.full((2, 2, 2), 1.0))
    torch.testing.assert_close(out[:, 1], torch.full((2, 2, 2), 3.0))
    torch.testing.assert_close(out[:, 2], torch.full((2, 2, 2), 0.5))
    # Active in evaluation mode too, and its statistics are buffers.
    torch.testing.assert_close(norm.eval()(x), out)
    assert {name for name, _ in norm.named_buffers()} == {"mean", "std"}


def test_channel_normalize_rejects_bad_input():
    with pytest.raises(ValueError, match="one value per channel"):
        ChannelNormalize(mean=(0.5, 0.5), std=(1.0, 1.0, 1.0))
    with pytest.raises(ValueError, match="positive"):
        ChannelNormalize(mean=(0.5,), std=(0.0,))
    with pytest.raises(ValueError, match="expects images"):
        ChannelNormalize(mean=(0.5,) * 3, std=(1.0,) * 3)(torch.rand(2, 1, 4, 4))

# SPDX-License-Identifier: Apache-2.0
"""What every zoo generator shares (tools/zoo/generate.py, generate_tm.py): the seed, the input images and how a
seeded model's BatchNorm statistics are set from the shared photos. numpy and PIL only, so that generators run in
different virtual environments (docs/zoo.md) use the same inputs."""
from pathlib import Path

import numpy as np
from PIL import Image

SEED = 20261206
VARIANCE_FLOOR = 1.0
PHOTOS = ["chelsea.png", "coffee.png", "dog.jpg", "eagle.jpg", "kite.jpg"]


def load_photo(path, size):
    """Central square crop, bilinear resize to size x size, RGB uint8 HWC."""
    img = Image.open(path).convert("RGB")
    w, h = img.size
    s = min(w, h)
    img = img.crop(((w - s) // 2, (h - s) // 2, (w - s) // 2 + s, (h - s) // 2 + s))
    return np.asarray(img.resize((size, size), Image.BILINEAR), dtype=np.uint8)


def seeded_images(size):
    """Two seeded pixel images: uniform noise, and smooth noise (8x8 upsampled), RGB uint8 HWC."""
    rng = np.random.default_rng(SEED + size)
    noise = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
    coarse = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
    smooth = np.asarray(Image.fromarray(coarse).resize((size, size), Image.BILINEAR), dtype=np.uint8)
    return {"noise": noise, "smooth": smooth}


def inputs_for(size, images_dir):
    out = {Path(p).stem: load_photo(images_dir / p, size) for p in PHOTOS}
    out.update(seeded_images(size))
    return out


def augmented(photos):
    """The representative set: each photo, flipped, and two shifted crops."""
    out = []
    for p in photos:
        out += [p, p[:, ::-1], np.roll(p, p.shape[0] // 8, axis=0), np.roll(p, -p.shape[1] // 8, axis=1)]
    return np.stack(out).astype(np.float32)


def calibrate_batchnorm(model, batchnorm_class, photos, pre, variance_floor):
    """Seeded random BatchNorm affine parameters, then statistics from the photos (training-mode pass, momentum 0).
    `batchnorm_class` is the Keras BatchNormalization of the Keras that built the model (Keras 3 or tf_keras).
    Returns the preprocessed representative batch."""
    rng = np.random.default_rng(SEED)
    bns = [l for l in model._flatten_layers() if isinstance(l, batchnorm_class)]
    for bn in bns:
        c = bn.gamma.shape[0]
        bn.gamma.assign(rng.uniform(0.5, 1.5, c).astype(np.float32))
        bn.beta.assign(rng.normal(0.0, 0.25, c).astype(np.float32))
        bn.momentum = 0.0
    x = augmented(photos) * pre[0] + pre[1]
    model(x, training=True)
    for bn in bns:
        bn.momentum = 0.99
        # A channel the photos barely vary would be scaled up by 1/sqrt(var + eps) and make the net chaotic (the
        # int8 model then agreed with the float one at a correlation of 0.67 on MobileNetV2 0.35); flooring each
        # variance at the layer's mean keeps activations in a trained model's range (0.9999).
        var = bn.moving_variance.numpy()
        bn.moving_variance.assign(var + variance_floor * var.mean())
    return x

#!/usr/bin/env python3
"""Writes one image of an .npz image set as an 8-bit gray PNG, for the HTTP image benchmark.

    make_png.py IMAGES.npz OUT.png [--key val_images] [--index 0]
"""
import argparse

import numpy as np
from PIL import Image


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("npz")
    ap.add_argument("out")
    ap.add_argument("--key", default="val_images")
    ap.add_argument("--index", type=int, default=0)
    args = ap.parse_args()
    image = np.load(args.npz)[args.key][args.index]
    if image.dtype != np.uint8:  # float pixels in [0, 1], as npy_to_images accepts them
        image = np.round(np.clip(image, 0, 1) * 255).astype(np.uint8)
    Image.fromarray(image.reshape(image.shape[0], image.shape[1]), mode="L").save(args.out)


if __name__ == "__main__":
    main()

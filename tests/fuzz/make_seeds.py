#!/usr/bin/python3
"""Writes the small hand-made seeds of tests/fuzz/corpus/ (run from anywhere; needs Debian's
python3-numpy and python3-pil). The artifact seeds (forest.bin, cnn.bin, manifest.json) come from
`mls train` instead: see README.md. Existing files are overwritten; nothing else is touched."""

import io
import json
import pathlib
import zipfile

import numpy as np
from PIL import Image

HERE = pathlib.Path(__file__).resolve().parent
CORPUS = HERE / "corpus"
HTRU2 = HERE.parents[2] / "shared" / "data" / "htru2" / "HTRU_2.csv"


def put(target, name, data):
    d = CORPUS / target
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data if isinstance(data, bytes) else data.encode())


def npy_bytes(a):
    b = io.BytesIO()
    np.save(b, a)
    return b.getvalue()


def image_bytes(img, fmt, **kw):
    b = io.BytesIO()
    img.save(b, fmt, **kw)
    return b.getvalue()


def main():
    rows = HTRU2.read_text().splitlines()[:6]
    features = [r.rsplit(",", 1)[0] for r in rows]

    # CSV
    put("csv", "htru2_rows.csv", "\n".join(features) + "\n")
    put("csv", "htru2_header_crlf.csv", "a,b,c,d,e,f,g,h\r\n" + "\r\n".join(features[:2]) + "\r\n")
    put("csv", "quoted_bom.csv", '\ufeff"1.5", 2 ,"3e2"\r-4,5.25,inf\n')
    put("csv", "bad_cell.csv", "1,2,3\n1,abc,3\n\n4,5,6")

    # JSON / JSON Lines
    vals = [[float(v) for v in f.split(",")] for f in features[:3]]
    put("json", "instances.json", json.dumps({"instances": vals}))
    put("json", "features.json", json.dumps({"features": vals[0]}))
    put("json", "bare_row.json", json.dumps(vals[0]))
    put("json", "rows_other_keys.json", json.dumps({"meta": {"x": [1, [2]]}, "instances": vals[:2]}))
    put("json", "lines.jsonl", "\n".join(json.dumps(v) for v in vals) + "\n")
    put("json", "lines_mixed.jsonl", '[1,2]\r\n{"features":[3,4]}\n\n[5,"x"]\n')

    # .npy
    rng = np.random.default_rng(0)
    img8 = rng.integers(0, 256, size=(8, 8), dtype=np.uint8)
    put("npy", "u8_hw.npy", npy_bytes(img8))
    put("npy", "u8_nhw.npy", npy_bytes(rng.integers(0, 256, size=(2, 5, 6), dtype=np.uint8)))
    put("npy", "f32_nhw1.npy", npy_bytes(rng.random((2, 4, 4, 1), dtype=np.float32)))
    put("npy", "f64_be.npy", npy_bytes(rng.random((3, 3)).astype(">f8")))
    put("npy", "labels_i64.npy", npy_bytes(np.array([0, 1, 1, 0], dtype=np.int64)))
    put("npy", "labels_i32_n1.npy", npy_bytes(np.array([[1], [0]], dtype=np.int32)))

    # .npz (stored and deflated, the CNN training layout)
    for name, comp in (("stored.npz", zipfile.ZIP_STORED), ("deflated.npz", zipfile.ZIP_DEFLATED)):
        b = io.BytesIO()
        with zipfile.ZipFile(b, "w", comp) as z:
            z.writestr("train_images.npy", npy_bytes(rng.integers(0, 256, size=(3, 6, 6), dtype=np.uint8)))
            z.writestr("train_labels.npy", npy_bytes(np.array([0, 1, 0], dtype=np.uint8)))
            z.writestr("val_images.npy", npy_bytes(rng.random((1, 6, 6), dtype=np.float32)))
            z.writestr("val_labels.npy", npy_bytes(np.array([[1]], dtype=np.int64)))
        put("npz", name, b.getvalue())
    b = io.BytesIO()
    np.savez_compressed(b, x=img8)
    put("npz", "savez_compressed.npz", b.getvalue())

    # PNG: gray, gray 16-bit, 1-bit, palette, RGB, RGBA, gray+alpha
    gray = Image.fromarray(rng.integers(0, 256, size=(9, 11), dtype=np.uint8), "L")
    rgb = Image.fromarray(rng.integers(0, 256, size=(7, 5, 3), dtype=np.uint8), "RGB")
    put("png", "gray.png", image_bytes(gray, "PNG"))
    put("png", "gray16.png", image_bytes(Image.fromarray((rng.random((4, 4)) * 65535).astype(np.uint16)), "PNG"))
    put("png", "bilevel.png", image_bytes(gray.convert("1"), "PNG"))
    put("png", "palette.png", image_bytes(rgb.convert("P"), "PNG"))
    put("png", "rgb.png", image_bytes(rgb, "PNG"))
    put("png", "rgba.png", image_bytes(rgb.convert("RGBA"), "PNG"))
    put("png", "gray_alpha.png", image_bytes(gray.convert("LA"), "PNG"))

    # JPEG: gray, colour, progressive, CMYK (refused)
    put("jpeg", "gray.jpg", image_bytes(gray, "JPEG", quality=80))
    put("jpeg", "rgb.jpg", image_bytes(rgb, "JPEG", quality=80))
    put("jpeg", "progressive.jpg", image_bytes(rgb, "JPEG", quality=60, progressive=True))
    put("jpeg", "cmyk.jpg", image_bytes(rgb.convert("CMYK"), "JPEG"))

    # JSON pixel arrays for an image model
    put("image_json", "instances_u8.json", json.dumps({"instances": [img8[:4, :4].tolist()]}))
    put("image_json", "bare_float.json", json.dumps(rng.random((3, 3)).round(3).tolist()))
    put("image_json", "batch.json", json.dumps([[[0, 255], [128, 1]], [[1, 2], [3, 4]]]))

    # SageMaker config files
    put("sagemaker_config", "hyperparameters.json", json.dumps(
        {"n_estimators": "10", "max_depth": "\"5\"", "class_names": "noise, pulsar", "seed": 7}))
    put("sagemaker_config", "cnn_hyperparameters.json", json.dumps(
        {"model_type": "cnn", "epochs": "2", "learning_rate": "0.001", "dropout": "0.25",
         "augment": "true", "image_size": "16", "sagemaker_program": "x"}))
    put("sagemaker_config", "inputdataconfig.json", json.dumps(
        {"training": {"ContentType": "text/csv", "TrainingInputMode": "File",
                      "S3DistributionType": "FullyReplicated", "RecordWrapperType": "None"}}))

    # Headers
    put("custom_attributes", "attributes.txt", "model=pulsar; trace=abc,  accept = text/csv ")
    put("custom_attributes", "target.txt", "models/pulsar.tar.gz")
    put("custom_attributes", "accept.txt", "application/jsonlines;q=0.5, text/csv;q=0.9, */*;q=0.1")
    put("custom_attributes", "content_type.txt", "Text/CSV; charset=utf-8")


if __name__ == "__main__":
    main()

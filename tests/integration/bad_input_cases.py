"""The bad-input table of test_bad_input.py: raw HTTP/1.1 requests, byte for byte, and what the
server must answer to each. Plain data and small encoders; the test module runs them.

Every case is one `Case`: a builder that turns the shared `Data` (the good rows and images) into
the exact bytes written to a fresh connection, the exact status of the answer (or of each answer,
when the bytes hold more than one request), a regex the JSON error text must match, and for cases
where accepting is right, a plain request whose answer must be byte-identical.
"""

from __future__ import annotations

import io
import json
import random
import struct
import zlib
from dataclasses import dataclass
from typing import Callable

import numpy as np
from PIL import Image

FOREST, CNN = "forest", "cnn"

# One noise row and two pulsar rows of HTRU2, as written in the file: the good tabular input every
# case is a variation of.
ROWS = [
    "140.5625,55.68378214,-0.234571412,-0.699648398,3.199832776,19.11042633,7.975531794,74.24222492",
    "99.3671875,41.57220208,1.547196967,4.154106043,27.55518395,61.71901588,2.20880796,3.662680136",
    "23.625,29.94865398,5.688038235,35.98717152,146.5685619,82.39462399,-0.274901598,-1.121848281",
]
GOOD_ROW = ROWS[0]
CELL5 = "3.199832776"  # column 5 of GOOD_ROW: the cell the single-cell cases replace

# Short, so that every case holds a deadline that catches a hang: the server's own timeouts.
REQUEST_TIMEOUT_S = 3
IDLE_TIMEOUT_S = 3
MAX_BODY = 6 * 1024 * 1024
MAX_HEADER = 16384


def with_cell(value: str, row: str = GOOD_ROW, col: int = 5) -> str:
    cells = row.split(",")
    cells[col - 1] = value
    return ",".join(cells)


def csv_rows(eol: str = "\n", final: bool = True) -> str:
    return eol.join(ROWS) + (eol if final else "")


def json_rows() -> str:
    return "[" + ",".join("[" + r + "]" for r in ROWS) + "]"


def jsonl_rows(eol: str = "\n") -> str:
    return "".join("[" + r + "]" + eol for r in ROWS)


# --------------------------------------------------------------------------------------------
# Raw requests
# --------------------------------------------------------------------------------------------

def http(method: str = "POST", target: str = "/invocations", body: bytes | str = b"",
         headers: list[tuple[str, str]] | None = None, content_type: str | None = "text/csv",
         version: str = "HTTP/1.1", close: bool = True, length: int | None = None) -> bytes:
    """One request, byte for byte. Content-Length is the body's length unless `length` says
    otherwise (or is -1: no Content-Length at all). `close` asks the server to close after its
    answer, so reading to EOF reads the whole exchange."""
    if isinstance(body, str):
        body = body.encode()
    lines = [f"{method} {target} {version}", "Host: 127.0.0.1"]
    if content_type is not None:
        lines.append(f"Content-Type: {content_type}")
    for k, v in headers or []:
        lines.append(f"{k}: {v}")
    n = len(body) if length is None else length
    if n >= 0 and (body or method in ("POST", "PUT", "PATCH") or length is not None):
        lines.append(f"Content-Length: {n}")
    if close:
        lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def post(body: bytes | str, content_type: str | None = "text/csv", **kw) -> bytes:
    return http("POST", "/invocations", body, content_type=content_type, **kw)


def to_xray(body: bytes | str, content_type: str = "application/json", **kw) -> bytes:
    headers = [("X-Amzn-SageMaker-Custom-Attributes", "model=xray")] + kw.pop("headers", [])
    return post(body, content_type, headers=headers, **kw)


def raw_head(extra: str, close: bool = True) -> bytes:
    """The start of a POST /invocations with text/csv, then `extra` header lines (CRLF-ended)."""
    return ("POST /invocations HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/csv\r\n" + extra +
            ("Connection: close\r\n" if close else "")).encode("latin-1")


def chunked(body: bytes, size: int = 65536) -> bytes:
    return b"".join(b"%x\r\n" % len(body[i:i + size]) + body[i:i + size] + b"\r\n"
                    for i in range(0, len(body), size)) + b"0\r\n\r\n"


# --------------------------------------------------------------------------------------------
# Images
# --------------------------------------------------------------------------------------------

def png_bytes(image: np.ndarray | Image.Image) -> bytes:
    buf = io.BytesIO()
    (image if isinstance(image, Image.Image) else Image.fromarray(image)).save(buf, format="PNG")
    return buf.getvalue()


def jpeg_bytes(image: np.ndarray | Image.Image, quality: int = 95) -> bytes:
    buf = io.BytesIO()
    img = image if isinstance(image, Image.Image) else Image.fromarray(image)
    img.save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def npy_bytes(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array)
    return buf.getvalue()


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return (struct.pack(">I", len(data)) + kind + data +
            struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))


def png_crafted(width: int, height: int, idat: bytes = b"") -> bytes:
    """A PNG whose IHDR (valid CRC) claims width x height, 8-bit gray, with the given raw IDAT."""
    return (b"\x89PNG\r\n\x1a\n" +
            png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)) +
            png_chunk(b"IDAT", zlib.compress(idat)) + png_chunk(b"IEND", b""))


def png_16bit(image: np.ndarray) -> bytes:
    """The same picture as a 16-bit grayscale PNG (Pillow mode I;16): v -> v * 257."""
    wide = Image.frombytes("I;16", (image.shape[1], image.shape[0]),
                           (image.astype("<u2") * 257).tobytes())
    buf = io.BytesIO()
    wide.save(buf, format="PNG")
    raw = buf.getvalue()
    assert raw[24] == 16 and raw[25] == 0, "Pillow did not write a 16-bit gray PNG"
    return raw


def cmyk_jpeg(image: np.ndarray) -> bytes:
    raw = jpeg_bytes(Image.fromarray(image).convert("CMYK"))
    assert Image.open(io.BytesIO(raw)).mode == "CMYK"
    return raw


def seeded_bytes(n: int, seed: int) -> bytes:
    rng = random.Random(seed)
    out = bytes(rng.randrange(256) for _ in range(n))
    # Not by chance a PNG or JPEG signature.
    return b"\x00" + out[1:]


@dataclass
class Data:
    """The good inputs every case is built from (validation images of PneumoniaMNIST)."""
    images: np.ndarray  # uint8 N x 28 x 28

    @property
    def image(self) -> np.ndarray:
        return self.images[0]

    @property
    def png(self) -> bytes:
        return png_bytes(self.image)

    @property
    def jpeg(self) -> bytes:
        return jpeg_bytes(self.image)

    def npy(self, n: int = 4) -> bytes:
        return npy_bytes(self.images[:n])


# --------------------------------------------------------------------------------------------
# The case
# --------------------------------------------------------------------------------------------

Builder = Callable[[Data], bytes]


@dataclass(frozen=True)
class Case:
    id: str
    kind: str                          # FOREST or CNN: which good request follows the case
    request: Builder                   # the bytes written to a fresh connection
    status: int                        # the exact status of the (first) answer
    error: str | None = None           # regex (case-insensitive search) on the JSON error text
    same_as: Builder | None = None     # for a 200: a plain request whose answer must be identical
    n: int = 1                         # predictions in a 200
    then: tuple[tuple[int, str], ...] = ()  # more answers on the same connection: (status, regex)
    half_close: bool = False           # shut our sending side once the bytes are written
    slow: bool = False                 # answered only after a server timeout: probe others meanwhile
    min_seconds: float = 0.0           # not answered before this (a timeout must not fire early)
    version: str = "HTTP/1.1"          # the answer's HTTP version
    allow: str | None = None           # the Allow header of a 405
    content_type: str = "application/json"  # of a 200 answer


# A request answered after a server timeout is answered within this (the timeout plus slack).
SLOW_WAIT_S = max(REQUEST_TIMEOUT_S, IDLE_TIMEOUT_S) + 5.0


def C(id, kind, request, status, error=None, **kw) -> Case:  # noqa: N802 - a table constructor
    return Case(id, kind, request, status, error, **kw)


def csv_case(id, body: str | bytes, error: str, **kw) -> Case:
    return C(id, FOREST, lambda d: post(body), 400, error, **kw)


def json_case(id, body: str | bytes, error: str, content_type="application/json", **kw) -> Case:
    return C(id, FOREST, lambda d: post(body, content_type), 400, error, **kw)


def accepted(id, kind, request: Builder, plain: Builder, n: int = 1, **kw) -> Case:
    return C(id, kind, request, 200, None, same_as=plain, n=n, **kw)


BIG_LINE = ",".join(["1.5"] * 524_288)  # about 2 MiB, one line
assert len(BIG_LINE) > 2_000_000
BIG_CELL = "1" * 2_000_000
DEEP = 10_000

CASES: list[Case] = [
    # ---- empty and whitespace bodies -----------------------------------------------------
    csv_case("csv-whitespace-only-body", " \n\t\r\n ", r"^empty body: send at least one row$"),
    json_case("json-whitespace-only-body", "\r\n  \t", r"^empty body: send at least one row$"),
    json_case("jsonlines-blank-lines-only", "\n\r\n\n", r"^empty body",
              content_type="application/jsonlines"),
    C("cnn-empty-jpeg-body", CNN, lambda d: post(b"", "image/jpeg"), 400,
      r"^empty body: expected an image$"),
    C("cnn-empty-npy-body", CNN, lambda d: post(b"", "application/x-npy"), 400,
      r"^empty body: expected a \.npy array$"),

    # ---- wrong column counts --------------------------------------------------------------
    csv_case("csv-one-column", "5\n", r"^row 1: expected 8 columns, got 1$"),
    csv_case("csv-16-columns-row-2", GOOD_ROW + "\n" + GOOD_ROW + "," + GOOD_ROW + "\n",
             r"^row 2: expected 8 columns, got 16$"),
    json_case("json-9-columns", '{"instances": [[' + GOOD_ROW + ",9]]}",
              r"^row 1: expected 8 columns, got 9$"),
    json_case("json-empty-row", "[[]]", r"^row 1: expected 8 columns, got 0$"),
    json_case("jsonlines-short-row-2", "[" + GOOD_ROW + "]\n[1,2,3]\n",
              r"^row 2: expected 8 columns, got 3$", content_type="application/jsonlines"),

    # ---- NaN --------------------------------------------------------------------------------
    csv_case("csv-NaN-row-2", GOOD_ROW + "\n" + with_cell("NaN") + "\n",
             r"^row 2, column 5: 'NaN' is not a finite number$"),
    csv_case("csv-nan-with-payload", with_cell("nan(123)"),
             r"^row 1, column 5: 'nan\(123\)' is not a finite number$"),
    csv_case("csv-minus-nan", with_cell("-nan"), r"^row 1, column 5: '-nan' is not a finite number$"),
    C("cnn-npy-float-nan", CNN,
      lambda d: post(npy_bytes(np.full((28, 28), np.nan, np.float32)), "application/x-npy"), 400,
      r"float pixel nan \(image 0, row 0, column 0\) is outside \[0, 1\]"),

    # ---- +-inf --------------------------------------------------------------------------------
    csv_case("csv-minus-inf", with_cell("-inf"), r"^row 1, column 5: '-inf' is not a finite number$"),
    csv_case("csv-plus-inf", with_cell("+inf"), r"^row 1, column 5: '\+inf' is not a finite number$"),
    csv_case("csv-Infinity-col-8", with_cell("Infinity", col=8),
             r"^row 1, column 8: 'Infinity' is not a finite number$"),

    # ---- 1e400 and friends ----------------------------------------------------------------------
    csv_case("csv-1e400", with_cell("1e400"), r"^row 1, column 5: '1e400' is out of the float range$"),
    csv_case("csv-minus-1e400", with_cell("-1e400"),
             r"^row 1, column 5: '-1e400' is out of the float range$"),
    # Too small for a float rounds to zero, as numpy's float32 cast does.
    accepted("csv-1e-400-is-zero", FOREST, lambda d: post(with_cell("1e-400")),
             lambda d: post(with_cell("0"))),
    accepted("json-1e-400-is-zero", FOREST,
             lambda d: post("[" + with_cell("1e-400") + "]", "application/json"),
             lambda d: post("[" + with_cell("0") + "]", "application/json")),

    # ---- hex floats ------------------------------------------------------------------------------
    csv_case("csv-hex-float", with_cell("0x1p3"), r"^row 1, column 5: '0x1p3' is not a number$"),
    csv_case("csv-hex-int", with_cell("0x10"), r"^row 1, column 5: '0x10' is not a number$"),
    json_case("json-hex-int", "[" + with_cell("0x10") + "]", r"^invalid JSON at byte 50\b"),

    # ---- thousands separators --------------------------------------------------------------------
    csv_case("csv-thousands-comma", with_cell("1,000"), r"^row 1: expected 8 columns, got 9$"),
    csv_case("csv-thousands-comma-quoted", with_cell('"1,000"'),
             r"^row 1, column 5: .* is not a number$"),
    csv_case("csv-thousands-space", with_cell("1 000"), r"^row 1, column 5: '1 000' is not a number$"),
    csv_case("csv-thousands-underscore", with_cell("1_000"),
             r"^row 1, column 5: '1_000' is not a number$"),
    csv_case("csv-thousands-dot-decimal-comma", with_cell("1.000,5"),
             r"^row 1: expected 8 columns, got 9$"),

    # ---- UTF-8 BOM: skipped, as Excel writes it --------------------------------------------------
    accepted("csv-utf8-bom", FOREST, lambda d: post("\ufeff" + csv_rows()),
             lambda d: post(csv_rows()), n=3),
    accepted("json-utf8-bom", FOREST, lambda d: post("\ufeff" + json_rows(), "application/json"),
             lambda d: post(json_rows(), "application/json"), n=3),
    accepted("jsonlines-utf8-bom", FOREST,
             lambda d: post("\ufeff" + jsonl_rows(), "application/jsonlines"),
             lambda d: post(jsonl_rows(), "application/jsonlines"), n=3),

    # ---- quoted cells ----------------------------------------------------------------------------
    accepted("csv-quoted-padded-cell", FOREST, lambda d: post(with_cell('" 3.199832776 "')),
             lambda d: post(GOOD_ROW)),
    csv_case("csv-quoted-non-number", with_cell('"abc"'), r"^row 1, column 5: 'abc' is not a number$"),
    csv_case("csv-unbalanced-quote", with_cell('"3.199832776'),
             r"^row 1, column 5: '\"3\.199832776' is not a number$"),

    # ---- line ends -------------------------------------------------------------------------------
    accepted("csv-crlf", FOREST, lambda d: post(csv_rows("\r\n")), lambda d: post(csv_rows()), n=3),
    accepted("csv-bare-cr", FOREST, lambda d: post(csv_rows("\r", final=False)),
             lambda d: post(csv_rows()), n=3),
    accepted("csv-mixed-line-ends", FOREST,
             lambda d: post(ROWS[0] + "\r" + ROWS[1] + "\r\n" + ROWS[2] + "\n"),
             lambda d: post(csv_rows()), n=3),
    accepted("jsonlines-crlf", FOREST, lambda d: post(jsonl_rows("\r\n"), "application/jsonlines"),
             lambda d: post(jsonl_rows(), "application/jsonlines"), n=3),
    csv_case("csv-blank-crlf-line-inside", ROWS[0] + "\r\n\r\n" + ROWS[1] + "\r\n",
             r"^row 2 is empty$"),

    # ---- trailing commas -------------------------------------------------------------------------
    csv_case("csv-trailing-comma-row-2", ROWS[0] + "\n" + ROWS[1] + ",\n",
             r"^row 2: expected 8 columns, got 9$"),
    csv_case("csv-leading-comma", "," + GOOD_ROW, r"^row 1, column 1: empty value$"),
    json_case("json-trailing-comma", "[" + GOOD_ROW + ",]",
              r"^invalid JSON at byte 97: .*unexpected '\]'"),

    # ---- a 2 MB single line ----------------------------------------------------------------------
    csv_case("csv-2mb-line-of-numbers", BIG_LINE + "\n", r"^row 1: expected 8 columns, got 524288$"),
    csv_case("csv-2mb-single-cell", BIG_CELL + ",1,1,1,1,1,1,1\n",
             r"^row 1, column 1: '1{40}\.\.\.' is out of the float range$"),
    json_case("jsonlines-2mb-line", "[" + BIG_LINE + "]\n", r"^row 1: expected 8 columns, got 524288$",
              content_type="application/jsonlines"),

    # ---- invalid, truncated, deeply nested JSON --------------------------------------------------
    json_case("json-unquoted-key", '{instances: [[' + GOOD_ROW + "]]}",
              r"^invalid JSON at byte 2: .*expected string literal"),
    json_case("json-truncated-after-key", '{"instances"',
              r"^invalid JSON at byte 13: .*unexpected end of input"),
    json_case("json-two-documents", "[" + GOOD_ROW + "] [" + GOOD_ROW + "]",
              r"^invalid JSON at byte 98: .*expected end of input"),
    json_case("json-10000-deep-objects", '{"a":' * DEEP + "1" + "}" * DEEP,
              r"^JSON nested deeper than 64 levels$"),
    json_case("json-10000-deep-arrays", "[" * DEEP + "]" * DEEP,
              r"^row 1, column 1: expected a number, got an array$"),
    json_case("jsonlines-10000-deep-line-2", "[" + GOOD_ROW + "]\n" + "[" * DEEP + "]" * DEEP,
              r"^row 2, column 1: expected a number, got an array$",
              content_type="application/jsonlines"),
    C("cnn-json-10000-deep", CNN, lambda d: to_xray("[" * DEEP + "]" * DEEP), 400,
      r"^JSON nested deeper than 64 levels$"),
    C("cnn-json-truncated", CNN, lambda d: to_xray('{"instances": [[[1, 2]'), 400,
      r"^body is not valid JSON$"),

    # ---- wrong JSON types ------------------------------------------------------------------------
    json_case("json-instances-is-a-string", '{"instances": "abc"}', r'^expected \{"instances": '),
    json_case("json-bare-number", "5", r'^expected \{"instances": '),
    json_case("json-null", "null", r'^expected \{"instances": '),
    json_case("json-boolean-row", '{"instances": [true,1,2,3,4,5,6,7]}',
              r"^row 1: expected an array of numbers, got a boolean$"),
    json_case("json-object-cell", "[[1,2,{\"a\":1},4,5,6,7,8]]",
              r"^row 1, column 3: expected a number( or a row)?, got an object$"),
    json_case("json-rows-then-a-number", "[[" + GOOD_ROW + "],5]",
              r"^row 2: expected an array of numbers, got a number$"),
    json_case("json-empty-list", '{"instances": []}', r"^no rows$"),
    json_case("jsonlines-two-rows-on-line-2",
              "[" + GOOD_ROW + "]\n[[" + GOOD_ROW + "],[" + GOOD_ROW + "]]\n",
              r"^row 2: a JSON Lines line must hold exactly one row$",
              content_type="application/jsonlines"),
    C("cnn-json-string-pixel", CNN, lambda d: to_xray('{"instances": [[[0, "a"], [1, 2]]]}'), 400,
      r"^pixel at row 0, column 1 is not a number$"),
    C("cnn-json-flat-list", CNN, lambda d: to_xray("[1, 2, 3]"), 400,
      r"^image 0: expected an H x W array of pixel rows"),
    C("cnn-json-no-instances-key", CNN, lambda d: to_xray('{"images": [[[1, 2], [3, 4]]]}'), 400,
      r'^expected \{"instances": \[H x W pixel arrays\]\}$'),

    # ---- bad images ------------------------------------------------------------------------------
    C("cnn-png-truncated-at-three-quarters", CNN,
      lambda d: post(d.png[:len(d.png) * 3 // 4], "image/png"), 400, r"^truncated PNG$"),
    C("cnn-png-without-iend", CNN, lambda d: post(d.png[:-12], "image/png"), 400, r"^truncated PNG$"),
    C("cnn-png-claims-100000x100000", CNN,
      lambda d: post(png_crafted(100_000, 100_000, b"\0" * 64), "image/png"), 400,
      r"^image is 100000x100000 = 10 gigapixels, over the 40-megapixel limit$"),
    C("cnn-random-bytes-as-jpeg", CNN, lambda d: post(seeded_bytes(4096, 6), "image/jpeg"), 400,
      r"not a PNG or JPEG image"),
    C("cnn-jpeg-truncated", CNN, lambda d: post(d.jpeg[:-40], "image/jpeg"), 400,
      r"^truncated JPEG"),
    C("cnn-jpeg-cut-before-scan", CNN,
      lambda d: post(d.jpeg[:d.jpeg.index(b"\xff\xda")], "image/jpeg"), 400, r"^corrupt JPEG: .*SOS"),
    C("cnn-png-bad-crc", CNN, lambda d: post(d.png[:30] + bytes([d.png[30] ^ 0xFF]) + d.png[31:],
                                             "image/png"), 400, r"^corrupt PNG: IHDR: CRC error$"),
    C("cnn-npy-header-claims-more", CNN, lambda d: post(d.npy(4)[:-100], "application/x-npy"), 400,
      r"truncated: shape \(4, 28, 28\) of uint8 needs 3136 bytes, 3036 present"),
    C("cnn-npy-header-claims-fewer", CNN,
      lambda d: post(d.npy(4).replace(b"(4, 28, 28)", b"(2, 28, 28)", 1), "application/x-npy"), 400,
      r"size mismatch: shape \(2, 28, 28\) of uint8 needs 1568 bytes, 3136 present"),
    C("cnn-npy-complex-dtype", CNN,
      lambda d: post(npy_bytes(d.images[:2].astype(np.complex64)), "application/x-npy"), 400,
      r"unsupported dtype '<c8'"),
    C("cnn-npy-rgb-channels", CNN,
      lambda d: post(npy_bytes(np.stack([d.images[:2]] * 3, -1)), "application/x-npy"), 400,
      r"shape \(2, 28, 28, 3\); expected HxW, NxHxW or NxHxWx1"),
    C("cnn-npy-float-over-1", CNN,
      lambda d: post(npy_bytes(d.images[:1].astype(np.float32)), "application/x-npy"), 400,
      r"float pixel \d+\.\d+ \(image 0, row 0, column 0\) is outside \[0, 1\]"),
    C("cnn-json-pixel-minus-1", CNN, lambda d: to_xray('{"instances": [[[0, -1], [1, 2]]]}'), 400,
      r"^pixel at row 0, column 1 is -1: integer pixels must lie in 0\.\.255$"),
    C("cnn-json-pixel-1.5", CNN, lambda d: to_xray('{"instances": [[[0, 1.5], [0.1, 0.2]]]}'), 400,
      r"^pixel at row 0, column 1 is 1\.5: fractional pixels must lie in \[0, 1\]"),
    C("cnn-json-ragged-second-image", CNN,
      lambda d: to_xray(json.dumps({"instances": [d.image.tolist(), [[1, 2], [3]]]})), 400,
      r"^image 1: row 1 does not have 2 pixels like row 0$"),
    C("cnn-png-0x0", CNN, lambda d: post(png_crafted(0, 0), "image/png"), 400,
      r"^image has no pixels \(0x0\)$"),
    C("cnn-png-0x5", CNN, lambda d: post(png_crafted(0, 5, b"\0" * 5), "image/png"), 400,
      r"^image has no pixels \(0x5\)$"),
    C("cnn-jpeg-cmyk", CNN, lambda d: post(cmyk_jpeg(d.image), "image/jpeg"), 400,
      r"^CMYK JPEG images are not supported$"),
    # 8/16-bit PNGs are documented: v * 257 in 16 bits is v in 8, so the answer is the same.
    accepted("cnn-png-16-bit", CNN, lambda d: post(png_16bit(d.image), "image/png"),
             lambda d: post(d.png, "image/png")),
    accepted("cnn-png-rgba", CNN,
             lambda d: post(png_bytes(Image.fromarray(d.image).convert("RGBA")), "image/png"),
             lambda d: post(d.png, "image/png")),
    # The wrong image type: both are sniffed from their first bytes.
    accepted("cnn-png-sent-as-image-jpeg", CNN, lambda d: post(d.png, "image/jpeg"),
             lambda d: post(d.png, "image/png")),
    accepted("cnn-jpeg-sent-as-image-png", CNN, lambda d: post(d.jpeg, "image/png"),
             lambda d: post(d.jpeg, "image/jpeg")),
    C("cnn-png-sent-as-x-npy", CNN, lambda d: post(d.png, "application/x-npy"), 400,
      r"not a \.npy file \(bad magic\)"),
    C("cnn-png-sent-as-json-to-xray", CNN, lambda d: to_xray(d.png), 400, r"^body is not valid JSON$"),
    # Declared CSV, so the forest reads it: a 400 naming the cell, not a crash.
    C("cnn-png-sent-as-text-csv", FOREST, lambda d: post(d.png, "text/csv"), 400,
      r"^row 1, column 1: '.PNG' is not a number$"),

    # ---- HTTP framing: Content-Length ------------------------------------------------------------
    C("http-content-length-longer-then-silence", FOREST,
      lambda d: post(GOOD_ROW, length=len(GOOD_ROW) + 10), 408,
      rf"^the request did not arrive in full within {REQUEST_TIMEOUT_S} s$",
      slow=True, min_seconds=REQUEST_TIMEOUT_S - 0.5),
    C("http-content-length-longer-then-eof", FOREST,
      lambda d: post(GOOD_ROW, length=len(GOOD_ROW) + 10), 400,
      r"^malformed HTTP request: partial message$", half_close=True),
    # The rest of the body is read as the next request: garbage, so a 400 and the connection closes.
    C("http-content-length-shorter", FOREST,
      lambda d: post(GOOD_ROW + "\n" + GOOD_ROW + "\n", length=len(GOOD_ROW) + 1, close=False), 200,
      then=((400, r"^malformed HTTP request: bad method$"),), same_as=lambda d: post(GOOD_ROW)),
    C("http-content-length-twice-different", FOREST,
      lambda d: raw_head(f"Content-Length: {len(GOOD_ROW)}\r\nContent-Length: 5\r\n") + b"\r\n" +
      GOOD_ROW.encode(), 400, r"^malformed HTTP request: bad Content-Length$"),
    accepted("http-content-length-twice-equal", FOREST,
             lambda d: raw_head(f"Content-Length: {len(GOOD_ROW)}\r\n" * 2) + b"\r\n" +
             GOOD_ROW.encode(), lambda d: post(GOOD_ROW)),
    C("http-content-length-negative", FOREST,
      lambda d: raw_head("Content-Length: -1\r\n") + b"\r\n" + GOOD_ROW.encode(), 400,
      r"^malformed HTTP request: bad Content-Length$"),
    C("http-content-length-23-digits", FOREST,
      lambda d: raw_head("Content-Length: 99999999999999999999999\r\n") + b"\r\n" + GOOD_ROW.encode(),
      400, r"^malformed HTTP request: bad Content-Length$"),

    # ---- Content-Length with Transfer-Encoding, bad chunked encoding -----------------------------
    C("http-content-length-then-chunked", FOREST,
      lambda d: raw_head("Content-Length: 5\r\nTransfer-Encoding: chunked\r\n") + b"\r\n" +
      chunked(GOOD_ROW.encode()), 400, r"^malformed HTTP request: bad Transfer-Encoding$"),
    C("http-chunked-then-content-length", FOREST,
      lambda d: raw_head("Transfer-Encoding: chunked\r\nContent-Length: 5\r\n") + b"\r\n" +
      chunked(GOOD_ROW.encode()), 400, r"^malformed HTTP request: bad Content-Length$"),
    C("http-chunk-size-not-hex", FOREST,
      lambda d: raw_head("Transfer-Encoding: chunked\r\n") + b"\r\nzz\r\n" + GOOD_ROW.encode() +
      b"\r\n0\r\n\r\n", 400, r"^malformed HTTP request: bad chunk$"),
    C("http-chunk-longer-than-sent-then-eof", FOREST,
      lambda d: raw_head("Transfer-Encoding: chunked\r\n") + b"\r\n" +
      b"%x\r\n" % (len(GOOD_ROW) + 50) + GOOD_ROW.encode() + b"\r\n0\r\n\r\n", 400,
      r"^malformed HTTP request: partial message$", half_close=True),
    C("http-missing-final-chunk-then-eof", FOREST,
      lambda d: raw_head("Transfer-Encoding: chunked\r\n") + b"\r\n" +
      chunked(GOOD_ROW.encode())[:-5], 400, r"^malformed HTTP request: partial message$",
      half_close=True),
    C("http-missing-final-chunk-then-silence", FOREST,
      lambda d: raw_head("Transfer-Encoding: chunked\r\n") + b"\r\n" +
      chunked(GOOD_ROW.encode())[:-5], 408,
      rf"^the request did not arrive in full within {REQUEST_TIMEOUT_S} s$",
      slow=True, min_seconds=REQUEST_TIMEOUT_S - 0.5),
    C("http-headers-never-finish", FOREST,
      lambda d: raw_head("X-Partial: yes\r\n", close=False), 408,
      rf"^the request did not arrive in full within {IDLE_TIMEOUT_S} s$",
      slow=True, min_seconds=IDLE_TIMEOUT_S - 0.5),

    # ---- oversized headers, a body over the limit ------------------------------------------------
    C("http-one-20kb-header", FOREST, lambda d: post(GOOD_ROW, headers=[("X-Big", "a" * 20_000)]),
      431, rf"^headers are over the limit of {MAX_HEADER} bytes$"),
    C("http-2000-small-headers", FOREST,
      lambda d: post(GOOD_ROW, headers=[(f"X-H{i}", "v") for i in range(2000)]), 431,
      rf"^headers are over the limit of {MAX_HEADER} bytes$"),
    C("http-20kb-url", FOREST, lambda d: http("POST", "/invocations?" + "a" * 20_000, GOOD_ROW), 431,
      rf"^headers are over the limit of {MAX_HEADER} bytes$"),
    accepted("http-15kb-header-under-the-limit", FOREST,
             lambda d: post(GOOD_ROW, headers=[("X-Big", "a" * 15_000)]), lambda d: post(GOOD_ROW)),
    accepted("http-8kb-query-string", FOREST,
             lambda d: http("POST", "/invocations?" + "a" * 8000, GOOD_ROW), lambda d: post(GOOD_ROW)),
    C("http-chunked-body-over-the-limit", FOREST,
      lambda d: raw_head("Transfer-Encoding: chunked\r\n") + b"\r\n" +
      chunked((GOOD_ROW + "\n").encode() * (MAX_BODY // (len(GOOD_ROW) + 1) + 1)), 413,
      rf"^body is over the limit of {MAX_BODY} bytes \(SAGEMAKER_MAX_PAYLOAD_IN_MB raises it\)$"),
    C("http-expect-100-body-over-the-limit", FOREST,
      lambda d: raw_head(f"Content-Length: {MAX_BODY + 1}\r\nExpect: 100-continue\r\n") + b"\r\n", 413,
      rf"^body (of {MAX_BODY + 1} bytes )?is over the limit of {MAX_BODY} bytes\b"),

    # ---- missing or unknown Content-Type ---------------------------------------------------------
    accepted("http-no-content-type-csv", FOREST, lambda d: post(csv_rows(), None),
             lambda d: post(csv_rows()), n=3),
    accepted("http-no-content-type-json", FOREST, lambda d: post(json_rows(), None),
             lambda d: post(json_rows(), "application/json"), n=3),
    C("http-content-type-text-plain", FOREST, lambda d: post(GOOD_ROW, "text/plain"), 415,
      r"^content type 'text/plain' is not supported for tabular models; use one of text/csv, "
      r"application/json, application/jsonlines$"),
    C("http-content-type-octet-stream", FOREST, lambda d: post(GOOD_ROW, "application/octet-stream"),
      415, r"^content type 'application/octet-stream' is not supported"),
    C("http-content-type-csv-to-cnn", CNN, lambda d: to_xray(GOOD_ROW, "text/csv"), 415,
      r"^model 'xray' reads images \(.*\), not text/csv$"),

    # ---- absurd Accept lists ---------------------------------------------------------------------
    accepted("http-accept-1000-entries-csv-last", FOREST,
             lambda d: post(GOOD_ROW, headers=[("Accept", ", ".join(
                 [f"x/y{i};q=0.9" for i in range(999)] + ["text/csv;q=0.1"]))]),
             lambda d: post(GOOD_ROW, headers=[("Accept", "text/csv")]), content_type="text/csv"),
    C("http-accept-1000-unsupported", FOREST,
      lambda d: post(GOOD_ROW, headers=[("Accept", ", ".join(f"x/y{i}" for i in range(1000)))]), 406,
      r"^cannot produce any type in Accept; available: application/json, application/jsonlines, "
      r"text/csv$"),
    C("http-accept-12kb-token", FOREST, lambda d: post(GOOD_ROW, headers=[("Accept", "x" * 12_000)]),
      406, r"^cannot produce any type in Accept"),
    C("http-accept-10000-commas", FOREST, lambda d: post(GOOD_ROW, headers=[("Accept", "," * 10_000)]),
      406, r"^cannot produce any type in Accept"),
    C("http-accept-everything-q0", FOREST,
      lambda d: post(GOOD_ROW, headers=[("Accept", "application/json;q=0, text/csv;q=0, */*;q=0")]),
      406, r"^cannot produce any type in Accept"),

    # ---- unknown methods, versions, bytes that are not HTTP --------------------------------------
    C("http-method-BREW", FOREST, lambda d: http("BREW", "/invocations", GOOD_ROW), 405,
      r"^BREW is not allowed on /invocations; use POST$", allow="POST"),
    C("http-method-PATCH-ping", FOREST, lambda d: http("PATCH", "/ping", b"{}"), 405,
      r"^PATCH is not allowed on /ping; use GET$", allow="GET"),
    C("http-method-TRACE", FOREST, lambda d: http("TRACE", "/invocations", content_type=None), 405,
      r"^TRACE is not allowed on /invocations; use POST$", allow="POST"),
    C("http-method-lowercase-post", FOREST, lambda d: http("post", "/invocations", GOOD_ROW), 405,
      r"^post is not allowed on /invocations; use POST$", allow="POST"),
    C("http-method-with-a-paren", FOREST, lambda d: http("PO(ST", "/invocations", GOOD_ROW), 400,
      r"^malformed HTTP request: bad method$"),
    accepted("http-1.0-post", FOREST, lambda d: post(GOOD_ROW, version="HTTP/1.0", close=False),
             lambda d: post(GOOD_ROW), version="HTTP/1.0"),
    C("http-version-2.0", FOREST, lambda d: post(GOOD_ROW, version="HTTP/2.0"), 400,
      r"^malformed HTTP request: bad version$"),
    C("http2-connection-preface", FOREST, lambda d: b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 400,
      r"^malformed HTTP request: bad version$"),
    C("http-nul-in-header-value", FOREST, lambda d: post(GOOD_ROW, headers=[("X-Foo", "a\0b")]), 400,
      r"^malformed HTTP request: bad value$"),
    C("http-nul-in-header-name", FOREST, lambda d: post(GOOD_ROW, headers=[("X-F\0oo", "ab")]), 400,
      r"^malformed HTTP request: bad field$"),
    C("http-nul-in-content-type", FOREST, lambda d: post(GOOD_ROW, "text/csv\0"), 400,
      r"^malformed HTTP request: bad value$"),
    C("http-nul-in-target", FOREST, lambda d: http("POST", "/invo\0cations", GOOD_ROW), 400,
      r"^malformed HTTP request: bad target$"),
    C("http-header-without-colon", FOREST, lambda d: raw_head("NoColonHere\r\n") + b"\r\n", 400,
      r"^malformed HTTP request: bad field$"),
    C("http-binary-garbage", FOREST, lambda d: bytes(range(256)) * 4, 400,
      r"^malformed HTTP request: bad method$"),
    # Request smuggling: Beast reads "Transfer-Encoding: gzip" (no chunked) as an empty body and the
    # body as the NEXT request (here a GET /execution-parameters that then ran: a 200 after the
    # 400). RFC 9112 6.3: unless the final coding is chunked, a 400 and close - nothing after it.
    C("http-transfer-encoding-gzip", FOREST,
      lambda d: raw_head("Transfer-Encoding: gzip\r\n", close=False) + b"\r\n" +
      b"GET /execution-parameters HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 400,
      r"Transfer-Encoding"),
    # The same for "Transfer-Encoding: chunked, chunked" (chunked applied twice).
    C("http-transfer-encoding-chunked-twice", FOREST,
      lambda d: raw_head("Transfer-Encoding: chunked, chunked\r\n", close=False) + b"\r\n" +
      chunked(GOOD_ROW.encode()), 400, r"Transfer-Encoding"),
    # NaN / Infinity are not JSON: the reason ("invalid literal") and what was read are kept.
    json_case("json-NaN-literal", "[" + with_cell("NaN") + "]",
              r"^invalid JSON at byte 49: .*(invalid literal|NaN)"),
    json_case("json-Infinity-literal", "[" + with_cell("Infinity") + "]",
              r"^invalid JSON at byte 49: .*(invalid literal|Infinity)"),
    # Valid JSON but not a float: the same answer as CSV, no library internals.
    json_case("json-1e400", "[" + with_cell("1e400") + "]",
              r"^row 1, column 5: .*1e400.* out of the float range$"),
    # JSON Lines errors name the line (SPEC: the 400 says which row).
    json_case("jsonlines-empty-array-on-line-2", "[" + GOOD_ROW + "]\n[]\n",
              r"^row 2\b", content_type="application/jsonlines"),
    json_case("jsonlines-object-on-line-2", "[" + GOOD_ROW + "]\n{\"a\": 1}\n", r"^row 2\b",
              content_type="application/jsonlines"),
    # An empty JSON body says so, as the forest's and the other image paths do.
    C("cnn-json-empty-body", CNN, lambda d: to_xray(b""), 400, r"^empty body"),
    # A PNG with no Content-Type (pulsar and xray loaded): its magic routes it to the CNN.
    accepted("cnn-png-without-content-type", CNN, lambda d: post(d.png, None),
             lambda d: post(d.png, "image/png")),
    # An unsupported image type goes to the image model, whose 415 lists the image types that work.
    C("cnn-image-bmp", CNN, lambda d: post(b"BM" + b"\0" * 64, "image/bmp"), 415,
      r"image/png.*image/jpeg"),
    # Errors quote at most ~40 characters of the offending token (a 10 KB path, method, content type
    # or model name is not echoed back; every case also checks its error text is <= 300 characters).
    C("http-10kb-unknown-path", FOREST, lambda d: http("POST", "/" + "a" * 10_000, GOOD_ROW), 404,
      r"^no route for POST /a{1,64}"),
    C("http-8kb-method", FOREST, lambda d: http("A" * 8000, "/invocations", content_type=None), 405,
      r"not allowed on /invocations"),
    C("http-10kb-content-type", FOREST, lambda d: post(GOOD_ROW, "application/" + "x" * 10_000), 415,
      r"is not supported"),
    C("http-10kb-model-name", FOREST,
      lambda d: post(GOOD_ROW, headers=[("X-Amzn-SageMaker-Custom-Attributes",
                                         "model=" + "m" * 10_000)]), 404, r"is not loaded"),
]


# --------------------------------------------------------------------------------------------
# Left out: the server does something we think is wrong. Each entry is what it SHOULD do; the
# comment says what it does today. Not run (the lead fixes the server, then moves them to CASES).
# --------------------------------------------------------------------------------------------

KNOWN_BAD: list[Case] = [
]

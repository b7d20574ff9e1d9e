"""The CNN's BLAS kernels: OpenBLAS must not fall back to its generic x86 ("Prescott") kernels on an
Intel CPU with AVX2 or AVX-512 it does not know by model number (it ran the CNN at a third of its
speed on an Emerald Rapids Xeon); the server names the kernels for it (models/cnn/cnn_gemm.cc)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

import mls_testlib as lib


def cpu_flags() -> tuple[str, set[str]]:
    vendor, flags = "", set()
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("vendor_id") and not vendor:
            vendor = line.split(":", 1)[1].strip()
        if line.startswith("flags") and not flags:
            flags = set(line.split(":", 1)[1].split())
    return vendor, flags


def blas_core(**env: str) -> str:
    out = subprocess.run([str(lib.MLS_BIN), "--version"], capture_output=True, text=True,
                         timeout=30, env=lib.clean_env(OPENBLAS_VERBOSE="2", **env))
    assert out.returncode == 0, out.stderr
    match = re.search(r"^Core: (\S+)", out.stdout + out.stderr, re.MULTILINE)
    if match is None:
        pytest.skip("this OpenBLAS does not report its core (linked as a shared library?)")
    return match.group(1)


def test_an_intel_cpu_with_avx2_gets_vector_kernels():
    vendor, flags = cpu_flags()
    if vendor != "GenuineIntel" or "avx2" not in flags or "fma" not in flags:
        pytest.skip(f"not an Intel CPU with AVX2 and FMA ({vendor})")
    avx512 = {"avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"} <= flags
    assert blas_core() == ("SkylakeX" if avx512 else "Haswell")


def test_the_users_own_core_type_wins():
    assert blas_core(OPENBLAS_CORETYPE="Prescott") == "Prescott"

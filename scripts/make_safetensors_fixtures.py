#!/usr/bin/env python3
"""Safetensors interop fixtures for Tests/SafeTensorsTests (both directions).

1. Writes Fixtures/python_written.safetensors with Python's `safetensors` package (one tensor per dtype,
   a scalar, empty tensors, __metadata__) and Fixtures/python_written.json with the expected values:
   the raw little-endian bytes of every tensor as hex, float tensors as float32 bit patterns (so NaN,
   inf and -0.0 compare exactly), integer tensors as ints. The Swift tests read both and compare.
2. Verifies Fixtures/swift_written.safetensors, written by our Swift code, with safetensors.safe_open
   and load_file: names, dtypes, shapes, every value bit for bit, and the metadata. Exits non-zero
   with a message naming the tensor if anything differs.

Usage (offline here: pip install safetensors numpy torch==2.13.0):
    python3 scripts/make_safetensors_fixtures.py

swift_written.safetensors is the byte-exact output of `SafeTensors.serialized()` for the value built in
Tests/SafeTensorsTests/InteropTests.swift (`swiftWrittenValue`); the Swift test compares against it.
To (re)create it after changing that value, then verify it here and commit both:
    SAFETENSORS_WRITE_FIXTURES=1 swift test --scratch-path .build-st --filter SafeTensorsTests.InteropTests
    python3 scripts/make_safetensors_fixtures.py
"""
import json
import math
import os
import sys

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

FIXTURES = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "SafeTensorsTests", "Fixtures"))
INF, NAN = math.inf, math.nan
SAFETENSORS_DTYPE = {
    torch.float64: "F64", torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16",
    torch.int64: "I64", torch.int32: "I32", torch.int16: "I16", torch.int8: "I8",
    torch.uint8: "U8", torch.uint16: "U16", torch.uint32: "U32", torch.uint64: "U64", torch.bool: "BOOL",
}
FLOAT_TYPES = {torch.float64, torch.float32, torch.float16, torch.bfloat16}


def raw_bytes(t):
    """Row-major little-endian bytes, read through a same-width integer view (numpy has no bfloat16)."""
    int_view = {8: torch.int64, 4: torch.int32, 2: torch.int16, 1: torch.uint8}[t.element_size()]
    return t.contiguous().view(int_view).numpy().astype(f"<i{t.element_size()}" if t.element_size() > 1 else "u1").tobytes()


def float32_bits(t):
    """float32 bit patterns of the values as our reader must produce them (F64 rounds to nearest)."""
    return [int(b) for b in t.to(torch.float32).flatten().numpy().view(np.uint32)]


# ---------------------------------------------------------------- 1. written by Python, read by Swift

def python_written_tensors():
    return {
        "f32_matrix": torch.tensor([[0.0, -0.0, 1.5, -3.25], [1e-40, 3.4028235e38, INF, NAN]], dtype=torch.float32),
        "f16_vector": torch.tensor([1.0, -2.5, 65504.0, 6e-8, -INF], dtype=torch.float16),
        "bf16_vector": torch.tensor([1.0, -0.15625, 3.0e38, 1e-39, NAN], dtype=torch.bfloat16),
        "f64_vector": torch.tensor([0.1, -1e300, 1e-50, 2.5], dtype=torch.float64),
        "i64_vector": torch.tensor([0, -1, 2**63 - 1, -(2**63)], dtype=torch.int64),
        "i32_matrix": torch.tensor([[2**31 - 1, -(2**31)], [7, -7]], dtype=torch.int32),
        "i16_vector": torch.tensor([-32768, 32767, 3], dtype=torch.int16),
        "i8_vector": torch.tensor([-128, 127, 0], dtype=torch.int8),
        "u8_vector": torch.tensor([0, 128, 255], dtype=torch.uint8),
        "u16_vector": torch.tensor([0, 1, 65535], dtype=torch.uint16),
        "u32_vector": torch.tensor([0, 2**32 - 1], dtype=torch.uint32),
        "u64_vector": torch.tensor([0, 2**63 - 1], dtype=torch.uint64),
        "u64_too_big": torch.tensor([2**64 - 1], dtype=torch.uint64),
        "bool_vector": torch.tensor([True, False, True]),
        "scalar_f32": torch.tensor(42.5, dtype=torch.float32),
        "scalar_i64": torch.tensor(-7, dtype=torch.int64),
        "empty_f32": torch.zeros((0, 3), dtype=torch.float32),
        "empty_i64": torch.zeros((2, 0), dtype=torch.int64),
    }


PYTHON_METADATA = {"format": "pt", "note": "written by safetensors \u2713 \"quoted\"\n"}


def same_content(path, tensors, metadata):
    if not os.path.exists(path):
        return False
    with safe_open(path, framework="pt") as f:
        if f.metadata() != metadata or sorted(f.keys()) != sorted(tensors):
            return False
        return all(f.get_tensor(n).dtype == t.dtype and f.get_tensor(n).shape == t.shape
                   and raw_bytes(f.get_tensor(n)) == raw_bytes(t) for n, t in tensors.items())


def write_python_fixture():
    tensors = python_written_tensors()
    path = os.path.join(FIXTURES, "python_written.safetensors")
    # save_file's header key order varies between runs; keep the committed file when its content is the same.
    action = "kept"
    if not same_content(path, tensors, PYTHON_METADATA):
        save_file(tensors, path, metadata=PYTHON_METADATA)
        os.chmod(path, 0o644)
        action = "wrote"
    expected = {"metadata": PYTHON_METADATA, "tensors": {}}
    for name, t in tensors.items():
        item = {"dtype": SAFETENSORS_DTYPE[t.dtype], "shape": list(t.shape), "hex": raw_bytes(t).hex()}
        if t.dtype in FLOAT_TYPES:
            item["float32_bits"] = float32_bits(t)
        elif name != "u64_too_big":  # does not fit in Int; the Swift test expects an error
            item["ints"] = [int(v) for v in t.flatten().tolist()]
        expected["tensors"][name] = item
    # One line per tensor keeps the sidecar short and diffable.
    lines = [f'  {json.dumps(n)}: {json.dumps(expected["tensors"][n], sort_keys=True)}' for n in sorted(tensors)]
    with open(os.path.join(FIXTURES, "python_written.json"), "w") as f:
        f.write('{"metadata": ' + json.dumps(PYTHON_METADATA, sort_keys=True) + ',\n "tensors": {\n')
        f.write(",\n".join(lines) + "\n}}\n")
    print(f"{action} {path} ({os.path.getsize(path)} bytes, {len(tensors)} tensors) and python_written.json")


# ---------------------------------------------------------------- 2. written by Swift, read by Python
# Must mirror `swiftWrittenValue` in Tests/SafeTensorsTests/InteropTests.swift.

def swift_written_expected():
    f32 = torch.float32
    return {
        "weight": torch.tensor([[1.0, -2.5, 0.375], [float.fromhex("0x1p-140"), INF, -0.0]], dtype=f32),
        "bias": torch.tensor([0.5, -0.25, 1024.0], dtype=f32),
        "scalar": torch.tensor(3.5, dtype=f32),
        "empty": torch.zeros((0, 4), dtype=f32),
        "ids": torch.tensor([0, -1, 2**63 - 1, -(2**63)], dtype=torch.int64),
        "positions": torch.tensor([[1, -2], [2**31 - 1, -(2**31)]], dtype=torch.int32),
        "half": torch.tensor([1.0, -0.5, 65504.0], dtype=torch.float16),
        "brain": torch.tensor([1.0, -2.0, 0.15625], dtype=torch.bfloat16),
        "double": torch.tensor([0.5, -1e300], dtype=torch.float64),
        "i16": torch.tensor([-32768, 32767], dtype=torch.int16),
        "i8": torch.tensor([-128, 127], dtype=torch.int8),
        "u8": torch.tensor([0, 1, 128, 255], dtype=torch.uint8),
        "u16": torch.tensor([0, 65535], dtype=torch.uint16),
        "u32": torch.tensor([0, 2**32 - 1], dtype=torch.uint32),
        "u64": torch.tensor([0, 2**64 - 1], dtype=torch.uint64),
        "mask": torch.tensor([True, False, True]),
    }


SWIFT_METADATA = {"producer": "mscgrec", "text": "\u00fcn\u00efcode \"quoted\" back\\slash\nnewline\ttab"}


def check(condition, message):
    if not condition:
        sys.exit(f"swift_written.safetensors: {message}")


def compare(name, got, want):
    check(got.dtype == want.dtype, f"tensor '{name}': dtype {got.dtype}, expected {want.dtype}")
    check(list(got.shape) == list(want.shape), f"tensor '{name}': shape {list(got.shape)}, expected {list(want.shape)}")
    check(raw_bytes(got) == raw_bytes(want), f"tensor '{name}': values {got.flatten().tolist()}, expected {want.flatten().tolist()}")


def verify_swift_fixture():
    path = os.path.join(FIXTURES, "swift_written.safetensors")
    if not os.path.exists(path):
        sys.exit(f"{path} is missing; create it with SAFETENSORS_WRITE_FIXTURES=1 (see this script's header)")
    expected = swift_written_expected()
    loaded = load_file(path)
    check(sorted(loaded) == sorted(expected), f"names {sorted(loaded)}, expected {sorted(expected)}")
    for name, want in expected.items():
        compare(name, loaded[name], want)
    with safe_open(path, framework="pt") as f:
        check(f.metadata() == SWIFT_METADATA, f"metadata {f.metadata()}, expected {SWIFT_METADATA}")
        for name in f.keys():
            compare(name, f.get_tensor(name), expected[name])
    with open(path, "rb") as f:
        header_len = int.from_bytes(f.read(8), "little")
    check(header_len % 8 == 0, f"header length {header_len} is not padded to a multiple of 8")
    print(f"verified {path}: {len(expected)} tensors and metadata match")


if __name__ == "__main__":
    write_python_fixture()
    verify_swift_fixture()

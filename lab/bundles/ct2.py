"""Read a CTranslate2 ``model.bin`` into named numpy arrays.

Layout (little-endian): uint32 version; string spec name; uint32 spec revision; uint32 variable
count; per variable: string name, uint8 rank, rank x uint32 dims, uint8 dtype, uint32 byte count,
raw bytes; then uint32 alias count and (alias, target) string pairs. A string is a uint16 length
(including a trailing NUL) followed by its bytes.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

_DTYPES = {0: np.float32, 1: np.int8, 2: np.int16, 3: np.int32, 4: np.float16}  # 5 = bf16


@dataclass
class CT2Model:
    spec: str
    version: int
    revision: int
    variables: dict[str, np.ndarray]
    aliases: dict[str, str]


def read_ct2(path: str | Path) -> CT2Model:
    buf = Path(path).read_bytes()
    pos = 0

    def u(fmt: str):
        nonlocal pos
        (v,) = struct.unpack_from("<" + fmt, buf, pos)
        pos += struct.calcsize(fmt)
        return v

    def string() -> str:
        nonlocal pos
        n = u("H")
        s = buf[pos:pos + n].rstrip(b"\0").decode("utf-8")
        pos += n
        return s

    version = u("I")
    if version < 5:
        raise ValueError(f"unsupported CTranslate2 model version {version}")
    spec = string()
    revision = u("I")
    variables: dict[str, np.ndarray] = {}
    for _ in range(u("I")):
        name = string()
        rank = u("B")
        dims = [u("I") for _ in range(rank)]
        code = u("B")
        nbytes = u("I")
        raw = buf[pos:pos + nbytes]
        pos += nbytes
        if code == 5:  # bfloat16 -> float32
            arr = (np.frombuffer(raw, np.uint16).astype(np.uint32) << 16).view(np.float32)
        else:
            arr = np.frombuffer(raw, _DTYPES[code])
        variables[name] = arr.reshape(dims) if dims else arr.reshape(())
    aliases = {}
    if pos < len(buf):
        for _ in range(u("I")):
            a = string()
            aliases[a] = string()
    return CT2Model(spec=spec, version=version, revision=revision, variables=variables,
                    aliases=aliases)

"""Writes the fuzz targets' seed inputs (scripts/fuzz): small valid and near-valid files of each
kind the page reads, from tests/fixtures and built here with the standard library only.

    python3 scripts/lib/fuzz_seeds.py OUT_DIR   ->  OUT_DIR/<target>/<seed>
"""

import json
import shutil
import struct
import sys
import zipfile
from io import BytesIO
from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[2] / "tests" / "fixtures"
out = Path(sys.argv[1])
shutil.rmtree(out, ignore_errors=True)


def put(target, name, data):
    path = out / target / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def digit(cls, i):
    return sorted((FIXTURES / "digits3" / str(cls)).glob("*.png"))[i].read_bytes()


def zip_of(entries, compression=zipfile.ZIP_DEFLATED):
    buffer = BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as z:
        for name, data in entries:
            info = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
            info.compress_type = compression
            z.writestr(info, data)
    return buffer.getvalue()


def safetensors(tensors):
    """tensors: [(name, shape, [floats])] as F32."""
    header, offset, blobs = {}, 0, []
    for name, shape, values in tensors:
        blob = struct.pack(f"<{len(values)}f", *values)
        header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [offset, offset + len(blob)]}
        offset += len(blob)
        blobs.append(blob)
    text = json.dumps(header, separators=(",", ":")).encode()
    return struct.pack("<Q", len(text)) + text + b"".join(blobs)


def npy(rows, cols):
    header = f"{{'descr': '<f4', 'fortran_order': False, 'shape': ({rows}, {cols}), }}"
    header = header.ljust(118) + "\n"
    values = [((r * 7 + c * 3) % 11) / 10 for r in range(rows) for c in range(cols)]
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode() + struct.pack(f"<{len(values)}f", *values)


# Images: the odd and broken files of the bad-input suite, two photos and a few digits.
for path in sorted((FIXTURES / "bad-input").iterdir()):
    put("image", path.name, path.read_bytes())
for name in ["flower_227.png", "china.jpg"]:
    put("image", name, (FIXTURES / "photos" / name).read_bytes())
for cls in range(3):
    put("image", f"digit{cls}.png", digit(cls, 0))

# Weights: the fixture network in both formats, cut short, and a tiny wrong-shaped file.
onnx = (FIXTURES / "squeezenet" / "squeezenet1_1_random.onnx").read_bytes()
st = (FIXTURES / "squeezenet" / "squeezenet1_1_random.safetensors").read_bytes()
put("weights", "squeezenet.onnx", onnx)
put("weights", "squeezenet.safetensors", st)
put("weights", "onnx-head.bin", onnx[:4096])
put("weights", "safetensors-head.bin", st[:4096])
put("weights", "tiny.safetensors", safetensors([("features.0.weight", [2, 3, 1, 1], [0.5] * 6),
                                                ("features.0.bias", [2], [0.0, 1.0])]))

# Zip data sets: two classes, stored and deflated; and one with hostile and nested entries.
good = [(f"{c}/{i}.png", digit(c, i)) for c in range(2) for i in range(2)]
put("zip_dataset", "two-classes.zip", zip_of(good))
put("zip_dataset", "two-classes-stored.zip", zip_of(good, zipfile.ZIP_STORED))
put("zip_dataset", "hostile.zip", zip_of(good + [("../escape/0.png", digit(0, 3)), ("/abs/1.png", digit(1, 3)),
                                                 ("nested/inner.zip", zip_of(good[:2])), ("__MACOSX/0/._a.png", b"junk")]))

# Matrices: the first byte picks the options (fuzz/src/entries.rs::matrix).
csv_head = b"".join((FIXTURES / "digits.csv").read_bytes().splitlines(keepends=True)[:40])
put("matrix", "digits-label.csv", b"\x02" + csv_head)
put("matrix", "digits-label-index.csv", b"\x0e" + csv_head)
put("matrix", "plain.csv", b"\x00" + b"a,b,c\n1,2,3\n4.5,-6,7e3\n")
put("matrix", "small.npy", b"\x00" + npy(5, 3))
put("matrix", "pool1.safetensors", b"\x01" + safetensors([("pool1", [4, 2, 2], [float(i) for i in range(16)])]))

# Sessions: a whole file, and manifests (the target also wraps its bytes as session.json).
manifest = {"format": "layerlens-session", "version": 1, "saved_at_ms": 0.0, "files": ["0/a.png", "1/b.png"],
            "rejected": [["notes.txt", "not an image"]], "validation": [1], "analysis": None,
            "settings": {"train-epochs": "2"}}
text = json.dumps(manifest).encode()
put("session", "manifest.json", text)
put("session", "empty-manifest.json", json.dumps({**manifest, "files": None, "validation": None}).encode())
put("session", "thumbnails-manifest.json", json.dumps({**manifest, "thumbnails_only": True}).encode())
put("session", "stored-manifest.json", json.dumps({**manifest, "images_elsewhere": True}).encode())
put("session", "session.zip", zip_of([("session.json", text), ("files/0", digit(0, 0)), ("files/1", digit(1, 0))]))
count = sum(1 for _ in out.rglob("*") if _.is_file())
print(f"{count} seed inputs in {out}")

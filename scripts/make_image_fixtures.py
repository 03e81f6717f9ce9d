#!/usr/bin/env python3
"""Writes the small committed image fixtures of Tests/ImagesTests/Fixtures (decoding tests).

Pillow (pip install pillow) makes the files and decodes the valid ones for the expected pixels (expected/*.rgb, raw
interleaved RGB); corrupt files are cut or damaged copies. Run from the repository root.
"""
import io, json, os
import numpy as np
from PIL import Image

out = "Tests/ImagesTests/Fixtures"
os.makedirs(f"{out}/expected", exist_ok=True)
rng = np.random.default_rng(15)

def gradient(w, h):
    y, x = np.mgrid[0:h, 0:w]
    return np.stack([x * 255 // max(w - 1, 1), y * 255 // max(h - 1, 1), (x + y) * 255 // (w + h - 2)], -1).astype(np.uint8)

expected = {}
def save(name, image, **kwargs):
    image.save(f"{out}/{name}", **kwargs)
    decoded = Image.open(f"{out}/{name}")
    # (alpha.png: libpng composites on white in linear light, so its expected pixels are only checked at the ends)
    rgb = np.asarray(decoded.convert("RGB"))
    rgb.tofile(f"{out}/expected/{name}.rgb")
    expected[name] = {"width": rgb.shape[1], "height": rgb.shape[0]}

photo = gradient(24, 16)
photo[4:10, 6:14] = [200, 30, 40]                     # an object on the gradient
save("photo.jpg", Image.fromarray(photo), quality=95)
save("photo-progressive.jpg", Image.fromarray(photo), quality=90, progressive=True)
save("gray.jpg", Image.fromarray(photo[:, :, 0]), quality=95)
save("photo.png", Image.fromarray(photo))
alpha = np.dstack([photo, (np.arange(24)[None, :].repeat(16, 0) * 10).astype(np.uint8)])
save("alpha.png", Image.fromarray(alpha, "RGBA"))
save("gray16.png", Image.fromarray((photo[:, :, 1].astype(np.uint16) * 257)).convert("I;16"))
np.repeat(photo[:, :, 1:2], 3, -1).tofile(f"{out}/expected/gray16.png.rgb")   # libpng scales 16 bits to 8 (Pillow clips)
save("palette.png", Image.fromarray(photo).convert("P", palette=Image.Palette.ADAPTIVE, colors=16))
save("uniform.jpg", Image.new("RGB", (40, 30), (240, 240, 240)), quality=90)   # a placeholder: one colour
save("tiny.png", Image.fromarray(gradient(8, 8)))                                # a placeholder: too small

jpeg = open(f"{out}/photo.jpg", "rb").read()
open(f"{out}/truncated.jpg", "wb").write(jpeg[: len(jpeg) // 2])
open(f"{out}/garbage.jpg", "wb").write(bytes(jpeg[:20]) + rng.integers(0, 256, 300, dtype=np.uint8).tobytes())
png = open(f"{out}/photo.png", "rb").read()
open(f"{out}/truncated.png", "wb").write(png[: len(png) // 2])
bad_crc = bytearray(png); bad_crc[40] ^= 0xFF
open(f"{out}/badcrc.png", "wb").write(bytes(bad_crc))
open(f"{out}/empty.png", "wb").write(b"")
open(f"{out}/text.jpg", "wb").write(b"this is not an image\n")
json.dump(expected, open(f"{out}/expected.json", "w"), indent=1, sort_keys=True)
# A CSV source with a quoted title, a missing file and a corrupt one.
with open(f"{out}/items.csv", "w") as f:
    f.write('id,title,label,image\n1,"Red, bright ""photo""",a,photo.jpg\n2,Gray,b,gray.jpg\n3,Missing,a,nowhere.jpg\n'
            '4,Truncated,b,truncated.jpg\n5,Uniform,a,uniform.jpg\n6,PNG,b,photo.png\n')
print("wrote", sorted(os.listdir(out)))

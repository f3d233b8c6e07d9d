#!/usr/bin/python3
"""Draws the demo hair gallery: pre-aligned (FFHQ layout) shape and color references, procedurally.

Nothing here is a photo and nothing is downloaded: each item is a flat, drawn head (face, eyes, mouth, neck)
with a hair shape and a hair colour, placed where FFHQ alignment puts a face (eyes at 3/8 and 5/8 of the width,
y ~ 0.47, mouth ~ 0.75). They exist so the gallery API, the `shapeId`/`colorId` path and the hair stage can be
exercised end to end; they are labelled as demo images in gallery.json and in the API's names.

Usage: /usr/bin/python3 tools/gallery/make_gallery.py [out_dir]   (default src/Gateway/Gallery/Items)
Writes {id}.png (256x256), {id}.thumb.png (128x128) and gallery.json. Deterministic (no randomness).
"""
import json
import os
import struct
import sys
import zlib

import numpy as np

SIZE = 256
SS = 2  # supersampling for anti-aliased edges


def png_bytes(rgb):
    h, w, _ = rgb.shape
    raw = b"".join(b"\x00" + rgb[y].astype(np.uint8).tobytes() for y in range(h))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def grid():
    n = SIZE * SS
    y, x = np.mgrid[0:n, 0:n].astype(np.float64)
    return (x + 0.5) / SS, (y + 0.5) / SS


X, Y = grid()


def ellipse(cx, cy, ax, ay):
    return ((X - cx) / ax) ** 2 + ((Y - cy) / ay) ** 2 <= 1.0


def polar(cx, cy):
    return np.hypot(X - cx, Y - cy), np.arctan2(Y - cy, X - cx)


FACE = ellipse(128, 142, 56, 76)
NECK = (np.abs(X - 128) < 26) & (Y > 190)
SHOULDERS = ellipse(128, 300, 120, 70)


def hair_shape(kind):
    if kind == "bob":
        outline = ellipse(128, 128, 82, 90) & (Y < 196)
        fringe = FACE & (Y < 104)
        return outline, fringe
    if kind == "long":
        top = ellipse(128, 124, 78, 84)
        body = (np.abs(X - 128) < 74) & (Y >= 124) & (Y < 250)
        fringe = FACE & (Y < 92) & (X < 150)
        return top | body, fringe
    if kind == "curly":
        r, t = polar(128, 132)
        radius = 96 * (1 + 0.06 * np.sin(14 * t)) * (1 + 0.04 * np.cos(9 * t))
        outline = (r < radius) & (Y < 226)
        fringe = FACE & (Y < 98 + 6 * np.sin(X / 5.0))
        return outline, fringe
    if kind == "pixie":
        outline = ellipse(128, 112, 66, 64) & (Y < 128)
        side = ellipse(128, 120, 64, 56) & (Y < 150) & (np.abs(X - 128) > 50)
        fringe = FACE & (Y < 96 + (X - 100) * 0.25)
        return outline | side, fringe
    if kind == "wavy":
        top = ellipse(128, 124, 80, 86)
        half = 76 + 8 * np.sin(Y / 9.0)
        body = (np.abs(X - 128) < half) & (Y >= 124) & (Y < 240)
        fringe = FACE & (Y < 90)
        return top | body, fringe
    if kind == "bun":
        cap = ellipse(128, 116, 64, 62) & (Y < 120)
        bun = ellipse(128, 46, 34, 28)
        sides = ellipse(128, 122, 62, 58) & (Y < 140) & (np.abs(X - 128) > 52)
        return cap | bun | sides, np.zeros_like(cap)
    raise ValueError(kind)


def draw(kind, colour):
    n = SIZE * SS
    img = np.zeros((n, n, 3))
    # background: a soft vertical gradient
    t = (Y / SIZE)[..., None]
    img[:] = np.array([196, 206, 218]) * (1 - t) + np.array([150, 162, 178]) * t
    outline, fringe = hair_shape(kind)
    behind = outline & ~FACE & ~NECK
    strands = 0.80 + 0.20 * np.sin(X * 0.9 + 3 * np.sin(Y / 17.0))[..., None]
    shade = (0.85 + 0.15 * (1 - np.clip(np.hypot(X - 110, Y - 90) / 160, 0, 1)))[..., None]
    hair_rgb = np.array(colour, dtype=np.float64) * strands * shade
    skin = np.array([226, 184, 156], dtype=np.float64)
    img[SHOULDERS] = [92, 104, 130]
    img[NECK] = skin * 0.9
    img[behind] = hair_rgb[behind]
    img[FACE] = skin * (0.92 + 0.08 * (1 - np.clip(np.hypot(X - 120, Y - 130) / 90, 0, 1)))[FACE][:, None]
    for ex in (96, 160):  # eyes where FFHQ puts them
        img[ellipse(ex, 121, 11, 6)] = [250, 250, 250]
        img[ellipse(ex, 121, 5, 5)] = [60, 45, 40]
        img[ellipse(ex, 107, 14, 2.5)] = np.array(colour) * 0.8  # brows in the hair colour
    img[ellipse(128, 160, 6, 4)] = skin * 0.8  # nose
    img[ellipse(128, 191, 18, 4.5)] = [180, 80, 80]  # mouth
    front = fringe  # the fringe over the face
    img[front] = hair_rgb[front]
    img = img.reshape(SIZE, SS, SIZE, SS, 3).mean(axis=(1, 3))
    return np.clip(np.round(img), 0, 255).astype(np.uint8)


ITEMS = [
    # id, name, shape kind, colour (RGB), uses
    ("bob-black", "Demo: black bob", "bob", (28, 24, 22), ["shape", "color"]),
    ("long-blonde", "Demo: long blonde", "long", (222, 190, 120), ["shape", "color"]),
    ("curly-auburn", "Demo: curly auburn", "curly", (150, 62, 32), ["shape", "color"]),
    ("pixie-brown", "Demo: brown pixie cut", "pixie", (104, 68, 42), ["shape"]),
    ("wavy-platinum", "Demo: platinum waves", "wavy", (226, 220, 206), ["shape", "color"]),
    ("bun-rose", "Demo: rose bun", "bun", (214, 120, 150), ["color"]),
]


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..", "src", "Gateway", "Gallery", "Items")
    os.makedirs(out, exist_ok=True)
    index = []
    for item_id, name, kind, colour, uses in ITEMS:
        img = draw(kind, colour)
        thumb = img.reshape(128, 2, 128, 2, 3).mean(axis=(1, 3)).round().astype(np.uint8)
        with open(os.path.join(out, f"{item_id}.png"), "wb") as f:
            f.write(png_bytes(img))
        with open(os.path.join(out, f"{item_id}.thumb.png"), "wb") as f:
            f.write(png_bytes(thumb))
        index.append({"id": item_id, "name": name, "uses": uses, "demo": True,
                      "description": f"drawn by tools/gallery/make_gallery.py: {kind} shape, RGB {list(colour)}, FFHQ layout, 256x256"})
    with open(os.path.join(out, "gallery.json"), "w") as f:
        json.dump(index, f, indent=2)
        f.write("\n")
    print(f"wrote {len(index)} items to {out}")


if __name__ == "__main__":
    main()

# Goldens for the native JPEG path (test/images_jpeg.test.ts): small JPEGs written by PIL (Debian's
# python3-pil on libjpeg-turbo 2.1), what PIL decodes from them, and resizes of those decodes:
#   /usr/bin/python3 test/golden/jpeg.py > test/golden/jpeg.json
# Bilinear and nearest resizes are PyTorch's F.interpolate (align_corners False; 'nearest-exact' is
# TF2's and Keras' nearest); bicubic, lanczos3 and mitchellcubic have no PyTorch equivalent and are
# written out below from TF's scale_and_translate definition (antialias off), as a dense matrix.
import base64
import io
import json
import math
import os
import subprocess
import tempfile

import torch
import torch.nn.functional as F
from PIL import Image

W, H = 23, 17  # not multiples of 8 or 16: partial MCUs and chroma edges


def pattern(mode):
    """A smooth picture with some edges, deterministic."""
    img = Image.new('RGB', (W, H))
    px = img.load()
    for y in range(H):
        for x in range(W):
            r = int(127 + 120 * math.sin(x / 3.0 + y / 7.0))
            g = int(255 * x / (W - 1))
            b = 230 if (x // 6 + y // 5) % 2 else 25
            px[x, y] = (r, g, b)
    if mode == 'L':
        return img.convert('L')
    if mode == 'CMYK':
        return img.convert('CMYK')
    return img


def encode(img, **kw):
    buf = io.BytesIO()
    img.save(buf, 'JPEG', **kw)
    return buf.getvalue()


def pixels(img):
    """channels-last uint8 values, flat"""
    return list(img.tobytes())


# PIL writes CMYK JPEGs as plain (Adobe transform 0) CMYK; Adobe's YCCK (transform 2) needs libjpeg itself:
# a few lines of C, given inverted CMYK samples as Photoshop stores them.
YCCK_WRITER = r'''
#include <stdio.h>
#include <stdlib.h>
#include <jpeglib.h>
int main(int argc, char** argv) {
  int w = atoi(argv[1]), h = atoi(argv[2]);
  unsigned char* px = malloc((size_t)w * h * 4);
  if (fread(px, 1, (size_t)w * h * 4, stdin) != (size_t)w * h * 4) return 1;
  struct jpeg_compress_struct c;
  struct jpeg_error_mgr e;
  c.err = jpeg_std_error(&e);
  jpeg_create_compress(&c);
  jpeg_stdio_dest(&c, stdout);
  c.image_width = w;
  c.image_height = h;
  c.input_components = 4;
  c.in_color_space = JCS_CMYK;
  jpeg_set_defaults(&c);
  jpeg_set_colorspace(&c, JCS_YCCK);
  jpeg_set_quality(&c, 95, TRUE);
  jpeg_start_compress(&c, TRUE);
  while (c.next_scanline < c.image_height) {
    JSAMPROW row = px + (size_t)c.next_scanline * w * 4;
    jpeg_write_scanlines(&c, &row, 1);
  }
  jpeg_finish_compress(&c);
  return 0;
}
'''


def ycck():
    with tempfile.TemporaryDirectory() as d:
        src, exe = os.path.join(d, 'ycck.c'), os.path.join(d, 'ycck')
        with open(src, 'w') as f:
            f.write(YCCK_WRITER)
        subprocess.run(['cc', src, '-o', exe, '-ljpeg'], check=True)
        inverted = bytes(255 - v for v in pattern('CMYK').tobytes())
        return subprocess.run([exe, str(W), str(H)], input=inverted, stdout=subprocess.PIPE, check=True).stdout


files = {
    'baseline.jpg': encode(pattern('RGB'), quality=90),
    'progressive.jpg': encode(pattern('RGB'), quality=80, progressive=True, subsampling=0),
    'grey.jpg': encode(pattern('L'), quality=90),
    'cmyk.jpg': encode(pattern('CMYK'), quality=95),
    'ycck.jpg': ycck(),
}
decoded = {name: Image.open(io.BytesIO(data)) for name, data in files.items()}
for img in decoded.values():
    img.load()

out = {'size': [H, W], 'files': {n: base64.b64encode(d).decode() for n, d in files.items()}, 'modes': {}, 'decodes': {}}
for name, img in decoded.items():
    out['modes'][name] = img.mode
    # what Keras' load_img gives for color_mode 'rgb' and 'grayscale' (PIL's convert)
    out['decodes'][name] = {'rgb': pixels(img.convert('RGB')), 'grayscale': pixels(img.convert('L'))}


def keys(x):
    x = abs(x)
    if x < 1:
        return (1.5 * x - 2.5) * x * x + 1
    return ((-0.5 * x + 2.5) * x - 4) * x + 2 if x < 2 else 0.0


def lanczos3(x):
    x = abs(x)
    if x < 1e-12:
        return 1.0
    if x >= 3:
        return 0.0
    return 3 * math.sin(math.pi * x) * math.sin(math.pi * x / 3) / (math.pi * x) ** 2


def mitchell(x):
    x = abs(x)
    if x < 1:
        return (7 / 6 * x - 2) * x * x + 8 / 9
    return ((-7 / 18 * x + 2) * x - 10 / 3) * x + 16 / 9 if x < 2 else 0.0


KERNELS = {'bicubic': (keys, 2), 'lanczos3': (lanczos3, 3), 'mitchellcubic': (mitchell, 2)}


def matrix(kernel, n_in, n_out):
    """[n_out, n_in]: each output weighs the inputs whose centres lie within the kernel's radius of
    its sample point, renormalised over those inside the image (TF's scale_and_translate)."""
    fn, radius = KERNELS[kernel]
    m = torch.zeros(n_out, n_in, dtype=torch.float64)
    for o in range(n_out):
        s = (o + 0.5) * n_in / n_out
        for j in range(n_in):
            d = j + 0.5 - s
            if -radius <= d <= radius:
                m[o, j] = fn(d)
        m[o] /= m[o].sum()
    return m


def resize(img_hwc, size, method):
    x = img_hwc.permute(2, 0, 1).unsqueeze(0).double()
    if method == 'bilinear':
        y = F.interpolate(x, size=size, mode='bilinear', align_corners=False)
    elif method == 'nearest':
        y = F.interpolate(x, size=size, mode='nearest-exact')
    else:
        y = torch.einsum('oh,nchw,pw->ncop', matrix(method, x.shape[2], size[0]), x, matrix(method, x.shape[3], size[1]))
    return y[0].permute(1, 2, 0).flatten().tolist()


base = torch.tensor(out['decodes']['baseline.jpg']['rgb'], dtype=torch.uint8).reshape(H, W, 3)
out['resizes'] = []
for size in ([9, 7], [40, 31], [17, 11]):
    for method in ('bilinear', 'nearest', 'bicubic', 'lanczos3', 'mitchellcubic'):
        out['resizes'].append({'size': size, 'method': method, 'values': [round(v, 4) for v in resize(base, size, method)]})

print(json.dumps(out, separators=(',', ':')))

#!/usr/bin/env python3
# Decodes songhan/SqueezeNet-Deep-Compression's compressed_SqueezeNet.net (its decode.py's
# format: per layer a uint32 entry count; then per layer a float32 codebook of 256 entries
# (every layer is a convolution: 8 bits), float32 biases, one uint8 code per entry, 4-bit
# relative indices two per byte, positions = cumsum(gap + 1) - 1) into a weights.bin of
# this project's format, taking the header from TEMPLATE (a 1000-class v1.0 weights.bin).
import json, struct, sys
from array import array
net, template, out = sys.argv[1:4]
f = open(net, 'rb').read()
t = open(template, 'rb').read()
L = struct.unpack('<Q', t[8:16])[0]
header = json.loads(t[16:16 + L])
assert header['model'] == 'squeezenet-v1.0' and header['count'] == 1248424, header['model']
shapes = []
for e in header['tensors']:
    name, dims = e[:e.index('[')], [int(d) for d in e[e.index('[') + 1:-1].split(',')]
    shapes.append((name, dims))
weights = [s for s in shapes if len(s[1]) >= 2]
nz = struct.unpack_from('<%dI' % len(weights), f, 0)
off = 4 * len(weights)
values = array('f')
for i, (name, dims) in enumerate(weights):
    n = 1
    for d in dims: n *= d
    codebook = array('f'); codebook.frombytes(f[off:off + 1024]); off += 1024
    bias = array('f'); bias.frombytes(f[off:off + 4 * dims[0]]); off += 4 * dims[0]
    m = nz[i]
    codes = f[off:off + m]; off += m
    k = (m - 1) // 2 + 1
    packed = f[off:off + k]; off += k
    w = array('f', bytes(4 * n))
    p = -1
    for j in range(m):
        g = packed[j // 2] % 16 if j % 2 == 0 else packed[j // 2] // 16
        p += g + 1
        if p >= n: sys.exit('%s: index past the tensor (%d >= %d)' % (name, p, n))
        w[p] = codebook[codes[j]]
    values.extend(w); values.extend(bias)
if off != len(f): sys.exit('%d bytes left over' % (len(f) - off))
assert len(values) == header['count']
body = t[:16 + L] + values.tobytes()
h = 0xcbf29ce484222325
for byte in body:
    h = ((h ^ byte) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
open(out, 'wb').write(body + struct.pack('<Q', h))
print('%s: %d parameters, %d non-zero weights' % (out, len(values), sum(1 for v in values if v != 0) ))

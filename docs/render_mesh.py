"""Renders a mesh file of relu-regions (`count NET --mesh cells.ply`) to a PNG with matplotlib.

Usage: python3 docs/render_mesh.py cells.ply cells.png [title]
(needs numpy and matplotlib; for large meshes a viewer such as MeshLab, ParaView or Blender is
faster). Tip: write the mesh with --mesh-shrink 0.8 so that every cell shows.
"""
import sys
import numpy as np
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
from mpl_toolkits.mplot3d.art3d import Poly3DCollection

path, out = sys.argv[1], sys.argv[2]
with open(path) as f:
    lines = f.read().splitlines()
nv = int(next(l for l in lines if l.startswith("element vertex")).split()[-1])
nf = int(next(l for l in lines if l.startswith("element face")).split()[-1])
start = lines.index("end_header") + 1
v = np.array([list(map(float, l.split())) for l in lines[start:start + nv]])
faces = [list(map(int, l.split()))[1:] for l in lines[start + nv:start + nv + nf]]
fig = plt.figure(figsize=(9, 9))
ax = fig.add_subplot(projection="3d")
polys = [v[f, :3] for f in faces]
colours = [v[f[0], 3:6] / 255 for f in faces]
ax.add_collection3d(Poly3DCollection(polys, facecolors=colours, edgecolors=(0, 0, 0, 0.25),
                                     linewidths=0.2, alpha=0.9))
lo, hi = v[:, :3].min(0), v[:, :3].max(0)
ax.set_xlim(lo[0], hi[0]); ax.set_ylim(lo[1], hi[1]); ax.set_zlim(lo[2], hi[2])
ax.set_box_aspect((1, 1, 1))
ax.view_init(elev=22, azim=35)
ax.set_title(sys.argv[3] if len(sys.argv) > 3 else path)
plt.savefig(out, dpi=90, bbox_inches="tight")

"""Peer for bench/src/read-volume.ts (run with /usr/bin/python3, python3-nibabel).

  read_volume.py make PATH        writes a 512x512x300 int16 CT-like .nii.gz (oblique, anisotropic)
  read_volume.py time PATH N      reads it N times with nibabel (after one warm-up) and prints
                                  JSON {"seconds": [...], "maxrss_kib": ...}
"""
import json
import resource
import sys
import time

import nibabel as nib
import numpy as np

if sys.argv[1] == "make":
    rng = np.random.default_rng(0)
    x, y = np.meshgrid(np.linspace(-1, 1, 512), np.linspace(-1, 1, 512), indexing="ij")
    body = (x / 0.8) ** 2 + (y / 0.6) ** 2 < 1
    lung = ((np.abs(x) - 0.35) / 0.25) ** 2 + (y / 0.4) ** 2 < 1
    plane = np.where(body, 40, -1000) + np.where(lung & body, -850, 0)
    vol = np.empty((512, 512, 300), dtype=np.int16)
    for k in range(300):
        vol[:, :, k] = plane + rng.normal(0, 20, size=(512, 512)) + 30 * np.sin(k / 20)
    affine = np.array([[-0.7, 0.02, 0, 180.0], [0.02, 0.7, 0, -170.0], [0, 0, 1.25, -300.0], [0, 0, 0, 1]])
    nib.save(nib.Nifti1Image(vol, affine), sys.argv[2])
else:
    path, n = sys.argv[2], int(sys.argv[3])
    np.asanyarray(nib.load(path).dataobj)
    seconds = []
    for _ in range(n):
        t = time.perf_counter()
        data = np.asanyarray(nib.load(path).dataobj)
        seconds.append(time.perf_counter() - t)
        del data
    print(json.dumps({"seconds": seconds, "maxrss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))

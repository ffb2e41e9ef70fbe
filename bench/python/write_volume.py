"""Peer for bench/src/write-volume.ts (run with /usr/bin/python3, python3-nibabel).

  write_volume.py time SRC N    loads SRC (untimed), then saves it N times as .nii.gz with
                                nibabel's defaults and prints JSON
                                {"seconds": [...], "bytes": ..., "compresslevel": ..., "nibabel": ...}
"""
import json
import os
import sys
import tempfile
import time

import nibabel as nib
import numpy as np
from nibabel import openers

src, n = sys.argv[2], int(sys.argv[3])
img = nib.load(src)
data = np.asanyarray(img.dataobj)
out_img = nib.Nifti1Image(data, img.affine, img.header)
seconds = []
with tempfile.TemporaryDirectory() as tmp:
    out = os.path.join(tmp, "copy.nii.gz")
    for _ in range(n):
        t = time.perf_counter()
        nib.save(out_img, out)
        seconds.append(time.perf_counter() - t)
    size = os.path.getsize(out)
    # The copy must hold what anymc3d wrote: the peer does the same work. A file of scaled
    # integer codes (a heatmap) is re-quantised by nibabel with its own scaling: equal within a step.
    back = np.asanyarray(nib.load(out).dataobj)
    slope = img.dataobj.slope
    if slope not in (None, 1.0):
        assert str(nib.load(out).get_data_dtype()) == str(img.get_data_dtype())
        assert np.allclose(back, data, rtol=0, atol=float(slope))
    else:
        assert np.array_equal(back, data)
level = getattr(openers.Opener, "default_compresslevel", None)
print(json.dumps({"seconds": seconds, "bytes": size, "compresslevel": level, "nibabel": nib.__version__}))

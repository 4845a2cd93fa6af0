"""Times LAPACK's Cholesky and inverse (scipy's spotrf + spotri, f32, lower)
on the Gram matrix the Rust bench wrote: EASE's own algorithm, its peer.

Called by `cargo bench --bench selection` (part `ease`): argv = the matrix
file (n x n f32, column-major), n. OPENBLAS_NUM_THREADS is set by the caller.
Prints one JSON line.
"""
import json
import sys
import time

import numpy as np
import scipy
from scipy.linalg import lapack

path, n = sys.argv[1], int(sys.argv[2])
a = np.fromfile(path, dtype=np.float32).reshape((n, n), order="F")
t = time.perf_counter()
c, info = lapack.spotrf(a, lower=1, clean=0, overwrite_a=1)
spotrf_seconds = time.perf_counter() - t
inv, info2 = lapack.spotri(c, lower=1, overwrite_c=1)
seconds = time.perf_counter() - t
if info != 0 or info2 != 0:
    raise SystemExit(f"spotrf/spotri failed: {info}, {info2}")
config = np.show_config(mode="dicts") if hasattr(np, "show_config") else {}
blas = config.get("Build Dependencies", {}).get("blas", {}).get("name", "?") if isinstance(config, dict) else "?"
print(json.dumps({"scipy": scipy.__version__, "numpy": np.__version__, "blas": blas, "seconds": seconds, "spotrf_seconds": spotrf_seconds,
                  "checksum": float(np.tril(inv).astype(np.float64).sum())}))

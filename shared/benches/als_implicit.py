"""Times implicit's CPU ALS (conjugate gradient) on the matrix the Rust bench wrote.

Called by `cargo bench --bench train`: argv = directory holding indptr.bin (u64),
indices.bin (u32), data.bin (f32), shape.txt ("rows cols"); factors;
regularization; iterations; threads. Prints one JSON line: the fit's seconds
and, computed after the clock stops, its final loss (implicit's calculate_loss).
"""
import json
import os
import sys
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # implicit asks for this

import numpy as np  # noqa: E402
import scipy.sparse as sp  # noqa: E402
import implicit  # noqa: E402
from implicit.cpu.als import AlternatingLeastSquares  # noqa: E402

d, factors, reg, iterations, threads = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
rows, cols = map(int, open(os.path.join(d, "shape.txt")).read().split())
indptr = np.fromfile(os.path.join(d, "indptr.bin"), dtype=np.uint64).astype(np.int64)
indices = np.fromfile(os.path.join(d, "indices.bin"), dtype=np.uint32).astype(np.int32)
data = np.fromfile(os.path.join(d, "data.bin"), dtype=np.float32)
cui = sp.csr_matrix((data, indices, indptr), shape=(rows, cols))

model = AlternatingLeastSquares(
    factors=factors,
    regularization=reg,
    iterations=iterations,
    use_cg=True,
    use_native=True,
    calculate_training_loss=False,
    random_state=42,
    num_threads=threads,
)
t = time.perf_counter()
model.fit(cui, show_progress=False)
seconds = time.perf_counter() - t
# after the clock: the final loss, implicit's own function, for the same-loss check
from implicit.cpu import _als  # noqa: E402
loss = _als.calculate_loss(cui, model.user_factors, model.item_factors, reg, num_threads=threads)
print(json.dumps({"implicit": implicit.__version__, "seconds": seconds, "iterations": iterations,
                  "factors": model.factors, "loss": loss}))

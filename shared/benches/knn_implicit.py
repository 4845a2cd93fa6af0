"""Times implicit's item-kNN (CosineRecommender) on the reads the Rust bench
wrote: the item-item cosine fit, then the 20 nearest articles of every article.

Called by `cargo bench --bench selection` (part `knn`): argv = directory holding
readers.bin (u32), articles.bin (u32) and shape.txt ("readers articles"); the
list length; threads. The reads are binary, so implicit's cosine is the job's
with no shrinkage. Prints one JSON line.
"""
import json
import os
import sys
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import scipy.sparse as sp  # noqa: E402
import implicit  # noqa: E402
from implicit.nearest_neighbours import CosineRecommender  # noqa: E402

d, k, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
readers, articles = map(int, open(os.path.join(d, "shape.txt")).read().split())
r = np.fromfile(os.path.join(d, "readers.bin"), dtype=np.uint32)
a = np.fromfile(os.path.join(d, "articles.bin"), dtype=np.uint32)
user_items = sp.csr_matrix((np.ones(len(r), dtype=np.float32), (r, a)), shape=(readers, articles))
user_items.data[:] = 1.0  # a reader read an article or not

model = CosineRecommender(K=k + 1, num_threads=threads)  # K counts the article itself
t = time.perf_counter()
model.fit(user_items, show_progress=False)
fit = time.perf_counter() - t
ids, _ = model.similar_items(np.arange(articles), N=k + 1)
seconds = time.perf_counter() - t
print(json.dumps({"implicit": implicit.__version__, "fit_seconds": fit, "seconds": seconds,
                  "listed": int((ids >= 0).sum() - articles)}))

"""Times sequential rules (Ludewig and Jannach 2018) vectorised with numpy and
scipy on the reads the Rust bench wrote: every rule A -> B (B read s reads
after A by the same reader, s <= window, within max_gap_ms, weight 1 / s)
summed into a sparse matrix, then the 20 strongest rules of every article.

Called by `cargo bench --bench selection` (part `rules`): argv = directory
holding readers.bin (u32), articles.bin (u32), times.bin (i64 ms) and
shape.txt; window; max_gap_ms; list length. Prints one JSON line.
"""
import json
import os
import sys
import time

import numpy as np
import scipy
import scipy.sparse as sp

d, window, max_gap, k = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
readers, articles = map(int, open(os.path.join(d, "shape.txt")).read().split())
r = np.fromfile(os.path.join(d, "readers.bin"), dtype=np.uint32)
a = np.fromfile(os.path.join(d, "articles.bin"), dtype=np.uint32)
ts = np.fromfile(os.path.join(d, "times.bin"), dtype=np.int64)

t = time.perf_counter()
order = np.lexsort((ts, r))
r, a, ts = r[order], a[order], ts[order]
rows, cols, weights = [], [], []
for s in range(1, window + 1):
    ok = (r[s:] == r[:-s]) & (ts[s:] - ts[:-s] <= max_gap)
    rows.append(a[:-s][ok])
    cols.append(a[s:][ok])
    weights.append(np.full(int(ok.sum()), 1.0 / s, dtype=np.float32))
rules = sp.csr_matrix((np.concatenate(weights), (np.concatenate(rows), np.concatenate(cols))),
                      shape=(articles, articles))
rules.sum_duplicates()
rules.setdiag(0)
rules.eliminate_zeros()
fit = time.perf_counter() - t
# the k strongest of each row: sort every row's entries by weight, keep ranks < k
row_of = np.repeat(np.arange(articles), np.diff(rules.indptr))
by_weight = np.lexsort((-rules.data, row_of))
rank = np.arange(rules.nnz) - np.repeat(rules.indptr[:-1], np.diff(rules.indptr))
kept = by_weight[rank < k]
lists = rules.indices[kept]
seconds = time.perf_counter() - t
print(json.dumps({"scipy": scipy.__version__, "numpy": np.__version__, "fit_seconds": fit,
                  "seconds": seconds, "listed": int(len(lists))}))

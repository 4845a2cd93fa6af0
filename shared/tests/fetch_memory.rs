//! Fetch's memory is bounded by a chunk and the longest line it reads, not by
//! the object: a newline-free gzip object (once enough to exhaust the fetch
//! function's memory) is one bad row. Measured with a counting allocator, so
//! the figure is exact and the same on every run.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};

use article_rec_core::stages::fetch::hour_batch::{EventBatch, MAX_LINE_BYTES};

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call forwards to the system allocator unchanged; only counts are added.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let now = LIVE.fetch_add(layout.size(), Ordering::SeqCst) + layout.size();
            PEAK.fetch_max(now, Ordering::SeqCst);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::SeqCst);
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

#[test]
fn a_newline_free_50_mb_object_is_one_bad_row_in_bounded_memory() {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let block = vec![b'x'; 1 << 20];
    for _ in 0..50 {
        gz.write_all(&block).unwrap();
    }
    let body = gz.finish().unwrap();
    drop(block);
    let key = article_rec_core::contract::layout::InputLayout::new("enriched/good")
        .unwrap()
        .part(
            &article_rec_core::contract::layout::InputLayout::new("enriched/good")
                .unwrap()
                .hour("2026-01-01T00:00:00Z".parse().unwrap()),
            "no-newline.gz",
        )
        .unwrap();
    let mut batch = EventBatch::new("site");
    let before = LIVE.load(Ordering::SeqCst);
    PEAK.store(before, Ordering::SeqCst);
    batch.add_object(&key, &body);
    let peak = PEAK.load(Ordering::SeqCst) - before;
    let c = &batch.counts;
    assert_eq!((c.objects, c.lines, c.bad, c.events), (1, 1, 1, 0), "{c:?}");
    assert!(
        batch.bad_rows[0].reason.contains("longer than"),
        "{:?}",
        batch.bad_rows[0]
    );
    eprintln!(
        "50 MiB newline-free gzip ({} KiB compressed): peak {:.2} MiB while reading it",
        body.len() / 1024,
        peak as f64 / (1 << 20) as f64
    );
    assert!(
        peak < 2 * MAX_LINE_BYTES + (1 << 20),
        "reading a 50 MiB line peaked at {peak} bytes: the line is being buffered"
    );
}

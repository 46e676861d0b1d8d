//! Ordered parallel map: items are produced sequentially, transformed on worker threads, and
//! delivered to a sink in production order.
//!
//! The producer runs on its own thread, a bounded window of items is in flight at a time, and
//! results are handed over in order, so output is identical for every thread count and memory
//! is bounded by the window, not by the input.

use std::sync::mpsc::sync_channel;

use rayon::prelude::*;

/// Items in flight per worker thread.
const WINDOW_PER_THREAD: usize = 4;

/// Maps every item of `source` with `map` on `threads` threads and feeds the results to `sink`
/// in source order. Stops at the first error in source order (from `source`, `map` or `sink`).
///
/// With `threads <= 1` everything runs inline on the calling thread.
pub fn ordered_map<T, U, E>(
    threads: usize,
    source: impl Iterator<Item = Result<T, E>> + Send,
    map: impl Fn(T) -> Result<U, E> + Sync,
    mut sink: impl FnMut(U) -> Result<(), E>,
) -> Result<(), E>
where
    T: Send,
    U: Send,
    E: Send,
{
    if threads <= 1 {
        for item in source {
            sink(map(item?)?)?;
        }
        return Ok(());
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("building a thread pool only fails when the OS refuses threads");
    let window = threads * WINDOW_PER_THREAD;
    let (tx, rx) = sync_channel::<Result<T, E>>(window);
    std::thread::scope(|scope| {
        // Owned here, so that leaving early (an error from `map` or `sink`) drops the receiver
        // before the scope joins the producer, which then stops at its next send.
        let rx = rx;
        scope.spawn(move || {
            for item in source {
                let stop = item.is_err();
                if tx.send(item).is_err() || stop {
                    break;
                }
            }
        });
        loop {
            let batch: Vec<Result<T, E>> = rx.iter().take(window).collect();
            if batch.is_empty() {
                return Ok(());
            }
            let results: Vec<Result<U, E>> =
                pool.install(|| batch.into_par_iter().map(|item| item.and_then(&map)).collect());
            for result in results {
                sink(result?)?;
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(threads: usize, fail_at: Option<u32>) -> (Vec<u32>, Result<(), String>) {
        let mut out = Vec::new();
        let source =
            (0..1000u32).map(move |i| if Some(i) == fail_at { Err(format!("bad {i}")) } else { Ok(i) });
        let result = ordered_map(
            threads,
            source,
            |i| Ok(i * 2),
            |u| {
                out.push(u);
                Ok(())
            },
        );
        (out, result)
    }

    #[test]
    fn a_failing_sink_stops_the_producer() {
        // A sink that fails early (a closed pipe) must end the run, not leave the producer
        // blocked on a full channel.
        let source = (0..1_000_000u32).map(Ok::<u32, String>);
        let mut seen = 0;
        let result = ordered_map(2, source, Ok, |_| {
            seen += 1;
            if seen == 10 { Err("closed".to_string()) } else { Ok(()) }
        });
        assert_eq!(result.unwrap_err(), "closed");
        let failing_map =
            ordered_map(2, (0..1_000_000u32).map(Ok), |i| if i == 5 { Err(i) } else { Ok(i) }, |_| Ok(()));
        assert_eq!(failing_map.unwrap_err(), 5);
    }

    #[test]
    fn output_order_and_errors_do_not_depend_on_threads() {
        let (one, r1) = run(1, None);
        assert!(r1.is_ok());
        assert_eq!(one, (0..1000).map(|i| i * 2).collect::<Vec<_>>());
        for threads in [2, 3, 7] {
            assert_eq!(run(threads, None).0, one);
            let (partial, err) = run(threads, Some(500));
            assert_eq!(partial, one[..500]);
            assert_eq!(err.unwrap_err(), "bad 500");
        }
    }
}

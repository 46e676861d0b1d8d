//! Ordered parallel map: items are produced sequentially, transformed on worker threads, and
//! delivered to a sink in production order.
//!
//! The producer runs on its own thread, workers take items as they come, and results are handed
//! over in order as soon as they are next, so output is identical for every thread count.
//! Memory is bounded by what is in flight between the producer and the sink: a number of items,
//! or a total weight that the caller assigns to items (e.g. the bytes decoding them produces).

use std::collections::BTreeMap;
use std::sync::mpsc::{Receiver, channel};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

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
    sink: impl FnMut(U) -> Result<(), E>,
) -> Result<(), E>
where
    T: Send,
    U: Send,
    E: Send,
{
    let window = threads.saturating_mul(WINDOW_PER_THREAD) as u64;
    ordered_map_weighted(threads, source, |_| 1, window, || (), |(), item| map(item), sink)
}

/// Like [`ordered_map`], with in-flight work bounded by weight: items whose `weight` adds up to
/// more than `budget` are not produced until earlier results have reached the sink (one item
/// is always let through, however heavy). Each worker thread has a state made by `state` that
/// `map` may use (scratch buffers).
pub fn ordered_map_weighted<T, U, E, S>(
    threads: usize,
    source: impl Iterator<Item = Result<T, E>> + Send,
    weight: impl Fn(&T) -> u64 + Sync,
    budget: u64,
    state: impl Fn() -> S + Sync,
    map: impl Fn(&mut S, T) -> Result<U, E> + Sync,
    mut sink: impl FnMut(U) -> Result<(), E>,
) -> Result<(), E>
where
    T: Send,
    U: Send,
    E: Send,
{
    if threads <= 1 {
        let mut st = state();
        for item in source {
            sink(map(&mut st, item?)?)?;
        }
        return Ok(());
    }
    let flight = Flight { state: Mutex::new((0, false)), changed: Condvar::new() };
    let (work_tx, work_rx) = channel::<(usize, Result<T, E>, u64)>();
    let work_rx = Mutex::new(work_rx);
    let (done_tx, done_rx) = channel::<(usize, Result<U, E>, u64)>();
    std::thread::scope(|scope| {
        let flight = &flight;
        let weight = &weight;
        scope.spawn(move || {
            for (i, item) in source.enumerate() {
                let w = item.as_ref().map_or(0, weight);
                if !flight.acquire(w, budget) {
                    break;
                }
                let stop = item.is_err();
                if work_tx.send((i, item, w)).is_err() || stop {
                    break;
                }
            }
        });
        for _ in 0..threads {
            let done_tx = done_tx.clone();
            let (work_rx, map, state) = (&work_rx, &map, &state);
            scope.spawn(move || {
                // A panicking worker abandons the run, so that nothing waits for its result.
                let _guard = AbortOnUnwind(flight);
                let mut st = state();
                while let Some((i, item, w)) = next_job(work_rx) {
                    if done_tx.send((i, item.and_then(|t| map(&mut st, t)), w)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(done_tx);
        let result = deliver(&done_rx, flight, &mut sink);
        // Wake a producer waiting for room, and leave unclaimed work undone.
        flight.abort();
        drop(done_rx);
        result
    })
}

/// Weight in flight and whether the run was abandoned.
struct Flight {
    state: Mutex<(u64, bool)>,
    changed: Condvar,
}

impl Flight {
    fn lock(&self) -> MutexGuard<'_, (u64, bool)> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits until `w` more fits the budget (or nothing is in flight); false once abandoned.
    fn acquire(&self, w: u64, budget: u64) -> bool {
        let mut st = self.lock();
        while !st.1 && st.0 > 0 && st.0.saturating_add(w) > budget {
            st = self.changed.wait(st).unwrap_or_else(PoisonError::into_inner);
        }
        st.0 = st.0.saturating_add(w);
        !st.1
    }

    fn release(&self, w: u64) {
        let mut st = self.lock();
        st.0 = st.0.saturating_sub(w);
        self.changed.notify_all();
    }

    fn abort(&self) {
        self.lock().1 = true;
        self.changed.notify_all();
    }
}

/// Abandons the run when dropped during a panic.
struct AbortOnUnwind<'f>(&'f Flight);

impl Drop for AbortOnUnwind<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.abort();
        }
    }
}

fn next_job<J>(rx: &Mutex<Receiver<J>>) -> Option<J> {
    rx.lock().unwrap_or_else(PoisonError::into_inner).recv().ok()
}

/// Feeds results to `sink` in order as they arrive; stops at the first error in order, or when
/// the workers are gone.
fn deliver<U, E>(
    done: &Receiver<(usize, Result<U, E>, u64)>,
    flight: &Flight,
    sink: &mut impl FnMut(U) -> Result<(), E>,
) -> Result<(), E> {
    let mut next = 0;
    let mut waiting = BTreeMap::new();
    for (i, result, w) in done {
        waiting.insert(i, (result, w));
        while let Some((result, w)) = waiting.remove(&next) {
            next += 1;
            let delivered = result.and_then(&mut *sink);
            flight.release(w);
            delivered?;
        }
    }
    Ok(())
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

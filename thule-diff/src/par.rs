//! Order-preserving parallel map over scoped threads, for the per-object passes of large
//! diffs.
//!
//! Objects are independent once the inputs are indexed, so the engine maps them on a few
//! threads. Workers take blocks of items from a shared counter (changed objects cluster by
//! kind, so fixed halves would be unbalanced) and the blocks are put back in input order:
//! the result is the same as a sequential map, whatever the thread count or timing.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Items per block a worker takes at a time.
const BLOCK: usize = 32;

/// How many threads to use for `items` items when `requested` were asked for (0 = one per
/// available core); small inputs stay on the calling thread, where spawning would cost more
/// than it saves.
pub(crate) fn threads_for(requested: usize, items: usize, min_items: usize) -> usize {
    let wanted = if requested == 0 {
        std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
    } else {
        requested
    };
    if items < min_items {
        1
    } else {
        wanted.clamp(1, items.div_ceil(BLOCK).max(1))
    }
}

/// Map `items` with `f` on `threads` threads, each with its own state from `init`; returns
/// the results in input order and every worker's final state.
pub(crate) fn map_with<T, R, S>(
    items: Vec<T>,
    threads: usize,
    init: impl Fn() -> S + Sync,
    f: impl Fn(&mut S, T) -> R + Sync,
) -> (Vec<R>, Vec<S>)
where
    T: Send,
    R: Send,
    S: Send,
{
    if threads <= 1 {
        let mut state = init();
        let out = items.into_iter().map(|it| f(&mut state, it)).collect();
        return (out, vec![state]);
    }
    let total = items.len();
    // Blocks in input order; each is taken by exactly one worker.
    let mut blocks: Vec<Mutex<Vec<T>>> = Vec::with_capacity(total.div_ceil(BLOCK));
    let mut rest = items.into_iter();
    loop {
        let block: Vec<T> = rest.by_ref().take(BLOCK).collect();
        if block.is_empty() {
            break;
        }
        blocks.push(Mutex::new(block));
    }
    let next = AtomicUsize::new(0);
    let work = || {
        let mut state = init();
        let mut done: Vec<(usize, Vec<R>)> = Vec::new();
        loop {
            let b = next.fetch_add(1, Ordering::Relaxed);
            let Some(block) = blocks.get(b) else { break };
            let taken = std::mem::take(&mut *block.lock().unwrap_or_else(|p| p.into_inner()));
            done.push((b, taken.into_iter().map(|it| f(&mut state, it)).collect()));
        }
        (done, state)
    };
    let mut parts: Vec<(usize, Vec<R>)> = Vec::with_capacity(blocks.len());
    let mut states = Vec::with_capacity(threads);
    std::thread::scope(|s| {
        let handles: Vec<_> = (1..threads).map(|_| s.spawn(work)).collect();
        let (done, state) = work();
        parts.extend(done);
        states.push(state);
        for h in handles {
            match h.join() {
                Ok((done, state)) => {
                    parts.extend(done);
                    states.push(state);
                }
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
    });
    parts.sort_unstable_by_key(|(b, _)| *b);
    let mut out = Vec::with_capacity(total);
    for (_, rs) in parts {
        out.extend(rs);
    }
    (out, states)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_input_order_and_visits_each_item_once() {
        for threads in [1, 2, 3, 8] {
            for n in [0, 1, 31, 32, 33, 1000] {
                let items: Vec<usize> = (0..n).collect();
                let (out, states) = map_with(
                    items,
                    threads,
                    || 0usize,
                    |count, i| {
                        *count += 1;
                        i * 2
                    },
                );
                assert_eq!(
                    out,
                    (0..n).map(|i| i * 2).collect::<Vec<_>>(),
                    "{threads} {n}"
                );
                assert_eq!(states.iter().sum::<usize>(), n, "{threads} {n}");
                assert!(states.len() <= threads.max(1));
            }
        }
    }

    #[test]
    fn small_inputs_stay_on_one_thread() {
        assert_eq!(threads_for(8, 10, 64), 1);
        assert_eq!(threads_for(1, 10_000, 64), 1);
        assert_eq!(threads_for(4, 10_000, 64), 4);
        // Never more threads than blocks.
        assert_eq!(threads_for(16, 64, 64), 2);
        assert!(threads_for(0, 10_000, 64) >= 1);
    }
}

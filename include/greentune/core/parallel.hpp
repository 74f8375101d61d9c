#pragma once
// Work spread over threads: the one facility behind every parallel loop (tokenizing JSON lines, building
// token caches), so thread counts, scheduling and failures mean the same everywhere.

#include <cstddef>
#include <functional>

namespace greentune {

// The number of threads a `threads` setting stands for: itself, or one per hardware thread for 0.
unsigned resolve_thread_count(unsigned threads);

// Calls work(index) once for every index in [0, count), on up to resolve_thread_count(threads) threads,
// the calling one included; indices are handed out in increasing order. When calls throw, no further
// index is started and, once the running calls have returned, the exception of the lowest index that
// threw is rethrown: the one a plain loop would have thrown, whatever the scheduling.
void parallel_for(size_t count, unsigned threads, const std::function<void(size_t index)>& work);

}  // namespace greentune

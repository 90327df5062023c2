// Process-wide policy of the long-running server (`rekall serve`), kept out
// of the protocol and of the tools: it changes the whole process.
#pragma once

namespace rekall::server {

// Memory policy, called once before any thread starts: one malloc arena.
// glibc gives each thread that allocates its own arena, whose freed pages
// stay mapped; with the workers and the model's threads that left ~4 MB more
// resident once the model was unloaded (idle RSS 18 MB instead of 15 MB in
// bench/soak) for no measurable latency gain.
void TuneMallocForServer();

}  // namespace rekall::server

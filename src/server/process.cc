#include "server/process.h"

#include <malloc.h>

namespace rekall::server {

void TuneMallocForServer() {
#ifdef M_ARENA_MAX
  mallopt(M_ARENA_MAX, 1);
#endif
}

}  // namespace rekall::server

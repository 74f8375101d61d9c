/* arc4random_buf for a glibc older than 2.36 (Ubuntu 22.04 has 2.35): Debian 12's static libarchive.a calls
 * it. bench/gpu/check.sh links this into greentune with libarchive.a only when the machine's glibc lacks it.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/random.h>

void arc4random_buf(void* buffer, size_t size) {
  unsigned char* bytes = buffer;
  while (size > 0) {
    const ssize_t got = getrandom(bytes, size, 0);
    if (got < 0) {
      if (errno == EINTR)
        continue;
      abort();
    }
    bytes += got;
    size -= (size_t)got;
  }
}

#include "crypto/random.h"

#include <openssl/rand.h>

#include <algorithm>
#include <climits>
#include <cstdio>
#include <cstdlib>

#include "crypto/base64url.h"

namespace im::crypto {

std::string RandomBytes(size_t n) {
  std::string out(n, '\0');
  auto* p = reinterpret_cast<unsigned char*>(out.data());
  // RAND_bytes takes an int length; fill in chunks so any size_t works.
  for (size_t done = 0; done < n;) {
    const size_t chunk = std::min<size_t>(n - done, INT_MAX);
    if (RAND_bytes(p + done, static_cast<int>(chunk)) != 1) {
      std::fputs("libim: RAND_bytes failed; aborting rather than issuing weak tokens\n", stderr);
      std::abort();
    }
    done += chunk;
  }
  return out;
}

std::string RandomToken(size_t bytes) { return Base64UrlEncode(RandomBytes(bytes)); }

}  // namespace im::crypto

// embed_minimal: libim inside a host that brings its own transport (see README.md).
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "im/engine.h"
#include "line_server.h"

int main(int argc, char** argv) {
  int port = 7000;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--port") == 0 && i + 1 < argc) {
      port = std::atoi(argv[++i]);
    } else {
      std::fprintf(stderr, "usage: %s [--port N]   (0: any free port; stops when stdin closes)\n", argv[0]);
      return 2;
    }
  }
  im::Options options;                   // in-memory store, in-process bus: the host decides what to plug in
  options.password_iterations = 10'000;  // a demo: production keeps the 600,000 default
  auto engine = im::Engine::Open(std::move(options));
  if (!engine.ok()) {
    std::fprintf(stderr, "engine: %s\n", engine.status().ToString().c_str());
    return 1;
  }
  LineServer server(**engine);
  int bound = server.Listen(port);
  if (bound < 0) {
    std::perror("listen");
    return 1;
  }
  std::printf("LISTENING %d\n", bound);
  std::fflush(stdout);
  server.Run();
  return 0;
}

#include "beast/static_files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

namespace im::gateway {
namespace {

// The web page's files are small; a larger file under the web root is not served (it would be
// read whole on the network thread).
constexpr off_t kMaxStaticFileBytes = 8 * 1024 * 1024;

std::string_view ContentType(std::string_view path) {
  auto ends_with = [&](std::string_view ext) {
    return path.size() >= ext.size() && path.substr(path.size() - ext.size()) == ext;
  };
  if (ends_with(".html")) return "text/html; charset=utf-8";
  if (ends_with(".js")) return "text/javascript; charset=utf-8";
  if (ends_with(".css")) return "text/css; charset=utf-8";
  if (ends_with(".svg")) return "image/svg+xml";
  if (ends_with(".png")) return "image/png";
  if (ends_with(".ico")) return "image/x-icon";
  if (ends_with(".json")) return "application/json";
  return "application/octet-stream";
}

bool SafePath(std::string_view path) {
  if (path.empty() || path.front() != '/' || path.size() > 256) return false;
  for (char c : path) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '/' || c == '.' ||
              c == '-' || c == '_';
    if (!ok) return false;
  }
  return path.find("/.") == std::string_view::npos && path.find("//") == std::string_view::npos;
}

// The whole file when `path` names a regular file of at most kMaxStaticFileBytes; nullopt for
// anything else (a directory, a FIFO, a device, a file that cannot be read). Never throws and
// never blocks on a special file (O_NONBLOCK: opening a FIFO with no writer would wait).
std::optional<std::string> ReadRegularFile(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > kMaxStaticFileBytes) return std::nullopt;
  std::string bytes;
  try {
    bytes.resize(static_cast<size_t>(st.st_size));
  } catch (...) {
    return std::nullopt;
  }
  size_t got = 0;
  while (got < bytes.size()) {
    ssize_t n = ::read(fd, bytes.data() + got, bytes.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return std::nullopt;  // an error, or the file shrank under us
    got += static_cast<size_t>(n);
  }
  return bytes;
}

}  // namespace

std::optional<StaticFile> FindStaticFile(std::string_view path, const std::string& web_root) {
  if (path == "/") path = "/index.html";
  if (!SafePath(path)) return std::nullopt;
  if (!web_root.empty()) {
    std::optional<std::string> bytes = ReadRegularFile(web_root + std::string(path));
    if (!bytes) return std::nullopt;
    return StaticFile{std::string(ContentType(path)), std::move(*bytes)};
  }
  for (const auto& file : EmbeddedWebFiles()) {
    if (file.path == path) return StaticFile{std::string(ContentType(path)), std::string(file.bytes)};
  }
  return std::nullopt;
}

}  // namespace im::gateway

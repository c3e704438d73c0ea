#include "beast/static_files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>


namespace im::gateway {

FileDescriptor& FileDescriptor::operator=(FileDescriptor&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = other.release();
  }
  return *this;
}

FileDescriptor::~FileDescriptor() {
  if (fd_ >= 0) ::close(fd_);
}

namespace {

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

// `path` opened for reading when it names a regular file; nullopt for anything else (a
// directory, a FIFO, a device, a file that cannot be opened). Never throws and never blocks on a
// special file (O_NONBLOCK: opening a FIFO with no writer would wait).
std::optional<FileDescriptor> OpenRegularFile(const std::string& path, uint64_t* size) {
  FileDescriptor fd(::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
  if (fd.get() < 0) return std::nullopt;
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) return std::nullopt;
  *size = static_cast<uint64_t>(st.st_size);
  return fd;
}

}  // namespace

std::optional<StaticFile> FindStaticFile(std::string_view path, const std::string& web_root) {
  if (path == "/") path = "/index.html";
  if (!SafePath(path)) return std::nullopt;
  if (!web_root.empty()) {
    StaticFile out;
    std::optional<FileDescriptor> fd = OpenRegularFile(web_root + std::string(path), &out.size);
    if (!fd) return std::nullopt;
    out.content_type = ContentType(path);
    out.file = std::move(*fd);
    return out;
  }
  for (const auto& file : EmbeddedWebFiles()) {
    if (file.path == path) {
      StaticFile out;
      out.content_type = ContentType(path);
      out.size = file.bytes.size();
      out.bytes = file.bytes;
      return out;
    }
  }
  return std::nullopt;
}

}  // namespace im::gateway

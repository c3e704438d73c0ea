// The web chat page's static files: embedded in the library at build time (web/), or read from
// a directory when GatewayOptions::web_root is set (to work on the page without rebuilding).
#ifndef IM_SRC_BEAST_STATIC_FILES_H_
#define IM_SRC_BEAST_STATIC_FILES_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace im::gateway {

struct EmbeddedFile {
  std::string_view path;  // "/index.html"
  std::string_view bytes;
};

// Generated from web/ by cmake/EmbedFiles.cmake.
const std::vector<EmbeddedFile>& EmbeddedWebFiles();

// An open file descriptor, closed on destruction (moves only).
class FileDescriptor {
 public:
  FileDescriptor() = default;
  explicit FileDescriptor(int fd) : fd_(fd) {}
  FileDescriptor(FileDescriptor&& other) noexcept : fd_(other.release()) {}
  FileDescriptor& operator=(FileDescriptor&& other) noexcept;
  ~FileDescriptor();
  int get() const { return fd_; }
  int release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }

 private:
  int fd_ = -1;
};

struct StaticFile {
  std::string content_type;
  uint64_t size = 0;
  // An embedded file: its bytes. A file under the web root: `bytes` is empty and `file` is open
  // for reading, so that it is written in chunks (any size) instead of being read whole.
  std::string bytes;
  FileDescriptor file;
};

// The file for a request path ("/" is "/index.html"); nullopt when there is none. Paths with
// "..", backslashes or hidden segments never match, so nothing outside the web root is served.
// Under a web root only regular files are served, of any size (a directory, a FIFO or a device is
// not found); it never throws.
std::optional<StaticFile> FindStaticFile(std::string_view path, const std::string& web_root);

}  // namespace im::gateway

#endif  // IM_SRC_BEAST_STATIC_FILES_H_

// The web chat page's static files: embedded in the library at build time (web/), or read from
// a directory when GatewayOptions::web_root is set (to work on the page without rebuilding).
#ifndef IM_SRC_BEAST_STATIC_FILES_H_
#define IM_SRC_BEAST_STATIC_FILES_H_

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

struct StaticFile {
  std::string content_type;
  std::string bytes;
};

// The file for a request path ("/" is "/index.html"); nullopt when there is none. Paths with
// "..", backslashes or hidden segments never match, so nothing outside the web root is served.
// Under a web root only regular files of at most 8 MiB are served (a directory, a FIFO or a
// device is not found); it never throws.
std::optional<StaticFile> FindStaticFile(std::string_view path, const std::string& web_root);

}  // namespace im::gateway

#endif  // IM_SRC_BEAST_STATIC_FILES_H_

#include "beast/static_files.h"

#include <fstream>
#include <iterator>

namespace im::gateway {
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

}  // namespace

std::optional<StaticFile> FindStaticFile(std::string_view path, const std::string& web_root) {
  if (path == "/") path = "/index.html";
  if (!SafePath(path)) return std::nullopt;
  if (!web_root.empty()) {
    std::ifstream in(web_root + std::string(path), std::ios::binary);
    if (!in) return std::nullopt;
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    return StaticFile{std::string(ContentType(path)), std::move(bytes)};
  }
  for (const auto& file : EmbeddedWebFiles()) {
    if (file.path == path) return StaticFile{std::string(ContentType(path)), std::string(file.bytes)};
  }
  return std::nullopt;
}

}  // namespace im::gateway

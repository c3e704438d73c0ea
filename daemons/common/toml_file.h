// TOML configuration files, shared by imd's configuration and the split daemons' Settings: the
// file's bytes, then the text parsed into a toml::table, each with an error that names the file
// ("<path>:<line>: <what>"). Loading goes through the text, so a caller can load a configuration
// without a file (the fuzz target in tests/fuzz does).
#ifndef IM_DAEMONS_COMMON_TOML_FILE_H_
#define IM_DAEMONS_COMMON_TOML_FILE_H_

#include <toml++/toml.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <string_view>

#include "im/status.h"

namespace im::daemon {

inline Result<std::string> ReadTomlFile(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) return Status::InvalidArgument(path + ": is a directory");
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::InvalidArgument(path + ": cannot be opened: " + std::strerror(errno));
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return Status::InvalidArgument(path + ": cannot be read: " + std::strerror(errno));
  return text;
}

inline Result<toml::table> ParseTomlText(std::string_view text, const std::string& source) {
  try {
    return toml::parse(text, source);
  } catch (const toml::parse_error& e) {
    return Status::InvalidArgument(source + ":" + std::to_string(e.source().begin.line) + ": " +
                                   std::string(e.description()));
  }
}

}  // namespace im::daemon

#endif  // IM_DAEMONS_COMMON_TOML_FILE_H_

// Fresh database paths for a test process: one directory per process and prefix, removed when the
// process exits (every database is closed by then).
#ifndef IM_TESTS_SUPPORT_TEMP_DB_H_
#define IM_TESTS_SUPPORT_TEMP_DB_H_

#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <string>
#include <system_error>

namespace im::test {

class TempDbDir {
 public:
  explicit TempDbDir(const std::string& prefix)
      : dir_(std::filesystem::temp_directory_path() / (prefix + "-" + std::to_string(::getpid()))) {}
  ~TempDbDir() {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  TempDbDir(const TempDbDir&) = delete;
  TempDbDir& operator=(const TempDbDir&) = delete;

  // A path no other call returned, with no database, WAL or shm file behind it.
  std::string NewPath(const std::string& name) {
    std::filesystem::create_directories(dir_);
    std::filesystem::path path = dir_ / (std::to_string(counter_++) + "-" + name);
    for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path.string() + suffix);
    return path.string();
  }

 private:
  std::filesystem::path dir_;
  std::atomic<int> counter_{0};
};

}  // namespace im::test

#endif  // IM_TESTS_SUPPORT_TEMP_DB_H_

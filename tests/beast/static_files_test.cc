// The static-file reader of the gateway's web page, with a web root on disk.
#include "beast/static_files.h"

#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace im::test {
namespace {

namespace fs = std::filesystem;

// A web root in a fresh temporary directory, removed on destruction.
struct WebRoot {
  WebRoot() {
    char tmpl[] = "/tmp/im-webroot-XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    path = tmpl;
  }
  ~WebRoot() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  void Write(const std::string& name, const std::string& bytes) const {
    fs::create_directories(fs::path(path + name).parent_path());
    std::ofstream(path + name, std::ios::binary) << bytes;
  }
  std::string path;
};

// What a web-root file's descriptor reads, from its start.
std::string Contents(const gateway::StaticFile& f) {
  REQUIRE(f.file.get() >= 0);
  std::string out(f.size, '\0');
  REQUIRE(::pread(f.file.get(), out.data(), out.size(), 0) == static_cast<ssize_t>(out.size()));
  return out;
}

TEST_CASE("static files: a regular file under the web root is served with its type") {
  WebRoot root;
  root.Write("/index.html", "<p>hi</p>");
  root.Write("/js/app.js", "let x = 1;");
  auto index = gateway::FindStaticFile("/", root.path);
  REQUIRE(index.has_value());
  CHECK(index->bytes.empty());  // not read: the writer streams it from the descriptor
  CHECK(Contents(*index) == "<p>hi</p>");
  CHECK(index->content_type == "text/html; charset=utf-8");
  auto js = gateway::FindStaticFile("/js/app.js", root.path);
  REQUIRE(js.has_value());
  CHECK(Contents(*js) == "let x = 1;");
}

TEST_CASE("static files: a directory, a missing file or a special file is not found, and nothing throws") {
  WebRoot root;
  root.Write("/js/app.js", "let x = 1;");
  // The review's crash: GET /<a subdirectory> made the reader throw on the network thread.
  CHECK_NOTHROW(CHECK_FALSE(gateway::FindStaticFile("/js", root.path).has_value()));
  CHECK_NOTHROW(CHECK_FALSE(gateway::FindStaticFile("/js/", root.path).has_value()));
  CHECK_NOTHROW(CHECK_FALSE(gateway::FindStaticFile("/missing.html", root.path).has_value()));
  // A FIFO would block the reader forever.
  REQUIRE(::mkfifo((root.path + "/pipe.html").c_str(), 0600) == 0);
  CHECK_NOTHROW(CHECK_FALSE(gateway::FindStaticFile("/pipe.html", root.path).has_value()));
  // A web root that is not there at all.
  CHECK_NOTHROW(CHECK_FALSE(gateway::FindStaticFile("/index.html", root.path + "/nope").has_value()));
}

TEST_CASE("static files: a file larger than the old 8 MiB cap is found, open and not read into memory") {
  WebRoot root;
  root.Write("/big.bin", std::string(9 * 1024 * 1024, 'x'));
  auto big = gateway::FindStaticFile("/big.bin", root.path);
  REQUIRE(big.has_value());
  CHECK(big->size == 9u * 1024 * 1024);
  CHECK(big->bytes.empty());
  CHECK(big->file.get() >= 0);
  CHECK(big->content_type == "application/octet-stream");
}

TEST_CASE("static files: the embedded page is served from memory") {
  auto index = gateway::FindStaticFile("/", "");
  REQUIRE(index.has_value());
  CHECK(index->file.get() < 0);
  CHECK(index->size == index->bytes.size());
  CHECK(index->bytes.find("<html") != std::string::npos);
}

TEST_CASE("static files: paths that leave the web root never match") {
  WebRoot root;
  root.Write("/index.html", "<p>hi</p>");
  for (const char* path : {"/../etc/passwd", "/.hidden", "//index.html", "/a\\b", "index.html"}) {
    CAPTURE(path);
    CHECK_FALSE(gateway::FindStaticFile(path, root.path).has_value());
  }
}

}  // namespace
}  // namespace im::test

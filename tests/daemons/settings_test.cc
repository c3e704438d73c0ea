// The daemons' settings layer: defaults < TOML < environment < flags, and errors that name the
// file and key, the variable or the flag.
#include "common/settings.h"

#include <doctest/doctest.h>
#include <stdlib.h>
#include <unistd.h>

#include <fstream>

using im::daemon::Settings;

namespace {

struct Config {
  std::string listen = "127.0.0.1:1";
  std::string id;
  int threads = 4;
  int64_t ttl = 100;
  bool flag = false;
  std::vector<std::string> addresses;
  std::string mode = "a";
};

void Declare(Settings& s, Config* c) {
  s.Address("listen", &c->listen, "address");
  s.RequiredString("gateway_id", &c->id, "id");
  s.Int("threads", &c->threads, 1, 64, "threads");
  s.Int("cache.ttl_ms", &c->ttl, 1, 1000, "ttl");
  s.Bool("flag", &c->flag, "flag");
  s.List("repo.addresses", &c->addresses, "addresses");
  s.Choice("mode", &c->mode, {"a", "b"}, "mode");
}

std::string WriteToml(const std::string& text) {
  std::string path = "/tmp/im-settings-test-" + std::to_string(::getpid()) + ".toml";
  std::ofstream(path) << text;
  return path;
}

}  // namespace

TEST_CASE("settings: TOML, then the environment, then flags") {
  std::string toml = WriteToml(
      "listen = \"10.0.0.1:5\"\ngateway_id = \"from-toml\"\nthreads = 8\nflag = true\n"
      "[cache]\nttl_ms = 7\n[repo]\naddresses = [\"a:1\", \"b:2\"]\n");
  ::setenv("IM_TEST_THREADS", "16", 1);
  ::setenv("IM_TEST_CACHE_TTL_MS", "9", 1);
  Config c;
  Settings s("im-test", "IM_TEST");
  Declare(s, &c);
  im::Status st = s.Load({"--config", toml, "--threads", "32", "--mode", "b"});
  ::unsetenv("IM_TEST_THREADS");
  ::unsetenv("IM_TEST_CACHE_TTL_MS");
  REQUIRE_MESSAGE(st.ok(), st.ToString());
  CHECK(c.listen == "10.0.0.1:5");
  CHECK(c.id == "from-toml");
  CHECK(c.threads == 32);  // flag over environment over file
  CHECK(c.ttl == 9);       // environment over file, through a dotted key
  CHECK(c.flag);
  CHECK(c.addresses == std::vector<std::string>{"a:1", "b:2"});
  CHECK(c.mode == "b");
  ::unlink(toml.c_str());
}

TEST_CASE("settings: errors name what is wrong") {
  auto load = [](std::vector<std::string> args, const std::string& toml_text = "") {
    Config c;
    Settings s("im-test", "IM_TEST");
    Declare(s, &c);
    if (!toml_text.empty()) {
      args.insert(args.begin(), WriteToml(toml_text));
      args.insert(args.begin(), "--config");
    }
    return s.Load(args);
  };
  auto threads = load({"--gateway-id", "g", "--threads", "65"});
  CHECK(threads.code() == im::StatusCode::kInvalidArgument);
  CHECK(threads.message().find("--threads") != std::string::npos);
  CHECK(load({"--gateway-id", "g", "--listen", "nope"}).message().find("--listen") != std::string::npos);
  CHECK(load({"--gateway-id", "g", "--mode", "c"}).message().find("one of a,b") != std::string::npos);
  CHECK(load({"--gateway-id", "g", "--nope", "1"}).message().find("unknown argument") != std::string::npos);
  CHECK(load({"--gateway-id"}).message().find("needs a value") != std::string::npos);
  CHECK(load({}).message().find("gateway_id is required") != std::string::npos);
  auto unknown = load({}, "gateway_id = \"g\"\n[cache]\nsize = 3\n");
  CHECK(unknown.message().find("cache.size is not a known setting") != std::string::npos);
  auto typed = load({}, "gateway_id = \"g\"\nthreads = 1.5\n");
  CHECK(typed.message().find("threads must be") != std::string::npos);
  auto broken = load({}, "gateway_id = \n");
  CHECK(broken.code() == im::StatusCode::kInvalidArgument);
}

TEST_CASE("settings: --help lists every key with its flag and default") {
  Config c;
  Settings s("im-test", "IM_TEST");
  Declare(s, &c);
  REQUIRE(s.Load({"--help"}).ok());
  CHECK(s.help());
  std::string usage = s.Usage();
  CHECK(usage.find("--cache-ttl-ms") != std::string::npos);
  CHECK(usage.find("[100]") != std::string::npos);
  CHECK(usage.find("IM_TEST_KEY") != std::string::npos);
}

// im-kafka-mock, the mock cluster as a program: another process's bus uses it, and it stops when
// its stdin closes.
#include <doctest/doctest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

#include "im/kafka_bus.h"
#include "kafka/mock_kafka.h"

extern char** environ;

using namespace im;
using namespace std::chrono_literals;

namespace {

// The tool with pipes on its stdin and stdout.
struct Tool {
  pid_t pid = -1;
  int stdin_fd = -1;
  FILE* out = nullptr;

  explicit Tool(std::vector<std::string> args) {
    int in[2], outp[2];
    REQUIRE(pipe(in) == 0);
    REQUIRE(pipe(outp) == 0);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, in[0], STDIN_FILENO);
    posix_spawn_file_actions_adddup2(&actions, outp[1], STDOUT_FILENO);
    posix_spawn_file_actions_addclose(&actions, in[1]);
    posix_spawn_file_actions_addclose(&actions, outp[0]);
    args.insert(args.begin(), IM_KAFKA_MOCK);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    REQUIRE(posix_spawn(&pid, IM_KAFKA_MOCK, &actions, nullptr, argv.data(), environ) == 0);
    posix_spawn_file_actions_destroy(&actions);
    close(in[0]);
    close(outp[1]);
    stdin_fd = in[1];
    out = fdopen(outp[0], "r");
  }
  std::string ReadLine() {
    char buf[1024];
    if (!fgets(buf, sizeof buf, out)) return "";
    std::string line(buf);
    if (!line.empty() && line.back() == '\n') line.pop_back();
    return line;
  }
  // The exit status once it exits (-1 if it did not within 10 s: it is killed at destruction).
  int WaitExit() {
    for (int i = 0; i < 1000; ++i) {
      int status = 0;
      if (waitpid(pid, &status, WNOHANG) == pid) {
        pid = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      std::this_thread::sleep_for(10ms);
    }
    return -1;
  }
  int CloseAndWait() {
    if (stdin_fd >= 0) close(stdin_fd);
    stdin_fd = -1;
    return WaitExit();
  }
  ~Tool() {
    if (pid > 0) {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
    }
    if (stdin_fd >= 0) close(stdin_fd);
    if (out) fclose(out);
  }
};

}  // namespace

TEST_CASE("im-kafka-mock serves another process's bus and exits when its stdin closes") {
  Tool tool({"--brokers", "2", "--topic", "pre-made:3"});
  const std::string bootstrap = tool.ReadLine();
  REQUIRE_MESSAGE(bootstrap.find("127.0.0.1:") == 0, bootstrap);

  KafkaBusOptions o;
  o.bootstrap_servers = bootstrap;
  o.topic_creation = KafkaTopicCreation::kAutoCreate;  // the mock cluster has no admin API
  o.session_timeout_ms = 6000;
  auto bus = OpenKafkaBus(o).value();
  std::atomic<int> got{0};
  const std::string topic = im::test::UniqueName("tool");
  {
    auto sub = bus->Subscribe(topic, topic + "-g",
                              [&](const BusRecord& r) {
                                if (r.payload == "through the tool") got++;
                                return Status::Ok();
                              })
                   .value();
    REQUIRE(bus->Publish(topic, "k", "through the tool").ok());
    REQUIRE(bus->Publish("pre-made", "k", "a topic the tool created").ok());
    CHECK(bus->Drain().ok());
    CHECK(got.load() == 1);
  }
  bus.reset();
  CHECK(tool.CloseAndWait() == 0);
}

TEST_CASE("im-kafka-mock --ignore-stdin stops on SIGTERM and bad arguments exit 2") {
  {
    Tool tool({"--ignore-stdin", "--brokers", "1"});
    REQUIRE(tool.ReadLine().find("127.0.0.1:") == 0);
    close(tool.stdin_fd);  // ignored
    tool.stdin_fd = -1;
    std::this_thread::sleep_for(100ms);
    int status = 0;
    CHECK(waitpid(tool.pid, &status, WNOHANG) == 0);  // still running
    REQUIRE(kill(tool.pid, SIGTERM) == 0);
    CHECK(tool.WaitExit() == 0);
  }
  Tool bad({"--brokers", "0"});
  CHECK(bad.WaitExit() == 2);
}

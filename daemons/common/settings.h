// Settings: the configuration layers every daemon shares — defaults < TOML file (--config) <
// environment (<PREFIX>_<KEY>) < flags (--<key>) — over a table of keys each daemon declares.
//
//   Settings s("im-logic", "IM_LOGIC");
//   s.Address("listen", &c.listen, "gRPC address");
//   s.Int("upstream_consumers", &c.consumers, 1, 1024, "…");
//   if (Status st = s.Load(args); !st.ok()) …
//
// A key "kafka.brokers" is the TOML key `brokers` in table [kafka], the variable
// IM_LOGIC_KAFKA_BROKERS and the flag --kafka-brokers ('.' and '_' become '-'). Lists are TOML
// arrays of strings, or comma-separated in the environment and on the command line. Every error
// names the file and key, the variable or the flag, and what was expected.
#ifndef IM_DAEMONS_COMMON_SETTINGS_H_
#define IM_DAEMONS_COMMON_SETTINGS_H_

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "im/log.h"
#include "im/status.h"

namespace im::daemon {

class Settings {
 public:
  Settings(std::string program, std::string env_prefix);

  void String(const std::string& key, std::string* out, const std::string& help);
  // A string that must not be empty once loaded (checked by Load after every layer).
  void RequiredString(const std::string& key, std::string* out, const std::string& help);
  void Int(const std::string& key, int64_t* out, int64_t lo, int64_t hi, const std::string& help);
  void Int(const std::string& key, int* out, int lo, int hi, const std::string& help);
  void Bool(const std::string& key, bool* out, const std::string& help);
  void List(const std::string& key, std::vector<std::string>* out, const std::string& help);
  // "host:port", port 0..65535.
  void Address(const std::string& key, std::string* out, const std::string& help);
  // One of `choices`.
  void Choice(const std::string& key, std::string* out, std::vector<std::string> choices, const std::string& help);
  void LogLevel(const std::string& key, im::LogLevel* out, const std::string& help);

  // Applies the layers. invalid_argument naming what is wrong.
  Status Load(const std::vector<std::string>& args);
  // Applies the text of a TOML file, named `source` in errors: what Load does with --config once
  // the file is read (the fuzz target in tests/fuzz calls it without a file).
  Status ApplyTomlText(std::string_view text, const std::string& source);
  bool help() const { return help_; }
  const std::string& program() const { return program_; }
  std::string Usage() const;

 private:
  struct Entry {
    std::string key, help, shown_default;
    std::function<Status(const std::string& text, const std::string& where)> set;
    std::function<bool()> empty;  // RequiredString only
  };
  void Add(const std::string& key, const std::string& help, std::string shown_default,
           std::function<Status(const std::string&, const std::string&)> set);
  const Entry* Find(const std::string& key) const;
  Status ApplyToml(const std::string& path);

  const std::string program_, env_prefix_;
  std::vector<Entry> entries_;
  bool help_ = false;
};

// "host:port" -> host and port; invalid_argument otherwise.
Status SplitAddress(const std::string& address, std::string* host, uint16_t* port);

}  // namespace im::daemon

#endif  // IM_DAEMONS_COMMON_SETTINGS_H_

#include "common/settings.h"

#include <toml++/toml.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdlib>

#include "common/toml_file.h"

namespace im::daemon {
namespace {

std::string FlagOf(const std::string& key) {
  std::string f = "--" + key;
  std::replace(f.begin(), f.end(), '.', '-');
  std::replace(f.begin(), f.end(), '_', '-');
  return f;
}

std::string EnvOf(const std::string& prefix, const std::string& key) {
  std::string e = prefix + "_" + key;
  for (char& c : e) c = c == '.' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return e;
}

std::vector<std::string> SplitList(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    if (comma == std::string::npos) comma = text.size();
    std::string item = text.substr(start, comma - start);
    item.erase(0, item.find_first_not_of(" \t"));
    item.erase(item.find_last_not_of(" \t") + 1);
    if (!item.empty()) out.push_back(item);
    start = comma + 1;
  }
  return out;
}

std::string Join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& i : items) out += (out.empty() ? "" : ",") + i;
  return out;
}

// A TOML value as the text the environment or a flag would carry.
bool TomlText(const toml::node& node, std::string* out) {
  if (auto s = node.value_exact<std::string>()) {
    *out = *s;
  } else if (auto i = node.value_exact<int64_t>()) {
    *out = std::to_string(*i);
  } else if (auto b = node.value_exact<bool>()) {
    *out = *b ? "true" : "false";
  } else if (const toml::array* a = node.as_array()) {
    std::vector<std::string> items;
    for (auto&& item : *a) {
      auto s = item.value_exact<std::string>();
      if (!s || s->find(',') != std::string::npos) return false;
      items.push_back(*s);
    }
    *out = Join(items);
  } else {
    return false;
  }
  return true;
}

}  // namespace

Status SplitAddress(const std::string& address, std::string* host, uint16_t* port) {
  size_t colon = address.rfind(':');
  int p = -1;
  if (colon != std::string::npos) {
    auto [end, ec] = std::from_chars(address.data() + colon + 1, address.data() + address.size(), p);
    if (ec != std::errc() || end != address.data() + address.size()) p = -1;
  }
  if (colon == std::string::npos || colon == 0 || p < 0 || p > 65535) {
    return Status::InvalidArgument("wants HOST:PORT, got \"" + address + "\"");
  }
  *host = address.substr(0, colon);
  *port = static_cast<uint16_t>(p);
  return Status::Ok();
}

Settings::Settings(std::string program, std::string env_prefix)
    : program_(std::move(program)), env_prefix_(std::move(env_prefix)) {}

void Settings::Add(const std::string& key, const std::string& help, std::string shown_default,
                   std::function<Status(const std::string&, const std::string&)> set) {
  entries_.push_back(Entry{key, help, std::move(shown_default), std::move(set), nullptr});
}

void Settings::String(const std::string& key, std::string* out, const std::string& help) {
  Add(key, help, *out, [out](const std::string& text, const std::string&) {
    *out = text;
    return Status::Ok();
  });
}

void Settings::RequiredString(const std::string& key, std::string* out, const std::string& help) {
  String(key, out, help);
  entries_.back().empty = [out] { return out->empty(); };
}

namespace {

// Parses `text` into an integer within [lo, hi].
template <typename T>
std::function<Status(const std::string&, const std::string&)> IntSetter(T* out, T lo, T hi) {
  return [out, lo, hi](const std::string& text, const std::string& where) {
    T v = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc() || end != text.data() + text.size() || v < lo || v > hi) {
      return Status::InvalidArgument(where + " must be an integer between " + std::to_string(lo) + " and " +
                                     std::to_string(hi) + ", got \"" + text + "\"");
    }
    *out = v;
    return Status::Ok();
  };
}

}  // namespace

void Settings::Int(const std::string& key, int64_t* out, int64_t lo, int64_t hi, const std::string& help) {
  Add(key, help, std::to_string(*out), IntSetter(out, lo, hi));
}

void Settings::Int(const std::string& key, int* out, int lo, int hi, const std::string& help) {
  Add(key, help, std::to_string(*out), IntSetter(out, lo, hi));
}

void Settings::Bool(const std::string& key, bool* out, const std::string& help) {
  Add(key, help, *out ? "true" : "false", [out](const std::string& text, const std::string& where) {
    if (text == "true" || text == "1") {
      *out = true;
    } else if (text == "false" || text == "0") {
      *out = false;
    } else {
      return Status::InvalidArgument(where + " must be true or false, got \"" + text + "\"");
    }
    return Status::Ok();
  });
}

void Settings::List(const std::string& key, std::vector<std::string>* out, const std::string& help) {
  Add(key, help, Join(*out), [out](const std::string& text, const std::string&) {
    *out = SplitList(text);
    return Status::Ok();
  });
}

void Settings::Address(const std::string& key, std::string* out, const std::string& help) {
  Add(key, help, *out, [out](const std::string& text, const std::string& where) {
    std::string host;
    uint16_t port;
    if (Status s = SplitAddress(text, &host, &port); !s.ok()) return Status::InvalidArgument(where + " " + s.message());
    *out = text;
    return Status::Ok();
  });
}

void Settings::Choice(const std::string& key, std::string* out, std::vector<std::string> choices,
                      const std::string& help) {
  std::string shown = *out;
  Add(key, help + " (" + Join(choices) + ")", shown, [out, choices](const std::string& text, const std::string& where) {
    if (std::find(choices.begin(), choices.end(), text) == choices.end()) {
      return Status::InvalidArgument(where + " must be one of " + Join(choices) + ", got \"" + text + "\"");
    }
    *out = text;
    return Status::Ok();
  });
}

void Settings::LogLevel(const std::string& key, im::LogLevel* out, const std::string& help) {
  Add(key, help, "info", [out](const std::string& text, const std::string& where) {
    if (!im::ParseLogLevel(text, out)) {
      return Status::InvalidArgument(where + " must be one of debug, info, warn, error, got \"" + text + "\"");
    }
    return Status::Ok();
  });
}

const Settings::Entry* Settings::Find(const std::string& key) const {
  for (const auto& e : entries_) {
    if (e.key == key) return &e;
  }
  return nullptr;
}

Status Settings::ApplyToml(const std::string& path) {
  IM_ASSIGN_OR_RETURN(std::string text, ReadTomlFile(path));
  return ApplyTomlText(text, path);
}

Status Settings::ApplyTomlText(std::string_view text, const std::string& path) {
  IM_ASSIGN_OR_RETURN(toml::table root, ParseTomlText(text, path));
  // Depth-first over nested tables: [kafka] brokers = … is the key "kafka.brokers".
  std::function<Status(const toml::table&, const std::string&)> walk = [&](const toml::table& t,
                                                                           const std::string& prefix) -> Status {
    for (auto&& [k, node] : t) {
      std::string key = prefix + std::string(k.str());
      if (const toml::table* sub = node.as_table()) {
        IM_RETURN_IF_ERROR(walk(*sub, key + "."));
        continue;
      }
      const Entry* e = Find(key);
      const std::string where = path + ": " + key;
      if (!e) return Status::InvalidArgument(where + " is not a known setting");
      std::string text;
      if (!TomlText(node, &text)) {
        return Status::InvalidArgument(where + " must be a string, an integer, a boolean or an array of strings");
      }
      IM_RETURN_IF_ERROR(e->set(text, where));
    }
    return Status::Ok();
  };
  return walk(root, "");
}

Status Settings::Load(const std::vector<std::string>& args) {
  std::string config_file;
  std::vector<std::pair<const Entry*, std::string>> flags;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--help" || a == "-h") {
      help_ = true;
      continue;
    }
    const Entry* entry = nullptr;
    if (a != "--config") {
      for (const auto& e : entries_) {
        if (FlagOf(e.key) == a) entry = &e;
      }
      if (!entry) return Status::InvalidArgument("unknown argument \"" + a + "\" (see --help)");
    }
    if (i + 1 >= args.size()) return Status::InvalidArgument(a + " needs a value");
    if (entry) {
      flags.emplace_back(entry, args[++i]);
    } else {
      config_file = args[++i];
    }
  }
  if (help_) return Status::Ok();
  if (!config_file.empty()) IM_RETURN_IF_ERROR(ApplyToml(config_file));
  for (const auto& e : entries_) {
    std::string var = EnvOf(env_prefix_, e.key);
    if (const char* v = std::getenv(var.c_str()); v && *v) IM_RETURN_IF_ERROR(e.set(v, var));
  }
  for (const auto& [e, value] : flags) IM_RETURN_IF_ERROR(e->set(value, FlagOf(e->key)));
  for (const auto& e : entries_) {
    if (e.empty && e.empty()) {
      return Status::InvalidArgument(e.key + " is required (" + FlagOf(e.key) + ", " + EnvOf(env_prefix_, e.key) +
                                     " or the TOML file)");
    }
  }
  return Status::Ok();
}

std::string Settings::Usage() const {
  std::string out = "usage: " + program_ + " [--config FILE] [--KEY VALUE]...\n";
  out += "Each KEY is also a TOML key (dotted keys are tables) and an environment variable " + env_prefix_ +
         "_KEY.\nPrecedence: defaults < --config file < environment < flags.\n\n";
  for (const auto& e : entries_) {
    std::string flag = FlagOf(e.key);
    out += "  " + flag + std::string(flag.size() < 34 ? 34 - flag.size() : 1, ' ') + e.help;
    if (!e.shown_default.empty()) out += " [" + e.shown_default + "]";
    out += "\n";
  }
  return out;
}

}  // namespace im::daemon

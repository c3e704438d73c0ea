// Query strings and percent decoding of the REST API (src/beast/rest_api.h): QueryParam over a
// request target, PercentDecode of what it returns, and the ids the routes parse from them.
#include <string>

#include "beast/rest_api.h"
#include "fuzz/fuzz_check.h"
#include "im/ids.h"

namespace {

// Every byte as %XX: what a client following the URL rules at their strictest sends.
std::string PercentEncodeAll(std::string_view in) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : in) {
    out += '%';
    out += kHex[c >> 4];
    out += kHex[c & 15];
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view target = im::fuzz::AsText(data, size);
  const size_t q = target.find('?');
  const std::string_view query = q == std::string_view::npos ? std::string_view() : target.substr(q + 1);
  for (std::string_view name : {"username", "ids", "cursor_id", "limit", "q", "conversation_id", "token", ""}) {
    const std::string value = im::gateway::QueryParam(target, name);
    // A value is a piece of the query, never more.
    FUZZ_CHECK(value.size() <= query.size());
    FUZZ_CHECK(value.empty() || query.find(value) != std::string_view::npos);
    FUZZ_CHECK(value.find('&') == std::string::npos);
    const std::string decoded = im::gateway::PercentDecode(value);
    FUZZ_CHECK(decoded.size() <= value.size());
    if (auto id = im::ConversationId::Parse(decoded)) FUZZ_CHECK(id->str() == decoded);  // canonical only
  }
  // Decoding undoes the strictest encoding, whatever the bytes.
  FUZZ_CHECK(im::gateway::PercentDecode(PercentEncodeAll(target)) == target);
  const std::string decoded = im::gateway::PercentDecode(target);
  if (target.find_first_of("%+") == std::string_view::npos) FUZZ_CHECK(decoded == target);
  return 0;
}

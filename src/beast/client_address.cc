#include "beast/client_address.h"

#include <charconv>
#include <optional>

namespace im::gateway {

namespace ip = boost::asio::ip;

namespace {

std::array<uint8_t, 16> Bytes16(const ip::address& a) {
  if (a.is_v4()) return ip::make_address_v6(ip::v4_mapped, a.to_v4()).to_bytes();
  return a.to_v6().to_bytes();
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// An address as proxies write it: "1.2.3.4", "2001:db8::1", "[2001:db8::1]" (also with a port).
std::optional<ip::address> ParseForwarded(std::string_view text) {
  text = Trim(text);
  if (text.size() > 2 && text.front() == '[') text = text.substr(1, text.find(']') - 1);
  boost::system::error_code ec;
  auto a = ip::make_address(text, ec);
  if (ec) {
    size_t colon = text.rfind(':');  // "1.2.3.4:5678"
    if (colon == std::string_view::npos || text.find(':') != colon) return std::nullopt;
    a = ip::make_address(text.substr(0, colon), ec);
    if (ec) return std::nullopt;
  }
  return a;
}

}  // namespace

Result<TrustedProxies> TrustedProxies::Parse(const std::vector<std::string>& entries) {
  TrustedProxies out;
  for (const std::string& entry : entries) {
    std::string_view text = entry;
    size_t slash = text.find('/');
    boost::system::error_code ec;
    auto address = ip::make_address(text.substr(0, slash), ec);
    int bits = address.is_v4() ? 32 : 128;
    if (!ec && slash != std::string_view::npos) {
      std::string_view prefix = text.substr(slash + 1);
      auto [end, err] = std::from_chars(prefix.data(), prefix.data() + prefix.size(), bits);
      if (err != std::errc() || end != prefix.data() + prefix.size() || bits < 0 ||
          bits > (address.is_v4() ? 32 : 128)) {
        ec = boost::asio::error::invalid_argument;
      }
    }
    if (ec) return Status::InvalidArgument("trusted proxy \"" + entry + "\" is not an address or network");
    out.networks_.push_back(Network{Bytes16(address), address.is_v4() ? 96 + bits : bits});
  }
  return out;
}

bool TrustedProxies::Contains(const ip::address& address) const {
  const auto bytes = Bytes16(address);
  for (const Network& n : networks_) {
    int full = n.prefix_bits / 8, rest = n.prefix_bits % 8;
    bool match = std::equal(bytes.begin(), bytes.begin() + full, n.bytes.begin());
    if (match && rest != 0) {
      auto mask = static_cast<uint8_t>(0xFF << (8 - rest));
      match = (bytes[full] & mask) == (n.bytes[full] & mask);
    }
    if (match) return true;
  }
  return false;
}

ip::address ClientAddress(const ip::address& peer, std::string_view forwarded_for, const TrustedProxies& trusted) {
  ip::address client = peer;
  while (trusted.Contains(client) && !Trim(forwarded_for).empty()) {
    size_t comma = forwarded_for.rfind(',');
    std::string_view last = comma == std::string_view::npos ? forwarded_for : forwarded_for.substr(comma + 1);
    forwarded_for = comma == std::string_view::npos ? std::string_view() : forwarded_for.substr(0, comma);
    auto hop = ParseForwarded(last);
    if (!hop) break;  // written by the hop we trust last: nothing left of it can be trusted more
    client = *hop;
  }
  return client;
}

std::string ClientKey(const ip::address& address) {
  if (address.is_v4()) return address.to_string();
  const ip::address_v6 v6 = address.to_v6();
  if (v6.is_v4_mapped()) return ip::make_address_v4(ip::v4_mapped, v6).to_string();
  auto bytes = v6.to_bytes();
  std::fill(bytes.begin() + 8, bytes.end(), 0);
  return ip::address_v6(bytes).to_string() + "/64";
}

}  // namespace im::gateway

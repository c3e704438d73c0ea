#include "grpc/unary_client.h"

namespace im::rpc {
namespace {

bool IsIpv4Literal(const std::string& a) {
  auto colon = a.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == a.size()) return false;
  int dots = 0;
  for (size_t i = 0; i < colon; ++i) {
    if (a[i] == '.') {
      ++dots;
    } else if (a[i] < '0' || a[i] > '9') {
      return false;
    }
  }
  return dots == 3 && std::all_of(a.begin() + colon + 1, a.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool IsIpv6Literal(const std::string& a) { return a.size() > 4 && a[0] == '[' && a.find("]:") != std::string::npos; }

// One gRPC target for the addresses (see docs/decisions.md): a single address as it is (gRPC's
// DNS resolver), several IP literals as a static "ipv4:"/"ipv6:" list.
Result<std::string> TargetOf(const ClientConfig& c) {
  const auto& addresses = c.addresses;
  if (addresses.empty()) return Status::InvalidArgument(c.who + ": no address");
  if (addresses.size() == 1) {
    if (addresses[0].empty()) return Status::InvalidArgument(c.who + ": empty address");
    return addresses[0];
  }
  bool v4 = std::all_of(addresses.begin(), addresses.end(), IsIpv4Literal);
  bool v6 = std::all_of(addresses.begin(), addresses.end(), IsIpv6Literal);
  if (!v4 && !v6) {
    return Status::InvalidArgument(
        c.who + ": several addresses must all be IPv4 (a.b.c.d:port) or all IPv6 ([::1]:port) literals");
  }
  std::string target = v4 ? "ipv4:" : "ipv6:";
  for (size_t i = 0; i < addresses.size(); ++i) target += (i ? "," : "") + addresses[i];
  return target;
}

}  // namespace

Result<UnaryClient> UnaryClient::Open(ClientConfig c) {
  IM_ASSIGN_OR_RETURN(std::string target, TargetOf(c));
  if (c.deadline_ms <= 0) return Status::InvalidArgument(c.who + ": deadline_ms must be positive");
  if (c.max_attempts < 1) return Status::InvalidArgument(c.who + ": max_attempts must be at least 1");
  if (c.initial_backoff_ms < 0 || c.max_backoff_ms < c.initial_backoff_ms || c.backoff_multiplier < 1.0 ||
      c.reconnect_backoff_ms <= 0 || c.max_message_bytes <= 0) {
    return Status::InvalidArgument(c.who + ": bad backoff or message size options");
  }
  ::grpc::ChannelArguments args;
  args.SetLoadBalancingPolicyName("round_robin");
  // Subchannels of its own: another channel's connection state (say, to a server that used the
  // same port before) never leaks into this one.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args.SetMaxReceiveMessageSize(c.max_message_bytes);
  args.SetMaxSendMessageSize(c.max_message_bytes);
  int reconnect = int(std::min<int64_t>(c.reconnect_backoff_ms, INT32_MAX));
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, reconnect);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, reconnect);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, int(std::clamp<int64_t>(c.max_backoff_ms, reconnect, INT32_MAX)));
  auto channel = ::grpc::CreateCustomChannel(target, ::grpc::InsecureChannelCredentials(), args);
  if (!channel) return Status::Internal(c.who + ": cannot create a channel to " + target);
  return UnaryClient(std::move(c), std::move(channel));
}

}  // namespace im::rpc

#include "beast/rest_api.h"

#include <algorithm>
#include <boost/json.hpp>
#include <cctype>
#include <charconv>
#include <optional>

#include "beast/dead_letter_admin.h"
#include "common/metrics.h"
#include "common/utf8.h"

namespace im::gateway {

// The value of `name` in the query string ("" when absent). Ids and numbers need no decoding.
std::string QueryParam(std::string_view target, std::string_view name) {
  size_t q = target.find('?');
  if (q == std::string_view::npos) return "";
  std::string_view query = target.substr(q + 1);
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    if (pair.size() > name.size() && pair.substr(0, name.size()) == name && pair[name.size()] == '=') {
      return std::string(pair.substr(name.size() + 1));
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return "";
}

// %XX and '+' decoded (usernames may need it); malformed escapes are kept as they are.
std::string PercentDecode(std::string_view in) {
  std::string out;
  for (size_t i = 0; i < in.size(); ++i) {
    auto hex = [](char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; };
    if (in[i] == '%' && i + 2 < in.size() && hex(in[i + 1]) && hex(in[i + 2])) {
      out += static_cast<char>(std::stoi(std::string(in.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else {
      out += in[i] == '+' ? ' ' : in[i];
    }
  }
  return out;
}

namespace {

namespace json = boost::json;

Result<json::object> ParseBody(std::string_view body) {
  if (!IsValidUtf8(body)) return Status::InvalidArgument("body is not valid UTF-8");
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (ec) return Status::InvalidArgument("body is not JSON: " + ec.message());
  if (!v.is_object()) return Status::InvalidArgument("body must be a JSON object");
  return std::move(v.as_object());
}

// A string member; "" when absent. invalid_argument when present with another type.
Result<std::string> StringField(const json::object& o, std::string_view name, bool required) {
  auto it = o.find(name);
  if (it == o.end() || it->value().is_null()) {
    if (required) return Status::InvalidArgument("missing \"" + std::string(name) + "\"");
    return std::string();
  }
  if (!it->value().is_string()) return Status::InvalidArgument("\"" + std::string(name) + "\" must be a string");
  return std::string(it->value().get_string());
}

RestResponse Json(int status, const json::value& v) { return RestResponse{status, json::serialize(v)}; }

json::object UserJson(const User& u) {
  return {{"id", std::to_string(u.id.value)},
          {"username", u.username},
          {"display_name", u.display_name},
          {"created_at_ms", u.created_at_ms}};
}

json::object TokensJson(const AuthTokens& t) {
  return {{"user_id", std::to_string(t.user.value)},
          {"access_token", t.access_token},
          {"access_expires_at_ms", t.access_expires_at_ms},
          {"refresh_token", t.refresh_token},
          {"refresh_expires_at_ms", t.refresh_expires_at_ms}};
}

Result<uint64_t> NumberParam(std::string_view target, std::string_view name, uint64_t fallback) {
  std::string v = QueryParam(target, name);
  if (v.empty()) return fallback;
  uint64_t n = 0;
  auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec != std::errc() || end != v.data() + v.size()) {
    return Status::InvalidArgument("query parameter " + std::string(name) + " must be a non-negative integer");
  }
  return n;
}

// A positive decimal id ("42"); nullopt for anything else.
std::optional<int64_t> ParseId(std::string_view v) {
  int64_t n = 0;
  auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec != std::errc() || end != v.data() + v.size() || n <= 0) return std::nullopt;
  return n;
}

// An id member given as a JSON number or a decimal string.
Result<int64_t> IdField(const json::object& o, std::string_view name) {
  auto it = o.find(name);
  if (it != o.end() && it->value().is_int64() && it->value().get_int64() > 0) return it->value().get_int64();
  if (it != o.end() && it->value().is_string()) {
    if (auto id = ParseId(it->value().get_string())) return *id;
  }
  return Status::InvalidArgument("\"" + std::string(name) + "\" must be a positive id");
}

// A seq member (0 or more) given as a JSON number or a decimal string.
Result<Seq> SeqField(const json::object& o, std::string_view name) {
  auto it = o.find(name);
  if (it != o.end() && it->value().is_int64() && it->value().get_int64() >= 0) return it->value().get_int64();
  if (it != o.end() && it->value().is_uint64()) return it->value().get_uint64();
  if (it != o.end() && it->value().is_string()) {
    std::string_view v = it->value().get_string();
    uint64_t n = 0;
    auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
    if (!v.empty() && ec == std::errc() && end == v.data() + v.size()) return n;
  }
  return Status::InvalidArgument("\"" + std::string(name) + "\" must be a seq (0 or more)");
}

json::object MessageJson(const Message& m) {
  return {{"id", std::to_string(m.id.value)},
          {"conversation_id", m.conversation.str()},
          {"seq", std::to_string(m.seq)},
          {"sender_id", std::to_string(m.sender.value)},
          {"client_msg_id", m.client_msg_id},
          {"type", m.type == ContentType::kCustom ? "custom" : "text"},
          {"content", m.content},
          {"sent_at_ms", m.sent_at_ms}};
}

json::object GroupJson(const Group& g) {
  return {{"id", std::to_string(g.id.value)},
          {"name", g.name},
          {"owner_id", std::to_string(g.owner.value)},
          {"member_count", g.member_count},
          {"max_members", g.max_members},
          {"created_at_ms", g.created_at_ms}};
}

const char* RoleName(GroupRole r) {
  return r == GroupRole::kOwner ? "owner" : r == GroupRole::kAdmin ? "admin" : "member";
}

// "/api/v1/groups/42/join" with prefix "/api/v1/groups/" -> {"42", "join"}.
std::pair<std::string_view, std::string_view> SplitResource(std::string_view path, std::string_view prefix) {
  std::string_view rest = path.substr(prefix.size());
  size_t slash = rest.find('/');
  if (slash == std::string_view::npos) return {rest, ""};
  return {rest.substr(0, slash), rest.substr(slash + 1)};
}

const char* PlatformName(PushPlatform p) { return p == PushPlatform::kFcm ? "fcm" : "apns"; }

Result<PushPlatform> ParsePlatform(std::string_view name) {
  if (name == "apns") return PushPlatform::kApns;
  if (name == "fcm") return PushPlatform::kFcm;
  return Status::InvalidArgument("platform must be \"apns\" or \"fcm\"");
}

// A boolean member; `fallback` when absent.
Result<bool> BoolField(const json::object& o, std::string_view name, bool fallback) {
  auto it = o.find(name);
  if (it == o.end()) return fallback;
  if (!it->value().is_bool()) return Status::InvalidArgument("\"" + std::string(name) + "\" must be true or false");
  return it->value().get_bool();
}

Result<AuthContext> Bearer(Engine& engine, std::string_view authorization) {
  constexpr std::string_view kPrefix = "Bearer ";
  if (authorization.substr(0, kPrefix.size()) != kPrefix) {
    return Status::Unauthenticated("missing bearer token");
  }
  return engine.Authenticate(std::string(authorization.substr(kPrefix.size())));
}

Result<RestResponse> Route(Engine& engine, const RestRequest& r) {
  std::string_view path = r.target.substr(0, r.target.find('?'));
  const bool post = r.method == "POST";
  metrics::Default().http_requests.Add();
  if (path == "/healthz" && r.method == "GET") return Json(200, json::object{{"status", "ok"}});
  if (path == "/metrics" && r.method == "GET") {
    return RestResponse{200, metrics::Default().RenderPrometheus(), "text/plain; version=0.0.4"};
  }
  if (path == "/api/v1/auth/register" && post) {
    IM_ASSIGN_OR_RETURN(json::object body, ParseBody(r.body));
    IM_ASSIGN_OR_RETURN(std::string username, StringField(body, "username", true));
    IM_ASSIGN_OR_RETURN(std::string password, StringField(body, "password", true));
    IM_ASSIGN_OR_RETURN(std::string display_name, StringField(body, "display_name", false));
    IM_ASSIGN_OR_RETURN(User user, engine.Register(username, password, display_name));
    return Json(201, UserJson(user));
  }
  if (path == "/api/v1/auth/login" && post) {
    IM_ASSIGN_OR_RETURN(json::object body, ParseBody(r.body));
    IM_ASSIGN_OR_RETURN(std::string username, StringField(body, "username", true));
    IM_ASSIGN_OR_RETURN(std::string password, StringField(body, "password", true));
    IM_ASSIGN_OR_RETURN(std::string device, StringField(body, "device", true));
    IM_ASSIGN_OR_RETURN(AuthTokens tokens, engine.Login(username, password, device));
    return Json(200, TokensJson(tokens));
  }
  if ((path == "/api/v1/auth/refresh" || path == "/api/v1/auth/logout") && post) {
    IM_ASSIGN_OR_RETURN(json::object body, ParseBody(r.body));
    IM_ASSIGN_OR_RETURN(std::string token, StringField(body, "refresh_token", true));
    if (path == "/api/v1/auth/logout") {
      IM_RETURN_IF_ERROR(engine.Logout(token));
      return RestResponse{204, ""};
    }
    IM_ASSIGN_OR_RETURN(AuthTokens tokens, engine.Refresh(token));
    return Json(200, TokensJson(tokens));
  }
  if (path == "/api/v1/users/me" && r.method == "GET") {
    IM_ASSIGN_OR_RETURN(AuthContext who, Bearer(engine, r.authorization));
    IM_ASSIGN_OR_RETURN(User user, engine.GetUser(who.user));
    return Json(200, UserJson(user));
  }
  // Everything below acts as the bearer of the access token.
  IM_ASSIGN_OR_RETURN(AuthContext who, Bearer(engine, r.authorization));
  const bool get = r.method == "GET";
  if (path == "/api/v1/users" && get && !QueryParam(r.target, "username").empty()) {
    IM_ASSIGN_OR_RETURN(User user, engine.FindUser(PercentDecode(QueryParam(r.target, "username"))));
    return Json(200, json::object{{"users", json::array{UserJson(user)}}});
  }
  if (path == "/api/v1/users" && get) {
    std::vector<UserId> ids;
    std::string list = QueryParam(r.target, "ids");
    for (size_t pos = 0; pos < list.size();) {
      size_t comma = list.find(',', pos);
      auto id =
          ParseId(std::string_view(list).substr(pos, comma == std::string::npos ? std::string::npos : comma - pos));
      if (!id) return Status::InvalidArgument("ids must be a comma-separated list of user ids");
      ids.emplace_back(*id);
      if (comma == std::string::npos) break;
      pos = comma + 1;
    }
    IM_ASSIGN_OR_RETURN(auto users, engine.GetUsers(ids));
    json::array out;
    for (const auto& u : users) out.push_back(UserJson(u));
    return Json(200, json::object{{"users", std::move(out)}});
  }
  if (path == "/api/v1/conversations" && get) {
    IM_ASSIGN_OR_RETURN(uint64_t limit, NumberParam(r.target, "limit", 50));
    IM_ASSIGN_OR_RETURN(uint64_t before, NumberParam(r.target, "cursor_activity_ms", 0));
    ConversationCursor cursor;
    // Clients that follow the URL rules send "d%3A1%3A4"; a cursor that does not parse is an error,
    // not the first page again (a client would page forever).
    if (std::string raw = QueryParam(r.target, "cursor_id"); !raw.empty()) {
      auto id = ConversationId::Parse(PercentDecode(raw));
      if (!id) return Status::InvalidArgument("malformed cursor_id");
      cursor = ConversationCursor{static_cast<TimestampMs>(before), *id};
    }
    IM_ASSIGN_OR_RETURN(
        auto list, engine.ListConversations(who.user, cursor, static_cast<uint32_t>(std::min<uint64_t>(limit, 1000))));
    json::array out;
    for (const auto& c : list) {
      json::object row{{"id", c.id.str()},
                       {"last_seq", std::to_string(c.last_seq)},
                       {"read_seq", std::to_string(c.read_seq)},
                       {"unread", c.unread},
                       {"last_activity_ms", c.last_activity_ms}};
      if (c.last_message) row["last_message"] = MessageJson(*c.last_message);
      out.push_back(std::move(row));
    }
    return Json(200, json::object{{"conversations", std::move(out)}});
  }
  constexpr std::string_view kConversations = "/api/v1/conversations/";
  if (path.substr(0, kConversations.size()) == kConversations) {
    auto [id_text, action] = SplitResource(path, kConversations);
    auto conversation = ConversationId::Parse(PercentDecode(id_text));  // "d%3A1%3A2" is "d:1:2"
    if (!conversation) return Status::InvalidArgument("malformed conversation id");
    if (action == "messages" && get) {
      IM_ASSIGN_OR_RETURN(uint64_t before, NumberParam(r.target, "before_seq", 0));
      IM_ASSIGN_OR_RETURN(uint64_t after, NumberParam(r.target, "after_seq", 0));
      IM_ASSIGN_OR_RETURN(uint64_t limit, NumberParam(r.target, "limit", 50));
      HistoryQuery q{after, before, static_cast<uint32_t>(std::min<uint64_t>(limit, 1000))};
      IM_ASSIGN_OR_RETURN(HistoryPage page, engine.GetHistory(who.user, *conversation, q));
      json::array out;
      for (const auto& m : page.messages) out.push_back(MessageJson(m));
      return Json(200, json::object{{"messages", std::move(out)}, {"has_more", page.has_more}});
    }
    if (action == "read" && post) {
      IM_ASSIGN_OR_RETURN(json::object body, ParseBody(r.body));
      // 0 is "nothing read": it moves nothing and answers the current pointer, as on the WebSocket.
      IM_ASSIGN_OR_RETURN(Seq seq, SeqField(body, "seq"));
      IM_ASSIGN_OR_RETURN(Seq read, engine.MarkRead(who.user, who.device, *conversation, seq));
      return Json(200, json::object{{"read_seq", std::to_string(read)}});
    }
  }
  if (path == "/api/v1/search" && get) {
    SearchRequest q;
    q.query = PercentDecode(QueryParam(r.target, "q"));
    if (std::string c = PercentDecode(QueryParam(r.target, "conversation_id")); !c.empty()) {
      auto conversation = ConversationId::Parse(c);
      if (!conversation) return Status::InvalidArgument("malformed conversation_id");
      q.conversation = *conversation;
    }
    IM_ASSIGN_OR_RETURN(uint64_t limit, NumberParam(r.target, "limit", 20));
    IM_ASSIGN_OR_RETURN(uint64_t before, NumberParam(r.target, "before", 0));
    q.limit = static_cast<uint32_t>(std::min<uint64_t>(limit, 1000));
    q.before = MessageId(static_cast<int64_t>(before));
    IM_ASSIGN_OR_RETURN(SearchPage page, engine.Search(who.user, q));
    json::array hits;
    for (const SearchHit& h : page.hits) {
      hits.push_back(json::object{{"message_id", std::to_string(h.id.value)},
                                  {"conversation_id", h.conversation.str()},
                                  {"seq", std::to_string(h.seq)},
                                  {"sender_id", std::to_string(h.sender.value)},
                                  {"sent_at_ms", h.sent_at_ms},
                                  {"highlight", h.highlight}});
    }
    json::value next = page.next_before.valid() ? json::value(std::to_string(page.next_before.value)) : nullptr;
    return Json(200, json::object{{"hits", std::move(hits)}, {"next_before", next}});
  }
  if (path == "/api/v1/push/devices" && (post || get)) {
    if (get) {
      IM_ASSIGN_OR_RETURN(auto tokens, engine.ListDeviceTokens(who.user));
      json::array out;
      for (const DeviceToken& t : tokens) {
        out.push_back(json::object{{"platform", PlatformName(t.platform)},
                                   {"token", t.token},
                                   {"device_id", t.device},
                                   {"updated_at_ms", t.updated_at_ms}});
      }
      return Json(200, json::object{{"devices", std::move(out)}});
    }
    IM_ASSIGN_OR_RETURN(json::object body, ParseBody(r.body));
    IM_ASSIGN_OR_RETURN(std::string platform, StringField(body, "platform", true));
    IM_ASSIGN_OR_RETURN(PushPlatform p, ParsePlatform(platform));
    IM_ASSIGN_OR_RETURN(std::string token, StringField(body, "token", true));
    IM_RETURN_IF_ERROR(engine.RegisterDeviceToken(who.user, DeviceToken{who.user, p, token, who.device}));
    return RestResponse{204, ""};
  }
  constexpr std::string_view kDevices = "/api/v1/push/devices/";
  if (path.substr(0, kDevices.size()) == kDevices && r.method == "DELETE") {
    // /api/v1/push/devices/<platform>/<percent-encoded token>
    auto [platform, token] = SplitResource(path, kDevices);
    IM_ASSIGN_OR_RETURN(PushPlatform p, ParsePlatform(platform));
    IM_RETURN_IF_ERROR(engine.UnregisterDeviceToken(who.user, p, PercentDecode(token)));
    return RestResponse{204, ""};
  }
  if (path == "/api/v1/push/settings" && (get || r.method == "PUT")) {
    IM_ASSIGN_OR_RETURN(PushSettings settings, engine.GetPushSettings(who.user));
    if (r.method == "PUT") {
      IM_ASSIGN_OR_RETURN(json::object body, ParseBody(r.body));
      IM_ASSIGN_OR_RETURN(settings.muted, BoolField(body, "muted", settings.muted));
      IM_ASSIGN_OR_RETURN(settings.show_preview, BoolField(body, "show_preview", settings.show_preview));
      IM_RETURN_IF_ERROR(engine.SetPushSettings(who.user, settings));
    }
    return Json(200, json::object{{"muted", settings.muted}, {"show_preview", settings.show_preview}});
  }
  if (path == "/api/v1/groups" && post) {
    IM_ASSIGN_OR_RETURN(json::object body, ParseBody(r.body));
    IM_ASSIGN_OR_RETURN(std::string name, StringField(body, "name", true));
    IM_ASSIGN_OR_RETURN(Group g, engine.CreateGroup(who.user, name));
    return Json(201, GroupJson(g));
  }
  constexpr std::string_view kGroups = "/api/v1/groups/";
  if (path.substr(0, kGroups.size()) == kGroups) {
    auto [id_text, action] = SplitResource(path, kGroups);
    auto id = ParseId(id_text);
    if (!id) return Status::InvalidArgument("malformed group id");
    GroupId group(*id);
    if (action.empty() && get) {
      IM_ASSIGN_OR_RETURN(Group g, engine.GetGroup(who.user, group));
      return Json(200, GroupJson(g));
    }
    if (action == "join" && post) {
      IM_RETURN_IF_ERROR(engine.JoinGroup(who.user, group));
      return RestResponse{204, ""};
    }
    if (action == "leave" && post) {
      IM_RETURN_IF_ERROR(engine.LeaveGroup(who.user, group));
      return RestResponse{204, ""};
    }
    if (action.empty() && r.method == "DELETE") {
      IM_RETURN_IF_ERROR(engine.DismissGroup(who.user, group));
      return RestResponse{204, ""};
    }
    if (action == "transfer" && post) {
      IM_ASSIGN_OR_RETURN(json::object body, ParseBody(r.body));
      IM_ASSIGN_OR_RETURN(int64_t target, IdField(body, "user_id"));
      IM_RETURN_IF_ERROR(engine.TransferOwnership(who.user, group, UserId(target)));
      return RestResponse{204, ""};
    }
    if (action == "members" && get) {
      IM_ASSIGN_OR_RETURN(uint64_t after, NumberParam(r.target, "after", 0));
      IM_ASSIGN_OR_RETURN(uint64_t limit, NumberParam(r.target, "limit", 100));
      IM_ASSIGN_OR_RETURN(auto members, engine.ListMembers(who.user, group, UserId(static_cast<int64_t>(after)),
                                                           static_cast<uint32_t>(std::min<uint64_t>(limit, 1000))));
      json::array out;
      for (const auto& m : members) {
        out.push_back(json::object{
            {"user_id", std::to_string(m.user.value)}, {"role", RoleName(m.role)}, {"joined_at_ms", m.joined_at_ms}});
      }
      return Json(200, json::object{{"members", std::move(out)}});
    }
    if ((action == "kick" || action == "role") && post) {
      IM_ASSIGN_OR_RETURN(json::object body, ParseBody(r.body));
      IM_ASSIGN_OR_RETURN(int64_t target, IdField(body, "user_id"));
      if (action == "kick") {
        IM_RETURN_IF_ERROR(engine.KickMember(who.user, group, UserId(target)));
        return RestResponse{204, ""};
      }
      IM_ASSIGN_OR_RETURN(std::string role, StringField(body, "role", true));
      if (role != "admin" && role != "member") return Status::InvalidArgument("role must be \"admin\" or \"member\"");
      IM_RETURN_IF_ERROR(engine.SetMemberRole(who.user, group, UserId(target),
                                              role == "admin" ? GroupRole::kAdmin : GroupRole::kMember));
      return RestResponse{204, ""};
    }
  }
  return Status::NotFound("no route for " + std::string(r.method) + " " + std::string(path));
}

}  // namespace

int HttpStatusFor(StatusCode code) {
  switch (code) {
    case StatusCode::kOk:
      return 200;
    case StatusCode::kInvalidArgument:
      return 400;
    case StatusCode::kUnauthenticated:
      return 401;
    case StatusCode::kPermissionDenied:
      return 403;
    case StatusCode::kNotFound:
      return 404;
    case StatusCode::kAlreadyExists:
      return 409;
    case StatusCode::kFailedPrecondition:
      return 409;
    case StatusCode::kResourceExhausted:
      return 429;
    case StatusCode::kNotSupported:
      return 501;
    case StatusCode::kUnavailable:
      return 503;
    case StatusCode::kDeadlineExceeded:
      return 504;
    case StatusCode::kInternal:
      return 500;
  }
  return 500;
}

RestResponse ErrorResponse(const Status& status) {
  // A message may quote the request ("no route for GET <path>"), whose bytes need not be UTF-8.
  return Json(HttpStatusFor(status.code()),
              json::object{{"code", StatusCodeName(status.code())}, {"message", ToValidUtf8(status.message())}});
}

RestResponse HandleRest(Engine& engine, const RestRequest& request, std::string_view admin_token) {
  if (auto admin = HandleDeadLetterAdmin(engine, request, admin_token)) return std::move(*admin);
  auto r = Route(engine, request);
  return r.ok() ? std::move(r).value() : ErrorResponse(r.status());
}

}  // namespace im::gateway

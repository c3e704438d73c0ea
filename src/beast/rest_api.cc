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

const char* JoinPolicyName(JoinPolicy p) {
  return p == JoinPolicy::kOpen ? "open" : p == JoinPolicy::kApproval ? "approval" : "invite";
}
const char* HistoryVisibilityName(HistoryVisibility v) { return v == HistoryVisibility::kFull ? "full" : "joined"; }

// Reads `join_policy` and `history_visibility` when present; absent ones keep their value.
Status SettingsFields(const json::object& body, GroupSettings& settings) {
  IM_ASSIGN_OR_RETURN(std::string policy, StringField(body, "join_policy", false));
  if (policy == "open")
    settings.join_policy = JoinPolicy::kOpen;
  else if (policy == "invite")
    settings.join_policy = JoinPolicy::kInvite;
  else if (policy == "approval")
    settings.join_policy = JoinPolicy::kApproval;
  else if (!policy.empty())
    return Status::InvalidArgument("join_policy must be \"open\", \"invite\" or \"approval\"");
  IM_ASSIGN_OR_RETURN(std::string history, StringField(body, "history_visibility", false));
  if (history == "joined")
    settings.history_visibility = HistoryVisibility::kJoined;
  else if (history == "full")
    settings.history_visibility = HistoryVisibility::kFull;
  else if (!history.empty())
    return Status::InvalidArgument("history_visibility must be \"joined\" or \"full\"");
  return Status::Ok();
}

json::object GroupJsonWithPolicy(const Group& g) {
  json::object o = GroupJson(g);
  o["join_policy"] = JoinPolicyName(g.join_policy);
  o["history_visibility"] = HistoryVisibilityName(g.history_visibility);
  return o;
}

json::object RelationJson(const GroupRelation& r) {
  return {{"group_id", std::to_string(r.group.value)},
          {"user_id", std::to_string(r.user.value)},
          {"by_id", std::to_string(r.actor.value)},
          {"created_at_ms", r.created_at_ms}};
}

RestResponse NoContent() { return RestResponse{204, ""}; }

// What a route handler gets: the request, the caller (routes with a token) and the path's
// parameters by name ({id}, {user_id}, {conversation}, {platform}, {token}).
struct RouteContext {
  Engine& engine;
  const RestRequest& r;
  AuthContext who;
  std::vector<std::pair<std::string_view, std::string_view>> params;

  std::string_view Param(std::string_view name) const {
    for (const auto& [k, v] : params) {
      if (k == name) return v;
    }
    return {};
  }
  Result<GroupId> GroupParam() const {
    auto id = ParseId(Param("id"));
    if (!id) return Status::InvalidArgument("malformed group id");
    return GroupId(*id);
  }
  Result<UserId> PathUser() const {
    auto id = ParseId(Param("user_id"));
    if (!id) return Status::InvalidArgument("malformed user id");
    return UserId(*id);
  }
  Result<ConversationId> Conversation() const {
    auto c = ConversationId::Parse(PercentDecode(Param("conversation")));  // "d%3A1%3A2" is "d:1:2"
    if (!c) return Status::InvalidArgument("malformed conversation id");
    return *c;
  }
  Result<uint32_t> Limit(uint64_t fallback) const {
    IM_ASSIGN_OR_RETURN(uint64_t limit, NumberParam(r.target, "limit", fallback));
    return static_cast<uint32_t>(std::min<uint64_t>(limit, 1000));
  }
};

using Handler = Result<RestResponse> (*)(RouteContext&);

struct RouteEntry {
  RestRoute route;
  Handler handle;
};

Result<RestResponse> ListRelations(RouteContext& c, GroupRelationKind kind, const char* key) {
  IM_ASSIGN_OR_RETURN(GroupId group, c.GroupParam());
  IM_ASSIGN_OR_RETURN(uint64_t after, NumberParam(c.r.target, "after", 0));
  IM_ASSIGN_OR_RETURN(uint32_t limit, c.Limit(100));
  IM_ASSIGN_OR_RETURN(auto rows,
                      c.engine.ListGroupRelations(c.who.user, group, kind, UserId(static_cast<int64_t>(after)), limit));
  json::array out;
  for (const auto& row : rows) out.push_back(RelationJson(row));
  return Json(200, json::object{{key, std::move(out)}});
}

Result<RestResponse> RemoveRelation(RouteContext& c, GroupRelationKind kind) {
  IM_ASSIGN_OR_RETURN(GroupId group, c.GroupParam());
  IM_ASSIGN_OR_RETURN(UserId user, c.PathUser());
  IM_RETURN_IF_ERROR(c.engine.RemoveGroupRelation(c.who.user, group, user, kind));
  return NoContent();
}

// Every route of the API, in one table: the router dispatches from it, docs/http-api.md lists
// it, and tests/beast/authz_matrix_test.cc fails for a route that has no row of its own.
const std::vector<RouteEntry>& RouteTable() {
  static const std::vector<RouteEntry> table{
      {{"GET", "/healthz", false},
       [](RouteContext&) -> Result<RestResponse> {
         return Json(200, json::object{{"status", "ok"}});
       }},
      {{"GET", "/metrics", false},
       [](RouteContext&) -> Result<RestResponse> {
         return RestResponse{200, metrics::Default().RenderPrometheus(), "text/plain; version=0.0.4"};
       }},
      {{"POST", "/api/v1/auth/register", false},
       [](RouteContext& c) -> Result<RestResponse> {
         IM_ASSIGN_OR_RETURN(json::object body, ParseBody(c.r.body));
         IM_ASSIGN_OR_RETURN(std::string username, StringField(body, "username", true));
         IM_ASSIGN_OR_RETURN(std::string password, StringField(body, "password", true));
         IM_ASSIGN_OR_RETURN(std::string display_name, StringField(body, "display_name", false));
         IM_ASSIGN_OR_RETURN(User user, c.engine.Register(username, password, display_name));
         return Json(201, UserJson(user));
       }},
      {{"POST", "/api/v1/auth/login", false},
       [](RouteContext& c) -> Result<RestResponse> {
         IM_ASSIGN_OR_RETURN(json::object body, ParseBody(c.r.body));
         IM_ASSIGN_OR_RETURN(std::string username, StringField(body, "username", true));
         IM_ASSIGN_OR_RETURN(std::string password, StringField(body, "password", true));
         IM_ASSIGN_OR_RETURN(std::string device, StringField(body, "device", true));
         IM_ASSIGN_OR_RETURN(AuthTokens tokens, c.engine.Login(username, password, device));
         return Json(200, TokensJson(tokens));
       }},
      {{"POST", "/api/v1/auth/refresh", false},
       [](RouteContext& c) -> Result<RestResponse> {
         IM_ASSIGN_OR_RETURN(json::object body, ParseBody(c.r.body));
         IM_ASSIGN_OR_RETURN(std::string token, StringField(body, "refresh_token", true));
         IM_ASSIGN_OR_RETURN(AuthTokens tokens, c.engine.Refresh(token));
         return Json(200, TokensJson(tokens));
       }},
      {{"POST", "/api/v1/auth/logout", false},
       [](RouteContext& c) -> Result<RestResponse> {
         IM_ASSIGN_OR_RETURN(json::object body, ParseBody(c.r.body));
         IM_ASSIGN_OR_RETURN(std::string token, StringField(body, "refresh_token", true));
         IM_RETURN_IF_ERROR(c.engine.Logout(token));
         return NoContent();
       }},
      {{"GET", "/api/v1/users/me", true},
       [](RouteContext& c) -> Result<RestResponse> {
         IM_ASSIGN_OR_RETURN(User user, c.engine.GetUser(c.who.user));
         return Json(200, UserJson(user));
       }},
      {{"GET", "/api/v1/users", true},
       [](RouteContext& c) -> Result<RestResponse> {
         if (std::string name = QueryParam(c.r.target, "username"); !name.empty()) {
           IM_ASSIGN_OR_RETURN(User user, c.engine.FindUser(PercentDecode(name)));
           return Json(200, json::object{{"users", json::array{UserJson(user)}}});
         }
         std::vector<UserId> ids;
         std::string list = QueryParam(c.r.target, "ids");
         for (size_t pos = 0; pos < list.size();) {
           size_t comma = list.find(',', pos);
           auto id = ParseId(
               std::string_view(list).substr(pos, comma == std::string::npos ? std::string::npos : comma - pos));
           if (!id) return Status::InvalidArgument("ids must be a comma-separated list of user ids");
           ids.emplace_back(*id);
           if (comma == std::string::npos) break;
           pos = comma + 1;
         }
         IM_ASSIGN_OR_RETURN(auto users, c.engine.GetUsers(ids));
         json::array out;
         for (const auto& u : users) out.push_back(UserJson(u));
         return Json(200, json::object{{"users", std::move(out)}});
       }},
      {{"GET", "/api/v1/conversations", true},
       [](RouteContext& c) -> Result<RestResponse> {
         IM_ASSIGN_OR_RETURN(uint32_t limit, c.Limit(50));
         IM_ASSIGN_OR_RETURN(uint64_t before, NumberParam(c.r.target, "cursor_activity_ms", 0));
         ConversationCursor cursor;
         // Clients that follow the URL rules send "d%3A1%3A4"; a cursor that does not parse is an
         // error, not the first page again (a client would page forever).
         if (std::string raw = QueryParam(c.r.target, "cursor_id"); !raw.empty()) {
           auto id = ConversationId::Parse(PercentDecode(raw));
           if (!id) return Status::InvalidArgument("malformed cursor_id");
           cursor = ConversationCursor{static_cast<TimestampMs>(before), *id};
         }
         IM_ASSIGN_OR_RETURN(auto list, c.engine.ListConversations(c.who.user, cursor, limit));
         json::array out;
         for (const auto& row : list) {
           json::object o{{"id", row.id.str()},
                          {"last_seq", std::to_string(row.last_seq)},
                          {"read_seq", std::to_string(row.read_seq)},
                          {"unread", row.unread},
                          {"last_activity_ms", row.last_activity_ms}};
           if (row.last_message) o["last_message"] = MessageJson(*row.last_message);
           out.push_back(std::move(o));
         }
         return Json(200, json::object{{"conversations", std::move(out)}});
       }},
      {{"GET", "/api/v1/conversations/{conversation}/messages", true},
       [](RouteContext& c) -> Result<RestResponse> {
         IM_ASSIGN_OR_RETURN(ConversationId conversation, c.Conversation());
         IM_ASSIGN_OR_RETURN(uint64_t before, NumberParam(c.r.target, "before_seq", 0));
         IM_ASSIGN_OR_RETURN(uint64_t after, NumberParam(c.r.target, "after_seq", 0));
         IM_ASSIGN_OR_RETURN(uint32_t limit, c.Limit(50));
         IM_ASSIGN_OR_RETURN(HistoryPage page,
                             c.engine.GetHistory(c.who.user, conversation, HistoryQuery{after, before, limit}));
         json::array out;
         for (const auto& m : page.messages) out.push_back(MessageJson(m));
         return Json(200, json::object{{"messages", std::move(out)}, {"has_more", page.has_more}});
       }},
      {{"POST", "/api/v1/conversations/{conversation}/read", true},
       [](RouteContext& c) -> Result<RestResponse> {
         IM_ASSIGN_OR_RETURN(ConversationId conversation, c.Conversation());
         IM_ASSIGN_OR_RETURN(json::object body, ParseBody(c.r.body));
         // 0 is "nothing read": it moves nothing and answers the current pointer, as on the WebSocket.
         IM_ASSIGN_OR_RETURN(Seq seq, SeqField(body, "seq"));
         IM_ASSIGN_OR_RETURN(Seq read, c.engine.MarkRead(c.who.user, c.who.device, conversation, seq));
         return Json(200, json::object{{"read_seq", std::to_string(read)}});
       }},
      {{"GET", "/api/v1/search", true},
       [](RouteContext& c) -> Result<RestResponse> {
         SearchRequest q;
         q.query = PercentDecode(QueryParam(c.r.target, "q"));
         if (std::string id = PercentDecode(QueryParam(c.r.target, "conversation_id")); !id.empty()) {
           auto conversation = ConversationId::Parse(id);
           if (!conversation) return Status::InvalidArgument("malformed conversation_id");
           q.conversation = *conversation;
         }
         IM_ASSIGN_OR_RETURN(q.limit, c.Limit(20));
         IM_ASSIGN_OR_RETURN(uint64_t before, NumberParam(c.r.target, "before", 0));
         q.before = MessageId(static_cast<int64_t>(before));
         IM_ASSIGN_OR_RETURN(SearchPage page, c.engine.Search(c.who.user, q));
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
       }},
      {{"GET", "/api/v1/push/devices", true},
       [](RouteContext& c) -> Result<RestResponse> {
         IM_ASSIGN_OR_RETURN(auto tokens, c.engine.ListDeviceTokens(c.who.user));
         json::array out;
         for (const DeviceToken& t : tokens) {
           out.push_back(json::object{{"platform", PlatformName(t.platform)},
                                      {"token", t.token},
                                      {"device_id", t.device},
                                      {"updated_at_ms", t.updated_at_ms}});
         }
         return Json(200, json::object{{"devices", std::move(out)}});
       }},
      {{"POST", "/api/v1/push/devices", true},
       [](RouteContext& c) -> Result<RestResponse> {
         IM_ASSIGN_OR_RETURN(json::object body, ParseBody(c.r.body));
         IM_ASSIGN_OR_RETURN(std::string platform, StringField(body, "platform", true));
         IM_ASSIGN_OR_RETURN(PushPlatform p, ParsePlatform(platform));
         IM_ASSIGN_OR_RETURN(std::string token, StringField(body, "token", true));
         IM_RETURN_IF_ERROR(c.engine.RegisterDeviceToken(c.who.user, DeviceToken{c.who.user, p, token, c.who.device}));
         return NoContent();
       }},
      // The token is the rest of the path, percent-encoded.
      {{"DELETE", "/api/v1/push/devices/{platform}/{token*}", true},
       [](RouteContext& c) -> Result<RestResponse> {
         IM_ASSIGN_OR_RETURN(PushPlatform p, ParsePlatform(c.Param("platform")));
         IM_RETURN_IF_ERROR(c.engine.UnregisterDeviceToken(c.who.user, p, PercentDecode(c.Param("token"))));
         return NoContent();
       }},
      {{"GET", "/api/v1/push/settings", true},
       [](RouteContext& c) -> Result<RestResponse> {
         IM_ASSIGN_OR_RETURN(PushSettings settings, c.engine.GetPushSettings(c.who.user));
         return Json(200, json::object{{"muted", settings.muted}, {"show_preview", settings.show_preview}});
       }},
      {{"PUT", "/api/v1/push/settings", true},
       [](RouteContext& c) -> Result<RestResponse> {
         IM_ASSIGN_OR_RETURN(PushSettings settings, c.engine.GetPushSettings(c.who.user));
         IM_ASSIGN_OR_RETURN(json::object body, ParseBody(c.r.body));
         IM_ASSIGN_OR_RETURN(settings.muted, BoolField(body, "muted", settings.muted));
         IM_ASSIGN_OR_RETURN(settings.show_preview, BoolField(body, "show_preview", settings.show_preview));
         IM_RETURN_IF_ERROR(c.engine.SetPushSettings(c.who.user, settings));
         return Json(200, json::object{{"muted", settings.muted}, {"show_preview", settings.show_preview}});
       }},
      {{"GET", "/api/v1/invitations", true},
       [](RouteContext& c) -> Result<RestResponse> {
         IM_ASSIGN_OR_RETURN(uint64_t after, NumberParam(c.r.target, "after", 0));
         IM_ASSIGN_OR_RETURN(uint32_t limit, c.Limit(100));
         IM_ASSIGN_OR_RETURN(auto rows,
                             c.engine.ListInvitations(c.who.user, GroupId(static_cast<int64_t>(after)), limit));
         json::array out;
         for (const auto& row : rows) {
           json::object o = RelationJson(row);
           // The invitee may see the group's profile; one dismissed since has none (null).
           auto g = c.engine.GetGroup(c.who.user, row.group);
           if (!g.ok() && g.status().code() != StatusCode::kNotFound) return g.status();
           o["group"] = g.ok() ? json::value(GroupJsonWithPolicy(*g)) : json::value(nullptr);
           out.push_back(std::move(o));
         }
         return Json(200, json::object{{"invitations", std::move(out)}});
       }},
      {{"POST", "/api/v1/groups", true},
       [](RouteContext& c) -> Result<RestResponse> {
         IM_ASSIGN_OR_RETURN(json::object body, ParseBody(c.r.body));
         IM_ASSIGN_OR_RETURN(std::string name, StringField(body, "name", true));
         GroupSettings settings;
         IM_RETURN_IF_ERROR(SettingsFields(body, settings));
         IM_ASSIGN_OR_RETURN(Group g, c.engine.CreateGroup(c.who.user, name, 0, settings));
         return Json(201, GroupJsonWithPolicy(g));
       }},
      {{"GET", "/api/v1/groups/{id}", true},
       [](RouteContext& c) -> Result<RestResponse> {
         IM_ASSIGN_OR_RETURN(GroupId group, c.GroupParam());
         IM_ASSIGN_OR_RETURN(Group g, c.engine.GetGroup(c.who.user, group));
         return Json(200, GroupJsonWithPolicy(g));
       }},
      {{"PATCH", "/api/v1/groups/{id}", true},
       [](RouteContext& c) -> Result<RestResponse> {
         IM_ASSIGN_OR_RETURN(GroupId group, c.GroupParam());
         IM_ASSIGN_OR_RETURN(json::object body, ParseBody(c.r.body));
         // Absent members keep their value: read the current ones first (members only).
         IM_ASSIGN_OR_RETURN(Group current, c.engine.GetGroup(c.who.user, group));
         GroupSettings settings{current.join_policy, current.history_visibility};
         IM_RETURN_IF_ERROR(SettingsFields(body, settings));
         IM_ASSIGN_OR_RETURN(Group g, c.engine.UpdateGroupSettings(c.who.user, group, settings));
         return Json(200, GroupJsonWithPolicy(g));
       }},
      {{"DELETE", "/api/v1/groups/{id}", true},
       [](RouteContext& c) -> Result<RestResponse> {
         IM_ASSIGN_OR_RETURN(GroupId group, c.GroupParam());
         IM_RETURN_IF_ERROR(c.engine.DismissGroup(c.who.user, group));
         return NoContent();
       }},
      {{"POST", "/api/v1/groups/{id}/join", true},
       [](RouteContext& c) -> Result<RestResponse> {
         IM_ASSIGN_OR_RETURN(GroupId group, c.GroupParam());
         IM_RETURN_IF_ERROR(c.engine.JoinGroup(c.who.user, group));
         return NoContent();
       }},
      {{"POST", "/api/v1/groups/{id}/leave", true},
       [](RouteContext& c) -> Result<RestResponse> {
         IM_ASSIGN_OR_RETURN(GroupId group, c.GroupParam());
         IM_RETURN_IF_ERROR(c.engine.LeaveGroup(c.who.user, group));
         return NoContent();
       }},
      {{"GET", "/api/v1/groups/{id}/members", true},
       [](RouteContext& c) -> Result<RestResponse> {
         IM_ASSIGN_OR_RETURN(GroupId group, c.GroupParam());
         IM_ASSIGN_OR_RETURN(uint64_t after, NumberParam(c.r.target, "after", 0));
         IM_ASSIGN_OR_RETURN(uint32_t limit, c.Limit(100));
         IM_ASSIGN_OR_RETURN(auto members,
                             c.engine.ListMembers(c.who.user, group, UserId(static_cast<int64_t>(after)), limit));
         json::array out;
         for (const auto& m : members) {
           out.push_back(json::object{{"user_id", std::to_string(m.user.value)},
                                      {"role", RoleName(m.role)},
                                      {"joined_at_ms", m.joined_at_ms}});
         }
         return Json(200, json::object{{"members", std::move(out)}});
       }},
      {{"POST", "/api/v1/groups/{id}/kick", true},
       [](RouteContext& c) -> Result<RestResponse> {
         IM_ASSIGN_OR_RETURN(GroupId group, c.GroupParam());
         IM_ASSIGN_OR_RETURN(json::object body, ParseBody(c.r.body));
         IM_ASSIGN_OR_RETURN(int64_t target, IdField(body, "user_id"));
         IM_ASSIGN_OR_RETURN(bool ban, BoolField(body, "ban", false));
         IM_RETURN_IF_ERROR(c.engine.KickMember(c.who.user, group, UserId(target), ban));
         return NoContent();
       }},
      {{"POST", "/api/v1/groups/{id}/role", true},
       [](RouteContext& c) -> Result<RestResponse> {
         IM_ASSIGN_OR_RETURN(GroupId group, c.GroupParam());
         IM_ASSIGN_OR_RETURN(json::object body, ParseBody(c.r.body));
         IM_ASSIGN_OR_RETURN(int64_t target, IdField(body, "user_id"));
         IM_ASSIGN_OR_RETURN(std::string role, StringField(body, "role", true));
         if (role != "admin" && role != "member")
           return Status::InvalidArgument("role must be \"admin\" or \"member\"");
         IM_RETURN_IF_ERROR(c.engine.SetMemberRole(c.who.user, group, UserId(target),
                                                   role == "admin" ? GroupRole::kAdmin : GroupRole::kMember));
         return NoContent();
       }},
      {{"POST", "/api/v1/groups/{id}/transfer", true},
       [](RouteContext& c) -> Result<RestResponse> {
         IM_ASSIGN_OR_RETURN(GroupId group, c.GroupParam());
         IM_ASSIGN_OR_RETURN(json::object body, ParseBody(c.r.body));
         IM_ASSIGN_OR_RETURN(int64_t target, IdField(body, "user_id"));
         IM_RETURN_IF_ERROR(c.engine.TransferOwnership(c.who.user, group, UserId(target)));
         return NoContent();
       }},
      {{"POST", "/api/v1/groups/{id}/invitations", true},
       [](RouteContext& c) -> Result<RestResponse> {
         IM_ASSIGN_OR_RETURN(GroupId group, c.GroupParam());
         IM_ASSIGN_OR_RETURN(json::object body, ParseBody(c.r.body));
         IM_ASSIGN_OR_RETURN(int64_t invitee, IdField(body, "user_id"));
         IM_RETURN_IF_ERROR(c.engine.InviteMember(c.who.user, group, UserId(invitee)));
         return NoContent();
       }},
      {{"GET", "/api/v1/groups/{id}/invitations", true},
       [](RouteContext& c) -> Result<RestResponse> {
         return ListRelations(c, GroupRelationKind::kInvitation, "invitations");
       }},
      {{"DELETE", "/api/v1/groups/{id}/invitations/{user_id}", true},
       [](RouteContext& c) -> Result<RestResponse> { return RemoveRelation(c, GroupRelationKind::kInvitation); }},
      {{"POST", "/api/v1/groups/{id}/requests", true},
       [](RouteContext& c) -> Result<RestResponse> {
         IM_ASSIGN_OR_RETURN(GroupId group, c.GroupParam());
         IM_RETURN_IF_ERROR(c.engine.RequestToJoin(c.who.user, group));
         return NoContent();
       }},
      {{"GET", "/api/v1/groups/{id}/requests", true},
       [](RouteContext& c) -> Result<RestResponse> {
         return ListRelations(c, GroupRelationKind::kJoinRequest, "requests");
       }},
      {{"POST", "/api/v1/groups/{id}/requests/{user_id}/approve", true},
       [](RouteContext& c) -> Result<RestResponse> {
         IM_ASSIGN_OR_RETURN(GroupId group, c.GroupParam());
         IM_ASSIGN_OR_RETURN(UserId user, c.PathUser());
         IM_RETURN_IF_ERROR(c.engine.ApproveJoinRequest(c.who.user, group, user));
         return NoContent();
       }},
      {{"DELETE", "/api/v1/groups/{id}/requests/{user_id}", true},
       [](RouteContext& c) -> Result<RestResponse> { return RemoveRelation(c, GroupRelationKind::kJoinRequest); }},
      {{"GET", "/api/v1/groups/{id}/bans", true},
       [](RouteContext& c) -> Result<RestResponse> { return ListRelations(c, GroupRelationKind::kBan, "bans"); }},
      {{"DELETE", "/api/v1/groups/{id}/bans/{user_id}", true},
       [](RouteContext& c) -> Result<RestResponse> { return RemoveRelation(c, GroupRelationKind::kBan); }},
  };
  return table;
}

// True when `path` fits `pattern`; fills `params`. "{name}" takes one non-empty segment,
// "{name*}" (last) the rest of the path.
bool MatchPattern(std::string_view pattern, std::string_view path,
                  std::vector<std::pair<std::string_view, std::string_view>>& params) {
  params.clear();
  while (!pattern.empty()) {
    if (pattern.front() == '{') {
      size_t close = pattern.find('}');
      std::string_view name = pattern.substr(1, close - 1);
      pattern.remove_prefix(close + 1);
      if (!name.empty() && name.back() == '*') {
        if (path.empty()) return false;
        params.emplace_back(name.substr(0, name.size() - 1), path);
        return pattern.empty();
      }
      size_t end = path.find('/');
      std::string_view segment = path.substr(0, end);
      if (segment.empty()) return false;
      params.emplace_back(name, segment);
      path.remove_prefix(segment.size());
      continue;
    }
    if (path.empty() || path.front() != pattern.front()) return false;
    pattern.remove_prefix(1);
    path.remove_prefix(1);
  }
  return path.empty();
}

Result<RestResponse> Route(Engine& engine, const RestRequest& r) {
  std::string_view path = r.target.substr(0, r.target.find('?'));
  metrics::Default().http_requests.Add();
  RouteContext c{engine, r, {}, {}};
  // Routes without a token first; everything else acts as the bearer of the access token, and a
  // path that matches nothing is 404 only after the token was checked.
  for (const RouteEntry& e : RouteTable()) {
    if (!e.route.needs_token && e.route.method == r.method && MatchPattern(e.route.pattern, path, c.params)) {
      return e.handle(c);
    }
  }
  IM_ASSIGN_OR_RETURN(c.who, Bearer(engine, r.authorization));
  for (const RouteEntry& e : RouteTable()) {
    if (e.route.needs_token && e.route.method == r.method && MatchPattern(e.route.pattern, path, c.params)) {
      return e.handle(c);
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

std::vector<RestRoute> RestRoutes() {
  std::vector<RestRoute> out;
  for (const RouteEntry& e : RouteTable()) out.push_back(e.route);
  return out;
}

RestResponse HandleRest(Engine& engine, const RestRequest& request, std::string_view admin_token) {
  if (auto admin = HandleDeadLetterAdmin(engine, request, admin_token)) return std::move(*admin);
  auto r = Route(engine, request);
  return r.ok() ? std::move(r).value() : ErrorResponse(r.status());
}

}  // namespace im::gateway

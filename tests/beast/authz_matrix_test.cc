// The authorization matrix (issue #12): every REST route and every client frame type, for every
// role a user can have towards a group, with the answer docs/security.md ("Authorization") and
// docs/http-api.md document. One table each; the test fails when the router serves a route, or
// frames.proto has a frame type, that the table has no row for, so a new route cannot be added
// without deciding who may call it.
//
// The group is invite-only (the default) with history from the join, has an admin, a plain
// member, a former member (left), a banned user (kicked with ban) and an outsider; a pending
// invitation and join request; and one message. Every cell runs on a world of its own, so a
// call that changes the group (dismiss, kick, transfer) cannot change another cell's answer.
#include <doctest/doctest.h>

#include <array>
#include <future>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "beast/rest_api.h"
#include "gateway/session_protocol.h"
#include "im/engine.h"
#include "support/engine_fixture.h"
#include "wire/frame_codec.h"

namespace im::test {
namespace {

enum Role { kOwner, kAdmin, kMember, kFormer, kBanned, kOutsider, kAnonymous, kRoleCount };
constexpr std::array<const char*, kRoleCount> kRoleNames{"owner",  "admin",    "member",         "former member",
                                                         "banned", "outsider", "unauthenticated"};

// A search backend that finds the word in every conversation it is asked about, so that the
// answer depends on the engine's access checks alone.
class EverywhereIndex : public SearchIndex {
 public:
  Status Index(std::span<const SearchDocument>) override { return Status::Ok(); }
  Status Remove(std::span<const MessageId>) override { return Status::Ok(); }
  Result<SearchPage> Search(const SearchQuery& q) override {
    SearchPage page;
    for (const auto& c : q.conversations) page.hits.push_back(SearchHit{MessageId(1), c, 1, UserId(1), 0, "hello"});
    return page;
  }
};

struct MatrixWorld {
  std::unique_ptr<Engine> engine;
  std::array<UserId, kRoleCount> users{};
  std::array<std::string, kRoleCount> tokens{};  // "" for the unauthenticated
  UserId target, invitee, requester, candidate;
  GroupId group;

  MatrixWorld() {
    Options o = FastOptions();
    o.search = std::make_shared<EverywhereIndex>();
    engine = Engine::Open(std::move(o)).value();
    for (int r = 0; r < kAnonymous; ++r) {
      std::string name = r == kFormer ? "former" : kRoleNames[r];
      users[r] = MustRegister(*engine, name);
      auto login = engine->Login(name, "password-" + name, "matrix");
      REQUIRE(login.ok());
      tokens[r] = login->access_token;
    }
    target = MustRegister(*engine, "target");
    invitee = MustRegister(*engine, "invitee");
    requester = MustRegister(*engine, "requester");
    candidate = MustRegister(*engine, "candidate");
    Engine& e = *engine;
    UserId owner = users[kOwner];
    group = e.CreateGroup(owner, "matrix", 0, {JoinPolicy::kApproval, HistoryVisibility::kJoined}).value().id;
    for (UserId u : {users[kAdmin], users[kMember], users[kFormer], users[kBanned], target}) {
      REQUIRE(e.InviteMember(owner, group, u).ok());
      REQUIRE(e.JoinGroup(u, group).ok());
    }
    REQUIRE(e.SetMemberRole(owner, group, users[kAdmin], GroupRole::kAdmin).ok());
    REQUIRE(e.Send(owner, "matrix", SendRequest{Conversation(), "hello-1", ContentType::kText, "hello"}).ok());
    REQUIRE(e.RequestToJoin(requester, group).ok());
    REQUIRE(e.InviteMember(owner, group, invitee).ok());
    REQUIRE(e.LeaveGroup(users[kFormer], group).ok());
    REQUIRE(e.KickMember(owner, group, users[kBanned], /*ban=*/true).ok());
    REQUIRE(e.UpdateGroupSettings(owner, group, {JoinPolicy::kInvite, HistoryVisibility::kJoined}).ok());
    REQUIRE(e.RegisterDeviceToken(owner, DeviceToken{owner, PushPlatform::kApns, "owner-token", "matrix", 0}).ok());
    REQUIRE(e.Drain().ok());
  }

  ConversationId Conversation() const { return ConversationId::Group(group); }

  // Fills the @-markers of a row's path or body (longer markers first: @C is a prefix of @CANDIDATE).
  std::string Fill(std::string text) const {
    const std::pair<std::string_view, std::string> marks[] = {
        {"@REQUESTER", std::to_string(requester.value)},
        {"@CANDIDATE", std::to_string(candidate.value)},
        {"@INVITEE", std::to_string(invitee.value)},
        {"@BANNED", std::to_string(users[kBanned].value)},
        {"@TARGET", std::to_string(target.value)},
        {"@OWNER", std::to_string(users[kOwner].value)},
        {"@C", Conversation().str()},
        {"@G", std::to_string(group.value)},
    };
    for (const auto& [mark, value] : marks) {
      for (size_t at = text.find(mark); at != std::string::npos; at = text.find(mark, at + value.size())) {
        text.replace(at, mark.size(), value);
      }
    }
    return text;
  }
};

using Statuses = std::array<int, kRoleCount>;  // owner, admin, member, former, banned, outsider, anon

struct RestRow {
  std::string_view method;
  std::string_view pattern;  // exactly as the router's table (RestRoutes) spells it
  std::string path;          // with @-markers
  std::string body;
  Statuses expect;
};

// clang-format off
const std::vector<RestRow>& RestMatrix() {
  static const std::vector<RestRow> rows{
    {"GET", "/healthz", "/healthz", "",                                            {200, 200, 200, 200, 200, 200, 200}},
    {"GET", "/metrics", "/metrics", "",                                            {200, 200, 200, 200, 200, 200, 200}},
    {"POST", "/api/v1/auth/register", "/api/v1/auth/register",
     R"({"username":"newcomer","password":"password-newcomer"})",                  {201, 201, 201, 201, 201, 201, 201}},
    {"POST", "/api/v1/auth/login", "/api/v1/auth/login",
     R"({"username":"outsider","password":"password-outsider","device":"cli"})",   {200, 200, 200, 200, 200, 200, 200}},
    {"POST", "/api/v1/auth/refresh", "/api/v1/auth/refresh", R"({"refresh_token":"nope"})",
                                                                                   {401, 401, 401, 401, 401, 401, 401}},
    {"POST", "/api/v1/auth/logout", "/api/v1/auth/logout", R"({"refresh_token":"nope"})",
                                                                                   {401, 401, 401, 401, 401, 401, 401}},
    {"GET", "/api/v1/users/me", "/api/v1/users/me", "",                            {200, 200, 200, 200, 200, 200, 401}},
    {"GET", "/api/v1/users", "/api/v1/users?ids=@OWNER", "",                       {200, 200, 200, 200, 200, 200, 401}},
    {"GET", "/api/v1/conversations", "/api/v1/conversations", "",                  {200, 200, 200, 200, 200, 200, 401}},
    {"GET", "/api/v1/conversations/{conversation}/messages", "/api/v1/conversations/@C/messages", "",
                                                                                   {200, 200, 200, 403, 403, 403, 401}},
    {"POST", "/api/v1/conversations/{conversation}/read", "/api/v1/conversations/@C/read", R"({"seq":1})",
                                                                                   {200, 200, 200, 403, 403, 403, 401}},
    {"GET", "/api/v1/search", "/api/v1/search?q=hello&conversation_id=@C", "",     {200, 200, 200, 403, 403, 403, 401}},
    {"GET", "/api/v1/push/devices", "/api/v1/push/devices", "",                    {200, 200, 200, 200, 200, 200, 401}},
    {"POST", "/api/v1/push/devices", "/api/v1/push/devices", R"({"platform":"fcm","token":"matrix-token"})",
                                                                                   {204, 204, 204, 204, 204, 204, 401}},
    {"DELETE", "/api/v1/push/devices/{platform}/{token*}", "/api/v1/push/devices/apns/owner-token", "",
                                                                                   {204, 404, 404, 404, 404, 404, 401}},
    {"GET", "/api/v1/push/settings", "/api/v1/push/settings", "",                  {200, 200, 200, 200, 200, 200, 401}},
    {"PUT", "/api/v1/push/settings", "/api/v1/push/settings", R"({"muted":true})", {200, 200, 200, 200, 200, 200, 401}},
    {"GET", "/api/v1/invitations", "/api/v1/invitations", "",                      {200, 200, 200, 200, 200, 200, 401}},
    {"POST", "/api/v1/groups", "/api/v1/groups", R"({"name":"another"})",          {201, 201, 201, 201, 201, 201, 401}},
    // Groups: an invite-only group is not_found to everyone outside it, as if it did not exist.
    {"GET", "/api/v1/groups/{id}", "/api/v1/groups/@G", "",                        {200, 200, 200, 404, 404, 404, 401}},
    {"PATCH", "/api/v1/groups/{id}", "/api/v1/groups/@G", R"({"join_policy":"open"})",
                                                                                   {200, 403, 403, 404, 404, 404, 401}},
    {"DELETE", "/api/v1/groups/{id}", "/api/v1/groups/@G", "",                     {204, 403, 403, 403, 403, 403, 401}},
    {"POST", "/api/v1/groups/{id}/join", "/api/v1/groups/@G/join", "",             {409, 409, 409, 404, 404, 404, 401}},
    {"POST", "/api/v1/groups/{id}/leave", "/api/v1/groups/@G/leave", "",           {409, 204, 204, 403, 403, 403, 401}},
    {"GET", "/api/v1/groups/{id}/members", "/api/v1/groups/@G/members", "",        {200, 200, 200, 403, 403, 403, 401}},
    {"POST", "/api/v1/groups/{id}/kick", "/api/v1/groups/@G/kick", R"({"user_id":"@TARGET"})",
                                                                                   {204, 204, 403, 403, 403, 403, 401}},
    {"POST", "/api/v1/groups/{id}/role", "/api/v1/groups/@G/role", R"({"user_id":"@TARGET","role":"admin"})",
                                                                                   {204, 403, 403, 403, 403, 403, 401}},
    {"POST", "/api/v1/groups/{id}/transfer", "/api/v1/groups/@G/transfer", R"({"user_id":"@TARGET"})",
                                                                                   {204, 403, 403, 403, 403, 403, 401}},
    {"POST", "/api/v1/groups/{id}/invitations", "/api/v1/groups/@G/invitations", R"({"user_id":"@CANDIDATE"})",
                                                                                   {204, 204, 403, 403, 403, 403, 401}},
    {"GET", "/api/v1/groups/{id}/invitations", "/api/v1/groups/@G/invitations", "",
                                                                                   {200, 200, 403, 403, 403, 403, 401}},
    {"DELETE", "/api/v1/groups/{id}/invitations/{user_id}", "/api/v1/groups/@G/invitations/@INVITEE", "",
                                                                                   {204, 204, 403, 403, 403, 403, 401}},
    {"POST", "/api/v1/groups/{id}/requests", "/api/v1/groups/@G/requests", "",     {409, 409, 409, 404, 404, 404, 401}},
    {"GET", "/api/v1/groups/{id}/requests", "/api/v1/groups/@G/requests", "",      {200, 200, 403, 403, 403, 403, 401}},
    {"POST", "/api/v1/groups/{id}/requests/{user_id}/approve", "/api/v1/groups/@G/requests/@REQUESTER/approve", "",
                                                                                   {204, 204, 403, 403, 403, 403, 401}},
    {"DELETE", "/api/v1/groups/{id}/requests/{user_id}", "/api/v1/groups/@G/requests/@REQUESTER", "",
                                                                                   {204, 204, 403, 403, 403, 403, 401}},
    {"GET", "/api/v1/groups/{id}/bans", "/api/v1/groups/@G/bans", "",              {200, 200, 403, 403, 403, 403, 401}},
    {"DELETE", "/api/v1/groups/{id}/bans/{user_id}", "/api/v1/groups/@G/bans/@BANNED", "",
                                                                                   {204, 204, 403, 403, 403, 403, 401}},
  };
  return rows;
}
// clang-format on

// A frame's answer: the reply frame's type ("send-ack", "pong", …), "error:<code>",
// "sync-result:<the group entry's error_code or ok>", "none" (no reply), or "401" (no session:
// the WebSocket upgrade is refused without a valid token).
using Answers = std::array<std::string_view, kRoleCount>;

struct FrameRow {
  std::string_view type;  // the ClientFrame body field (frames.proto)
  std::string json;       // with @-markers
  Answers expect;
};

constexpr std::string_view kDenied = "error:permission_denied";

const std::vector<FrameRow>& FrameMatrix() {
  static const std::vector<FrameRow> rows{
      {"send_message",
       R"({"type":"send-message","id":"f","conversation_id":"@C","client_msg_id":"k","content":"hi"})",
       {"send-ack", "send-ack", "send-ack", kDenied, kDenied, kDenied, "401"}},
      {"sync",
       R"({"type":"sync","id":"f","positions":[{"conversation_id":"@C","last_seq":"0"}]})",
       {"sync-result:ok", "sync-result:ok", "sync-result:ok", "sync-result:permission_denied",
        "sync-result:permission_denied", "sync-result:permission_denied", "401"}},
      {"read",
       R"({"type":"read","id":"f","conversation_id":"@C","seq":"1"})",
       {"read-receipt", "read-receipt", "read-receipt", kDenied, kDenied, kDenied, "401"}},
      {"typing",
       R"({"type":"typing","id":"f","conversation_id":"@C"})",
       {"none", "none", "none", kDenied, kDenied, kDenied, "401"}},
      {"ack",
       R"({"type":"ack","id":"f","message_ids":["1"]})",
       {"none", "none", "none", "none", "none", "none", "401"}},
      {"ping",
       R"({"type":"ping","id":"f","client_time_ms":"1"})",
       {"pong", "pong", "pong", "pong", "pong", "pong", "401"}},
  };
  return rows;
}

std::string FrameAnswer(MatrixWorld& w, Role role, const std::string& json) {
  // What the gateway does before any frame: authenticate the upgrade's token.
  auto who = w.engine->Authenticate(w.tokens[role]);
  if (!who.ok()) return who.status().code() == StatusCode::kUnauthenticated ? "401" : who.status().ToString();
  auto frame = wire::ParseClientJson(w.Fill(json));
  REQUIRE_MESSAGE(frame.ok(), frame.status().ToString());
  std::promise<std::optional<v1::ServerFrame>> reply;
  gateway::SessionProtocol(*w.engine, who->user, who->device).Handle(*frame, [&](auto r) {
    reply.set_value(std::move(r));
  });
  auto answer = reply.get_future().get();
  if (!answer) return "none";
  if (answer->has_error()) return "error:" + answer->error().code();
  if (answer->has_sync_result()) {
    for (const auto& c : answer->sync_result().conversations()) {
      if (c.conversation_id() == w.Conversation().str()) {
        return "sync-result:" + (c.error_code().empty() ? std::string("ok") : c.error_code());
      }
    }
    return "sync-result:missing";
  }
  // The JSON type name of the body: "send-ack", "pong", …
  auto text = wire::ToJson(*answer);
  auto at = text.find("\"type\":\"");
  REQUIRE(at != std::string::npos);
  return text.substr(at + 8, text.find('"', at + 8) - at - 8);
}

}  // namespace

TEST_CASE("every REST route the router serves has exactly one row in the authorization matrix") {
  std::set<std::pair<std::string_view, std::string_view>> rows;
  for (const auto& row : RestMatrix()) {
    CHECK_MESSAGE(rows.emplace(row.method, row.pattern).second, "two rows for ", row.method, " ", row.pattern);
  }
  std::set<std::pair<std::string_view, std::string_view>> routes;
  for (const auto& route : gateway::RestRoutes()) {
    routes.emplace(route.method, route.pattern);
    CHECK_MESSAGE(rows.contains({route.method, route.pattern}), "no authorization matrix row for ", route.method, " ",
                  route.pattern);
  }
  for (const auto& [method, pattern] : rows) {
    CHECK_MESSAGE(routes.contains({method, pattern}), "a matrix row for a route that does not exist: ", method, " ",
                  pattern);
  }
}

TEST_CASE("every client frame type has exactly one row in the authorization matrix") {
  const auto* body = v1::ClientFrame::descriptor()->FindOneofByName("body");
  REQUIRE(body != nullptr);
  std::set<std::string_view> rows;
  for (const auto& row : FrameMatrix()) CHECK(rows.insert(row.type).second);
  for (int i = 0; i < body->field_count(); ++i) {
    const std::string& type = body->field(i)->name();
    CHECK_MESSAGE(rows.contains(type), "no authorization matrix row for frame type ", type);
  }
  CHECK(rows.size() == static_cast<size_t>(body->field_count()));
}

TEST_CASE("every REST route answers each role as documented") {
  for (const auto& row : RestMatrix()) {
    for (int role = 0; role < kRoleCount; ++role) {
      MatrixWorld w;
      const std::string path = w.Fill(row.path), body = w.Fill(row.body);
      const std::string authorization = w.tokens[role].empty() ? "" : "Bearer " + w.tokens[role];
      gateway::RestResponse r = gateway::HandleRest(*w.engine, {row.method, path, authorization, body});
      CHECK_MESSAGE(r.status == row.expect[role], row.method, " ", row.pattern, " as ", kRoleNames[role], ": expected ",
                    row.expect[role], ", got ", r.status, " ", r.body);
    }
  }
}

TEST_CASE("every client frame type answers each role as documented") {
  for (const auto& row : FrameMatrix()) {
    for (int role = 0; role < kRoleCount; ++role) {
      MatrixWorld w;
      std::string got = FrameAnswer(w, static_cast<Role>(role), row.json);
      CHECK_MESSAGE(got == row.expect[role], row.type, " as ", kRoleNames[role], ": expected ", row.expect[role],
                    ", got ", got);
    }
  }
}

}  // namespace im::test

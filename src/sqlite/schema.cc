#include "sqlite/schema.h"

#include <SQLiteCpp/Statement.h>
#include <SQLiteCpp/Transaction.h>
#include <string>

#include "sqlite/error.h"

namespace im::sqlite {
namespace {

// kMigrations[i] takes the database from version i to i + 1. Append only.
//
// Layout notes (why, not what):
//  - messages is a rowid table appended at its right edge, with UNIQUE(conversation_id, seq) as
//    the history index and the gapless-seq guard. Every commit writes whole pages to the WAL, and
//    a batch of sends into N conversations dirties one leaf per conversation in whatever B-tree is
//    keyed by conversation: keeping the ~200-byte rows out of that B-tree (a WITHOUT ROWID table
//    clustered on (conversation_id, seq) splits its leaves far more often) cut the WAL written
//    per message by ~20% in the append benchmark.
//  - client_msg_id is NULL when the sender gave none: NULLs never collide in the UNIQUE
//    idempotency index, so "" disables idempotency without a partial index.
//  - conversations.last_seq is also the pointer to the last message.
//  - A user_conversations row is both the list entry and the read pointer: a conversation is on a
//    user's list exactly when the row exists (a direct one from its first message, a group one
//    from creation or join until leave/dismiss).
//  - refresh_families makes revocation one row per login family (O(1) to check), and remembers
//    a revoked family even when none of its tokens is stored.
//  - No foreign keys: messages outlive their sender (DeleteUser keeps history).
//  - device_tokens is keyed by (platform, token), so re-registering a token moves it to its new
//    user in one upsert; the by-user index serves ListDeviceTokens in its order.
//  - dead_letters.id is AUTOINCREMENT: ids are never reused, not even the highest after its
//    deletion. Every dead-letter field is a BLOB, kept byte for byte.
//  - Version 3's column defaults are what older rows mean: groups were open with their whole
//    history visible (join_policy 0, history_visibility 0), and members saw everything
//    (joined_seq 0). group_relations holds invitations, join requests and bans (kind 1, 2, 3),
//    keyed for a group's list by kind; the by-user index serves a user's invitations.
constexpr const char* kMigrations[] = {
    // 0 -> 1: initial schema.
    R"sql(
CREATE TABLE users(
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  username TEXT NOT NULL UNIQUE,
  display_name TEXT NOT NULL,
  password_hash TEXT NOT NULL,
  created_at_ms INTEGER NOT NULL);

CREATE TABLE refresh_tokens(
  token_hash TEXT PRIMARY KEY,
  user_id INTEGER NOT NULL,
  family_id TEXT NOT NULL,
  device TEXT NOT NULL,
  expires_at_ms INTEGER NOT NULL,
  used INTEGER NOT NULL DEFAULT 0,
  revoked INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;
CREATE INDEX refresh_tokens_by_family ON refresh_tokens(family_id);
CREATE INDEX refresh_tokens_by_user ON refresh_tokens(user_id);

CREATE TABLE refresh_families(
  family_id TEXT PRIMARY KEY,
  revoked INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;

CREATE TABLE groups(
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL,
  owner_id INTEGER NOT NULL,
  member_count INTEGER NOT NULL,
  max_members INTEGER NOT NULL,
  dismissed INTEGER NOT NULL DEFAULT 0,
  created_at_ms INTEGER NOT NULL);

CREATE TABLE group_members(
  group_id INTEGER NOT NULL,
  user_id INTEGER NOT NULL,
  role INTEGER NOT NULL,
  joined_at_ms INTEGER NOT NULL,
  PRIMARY KEY(group_id, user_id)) WITHOUT ROWID;
CREATE INDEX group_members_by_user ON group_members(user_id);

CREATE TABLE conversations(
  id TEXT PRIMARY KEY,
  first_seq INTEGER NOT NULL DEFAULT 1,
  last_seq INTEGER NOT NULL DEFAULT 0,
  last_activity_ms INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;

CREATE TABLE messages(
  rowid INTEGER PRIMARY KEY,
  conversation_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  id INTEGER NOT NULL,
  sender_id INTEGER NOT NULL,
  client_msg_id TEXT,
  type INTEGER NOT NULL,
  content BLOB NOT NULL,
  sent_at_ms INTEGER NOT NULL,
  UNIQUE(conversation_id, seq));
CREATE UNIQUE INDEX messages_by_client_msg_id ON messages(sender_id, client_msg_id);

CREATE TABLE user_conversations(
  user_id INTEGER NOT NULL,
  conversation_id TEXT NOT NULL,
  read_seq INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY(user_id, conversation_id)) WITHOUT ROWID;
)sql",
    // 1 -> 2: offline push (device tokens, push settings) and dead letters.
    R"sql(
CREATE TABLE device_tokens(
  platform INTEGER NOT NULL,
  token TEXT NOT NULL,
  user_id INTEGER NOT NULL,
  device TEXT NOT NULL,
  updated_at_ms INTEGER NOT NULL,
  PRIMARY KEY(platform, token)) WITHOUT ROWID;
CREATE INDEX device_tokens_by_user ON device_tokens(user_id, updated_at_ms);

CREATE TABLE push_settings(
  user_id INTEGER PRIMARY KEY,
  muted INTEGER NOT NULL,
  show_preview INTEGER NOT NULL);

CREATE TABLE dead_letters(
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  topic BLOB NOT NULL,
  key BLOB NOT NULL,
  payload BLOB NOT NULL,
  error BLOB NOT NULL,
  attempts INTEGER NOT NULL,
  created_at_ms INTEGER NOT NULL);
)sql",
    // 2 -> 3: group join policies, history visibility, invitations, join requests and bans.
    R"sql(
ALTER TABLE groups ADD COLUMN join_policy INTEGER NOT NULL DEFAULT 0;
ALTER TABLE groups ADD COLUMN history_visibility INTEGER NOT NULL DEFAULT 0;
ALTER TABLE group_members ADD COLUMN joined_seq INTEGER NOT NULL DEFAULT 0;

CREATE TABLE group_relations(
  group_id INTEGER NOT NULL,
  kind INTEGER NOT NULL,
  user_id INTEGER NOT NULL,
  actor_id INTEGER NOT NULL,
  created_at_ms INTEGER NOT NULL,
  PRIMARY KEY(group_id, kind, user_id)) WITHOUT ROWID;
CREATE INDEX group_relations_by_user ON group_relations(user_id, kind, group_id);
)sql",
};

constexpr int kLatest = static_cast<int>(sizeof(kMigrations) / sizeof(kMigrations[0]));

int UserVersion(SQLite::Database& db) { return db.execAndGet("PRAGMA user_version").getInt(); }

}  // namespace

int LatestSchemaVersion() { return kLatest; }

Status MigrateSchema(SQLite::Database& db) {
  try {
    for (;;) {
      // Re-read inside the transaction: another process may have migrated meanwhile.
      SQLite::Transaction txn(db, SQLite::TransactionBehavior::IMMEDIATE);
      int version = UserVersion(db);
      if (version > kLatest) {
        return Status::FailedPrecondition("sqlite store: database schema version " + std::to_string(version) +
                                          " is newer than this libim (" + std::to_string(kLatest) + ")");
      }
      if (version == kLatest) return Status::Ok();  // txn rolls back: nothing was written
      db.exec(kMigrations[version]);
      db.exec("PRAGMA user_version = " + std::to_string(version + 1));
      txn.commit();
    }
  } catch (...) {
    return FromCurrentException("sqlite store: schema migration");
  }
}

}  // namespace im::sqlite

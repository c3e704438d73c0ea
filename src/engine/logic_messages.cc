// Conversation operations of LogicCore: the persist step of a send (then ack, then fanout), history,
// sync, read state and typing.
#include <algorithm>
#include <map>

#include "common/log.h"
#include "engine/logic_core.h"
#include "engine/records.h"
#include "engine/search_indexer.h"
#include "engine/task_dispatcher.h"
#include "engine/validation.h"

namespace im {

Result<std::vector<ConversationSummary>> LogicCore::ListConversations(UserId actor, const ConversationCursor& after,
                                                                      uint32_t limit) {
  IM_ASSIGN_OR_RETURN(auto list, store_->ListConversations(actor, after, ClampPage(limit)));
  // A member who may read only what came after their join must not see the message before it as
  // the row's last message. That can only be a row with nothing unread (the read pointer starts
  // at the joined seq and never goes below it), so only those rows cost a membership lookup.
  for (ConversationSummary& row : list) {
    if (!row.id.is_group() || !row.last_message || row.read_seq < row.last_seq) continue;
    auto hidden = HiddenThrough(actor, row.id);
    if (!hidden.ok()) {
      const StatusCode code = hidden.status().code();
      if (code != StatusCode::kPermissionDenied && code != StatusCode::kNotFound) return hidden.status();
      row.last_message.reset();  // removed since the list was read: show nothing of it
      continue;
    }
    if (row.last_message->seq <= *hidden) row.last_message.reset();
  }
  return list;
}

namespace {

// What a message is counted as against Options::max_reply_bytes: its content and idempotency key
// plus the ids, seq, times and field names around them in a frame.
constexpr size_t kMessageReplyOverhead = 160;

// Keeps the leading messages of `messages` (in paging order) that fit in `budget`, at least one
// when `must_progress`, and takes their size from the budget. True when some were dropped.
bool TrimToBudget(std::vector<Message>& messages, size_t& budget, bool must_progress) {
  size_t kept = 0;
  for (const auto& m : messages) {
    size_t size = m.content.size() + m.client_msg_id.size() + kMessageReplyOverhead;
    if (size > budget && !(must_progress && kept == 0)) break;
    budget -= std::min(size, budget);
    ++kept;
  }
  bool dropped = kept < messages.size();
  messages.resize(kept);
  return dropped;
}

}  // namespace

Result<HistoryPage> LogicCore::GetHistory(UserId actor, const ConversationId& conversation, const HistoryQuery& query) {
  IM_ASSIGN_OR_RETURN(ConversationAccess access,
                      CheckConversationAccess(*store_, actor, conversation, AccessMode::kRead));
  // Messages from before the member joined are not theirs to read unless the group says so.
  const Seq hidden = HiddenSeqs(access);
  uint32_t limit = ClampPage(query.limit);
  HistoryPage page;
  // Either way the store returns the page in paging order (away from the anchor), so the byte
  // cap drops the messages farthest from it and the next page starts where this one ended.
  const bool newer = query.after_seq > 0;
  MessageRange range = newer ? MessageRange{std::max(query.after_seq, hidden), 0, limit + 1, false}
                             : MessageRange{hidden, query.before_seq, limit + 1, true};
  if (!newer && query.before_seq != 0 && query.before_seq <= hidden + 1) return page;  // nothing visible before it
  IM_ASSIGN_OR_RETURN(page.messages, store_->ListMessages(conversation, range));
  page.has_more = page.messages.size() > limit;
  if (page.has_more) page.messages.pop_back();
  size_t budget = options_.max_reply_bytes;
  if (TrimToBudget(page.messages, budget, true)) page.has_more = true;
  if (!newer) std::reverse(page.messages.begin(), page.messages.end());
  return page;
}

Status LogicCore::CheckSend(PendingSend& send) {
  const v1::UpstreamSend& in = send.up->send();
  auto conversation = ConversationId::Parse(in.conversation_id());
  if (!conversation) return Status::InvalidArgument("malformed conversation_id");
  send.request =
      SendRequest{*conversation, in.client_msg_id(),
                  in.type() == v1::CONTENT_TYPE_CUSTOM ? ContentType::kCustom : ContentType::kText, in.content()};
  IM_RETURN_IF_ERROR(ValidateDevice(send.up->device_id()));
  IM_RETURN_IF_ERROR(ValidateSendRequest(send.request, options_.max_message_bytes));
  IM_ASSIGN_OR_RETURN(send.access, CheckConversationAccess(*store_, UserId(send.up->user_id()), *conversation,
                                                           AccessMode::kWrite, &known_users_));
  return Status::Ok();
}

void LogicCore::CompleteSend(PendingSend& send, FanoutBatch& out, v1::SearchTask& search) {
  const v1::UpstreamMessage& up = *send.up;
  const AppendResult& stored = send.stored;
  if (send.status.ok() && stored.duplicate && stored.conversation != send.request.conversation) {
    send.status = Status::AlreadyExists("client_msg_id " + send.request.client_msg_id +
                                        " was already used in another conversation");
  }
  // Every outcome is an answer, failures included: a store that is down surfaces to the client
  // as unavailable (it retries with the same client_msg_id) instead of stalling this
  // conversation's stream behind retries.
  v1::SendResult result;
  result.set_request_id(up.request_id());
  if (!send.status.ok()) {
    result.set_code(static_cast<int32_t>(send.status.code()));
    result.set_error_message(send.status.message());
    out.AddResult(up.gateway_id(), std::move(result), up.trace_id());
    return;
  }
  result.set_message_id(stored.id.value);
  result.set_seq(stored.seq);
  result.set_sent_at_ms(stored.sent_at_ms);
  result.set_duplicate(stored.duplicate);
  // The message is durable: from here on a failure must not turn into an error for the sender
  // (members that miss the event recover it with sync). The answer follows the events, as it
  // did when each went in a record of its own.
  AddMessageEvents(send, out, search);
  out.AddResult(up.gateway_id(), std::move(result), up.trace_id());
}

void LogicCore::AddMessageEvents(const PendingSend& send, FanoutBatch& out, v1::SearchTask& search) {
  const v1::UpstreamMessage& up = *send.up;
  const UserId actor(up.user_id());
  const AppendResult& stored = send.stored;
  const ConversationId& conversation = send.request.conversation;
  Message message{stored.id,         conversation,         stored.seq,       actor, send.request.client_msg_id,
                  send.request.type, send.request.content, stored.sent_at_ms};
  if (stored.duplicate) {
    // A retry: deliver the original again (its first fanout may have died with a crash).
    auto original = store_->ListMessages(conversation, MessageRange{stored.seq - 1, stored.seq + 1, 1, false});
    if (!original.ok() || original->empty()) return;
    message = std::move(original->front());
  }
  v1::Event event;
  ToProto(Event(NewMessageEvent{std::move(message)}), &event);
  // Indexed again for a duplicate too: the first task may have died with a crash (upserts are
  // idempotent).
  if (options_.search && event.new_message().type() == v1::CONTENT_TYPE_TEXT) {
    *search.add_index() = event.new_message();
  }
  if (conversation.is_group()) {
    (void)out.AddGroup(*send.access.group, event, actor, up.device_id(), up.trace_id());
    return;
  }
  std::vector<v1::Target> targets(2);
  targets[0].set_user_id(conversation.PeerOf(actor).value);
  targets[1].set_user_id(actor.value);
  targets[1].set_exclude_device(up.device_id());
  out.AddEvent(event, std::move(targets), up.trace_id());
}

Result<Seq> LogicCore::MarkRead(UserId actor, const DeviceId& device, const ConversationId& conversation, Seq seq) {
  IM_RETURN_IF_ERROR(ValidateDevice(device));
  IM_ASSIGN_OR_RETURN(ConversationAccess access,
                      CheckConversationAccess(*store_, actor, conversation, AccessMode::kRead));
  IM_ASSIGN_OR_RETURN(Seq before, store_->GetReadSeq(actor, conversation));
  auto after = store_->AdvanceReadSeq(actor, conversation, seq);
  if (!after.ok()) {
    // A direct conversation nobody wrote to is on no list yet: there is nothing to read.
    if (after.status().code() == StatusCode::kNotFound) return Seq{0};
    return after.status();
  }
  if (*after > before) {
    Event receipt(ReadReceiptEvent{conversation, actor, *after});
    if (access.group && access.group->member_count > options_.realtime_fanout_max_members) {
      // Receipts in large groups go only to the reader's other devices.
      v1::Event pb;
      ToProto(receipt, &pb);
      std::vector<v1::Target> me(1);
      me[0].set_user_id(actor.value);
      me[0].set_exclude_device(device);
      (void)fanout_->ToUsers(pb, me, conversation.str());
    } else {
      (void)FanoutToConversation(conversation, access, actor, device, receipt);
    }
  }
  return *after;
}

Status LogicCore::Typing(UserId actor, const DeviceId& device, const ConversationId& conversation) {
  IM_RETURN_IF_ERROR(ValidateDevice(device));
  IM_ASSIGN_OR_RETURN(ConversationAccess access,
                      CheckConversationAccess(*store_, actor, conversation, AccessMode::kWrite));
  if (access.group && access.group->member_count > options_.realtime_fanout_max_members) {
    return Status::Ok();  // not worth a task per keystroke in a large group
  }
  return FanoutToConversation(conversation, access, actor, "*", Event(TypingEvent{conversation, actor}));
}

Result<SyncResult> LogicCore::Sync(UserId actor, const SyncRequest& request) {
  if (request.positions.size() > 10'000) return Status::InvalidArgument("at most 10000 positions per sync");
  // 0 is the default, as on the wire (an absent proto3 field), not "one message".
  const uint32_t limit = std::min<uint32_t>(
      request.limit_per_conversation == 0 ? SyncRequest::kDefaultSyncLimit : request.limit_per_conversation,
      options_.max_page * 5);

  std::map<ConversationId, Seq> known;
  for (const auto& p : request.positions) {
    if (!p.conversation.valid()) return Status::InvalidArgument("sync position with a malformed conversation id");
    known[p.conversation] = std::max(known[p.conversation], p.last_seq);
  }
  // The user's own list vouches for access; anything else is checked one by one.
  std::map<ConversationId, Seq> listed;  // conversation -> the actor's read pointer
  ConversationCursor cursor;
  for (;;) {
    IM_ASSIGN_OR_RETURN(auto page, store_->ListConversations(actor, cursor, options_.max_page));
    for (const auto& c : page) listed[c.id] = c.read_seq;
    if (page.size() < options_.max_page) break;
    cursor = ConversationCursor{page.back().last_activity_ms, page.back().id};
  }
  if (request.include_unknown_conversations) {
    for (const auto& [c, _] : listed) known.try_emplace(c, 0);
  }

  SyncResult result;
  // One byte budget for the whole reply: once it is spent, the remaining conversations report
  // their last_seq and has_more without messages, and the device syncs again from there.
  size_t budget = options_.max_reply_bytes;
  bool any_message = false;
  for (const auto& [conversation, have] : known) {
    SyncConversation out;
    out.conversation = conversation;
    // Seqs up to `hidden` came before the actor joined a group whose history is visible from the
    // join: they are neither sent nor reported lost. The read pointer never goes below the joined
    // seq, so a listed conversation the device holds up to its pointer needs no lookup.
    Seq hidden = 0;
    auto row = listed.find(conversation);
    if (row == listed.end() || (conversation.is_group() && have < row->second)) {
      auto access = CheckConversationAccess(*store_, actor, conversation, AccessMode::kRead);
      if (!access.ok()) {
        if (access.status().code() == StatusCode::kUnavailable) return access.status();
        out.status = access.status();
        result.conversations.push_back(std::move(out));
        continue;
      }
      hidden = HiddenSeqs(*access);
    }
    IM_ASSIGN_OR_RETURN(ConversationState state, store_->GetConversationState(conversation));
    out.last_seq = state.last_seq;
    out.first_available_seq = std::max(state.first_seq, hidden + 1);
    Seq from = std::max(have, hidden);
    if (from + 1 < state.first_seq && from < state.last_seq) {
      out.history_lost = true;
      from = state.first_seq - 1;
    }
    if (from < state.last_seq) {
      if (budget > 0 || !any_message) {
        MessageRange range{from, 0, limit, false};
        IM_ASSIGN_OR_RETURN(out.messages, store_->ListMessages(conversation, range));
        TrimToBudget(out.messages, budget, !any_message);
        any_message = any_message || !out.messages.empty();
      }
      Seq reached = out.messages.empty() ? from : out.messages.back().seq;
      out.has_more = reached < state.last_seq;
    }
    result.conversations.push_back(std::move(out));
  }
  return result;
}

// ---- search ----

Result<SearchPage> LogicCore::Search(UserId actor, const SearchRequest& request) {
  if (!options_.search) return Status::NotSupported("search is not configured on this server");
  SearchQuery query;
  query.text = request.query;
  if (SearchTerms(query.text).empty()) return Status::InvalidArgument("the search query has no words");
  query.limit = ClampPage(request.limit);
  query.before = request.before;
  if (request.conversation.valid()) {
    IM_RETURN_IF_ERROR(CheckConversationAccess(*store_, actor, request.conversation, AccessMode::kRead).status());
    query.conversations.push_back(request.conversation);
  } else {
    // The actor's list holds exactly the conversations they belong to now: a group they left or
    // were removed from is gone from it.
    ConversationCursor cursor;
    while (query.conversations.size() < options_.search_max_conversations) {
      uint32_t page =
          std::min<uint32_t>(options_.max_page, options_.search_max_conversations - query.conversations.size());
      IM_ASSIGN_OR_RETURN(auto list, store_->ListConversations(actor, cursor, page));
      for (const auto& c : list) query.conversations.push_back(c.id);
      if (list.size() < page) break;
      cursor = ConversationCursor{list.back().last_activity_ms, list.back().id};
    }
  }
  IM_ASSIGN_OR_RETURN(SearchPage page, options_.search->Search(query));
  // The index is not the authority on membership: drop anything outside what was asked for, and
  // messages of a group from before the actor joined it when its history starts at the join.
  std::map<ConversationId, Seq> hidden;
  for (const SearchHit& h : page.hits) {
    if (!h.conversation.is_group() || hidden.contains(h.conversation)) continue;
    auto through = HiddenThrough(actor, h.conversation);
    if (!through.ok() && through.status().code() == StatusCode::kUnavailable) return through.status();
    hidden[h.conversation] = through.ok() ? *through : ~Seq{0};  // no longer readable: drop every hit
  }
  std::erase_if(page.hits, [&](const SearchHit& h) {
    if (std::find(query.conversations.begin(), query.conversations.end(), h.conversation) ==
        query.conversations.end()) {
      return true;
    }
    auto it = hidden.find(h.conversation);
    return it != hidden.end() && h.seq <= it->second;
  });
  return page;
}

}  // namespace im

#include "postgres/error.h"

#include <exception>
#include <new>
#include <pqxx/except>
#include <string>

namespace im::postgres {
namespace {

// "what: detail" on one line (server messages end with a newline and may carry DETAIL lines).
std::string Message(std::string_view what, std::string_view detail) {
  while (!detail.empty() && (detail.back() == '\n' || detail.back() == ' ')) detail.remove_suffix(1);
  std::string message(what);
  message += ": ";
  for (char c : detail) message += c == '\n' ? ' ' : c;
  return message;
}

bool InClass(std::string_view sqlstate, std::string_view cls) { return sqlstate.substr(0, 2) == cls; }

bool ConnectionLost(std::string_view sqlstate) {
  return InClass(sqlstate, "08") || sqlstate == "57P01" || sqlstate == "57P02" || sqlstate == "57P03";
}

}  // namespace

Status FromSqlState(std::string_view sqlstate, std::string_view what, std::string_view detail) {
  std::string message = Message(what, detail);
  if (ConnectionLost(sqlstate) || InClass(sqlstate, "40") || sqlstate == "57014" || sqlstate == "25006") {
    return Status::Unavailable(std::move(message));
  }
  if (sqlstate == "53200") return Status::ResourceExhausted(std::move(message));
  if (InClass(sqlstate, "53")) return Status::Unavailable(std::move(message));
  if (sqlstate == "23505") return Status::AlreadyExists(std::move(message));
  if (sqlstate == "23503") return Status::FailedPrecondition(std::move(message));
  if (InClass(sqlstate, "22") || InClass(sqlstate, "54") || sqlstate == "23502" || sqlstate == "23514") {
    return Status::InvalidArgument(std::move(message));
  }
  return Status::Internal(std::move(message));
}

Failure ClassifyCurrentException(std::string_view what) {
  try {
    throw;
  } catch (const pqxx::in_doubt_error& e) {
    return {Status::Unavailable(Message(what, std::string("connection lost during COMMIT, outcome unknown: ") +
                                                  e.what())),
            false, true};
  } catch (const pqxx::broken_connection& e) {
    return {Status::Unavailable(Message(what, e.what())), true, true};
  } catch (const pqxx::transaction_rollback& e) {
    return {Status::Unavailable(Message(what, e.what())), true, false};
  } catch (const pqxx::sql_error& e) {
    const std::string& state = e.sqlstate();
    bool lost = ConnectionLost(state);
    return {FromSqlState(state, what, e.what()), lost || InClass(state, "40"), lost};
  } catch (const std::bad_alloc&) {
    return {Status::ResourceExhausted(std::string(what) + ": out of memory"), false, false};
  } catch (const std::exception& e) {
    return {Status::Internal(Message(what, e.what())), false, false};
  } catch (...) {
    return {Status::Internal(std::string(what) + ": unknown exception"), false, false};
  }
}

}  // namespace im::postgres

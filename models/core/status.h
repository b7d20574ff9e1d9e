#pragma once
// One error currency for everything below the HTTP seam. Codes are domain codes (Abseil style);
// server/api/error_response.cc is the only place that turns them into HTTP statuses.

#include <string>
#include <utility>
#include <variant>

namespace mls {

enum class ErrorCode {
  kInvalidArgument,  // the caller's data is wrong (bad CSV cell, wrong width, bad hyperparameter)
  kNotFound,         // a named thing (model, file, channel) does not exist
  kAlreadyExists,    // a named thing exists already
  kUnsupported,      // a media type or model kind we do not handle
  kNotAcceptable,    // no output form the caller accepts
  kFailedPrecondition,  // not ready yet (no model loaded)
  kResourceExhausted,   // over a limit (body size, queue, memory budget)
  kDeadlineExceeded,    // ran out of time
  kDataLoss,            // a stored artifact is truncated or corrupt
  kInternal,            // a bug or an environment failure
};

struct Error {
  ErrorCode code;
  std::string message;
};

// Result<T> holds either a value or an Error. A small stand-in for C++23 std::expected.
template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : state_(std::move(value)) {}      // NOLINT: implicit on purpose
  Result(Error error) : state_(std::move(error)) {}  // NOLINT: implicit on purpose

  bool ok() const { return state_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { return std::get<0>(state_); }
  const T& value() const& { return std::get<0>(state_); }
  T&& value() && { return std::get<0>(std::move(state_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const Error& error() const { return std::get<1>(state_); }

 private:
  std::variant<T, Error> state_;
};

// Status is a Result with nothing to return.
struct Ok {};
using Status = Result<Ok>;

inline Error make_error(ErrorCode code, std::string message) {
  return Error{code, std::move(message)};
}

}  // namespace mls

// hs::Error and hs::Result<T>: the one error type used at every heteroscale library boundary.
//
// Codes follow abseil's retry meanings: InvalidArgument (bad input; do not retry until the
// input changes), NotFound, Unavailable (a dependency is down or slow: retry next tick),
// FailedPrecondition (the system's state must change first), PermissionDenied, Internal (a
// bug). Results are [[nodiscard]]: an ignored error is a compile warning (an error in CI).
#pragma once

#include <cassert>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace hs {

enum class ErrorCode {
  kInvalidArgument,
  kNotFound,
  kUnavailable,
  kFailedPrecondition,
  kPermissionDenied,
  kInternal,
};

// Stable lower-case name of a code ("invalid_argument", ...). Never fails.
std::string_view to_string(ErrorCode code);

// An error with where it happened. `where` is "file:line:col", "file:line", "file", an
// argument name, or empty. `causes` holds further errors reported together (e.g. every bad
// field of a config file at once); each prints on its own line.
struct Error {
  ErrorCode code = ErrorCode::kInternal;
  std::string message;
  std::string where;
  std::vector<Error> causes;

  // "where: message", then one indented line per cause.
  std::string to_string() const;

  // Returns a copy whose message is prefixed with `context` ("context: message").
  Error with_context(std::string_view context) const;
};

Error invalid_argument(std::string message, std::string where = {});
Error not_found(std::string message, std::string where = {});
Error unavailable(std::string message, std::string where = {});
Error failed_precondition(std::string message, std::string where = {});
Error permission_denied(std::string message, std::string where = {});
Error internal_error(std::string message, std::string where = {});

// Collects several errors and turns them into one Error whose causes are all of them, so that
// a parser can report every problem of a file at once.
class ErrorList {
 public:
  void add(Error e) { errors_.push_back(std::move(e)); }
  bool empty() const { return errors_.empty(); }
  size_t size() const { return errors_.size(); }
  const std::vector<Error>& errors() const { return errors_; }
  // One error: the single one if there is one, otherwise `summary` with all as causes.
  // Must not be called when empty().
  Error to_error(std::string summary) const;

 private:
  std::vector<Error> errors_;
};

// A value or an Error. The std::expected subset heteroscale uses.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}      // NOLINT: implicit by design
  Result(Error error) : v_(std::move(error)) {}  // NOLINT: implicit by design

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & {
    assert(ok());
    return std::get<0>(v_);
  }
  const T& value() const& {
    assert(ok());
    return std::get<0>(v_);
  }
  T&& value() && {
    assert(ok());
    return std::get<0>(std::move(v_));
  }
  const Error& error() const {
    assert(!ok());
    return std::get<1>(v_);
  }
  T value_or(T fallback) const { return ok() ? std::get<0>(v_) : std::move(fallback); }

  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::variant<T, Error> v_;
};

// Success or an Error.
template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT: implicit by design
  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const {
    assert(!ok_);
    return error_;
  }

 private:
  Error error_;
  bool ok_ = true;
};

using Status = Result<void>;
inline Status ok_status() { return {}; }

}  // namespace hs

// Propagates an error from an expression returning Status or Result<T>.
#define HS_RETURN_IF_ERROR(expr)                     \
  do {                                               \
    auto hs_status_ = (expr);                        \
    if (!hs_status_.ok()) return hs_status_.error(); \
  } while (0)

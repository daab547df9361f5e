#include "hs/common/error.h"

namespace hs {

std::string_view to_string(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument:
      return "invalid_argument";
    case ErrorCode::kNotFound:
      return "not_found";
    case ErrorCode::kUnavailable:
      return "unavailable";
    case ErrorCode::kFailedPrecondition:
      return "failed_precondition";
    case ErrorCode::kPermissionDenied:
      return "permission_denied";
    case ErrorCode::kInternal:
      return "internal";
  }
  return "internal";
}

namespace {
void append(const Error& e, int depth, std::string& out) {
  if (depth > 0) {
    out += '\n';
    out.append(static_cast<size_t>(depth) * 2, ' ');
  }
  if (!e.where.empty()) {
    out += e.where;
    out += ": ";
  }
  out += e.message;
  for (const Error& c : e.causes) append(c, depth + 1, out);
}
}  // namespace

std::string Error::to_string() const {
  std::string out;
  append(*this, 0, out);
  return out;
}

Error Error::with_context(std::string_view context) const {
  Error e = *this;
  e.message = std::string(context) + ": " + message;
  return e;
}

Error invalid_argument(std::string m, std::string w) {
  return {ErrorCode::kInvalidArgument, std::move(m), std::move(w), {}};
}
Error not_found(std::string m, std::string w) {
  return {ErrorCode::kNotFound, std::move(m), std::move(w), {}};
}
Error unavailable(std::string m, std::string w) {
  return {ErrorCode::kUnavailable, std::move(m), std::move(w), {}};
}
Error failed_precondition(std::string m, std::string w) {
  return {ErrorCode::kFailedPrecondition, std::move(m), std::move(w), {}};
}
Error permission_denied(std::string m, std::string w) {
  return {ErrorCode::kPermissionDenied, std::move(m), std::move(w), {}};
}
Error internal_error(std::string m, std::string w) {
  return {ErrorCode::kInternal, std::move(m), std::move(w), {}};
}

Error ErrorList::to_error(std::string summary) const {
  assert(!errors_.empty());
  if (errors_.size() == 1) return errors_.front();
  Error e{errors_.front().code, std::move(summary), {}, errors_};
  return e;
}

}  // namespace hs

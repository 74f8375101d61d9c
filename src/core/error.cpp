#include "greentune/core/error.hpp"

namespace greentune {

std::string_view to_string(ErrorCode code) {
  switch (code) {
    case ErrorCode::usage:
      return "usage";
    case ErrorCode::not_found:
      return "not-found";
    case ErrorCode::io:
      return "io";
    case ErrorCode::parse:
      return "parse";
    case ErrorCode::invalid_data:
      return "invalid-data";
    case ErrorCode::network:
      return "network";
    case ErrorCode::integrity:
      return "integrity";
    case ErrorCode::distributed:
      return "distributed";
    case ErrorCode::internal:
      return "internal";
    case ErrorCode::interrupted:
      return "interrupted";
  }
  return "unknown";
}

namespace {
std::string compose(std::string_view where, std::string_view what, std::string_view fix) {
  std::string message;
  if (!where.empty()) {
    message.append(where).append(": ");
  }
  message.append(what);
  if (!fix.empty()) {
    message.append(" (fix: ").append(fix).append(")");
  }
  return message;
}
}  // namespace

Error::Error(ErrorCode code, std::string_view where, std::string_view what, std::string_view fix)
    : std::runtime_error(compose(where, what, fix)), code_(code), where_(where) {}

std::string location(std::string_view path, size_t line) {
  return std::string(path) + ":" + std::to_string(line);
}

}  // namespace greentune

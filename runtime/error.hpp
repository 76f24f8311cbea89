#pragma once
// Errors with context. Three kinds, as the operations guide describes:
//  - Fatal: the task stops with this reason (visible in status and health);
//  - Retriable: try again with bounded exponential backoff;
//  - Data: one record is bad (undecodable, a type error): dead-letter it,
//    count it, and go on.
// Exceptions are for API edges only; inside Rivulet errors travel as values.
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace rivulet {

enum class ErrorKind : uint8_t { Fatal, Retriable, Data };

struct ErrorContext {
  std::string operation;  // "decode value", "produce", "commit", ...
  std::string topic;
  int32_t partition = -1;
  int64_t offset = -1;
  std::optional<std::string> key;
  int attempt = 0;
  std::string correlation_id;
};

struct Error {
  ErrorKind kind = ErrorKind::Fatal;
  std::string message;
  ErrorContext context;

  static Error data(std::string msg) { return Error{ErrorKind::Data, std::move(msg), {}}; }
  static Error fatal(std::string msg) { return Error{ErrorKind::Fatal, std::move(msg), {}}; }
  static Error retriable(std::string msg) {
    return Error{ErrorKind::Retriable, std::move(msg), {}};
  }
  Error&& at(std::string topic, int32_t partition, int64_t offset) && {
    context.topic = std::move(topic);
    context.partition = partition;
    context.offset = offset;
    return std::move(*this);
  }
  // "decode value failed at orders[3]@1234: expected ',' at byte 17"
  std::string to_string() const;
};

// A value or an error (std::expected is C++23).
template <typename T>
class Expected {
 public:
  Expected(T v) : rep_(std::move(v)) {}          // NOLINT(google-explicit-constructor)
  Expected(Error e) : rep_(std::move(e)) {}      // NOLINT(google-explicit-constructor)
  bool ok() const { return rep_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<0>(rep_); }
  const T& value() const& { return std::get<0>(rep_); }
  T&& value() && { return std::get<0>(std::move(rep_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  const Error& error() const { return std::get<1>(rep_); }
  Error& error() { return std::get<1>(rep_); }

 private:
  std::variant<T, Error> rep_;
};

}  // namespace rivulet

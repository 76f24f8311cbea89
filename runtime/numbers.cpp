#include "runtime/numbers.hpp"

#include <cstdint>
#include <string>

namespace rivulet {
namespace {

int numeric_rank(TypeKind k) {
  switch (k) {
    case TypeKind::Int:
      return 0;
    case TypeKind::BigInt:
      return 1;
    case TypeKind::Decimal:
      return 2;
    case TypeKind::Double:
      return 3;
    default:
      return -1;
  }
}

Decimal to_decimal(const Value& v) {
  return v.kind() == TypeKind::Decimal ? v.as_decimal() : Decimal::from_int(v.to_int64());
}

}  // namespace

Decimal tighten(const Decimal& d) {
  int p = digits_i128(d.unscaled());
  if (p < d.scale()) p = d.scale();
  if (p < 1) p = 1;
  return Decimal(d.unscaled(), p, d.scale());
}

Expected<Value> add_numbers(const Value& a, const Value& b) {
  int ra = numeric_rank(a.kind());
  int rb = numeric_rank(b.kind());
  if (ra < 0 || rb < 0) {
    return Error::data(std::string("cannot add ") + type_kind_name(a.kind()) + " and " +
                       type_kind_name(b.kind()));
  }
  switch (ra > rb ? ra : rb) {
    case 0:  // INT + INT wraps like Java's int
      return Value::int32(static_cast<int32_t>(static_cast<uint32_t>(a.as_int32()) +
                                               static_cast<uint32_t>(b.as_int32())));
    case 1:
      return Value::int64(static_cast<int64_t>(static_cast<uint64_t>(a.to_int64()) +
                                               static_cast<uint64_t>(b.to_int64())));
    case 2: {
      auto sum = Decimal::add(to_decimal(a), to_decimal(b));
      if (!sum) {
        return Error::data("decimal overflow adding " + a.to_string() + " and " + b.to_string());
      }
      return Value::decimal(tighten(*sum));
    }
    default:
      return Value::float64(a.to_double() + b.to_double());
  }
}

}  // namespace rivulet

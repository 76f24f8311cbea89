#include "sql/types.hpp"

#include <algorithm>

namespace rivulet::sql {

bool is_numeric(const DataType& t) {
  return t.kind == TypeKind::Int || t.kind == TypeKind::BigInt || t.kind == TypeKind::Double ||
         t.kind == TypeKind::Decimal;
}

bool is_integral(const DataType& t) {
  return t.kind == TypeKind::Int || t.kind == TypeKind::BigInt;
}

bool is_temporal(const DataType& t) {
  return t.kind == TypeKind::Timestamp || t.kind == TypeKind::Date || t.kind == TypeKind::Time;
}

bool is_null_type(const DataTypePtr& t) {
  return !t || t->kind == TypeKind::Null;
}

DataTypePtr as_decimal_type(const DataType& t) {
  switch (t.kind) {
    case TypeKind::Int:
      return DataType::decimal(10, 0);
    case TypeKind::BigInt:
      return DataType::decimal(19, 0);
    case TypeKind::Decimal:
      return DataType::decimal(t.precision, t.scale);
    default:
      return nullptr;
  }
}

DataTypePtr decimal_result_type(BinaryOp op, const DataType& a, const DataType& b) {
  const int p1 = a.precision, s1 = a.scale, p2 = b.precision, s2 = b.scale;
  int p = 0, s = 0;
  switch (op) {
    case BinaryOp::Add:
    case BinaryOp::Subtract:
      s = std::max(s1, s2);
      p = std::max(p1 - s1, p2 - s2) + s + 1;
      break;
    case BinaryOp::Multiply:
      s = s1 + s2;
      p = p1 + p2 + 1;
      break;
    case BinaryOp::Divide:
      s = std::max(6, s1 + p2 + 1);
      p = p1 - s1 + s2 + s;
      break;
    case BinaryOp::Modulo:
      s = std::max(s1, s2);
      p = std::min(p1 - s1, p2 - s2) + s;
      break;
    default:
      s = std::max(s1, s2);
      p = std::max(p1, p2);
      break;
  }
  p = std::min(std::max(p, 1), Decimal::kMaxPrecision);
  s = std::min(s, p);
  return DataType::decimal(p, s);
}

std::optional<DataTypePtr> arithmetic_result_type(BinaryOp op, const DataTypePtr& left,
                                                  const DataTypePtr& right) {
  if (is_null_type(left) && is_null_type(right)) return std::nullopt;
  const DataTypePtr& l = is_null_type(left) ? right : left;
  const DataTypePtr& r = is_null_type(right) ? left : right;
  if (op == BinaryOp::Add && l->kind == TypeKind::String && r->kind == TypeKind::String)
    return DataType::of(TypeKind::String);
  if (!is_numeric(*l) || !is_numeric(*r)) return std::nullopt;
  if (l->kind == TypeKind::Double || r->kind == TypeKind::Double)
    return DataType::of(TypeKind::Double);
  if (l->kind == TypeKind::Decimal || r->kind == TypeKind::Decimal)
    return decimal_result_type(op, *as_decimal_type(*l), *as_decimal_type(*r));
  if (l->kind == TypeKind::BigInt || r->kind == TypeKind::BigInt)
    return DataType::of(TypeKind::BigInt);
  return DataType::of(TypeKind::Int);
}

bool comparable(const DataTypePtr& a, const DataTypePtr& b, BinaryOp op) {
  if (is_null_type(a) || is_null_type(b)) return true;
  const bool equality = op == BinaryOp::Eq || op == BinaryOp::Neq;
  if (is_numeric(*a) && is_numeric(*b)) return true;
  if (a->kind != b->kind) return false;
  switch (a->kind) {
    case TypeKind::String:
    case TypeKind::Timestamp:
    case TypeKind::Date:
    case TypeKind::Time:
    case TypeKind::Bytes:
      return true;
    case TypeKind::Boolean:
      return equality;
    case TypeKind::Array:
    case TypeKind::Map:
    case TypeKind::Struct:
      return equality && common_type(a, b).has_value();
    default:
      return false;
  }
}

bool castable(const DataType& from, const DataType& to) {
  if (from.kind == TypeKind::Null) return true;
  if (from == to) return true;
  switch (to.kind) {
    case TypeKind::String:
      return from.kind != TypeKind::Bytes;
    case TypeKind::Boolean:
      return from.kind == TypeKind::Boolean || from.kind == TypeKind::String;
    case TypeKind::Int:
    case TypeKind::BigInt:
    case TypeKind::Double:
    case TypeKind::Decimal:
      return is_numeric(from) || from.kind == TypeKind::String;
    case TypeKind::Timestamp:  // ksqlDB's casts between the temporal types
      return from.kind == TypeKind::String || from.kind == TypeKind::Timestamp ||
             from.kind == TypeKind::Date;
    case TypeKind::Date:
    case TypeKind::Time:
      return from.kind == TypeKind::String || from.kind == TypeKind::Timestamp ||
             from.kind == to.kind;
    case TypeKind::Bytes:
      return from.kind == TypeKind::Bytes;
    case TypeKind::Array:
      return from.kind == TypeKind::Array && from.element && to.element &&
             castable(*from.element, *to.element);
    case TypeKind::Map:
      return from.kind == TypeKind::Map && from.element && to.element &&
             castable(*from.element, *to.element);
    case TypeKind::Struct: {
      if (from.kind != TypeKind::Struct) return false;
      for (const auto& tf : to.fields) {
        for (const auto& ff : from.fields) {
          if (ff.name == tf.name && ff.type && tf.type && !castable(*ff.type, *tf.type))
            return false;
        }
      }
      return true;
    }
    case TypeKind::Null:
      return false;
  }
  return false;
}

int numeric_rank(TypeKind k) {
  switch (k) {
    case TypeKind::Int:
      return 1;
    case TypeKind::BigInt:
      return 2;
    case TypeKind::Decimal:
      return 3;
    case TypeKind::Double:
      return 4;
    default:
      return 0;
  }
}

std::optional<DataTypePtr> common_type(const DataTypePtr& a, const DataTypePtr& b) {
  if (is_null_type(a)) return b ? b : DataType::of(TypeKind::Null);
  if (is_null_type(b)) return a;
  if (*a == *b) return a;
  if (is_numeric(*a) && is_numeric(*b)) {
    if (a->kind == TypeKind::Decimal || b->kind == TypeKind::Decimal) {
      if (a->kind == TypeKind::Double || b->kind == TypeKind::Double)
        return DataType::of(TypeKind::Double);
      DataTypePtr da = as_decimal_type(*a), db = as_decimal_type(*b);
      int scale = std::max(da->scale, db->scale);
      int digits = std::max(da->precision - da->scale, db->precision - db->scale);
      int precision = std::min(digits + scale, Decimal::kMaxPrecision);
      return DataType::decimal(precision, std::min(scale, precision));
    }
    return numeric_rank(a->kind) >= numeric_rank(b->kind) ? a : b;
  }
  if (a->kind != b->kind) return std::nullopt;
  switch (a->kind) {
    case TypeKind::Array:
    case TypeKind::Map: {
      auto e = common_type(a->element, b->element);
      if (!e) return std::nullopt;
      return a->kind == TypeKind::Array ? DataType::array(*e) : DataType::map(*e);
    }
    case TypeKind::Struct: {
      if (a->fields.size() != b->fields.size()) return std::nullopt;
      std::vector<StructFieldType> fields;
      for (size_t i = 0; i < a->fields.size(); ++i) {
        if (a->fields[i].name != b->fields[i].name) return std::nullopt;
        auto t = common_type(a->fields[i].type, b->fields[i].type);
        if (!t) return std::nullopt;
        fields.push_back(StructFieldType{a->fields[i].name, *t});
      }
      return DataType::structure(std::move(fields));
    }
    default:
      return std::nullopt;
  }
}

std::string type_name(const DataTypePtr& t) {
  if (!t) return "NULL";
  switch (t->kind) {
    case TypeKind::Decimal:
      return "DECIMAL(" + std::to_string(t->precision) + ", " + std::to_string(t->scale) + ")";
    case TypeKind::Array:
      return "ARRAY<" + type_name(t->element) + ">";
    case TypeKind::Map:
      return "MAP<STRING, " + type_name(t->element) + ">";
    case TypeKind::Struct: {
      std::string out = "STRUCT<";
      for (size_t i = 0; i < t->fields.size(); ++i) {
        if (i > 0) out += ", ";
        std::string quoted = "`";
        for (char c : t->fields[i].name) {
          quoted.push_back(c);
          if (c == '`') quoted.push_back('`');
        }
        out += quoted + "` " + type_name(t->fields[i].type);
      }
      return out + ">";
    }
    default:
      return type_kind_name(t->kind);
  }
}

}  // namespace rivulet::sql

#include "sql/expression.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <exception>
#include <limits>
#include <optional>

#include "runtime/timestamp.hpp"
#include "sql/parser.hpp"
#include "sql/sql_error.hpp"
#include "sql/text.hpp"
#include "sql/types.hpp"

namespace rivulet::sql {

// ---------------------------------------------------------------------------
// Scope

Scope Scope::of_row(const Schema& schema, const std::string& qualifier) {
  Scope s;
  for (size_t i = 0; i < schema.columns.size(); ++i) {
    const Column& c = schema.columns[i];
    s.add(ScopeColumn{qualifier, c.name, c.type, Slot{Slot::Origin::Row, static_cast<uint32_t>(i)},
                      c.is_key, false});
  }
  return s;
}

Scope Scope::of_record(const Schema& schema, const std::string& qualifier) {
  Scope s;
  size_t keys = 0;
  for (const Column& c : schema.columns) keys += c.is_key ? 1 : 0;
  uint32_t key_index = 0, value_index = 0;
  for (const Column& c : schema.columns) {
    Slot slot;
    if (c.is_key) {
      slot = keys == 1 ? Slot{Slot::Origin::Key, 0} : Slot{Slot::Origin::KeyField, key_index++};
    } else {
      slot = Slot{Slot::Origin::ValueField, value_index++};
    }
    s.add(ScopeColumn{qualifier, c.name, c.type, slot, c.is_key, false});
  }
  return s;
}

Scope& Scope::add(ScopeColumn column) {
  columns_.push_back(std::move(column));
  return *this;
}

Scope& Scope::add_pseudo_columns(bool windowed) {
  auto pseudo = [this](const char* name, TypeKind kind, Slot::Origin origin) {
    add(ScopeColumn{"", name, DataType::of(kind), Slot{origin, 0}, false, true});
  };
  pseudo("ROWTIME", TypeKind::BigInt, Slot::Origin::RowTime);
  pseudo("ROWPARTITION", TypeKind::Int, Slot::Origin::RowPartition);
  pseudo("ROWOFFSET", TypeKind::BigInt, Slot::Origin::RowOffset);
  if (windowed) {
    pseudo("WINDOWSTART", TypeKind::BigInt, Slot::Origin::WindowStart);
    pseudo("WINDOWEND", TypeKind::BigInt, Slot::Origin::WindowEnd);
  }
  return *this;
}

Scope& Scope::bind(ExprPtr e, DataTypePtr type, Slot slot) {
  bindings_.push_back(Binding{std::move(e), std::move(type), slot});
  return *this;
}

Scope& Scope::bind_external(ExprPtr e, DataTypePtr type, ExternalEval eval) {
  Slot slot{Slot::Origin::External, static_cast<uint32_t>(externals_.size())};
  externals_.push_back(std::move(eval));
  return bind(std::move(e), std::move(type), slot);
}

Expected<const ScopeColumn*> Scope::find(std::string_view qualifier, std::string_view name) const {
  auto search = [&](bool exact) -> std::vector<const ScopeColumn*> {
    std::vector<const ScopeColumn*> hits;
    for (const ScopeColumn& c : columns_) {
      bool name_ok = exact ? c.name == name : iequals(c.name, name);
      if (!name_ok) continue;
      if (!qualifier.empty()) {
        bool q_ok = exact ? c.qualifier == qualifier : iequals(c.qualifier, qualifier);
        // Pseudo columns belong to every source.
        if (!q_ok && !c.is_pseudo) continue;
      }
      hits.push_back(&c);
    }
    return hits;
  };
  std::string shown = qualifier.empty() ? quote_identifier(std::string(name))
                                        : quote_identifier(std::string(qualifier)) + "." +
                                              quote_identifier(std::string(name));
  for (bool exact : {true, false}) {
    auto hits = search(exact);
    if (hits.size() == 1) return hits[0];
    if (hits.size() > 1) {
      std::string options;
      for (size_t i = 0; i < hits.size(); ++i) {
        if (i > 0) options += i + 1 == hits.size() ? " or " : ", ";
        options += hits[i]->qualifier.empty() ? quote_identifier(hits[i]->name)
                                              : quote_identifier(hits[i]->qualifier) + "." +
                                                    quote_identifier(hits[i]->name);
      }
      return Error::fatal("Column '" + shown + "' is ambiguous. Could be " + options + ".");
    }
  }
  return Error::fatal("Column '" + shown + "' cannot be resolved.");
}

// ---------------------------------------------------------------------------
// Evaluation nodes

class EvalNode {
 public:
  virtual ~EvalNode() = default;
  virtual Value eval(const EvalRow& row) const = 0;
  // The value without copying it, when the node only reads a value that
  // lives in the row or in the node (slots, constants); nullptr otherwise.
  virtual const Value* peek(const EvalRow& row) const { return nullptr; }
};

namespace {

using NodePtr = std::shared_ptr<const EvalNode>;

// To the row's diagnostics, else to the batch this thread is processing.
void note(const EvalRow& row, std::string_view what) {
  if (row.diagnostics)
    row.diagnostics->note(what, row.source);
  else if (EvaluationNotes* notes = thread_evaluation_notes())
    notes->note(what, row.source);
}

const Value kNull;

// The node's value for `row`: borrowed when the node can lend it, else
// computed into `scratch`. Saves copying strings and containers on the
// hot path.
inline const Value& operand(const EvalNode& n, const EvalRow& row, Value& scratch) {
  if (const Value* p = n.peek(row)) return *p;
  scratch = n.eval(row);
  return scratch;
}

class ConstNode final : public EvalNode {
 public:
  explicit ConstNode(Value v) : v_(std::move(v)) {}
  Value eval(const EvalRow&) const override { return v_; }
  const Value* peek(const EvalRow&) const override { return &v_; }

 private:
  Value v_;
};

const Value* struct_field(const Value* v, uint32_t index) {
  if (!v || v->kind() != TypeKind::Struct) return nullptr;
  const StructFields& f = v->as_struct();
  return index < f.size() ? &f[index].value : nullptr;
}

class SlotNode final : public EvalNode {
 public:
  explicit SlotNode(Slot s) : s_(s) {}
  const Slot& slot() const { return s_; }
  const Value* peek(const EvalRow& row) const override {
    const Value* v = nullptr;
    switch (s_.origin) {
      case Slot::Origin::Row:
        v = s_.index < row.column_count ? &row.columns[s_.index] : nullptr;
        break;
      case Slot::Origin::Key:
        v = row.key;
        break;
      case Slot::Origin::KeyField:
        v = struct_field(row.key, s_.index);
        break;
      case Slot::Origin::ValueField:
        v = struct_field(row.value, s_.index);
        break;
      case Slot::Origin::Lambda:
        v = row.lambda_args ? &row.lambda_args[s_.index] : nullptr;
        break;
      default:
        return nullptr;  // computed from the row's metadata
    }
    return v ? v : &kNull;
  }
  Value eval(const EvalRow& row) const override {
    switch (s_.origin) {
      case Slot::Origin::Row:
        return s_.index < row.column_count ? row.columns[s_.index] : Value();
      case Slot::Origin::Key:
        return row.key ? *row.key : Value();
      case Slot::Origin::KeyField: {
        const Value* v = struct_field(row.key, s_.index);
        return v ? *v : Value();
      }
      case Slot::Origin::ValueField: {
        const Value* v = struct_field(row.value, s_.index);
        return v ? *v : Value();
      }
      case Slot::Origin::RowTime:
        return Value::int64(row.rowtime);
      case Slot::Origin::RowPartition:
        return Value::int32(row.partition);
      case Slot::Origin::RowOffset:
        return Value::int64(row.offset);
      case Slot::Origin::WindowStart:
        return Value::int64(row.window_start);
      case Slot::Origin::WindowEnd:
        return Value::int64(row.window_end);
      case Slot::Origin::Lambda:
        return row.lambda_args ? row.lambda_args[s_.index] : Value();
      case Slot::Origin::External:
        return Value();  // compiled to ExternalNode instead
    }
    return Value();
  }

 private:
  Slot s_;
};

class ExternalNode final : public EvalNode {
 public:
  explicit ExternalNode(ExternalEval fn) : fn_(std::move(fn)) {}
  Value eval(const EvalRow& row) const override {
    try {
      return fn_(row);
    } catch (const std::exception& e) {
      note(row, e.what());
    } catch (...) {
      note(row, "unknown exception");
    }
    return Value();
  }

 private:
  ExternalEval fn_;
};

class DerefNode final : public EvalNode {
 public:
  DerefNode(NodePtr base, std::string field, size_t hint)
      : base_(std::move(base)), field_(std::move(field)), hint_(hint) {}

  Value eval(const EvalRow& row) const override {
    Value scratch;
    const Value* v = field_of(operand(*base_, row, scratch));
    return v ? *v : Value();
  }
  const Value* peek(const EvalRow& row) const override {
    const Value* base = base_->peek(row);
    if (!base) return nullptr;  // the field would outlive a computed struct
    const Value* v = field_of(*base);
    return v ? v : &kNull;
  }

 private:
  const Value* field_of(const Value& v) const {
    if (v.kind() != TypeKind::Struct) return nullptr;
    const StructFields& f = v.as_struct();
    if (hint_ < f.size() && f[hint_].name == field_) return &f[hint_].value;
    return v.field(field_);
  }

 private:
  NodePtr base_;
  std::string field_;
  size_t hint_;
};

class ArrayIndexNode final : public EvalNode {
 public:
  ArrayIndexNode(NodePtr base, NodePtr index) : base_(std::move(base)), index_(std::move(index)) {}
  Value eval(const EvalRow& row) const override {
    Value b = base_->eval(row);
    if (b.kind() != TypeKind::Array) return Value();
    Value i = index_->eval(row);
    if (i.kind() != TypeKind::Int && i.kind() != TypeKind::BigInt) return Value();
    const Array& a = b.as_array();
    int64_t idx = i.to_int64();
    int64_t n = static_cast<int64_t>(a.size());
    int64_t at = idx >= 0 ? idx - 1 : n + idx;
    if (at < 0 || at >= n) return Value();
    return a[static_cast<size_t>(at)];
  }

 private:
  NodePtr base_, index_;
};

class MapKeyNode final : public EvalNode {
 public:
  MapKeyNode(NodePtr base, NodePtr key) : base_(std::move(base)), key_(std::move(key)) {}
  Value eval(const EvalRow& row) const override {
    Value b = base_->eval(row);
    if (b.kind() != TypeKind::Map) return Value();
    Value k = key_->eval(row);
    if (k.kind() != TypeKind::String) return Value();
    const Value* v = b.entry(k.as_string());
    return v ? *v : Value();
  }

 private:
  NodePtr base_, key_;
};

// ---- numbers ----------------------------------------------------------------

bool is_integral_value(const Value& v) {
  return v.kind() == TypeKind::Int || v.kind() == TypeKind::BigInt;
}

std::optional<Decimal> to_decimal(const Value& v) {
  switch (v.kind()) {
    case TypeKind::Decimal:
      return v.as_decimal();
    case TypeKind::Int:
    case TypeKind::BigInt:
      return Decimal::from_int(v.to_int64());
    case TypeKind::Double:
      return Decimal::from_double(v.as_double(), 38, 16);
    default:
      return std::nullopt;
  }
}

double to_double(const Value& v) {
  if (v.kind() == TypeKind::Decimal) return v.as_decimal().to_double();
  if (is_integral_value(v)) return static_cast<double>(v.to_int64());
  if (v.kind() == TypeKind::Double) return v.as_double();
  return std::nan("");
}

class NegateNode final : public EvalNode {
 public:
  explicit NegateNode(NodePtr child) : child_(std::move(child)) {}
  Value eval(const EvalRow& row) const override {
    Value v = child_->eval(row);
    switch (v.kind()) {
      case TypeKind::Int:
        return Value::int32(static_cast<int32_t>(0u - static_cast<uint32_t>(v.as_int32())));
      case TypeKind::BigInt:
        return Value::int64(static_cast<int64_t>(0ull - static_cast<uint64_t>(v.as_int64())));
      case TypeKind::Double:
        return Value::float64(-v.as_double());
      case TypeKind::Decimal:
        return Value::decimal(v.as_decimal().negate());
      default:
        return Value();
    }
  }

 private:
  NodePtr child_;
};

enum class ArithMode : uint8_t { Int, BigInt, Double, Decimal, Concat };

class ArithNode final : public EvalNode {
 public:
  ArithNode(BinaryOp op, ArithMode mode, NodePtr l, NodePtr r, DataTypePtr result)
      : op_(op), mode_(mode), l_(std::move(l)), r_(std::move(r)), result_(std::move(result)) {}

  Value eval(const EvalRow& row) const override {
    Value sa, sb;
    const Value& a = operand(*l_, row, sa);
    if (a.is_null()) return Value();
    const Value& b = operand(*r_, row, sb);
    if (b.is_null()) return Value();
    switch (mode_) {
      case ArithMode::Int:
        return int_op(row, a, b, true);
      case ArithMode::BigInt:
        return int_op(row, a, b, false);
      case ArithMode::Double:
        return double_op(a, b);
      case ArithMode::Decimal:
        return decimal_op(row, a, b);
      case ArithMode::Concat:
        if (a.kind() != TypeKind::String || b.kind() != TypeKind::String) return Value();
        return Value::string(a.as_string() + b.as_string());
    }
    return Value();
  }

 private:
  Value int_op(const EvalRow& row, const Value& a, const Value& b, bool narrow) const {
    if (!is_integral_value(a) || !is_integral_value(b)) return Value();
    // Two's complement wrap-around, as Java's int and long arithmetic.
    const int64_t x = a.to_int64(), y = b.to_int64();
    uint64_t r = 0;
    switch (op_) {
      case BinaryOp::Add:
        r = static_cast<uint64_t>(x) + static_cast<uint64_t>(y);
        break;
      case BinaryOp::Subtract:
        r = static_cast<uint64_t>(x) - static_cast<uint64_t>(y);
        break;
      case BinaryOp::Multiply:
        r = static_cast<uint64_t>(x) * static_cast<uint64_t>(y);
        break;
      case BinaryOp::Divide:
      case BinaryOp::Modulo: {
        if (y == 0) {
          note(row, op_ == BinaryOp::Divide ? "division by zero" : "modulo by zero");
          return Value();
        }
        const int64_t min =
            narrow ? std::numeric_limits<int32_t>::min() : std::numeric_limits<int64_t>::min();
        if (x == min && y == -1) {  // overflows in hardware; Java gives MIN and 0
          r = op_ == BinaryOp::Divide ? static_cast<uint64_t>(x) : 0;
        } else {
          r = static_cast<uint64_t>(op_ == BinaryOp::Divide ? x / y : x % y);
        }
        break;
      }
      default:
        return Value();
    }
    if (narrow) return Value::int32(static_cast<int32_t>(static_cast<uint32_t>(r)));
    return Value::int64(static_cast<int64_t>(r));
  }

  Value double_op(const Value& a, const Value& b) const {
    double x = to_double(a), y = to_double(b);
    switch (op_) {
      case BinaryOp::Add:
        return Value::float64(x + y);
      case BinaryOp::Subtract:
        return Value::float64(x - y);
      case BinaryOp::Multiply:
        return Value::float64(x * y);
      case BinaryOp::Divide:
        return Value::float64(x / y);
      case BinaryOp::Modulo:
        return Value::float64(std::fmod(x, y));
      default:
        return Value();
    }
  }

  Value decimal_op(const EvalRow& row, const Value& a, const Value& b) const {
    auto x = to_decimal(a), y = to_decimal(b);
    if (!x || !y) return Value();
    std::optional<Decimal> r;
    switch (op_) {
      case BinaryOp::Add:
        r = Decimal::add(*x, *y);
        break;
      case BinaryOp::Subtract:
        r = Decimal::subtract(*x, *y);
        break;
      case BinaryOp::Multiply:
        r = Decimal::multiply(*x, *y);
        break;
      case BinaryOp::Divide:
        r = Decimal::divide(*x, *y);
        break;
      case BinaryOp::Modulo:
        r = Decimal::modulo(*x, *y);
        break;
      default:
        break;
    }
    if (r) r = r->rescale(result_->precision, result_->scale);
    if (!r) {
      note(row, std::string("decimal ") + binary_op_symbol(op_) +
                    " failed (division by zero or overflow of " + type_name(result_) + ")");
      return Value();
    }
    return Value::decimal(*r);
  }

  BinaryOp op_;
  ArithMode mode_;
  NodePtr l_, r_;
  DataTypePtr result_;
};

// ---- comparison -------------------------------------------------------------

// -1/0/1 for two non-NULL values of comparable types; nullopt when they
// cannot be ordered (then only equality applies).
std::optional<int> order(const Value& a, const Value& b) {
  const TypeKind ka = a.kind(), kb = b.kind();
  if (a.is_numeric() && b.is_numeric()) {
    if (is_integral_value(a) && is_integral_value(b)) {
      int64_t x = a.to_int64(), y = b.to_int64();
      return x < y ? -1 : (x > y ? 1 : 0);
    }
    if (ka == TypeKind::Double || kb == TypeKind::Double) {
      double x = to_double(a), y = to_double(b);
      if (std::isnan(x) || std::isnan(y)) {  // Java's Double.compare: NaN is largest
        if (std::isnan(x) && std::isnan(y)) return 0;
        return std::isnan(x) ? 1 : -1;
      }
      return x < y ? -1 : (x > y ? 1 : 0);
    }
    auto x = to_decimal(a), y = to_decimal(b);
    if (!x || !y) return std::nullopt;
    return Decimal::compare(*x, *y);
  }
  if (ka != kb) return std::nullopt;
  switch (ka) {
    case TypeKind::String: {
      int c = a.as_string().compare(b.as_string());
      return c < 0 ? -1 : (c > 0 ? 1 : 0);
    }
    case TypeKind::Bytes: {
      int c = a.as_bytes().compare(b.as_bytes());
      return c < 0 ? -1 : (c > 0 ? 1 : 0);
    }
    case TypeKind::Timestamp: {
      int64_t x = a.as_timestamp(), y = b.as_timestamp();
      return x < y ? -1 : (x > y ? 1 : 0);
    }
    case TypeKind::Date:
    case TypeKind::Time: {
      int64_t x = a.to_int64(), y = b.to_int64();
      return x < y ? -1 : (x > y ? 1 : 0);
    }
    case TypeKind::Boolean:
      return a.as_bool() == b.as_bool() ? 0 : (a.as_bool() ? 1 : -1);
    default:
      return std::nullopt;
  }
}

bool sql_equal(const Value& a, const Value& b) {
  // The common filter first (`event_type = 'view'`): strings of different
  // lengths differ without a comparison of their bytes.
  if (a.kind() == TypeKind::String && b.kind() == TypeKind::String)
    return a.as_string() == b.as_string();
  if (auto o = order(a, b)) return *o == 0;
  return a == b;
}

bool apply_comparison(BinaryOp op, const Value& a, const Value& b) {
  if (op == BinaryOp::Eq) return sql_equal(a, b);
  if (op == BinaryOp::Neq) return !sql_equal(a, b);
  auto o = order(a, b);
  if (!o) return false;
  switch (op) {
    case BinaryOp::Lt:
      return *o < 0;
    case BinaryOp::Lte:
      return *o <= 0;
    case BinaryOp::Gt:
      return *o > 0;
    case BinaryOp::Gte:
      return *o >= 0;
    default:
      return false;
  }
}

class CompareNode final : public EvalNode {
 public:
  CompareNode(BinaryOp op, NodePtr l, NodePtr r) : op_(op), l_(std::move(l)), r_(std::move(r)) {}
  Value eval(const EvalRow& row) const override {
    Value sa, sb;
    const Value& a = operand(*l_, row, sa);
    if (a.is_null()) return Value::boolean(false);
    const Value& b = operand(*r_, row, sb);
    if (b.is_null()) return Value::boolean(false);
    return Value::boolean(apply_comparison(op_, a, b));
  }

 private:
  BinaryOp op_;
  NodePtr l_, r_;
};

class DistinctNode final : public EvalNode {
 public:
  DistinctNode(NodePtr l, NodePtr r, bool negated)
      : l_(std::move(l)), r_(std::move(r)), negated_(negated) {}
  Value eval(const EvalRow& row) const override {
    Value a = l_->eval(row), b = r_->eval(row);
    bool distinct;
    if (a.is_null() || b.is_null()) {
      distinct = a.is_null() != b.is_null();
    } else {
      distinct = !sql_equal(a, b);
    }
    return Value::boolean(negated_ ? !distinct : distinct);
  }

 private:
  NodePtr l_, r_;
  bool negated_;
};

// Three-valued: 0 false, 1 true, 2 unknown.
int truth(const Value& v) {
  if (v.kind() != TypeKind::Boolean) return 2;
  return v.as_bool() ? 1 : 0;
}

class AndNode final : public EvalNode {
 public:
  AndNode(NodePtr l, NodePtr r) : l_(std::move(l)), r_(std::move(r)) {}
  Value eval(const EvalRow& row) const override {
    int a = truth(l_->eval(row));
    if (a == 0) return Value::boolean(false);
    int b = truth(r_->eval(row));
    if (b == 0) return Value::boolean(false);
    if (a == 2 || b == 2) return Value();
    return Value::boolean(true);
  }

 private:
  NodePtr l_, r_;
};

class OrNode final : public EvalNode {
 public:
  OrNode(NodePtr l, NodePtr r) : l_(std::move(l)), r_(std::move(r)) {}
  Value eval(const EvalRow& row) const override {
    int a = truth(l_->eval(row));
    if (a == 1) return Value::boolean(true);
    int b = truth(r_->eval(row));
    if (b == 1) return Value::boolean(true);
    if (a == 2 || b == 2) return Value();
    return Value::boolean(false);
  }

 private:
  NodePtr l_, r_;
};

class NotNode final : public EvalNode {
 public:
  explicit NotNode(NodePtr c) : c_(std::move(c)) {}
  Value eval(const EvalRow& row) const override {
    int a = truth(c_->eval(row));
    if (a == 2) return Value();
    return Value::boolean(a == 0);
  }

 private:
  NodePtr c_;
};

class IsNullNode final : public EvalNode {
 public:
  IsNullNode(NodePtr c, bool negated) : c_(std::move(c)), negated_(negated) {}
  Value eval(const EvalRow& row) const override {
    Value scratch;
    bool null = operand(*c_, row, scratch).is_null();
    return Value::boolean(negated_ ? !null : null);
  }

 private:
  NodePtr c_;
  bool negated_;
};

class BetweenNode final : public EvalNode {
 public:
  BetweenNode(NodePtr v, NodePtr lo, NodePtr hi, bool negated)
      : v_(std::move(v)), lo_(std::move(lo)), hi_(std::move(hi)), negated_(negated) {}
  Value eval(const EvalRow& row) const override {
    bool in = false;
    Value v = v_->eval(row);
    if (!v.is_null()) {
      Value lo = lo_->eval(row), hi = hi_->eval(row);
      in = !lo.is_null() && !hi.is_null() && apply_comparison(BinaryOp::Gte, v, lo) &&
           apply_comparison(BinaryOp::Lte, v, hi);
    }
    return Value::boolean(negated_ ? !in : in);
  }

 private:
  NodePtr v_, lo_, hi_;
  bool negated_;
};

// Structs in an IN list match by field name, whatever the field order; a
// field the item lacks counts as NULL, a field only the item has never
// matches (ksqlDB's rule).
bool struct_equal_by_name(const Value& v, const Value& item) {
  for (const Field& f : item.as_struct()) {
    bool known = false;
    for (const Field& g : v.as_struct()) known = known || g.name == f.name;
    if (!known) return false;
  }
  for (const Field& f : v.as_struct()) {
    const Value* other = nullptr;
    for (const Field& g : item.as_struct())
      if (g.name == f.name) other = &g.value;
    if (!other || other->is_null() || f.value.is_null()) {
      if ((other && !other->is_null()) != !f.value.is_null()) return false;
      continue;
    }
    if (!sql_equal(f.value, *other)) return false;
  }
  return true;
}

class InListNode final : public EvalNode {
 public:
  InListNode(NodePtr v, std::vector<NodePtr> items, bool negated)
      : v_(std::move(v)), items_(std::move(items)), negated_(negated) {}
  Value eval(const EvalRow& row) const override {
    bool in = false;
    Value v = v_->eval(row);
    if (!v.is_null()) {
      for (const auto& item : items_) {
        Value x = item->eval(row);
        if (x.is_null()) continue;
        bool equal = v.kind() == TypeKind::Struct && x.kind() == TypeKind::Struct
                         ? struct_equal_by_name(v, x)
                         : sql_equal(v, x);
        if (equal) {
          in = true;
          break;
        }
      }
    }
    return Value::boolean(negated_ ? !in : in);
  }

 private:
  NodePtr v_;
  std::vector<NodePtr> items_;
  bool negated_;
};

// SQL LIKE over UTF-8: '%' any sequence, '_' one character, `escape`
// makes the next pattern character literal. A pattern is split into tokens
// once (at compile time when it is a constant).
class LikePattern {
 public:
  LikePattern(std::string pattern, std::optional<char> escape) : text_(std::move(pattern)) {
    std::string_view p = text_;
    for (size_t i = 0; i < p.size();) {
      char c = p[i];
      if (escape && c == *escape && i + 1 < p.size()) {
        size_t n = char_len(p, i + 1);
        toks_.push_back(Tok{Tok::Lit, p.substr(i + 1, n)});
        i += 1 + n;
      } else if (c == '%') {
        toks_.push_back(Tok{Tok::Any, {}});
        ++i;
      } else if (c == '_') {
        toks_.push_back(Tok{Tok::One, {}});
        ++i;
      } else {
        size_t n = char_len(p, i);
        toks_.push_back(Tok{Tok::Lit, p.substr(i, n)});
        i += n;
      }
    }
  }
  LikePattern(const LikePattern&) = delete;
  LikePattern& operator=(const LikePattern&) = delete;

  // Greedy matching that backtracks only to the last '%': no recursion,
  // O(len(s) * len(pattern)) at worst.
  bool matches(std::string_view s) const {
    size_t si = 0, ti = 0;
    size_t star_t = std::string_view::npos, star_s = 0;
    while (si < s.size()) {
      if (ti < toks_.size() && toks_[ti].kind == Tok::One) {
        si += char_len(s, si);
        ++ti;
      } else if (ti < toks_.size() && toks_[ti].kind == Tok::Lit &&
                 s.compare(si, toks_[ti].lit.size(), toks_[ti].lit) == 0) {
        si += toks_[ti].lit.size();
        ++ti;
      } else if (ti < toks_.size() && toks_[ti].kind == Tok::Any) {
        star_t = ti++;
        star_s = si;
      } else if (star_t != std::string_view::npos) {
        ti = star_t + 1;
        star_s += char_len(s, star_s);
        si = star_s;
      } else {
        return false;
      }
    }
    while (ti < toks_.size() && toks_[ti].kind == Tok::Any) ++ti;
    return ti == toks_.size();
  }

 private:
  struct Tok {
    enum Kind : uint8_t { Lit, One, Any } kind;
    std::string_view lit;  // one UTF-8 character, a view into text_
  };
  static size_t char_len(std::string_view t, size_t i) {
    size_t n = 1;
    while (i + n < t.size() && (static_cast<unsigned char>(t[i + n]) & 0xC0) == 0x80) ++n;
    return n;
  }
  std::string text_;
  std::vector<Tok> toks_;
};

class LikeNode final : public EvalNode {
 public:
  LikeNode(NodePtr v, NodePtr p, std::optional<char> escape, bool negated)
      : v_(std::move(v)), p_(std::move(p)), escape_(escape), negated_(negated) {
    // A constant pattern is split once, here.
    // (Children are null when the compiler only infers types.)
    if (const auto* k = dynamic_cast<const ConstNode*>(p_.get())) {
      const Value* c = k->peek(EvalRow{});
      if (c->kind() == TypeKind::String)
        fixed_ = std::make_unique<LikePattern>(c->as_string(), escape_);
    }
  }
  Value eval(const EvalRow& row) const override {
    bool m = false;
    Value sv;
    const Value& v = operand(*v_, row, sv);
    if (v.kind() == TypeKind::String) {
      if (fixed_) {
        m = fixed_->matches(v.as_string());
      } else {
        Value sp;
        const Value& p = operand(*p_, row, sp);
        if (p.kind() == TypeKind::String)
          m = LikePattern(p.as_string(), escape_).matches(v.as_string());
      }
    }
    return Value::boolean(negated_ ? !m : m);
  }

 private:
  NodePtr v_, p_;
  std::optional<char> escape_;
  bool negated_;
  std::unique_ptr<LikePattern> fixed_;
};

class CaseNode final : public EvalNode {
 public:
  CaseNode(NodePtr operand, std::vector<NodePtr> whens, std::vector<NodePtr> thens, NodePtr els,
           DataTypePtr type)
      : operand_(std::move(operand)),
        whens_(std::move(whens)),
        thens_(std::move(thens)),
        else_(std::move(els)),
        type_(std::move(type)) {}
  Value eval(const EvalRow& row) const override {
    Value op;
    if (operand_) op = operand_->eval(row);
    for (size_t i = 0; i < whens_.size(); ++i) {
      Value w = whens_[i]->eval(row);
      bool hit = operand_ ? (!op.is_null() && !w.is_null() && sql_equal(op, w)) : truth(w) == 1;
      if (hit) return widen(thens_[i]->eval(row));
    }
    return else_ ? widen(else_->eval(row)) : Value();
  }

 private:
  Value widen(Value v) const {
    if (v.is_null() || !type_) return v;
    auto c = coerce(v, *type_);
    return c ? std::move(*c) : v;
  }
  NodePtr operand_;
  std::vector<NodePtr> whens_, thens_;
  NodePtr else_;
  DataTypePtr type_;
};

// Java's rendering of a value as text (CAST(x AS STRING)).
std::string java_string(const Value& v) {
  switch (v.kind()) {
    case TypeKind::Null:
      return "null";
    case TypeKind::Boolean:
      return v.as_bool() ? "true" : "false";
    case TypeKind::Int:
      return std::to_string(v.as_int32());
    case TypeKind::BigInt:
      return std::to_string(v.as_int64());
    case TypeKind::Double:
      return java_double_string(v.as_double());
    case TypeKind::Decimal:
      return v.as_decimal().to_string();
    case TypeKind::String:
      return v.as_string();
    case TypeKind::Bytes:
      return v.as_bytes();
    case TypeKind::Timestamp:
      return format_timestamp(v.as_timestamp());
    case TypeKind::Date:
      return format_date(v.as_date());
    case TypeKind::Time:
      return format_time_of_day(v.as_time());
    case TypeKind::Array: {
      std::string out = "[";
      bool first = true;
      for (const auto& e : v.as_array()) {
        if (!first) out += ", ";
        out += java_string(e);
        first = false;
      }
      return out + "]";
    }
    case TypeKind::Map: {
      std::string out = "{";
      bool first = true;
      for (const auto& [k, e] : v.as_map()) {
        if (!first) out += ", ";
        out += k + "=" + java_string(e);
        first = false;
      }
      return out + "}";
    }
    case TypeKind::Struct: {
      std::string out = "Struct{";
      bool first = true;
      for (const auto& f : v.as_struct()) {
        if (f.value.is_null()) continue;
        if (!first) out += ",";
        out += f.name + "=" + java_string(f.value);
        first = false;
      }
      return out + "}";
    }
  }
  return "";
}

// CAST of one value, elements of arrays and map values included (ksqlDB
// casts them one by one): nullopt when a value cannot be cast.
std::optional<Value> cast_value(const Value& v, const DataType& to) {
  if (v.is_null()) return v;
  if (to.kind == TypeKind::String) return Value::string(java_string(v));
  if (to.kind == TypeKind::Int && v.kind() == TypeKind::BigInt)  // Java narrowing
    return Value::int32(static_cast<int32_t>(static_cast<uint32_t>(v.as_int64())));
  if (to.kind == TypeKind::Array && to.element && v.kind() == TypeKind::Array) {
    Array out;
    out.reserve(v.as_array().size());
    for (const Value& item : v.as_array()) {
      auto c = cast_value(item, *to.element);
      if (!c) return std::nullopt;
      out.push_back(std::move(*c));
    }
    return Value::array(std::move(out));
  }
  if (to.kind == TypeKind::Map && to.element && v.kind() == TypeKind::Map) {
    MapEntries out;
    out.reserve(v.as_map().size());
    for (const auto& [k, item] : v.as_map()) {
      auto c = cast_value(item, *to.element);
      if (!c) return std::nullopt;
      out.emplace_back(k, std::move(*c));
    }
    return Value::map(std::move(out));
  }
  return coerce(v, to);
}

class CastNode final : public EvalNode {
 public:
  CastNode(NodePtr c, DataTypePtr to) : c_(std::move(c)), to_(std::move(to)) {}
  Value eval(const EvalRow& row) const override {
    Value v = c_->eval(row);
    if (v.is_null()) return v;
    auto c = cast_value(v, *to_);
    if (!c) {
      note(row, "cannot cast " + java_string(v) + " to " + type_name(to_));
      return Value();
    }
    return std::move(*c);
  }

 private:
  NodePtr c_;
  DataTypePtr to_;
};

class CallNode final : public EvalNode {
 public:
  CallNode(std::string name, std::vector<NodePtr> args, ScalarCall call)
      : name_(std::move(name)), args_(std::move(args)), call_(std::move(call)) {}
  Value eval(const EvalRow& row) const override {
    ArgValues values;
    values.reserve(args_.size());
    for (const auto& a : args_) {
      values.push_back(a->eval(row));
      if (call_.null_on_null_arg && values.back().is_null()) return Value();
    }
    try {
      return call_.body(values);
    } catch (const std::exception& e) {
      note(row, name_ + ": " + e.what());
    } catch (...) {
      note(row, name_ + ": unknown exception");
    }
    return Value();
  }

 private:
  std::string name_;
  std::vector<NodePtr> args_;
  ScalarCall call_;
};

Value coerce_or_keep(Value v, const DataTypePtr& t) {
  if (v.is_null() || !t || t->kind == TypeKind::Null) return v;
  auto c = coerce(v, *t);
  return c ? std::move(*c) : v;
}

class ArrayNode final : public EvalNode {
 public:
  ArrayNode(std::vector<NodePtr> items, DataTypePtr element)
      : items_(std::move(items)), element_(std::move(element)) {}
  Value eval(const EvalRow& row) const override {
    Array out;
    out.reserve(items_.size());
    for (const auto& i : items_) out.push_back(coerce_or_keep(i->eval(row), element_));
    return Value::array(std::move(out));
  }

 private:
  std::vector<NodePtr> items_;
  DataTypePtr element_;
};

class MapNode final : public EvalNode {
 public:
  MapNode(std::vector<NodePtr> keys, std::vector<NodePtr> values, DataTypePtr value_type)
      : keys_(std::move(keys)), values_(std::move(values)), value_type_(std::move(value_type)) {}
  Value eval(const EvalRow& row) const override {
    MapEntries out;
    for (size_t i = 0; i < keys_.size(); ++i) {
      Value k = keys_[i]->eval(row);
      if (k.kind() != TypeKind::String) {
        note(row, "MAP keys must not be NULL");
        continue;
      }
      Value v = coerce_or_keep(values_[i]->eval(row), value_type_);
      auto it = std::find_if(out.begin(), out.end(),
                             [&](const auto& e) { return e.first == k.as_string(); });
      if (it != out.end()) {
        it->second = std::move(v);
      } else {
        out.emplace_back(k.as_string(), std::move(v));
      }
    }
    return Value::map(std::move(out));
  }

 private:
  std::vector<NodePtr> keys_, values_;
  DataTypePtr value_type_;
};

class StructNode final : public EvalNode {
 public:
  StructNode(std::vector<std::string> names, std::vector<NodePtr> items)
      : names_(std::move(names)), items_(std::move(items)) {}
  Value eval(const EvalRow& row) const override {
    StructFields out;
    out.reserve(items_.size());
    for (size_t i = 0; i < items_.size(); ++i)
      out.push_back(Field{names_[i], items_[i]->eval(row)});
    return Value::structure(std::move(out));
  }

 private:
  std::vector<std::string> names_;
  std::vector<NodePtr> items_;
};

// Lambda application: the body sees the enclosing lambdas' parameters
// followed by its own.
class LambdaFrame {
 public:
  LambdaFrame(const EvalRow& row, size_t outer, size_t own) : row_(row) {
    args_.reserve(outer + own);
    for (size_t i = 0; i < outer; ++i)
      args_.push_back(row.lambda_args ? row.lambda_args[i] : Value());
    args_.resize(outer + own);
    outer_ = outer;
  }
  Value call(const EvalNode& body, std::initializer_list<Value> params) {
    size_t i = outer_;
    for (const auto& p : params) args_[i++] = p;
    EvalRow inner = row_;
    inner.lambda_args = args_.data();
    return body.eval(inner);
  }

 private:
  const EvalRow& row_;
  std::vector<Value> args_;
  size_t outer_ = 0;
};

class FilterNode final : public EvalNode {
 public:
  FilterNode(NodePtr coll, NodePtr body, size_t outer, bool map)
      : coll_(std::move(coll)), body_(std::move(body)), outer_(outer), map_(map) {}
  Value eval(const EvalRow& row) const override {
    Value c = coll_->eval(row);
    if (map_) {
      if (c.kind() != TypeKind::Map) return Value();
      LambdaFrame frame(row, outer_, 2);
      MapEntries out;
      for (const auto& [k, v] : c.as_map())
        if (truth(frame.call(*body_, {Value::string(k), v})) == 1) out.emplace_back(k, v);
      return Value::map(std::move(out));
    }
    if (c.kind() != TypeKind::Array) return Value();
    LambdaFrame frame(row, outer_, 1);
    Array out;
    for (const auto& e : c.as_array())
      if (truth(frame.call(*body_, {e})) == 1) out.push_back(e);
    return Value::array(std::move(out));
  }

 private:
  NodePtr coll_, body_;
  size_t outer_;
  bool map_;
};

class TransformNode final : public EvalNode {
 public:
  TransformNode(NodePtr coll, NodePtr body, NodePtr value_body, size_t outer)
      : coll_(std::move(coll)),
        body_(std::move(body)),
        value_body_(std::move(value_body)),
        outer_(outer) {}
  Value eval(const EvalRow& row) const override {
    Value c = coll_->eval(row);
    if (value_body_) {
      if (c.kind() != TypeKind::Map) return Value();
      LambdaFrame frame(row, outer_, 2);
      MapEntries out;
      for (const auto& [k, v] : c.as_map()) {
        Value nk = frame.call(*body_, {Value::string(k), v});
        Value nv = frame.call(*value_body_, {Value::string(k), v});
        if (nk.kind() != TypeKind::String) {
          note(row, "TRANSFORM: map keys must be non-NULL strings");
          continue;
        }
        out.emplace_back(nk.as_string(), std::move(nv));
      }
      return Value::map(std::move(out));
    }
    if (c.kind() != TypeKind::Array) return Value();
    LambdaFrame frame(row, outer_, 1);
    Array out;
    out.reserve(c.as_array().size());
    for (const auto& e : c.as_array()) out.push_back(frame.call(*body_, {e}));
    return Value::array(std::move(out));
  }

 private:
  NodePtr coll_, body_, value_body_;
  size_t outer_;
};

class ReduceNode final : public EvalNode {
 public:
  ReduceNode(NodePtr coll, NodePtr init, NodePtr body, size_t outer)
      : coll_(std::move(coll)), init_(std::move(init)), body_(std::move(body)), outer_(outer) {}
  Value eval(const EvalRow& row) const override {
    Value c = coll_->eval(row);
    Value state = init_->eval(row);
    if (c.kind() != TypeKind::Array) return Value();
    LambdaFrame frame(row, outer_, 2);
    for (const auto& e : c.as_array()) state = frame.call(*body_, {state, e});
    return state;
  }

 private:
  NodePtr coll_, init_, body_;
  size_t outer_;
};

// ---------------------------------------------------------------------------
// The compiler proper

struct CompileFailure {
  Error error;
};

struct Typed {
  NodePtr node;  // nullptr for a typed-only aggregate
  DataTypePtr type;
  bool constant = false;
};

DataTypePtr T(TypeKind k) {
  return DataType::of(k);
}

class Compiler {
 public:
  Compiler(const Scope& scope, const FunctionRegistry& fns, bool typing_only,
           const CompileOptions& options)
      : scope_(scope),
        fns_(fns),
        typing_only_(typing_only),
        allow_aggregates_(options.allow_aggregates),
        allow_table_functions_(options.allow_table_functions),
        clause_(options.clause) {}

  Typed compile(const Expr& e) {
    if (auto bound = bound_slot(e)) return *bound;
    switch (e.kind) {
      case ExprKind::Literal:
        return constant(e.value, literal_type(e.value));
      case ExprKind::Column:
        return column(e);
      case ExprKind::Dereference:
        return dereference(e);
      case ExprKind::Subscript:
        return subscript(e);
      case ExprKind::Unary:
        return unary(e);
      case ExprKind::Binary:
        return binary(e);
      case ExprKind::Between:
        return between(e);
      case ExprKind::InList:
        return in_list(e);
      case ExprKind::Like:
        return like(e);
      case ExprKind::IsNull: {
        Typed v = compile(*e.args[0]);
        return fold(make(std::make_shared<IsNullNode>(v.node, e.negated)), T(TypeKind::Boolean),
                    v.constant);
      }
      case ExprKind::IsDistinctFrom: {
        Typed l = compile(*e.args[0]), r = compile(*e.args[1]);
        if (!comparable(l.type, r.type, BinaryOp::Eq))
          fail(e.loc, "Cannot compare " + operand(*e.args[0], l.type) + " to " +
                          operand(*e.args[1], r.type) + " with " +
                          (e.negated ? "IS_NOT_DISTINCT_FROM." : "IS_DISTINCT_FROM."));
        return fold(make(std::make_shared<DistinctNode>(l.node, r.node, e.negated)),
                    T(TypeKind::Boolean), l.constant && r.constant);
      }
      case ExprKind::Case:
        return case_expr(e);
      case ExprKind::Cast:
        return cast(e);
      case ExprKind::FunctionCall:
        return function(e);
      case ExprKind::ArrayConstructor:
        return array_ctor(e);
      case ExprKind::MapConstructor:
        return map_ctor(e);
      case ExprKind::StructConstructor:
        return struct_ctor(e);
      case ExprKind::Lambda:
        fail(e.loc, "A lambda is only allowed as an argument of FILTER, TRANSFORM or REDUCE");
      case ExprKind::TimeUnit:
        fail(e.loc, "Unexpected time unit " + e.name);
      case ExprKind::InSubquery:
      case ExprKind::Exists:
      case ExprKind::ScalarSubquery:
        fail(e.loc, "not supported yet: subqueries outside WHERE, SELECT and HAVING: " + to_sql(e));
    }
    fail(e.loc, "unsupported expression");
  }

 private:
  [[noreturn]] void fail(SourceLocation loc, const std::string& what) {
    throw CompileFailure{sql_error(loc, what)};
  }

  // In typing-only mode no nodes are built: node may be nullptr.
  NodePtr make(NodePtr n) { return typing_only_ ? nullptr : std::move(n); }

  Typed constant(Value v, DataTypePtr type) {
    return Typed{make(std::make_shared<ConstNode>(std::move(v))), std::move(type), true};
  }

  // Folds a node whose inputs are all constant into its value.
  Typed fold(NodePtr node, DataTypePtr type, bool all_constant) {
    if (all_constant && node) {
      EvalRow empty;
      return Typed{std::make_shared<ConstNode>(node->eval(empty)), std::move(type), true};
    }
    return Typed{std::move(node), std::move(type), all_constant};
  }

  static DataTypePtr literal_type(const Value& v) {
    if (v.kind() == TypeKind::Decimal)
      return DataType::decimal(v.as_decimal().precision(), v.as_decimal().scale());
    return T(v.kind());
  }

  std::optional<Typed> bound_slot(const Expr& e) {
    for (const auto& b : scope_.bindings()) {
      if (!b.expr || !same_expr(*b.expr, e)) continue;
      if (b.slot.origin == Slot::Origin::External) {
        if (b.slot.index >= scope_.externals().size()) fail(e.loc, "invalid external binding");
        return Typed{make(std::make_shared<ExternalNode>(scope_.externals()[b.slot.index])), b.type,
                     false};
      }
      return Typed{make(std::make_shared<SlotNode>(b.slot)), b.type, false};
    }
    return std::nullopt;
  }

  // "ID (INTEGER)", "'x' (STRING)" as ksqlDB's messages show operands.
  static std::string operand(const Expr& e, const DataTypePtr& t) {
    return to_sql(e) + " (" + type_name(t) + ")";
  }

  Typed column(const Expr& e) {
    if (e.qualifier.empty()) {
      for (size_t i = lambda_vars_.size(); i-- > 0;) {
        if (lambda_vars_[i].name == e.name || iequals(lambda_vars_[i].name, e.name))
          return Typed{make(std::make_shared<SlotNode>(
                           Slot{Slot::Origin::Lambda, static_cast<uint32_t>(i)})),
                       lambda_vars_[i].type, false};
      }
    }
    auto c = scope_.find(e.qualifier, e.name);
    if (!c.ok()) {
      std::string msg = c.error().message;
      if (!clause_.empty() && msg.compare(0, 8, "Column '") == 0)
        msg = clause_ + " column" + msg.substr(6);
      fail(e.loc, msg);
    }
    const ScopeColumn* col = c.value();
    if (col->slot.origin == Slot::Origin::External) {
      if (col->slot.index >= scope_.externals().size()) fail(e.loc, "invalid external binding");
      return Typed{make(std::make_shared<ExternalNode>(scope_.externals()[col->slot.index])),
                   col->type, false};
    }
    return Typed{make(std::make_shared<SlotNode>(col->slot)), col->type, false};
  }

  Typed dereference(const Expr& e) {
    Typed base = compile(*e.args[0]);
    if (is_null_type(base.type) || base.type->kind != TypeKind::Struct)
      fail(e.loc,
           "Expected STRUCT type for field access " + to_sql(e) + ", got " + type_name(base.type));
    const auto& fields = base.type->fields;
    size_t index = fields.size();
    for (size_t i = 0; i < fields.size(); ++i)
      if (fields[i].name == e.name) index = i;
    if (index == fields.size())
      for (size_t i = 0; i < fields.size(); ++i)
        if (iequals(fields[i].name, e.name)) index = i;
    if (index == fields.size())
      fail(e.loc, "Could not find field '" + e.name + "' in '" + to_sql(*e.args[0]) + "'.");
    return fold(make(std::make_shared<DerefNode>(base.node, fields[index].name, index)),
                fields[index].type, base.constant);
  }

  Typed subscript(const Expr& e) {
    Typed base = compile(*e.args[0]);
    Typed index = compile(*e.args[1]);
    if (!is_null_type(base.type) && base.type->kind == TypeKind::Array) {
      if (!is_null_type(index.type) && !is_integral(*index.type))
        fail(e.args[1]->loc, "Array index must be INTEGER or BIGINT, got " + type_name(index.type));
      return fold(make(std::make_shared<ArrayIndexNode>(base.node, index.node)), base.type->element,
                  base.constant && index.constant);
    }
    if (!is_null_type(base.type) && base.type->kind == TypeKind::Map) {
      if (!is_null_type(index.type) && index.type->kind != TypeKind::String)
        fail(e.args[1]->loc, "Map key must be STRING, got " + type_name(index.type));
      return fold(make(std::make_shared<MapKeyNode>(base.node, index.node)), base.type->element,
                  base.constant && index.constant);
    }
    fail(e.loc, "Subscript expects ARRAY or MAP, got " + operand(*e.args[0], base.type));
  }

  Typed unary(const Expr& e) {
    Typed v = compile(*e.args[0]);
    if (e.unary_op == UnaryOp::Not) {
      if (!is_null_type(v.type) && v.type->kind != TypeKind::Boolean)
        fail(e.loc, "NOT expects a BOOLEAN, got " + operand(*e.args[0], v.type));
      return fold(make(std::make_shared<NotNode>(v.node)), T(TypeKind::Boolean), v.constant);
    }
    if (is_null_type(v.type) || !is_numeric(*v.type))
      fail(e.loc, "Unary " + std::string(e.unary_op == UnaryOp::Minus ? "minus" : "plus") +
                      " expects a number, got " + operand(*e.args[0], v.type));
    if (e.unary_op == UnaryOp::Plus) return v;
    return fold(make(std::make_shared<NegateNode>(v.node)), v.type, v.constant);
  }

  Typed binary(const Expr& e) {
    if (is_logical(e.binary_op)) {
      Typed l = compile(*e.args[0]), r = compile(*e.args[1]);
      for (const auto* t : {&l, &r}) {
        if (!is_null_type(t->type) && t->type->kind != TypeKind::Boolean) {
          const Expr& side = *e.args[t == &l ? 0 : 1];
          fail(side.loc, std::string(binary_op_symbol(e.binary_op)) +
                             " expects BOOLEAN operands, got " + operand(side, t->type));
        }
      }
      NodePtr n = e.binary_op == BinaryOp::And ? make(std::make_shared<AndNode>(l.node, r.node))
                                               : make(std::make_shared<OrNode>(l.node, r.node));
      return fold(n, T(TypeKind::Boolean), l.constant && r.constant);
    }
    Typed l = compile(*e.args[0]), r = compile(*e.args[1]);
    if (is_comparison(e.binary_op)) {
      // A TIMESTAMP, DATE or TIME against a string literal: the literal is
      // read as that type now (ksqlDB: WHERE D > '2026-01-01').
      if (!is_null_type(l.type) && is_temporal(*l.type)) {
        if (auto c = coerce_string_literal(*e.args[1], l.type)) r = std::move(*c);
      } else if (!is_null_type(r.type) && is_temporal(*r.type)) {
        if (auto c = coerce_string_literal(*e.args[0], r.type)) l = std::move(*c);
      }
      if (is_null_type(l.type) && is_null_type(r.type))
        fail(e.loc, "Comparison with NULL not supported: " + to_sql(*e.args[0]) + " " +
                        binary_op_symbol(e.binary_op) + " " + to_sql(*e.args[1]));
      if (!comparable(l.type, r.type, e.binary_op))
        fail(e.loc, "Cannot compare " + operand(*e.args[0], l.type) + " to " +
                        operand(*e.args[1], r.type) + " with " + comparison_name(e.binary_op) +
                        ".");
      return fold(make(std::make_shared<CompareNode>(e.binary_op, l.node, r.node)),
                  T(TypeKind::Boolean), l.constant && r.constant);
    }
    if (e.binary_op == BinaryOp::Concat) {
      if ((!is_null_type(l.type) && l.type->kind != TypeKind::String) ||
          (!is_null_type(r.type) && r.type->kind != TypeKind::String))
        fail(e.loc, "Error processing expression: " + to_sql(e) +
                        ". || expects STRING operands, got " + type_name(l.type) + " " +
                        type_name(r.type));
      return fold(make(std::make_shared<ArithNode>(BinaryOp::Add, ArithMode::Concat, l.node, r.node,
                                                   T(TypeKind::String))),
                  T(TypeKind::String), l.constant && r.constant);
    }
    auto result = arithmetic_result_type(e.binary_op, l.type, r.type);
    if (!result)
      fail(e.loc, "Error processing expression: " + to_sql(e) + ". Unsupported arithmetic types. " +
                      type_name(l.type) + " " + type_name(r.type));
    ArithMode mode;
    switch ((*result)->kind) {
      case TypeKind::Int:
        mode = ArithMode::Int;
        break;
      case TypeKind::BigInt:
        mode = ArithMode::BigInt;
        break;
      case TypeKind::Double:
        mode = ArithMode::Double;
        break;
      case TypeKind::Decimal:
        mode = ArithMode::Decimal;
        break;
      default:
        mode = ArithMode::Concat;
        break;
    }
    return fold(make(std::make_shared<ArithNode>(e.binary_op, mode, l.node, r.node, *result)),
                *result, l.constant && r.constant);
  }

  Typed between(const Expr& e) {
    Typed v = compile(*e.args[0]), lo = compile(*e.args[1]), hi = compile(*e.args[2]);
    if (!is_null_type(v.type) && is_temporal(*v.type)) {
      // Bounds written as string literals read as the tested type.
      if (auto c = coerce_string_literal(*e.args[1], v.type)) lo = std::move(*c);
      if (auto c = coerce_string_literal(*e.args[2], v.type)) hi = std::move(*c);
    }
    for (const auto& [side, t] : {std::pair<const Expr*, const Typed*>{e.args[1].get(), &lo},
                                  std::pair<const Expr*, const Typed*>{e.args[2].get(), &hi}}) {
      if (!comparable(v.type, t->type, BinaryOp::Gte))
        fail(e.loc, "Cannot compare " + operand(*e.args[0], v.type) + " to " +
                        operand(*side, t->type) + " with BETWEEN.");
    }
    return fold(make(std::make_shared<BetweenNode>(v.node, lo.node, hi.node, e.negated)),
                T(TypeKind::Boolean), v.constant && lo.constant && hi.constant);
  }

  // A string literal where a value of type `t` is expected: parsed now,
  // as ksqlDB coerces literals in IN lists and constructors.
  std::optional<Typed> coerce_string_literal(const Expr& item, const DataTypePtr& t) {
    if (item.kind != ExprKind::Literal || item.value.kind() != TypeKind::String || is_null_type(t))
      return std::nullopt;
    if (t->kind == TypeKind::String) return std::nullopt;
    if (!is_numeric(*t) && t->kind != TypeKind::Boolean && !is_temporal(*t)) return std::nullopt;
    auto c = coerce(item.value, *t);
    if (!c)
      fail(item.loc, "invalid input syntax for type " + type_name(t) + ": \"" +
                         item.value.as_string() + "\".");
    return constant(std::move(*c), t);
  }

  // Compiles `e` where a value of type `hint` is expected: string literals,
  // also inside ARRAY, MAP and STRUCT constructors, are parsed as `hint`'s
  // (element, value, field) type, as ksqlDB coerces IN-list items.
  Typed compile_with_hint(const Expr& e, const DataTypePtr& hint) {
    if (is_null_type(hint)) return compile(e);
    if (auto t = coerce_string_literal(e, hint)) return *t;
    if (e.kind == ExprKind::ArrayConstructor && hint->kind == TypeKind::Array && !e.args.empty()) {
      std::vector<Typed> items;
      DataTypePtr element = T(TypeKind::Null);
      bool all_constant = true;
      for (const auto& a : e.args) {
        items.push_back(compile_with_hint(*a, hint->element));
        auto c = common_type(element, items.back().type);
        if (!c)
          fail(a->loc, "ARRAY elements must have a common type: " + to_sql(*a) + " is " +
                           type_name(items.back().type) + ", others are " + type_name(element));
        element = *c;
        all_constant = all_constant && items.back().constant;
      }
      if (is_null_type(element)) element = hint->element;
      std::vector<NodePtr> nodes;
      for (auto& t : items) nodes.push_back(t.node);
      return fold(make(std::make_shared<ArrayNode>(std::move(nodes), element)),
                  DataType::array(element), all_constant);
    }
    if (e.kind == ExprKind::MapConstructor && hint->kind == TypeKind::Map && !e.args.empty()) {
      std::vector<NodePtr> keys, values;
      DataTypePtr value_type = T(TypeKind::Null);
      bool all_constant = true;
      for (size_t i = 0; i + 1 < e.args.size(); i += 2) {
        Typed k = compile(*e.args[i]);
        if (!is_null_type(k.type) && k.type->kind != TypeKind::String)
          fail(e.args[i]->loc, "MAP keys must be STRING, got " + operand(*e.args[i], k.type));
        Typed v = compile_with_hint(*e.args[i + 1], hint->element);
        auto c = common_type(value_type, v.type);
        if (!c)
          fail(e.args[i + 1]->loc, "MAP values must have a common type: " + to_sql(*e.args[i + 1]) +
                                       " is " + type_name(v.type) + ", others are " +
                                       type_name(value_type));
        value_type = *c;
        keys.push_back(k.node);
        values.push_back(v.node);
        all_constant = all_constant && k.constant && v.constant;
      }
      if (is_null_type(value_type)) value_type = hint->element;
      return fold(make(std::make_shared<MapNode>(std::move(keys), std::move(values), value_type)),
                  DataType::map(value_type), all_constant);
    }
    if (e.kind == ExprKind::StructConstructor && hint->kind == TypeKind::Struct) {
      std::vector<StructFieldType> fields;
      std::vector<NodePtr> nodes;
      bool all_constant = true;
      for (size_t i = 0; i < e.args.size(); ++i) {
        DataTypePtr field_hint;
        for (const auto& f : hint->fields)
          if (f.name == e.names[i]) field_hint = f.type;
        Typed t = compile_with_hint(*e.args[i], field_hint);
        fields.push_back(StructFieldType{e.names[i], t.type});
        nodes.push_back(t.node);
        all_constant = all_constant && t.constant;
      }
      return fold(make(std::make_shared<StructNode>(e.names, std::move(nodes))),
                  DataType::structure(std::move(fields)), all_constant);
    }
    return compile(e);
  }

  // A literal IN-list item next to a value of type `t`, as ksqlDB coerces
  // them: a string is read as a number (by value: '4.000' matches 4) or a
  // boolean (any prefix of true/yes/false/no) for such values, and a number
  // or boolean literal is read as its text for a STRING value.
  std::optional<Typed> in_list_literal(const Expr& item, const DataTypePtr& t) {
    if (item.kind != ExprKind::Literal || item.value.is_null() || is_null_type(t))
      return std::nullopt;
    const Value& lit = item.value;
    auto invalid = [&]() {
      fail(item.loc,
           "invalid input syntax for type " + type_name(t) + ": \"" + lit.as_string() + "\".");
    };
    if (lit.kind() == TypeKind::String && is_numeric(*t)) {
      std::string text = lit.as_string();
      while (!text.empty() && text.front() == ' ') text.erase(text.begin());
      while (!text.empty() && text.back() == ' ') text.pop_back();
      if (auto d = Decimal::parse(text))
        return constant(Value::decimal(*d), literal_type(Value::decimal(*d)));
      char* end = nullptr;
      double x = text.empty() ? 0 : std::strtod(text.c_str(), &end);
      if (text.empty() || end != text.c_str() + text.size()) invalid();
      return constant(Value::float64(x), T(TypeKind::Double));
    }
    if (lit.kind() == TypeKind::String && t->kind == TypeKind::Boolean) {
      auto prefix_of = [&](const char* word) {
        std::string_view w(word);
        const std::string& s = lit.as_string();
        return !s.empty() && s.size() <= w.size() && iequals(w.substr(0, s.size()), s);
      };
      if (prefix_of("true") || prefix_of("yes")) return constant(Value::boolean(true), t);
      if (prefix_of("false") || prefix_of("no")) return constant(Value::boolean(false), t);
      invalid();
    }
    if (t->kind == TypeKind::String && lit.kind() != TypeKind::String) {
      std::string text = lit.kind() == TypeKind::Boolean   ? (lit.as_bool() ? "true" : "false")
                         : lit.kind() == TypeKind::Double  ? java_double_string(lit.as_double())
                         : lit.kind() == TypeKind::Decimal ? lit.as_decimal().to_string()
                                                           : lit.to_string();
      return constant(Value::string(std::move(text)), t);
    }
    return coerce_string_literal(item, t);
  }

  Typed in_list(const Expr& e) {
    Typed v = compile(*e.args[0]);
    std::vector<NodePtr> items;
    bool all_constant = v.constant;
    for (size_t i = 1; i < e.args.size(); ++i) {
      const Expr& item = *e.args[i];
      std::optional<Typed> t = in_list_literal(item, v.type);
      if (!t) t = compile_with_hint(item, v.type);
      if (!is_null_type(v.type) && !is_null_type(t->type) && !in_compatible(v.type, t->type))
        fail(item.loc, "operator does not exist: " + type_name(v.type) + " = " +
                           type_name(t->type) + " (" + to_sql(item) + ")");
      all_constant = all_constant && t->constant;
      items.push_back(t->node);
    }
    return fold(make(std::make_shared<InListNode>(v.node, std::move(items), e.negated)),
                T(TypeKind::Boolean), all_constant);
  }

  static bool in_compatible(const DataTypePtr& a, const DataTypePtr& b) {
    if (is_numeric(*a) && is_numeric(*b)) return true;
    if (a->kind != b->kind) return false;
    if (a->kind == TypeKind::Array || a->kind == TypeKind::Map)
      return is_null_type(a->element) || is_null_type(b->element) ||
             in_compatible(a->element, b->element);
    if (a->kind == TypeKind::Struct) {
      // Fields present on both sides must be comparable; others just never match.
      for (const auto& fb : b->fields)
        for (const auto& fa : a->fields)
          if (fa.name == fb.name && !is_null_type(fa.type) && !is_null_type(fb.type) &&
              !in_compatible(fa.type, fb.type))
            return false;
      return true;
    }
    return true;
  }

  Typed like(const Expr& e) {
    Typed v = compile(*e.args[0]), p = compile(*e.args[1]);
    for (const auto& [side, t] : {std::pair<const Expr*, const Typed*>{e.args[0].get(), &v},
                                  std::pair<const Expr*, const Typed*>{e.args[1].get(), &p}}) {
      if (!is_null_type(t->type) && t->type->kind != TypeKind::String)
        fail(side->loc, "LIKE expects STRING operands, got " + operand(*side, t->type));
    }
    return fold(make(std::make_shared<LikeNode>(v.node, p.node, e.escape, e.negated)),
                T(TypeKind::Boolean), v.constant && p.constant);
  }

  Typed case_expr(const Expr& e) {
    Typed operand_t;
    bool all_constant = true;
    if (e.has_operand) {
      operand_t = compile(*e.args[0]);
      all_constant = operand_t.constant;
    }
    std::vector<NodePtr> whens, thens;
    std::vector<Typed> results;
    std::vector<const Expr*> result_exprs;
    for (size_t i = 0; i < e.case_when_count(); ++i) {
      const Expr& w = *e.case_when(i);
      Typed wt = compile(w);
      if (e.has_operand) {
        if (!comparable(operand_t.type, wt.type, BinaryOp::Eq))
          fail(w.loc, "Cannot compare " + operand(*e.args[0], operand_t.type) + " to " +
                          operand(w, wt.type) + " with EQUAL.");
      } else if (!is_null_type(wt.type) && wt.type->kind != TypeKind::Boolean) {
        fail(w.loc, "WHEN operand type should be boolean. Type for '" + to_sql(w) + "' is " +
                        type_name(wt.type));
      }
      whens.push_back(wt.node);
      all_constant = all_constant && wt.constant;
      results.push_back(compile(*e.case_then(i)));
      result_exprs.push_back(e.case_then(i).get());
    }
    if (e.has_else) {
      results.push_back(compile(*e.case_else()));
      result_exprs.push_back(e.case_else());
    }
    DataTypePtr type = T(TypeKind::Null);
    for (size_t i = 0; i < results.size(); ++i) {
      auto c = common_type(type, results[i].type);
      if (!c)
        fail(result_exprs[i]->loc,
             "Invalid Case expression. Type for all 'THEN' clauses should be the same. "
             "Result expression '" +
                 to_sql(*result_exprs[i]) + "' has type " + type_name(results[i].type) +
                 ", expected " + type_name(type) + ".");
      type = *c;
      all_constant = all_constant && results[i].constant;
    }
    if (is_null_type(type))
      fail(e.loc, "Invalid Case expression. All case branches have NULL type");
    for (size_t i = 0; i < e.case_when_count(); ++i) thens.push_back(results[i].node);
    NodePtr els = e.has_else ? results.back().node : nullptr;
    return fold(make(std::make_shared<CaseNode>(operand_t.node, std::move(whens), std::move(thens),
                                                els, type)),
                type, all_constant);
  }

  Typed cast(const Expr& e) {
    Typed v = compile(*e.args[0]);
    if (!castable(*(v.type ? v.type : T(TypeKind::Null)), *e.type))
      fail(e.loc,
           "Cast of " + type_name(v.type) + " to " + type_name(e.type) + " is not supported");
    if (!is_null_type(v.type) && *v.type == *e.type) return Typed{v.node, e.type, v.constant};
    return fold(make(std::make_shared<CastNode>(v.node, e.type)), e.type, v.constant);
  }

  Typed function(const Expr& e) {
    const FunctionDef* def = fns_.find(e.name);
    if (!def) fail(e.loc, "Can't find any functions with the name '" + e.name + "'");
    if (def->kind == FunctionDef::Kind::Lambda) return lambda_function(e);
    if (def->kind == FunctionDef::Kind::Table) return table_function(e);
    if (def->kind == FunctionDef::Kind::Aggregate) {
      if (!typing_only_)
        fail(e.loc, "Aggregate function " + to_sql(e) +
                        " cannot be evaluated here (aggregates are computed by GROUP BY)");
      if (!allow_aggregates_) fail(e.loc, "Aggregate functions are not allowed here: " + to_sql(e));
      if (in_aggregate_)
        fail(e.loc, "Aggregate functions can not be nested: " + in_aggregate_text_);
      in_aggregate_ = true;
      in_aggregate_text_ = to_sql(e);
      std::vector<DataTypePtr> types;
      for (const auto& a : e.args) types.push_back(compile(*a).type);
      in_aggregate_ = false;
      auto t = fns_.aggregate_result_type(e.name, types);
      if (!t.ok()) fail(e.loc, t.error().message);
      return Typed{nullptr, *t, false};
    }
    if (e.star) fail(e.loc, "Function " + e.name + " does not accept *");
    std::vector<Typed> args;
    std::vector<DataTypePtr> types;
    bool all_constant = true;
    for (const auto& a : e.args) {
      if (args.empty() && takes_time_unit(e.name)) {
        // TIMESTAMPADD(SECONDS, n, ts) and its kin: the first argument is a
        // time unit word, passed on as its milliseconds.
        const bool word = a->kind == ExprKind::TimeUnit ||
                          (a->kind == ExprKind::Column && a->qualifier.empty());
        const int64_t ms = word ? time_unit_millis(a->name) : 0;
        if (ms == 0)
          fail(a->loc, e.name + " expects a time unit first (MILLISECONDS, SECONDS, MINUTES, " +
                           "HOURS, DAYS), got " + to_sql(*a));
        Expr unit;
        unit.loc = a->loc;
        unit.value = Value::int64(ms);
        args.push_back(compile(unit));
        types.push_back(args.back().type);
        continue;
      }
      args.push_back(compile(*a));
      types.push_back(args.back().type ? args.back().type : T(TypeKind::Null));
      all_constant = all_constant && args.back().constant;
    }
    auto call = fns_.resolve_scalar(e.name, types);
    if (!call.ok()) fail(e.loc, call.error().message);
    std::vector<NodePtr> nodes;
    for (auto& a : args) nodes.push_back(a.node);
    ScalarCall c = std::move(call.value());
    DataTypePtr rt = c.return_type;
    bool deterministic = c.deterministic;
    return fold(make(std::make_shared<CallNode>(e.name, std::move(nodes), std::move(c))), rt,
                all_constant && deterministic);
  }

  struct LambdaVar {
    std::string name;
    DataTypePtr type;
  };

  // Compiles a lambda's body with its parameters typed `params`.
  Typed lambda_body(const Expr& lambda, const std::vector<DataTypePtr>& params) {
    if (lambda.kind != ExprKind::Lambda)
      fail(lambda.loc, "Expected a lambda, got " + to_sql(lambda));
    if (lambda.names.size() != params.size())
      fail(lambda.loc, "Lambda " + to_sql(lambda) + " must take " + std::to_string(params.size()) +
                           " parameter(s)");
    for (size_t i = 0; i < params.size(); ++i)
      lambda_vars_.push_back(LambdaVar{lambda.names[i], params[i]});
    Typed body = compile(*lambda.args[0]);
    lambda_vars_.resize(lambda_vars_.size() - params.size());
    body.constant = false;
    return body;
  }

  // A table function's call is typed where the options allow it (a
  // stream's SELECT); the planner's flat map computes its values and binds
  // the call to them, so one compiled anywhere else is refused.
  Typed table_function(const Expr& e) {
    if (!allow_table_functions_ || !typing_only_)
      fail(e.loc, "Table function " + to_sql(e) + " is not allowed" +
                      (clause_.empty() ? std::string(" here") : " in " + clause_) +
                      ": table functions are supported only in the SELECT of a query over a "
                      "stream");
    if (in_table_function_) fail(e.loc, "Table functions cannot be nested: " + to_sql(e));
    if (e.star) fail(e.loc, "Function " + e.name + " does not accept *");
    in_table_function_ = true;
    std::vector<DataTypePtr> types;
    for (const auto& a : e.args) types.push_back(compile(*a).type);
    in_table_function_ = false;
    auto call = fns_.resolve_table(e.name, types);
    if (!call.ok()) fail(e.loc, call.error().message);
    return Typed{nullptr, call->return_type, false};
  }

  Typed lambda_function(const Expr& e) {
    const size_t outer = lambda_vars_.size();
    if (e.args.empty()) fail(e.loc, no_matching_overload(e.name, {}).message);
    Typed coll = compile(*e.args[0]);
    const bool is_map = !is_null_type(coll.type) && coll.type->kind == TypeKind::Map;
    const bool is_array = !is_null_type(coll.type) && coll.type->kind == TypeKind::Array;
    auto mismatch = [&]() {
      std::vector<DataTypePtr> types{coll.type};
      for (size_t i = 1; i < e.args.size(); ++i)
        types.push_back(e.args[i]->kind == ExprKind::Lambda ? T(TypeKind::Null)
                                                            : compile(*e.args[i]).type);
      fail(e.loc, no_matching_overload(e.name, types).message);
    };
    const DataTypePtr key_t = T(TypeKind::String);
    if (e.name == "FILTER") {
      if (e.args.size() != 2 || (!is_map && !is_array)) mismatch();
      std::vector<DataTypePtr> params = is_map ? std::vector<DataTypePtr>{key_t, coll.type->element}
                                               : std::vector<DataTypePtr>{coll.type->element};
      Typed body = lambda_body(*e.args[1], params);
      if (!is_null_type(body.type) && body.type->kind != TypeKind::Boolean)
        fail(e.args[1]->loc, "FILTER's lambda must return BOOLEAN, got " + type_name(body.type));
      return Typed{make(std::make_shared<FilterNode>(coll.node, body.node, outer, is_map)),
                   coll.type, false};
    }
    if (e.name == "TRANSFORM") {
      if (is_array && e.args.size() == 2) {
        Typed body = lambda_body(*e.args[1], {coll.type->element});
        return Typed{make(std::make_shared<TransformNode>(coll.node, body.node, nullptr, outer)),
                     DataType::array(body.type), false};
      }
      if (is_map && e.args.size() == 3) {
        Typed kb = lambda_body(*e.args[1], {key_t, coll.type->element});
        Typed vb = lambda_body(*e.args[2], {key_t, coll.type->element});
        if (!is_null_type(kb.type) && kb.type->kind != TypeKind::String)
          fail(e.args[1]->loc,
               "TRANSFORM's key lambda must return STRING, got " + type_name(kb.type));
        return Typed{make(std::make_shared<TransformNode>(coll.node, kb.node, vb.node, outer)),
                     DataType::map(vb.type), false};
      }
      mismatch();
    }
    if (e.name == "REDUCE") {
      if (!is_array || e.args.size() != 3) mismatch();
      Typed init = compile(*e.args[1]);
      Typed body = lambda_body(*e.args[2], {init.type, coll.type->element});
      auto t = common_type(init.type, body.type);
      if (!t)
        fail(e.args[2]->loc, "REDUCE's lambda must return " + type_name(init.type) + ", got " +
                                 type_name(body.type));
      return Typed{make(std::make_shared<ReduceNode>(coll.node, init.node, body.node, outer)), *t,
                   false};
    }
    fail(e.loc, "Unknown lambda function " + e.name);
  }

  // The common element type of `items`, string literals coerced to it.
  std::vector<Typed> unify(const std::vector<const Expr*>& items, DataTypePtr& type,
                           const char* what) {
    std::vector<Typed> out(items.size());
    type = T(TypeKind::Null);
    std::vector<bool> done(items.size(), false);
    // Non-literal-string items decide the type; string literals follow.
    for (size_t i = 0; i < items.size(); ++i) {
      const Expr& it = *items[i];
      if (it.kind == ExprKind::Literal && it.value.kind() == TypeKind::String) continue;
      out[i] = compile(it);
      done[i] = true;
      auto c = common_type(type, out[i].type);
      if (!c)
        fail(it.loc, std::string(what) + " elements must have a common type: " + to_sql(it) +
                         " is " + type_name(out[i].type) + ", others are " + type_name(type));
      type = *c;
    }
    for (size_t i = 0; i < items.size(); ++i) {
      if (done[i]) continue;
      std::optional<Typed> t = coerce_string_literal(*items[i], type);
      if (!t) t = compile(*items[i]);
      out[i] = *t;
      auto c = common_type(type, out[i].type);
      if (!c)
        fail(items[i]->loc, std::string(what) +
                                " elements must have a common type: " + to_sql(*items[i]) + " is " +
                                type_name(out[i].type) + ", others are " + type_name(type));
      type = *c;
    }
    return out;
  }

  Typed array_ctor(const Expr& e) {
    std::vector<const Expr*> items;
    for (const auto& a : e.args) items.push_back(a.get());
    DataTypePtr element;
    auto typed = unify(items, element, "ARRAY");
    if (is_null_type(element) && !items.empty())
      fail(e.loc,
           "Can't infer a type of null. Please explicitly cast it to a required type, e.g. "
           "CAST(null AS VARCHAR).");
    if (items.empty())
      fail(e.loc, "Array constructor cannot be empty: its element type is unknown");
    std::vector<NodePtr> nodes;
    bool all_constant = true;
    for (auto& t : typed) {
      nodes.push_back(t.node);
      all_constant = all_constant && t.constant;
    }
    DataTypePtr type = DataType::array(element);
    return fold(make(std::make_shared<ArrayNode>(std::move(nodes), element)), type, all_constant);
  }

  Typed map_ctor(const Expr& e) {
    std::vector<const Expr*> keys, values;
    for (size_t i = 0; i + 1 < e.args.size(); i += 2) {
      keys.push_back(e.args[i].get());
      values.push_back(e.args[i + 1].get());
    }
    if (keys.empty()) fail(e.loc, "Map constructor cannot be empty: its value type is unknown");
    bool all_constant = true;
    std::vector<NodePtr> key_nodes;
    for (const Expr* k : keys) {
      Typed t = compile(*k);
      if (!is_null_type(t.type) && t.type->kind != TypeKind::String)
        fail(k->loc, "MAP keys must be STRING, got " + operand(*k, t.type));
      key_nodes.push_back(t.node);
      all_constant = all_constant && t.constant;
    }
    DataTypePtr value_type;
    auto typed = unify(values, value_type, "MAP");
    if (is_null_type(value_type))
      fail(e.loc,
           "Can't infer a type of null. Please explicitly cast it to a required type, e.g. "
           "CAST(null AS VARCHAR).");
    std::vector<NodePtr> value_nodes;
    for (auto& t : typed) {
      value_nodes.push_back(t.node);
      all_constant = all_constant && t.constant;
    }
    return fold(
        make(std::make_shared<MapNode>(std::move(key_nodes), std::move(value_nodes), value_type)),
        DataType::map(value_type), all_constant);
  }

  Typed struct_ctor(const Expr& e) {
    std::vector<StructFieldType> fields;
    std::vector<NodePtr> nodes;
    bool all_constant = true;
    for (size_t i = 0; i < e.args.size(); ++i) {
      for (size_t j = 0; j < i; ++j)
        if (e.names[j] == e.names[i])
          fail(e.args[i]->loc, "Duplicate field names found in STRUCT: '" + e.names[i] + "'");
      Typed t = compile(*e.args[i]);
      fields.push_back(StructFieldType{e.names[i], t.type});
      nodes.push_back(t.node);
      all_constant = all_constant && t.constant;
    }
    return fold(make(std::make_shared<StructNode>(e.names, std::move(nodes))),
                DataType::structure(std::move(fields)), all_constant);
  }

  const Scope& scope_;
  const FunctionRegistry& fns_;
  bool typing_only_;
  bool allow_aggregates_;
  bool allow_table_functions_;
  bool in_table_function_ = false;
  std::string clause_;
  bool in_aggregate_ = false;
  std::string in_aggregate_text_;
  std::vector<LambdaVar> lambda_vars_;
};

}  // namespace

// ---------------------------------------------------------------------------
// CompiledExpr / ExpressionCompiler

Value CompiledExpr::evaluate(const EvalRow& row) const {
  if (!root_) return Value();
  // Nodes check kinds before reading values; this only catches what slips
  // through (a value of another kind than its column's type, memory
  // exhaustion), so a bad record yields NULL instead of an exception.
  try {
    return root_->eval(row);
  } catch (const std::exception& e) {
    note(row, e.what());
  } catch (...) {
    note(row, "unknown exception");
  }
  return Value();
}

bool CompiledExpr::test(const EvalRow& row) const {
  Value v = evaluate(row);
  return v.kind() == TypeKind::Boolean && v.as_bool();
}

ExpressionCompiler::ExpressionCompiler(const Scope& scope, const FunctionRegistry& functions,
                                       CompileOptions options)
    : scope_(scope), functions_(functions), options_(options) {}

Expected<CompiledExpr> ExpressionCompiler::compile(const ExprPtr& e) const {
  if (!e) return Error::fatal("no expression to compile");
  try {
    Compiler c(scope_, functions_, false, options_);
    Typed t = c.compile(*e);
    CompiledExpr out;
    out.root_ = std::move(t.node);
    out.type_ = t.type ? t.type : DataType::of(TypeKind::Null);
    out.expr_ = e;
    out.constant_ = t.constant;
    if (auto* slot = dynamic_cast<const SlotNode*>(out.root_.get())) out.bare_slot_ = slot->slot();
    return out;
  } catch (CompileFailure& f) {
    return std::move(f.error);
  }
}

std::vector<Value> evaluate_each(const std::vector<std::shared_ptr<const CompiledExpr>>& exprs,
                                 const EvalRow& row) {
  std::vector<Value> values;
  values.reserve(exprs.size());
  for (const auto& e : exprs) values.push_back(e->evaluate(row));
  return values;
}

Expected<DataTypePtr> ExpressionCompiler::infer_type(const ExprPtr& e) const {
  if (!e) return Error::fatal("no expression to type");
  try {
    Compiler c(scope_, functions_, true, options_);
    Typed t = c.compile(*e);
    return t.type ? t.type : DataType::of(TypeKind::Null);
  } catch (CompileFailure& f) {
    return std::move(f.error);
  }
}

}  // namespace rivulet::sql
